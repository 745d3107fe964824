#!/usr/bin/env bash
# Server benchmark: single-row Open Inference Protocol requests with wrk.
#
#   scripts/bench-server.sh [PERF_MODEL ...]     (each a model.txt or a directory holding one)
#
# The server is pinned to CPU 0 (`taskset -c 0`, one worker thread), wrk to CPU 1
# (`wrk -t1 -c32 --latency`, keep-alive). Measured in the same run: nginx
# `return 200` (the ceiling of one core answering small HTTP requests), then
# treeserve with the golden `binary` model (28 features, 60 trees), then each
# PERF_MODEL given (e.g. ../shared/perf/binary_500x31). The request is the first
# row of tests/golden/binary/X.csv as one [1, F] FP64 tensor (padded with zeros
# or cut to the model's feature count). Prints req/s, latency percentiles and the
# server's CPU time per request (user + system, and each, from /proc; the system
# part is mostly the kernel's TCP path and wakeups of the client).
# Environment: DURATION (seconds per run, default 10), TREESERVE_BIN
# (default build/treeserve), CONNECTIONS (default 32), RUNS (default 1: the
# whole sequence is run this many times, then the median per target is
# printed; on a shared machine compare medians, not single runs).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
bin="${TREESERVE_BIN:-$root/build/treeserve}"
dur="${DURATION:-10}"
conns="${CONNECTIONS:-32}"
runs="${RUNS:-1}"
case "$runs" in ''|*[!0-9]*|0) echo "bench-server: RUNS must be a positive integer (got '$runs')" >&2; exit 1 ;; esac
for t in wrk nginx taskset python3; do
  command -v "$t" >/dev/null || { echo "bench-server: '$t' is missing (scripts/install-deps.sh installs it)" >&2; exit 1; }
done
[ -x "$bin" ] || { echo "bench-server: $bin not built (run make)" >&2; exit 1; }
ncpu=$(nproc)
[ "$ncpu" -ge 2 ] || echo "bench-server: only $ncpu CPU; server and wrk will share it" >&2
wrk_cpu=$(( ncpu > 1 ? 1 : 0 ))

tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
wait_port() { # port
  for _ in $(seq 1 200); do
    python3 -c "import socket; socket.create_connection(('127.0.0.1',$1),0.2).close()" 2>/dev/null && return 0
    sleep 0.05
  done
  echo "bench-server: nothing listening on port $1" >&2
  return 1
}

# The request body for a model with F features.
make_body() { # model.txt out.json
  python3 - "$1" "$2" "$root/tests/golden/binary/X.csv" <<'PY'
import json, sys
model, out, xcsv = sys.argv[1:4]
F = None
with open(model, encoding="utf-8", errors="replace") as f:
    for line in f:
        if line.startswith("max_feature_idx="):
            F = int(line.split("=")[1]) + 1
            break
row = [float(v) for v in open(xcsv).read().splitlines()[1].split(",")]
row = (row + [0.0] * F)[:F]
json.dump({"inputs": [{"name": "x", "shape": [1, F], "datatype": "FP64", "data": row}]}, open(out, "w"))
PY
}

cat > "$tmp/post.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = io.open(os.getenv("BODY_FILE"), "rb")
wrk.body = f:read("*a")
f:close()
LUA

# CPU seconds used so far by process $1: "user system".
cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{print $14 / hz, $15 / hz}' "/proc/$1/stat"; }

results=()
raw=() # "label<TAB>req/s<TAB>p99<TAB>cpu_us" per run, for the medians
run_wrk() { # label url body_file server_pid
  local out rps p50 p90 p99 errs c0 c1 reqs us uus sus
  c0=$(cpu_s "$4")
  out=$(BODY_FILE="$3" taskset -c "$wrk_cpu" wrk -t1 -c"$conns" -d"${dur}s" --latency -s "$tmp/post.lua" "$2")
  c1=$(cpu_s "$4")
  echo "$out" | sed 's/^/    /'
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p50=$(echo "$out" | awk '$1=="50%" {print $2}')
  p90=$(echo "$out" | awk '$1=="90%" {print $2}')
  p99=$(echo "$out" | awk '$1=="99%" {print $2}')
  reqs=$(echo "$out" | awk '/requests in/ {print $1}')
  # Server CPU per request: steadier than req/s on a shared, noisy machine.
  read -r us uus sus < <(awk -v a="$c0" -v b="$c1" -v n="$reqs" 'BEGIN {
    split(a, x, " "); split(b, y, " ")
    if (n > 0) printf "%.1f %.1f %.1f\n", (y[1] + y[2] - x[1] - x[2]) * 1e6 / n, (y[1] - x[1]) * 1e6 / n, (y[2] - x[2]) * 1e6 / n
    else print "- - -" }')
  errs=$(echo "$out" | awk '/Non-2xx|Socket errors/ {printf "%s ", $0}')
  results+=("$(printf '%-34s %12s %10s %10s %10s %12s %8s %8s  %s' "$1" "$rps" "$p50" "$p90" "$p99" "$us" "$uus" "$sus" "$errs")")
  raw+=("$(printf '%s\t%s\t%s\t%s' "$1" "$rps" "$p99" "$us")")
}

stop_last() {
  kill "${pids[-1]}" 2>/dev/null || true
  wait "${pids[-1]}" 2>/dev/null || true
}

for run in $(seq 1 "$runs"); do
[ "$runs" -gt 1 ] && echo "######## run $run of $runs"
# 1. nginx return 200 (one worker, no master, on CPU 0)
nport=$(free_port)
mkdir -p "$tmp/nginx/logs"
cat > "$tmp/nginx/nginx.conf" <<NGINX
worker_processes 1;
daemon off;
master_process off;
error_log $tmp/nginx/logs/error.log warn;
pid $tmp/nginx/nginx.pid;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $tmp/nginx/body;
  proxy_temp_path $tmp/nginx/proxy;
  fastcgi_temp_path $tmp/nginx/fastcgi;
  uwsgi_temp_path $tmp/nginx/uwsgi;
  scgi_temp_path $tmp/nginx/scgi;
  keepalive_requests 100000000;
  server {
    listen 127.0.0.1:$nport;
    location / { return 200 '{"ok":true}'; }
  }
}
NGINX
taskset -c 0 nginx -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" 2>/dev/null &
pids+=($!)
wait_port "$nport"
make_body "$root/tests/golden/binary/model.txt" "$tmp/body_binary.json"
echo "== nginx return 200 (POST of the same body)"
run_wrk "nginx return 200" "http://127.0.0.1:$nport/" "$tmp/body_binary.json" "${pids[-1]}"
stop_last

# 2. treeserve with the golden binary model, then each perf model
bench_model() { # label model.txt
  local port
  port=$(free_port)
  taskset -c 0 "$bin" serve --host 127.0.0.1 --port "$port" --threads 1 --drain-seconds 0 --log-level warn \
    --model "m=$2" &
  pids+=($!)
  wait_port "$port"
  make_body "$2" "$tmp/body.json"
  echo "== treeserve $1"
  run_wrk "treeserve $1" "http://127.0.0.1:$port/v2/models/m/infer" "$tmp/body.json" "${pids[-1]}"
  stop_last
}
bench_model "golden binary (60 trees)" "$root/tests/golden/binary/model.txt"
for m in "$@"; do
  [ -d "$m" ] && m="$m/model.txt"
  [ -f "$m" ] || { echo "bench-server: no model at $m" >&2; exit 1; }
  bench_model "$(basename "$(dirname "$m")")" "$m"
done
done

echo
echo "single-row OIP infer, server on CPU 0, wrk -t1 -c$conns on CPU $wrk_cpu, ${dur}s each"
printf '%-34s %12s %10s %10s %10s %12s %8s %8s\n' "target" "req/s" "p50" "p90" "p99" "server_cpu_us/req" "user" "sys"
for r in "${results[@]}"; do echo "$r"; done
if [ "$runs" -gt 1 ]; then
  echo
  echo "median of $runs runs"
  printf '%-34s %12s %10s %12s\n' "target" "req/s" "p99" "server_cpu_us/req"
  printf '%s\n' "${raw[@]}" | python3 -c '
import re, statistics, sys
def us(t):  # wrk latency such as 812.00us, 1.20ms, 2.00s -> microseconds
    m = re.match(r"([0-9.]+)(us|ms|s)$", t)
    return float(m.group(1)) * {"us": 1, "ms": 1e3, "s": 1e6}[m.group(2)] if m else float("nan")
rows = {}
for line in sys.stdin:
    label, rps, p99, cpu = line.rstrip("\n").split("\t")
    rows.setdefault(label, []).append((float(rps or "nan"), us(p99), float(cpu) if cpu != "-" else float("nan")))
for label, v in rows.items():
    med = [statistics.median(x[i] for x in v) for i in range(3)]
    print("%-34s %12.0f %8.0fus %12.1f" % (label, med[0], med[1], med[2]))
'
fi
