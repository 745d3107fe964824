#!/usr/bin/env bash
# Prediction speed of the engine on the three performance models
# (binary_500x31, binary_1000x255, digits_200x10), with `treeserve bench --json`.
#
#   scripts/bench-engine.sh [PERF_DIR] [extra bench flags...]
#
# PERF_DIR holds the models and inputs (default: ../shared/perf next to the
# repository; they are too large to keep in the repository). Needs build/treeserve
# (`make`), or TREESERVE_BIN. Prints a table; with RAW=1 also the JSON lines.
# A benchmark, not a test: it never fails on speed. Run it on an idle machine and
# compare before/after numbers from the same run.
#
# LightGBM 4.6's C API on the reference 2-core machine, 1 thread, batch of
# 10,000 rows: binary_500x31 ~45,000 rows/s, binary_1000x255 ~3,300 rows/s,
# digits_200x10 ~13,000 rows/s.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
perf="$root/../shared/perf"
if [ $# -gt 0 ] && [ "${1#--}" = "$1" ]; then  # a first argument not starting with -- is PERF_DIR
  [ -n "$1" ] && perf="$1"
  shift
fi
bin="${TREESERVE_BIN:-$root/build/treeserve}"
if [ ! -x "$bin" ]; then echo "no binary at $bin: run make first" >&2; exit 1; fi
if [ ! -d "$perf" ]; then echo "no perf directory at $perf (pass it as the first argument)" >&2; exit 1; fi
command -v jq >/dev/null || { echo "jq is needed (scripts/install-deps.sh installs it)" >&2; exit 1; }

declare -A lgbm=([binary_500x31]=45000 [binary_1000x255]=3300 [digits_200x10]=13000)
printf '%-16s %8s %7s %13s %13s %13s %9s %8s %8s\n' model load_s rows single_row/s \
  batch_1t/s batch_all/s x_lgbm_1t rss_MB identical
for m in binary_500x31 binary_1000x255 digits_200x10; do
  input="$perf/X.csv"
  [ "$m" = digits_200x10 ] && input="$perf/X_digits.csv"
  json=$("$bin" bench --model "$perf/$m/model.txt" --input "$input" --json \
    ${THREADS:+--threads "$THREADS"} "$@")
  [ -n "${RAW:-}" ] && echo "$json"
  echo "$json" | jq -r --arg m "$m" --argjson ref "${lgbm[$m]}" \
    '[$m, (.load_seconds*1000|round/1000), .rows, (.single_row_rows_per_s|round),
      (.batch_1thread_rows_per_s|round), (.batch_all_threads_rows_per_s|round),
      ((.batch_1thread_rows_per_s/$ref*10|round)/10), (.peak_rss_bytes/1e6|round),
      .outputs_identical] | @tsv' |
    awk -F'\t' '{printf "%-16s %8s %7s %13s %13s %13s %9s %8s %8s\n", $1,$2,$3,$4,$5,$6,$7,$8,$9}'
done
