#!/usr/bin/env bash
# Fuzz regression test: builds the libFuzzer drivers (`make fuzz`, clang with
# ASan + UBSan, into build-fuzz/), replays every file of each seed corpus
# tests/fuzz/corpus/<target>/ (seeds and the reproducers of crashes found
# earlier) through its fuzzer, then fuzzes each target for a bounded time
# with its dictionary, two at a time. Any crash, leak, sanitizer report or
# failed fuzz check fails the test; the crashing input is kept under
# build-fuzz/artifacts/ and its path printed.
#
#   FUZZ_SECONDS=20   seconds of fuzzing per target (0: replay only)
#   FUZZ_JOBS=2       targets fuzzed at once
#   FUZZ_TARGETS="csv json"   a subset
#   FUZZ_SEED=1       libFuzzer's seed; fixed so that CI repeats the mutations
#                     that were run and checked here instead of drawing new
#                     ones each time (set FUZZ_SEED=0 for a random one)
#
# New inputs found while fuzzing go to a scratch directory, never into the
# repository's corpus (add a reproducer by hand, named regress-<what>).
set -uo pipefail
root="${TREESERVE_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}"
cd "$root"
secs="${FUZZ_SECONDS:-20}"
seed="${FUZZ_SEED:-1}"
jobs="${FUZZ_JOBS:-2}"
fuzzdir="$root/build-fuzz"

if ! command -v clang >/dev/null; then
  echo "FAIL: clang is needed for the fuzzers (scripts/install-deps.sh installs it)"
  exit 1
fi
echo "building fuzzers (make fuzz)"
make -s -j2 fuzz >/dev/null || { echo "FAIL: make fuzz"; exit 1; }

targets="${FUZZ_TARGETS:-}"
if [ -z "$targets" ]; then
  for f in tests/fuzz/fuzz_*.c; do
    t=$(basename "$f" .c); t=${t#fuzz_}
    [ "$t" = common ] && continue
    targets="$targets $t"
  done
fi

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$fuzzdir/artifacts"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}:allocator_may_return_null=1"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
fail=0

# 1. replay every corpus file (a regression test of every fixed crash)
for t in $targets; do
  bin="$fuzzdir/fuzz_$t"; corpus="tests/fuzz/corpus/$t"
  [ -x "$bin" ] || { echo "FAIL: $bin was not built"; fail=1; continue; }
  [ -d "$corpus" ] || { echo "FAIL: no corpus $corpus"; fail=1; continue; }
  n=$(find "$corpus" -type f | wc -l)
  if "$bin" -runs=0 -rss_limit_mb=2048 -timeout=30 "$corpus" >"$scratch/replay_$t.log" 2>&1; then
    echo "ok   replay $t: $n inputs"
  else
    echo "FAIL replay $t ($n inputs):"; grep -E "ERROR|SUMMARY|check failed|runtime error|invalid JSON|Running" "$scratch/replay_$t.log" | tail -n 20
    fail=1
  fi
done

# 2. bounded fuzzing, $jobs targets at a time
run_fuzz() { # target
  local t="$1" bin="$fuzzdir/fuzz_$1" work="$scratch/corpus_$1" log="$scratch/fuzz_$1.log"
  mkdir -p "$work"
  local dict=(); [ -f "tests/fuzz/dict/$t.dict" ] && dict=(-dict="tests/fuzz/dict/$t.dict")
  if "$bin" "$work" "tests/fuzz/corpus/$t" "${dict[@]}" -max_total_time="$secs" -seed="$seed" -max_len=4096 \
      -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
      -artifact_prefix="$fuzzdir/artifacts/$t-" >"$log" 2>&1; then
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$')
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1)
    echo "ok   fuzz $t: ${runs:-?} executions in ${secs}s, $cov, no crash"
    return 0
  fi
  echo "FAIL fuzz $t:"; grep -E "ERROR|SUMMARY|check failed|runtime error|invalid JSON|Test unit written" "$log" | tail -n 20
  return 1
}
if [ "$secs" -gt 0 ]; then
  set -- $targets
  while [ $# -gt 0 ]; do
    pids=()
    for _ in $(seq "$jobs"); do
      [ $# -gt 0 ] || break
      run_fuzz "$1" > "$scratch/result_$1" & pids+=($!)
      names+=("$1"); shift
    done
    for p in "${pids[@]}"; do wait "$p" || fail=1; done
  done
  for t in $targets; do cat "$scratch/result_$t"; done
fi

if [ "$fail" -ne 0 ]; then echo "FAIL"; exit 1; fi
echo "PASS: every corpus replays clean and ${secs}s of fuzzing per target found nothing"
