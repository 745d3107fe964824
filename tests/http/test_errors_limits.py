#!/usr/bin/env python3
"""Every error status of the API with a JSON {"error": ...} body, and every
limit crossed: body bytes (413, connection kept), header bytes (431), rows
per request (413), JSON depth (400), JSON tokens (413), open connections
(503), idle keep-alive timeout (connection closed), request read timeout
(a slow client's connection closed). Plus the repository API's token check."""
import json
import os
import socket
import time

from serverlib import GOLDEN, Checks, Server, raw_request

chk = Checks()
model = os.path.join(GOLDEN, "binary", "model.txt")
pc = os.path.join(GOLDEN, "pandas_categorical", "model.txt")
srv = Server(["--model", "binary=" + model, "--model", "pc=" + pc, "--max-body-bytes", "8192", "--max-rows", "10",
              "--max-json-depth", "8", "--max-json-tokens", "500", "--max-header-bytes", "2048",
              "--max-connections", "6", "--read-timeout", "2", "--idle-timeout", "3", "--admin-token", "s3cret",
              "--drain-seconds", "0", "--threads", "2"])
row = [0.5] * 28


def infer(inputs, **extra):
    body = {"inputs": inputs}
    body.update(extra)
    return srv.request("POST", "/v2/models/binary/infer", body)


def expect(got, status, what):
    st, hdrs, body = got
    ok = st == status
    try:
        err = json.loads(body)
        ok = ok and isinstance(err.get("error"), str) and len(err["error"]) > 0
    except ValueError:
        ok = False
    chk.ok(ok, "%s -> %d with a JSON error (got %d %r)" % (what, status, st, body[:160]))
    return body


t = lambda shape, data, dt="FP64", name="x": {"name": name, "shape": shape, "datatype": dt, "data": data}

# 400 malformed
expect(srv.request("POST", "/v2/models/binary/infer", '{"inputs": [}'), 400, "invalid JSON")
expect(srv.request("POST", "/v2/models/binary/infer", ''), 400, "empty body")
expect(srv.request("POST", "/v2/models/binary/infer", '[1,2]'), 400, "JSON not an object")
expect(srv.request("POST", "/v2/models/binary/infer", '{"id": "a"}'), 400, "no inputs")
expect(srv.request("POST", "/v2/models/binary/infer", '{"inputs": [{"name": "x"}]}'), 400, "input without shape")
expect(srv.request("POST", "/v2/models/binary/infer", '{"inputs": [1] ,}'), 400, "trailing comma")
expect(srv.request("POST", "/v1/models/binary:predict", '{"rows": []}'), 400, "records without instances")
expect(infer([t([1, 28], row)], outputs=[{"name": "raw"}, {"name": "raw"}]), 400, "output requested twice")
# 404
expect(srv.request("POST", "/v2/models/nope/infer", {"inputs": [t([1, 28], row)]}), 404, "unknown model")
expect(srv.request("POST", "/v2/models/binary/versions/7/infer", {"inputs": [t([1, 28], row)]}), 404, "unknown version")
expect(srv.request("GET", "/v2/models/nope"), 404, "unknown model metadata")
expect(srv.request("GET", "/v3/whatever"), 404, "unknown route")
expect(srv.request("POST", "/v1/models/nope:predict", {"instances": [row]}), 404, "records unknown model")
# 405
b = expect(srv.request("GET", "/v2/models/binary/infer"), 405, "GET on infer")
expect(srv.request("POST", "/v2/health/live", "{}"), 405, "POST on health")
expect(srv.request("DELETE", "/v2/models/binary"), 405, "DELETE on metadata")
# 422
expect(infer([t([1, 27], row[:27])]), 422, "27 features for a 28-feature model")
expect(infer([t([1, 28], row[:27])]), 422, "fewer data than the shape")
expect(infer([t([1, 28], row + [1.0])]), 422, "more data than the shape")
expect(infer([t([1, 28], row, "FP16")]), 422, "unsupported datatype")
expect(infer([t([1, 28], ["a"] + row[1:])]), 422, "string in an FP64 tensor")
expect(infer([t([1, 28], [1.5] + row[1:], "INT32")]), 422, "fraction in an INT32 tensor")
expect(infer([t([1, 28], [300] + row[1:], "UINT8")]), 422, "300 in a UINT8 tensor")
expect(infer([t([1, 28], [1e39] + row[1:], "FP32")]), 422, "1e39 in an FP32 tensor (would become inf)")
expect(infer([t([1, 28], [-3.5e38] + row[1:], "FP32")]), 422, "-3.5e38 in an FP32 tensor (would become -inf)")
st, _, body = infer([t([1, 28], [3.4028235e38] + row[1:], "FP32")])
chk.ok(st == 200, "3.4028235e38 (rounds to FLT_MAX) in an FP32 tensor is accepted (%d %r)" % (st, body[:100]))
expect(infer([t([1], [1.0], name="not_a_feature")]), 422, "unknown feature name")
expect(infer([t([1], [1.0], name="Column_%d" % i) for i in range(27)]), 422, "missing feature tensor")
expect(infer([t([1, 28], row)], outputs=[{"name": "probabilities"}]), 422, "unknown output")
expect(infer([t([1, 28], row)], parameters={"start_iteration": -1}), 422, "negative start_iteration")
expect(infer([t([1, 28], row)], parameters={"num_iteration": "all"}), 422, "num_iteration not an integer")
expect(srv.request("POST", "/v1/models/binary:predict", {"instances": [row[:5]]}), 422, "records row too short")
expect(srv.request("POST", "/v1/models/binary:predict", {"instances": [{"nope": 1}]}), 422, "records unknown feature")
# one feature under two keys (repeated, or two spellings of one name): which value is meant is unknowable
expect(srv.request("POST", "/v1/models/binary:predict", '{"instances": [{"Column_0": 1, "Column_0": 2}]}'), 422,
       "records: the same feature key twice in a row")
expect(srv.request("POST", "/v1/models/pc:predict", {"instances": [{"lepton pT": 1, "lepton_pT": 2}]}), 422,
       "records: two spellings of one feature in a row")
expect(srv.request("POST", "/v1/models/binary:explain", '{"instances": [{"Column_3": 1, "Column_3": 2}]}'), 422,
       "explain: the same feature key twice in a row")
b = expect(srv.request("POST", "/v1/models/binary:predict", {"instances": [row], "output": "proba"}), 422,
           "records unknown output")
chk.ok(all(n in json.loads(b)["error"] for n in ('"predict"', '"value"', '"raw"', '"leaf"', '"contrib"')) and
       "proba" in json.loads(b)["error"], "records unknown output: the error names it and every accepted output (%r)" % b)
expect(srv.request("POST", "/v1/models/pc:predict", {"instances": [{"lepton pT": "high"}]}), 422,
       "string for a numeric column")
expect(srv.request("POST", "/v2/models/binary/infer", '{"inputs":[{"name":"x","shape":[1,28],"datatype":"FP64","data":[1e400%s]}]}'
                   % (",0" * 27)), 422, "1e400 (overflows a double)")
expect(srv.request("POST", "/v2/models/binary/infer", '{"inputs":[{"name":"x","shape":[1,28],"datatype":"FP64","data":[-1e400%s]}]}'
                   % (",0" * 27)), 422, "-1e400 (overflows a double)")
expect(infer([t([1, 28], row)], parameters={"foo": 1}), 422, "unknown request parameter")
expect(infer([dict(t([1, 28], row), parameters={"foo": 1})]), 422, "unknown input parameter")
expect(infer([t([1, 28], row)], outputs=[{"name": "raw", "parameters": {"foo": 1}}]), 422, "unknown output parameter")
expect(infer([t([1, 28], row)], extra_field=1), 422, "unknown top-level key")
expect(srv.request("POST", "/v1/models/binary:predict", {"instances": [row], "parameters": {"foo": 1}}), 422,
       "records unknown parameter")
expect(srv.request("POST", "/v2/models/binary/infer", b'{"id":"\xff","inputs":[]}'), 400, "invalid UTF-8 in a string")
expect(srv.request("POST", "/v2/models/binary/infer", "null "), 400, "bare literal as the document")
st, _, body = infer([t([1, 28], row)], parameters={"content_type": "np"})
chk.ok(st == 200, "MLServer's content_type parameter is accepted (%d %r)" % (st, body[:100]))
# request smuggling: ambiguous framing is refused and the connection closed (RFC 9112 6.1, 6.3, 5.1)
smuggled = b"GET /v2/models/binary/ready HTTP/1.1\r\nHost: x\r\n\r\n"
for what, req in (("Content-Length with Transfer-Encoding", b"POST /v2/models/binary/infer HTTP/1.1\r\nHost: x\r\n"
                   b"Content-Length: 54\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled),
                  ("two different Content-Length", b"POST /v2/models/binary/infer HTTP/1.1\r\nHost: x\r\n"
                   b"Content-Length: 2\r\nContent-Length: 51\r\n\r\n{}" + smuggled),
                  ("space before the colon", b"POST /v2/models/binary/infer HTTP/1.1\r\nHost: x\r\n"
                   b"Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n" + smuggled),
                  ("folded Content-Length", b"POST /v2/models/binary/infer HTTP/1.1\r\nHost: x\r\n"
                   b"Content-Length: 2\r\n 5\r\n\r\n{}" + smuggled)):
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
    s.sendall(req)
    out = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
    except (socket.timeout, ConnectionResetError):
        pass
    s.close()
    chk.ok(out.startswith(b"HTTP/1.1 400") and out.count(b"HTTP/1.1 ") == 1,
           "%s -> one 400 and the connection closed (got %r)" % (what, out[:80]))
# the same row works as the positive control
st, _, body = infer([t([1, 28], row)])
chk.ok(st == 200, "valid request -> 200 (%d %r)" % (st, body[:100]))
st, _, body = srv.request("POST", "/v1/models/pc:predict", {"instances": [{"region": "never-seen", "lepton pT": 0.1}]})
chk.ok(st == 200, "unseen category and absent features are missing values -> 200 (%d %r)" % (st, body[:100]))

# limits
expect(srv.request("POST", "/v2/models/binary/infer", " " * 9000), 413, "body over --max-body-bytes")
# the connection survives a 413 (body read and discarded, not reset)
c = srv.conn()
st, _, _ = srv.request("POST", "/v2/models/binary/infer", b"x" * 9000, conn=c)
st2, _, _ = srv.request("GET", "/v2/health/live", conn=c)
chk.ok(st == 413 and st2 == 200, "413 then keep-alive on the same connection (%d, %d)" % (st, st2))
c.close()
st, raw = raw_request(srv.port, b"GET /v2 HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"p" * 3000 + b"\r\n\r\n")
chk.ok(st == 431, "header over --max-header-bytes -> 431 (got %s)" % st)
expect(infer([t([11, 28], [0.5] * (11 * 28))]), 413, "11 rows over --max-rows 10")
# a shape too large to even hold is the same class of error (413), not "not an integer"
b = expect(infer([t([2 ** 41, 28], row)]), 413, "shape [2^41, 28]: rows beyond any limit")
chk.ok("2199023255552" in b.decode(), "the 413 names the row count asked for (%r)" % b[:200])
expect(infer([t([2 ** 41], [1.0], name="Column_0")] + [t([1], [1.0], name="Column_%d" % i) for i in range(1, 28)]), 413,
       "feature tensor of shape [2^41]")
expect(srv.request("POST", "/v1/models/binary:predict", {"instances": [row] * 11}), 413, "records 11 rows over --max-rows")
body = expect(infer([t([30, 28], [0] * (30 * 28))]), 413, "JSON tokens over --max-json-tokens")
chk.ok(b"tokens" in body, "token limit named in the error")
deep = '{"inputs": [{"name": "x", "shape": [1, 28], "datatype": "FP64", "data": [[[[[[[[%s]]]]]]]]}]}' % ",".join(["1"] * 28)
expect(srv.request("POST", "/v2/models/binary/infer", deep), 400, "JSON nesting over --max-json-depth")
ok_depth = '{"inputs": [{"name": "x", "shape": [1, 28], "datatype": "FP64", "data": [[[[%s]]]]}]}' % ",".join(["1"] * 28)
st, _, _ = srv.request("POST", "/v2/models/binary/infer", ok_depth)
chk.ok(st == 200, "nested data within the depth limit -> 200 (%d)" % st)

# open connections: 6 held open, the next one is told 503 quickly
held = []
for i in range(6):
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    s.recv(4096)
    held.append(s)
t0 = time.time()
st, raw = raw_request(srv.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
chk.ok(st == 503 and b"error" in raw, "connection over --max-connections -> 503 (got %s)" % st)
chk.ok(time.time() - t0 < 2, "the 503 comes quickly")
for s in held:
    s.close()
time.sleep(0.3)
st, _, _ = srv.request("GET", "/healthz")
chk.ok(st == 200, "after the connections closed, requests are served again (%d)" % st)

# idle keep-alive timeout: the server closes an idle connection
s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
s.recv(4096)
t0 = time.time()
try:
    closed = s.recv(10) == b""
except ConnectionResetError:
    closed = True
chk.ok(closed and 2 <= time.time() - t0 < 8, "idle connection closed after --idle-timeout 3 (%.1fs)" % (time.time() - t0))
s.close()

# request read timeout: a body trickled byte by byte is cut after --read-timeout 2
# (the connection is closed: libmicrohttpd cannot queue an answer mid-body)
s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
s.sendall(b"POST /v2/models/binary/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n")
t0 = time.time()
resp = b""
try:
    while time.time() - t0 < 8:
        s.sendall(b" ")
        time.sleep(0.4)
except (BrokenPipeError, ConnectionResetError):
    pass
try:
    s.settimeout(3)
    while True:
        chunk = s.recv(4096)
        if not chunk:
            break
        resp += chunk
except (socket.timeout, ConnectionResetError):
    pass
chk.ok(resp == b"", "slow client gets no answer (got %r)" % resp[:40])
chk.ok(time.time() - t0 < 7, "slow client cut within the read timeout (%.1fs)" % (time.time() - t0))
s.close()
# a client that sends half the headers and stops is dropped too
s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
s.sendall(b"GET /healthz HTTP/1.1\r\nHo")
t0 = time.time()
try:
    s.recv(100)
except (ConnectionResetError, socket.timeout):
    pass
chk.ok(time.time() - t0 < 8, "stalled headers dropped within the timeouts (%.1fs)" % (time.time() - t0))
s.close()

# slowloris: headers trickled one byte at a time are cut --read-timeout (2 s)
# after the request line, and a request line trickled the same way is cut
# --idle-timeout (3 s) after the connection opened
for what, first, limit in (("headers", b"GET /healthz HTTP/1.1\r\n", 2), ("request line", b"G", 3)):
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    s.sendall(first)
    t0 = time.time()
    cut = False
    try:
        while time.time() - t0 < 10:
            s.sendall(b"X-a: b\r\n"[:1] if what == "headers" else b"E")
            time.sleep(0.3)
            s.setblocking(False)
            try:
                if s.recv(100) == b"":
                    cut = True
                    break
            except BlockingIOError:
                pass
            finally:
                s.setblocking(True)
    except (BrokenPipeError, ConnectionResetError):
        cut = True
    elapsed = time.time() - t0
    s.close()
    chk.ok(cut and elapsed < limit + 3, "slowloris (%s trickled) cut after %.1fs (limit %ds)" % (what, elapsed, limit))

# repository API: token required
expect(srv.request("POST", "/v2/repository/index"), 401, "repository index without a token")
expect(srv.request("POST", "/v2/repository/index", headers={"Authorization": "Bearer wrong"}), 401, "wrong token")
# Prefixes, extensions and empty tokens are all wrong (the comparison covers the length too).
for bad in ("Bearer s3cre", "Bearer s3cretX", "Bearer ", "Bearer", "bearer s3cret", "s3cret"):
    expect(srv.request("POST", "/v2/repository/index", headers={"Authorization": bad}), 401, "token %r" % bad)
st, _, body = srv.request("POST", "/v2/repository/index", headers={"Authorization": "Bearer s3cret"})
chk.ok(st == 200 and any(i["name"] == "binary" for i in json.loads(body)), "repository index with the token (%d)" % st)

chk.ok(srv.stop() == 0, "exit 0")

# without --admin-token the repository API does not exist
srv2 = Server(["--model", "binary=" + model, "--drain-seconds", "0"])
expect(srv2.request("POST", "/v2/repository/index", headers={"Authorization": "Bearer s3cret"}), 404,
       "repository API off without --admin-token")
st, v2 = srv2.json("GET", "/v2")
chk.ok("model_repository" not in v2["extensions"], "repository extension not advertised when off")
chk.ok(srv2.stop() == 0, "exit 0")
chk.done()
