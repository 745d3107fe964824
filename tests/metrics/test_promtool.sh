#!/usr/bin/env bash
# Checks the Prometheus exposition with `promtool check metrics` (syntax, HELP
# and TYPE lines, naming lints such as _total on counters and unit suffixes):
#   1. a sample exposition with every metric family populated, printed by the
#      metrics unit test binary (build/tests/test_metrics --dump);
#   2. GET /metrics from the real server after a few requests, when the
#      binary has the serve command.
set -euo pipefail
: "${TREESERVE_BIN:?absolute path of the treeserve binary}"
: "${TREESERVE_SRC:=$(pwd)}"
cd "$TREESERVE_SRC"
command -v promtool >/dev/null || { echo "FAIL: promtool not installed"; exit 1; }
bindir=$(dirname "$TREESERVE_BIN")
dumper="$bindir/tests/test_metrics"
[ -x "$dumper" ] || { echo "FAIL: $dumper not built (make tests)"; exit 1; }
tmp=$(mktemp -d)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

echo "check: sample exposition from test_metrics --dump passes promtool"
"$dumper" --dump >"$tmp/sample.txt"
for fam in treeserve_requests_total treeserve_request_duration_seconds \
  treeserve_request_parse_duration_seconds treeserve_request_predict_duration_seconds \
  treeserve_request_write_duration_seconds treeserve_predicted_rows_total \
  treeserve_request_bytes_total treeserve_response_bytes_total treeserve_inflight_requests \
  treeserve_model_load_duration_seconds treeserve_model_loads_total \
  treeserve_repository_reloads_total treeserve_model_info treeserve_build_info \
  process_cpu_seconds_total process_resident_memory_bytes process_open_fds \
  process_start_time_seconds; do
  grep -q "^$fam[{_ ]" "$tmp/sample.txt" || { echo "FAIL: no samples of $fam"; exit 1; }
done
promtool check metrics <"$tmp/sample.txt" || { echo "FAIL: promtool rejected the sample"; exit 1; }
echo "  ok ($(wc -l <"$tmp/sample.txt") lines)"

echo "check: promtool catches a broken exposition (the check can fail)"
printf '# TYPE broken counter\nbroken 1\n' >"$tmp/bad.txt"
if promtool check metrics <"$tmp/bad.txt" >/dev/null 2>&1; then
  echo "FAIL: promtool accepted a counter without _total and help"; exit 1
fi
echo "  ok"

if ! "$TREESERVE_BIN" serve --help >/dev/null 2>&1; then
  echo "skip: $TREESERVE_BIN has no working serve command yet; real /metrics not checked"
  exit 0
fi

echo "check: GET /metrics of the real server passes promtool"
mkdir -p "$tmp/repo/binary/1"
cp tests/golden/binary/model.txt "$tmp/repo/binary/1/model.txt"
for attempt in 1 2 3 4 5; do
  port=$((20000 + RANDOM % 30000))
  "$TREESERVE_BIN" serve --model-repository "$tmp/repo" --host 127.0.0.1 --port "$port" \
    --threads 2 2>"$tmp/server.log" &
  pid=$!
  for _ in $(seq 1 100); do
    curl -fs "http://127.0.0.1:$port/v2/health/ready" >/dev/null 2>&1 && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if curl -fs "http://127.0.0.1:$port/v2/health/ready" >/dev/null 2>&1; then break; fi
  kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; pid=""
done
[ -n "$pid" ] || { echo "FAIL: server did not become ready"; cat "$tmp/server.log"; exit 1; }
curl -s "http://127.0.0.1:$port/v2/models/binary" >/dev/null
curl -s "http://127.0.0.1:$port/v2/models/nope" >/dev/null
curl -s -X POST -H 'Content-Type: application/json' -d '{"instances": [[1,2,3]]}' \
  "http://127.0.0.1:$port/v1/models/binary:predict" >/dev/null
curl -fs "http://127.0.0.1:$port/metrics" >"$tmp/live.txt" || { echo "FAIL: GET /metrics"; exit 1; }
promtool check metrics <"$tmp/live.txt" || { echo "FAIL: promtool rejected /metrics"; exit 1; }
for want in 'treeserve_build_info{' 'treeserve_model_info{model="binary",version="1"' \
  'treeserve_requests_total{' 'process_open_fds '; do
  grep -qF "$want" "$tmp/live.txt" || { echo "FAIL: /metrics lacks $want"; exit 1; }
done
echo "  ok ($(wc -l <"$tmp/live.txt") lines)"
echo "PASS"
