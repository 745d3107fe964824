#!/usr/bin/env python3
"""Writes deploy/schemas/azurerm-4.55-filtered.json: the part of the azurerm provider schema
(resource/data source types -> arguments, required flags, nested blocks) for the azurerm
types that deploy/terraform uses. tests/deploy/test_terraform.py checks every azurerm
resource and argument against it, offline.

  deploy/tools/filter-azurerm-schema.py FULL_SCHEMA.json

FULL_SCHEMA.json is the whole provider schema extracted from the npm package
@cdktf/provider-azurerm 14.23 (azurerm 4.55): {"provider", "resources", "data_sources"}.
Run it again after using a new azurerm resource type (the test names any type missing).
"""
import json
import os
import re
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TF = os.path.join(ROOT, "deploy", "terraform")
OUT = os.path.join(ROOT, "deploy", "schemas", "azurerm-4.55-filtered.json")


def used_types():
    res, data = set(), set()
    for d, _, files in os.walk(TF):
        for f in files:
            if f.endswith(".tf"):
                text = open(os.path.join(d, f), encoding="utf-8").read()
                res |= set(re.findall(r'^\s*resource\s+"(azurerm_\w+)"', text, re.M))
                data |= set(re.findall(r'^\s*data\s+"(azurerm_\w+)"', text, re.M))
    return res, data


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    with open(sys.argv[1], encoding="utf-8") as f:
        full = json.load(f)
    res, data = used_types()
    missing = sorted(t for t in res if t not in full["resources"]) + sorted(t for t in data if t not in full["data_sources"])
    if missing:
        sys.exit(f"not in the provider schema: {', '.join(missing)}")
    out = {
        "provider": full["provider"],
        "generated_by": "deploy/tools/filter-azurerm-schema.py",
        "resources": {t: full["resources"][t] for t in sorted(res)},
        "data_sources": {t: full["data_sources"][t] for t in sorted(data)},
    }
    with open(OUT, "w", encoding="utf-8") as f:
        json.dump(out, f, indent=1, sort_keys=True)
        f.write("\n")
    print(f"wrote {os.path.relpath(OUT, ROOT)}: {len(res)} resource types, {len(data)} data sources")


if __name__ == "__main__":
    main()
