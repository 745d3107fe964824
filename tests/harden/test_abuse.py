#!/usr/bin/env python3
"""Abuse tests against a running `treeserve serve` (real sockets, loopback).

Every case of issue 7's list: oversized bodies (Content-Length, chunked,
growing slowly), 10,000 headers, a 1 MB header line, slowloris, idle
keep-alive connections, 5,000 concurrent idle connections, JSON nested
100,000 deep, 100,000 rows over the row limit, NaN/Infinity/1e400, wrong
datatypes, shape/data disagreements, negative and overflowing shapes,
unknown outputs and parameters, invalid UTF-8 and control characters in
names, ../ and absolute paths in model names and versions, and request
smuggling (Content-Length with Transfer-Encoding, two Content-Lengths,
whitespace before the colon, obs-fold).

Each case expects a clear 4xx/503 (a JSON {"error": ...} body when our code
answers; libmicrohttpd's own early answers are HTML) or a closed connection
where HTTP requires it, and after each case the server must be healthy: ready,
answering a normal inference with the same prediction as before, within a
generous timeout (a hang check, not a speed assertion; the latencies are
printed). At the end the server's open file descriptors must be back near the
start (no leaked connections) and the process alive.

Short server timeouts (--read-timeout 3, --idle-timeout 3) keep it quick;
the whole test takes well under a minute on 2 cores.
Standard library only. TREESERVE_BIN / TREESERVE_SRC as for every script test.
"""
import json
import os
import resource
import select
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "http"))
from serverlib import GOLDEN, Checks, Server  # noqa: E402

READ_TIMEOUT = 3
IDLE_TIMEOUT = 3
MAX_BODY = 8 << 20
MAX_ROWS = 1000
MAX_CONNECTIONS = 1024
IDLE_CONNECTIONS = 5000

# 5,000 client sockets in this process (and as many server-side sockets in the
# server, which inherits the limit): raise the soft limit up to the hard one.
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
want = min(hard, 3 * IDLE_CONNECTIONS) if hard != resource.RLIM_INFINITY else 3 * IDLE_CONNECTIONS
if soft < want:
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))

class VerboseChecks(Checks):
    """Prints every check, not only the failures (what this test checks)."""

    def ok(self, cond, what):
        if cond:
            print("ok:", what)
        return super().ok(cond, what)


chk = VerboseChecks()
srv = Server(["--model", "binary=" + os.path.join(GOLDEN, "binary", "model.txt"),
              "--model", "pc=" + os.path.join(GOLDEN, "pandas_categorical", "model.txt"),
              "--threads", "2", "--max-rows", str(MAX_ROWS), "--max-body-bytes", str(MAX_BODY),
              "--read-timeout", str(READ_TIMEOUT), "--idle-timeout", str(IDLE_TIMEOUT),
              "--max-connections", str(MAX_CONNECTIONS), "--admin-token", "abuse-test-token",
              "--drain-seconds", "0"])
PORT = srv.port
F = 28
ROW = [0.25 * (i % 5) for i in range(F)]
VALID = {"inputs": [{"name": "x", "shape": [1, F], "datatype": "FP64", "data": ROW}]}


def nfds():
    try:
        return len(os.listdir("/proc/%d/fd" % srv.proc.pid))
    except OSError:
        return -1


def connect(timeout=10):
    return socket.create_connection(("127.0.0.1", PORT), timeout=timeout)


def read_all(s, wait):
    """Reads until the peer closes or `wait` seconds pass. Returns (data, closed)."""
    buf, closed = b"", False
    end = time.time() + wait
    while time.time() < end:
        s.settimeout(max(0.05, end - time.time()))
        try:
            c = s.recv(65536)
        except socket.timeout:
            break
        except (ConnectionResetError, BrokenPipeError):
            closed = True
            break
        if not c:
            closed = True
            break
        buf += c
    return buf, closed


def responses(buf):
    """Status codes of the HTTP responses in buf, parsed one after the other
    (status line, headers, Content-Length body). Stops at bytes that do not
    start a response: libmicrohttpd 0.9.75 writes the status line and headers
    of its own early error answers twice, which must not count as a second
    response."""
    out = []
    while buf.startswith(b"HTTP/1.1 "):
        head, sep, rest = buf.partition(b"\r\n\r\n")
        if not sep:
            break
        try:
            out.append(int(head[9:12]))
        except ValueError:
            break
        n = 0
        for line in head.split(b"\r\n")[1:]:
            k, _, v = line.partition(b":")
            if k.strip().lower() == b"content-length":
                n = int(v.strip() or 0)
        buf = rest[n:]
    return out


def raw(data, wait=6.0):
    """Sends raw bytes, half-keeps the connection; returns (statuses, data, closed)."""
    s = connect()
    try:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        buf, closed = read_all(s, wait)
    finally:
        s.close()
    return responses(buf), buf, closed


def is_json_error(body):
    try:
        e = json.loads(body.decode("utf-8"))  # strict UTF-8 too
    except (ValueError, UnicodeDecodeError):
        return False
    return isinstance(e, dict) and isinstance(e.get("error"), str) and e["error"] != ""


BASELINE = None
latencies = []


def healthy(after):
    """The server answers ready and a normal inference, same prediction as at the start."""
    t0 = time.time()
    try:
        st, _, body = srv.request("GET", "/v2/health/ready")
        st2, _, body2 = srv.request("POST", "/v2/models/binary/infer", VALID)
    except Exception as e:  # noqa: BLE001 - any failure to answer is the finding
        chk.ok(False, "after %s: the server does not answer (%r)" % (after, e))
        return False
    dt = time.time() - t0
    latencies.append((after, dt))
    pred = json.loads(body2)["outputs"][0]["data"] if st2 == 200 else None
    return chk.ok(st == 200 and st2 == 200 and (BASELINE is None or pred == BASELINE) and srv.proc.poll() is None,
                  "after %s: healthy (ready %d, infer %d, prediction %s, %.3fs)" % (after, st, st2, pred, dt))


def expect(what, got, allowed, json_body=True):
    """got = (status, headers, body) from srv.request."""
    st, _, body = got
    ok = st in allowed and (not json_body or is_json_error(body))
    chk.ok(ok, "%s -> %s with a JSON error (got %d %r)" % (what, sorted(allowed), st, body[:200]))
    healthy(what)


def post(path, body, headers=None):
    return srv.request("POST", path, body, headers)


def infer(body, model="binary"):
    return post("/v2/models/%s/infer" % model, body)


def tensor(shape, data, dt="FP64", name="x", **extra):
    t = {"name": name, "shape": shape, "datatype": dt, "data": data}
    t.update(extra)
    return t


# ---- baseline ----
fd0 = nfds()
st, _, body = infer(VALID)
chk.ok(st == 200, "baseline inference -> 200 (%d %r)" % (st, body[:120]))
BASELINE = json.loads(body)["outputs"][0]["data"]
healthy("start")
print("server pid %d, port %d, %d open fds at start" % (srv.proc.pid, PORT, fd0))

# ---- bodies over the limit ----
# With Content-Length: answered 413 as soon as the headers arrive.
s = connect()
s.sendall(b"POST /v2/models/binary/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
          b"Content-Length: %d\r\n\r\n" % (MAX_BODY + 1))
sent = 0
try:
    chunk = b" " * 65536
    while sent <= MAX_BODY:
        s.sendall(chunk)
        sent += len(chunk)
except (BrokenPipeError, ConnectionResetError):
    pass
buf, closed = read_all(s, 5)
s.close()
chk.ok(responses(buf)[:1] == [413] or (closed and not buf),
       "body of %d bytes with Content-Length over --max-body-bytes %d -> 413 or closed (got %r)"
       % (MAX_BODY + 1, MAX_BODY, buf[:120]))
healthy("body over the limit (Content-Length)")

# Chunked, no Content-Length: the limit applies to the bytes as they arrive.
s = connect()
s.sendall(b"POST /v2/models/binary/infer HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
sent = 0
try:
    piece = b"%x\r\n%s\r\n" % (65536, b" " * 65536)
    while sent <= MAX_BODY + 65536:
        s.sendall(piece)
        sent += 65536
    s.sendall(b"0\r\n\r\n")
except (BrokenPipeError, ConnectionResetError):
    pass
buf, closed = read_all(s, 5)
s.close()
st = responses(buf)
chk.ok(st[:1] == [413] or (closed and not st),
       "chunked body over the limit -> 413 or closed (got %r, closed %s)" % (buf[:120], closed))
healthy("chunked body over the limit")

# Growing slowly: chunked, 1 MiB every 0.25 s, crosses the limit after ~2 s
# (before --read-timeout 3); cut at the limit or at the read timeout.
s = connect()
s.sendall(b"POST /v2/models/binary/infer HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
t0 = time.time()
cut = False
try:
    piece = b"%x\r\n%s\r\n" % (1 << 20, b"1" * (1 << 20))
    for _ in range(MAX_BODY // (1 << 20) + 8):
        s.sendall(piece)
        time.sleep(0.25)
except (BrokenPipeError, ConnectionResetError):
    cut = True
buf, closed = read_all(s, READ_TIMEOUT + 3)
s.close()
st = responses(buf)
chk.ok(st[:1] in ([413], [408]) or cut or closed,
       "body growing slowly past the limit -> 413 or closed within %.1fs (got %r)" % (time.time() - t0, buf[:120]))
healthy("body growing slowly")

# ---- headers ----
st, buf, closed = raw(b"GET /v2/health/ready HTTP/1.1\r\nHost: x\r\n" + b"X-Abuse: 1\r\n" * 10000 + b"\r\n")
chk.ok(st[:1] == [431] or (not st and closed), "10,000 headers -> 431 or closed (got %r)" % buf[:120])
healthy("10,000 headers")
st, buf, closed = raw(b"GET /v2/health/ready HTTP/1.1\r\nHost: x\r\nX-Long: " + b"a" * (1 << 20) + b"\r\n\r\n")
chk.ok(st[:1] == [431] or (not st and closed), "1 MB header line -> 431 or closed (got %r)" % buf[:120])
healthy("1 MB header line")

# ---- slowloris: 20 connections sending their headers at 1 byte/s ----
req = b"GET /v2/health/ready HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"s" * 200 + b"\r\n\r\n"
slow = [connect() for _ in range(20)]
open_ = set(range(len(slow)))
t0 = time.time()
served_meanwhile = 0
i = 0
while open_ and time.time() - t0 < READ_TIMEOUT + 6:
    for k in list(open_):
        try:
            slow[k].sendall(req[i:i + 1])
        except (BrokenPipeError, ConnectionResetError):
            open_.discard(k)
            continue
        if select.select([slow[k]], [], [], 0)[0]:
            try:
                if slow[k].recv(4096) == b"":
                    open_.discard(k)
            except ConnectionResetError:
                open_.discard(k)
    i += 1
    st, _, _ = srv.request("GET", "/v2/health/live")
    served_meanwhile += st == 200
    time.sleep(1)
for x in slow:
    x.close()
chk.ok(not open_, "slowloris: all 20 connections closed by the server within --read-timeout %d + slack "
       "(%d still open after %.1fs)" % (READ_TIMEOUT, len(open_), time.time() - t0))
chk.ok(served_meanwhile >= 3, "slowloris: normal requests served meanwhile (%d)" % served_meanwhile)
healthy("slowloris")

# ---- idle keep-alive connections ----
s = connect()
t0 = time.time()
s.sendall(b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n")
first, _ = read_all(s, 1)
rest, closed = read_all(s, IDLE_TIMEOUT + 5)
chk.ok(responses(first) == [200] and closed and time.time() - t0 >= IDLE_TIMEOUT - 1,
       "idle keep-alive connection closed after --idle-timeout %d (%.1fs)" % (IDLE_TIMEOUT, time.time() - t0))
s.close()
s = connect()
t0 = time.time()
_, closed = read_all(s, max(IDLE_TIMEOUT, READ_TIMEOUT) + 5)
chk.ok(closed, "connection that never sends a byte closed (%.1fs)" % (time.time() - t0))
s.close()
healthy("idle keep-alive connections")

# ---- 5,000 concurrent idle connections ----
conns = []
refused = 0
t0 = time.time()
for _ in range(IDLE_CONNECTIONS):
    c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    c.setblocking(False)
    err = c.connect_ex(("127.0.0.1", PORT))
    if err not in (0, 115):  # EINPROGRESS
        refused += 1
        c.close()
        continue
    conns.append(c)
time.sleep(1.0)
# While saturated, a new client gets a quick answer (200, or 503 over the
# limit) or a refused/closed connection: never a hang.
try:
    st, buf, closed = raw(b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", wait=5)
    saturated = (st[:1], closed)
    chk.ok(st[:1] in ([200], [503]) or closed,
           "new request during %d idle connections -> 200/503 or closed (got %r)" % (len(conns), buf[:100]))
except OSError as e:
    chk.ok(True, "new request during saturation refused (%r)" % e)
    saturated = e
server_fds_peak = nfds()
# The server must close the idle ones (idle timeout, or at once over the
# limit). Connections beyond the limit wait in the kernel's listen backlog
# until the server accepts them, so this takes a few rounds of the idle
# timeout; the loop ends as soon as all are closed.
deadline = time.time() + 45
alive = {c.fileno(): c for c in conns}
poller = select.poll()  # select() cannot take fds above 1023
for fd in alive:
    poller.register(fd, select.POLLIN | select.POLLHUP | select.POLLERR)
while alive and time.time() < deadline:
    for fd, _ in poller.poll(500):
        c = alive.get(fd)
        if c is None:
            continue
        try:
            gone = c.recv(4096) == b""
        except (ConnectionResetError, BlockingIOError, OSError) as e:
            gone = not isinstance(e, BlockingIOError)
        if gone:
            poller.unregister(fd)
            del alive[fd]
closed_by_server = len(conns) - len(alive)
# Connects beyond the server's slots and its listen backlog (1024) are held
# back by the kernel, not by the server: SYNs dropped and retried at 1, 3, 7,
# 15, 31 s, or a handshake the client sees complete while the server's side
# stays in SYN-RECV because the accept queue was full then (the client thinks
# it is connected; the server never gets the socket, and an idle client never
# learns otherwise). Only connections whose server side was established count:
# every one of those must have been closed by the server.
server_side = {}
try:
    for line in subprocess.run(["ss", "-tanH", "sport = :%d" % PORT], capture_output=True, text=True,
                               timeout=10).stdout.splitlines():
        f = line.split()
        if len(f) >= 5 and f[0] != "LISTEN":
            server_side[int(f[4].rsplit(":", 1)[1])] = f[0]
except (OSError, ValueError, subprocess.SubprocessError):
    pass
never_connected = 0
for c in alive.values():
    try:
        port = c.getsockname()[1]
        c.getpeername()
        if server_side.get(port, "SYN-RECV") == "SYN-RECV":
            never_connected += 1
    except OSError:
        never_connected += 1
# What the server holds now, and what waits in its listen queue (accepted by
# the kernel, not yet by the server): tells "not accepting" from "not closing".
server_fds_end = nfds()
try:
    listen_queue = subprocess.run(["ss", "-ltnH", "sport = :%d" % PORT], capture_output=True, text=True,
                                  timeout=10).stdout.split()[1]
except (OSError, IndexError, subprocess.SubprocessError):
    listen_queue = "?"
for c in conns:
    c.close()
chk.ok(closed_by_server + never_connected >= len(conns) - 5 and closed_by_server >= 2 * MAX_CONNECTIONS,
       "%d idle connections (%d refused at connect): %d closed by the server within %.0fs, %d still not "
       "accepted by the server's kernel (full backlog); server fds peak %d, at the end %d with %s waiting "
       "in its listen queue"
       % (len(conns), refused, closed_by_server, time.time() - t0, never_connected, server_fds_peak, server_fds_end,
          listen_queue))
time.sleep(0.5)
healthy("5,000 idle connections")

# ---- JSON ----
deep = '{"inputs": [{"name": "x", "shape": [1, 28], "datatype": "FP64", "data": %s%s}]}' % ("[" * 100000, "]" * 100000)
expect("JSON nested 100,000 deep", infer(deep), {400})
big = {"inputs": [tensor([100000, F], [0] * (100000 * F))]}
expect("100,000 rows over --max-rows %d (OIP)" % MAX_ROWS, infer(big), {413})
expect("100,000 rows over --max-rows (records)", post("/v1/models/binary:predict", {"instances": [[0] * F] * 100000}),
       {413})
zeros = ",".join(["0"] * (F - 1))
for lit in ["NaN", "Infinity", "-Infinity", "nan", "1e400", "-1e400"]:
    body = '{"inputs": [{"name": "x", "shape": [1, 28], "datatype": "FP64", "data": [%s, %s]}]}' % (lit, zeros)
    expect("number literal %s" % lit, infer(body), {400, 422})
expect("1e400 in a records row", post("/v1/models/binary:predict", '{"instances": [[1e400, %s]]}' % zeros), {400, 422})

# ---- types and shapes ----
for dt in ["FP16", "STRING", "fp64", "", 5, None]:
    expect("datatype %r" % (dt,), infer({"inputs": [tensor([1, F], ROW, dt)]}), {400, 422})
expect("BOOL data in an FP64 tensor", infer({"inputs": [tensor([1, F], [True] * F)]}), {422})
expect("data shorter than the shape", infer({"inputs": [tensor([2, F], ROW)]}), {400, 422})
expect("data longer than the shape", infer({"inputs": [tensor([1, F], ROW + ROW)]}), {400, 422})
expect("shape [1, 27] for 28 features", infer({"inputs": [tensor([1, F - 1], ROW[:-1])]}), {400, 422})
for shape in [[-1, F], [1, -28], [-9223372036854775808, F], [9223372036854775807, F], [18446744073709551616, F],
              [1e30, F], [1.5, F], ["1", F], [1 << 40, F], [1 << 40, 1 << 40], [3037000500, 3037000500], [1, F, 1],
              [], {}]:
    expect("shape %s" % json.dumps(shape), infer({"inputs": [tensor(shape, ROW)]}), {400, 413, 422})
expect("binary_data_size beyond the body",
       post("/v2/models/binary/infer", b'{"inputs":[{"name":"x","shape":[1,28],"datatype":"FP64",'
            b'"parameters":{"binary_data_size":9223372036854775807}}]}', {"Inference-Header-Content-Length": "94"}),
       {400, 422})

# ---- unknown outputs and parameters ----
expect("unknown output", infer(dict(VALID, outputs=[{"name": "probabilities"}])), {400, 422})
expect("output name not a string", infer(dict(VALID, outputs=[{"name": 7}])), {400, 422})
expect("unknown request parameter", infer(dict(VALID, parameters={"no_such_parameter": 1})), {400, 422})
expect("unknown tensor parameter",
       infer({"inputs": [tensor([1, F], ROW, parameters={"no_such_parameter": 1})]}), {400, 422})
expect("unknown output parameter",
       infer(dict(VALID, outputs=[{"name": "predict", "parameters": {"no_such_parameter": 1}}])), {400, 422})
expect("records unknown output", post("/v1/models/binary:predict", {"instances": [ROW], "output": "proba"}), {422})
expect("records unknown parameter",
       post("/v1/models/binary:predict", {"instances": [ROW], "parameters": {"no_such_parameter": 1}}), {400, 422})

# ---- names: invalid UTF-8, control characters ----
for name in [b"\xff\xfe", b"x\xc3", b"\xed\xa0\x80", b"\xc0\xaf"]:
    body = b'{"inputs": [{"name": "' + name + b'", "shape": [1], "datatype": "FP64", "data": [1]}]}'
    expect("tensor name with invalid UTF-8 %r" % name, infer(body), {400, 422})
expect("id with invalid UTF-8", infer(b'{"id": "\xff", "inputs": [{"name": "x", "shape": [1, 28], '
                                      b'"datatype": "FP64", "data": [' + ",".join(["0"] * F).encode() + b']}]}'),
       {400, 422})
expect("tensor name with a raw control character",
       infer(b'{"inputs": [{"name": "a\x01b", "shape": [1], "datatype": "FP64", "data": [1]}]}'), {400, 422})
expect("tensor name with an escaped control character",
       infer({"inputs": [tensor([1], [1], name="a\u0001\u001fb\u007f")]}), {400, 422})
expect("records key with invalid UTF-8", post("/v1/models/pc:predict", b'{"instances": [{"\xff": 1}]}'), {400, 422})
for path in ["/v2/models/%ff%fe/infer", "/v2/models/a%01b/infer", "/v2/models/%7f/infer",
             "/v2/models/binary/versions/%ff/infer"]:
    expect("model path %s" % path, post(path, VALID), {400, 404})
# %00 would decode to a NUL that cuts the path ("/v2/models/a" is a GET
# route): the server refuses the target before routing.
for path in ["/v2/models/a%00b/infer", "/v2/models/binary/versions/1%00/infer", "/v2/models/binary%00/infer",
             "/v2/health/ready%00"]:
    got = post(path, VALID) if "infer" in path else srv.request("GET", path)
    expect("path %s" % path, got, {400})
    chk.ok(b"NUL" in got[2], "path %s: the error names the NUL (%r)" % (path, got[2][:120]))

# A NUL inside a header name: libmicrohttpd refuses the line itself (its own
# HTML 400). A NUL inside a header *value* cannot be seen from here: the
# library cuts the value at it before we get it (noted in SECURITY.md).
st, buf, closed = raw(b"GET /v2/health/ready HTTP/1.1\r\nHost: x\r\nX-A\x00b: 1\r\n\r\n", wait=2)
chk.ok(st == [400], "NUL inside a header name -> 400 (got %s %r)" % (st, buf[:80]))
healthy("NUL inside a header name")

# ---- paths in model names and versions ----
for path in ["/v2/models/..%2F..%2F..%2Fetc%2Fpasswd/infer", "/v2/models/%2Fetc%2Fpasswd/infer",
             "/v2/models/../binary/infer", "/v2/models/./binary/infer", "/v2/models/..%2Fbinary/infer",
             "/v2/models/binary/versions/..%2F1/infer", "/v2/models/binary/versions/%2F1/infer",
             "/v2/models/binary/versions/-1/infer", "/v2/models/binary/versions/01/infer",
             "/v2/models/binary/versions/99999999999999999999999/infer", "/v2/models/%2e%2e/infer",
             "/v1/models/..%2F..%2Fetc%2Fpasswd:predict"]:
    got = post(path, VALID)
    expect("path %s" % path, got, {400, 404})
    chk.ok(b"root:" not in got[2], "path %s: no file content in the answer" % path)
for name in ["..%2F..%2Fetc", "%2Fetc%2Fpasswd", "..", "."]:
    expect("repository load of %s" % name,
           post("/v2/repository/models/%s/load" % name, "{}", {"Authorization": "Bearer abuse-test-token"}), {400, 404})
expect("repository API with a wrong token",
       post("/v2/repository/models/binary/unload", "{}", {"Authorization": "Bearer abuse-test-tokeN"}), {401, 403})

# ---- request smuggling ----
SMUGGLED = b"GET /v2/models/binary/ready HTTP/1.1\r\nHost: x\r\n\r\n"


def smuggle(what, data, allow_unfold=False, wait=3):
    """The smuggled GET must never be answered: either 400 (connection closed
    or not), or exactly one answer and then the connection closed."""
    st, buf, closed = raw(data, wait=wait)
    ok = (st[:1] == [400] and len(st) == 1) or (len(st) == 1 and closed) or (not st and closed)
    if allow_unfold:
        ok = ok or st == [200]
    chk.ok(ok, "%s -> 400 or one answer and close, never an answer to the smuggled request (got %s, closed %s: %r)"
           % (what, st, closed, buf[:160]))
    healthy(what)


smuggle("Content-Length and Transfer-Encoding",
        b"POST /v2/models/binary/infer HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"0\r\n\r\n" % (5 + len(SMUGGLED)) + SMUGGLED)
smuggle("Transfer-Encoding and Content-Length",
        b"POST /v2/models/binary/infer HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: %d\r\n\r\n"
        b"0\r\n\r\n" % (5 + len(SMUGGLED)) + SMUGGLED)
smuggle("two different Content-Lengths",
        b"POST /v2/models/binary/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: %d\r\n\r\n{}"
        % (2 + len(SMUGGLED)) + SMUGGLED)
smuggle("two different Content-Lengths (long first)",
        b"POST /v2/models/binary/infer HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\nContent-Length: 2\r\n\r\n{}"
        % (2 + len(SMUGGLED)) + SMUGGLED)
smuggle("Content-Length list", b"POST /v2/models/binary/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 2, 40\r\n\r\n{}"
        + SMUGGLED)
smuggle("whitespace before the colon",
        b"POST /v2/models/binary/infer HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\nContent-Length: %d\r\n\r\n"
        b"0\r\n\r\n" % (5 + len(SMUGGLED)) + SMUGGLED)
smuggle("unknown transfer coding",
        b"POST /v2/models/binary/infer HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n" + SMUGGLED,
        wait=READ_TIMEOUT + 3)
# obs-fold: RFC 9112 5.2 allows a 400 or replacing the fold with spaces; a
# folded Content-Length must not desync the connection.
smuggle("obs-fold header", b"GET /v2/health/ready HTTP/1.1\r\nHost: x\r\nX-Folded: a\r\n b\r\nConnection: close\r\n\r\n",
        allow_unfold=True)
smuggle("obs-fold Content-Length",
        b"POST /v2/models/binary/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n %d\r\n\r\n{}"
        % len(SMUGGLED) + SMUGGLED)

# ---- the end: nothing leaked, still serving ----
time.sleep(IDLE_TIMEOUT + 1)  # let the server close what the cases left idle
fd1 = nfds()
chk.ok(srv.proc.poll() is None, "server process still running")
chk.ok(0 < fd1 <= fd0 + 4, "open fds back to the start: %d at start, %d at the end" % (fd0, fd1))
healthy("everything")
worst = max(latencies, key=lambda x: x[1])
print("health+inference latency after each case: median %.4fs, worst %.4fs (after %s)"
      % (sorted(x[1] for x in latencies)[len(latencies) // 2], worst[1], worst[0]))
log = "".join(srv.log)
chk.ok("abuse-test-token" not in log, "the admin token never appears in the server log")
chk.ok("no_such_parameter" not in log and "a\\u0001" not in log, "request bodies never appear in the server log")
srv.stop()
chk.done()
