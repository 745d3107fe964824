#!/usr/bin/env bash
# `make check-deploy`: every offline deployment validator (tests/deploy/test_*), the same
# scripts the full test suite runs. Installs the npm/Debian tools first if missing and
# builds build/treeserve (the Dockerfile test compares its ldd output with the image).
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
root=$(pwd)
bash scripts/install-deps.sh || { echo "install-deps failed"; exit 1; }
[ -x build/treeserve ] || make -s all || { echo "build failed"; exit 1; }
export TREESERVE_SRC="$root" TREESERVE_BIN="${TREESERVE_BIN:-$root/build/treeserve}"
pass=0; fail=0; failed=""
for t in tests/deploy/test_*; do
  [ -x "$t" ] || continue
  if out=$(timeout 300 "$t" 2>&1); then
    pass=$((pass + 1)); printf 'PASS  %s (%s)\n' "$t" "$(printf '%s\n' "$out" | tail -n 1)"
  else
    fail=$((fail + 1)); failed="$failed $t"
    printf 'FAIL  %s\n' "$t"; printf '%s\n' "$out" | grep -v '^ok ' | sed 's/^/      /'
  fi
done
echo
[ -n "$failed" ] && echo "failed:$failed"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
