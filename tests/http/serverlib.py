"""Shared helpers for the HTTP tests: start a real treeserve binary on a free
loopback port, talk to it over real sockets, always kill it on exit.

Standard library only. The binary comes from $TREESERVE_BIN, the repository
root from $TREESERVE_SRC (both set by scripts/test.sh)."""
import atexit
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

SRC = os.environ.get("TREESERVE_SRC") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ.get("TREESERVE_BIN") or os.path.join(SRC, "build", "treeserve")
GOLDEN = os.path.join(SRC, "tests", "golden")

_servers = []


def _cleanup():
    for s in _servers:
        s.kill()


atexit.register(_cleanup)
signal.signal(signal.SIGTERM, lambda *a: sys.exit(1))


class Server:
    """One `treeserve serve` process listening on 127.0.0.1 and a port chosen
    by the kernel (--port 0; the port is read from the "listening" log line)."""

    def __init__(self, args, env=None, start_timeout=60):
        cmd = [BIN, "serve", "--host", "127.0.0.1", "--port", "0"] + list(args)
        e = dict(os.environ)
        e.update(env or {})
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=e, text=True)
        _servers.append(self)
        self.log = []
        self.port = None
        deadline = time.time() + start_timeout
        while time.time() < deadline:
            line = self.proc.stderr.readline()
            if not line:
                break
            self.log.append(line)
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if rec.get("msg") == "listening":
                self.port = rec["port"]
                break
        if self.port is None:
            self.kill()
            raise RuntimeError("server did not start: %s\n%s" % (cmd, "".join(self.log)))
        # Keep draining stderr so the server never blocks on a full pipe.
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    def _drain(self):
        for line in self.proc.stderr:
            self.log.append(line)

    def conn(self, timeout=30):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def request(self, method, path, body=None, headers=None, conn=None):
        """Returns (status, headers dict (lower-case names), body bytes)."""
        c = conn or self.conn()
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        if isinstance(body, str):
            body = body.encode()
        h = {"Content-Type": "application/json"} if body is not None else {}
        h.update(headers or {})
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        data = r.read()
        hdrs = {k.lower(): v for k, v in r.getheaders()}
        if conn is None:
            c.close()
        return r.status, hdrs, data

    def json(self, method, path, body=None, headers=None):
        st, h, data = self.request(method, path, body, headers)
        try:
            return st, json.loads(data) if data else None
        except ValueError:
            raise AssertionError("%s %s: status %d, body is not JSON: %r" % (method, path, st, data[:200]))

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, timeout=30):
        """SIGTERM and wait; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        finally:
            self.kill()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def raw_request(port, data, timeout=10, read=True):
    """Sends raw bytes on a fresh socket; returns (status or None, raw response)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(data)
        if not read:
            return s
        buf = b""
        while True:
            try:
                chunk = s.recv(65536)
            except (ConnectionResetError, socket.timeout):
                break
            if not chunk:
                break
            buf += chunk
            head, sep, rest = buf.partition(b"\r\n\r\n")
            if sep:
                cl = [l for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")]
                if cl and len(rest) >= int(cl[0].split(b":")[1]):
                    break
        status = int(buf.split(b" ")[1]) if buf.startswith(b"HTTP/") else None
        return status, buf
    finally:
        if read:
            s.close()


class Checks:
    """Counts checks; prints each failure; exit code for the test runner."""

    def __init__(self):
        self.n = 0
        self.failed = 0

    def ok(self, cond, what):
        self.n += 1
        if not cond:
            self.failed += 1
            print("FAIL:", what)
        return cond

    def done(self):
        print("%d checks, %d failed" % (self.n, self.failed))
        sys.exit(1 if self.failed else 0)


def golden_cases():
    return sorted(d for d in os.listdir(GOLDEN) if os.path.isfile(os.path.join(GOLDEN, d, "model.txt")))


def read_csv_rows(path):
    import csv
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.reader(f))
