#!/usr/bin/env bash
# Runs the whole treeserve test suite (the README's test command).
#
#   scripts/test.sh            everything: deps, release + ASan/UBSan builds, every test
#   scripts/test.sh PATTERN    only tests whose path contains PATTERN (still builds both)
#   QUICK=1 scripts/test.sh    skip the sanitizer build (for fast local iterations)
#
# A test is a compiled tests/**/test_*.c (run from both builds, each in its own
# process) or an executable script tests/**/test_*.sh / test_*.py (run against
# build/treeserve, given as $TREESERVE_BIN). Each prints what it checks; this
# script prints one PASS/FAIL line per test and closes with "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
filter="${1:-}"

bash scripts/install-deps.sh || { echo "install-deps failed"; exit 1; }
jobs=$(nproc 2>/dev/null || echo 2)
make -s -j"$jobs" tests || { echo "release build failed"; exit 1; }
builds="build"
if [ -z "${QUICK:-}" ]; then
  make -s -j"$jobs" SAN=1 BUILD=build-san tests || { echo "sanitizer build failed"; exit 1; }
  builds="build build-san"
fi

logdir="$root/build/test-logs"; mkdir -p "$logdir"
pass=0; fail=0; failed=""
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
export TREESERVE_SRC="$root"

run_one() { # label, command...
  local label="$1"; shift
  local log="$logdir/$(echo "$label" | tr '/ ' '__').log"
  local t0=$(date +%s.%N)
  if ( cd "$root" && timeout "${TEST_TIMEOUT:-900}" "$@" ) >"$log" 2>&1; then
    pass=$((pass + 1)); printf 'PASS  %-50s %6.1fs\n' "$label" "$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{print b-a}')"
  else
    fail=$((fail + 1)); failed="$failed $label"
    printf 'FAIL  %s (log: %s)\n' "$label" "$log"; tail -n 40 "$log" | sed 's/^/      /'
  fi
}

for b in $builds; do
  for t in "$b"/tests/test_*; do
    [ -x "$t" ] || continue
    case "$t" in *"$filter"*) ;; *) continue ;; esac
    run_one "$t" env TREESERVE_BIN="$root/$b/treeserve" "$t"
  done
done
for s in $(find tests -name 'test_*.sh' -o -name 'test_*.py' | sort); do
  case "$s" in *"$filter"*) ;; *) continue ;; esac
  run_one "$s" env TREESERVE_BIN="$root/build/treeserve" "$s"
done

echo
[ -n "$failed" ] && echo "failed:$failed"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
