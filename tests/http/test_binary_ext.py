#!/usr/bin/env python3
"""Triton binary tensor data extension, both ways, on the golden `binary`
case: FP64 and FP32 binary inputs, binary outputs (FP64 predict/raw, INT32
leaf) mixed with a JSON output; results must equal the JSON path and
LightGBM's golden values bit for bit (raw, leaf). Also: binary per-feature
BYTES tensor (pandas_categorical), and malformed binary requests -> 400."""
import json
import math
import os
import struct

from serverlib import GOLDEN, Checks, Server, read_csv_rows

chk = Checks()
case = os.path.join(GOLDEN, "binary")
pc = os.path.join(GOLDEN, "pandas_categorical")
srv = Server(["--model", "binary=" + os.path.join(case, "model.txt"), "--model", "pc=" + os.path.join(pc, "model.txt"),
              "--drain-seconds", "0"])
rows = [r for r in read_csv_rows(os.path.join(case, "X.csv"))[1:] if r][:50]
N, F = len(rows), 28
X = [float(v) if v != "" else math.nan for r in rows for v in r]
raw_want = [float(r[0]) for r in read_csv_rows(os.path.join(case, "raw.csv"))[:N]]
leaf_want = [[int(float(v)) for v in r] for r in read_csv_rows(os.path.join(case, "leaf.csv"))[:N]]


def binary_request(header, blobs, path="/v2/models/binary/infer"):
    h = json.dumps(header).encode()
    body = h + b"".join(blobs)
    return srv.request("POST", path, body, {"Inference-Header-Content-Length": str(len(h)),
                                             "Content-Type": "application/octet-stream"})


def split_response(hdrs, body):
    n = int(hdrs["inference-header-content-length"])
    return json.loads(body[:n]), body[n:]


blob = struct.pack("<%dd" % len(X), *X)
hdr = {"id": "bin1", "inputs": [{"name": "X", "shape": [N, F], "datatype": "FP64", "parameters": {"binary_data_size": len(blob)}}],
       "outputs": [{"name": "raw", "parameters": {"binary_data": True}}, {"name": "leaf", "parameters": {"binary_data": True}},
                   {"name": "predict"}]}
st, h, body = binary_request(hdr, [blob])
chk.ok(st == 200, "binary FP64 request: status %d %r" % (st, body[:200]))
if st == 200:
    chk.ok(h.get("content-type") == "application/octet-stream", "binary response content type %s" % h.get("content-type"))
    meta, rest = split_response(h, body)
    outs = meta["outputs"]
    chk.ok(meta["id"] == "bin1", "id echoed")
    chk.ok([o["name"] for o in outs] == ["raw", "leaf", "predict"], "outputs in request order")
    rs, ls = outs[0]["parameters"]["binary_data_size"], outs[1]["parameters"]["binary_data_size"]
    chk.ok(rs == 8 * N and ls == 4 * N * 60 and len(rest) == rs + ls, "binary sizes %d %d rest %d" % (rs, ls, len(rest)))
    chk.ok("data" not in outs[0] and "data" in outs[2], "binary outputs carry no JSON data")
    raw = struct.unpack("<%dd" % N, rest[:rs])
    chk.ok(all(struct.pack("<d", a) == struct.pack("<d", b) for a, b in zip(raw, raw_want)), "binary raw == LightGBM bit for bit")
    leaf = struct.unpack("<%di" % (N * 60), rest[rs:rs + ls])
    chk.ok([list(leaf[i * 60:(i + 1) * 60]) for i in range(N)] == leaf_want, "binary INT32 leaf == LightGBM")
    # same request in JSON
    st2, js = srv.json("POST", "/v2/models/binary/infer", {"inputs": [{"name": "X", "shape": [N, F], "datatype": "FP64",
                       "data": [None if math.isnan(v) else v for v in X]}], "outputs": [{"name": "predict"}]})
    chk.ok(st2 == 200 and js["outputs"][0]["data"] == outs[2]["data"], "binary input predict == JSON input predict")

# FP32 binary input == FP32 JSON input (both rounded through float), all outputs binary via binary_data_output
blob32 = struct.pack("<%df" % len(X), *X)
hdr = {"parameters": {"binary_data_output": True},
       "inputs": [{"name": "X", "shape": [N, F], "datatype": "FP32", "parameters": {"binary_data_size": len(blob32)}}]}
st, h, body = binary_request(hdr, [blob32])
chk.ok(st == 200, "binary FP32 request: status %d %r" % (st, body[:200]))
if st == 200:
    meta, rest = split_response(h, body)
    p32 = struct.unpack("<%dd" % N, rest)
    st2, js = srv.json("POST", "/v2/models/binary/infer", {"inputs": [{"name": "X", "shape": [N, F], "datatype": "FP32",
                       "data": [None if math.isnan(v) else v for v in X]}]})
    chk.ok(st2 == 200 and [float(v) for v in js["outputs"][0]["data"]] == list(p32), "FP32 binary == FP32 JSON")

# BYTES binary tensors per feature (pandas categorical)
prow = [r for r in read_csv_rows(os.path.join(pc, "X.csv"))]
pheader, prow = prow[0], [r for r in prow[1:] if r][:20]
pmeta = json.load(open(os.path.join(pc, "meta.json")))
cat = set(pmeta["categorical_feature_indices"])
inputs, blobs = [], []
for j, name in enumerate(pmeta["feature_names_in_model"]):
    col = [r[j] for r in prow]
    if j in cat:
        b = b"".join(struct.pack("<I", len(v.encode())) + v.encode() for v in col)  # "" = unseen category
        inputs.append({"name": name, "shape": [len(col)], "datatype": "BYTES", "parameters": {"binary_data_size": len(b)}})
    else:
        b = struct.pack("<%dd" % len(col), *[float(v) if v else math.nan for v in col])
        inputs.append({"name": name, "shape": [len(col)], "datatype": "FP64", "parameters": {"binary_data_size": len(b)}})
    blobs.append(b)
st, h, body = binary_request({"inputs": inputs, "outputs": [{"name": "raw"}]}, blobs, "/v2/models/pc/infer")
chk.ok(st == 200, "pandas BYTES binary: status %d %r" % (st, body[:300]))
if st == 200:
    got = json.loads(body)["outputs"][0]["data"]
    want = [float(r[0]) for r in read_csv_rows(os.path.join(pc, "raw.csv"))[:len(prow)]]
    # empty strings stand for missing in X.csv; LightGBM maps them to NaN like an unseen category
    chk.ok(got == want, "pandas BYTES binary raw == LightGBM")

# malformed binary requests
bad = [
    ({"Inference-Header-Content-Length": "99999"}, b"{}", "header length beyond body"),
    ({"Inference-Header-Content-Length": "x"}, b"{}", "non-numeric header length"),
]
for hh, b, what in bad:
    st, _, body = srv.request("POST", "/v2/models/binary/infer", b, hh)
    chk.ok(st == 400 and b"error" in body, "%s -> 400 (got %d)" % (what, st))
hdr = {"inputs": [{"name": "X", "shape": [N, F], "datatype": "FP64", "parameters": {"binary_data_size": len(blob) - 8}}]}
st, _, body = binary_request(hdr, [blob[:-8]])
chk.ok(st == 400, "binary_data_size not matching the shape -> 400 (got %d %r)" % (st, body[:100]))
# far fewer bytes than the shape needs: refused before any element is read
hdr = {"inputs": [{"name": "X", "shape": [2, F], "datatype": "FP64", "parameters": {"binary_data_size": 8}}]}
st, _, body = binary_request(hdr, [b"\0" * 8])
chk.ok(st == 400, "binary_data_size 8 for a [2, 28] FP64 tensor -> 400 (got %d %r)" % (st, body[:100]))
hdr = {"inputs": [{"name": "X", "shape": [N, F], "datatype": "FP64", "parameters": {"binary_data_size": len(blob)}}]}
st, _, body = binary_request(hdr, [blob + b"junk"])
chk.ok(st == 400, "bytes after the last binary input -> 400 (got %d)" % st)
hdr = {"inputs": [{"name": "X", "shape": [N, F], "datatype": "FP64", "parameters": {"binary_data_size": len(blob) + 8}}]}
st, _, body = binary_request(hdr, [blob])
chk.ok(st == 400, "binary_data_size beyond the body -> 400 (got %d)" % st)

st, v2 = srv.json("GET", "/v2")
chk.ok(st == 200 and "binary_tensor_data" in v2["extensions"], "GET /v2 advertises binary_tensor_data")
chk.ok(srv.stop() == 0, "exit 0")
chk.done()
