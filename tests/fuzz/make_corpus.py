#!/usr/bin/env python3
"""Regenerates the seed corpora of the fuzzers (tests/fuzz/corpus/<target>/)
and the small model the API fuzzers serve (tests/fuzz/models/fuzz_model.txt)
from the golden cases in tests/golden. Seeds are kept small (a few trees, a
few rows) so that libFuzzer's mutations stay fast; crash reproducers that
fuzzing found live next to them as crash-*/regress-* files and are never
touched by this script.

Usage: python3 tests/fuzz/make_corpus.py   (from the repository root)
"""
import json
import os
import struct

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
GOLDEN = os.path.join(ROOT, "tests", "golden")
FUZZ = os.path.join(ROOT, "tests", "fuzz")


def trim_model(text, ntrees):
    """Keeps the header, the first `ntrees` trees and the pandas_categorical
    line; drops the feature importances and the parameters block."""
    lines = text.split("\n")
    # multiclass models must keep whole iterations
    tpi = 1
    for ln in lines:
        if ln.startswith("num_tree_per_iteration="):
            tpi = int(ln.split("=")[1])
            break
    ntrees = -(-ntrees // tpi) * tpi
    out, trees, i = [], 0, 0
    while i < len(lines) and not lines[i].startswith("Tree="):
        out.append(lines[i])
        i += 1
    while i < len(lines) and lines[i].startswith("Tree="):
        if trees == ntrees:
            break
        block = [lines[i]]
        i += 1
        while i < len(lines) and not lines[i].startswith("Tree=") and lines[i] != "end of trees":
            block.append(lines[i])
            i += 1
        out.extend(block)
        trees += 1
    keep = trees
    res = out
    res = [("tree_sizes=" + " ".join(["1"] * keep)) if ln.startswith("tree_sizes=") else ln for ln in res]
    while res and res[-1] == "":
        res.pop()
    res += ["", "end of trees", ""]
    pc = [ln for ln in lines if ln.startswith("pandas_categorical:")]
    res += pc if pc else ["pandas_categorical:null"]
    return "\n".join(res) + "\n"


def write(target, name, data):
    d = os.path.join(FUZZ, "corpus", target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def golden(case, fname):
    with open(os.path.join(GOLDEN, case, fname), encoding="utf-8") as f:
        return f.read()


MODEL_CASES = ["binary", "multiclass_softmax", "multiclassova_wine", "pandas_categorical", "categorical_int",
               "linear_tree", "linear_tree_nan", "rf_binary", "constant_model", "lambdarank", "single_leaf_trees",
               "regression_sqrt", "xentlambda", "xentropy", "regression_poisson", "dart_binary", "nan_missing_binary",
               "zero_as_missing", "feature_names_unicode", "use_missing_false", "custom_objective",
               "boost_from_average_true_binary_init", "saved_num_iteration", "deep_255_leaves"]


def main():
    # the model the API / rows fuzzers serve: pandas categorical columns, 3 trees
    pandas = trim_model(golden("pandas_categorical", "model.txt"), 3)
    with open(os.path.join(FUZZ, "models", "fuzz_model.txt"), "w", encoding="utf-8") as f:
        f.write(pandas)

    for case in MODEL_CASES:
        write("model_load", case + ".txt", trim_model(golden(case, "model.txt"), 2 if case != "deep_255_leaves" else 1))

    # CSV reader
    for case in ["binary", "pandas_categorical", "feature_names_unicode", "nan_missing_binary"]:
        write("csv", case + ".csv", "\n".join(golden(case, "X.csv").split("\n")[:4]) + "\n")
    write("csv", "quotes.csv", 'a,"b ""q"" c",d\r\n"multi\nline",,"x"\r\n')
    write("csv", "bom_cr.csv", "\ufeffa,b\rc,d")
    write("csv", "empty_fields.csv", ",,\n\n\"\",\n")

    # rows reader: first byte picks the format (0 CSV, 1 JSON, 2 JSONL)
    xs = golden("pandas_categorical", "X.csv").split("\n")
    write("rows", "csv_pandas", b"\x00" + ("\n".join(xs[:6]) + "\n").encode())
    recs = json.loads(golden("pandas_categorical", "records.json"))[:4]
    write("rows", "json_records", b"\x01" + json.dumps(recs).encode())
    write("rows", "jsonl_records", b"\x02" + "\n".join(json.dumps(r) for r in recs).encode() + b"\n")
    write("rows", "csv_missing", b"\x00" + (xs[0] + "\nnan,NA,,null,None,N/A,<NA>,1e400,-0,0x1\n").encode())

    # JSON reader
    infer_a = {"id": "r1", "inputs": [{"name": "x", "shape": [2, 10], "datatype": "FP64",
                                      "data": [[0.644, 0.247, None, 0.862, "tight", "none", 0.958, 1.061, None, 0.796],
                                               [0.385, 1.8, "barrel", 1.044, "none", "none", 0.695, 0.909, 1.149, 1.116]]}],
               "outputs": [{"name": "predict"}, {"name": "raw"}]}
    write("json", "infer.json", json.dumps(infer_a))
    write("json", "escapes.json", r'{"a\u00e9\ud83d\ude00":"\"\\\/\b\f\n\r\t","n":[-0,1e-400,1.5E+3,true,false,null,{}]}')
    write("json", "records.json", json.dumps({"instances": recs[:2]}))

    # OIP infer JSON (POST /v2/models/m/infer on fuzz_model.txt)
    feats = ["lepton_pT", "lepton_eta", "region", "missing_energy", "jet1_btag", "jet2_btag", "m_jj", "m_jjj", "m_bb", "m_wwbb"]
    rows = [[r[k] for k in recs[0].keys()] for r in recs[:3]]
    write("infer", "layout_a_fp64.json", json.dumps(infer_a))
    write("infer", "layout_a_fp32_flat.json", json.dumps(
        {"inputs": [{"name": "input-0", "shape": [1, 10], "datatype": "FP32", "data": [0.5] * 10}],
         "parameters": {"start_iteration": 1, "num_iteration": 1}, "outputs": [{"name": "leaf"}]}))
    layout_b = {"inputs": [], "outputs": [{"name": "value", "parameters": {"binary_data": False}}]}
    for j, f in enumerate(feats):
        col = [row[j] for row in rows]
        cat = j in (2, 4, 5)
        layout_b["inputs"].append({"name": f, "shape": [3], "datatype": "BYTES" if cat else "FP64", "data": col})
    write("infer", "layout_b_bytes.json", json.dumps(layout_b))
    write("infer", "ints_bool.json", json.dumps(
        {"inputs": [{"name": "x", "shape": [1, 10], "datatype": "INT16", "data": [1, -2, 3, 4, 5, 6, 7, 8, 9, 10]}],
         "parameters": {"binary_data_output": False}}))

    # records API (POST /v1/models/m:predict)
    write("records", "objects.json", json.dumps({"instances": recs[:3], "output": "raw"}))
    write("records", "arrays.json", json.dumps({"instances": rows, "parameters": {"num_iteration": 2}}))
    write("records", "leaf.json", json.dumps({"instances": [[None] * 10], "output": "leaf"}))

    # binary tensor extension: 2-byte little-endian JSON header length, then the body
    def binreq(hdr, payload):
        h = json.dumps(hdr).encode()
        return struct.pack("<H", len(h)) + h + payload
    x = [0.644, 0.247, 0.0, 0.862, 2.0, 1.0, 0.958, 1.061, float("nan"), 0.796]
    write("binary", "fp64_matrix", binreq(
        {"inputs": [{"name": "x", "shape": [1, 10], "datatype": "FP64", "parameters": {"binary_data_size": 80}}],
         "outputs": [{"name": "predict", "parameters": {"binary_data": True}}]}, struct.pack("<10d", *x)))
    write("binary", "fp32_matrix", binreq(
        {"inputs": [{"name": "x", "shape": [2, 10], "datatype": "FP32", "parameters": {"binary_data_size": 80}}],
         "parameters": {"binary_data_output": True}}, struct.pack("<20f", *(x + x))))
    cols = b""
    hdr = {"inputs": [], "outputs": [{"name": "leaf", "parameters": {"binary_data": True}}, {"name": "raw"}]}
    for j, f in enumerate(feats):
        if j in (2, 4, 5):
            payload = b"".join(struct.pack("<I", len(s)) + s for s in [b"barrel", b"none"])
            dt = "BYTES"
        elif j % 3 == 0:
            payload = struct.pack("<2i", 1, -1)
            dt = "INT32"
        else:
            payload = struct.pack("<2d", 0.5, 1.5)
            dt = "FP64"
        hdr["inputs"].append({"name": f, "shape": [2], "datatype": dt, "parameters": {"binary_data_size": len(payload)}})
        cols += payload
    write("binary", "columns_mixed", binreq(hdr, cols))

    # whole HTTP request path: "METHOD PATH\n" + "Name: value\n"* + "\n" + body
    def req(method, path, body=b"", headers=()):
        head = "%s %s\n" % (method, path) + "".join("%s: %s\n" % h for h in headers) + "\n"
        return head.encode() + (body if isinstance(body, bytes) else body.encode())
    write("http", "infer", req("POST", "/v2/models/m/infer", json.dumps(infer_a)))
    write("http", "infer_version", req("POST", "/v2/models/m/versions/1/infer", json.dumps(layout_b)))
    write("http", "records", req("POST", "/v1/models/m:predict", json.dumps({"instances": rows})))
    write("http", "binary", req("POST", "/v2/models/m/infer", binreq(
        {"inputs": [{"name": "x", "shape": [1, 10], "datatype": "FP64", "parameters": {"binary_data_size": 80}}]},
        struct.pack("<10d", *x))[2:], [("Inference-Header-Content-Length", str(len(json.dumps(
            {"inputs": [{"name": "x", "shape": [1, 10], "datatype": "FP64", "parameters": {"binary_data_size": 80}}]}))))]))
    for p in ["/v2", "/v2/health/live", "/v2/health/ready", "/healthz", "/readyz", "/v2/models/m", "/v2/models/m/ready",
              "/v2/models/m/versions/1", "/v2/models/m/versions/1/ready", "/metrics", "/openapi.json", "/nope"]:
        write("http", "get_" + p.strip("/").replace("/", "_").replace(".", "_") or "root", req("GET", p))
    write("http", "repo_index", req("POST", "/v2/repository/index", "{}", [("Authorization", "Bearer fuzz-token")]))
    write("http", "repo_load", req("POST", "/v2/repository/models/m/load", "", [("Authorization", "Bearer wrong")]))
    write("http", "repo_unload", req("POST", "/v2/repository/models/m/unload", "", [("Authorization", "Bearer fuzz-token")]))
    write("http", "head_meta", req("HEAD", "/v2/models/m"))
    write("http", "bad_method", req("DELETE", "/v2/models/m/infer"))


if __name__ == "__main__":
    main()
