#!/usr/bin/env python3
"""Lints the deployment files: yamllint (deploy/.yamllint.yml) on every YAML file under deploy/
and azure-pipelines.yml, shellcheck on deploy/tools/*.sh, node --check on deploy/tools/*.mjs,
python compile on deploy/tools/*.py; docs/deploy.md has its diagram and sections and names only
files that exist. Negative controls: a broken YAML file and a sloppy shell
script must be rejected.
"""
import glob
import os
import re
import sys
import tempfile

sys.dont_write_bytecode = True  # importing deploylib must not leave a __pycache__ here
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from deploylib import Checker, path, run  # noqa: E402

CONF = path("deploy", ".yamllint.yml")
DOC_SECTIONS = ["## Architecture", "## From an empty subscription to the first prediction", "## Pipeline",
                "## Graceful shutdown", "## Models in Blob Storage", "## Rollback", "## Scaling", "## Monitoring and alerts"]


def doc_errors(text):
    """docs/deploy.md: a diagram, the required sections, and every repository path it names exists."""
    errs = []
    if "```mermaid" not in text:
        errs.append("no Mermaid architecture diagram")
    errs += [f"missing section {s!r}" for s in DOC_SECTIONS if s not in text]
    for p in sorted(set(re.findall(r"`((?:deploy|tests|scripts|examples|docs|src)/[\w./{},<>-]*?)`", text))):
        if "<" in p or "{" in p or "*" in p:
            continue
        if not os.path.exists(path(p.split()[0].rstrip("/"))):
            errs.append(f"names {p}, which does not exist")
    return errs


def main():
    c = Checker("test_lint")
    yamls = sorted(glob.glob(path("deploy", "**", "*.y*ml"), recursive=True)) + [path("azure-pipelines.yml")]
    # Relative paths: the ignore patterns in deploy/.yamllint.yml are relative to the repo root.
    rc, out, err = run(["yamllint", "-c", CONF, "-f", "parsable", "deploy", "azure-pipelines.yml"])
    c.check(rc == 0 and len(yamls) > 20, f"yamllint: {len(yamls)} YAML files under deploy/ and azure-pipelines.yml", out + err)
    for f in sorted(glob.glob(path("deploy", "tools", "*.sh"))):
        rc, out, err = run(["shellcheck", f])
        c.check(rc == 0, f"shellcheck {os.path.relpath(f, path())}", out + err)
    for f in sorted(glob.glob(path("deploy", "tools", "*.mjs"))):
        rc, out, err = run(["node", "--check", f])
        c.check(rc == 0, f"node --check {os.path.relpath(f, path())}", err)
    for f in sorted(glob.glob(path("deploy", "tools", "*.py"))):
        # compile() only: py_compile would leave a __pycache__ in the source tree.
        rc, out, err = run([sys.executable, "-c", "import sys; compile(open(sys.argv[1]).read(), sys.argv[1], 'exec')", f])
        c.check(rc == 0, f"python compiles {os.path.relpath(f, path())}", err)
    doc = open(path("docs", "deploy.md"), encoding="utf-8").read()
    e = doc_errors(doc)
    c.check(not e, "docs/deploy.md has the diagram, the sections, and only paths that exist", "; ".join(e))
    e = doc_errors(doc.replace("```mermaid", "```text").replace("## Rollback", "## Undo") + "\nsee `deploy/k8s/nope.yaml`\n")
    c.check(len(e) == 3, "the docs check catches a missing diagram, section and path (negative control)", str(e))
    with tempfile.TemporaryDirectory() as d:
        bad = os.path.join(d, "bad.yaml")
        with open(bad, "w") as f:
            f.write("a: 1\na: 2\nb: [1, 2\nc:   yes\n")
        rc, out, _ = run(["yamllint", "-c", CONF, bad])
        c.check(rc != 0 and "syntax" in out, "yamllint rejects broken YAML (negative control)", out)
        bad = os.path.join(d, "bad2.yaml")
        with open(bad, "w") as f:
            f.write("a: 1\na: 2\nc: yes\n")
        rc, out, _ = run(["yamllint", "-c", CONF, bad])
        c.check(rc != 0 and "duplication of key" in out and "truthy" in out, "yamllint rejects duplicate keys and yes/no booleans", out)
        sh = os.path.join(d, "bad.sh")
        with open(sh, "w") as f:
            f.write("#!/bin/bash\nfor f in $(ls *.txt); do rm $f; done\n")
        rc, out, _ = run(["shellcheck", sh])
        c.check(rc != 0, "shellcheck rejects a sloppy script (negative control)")
    c.done()


if __name__ == "__main__":
    main()
