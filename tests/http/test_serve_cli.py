#!/usr/bin/env python3
"""`treeserve serve` as a command: --help lists every flag with its
environment variable and default; configuration from TREESERVE_* variables;
usage errors exit 2, startup failures exit 1 naming the problem; the sampled
access log (never bodies); SIGHUP reload of a repository while clients keep
sending requests (zero failures, new version served)."""
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

from serverlib import BIN, GOLDEN, Checks, Server

chk = Checks()
model = os.path.join(GOLDEN, "binary", "model.txt")

p = subprocess.run([BIN, "serve", "--help"], capture_output=True, text=True, timeout=30)
chk.ok(p.returncode == 0, "--help exits 0")
for flag, env, default in (("--model-repository", "TREESERVE_MODEL_REPOSITORY", None), ("--model", "TREESERVE_MODEL", None),
                           ("--port", "TREESERVE_PORT", "8080"), ("--host", "TREESERVE_HOST", "0.0.0.0"),
                           ("--threads", "TREESERVE_THREADS", "0"), ("--poll-interval", "TREESERVE_POLL_INTERVAL", "0"),
                           ("--drain-seconds", "TREESERVE_DRAIN_SECONDS", "5"), ("--grace-seconds", "TREESERVE_GRACE_SECONDS", "30"),
                           ("--admin-token", "TREESERVE_ADMIN_TOKEN", None), ("--max-body-bytes", "TREESERVE_MAX_BODY_BYTES", "16777216"),
                           ("--max-header-bytes", "TREESERVE_MAX_HEADER_BYTES", "16384"), ("--max-rows", "TREESERVE_MAX_ROWS", "100000"),
                           ("--max-json-depth", "TREESERVE_MAX_JSON_DEPTH", "16"), ("--max-connections", "TREESERVE_MAX_CONNECTIONS", "1024"),
                           ("--idle-timeout", "TREESERVE_IDLE_TIMEOUT", "60"), ("--read-timeout", "TREESERVE_READ_TIMEOUT", "30"),
                           ("--log-level", "TREESERVE_LOG_LEVEL", "info"), ("--access-log-sample", "TREESERVE_ACCESS_LOG_SAMPLE", "0")):
    ok = flag in p.stdout and env in p.stdout and (default is None or ("default " + default) in p.stdout)
    chk.ok(ok, "--help lists %s (%s, default %s)" % (flag, env, default))

for args, code, what in ((["--bogus"], 2, "unknown flag"), ([], 2, "no model given"), (["--model", "x"], 2, "--model without ="),
                         (["--model", "m=" + model, "--port", "70000"], 2, "port out of range"),
                         (["--model", "m=" + model, "--max-rows", "abc"], 2, "non-numeric limit"),
                         (["--model", "m=/nonexistent/model.txt", "--port", "0"], 1, "missing model file")) + tuple(
        # integer settings must not be truncated (--port 80.5 listened on 80); a missing model makes a
        # value that slips through fail later with exit 1 instead of starting a server
        (["--model", "m=/nonexistent/model.txt", flag, value], 2, "%s %s (not an integer)" % (flag, value))
        for flag, value in (("--port", "8080.5"), ("--threads", "1.5"), ("--max-rows", "10.7"),
                            ("--max-explain-rows", "2.5"), ("--max-body-bytes", "1e3.5"), ("--max-body-bytes", "1000.5"),
                            ("--max-header-bytes", "4096.5"), ("--max-json-depth", "8.5"), ("--max-json-tokens", "100.5"),
                            ("--max-connections", "6.5"), ("--idle-timeout", "2.5"), ("--read-timeout", "0x1f"),
                            ("--no-explain", "0.5"))):
    p = subprocess.run([BIN, "serve"] + args, capture_output=True, text=True, timeout=30)
    chk.ok(p.returncode == code and p.stderr.strip(), "%s -> exit %d with a message (got %d: %s)" % (what, code, p.returncode, p.stderr[-200:]))

# a port already in use: exit 1 naming the address
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(1)
busy = s.getsockname()[1]
p = subprocess.run([BIN, "serve", "--model", "m=" + model, "--host", "127.0.0.1", "--port", str(busy)],
                   capture_output=True, text=True, timeout=30)
chk.ok(p.returncode == 1 and ("127.0.0.1:%d" % busy) in p.stderr, "port in use -> exit 1 naming it (%s)" % p.stderr[-200:])
s.close()

# configuration from the environment only
srv = Server([], env={"TREESERVE_MODEL": "envm=" + model, "TREESERVE_MAX_ROWS": "2", "TREESERVE_ACCESS_LOG_SAMPLE": "1",
                      "TREESERVE_DRAIN_SECONDS": "0"})
row = [0.5] * 28
st, _, _ = srv.request("POST", "/v1/models/envm:predict", {"instances": [row, row]})
chk.ok(st == 200, "TREESERVE_MODEL serves the model (%d)" % st)
st, _, _ = srv.request("POST", "/v1/models/envm:predict", {"instances": [row] * 3})
chk.ok(st == 413, "TREESERVE_MAX_ROWS=2 applies (%d)" % st)
chk.ok(srv.stop() == 0, "exit 0")
log = [json.loads(l) for l in srv.log if l.startswith("{")]
acc = [r for r in log if r.get("msg") == "request"]
chk.ok(len(acc) >= 2 and all("status" in r and "seconds" in r for r in acc), "access log lines with status and time")
allowed = {"ts", "level", "msg", "route", "status", "request_bytes", "response_bytes", "seconds", "rows"}
chk.ok(all(set(r) <= allowed for r in acc), "access log holds names, sizes and timings only, no bodies")
srv = Server(["--model", "m=" + model, "--drain-seconds", "0"])
srv.request("GET", "/healthz")
srv.stop()
chk.ok(not any('"msg":"request"' in l for l in srv.log), "access log off by default")

# SIGHUP reload under load: version 2 appears, no request fails
repo = tempfile.mkdtemp()
try:
    os.makedirs(os.path.join(repo, "bin", "1"))
    shutil.copy(model, os.path.join(repo, "bin", "1", "model.txt"))
    srv = Server(["--model-repository", repo, "--drain-seconds", "0"])
    body = {"inputs": [{"name": "x", "shape": [1, 28], "datatype": "FP64", "data": row}]}
    stop = threading.Event()
    stats = {"ok": 0, "bad": []}
    versions = set()

    def client():
        c = srv.conn()
        while not stop.is_set():
            try:
                st, _, data = srv.request("POST", "/v2/models/bin/infer", body, conn=c)
                if st == 200:
                    stats["ok"] += 1
                    versions.add(json.loads(data)["model_version"])
                else:
                    stats["bad"].append(st)
            except Exception as e:
                stats["bad"].append(repr(e))
                c.close()
                c = srv.conn()
        c.close()

    th = [threading.Thread(target=client) for _ in range(3)]
    for t in th:
        t.start()
    time.sleep(0.5)
    os.makedirs(os.path.join(repo, "bin", "2"))
    shutil.copy(os.path.join(GOLDEN, "binary_sigmoid_0_5", "model.txt"), os.path.join(repo, "bin", "2", "model.txt"))
    srv.signal(signal.SIGHUP)
    deadline = time.time() + 15
    while "2" not in versions and time.time() < deadline:
        time.sleep(0.1)
    time.sleep(0.3)
    stop.set()
    for t in th:
        t.join(30)
    chk.ok("2" in versions and "1" in versions, "SIGHUP: version 2 served after the reload (%s)" % sorted(versions))
    chk.ok(not stats["bad"] and stats["ok"] > 20, "reload under load: %d ok, failures %s" % (stats["ok"], stats["bad"][:5]))
    st, _, _ = srv.request("POST", "/v2/models/bin/versions/1/infer", body)
    chk.ok(st == 200, "older version still addressable (%d)" % st)
    chk.ok(srv.stop() == 0, "exit 0")
finally:
    shutil.rmtree(repo)
chk.done()
