#!/usr/bin/env bash
# Soak benchmark: `treeserve serve` under 10 minutes (SOAK_SECONDS) of mixed
# load on loopback:
#   - valid requests: OIP v2 JSON (one [N, F] tensor and one tensor per
#     feature), the binary tensor extension, the records API, metadata,
#     health, /metrics;
#   - invalid requests: malformed JSON, wrong shapes and datatypes, unknown
#     model/version/output, bodies and row counts over the limits, garbage
#     bytes, connections dropped mid-request;
#   - a model reload every 10 s, alternating a new version folder + SIGHUP
#     and a repository API unload/load of a second model (old version
#     folders are removed so the repository stays small).
# The server's resident memory (VmRSS) and open file descriptors are sampled
# every second into a CSV. At the end: an ASCII chart of both (and a PNG if
# gnuplot is installed), and the verdict:
#   - memory flat: mean RSS of the last minute <= mean of the first minute
#     * 1.10 + 4 MiB (the first minute includes the warm-up), and, for runs of
#     5 minutes or more, RSS not still rising over the second half (least-
#     squares slope <= 0.1 MiB/min, i.e. < 1 MiB per 10 minutes);
#   - fds flat: the floor of the last minute (its fewest open fds) <= the
#     first minute's median + 3. Connections dropped mid-request stay open
#     until --read-timeout 5, so the count swings by ~30 with the load; a
#     leak shows as a floor that keeps rising;
#   - zero failed valid requests (a valid request must get its 200 through
#     every reload); invalid requests must get their 4xx.
# Exit 0 when all hold.
#
#   scripts/soak.sh                 10 minutes, build/treeserve (built if missing)
#   SOAK_SECONDS=60 scripts/soak.sh
#   TREESERVE_BIN=... SOAK_OUT=dir SOAK_CLIENTS=4 SOAK_THREADS=2 scripts/soak.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
secs="${SOAK_SECONDS:-600}"
bin="${TREESERVE_BIN:-$root/build/treeserve}"
if [ ! -x "$bin" ]; then
  echo "building $bin"
  make -s -j2 all
fi
out="${SOAK_OUT:-$root/build/soak}"
mkdir -p "$out"
work=$(mktemp -d)
pid=""
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

# repository: "soak" (versions come and go) and "pc" (pandas categorical,
# unloaded and loaded through the API)
mkdir -p "$work/repo/soak/1" "$work/repo/pc/1"
cp tests/golden/binary/model.txt "$work/repo/soak/1/model.txt"
cp tests/golden/pandas_categorical/model.txt "$work/repo/pc/1/model.txt"

token="soak-$$-$RANDOM"
"$bin" serve --model-repository "$work/repo" --host 127.0.0.1 --port 0 --threads "${SOAK_THREADS:-2}" \
  --admin-token "$token" --max-body-bytes 1048576 --max-rows 1000 --idle-timeout 5 --read-timeout 5 \
  --drain-seconds 0 2>"$work/server.log" &
pid=$!
port=""
for _ in $(seq 300); do
  port=$(grep -o '"msg":"listening".*"port":[0-9]*' "$work/server.log" 2>/dev/null | grep -o '"port":[0-9]*' | cut -d: -f2 || true)
  [ -n "$port" ] && break
  kill -0 "$pid" 2>/dev/null || { echo "server exited:"; cat "$work/server.log"; exit 1; }
  sleep 0.1
done
[ -n "$port" ] || { echo "could not find the server's port"; cat "$work/server.log"; exit 1; }
echo "soak: treeserve pid $pid on 127.0.0.1:$port for ${secs}s; samples -> $out/soak.csv"

set +e
SOAK_PID=$pid SOAK_PORT=$port SOAK_SECS=$secs SOAK_REPO="$work/repo" SOAK_TOKEN="$token" SOAK_OUTDIR="$out" \
  SOAK_CLIENTS="${SOAK_CLIENTS:-4}" python3 - <<'PY'
import http.client
import json
import os
import random
import shutil
import signal
import socket
import struct
import sys
import threading
import time

PID = int(os.environ["SOAK_PID"])
PORT = int(os.environ["SOAK_PORT"])
SECS = float(os.environ["SOAK_SECS"])
REPO = os.environ["SOAK_REPO"]
TOKEN = os.environ["SOAK_TOKEN"]
OUT = os.environ["SOAK_OUTDIR"]
CLIENTS = int(os.environ["SOAK_CLIENTS"])
F = 28
rng = random.Random(7)


def row(r):
    return [round(r.uniform(-2, 3), 3) for _ in range(F)]


# ---- the request mix: (name, method, path, body, headers, expected statuses, valid?) ----
def valid_requests(r):
    rows = [row(r) for _ in range(r.randint(1, 20))]
    flat = [v for x in rows for v in x]
    hdr = json.dumps({"inputs": [{"name": "x", "shape": [len(rows), F], "datatype": "FP64",
                                  "parameters": {"binary_data_size": 8 * len(flat)}}],
                      "outputs": [{"name": "predict", "parameters": {"binary_data": True}}]}).encode()
    return [
        ("oip_json", "POST", "/v2/models/soak/infer",
         json.dumps({"inputs": [{"name": "x", "shape": [len(rows), F], "datatype": "FP64", "data": rows}],
                     "outputs": [{"name": "predict"}, {"name": "raw"}, {"name": "leaf"}]}).encode(), {}),
        ("oip_columns", "POST", "/v2/models/soak/infer",
         json.dumps({"inputs": [{"name": "Column_%d" % j, "shape": [len(rows)], "datatype": "FP32",
                                 "data": [x[j] for x in rows]} for j in range(F)]}).encode(), {}),
        ("oip_binary", "POST", "/v2/models/soak/infer", hdr + struct.pack("<%dd" % len(flat), *flat),
         {"Inference-Header-Content-Length": str(len(hdr)), "Content-Type": "application/octet-stream"}),
        ("records", "POST", "/v1/models/soak:predict", json.dumps({"instances": rows}).encode(), {}),
        ("metadata", "GET", "/v2/models/soak", None, {}),
        ("ready", "GET", "/v2/health/ready", None, {}),
        ("metrics", "GET", "/metrics", None, {}),
    ]


def invalid_requests(r):
    x = row(r)
    return [
        ("bad_json", "POST", "/v2/models/soak/infer", b'{"inputs": [', {}, {400}),
        ("wrong_shape", "POST", "/v2/models/soak/infer",
         json.dumps({"inputs": [{"name": "x", "shape": [1, F - 1], "datatype": "FP64", "data": x[:-1]}]}).encode(), {},
         {422}),
        ("short_data", "POST", "/v2/models/soak/infer",
         json.dumps({"inputs": [{"name": "x", "shape": [2, F], "datatype": "FP64", "data": x}]}).encode(), {}, {422}),
        ("bad_dtype", "POST", "/v2/models/soak/infer",
         json.dumps({"inputs": [{"name": "x", "shape": [1, F], "datatype": "FP16", "data": x}]}).encode(), {}, {422}),
        ("unknown_model", "POST", "/v2/models/nope/infer", b"{}", {}, {404}),
        ("unknown_version", "POST", "/v2/models/soak/versions/999999/infer", b"{}", {}, {404}),
        ("unknown_output", "POST", "/v2/models/soak/infer",
         json.dumps({"inputs": [{"name": "x", "shape": [1, F], "datatype": "FP64", "data": x}],
                     "outputs": [{"name": "proba"}]}).encode(), {}, {422}),
        ("too_many_rows", "POST", "/v1/models/soak:predict", json.dumps({"instances": [[0] * F] * 1001}).encode(), {},
         {413}),
        ("body_too_large", "POST", "/v2/models/soak/infer", b" " * (1048576 + 10), {}, {413}),
        ("bad_binary", "POST", "/v2/models/soak/infer", b'{"inputs":[]}xxxx', {"Inference-Header-Content-Length": "99"},
         {400}),
        ("no_token", "POST", "/v2/repository/index", b"{}", {}, {401}),
        ("not_found", "GET", "/v3/nothing", None, {}, {404}),
    ]


lock = threading.Lock()
counts = {"valid_ok": 0, "valid_failed": 0, "invalid_ok": 0, "invalid_unexpected": 0, "dropped": 0, "reloads": 0,
          "reload_failed": 0}
failures = []
stop = threading.Event()


def note(key, what=None):
    with lock:
        counts[key] += 1
        if what and len(failures) < 20:
            failures.append(what)


def client(seed):
    r = random.Random(seed)
    conn = None
    opened = last = time.time()
    while not stop.is_set():
        valid, name = False, "?"
        t_send = time.time()
        try:
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
                opened = last = time.time()
            p = r.random()
            if p < 0.02:  # a connection dropped mid-request
                s = socket.create_connection(("127.0.0.1", PORT), timeout=5)
                s.sendall(b"POST /v2/models/soak/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{\"inp")
                s.close()
                note("dropped")
                continue
            if p < 0.25:
                name, method, path, body, headers, expect = r.choice(invalid_requests(r))
                valid = False
            else:
                name, method, path, body, headers = r.choice(valid_requests(r))
                expect, valid = {200}, True
            h = {"Content-Type": "application/json"} if body is not None else {}
            h.update(headers)
            conn.request(method, path, body=body, headers=h)
            resp = conn.getresponse()
            data = resp.read()
            ok = resp.status in expect
            if valid and ok and name.startswith("oip_json"):
                out = json.loads(data)["outputs"]
                ok = len(out) == 3 and all(len(o["data"]) > 0 for o in out)
            if valid:
                note("valid_ok" if ok else "valid_failed", None if ok else "%s -> %d %r" % (name, resp.status, data[:150]))
            else:
                note("invalid_ok" if ok else "invalid_unexpected",
                     None if ok else "%s -> %d (expected %s) %r" % (name, resp.status, sorted(expect), data[:150]))
            last = time.time()
            if resp.getheader("Connection", "").lower() == "close":
                conn.close()
                conn = None
        except (OSError, http.client.HTTPException) as e:
            # a valid request that died on the wire is a failed valid request;
            # the server may close after answering an invalid one (413 body)
            if conn is not None:
                conn.close()
            conn = None
            if valid:
                note("valid_failed", "%s: %r at %.1fs (connection open %.2fs, %.3fs after its previous answer, "
                     "failed after %.3fs)" % (name, e, time.time() - T0, time.time() - opened, t_send - last,
                                              time.time() - t_send))


def reloader():
    version = 1
    n = 0
    while not stop.wait(10):
        n += 1
        try:
            if n % 2:
                # retire the oldest version and add a new one, then SIGHUP:
                # the scan sees both changes at once
                version += 1
                d = os.path.join(REPO, "soak", str(version))
                os.makedirs(d + ".tmp")
                shutil.copy(os.path.join(REPO, "soak", str(version - 1), "model.txt"),
                            os.path.join(d + ".tmp", "model.txt"))
                old = os.path.join(REPO, "soak", str(version - 2))
                if version > 2 and os.path.isdir(old):
                    shutil.rmtree(old)
                os.rename(d + ".tmp", d)  # appears whole
                os.kill(PID, signal.SIGHUP)
            else:
                for action in ("unload", "load"):
                    c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=60)
                    c.request("POST", "/v2/repository/models/pc/%s" % action, body=b"{}",
                              headers={"Authorization": "Bearer " + TOKEN})
                    st = c.getresponse().status
                    c.close()
                    if st != 200:
                        raise RuntimeError("%s -> %d" % (action, st))
            note("reloads")
        except Exception as e:  # noqa: BLE001
            note("reload_failed", "reload %d: %r" % (n, e))


def sample():
    rss = fds = -1
    try:
        with open("/proc/%d/status" % PID) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
        fds = len(os.listdir("/proc/%d/fd" % PID))
    except OSError:
        pass
    return rss, fds


T0 = time.time()
threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(CLIENTS)]
threads.append(threading.Thread(target=reloader, daemon=True))
for t in threads:
    t.start()
samples = []
t0 = time.time()
csv_path = os.path.join(OUT, "soak.csv")
with open(csv_path, "w") as f:
    f.write("second,rss_kb,open_fds,valid_ok,valid_failed,invalid_ok,invalid_unexpected,reloads\n")
    k = 0
    while time.time() - t0 < SECS:
        k += 1
        time.sleep(max(0, t0 + k - time.time()))
        rss, fds = sample()
        if rss < 0:
            print("the server process is gone")
            break
        with lock:
            c = dict(counts)
        samples.append((k, rss, fds))
        f.write("%d,%d,%d,%d,%d,%d,%d,%d\n" % (k, rss, fds, c["valid_ok"], c["valid_failed"], c["invalid_ok"],
                                                c["invalid_unexpected"], c["reloads"]))
        f.flush()
        if k % 60 == 0:
            print("  %4ds  rss %6.1f MiB  fds %3d  valid ok %d failed %d  invalid ok %d unexpected %d  reloads %d"
                  % (k, rss / 1024, fds, c["valid_ok"], c["valid_failed"], c["invalid_ok"], c["invalid_unexpected"],
                     c["reloads"]), flush=True)
stop.set()
for t in threads:
    t.join(35)
elapsed = time.time() - t0


def chart(values, label, unit, width=72, height=12):
    """ASCII chart: one column per time bucket (max of the bucket)."""
    if not values:
        return
    n = len(values)
    cols = min(width, n)
    buckets = [max(values[i * n // cols:(i + 1) * n // cols] or [values[-1]]) for i in range(cols)]
    lo, hi = min(buckets), max(buckets)
    if hi == lo:
        hi = lo + 1
    print("%s (%s), %d samples, min %.1f max %.1f" % (label, unit, n, min(values), max(values)))
    for r in range(height, 0, -1):
        thr = lo + (hi - lo) * (r - 0.5) / height
        axis = hi if r == height else (lo if r == 1 else None)
        print("%10s |%s" % ("%.1f" % axis if axis is not None else "", "".join("#" if b >= thr else " " for b in buckets)))
    print("%10s +%s" % ("", "-" * cols))
    print("%10s  0s%s%ds" % ("", " " * (cols - 4 - len(str(n))), n))


rss_mib = [s[1] / 1024 for s in samples]
fds = [s[2] for s in samples]
print()
chart(rss_mib, "resident memory", "MiB")
print()
chart(fds, "open file descriptors", "count")
print()
win = max(1, min(60, len(samples) // 4))
first_rss = sum(rss_mib[:win]) / win
last_rss = sum(rss_mib[-win:]) / win
first_fd, last_fd = sum(fds[:win]) / win, sum(fds[-win:]) / win
first_fd_max, last_fd_max = max(fds[:win]), max(fds[-win:])
half = rss_mib[len(rss_mib) // 2:]
# least-squares slope of RSS over the second half, in MiB per minute
xs = list(range(len(half)))
mx, my = sum(xs) / max(len(xs), 1), sum(half) / max(len(half), 1)
den = sum((x - mx) ** 2 for x in xs) or 1
slope = 60 * sum((x - mx) * (y - my) for x, y in zip(xs, half)) / den
c = counts
total = c["valid_ok"] + c["valid_failed"] + c["invalid_ok"] + c["invalid_unexpected"]
print("requests: %d in %.0fs (%.0f/s): valid %d ok / %d failed, invalid %d answered as expected / %d unexpected, "
      "%d connections dropped mid-request, %d reloads (%d failed)"
      % (total, elapsed, total / max(elapsed, 1), c["valid_ok"], c["valid_failed"], c["invalid_ok"],
         c["invalid_unexpected"], c["dropped"], c["reloads"], c["reload_failed"]))
print("memory: first %ds mean %.1f MiB, last %ds mean %.1f MiB (%+.1f%%)" % (
    win, first_rss, win, last_rss, 100 * (last_rss - first_rss) / first_rss))
print("memory slope over the second half: %+.3f MiB/min" % slope)
# the curve in numbers: mean RSS of each minute (of each tenth of a short run)
step = 60 if len(rss_mib) >= 600 else max(1, len(rss_mib) // 10)
print("memory by %ds window (MiB): %s" % (step, " ".join(
    "%.2f" % (sum(rss_mib[i:i + step]) / len(rss_mib[i:i + step])) for i in range(0, len(rss_mib), step))))
print("fds:    first %ds mean %.1f (max %d), last %ds mean %.1f (max %d)"
      % (win, first_fd, first_fd_max, win, last_fd, last_fd_max))
for fl in failures:
    print("  failure:", fl)
verdict = []
if last_rss > first_rss * 1.10 + 4:
    verdict.append("memory grew")
if slope > 0.1 and len(samples) >= 300:
    verdict.append("memory still growing over the second half (%+.3f MiB/min)" % slope)
first_fd_median = sorted(fds[:win])[win // 2]
last_fd_floor = min(fds[-win:])
if last_fd_floor > first_fd_median + 3:
    verdict.append("file descriptors grew (last minute never below %d; first minute median %d)"
                   % (last_fd_floor, first_fd_median))
if c["valid_failed"]:
    verdict.append("%d valid requests failed" % c["valid_failed"])
if c["invalid_unexpected"]:
    verdict.append("%d invalid requests got an unexpected answer" % c["invalid_unexpected"])
if c["reload_failed"] or c["reloads"] < int(elapsed // 10) - 1:
    verdict.append("reloads: %d done, %d failed" % (c["reloads"], c["reload_failed"]))
if len(samples) < SECS - 2:
    verdict.append("the server stopped early")
print("VERDICT: " + ("PASS (flat memory and fds, zero failed valid requests)" if not verdict else "FAIL: " + "; ".join(verdict)))
sys.exit(1 if verdict else 0)
PY
rc=$?
set -e
if command -v gnuplot >/dev/null 2>&1; then
  gnuplot -e "set terminal png size 900,500; set output '$out/soak.png'; set datafile separator ','; \
    set key autotitle columnhead; set xlabel 'seconds'; set ylabel 'RSS (MiB)'; set y2label 'open fds'; \
    set y2tics; plot '$out/soak.csv' using 1:(\$2/1024) with lines title 'RSS MiB', \
    '' using 1:3 axes x1y2 with lines title 'open fds'" && echo "chart: $out/soak.png"
fi
if grep -q '"level":"error"' "$work/server.log"; then
  echo "server errors logged:"; grep '"level":"error"' "$work/server.log" | head -n 5
fi
exit $rc
