#!/usr/bin/env python3
"""Graceful shutdown under load: SIGTERM while requests are in flight.
  - readiness turns 503 at once, liveness stays 200, requests keep being
    served for --drain-seconds;
  - then new connections are refused, and every request that reached the
    server completes: zero failed requests (clients stop at 'connection
    refused', which is the expected end);
  - a request whose body is still arriving when the listener closes gets its
    200;
  - the process exits 0 within --grace-seconds."""
import http.client
import json
import os
import signal
import socket
import threading
import time

from serverlib import GOLDEN, Checks, Server

chk = Checks()
model = os.path.join(GOLDEN, "binary", "model.txt")
srv = Server(["--model", "binary=" + model, "--drain-seconds", "1", "--grace-seconds", "10", "--threads", "2"])
row = [0.25] * 28
body = json.dumps({"inputs": [{"name": "x", "shape": [1, 28], "datatype": "FP64", "data": row}]}).encode()

stop = threading.Event()
lock = threading.Lock()
stats = {"ok": 0, "failed": 0, "refused": 0, "errors": []}


def client(keepalive):
    conn = None
    while not stop.is_set():
        try:
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=20)
                conn.connect()
        except ConnectionRefusedError:
            with lock:
                stats["refused"] += 1
            return
        try:
            conn.request("POST", "/v2/models/binary/infer", body, {"Content-Type": "application/json"})
            r = conn.getresponse()
            data = r.read()
            closing = (r.getheader("Connection") or "").lower() == "close"
            with lock:
                if r.status == 200:
                    stats["ok"] += 1
                else:
                    stats["failed"] += 1
                    stats["errors"].append("status %d %r" % (r.status, data[:100]))
            if closing or not keepalive:
                conn.close()
                conn = None
        except Exception as e:  # any error after connecting is a failed request
            with lock:
                stats["failed"] += 1
                stats["errors"].append(repr(e))
            conn.close()
            conn = None


threads = [threading.Thread(target=client, args=(i % 2 == 0,)) for i in range(6)]
for t in threads:
    t.start()
time.sleep(1.0)

# a slow request: headers and half the body now, the rest after the listener closed
slow = socket.create_connection(("127.0.0.1", srv.port), timeout=20)
slow.sendall(b"POST /v2/models/binary/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
             b"Content-Length: %d\r\n\r\n" % len(body) + body[:40])
time.sleep(0.2)
before = stats["ok"]
t_sig = time.time()
srv.signal(signal.SIGTERM)
time.sleep(0.2)
st, _, _ = srv.request("GET", "/readyz")
chk.ok(st == 503, "readiness is 503 right after SIGTERM (got %d)" % st)
st, _, _ = srv.request("GET", "/v2/health/ready")
chk.ok(st == 503, "/v2/health/ready is 503 while draining (got %d)" % st)
st, _, _ = srv.request("GET", "/healthz")
chk.ok(st == 200, "liveness stays 200 while draining (got %d)" % st)
time.sleep(0.5)
chk.ok(stats["ok"] > before, "requests still served during the drain period (%d -> %d)" % (before, stats["ok"]))
time.sleep(1.0)  # drain (1 s) is over: the listener is closed
refused = False
try:
    socket.create_connection(("127.0.0.1", srv.port), timeout=5).close()
except ConnectionRefusedError:
    refused = True
chk.ok(refused, "new connections refused after --drain-seconds")
slow.sendall(body[40:])
resp = b""
slow.settimeout(10)
try:
    while b"\r\n\r\n" not in resp or not resp.rstrip().endswith(b"}"):
        chunk = slow.recv(65536)
        if not chunk:
            break
        resp += chunk
except socket.timeout:
    pass
slow.close()
chk.ok(resp.startswith(b"HTTP/1.1 200"), "in-flight slow request completed with 200 (got %r)" % resp[:60])
code = srv.proc.wait(15)
elapsed = time.time() - t_sig
stop.set()
for t in threads:
    t.join(30)
chk.ok(code == 0, "exit code 0 (got %s)" % code)
chk.ok(elapsed < 10, "exited within --grace-seconds (%.1fs)" % elapsed)
print("requests ok: %d, failed: %d, clients stopped by refusal: %d" % (stats["ok"], stats["failed"], stats["refused"]))
chk.ok(stats["failed"] == 0, "zero failed requests: %s" % stats["errors"][:5])
chk.ok(stats["ok"] > 50, "load was real (%d requests)" % stats["ok"])
log = "".join(srv.log)
chk.ok('"msg":"shutting down"' in log and '"msg":"stopped"' in log, "shutdown logged")
chk.done()
