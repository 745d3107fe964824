#!/usr/bin/env python3
"""Helper of tests/harden/test_tsan_server.sh (not a test on its own: no
test_ prefix). Serves a repository directory while 4 client threads send
inference requests and, at the same time, the model is swapped every way the
server supports: a new version folder + SIGHUP, the repository API's unload
and load, the background poll (--poll-interval 1), and finally SIGTERM with
requests in flight. Under ThreadSanitizer this exercises every path where a
model entry is shared between request threads and the reload thread.

Checks: every answer is 200, or 503/404 only while the model is unloaded
(or the version was just removed), or a refused connection after SIGTERM;
the server exits 0. Bounded: about 20 s."""
import http.client
import json
import os
import shutil
import signal
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "http"))
from serverlib import GOLDEN, Checks, Server  # noqa: E402

chk = Checks()
repo = tempfile.mkdtemp(prefix="ts-tsan-repo-")
try:
    src = os.path.join(GOLDEN, "binary", "model.txt")
    os.makedirs(os.path.join(repo, "m", "1"))
    shutil.copy(src, os.path.join(repo, "m", "1", "model.txt"))
    srv = Server(["--model-repository", repo, "--threads", "2", "--poll-interval", "1", "--admin-token", "tsan",
                  "--drain-seconds", "1", "--grace-seconds", "20"], start_timeout=120)
    body = json.dumps({"inputs": [{"name": "x", "shape": [2, 28], "datatype": "FP64", "data": [0.5] * 56}],
                       "outputs": [{"name": "predict"}, {"name": "leaf"}]}).encode()
    stop = threading.Event()
    lock = threading.Lock()
    stats = {"ok": 0, "unavailable": 0, "refused": 0, "bad": []}
    unloaded = threading.Event()

    def client(i):
        conn = None
        path = "/v2/models/m/infer" if i % 2 == 0 else "/v1/models/m:predict"
        data = body if i % 2 == 0 else json.dumps({"instances": [[0.5] * 28] * 3}).encode()
        while not stop.is_set():
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
                conn.request("POST", path, body=data, headers={"Content-Type": "application/json"})
                r = conn.getresponse()
                r.read()
                with lock:
                    if r.status == 200:
                        stats["ok"] += 1
                    elif r.status in (503, 404) and unloaded.is_set():
                        stats["unavailable"] += 1
                    else:
                        stats["bad"].append(r.status)
                if r.getheader("Connection", "").lower() == "close":
                    conn.close()
                    conn = None
            except ConnectionRefusedError:
                with lock:
                    stats["refused"] += 1
                time.sleep(0.05)
                conn = None
            except (ConnectionResetError, BrokenPipeError, http.client.RemoteDisconnected) as e:
                with lock:
                    if not stopping.is_set():
                        stats["bad"].append(repr(e))
                conn = None

    stopping = threading.Event()
    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(4)]
    for t in threads:
        t.start()
    time.sleep(1.5)
    for v in (2, 3):  # new versions picked up by SIGHUP, then by the poll thread
        os.makedirs(os.path.join(repo, "m", str(v)))
        shutil.copy(src, os.path.join(repo, "m", str(v), "model.txt"))
        if v == 2:
            srv.signal(signal.SIGHUP)
        time.sleep(2.5)
    st, _, _ = srv.request("GET", "/v2/models/m/versions/3/ready")
    chk.ok(st == 200, "version 3 served after SIGHUP + poll (%d)" % st)
    shutil.rmtree(os.path.join(repo, "m", "1"))  # a removed version while serving
    time.sleep(2)
    for _ in range(3):  # unload / load through the repository API while serving
        unloaded.set()
        st, _, b = srv.request("POST", "/v2/repository/models/m/unload", "{}", {"Authorization": "Bearer tsan"})
        chk.ok(st == 200, "unload under load (%d %r)" % (st, b[:100]))
        time.sleep(0.7)
        st, _, b = srv.request("POST", "/v2/repository/models/m/load", "{}", {"Authorization": "Bearer tsan"})
        chk.ok(st == 200, "load under load (%d %r)" % (st, b[:100]))
        time.sleep(0.3)
        unloaded.clear()
        time.sleep(0.7)
    stopping.set()
    code = srv.stop(timeout=60)  # SIGTERM with requests in flight
    stop.set()
    for t in threads:
        t.join(10)
    chk.ok(code == 0, "exit 0 after SIGTERM under load (%s)" % code)
    chk.ok(stats["ok"] > 50 and not stats["bad"],
           "requests during reloads: %d ok, %d unavailable while unloaded, %d refused after SIGTERM, bad %s"
           % (stats["ok"], stats["unavailable"], stats["refused"], stats["bad"][:5]))
finally:
    shutil.rmtree(repo, ignore_errors=True)
chk.done()
