#!/usr/bin/env python3
"""Every golden case through the real server:
  - POST /v2/models/{case}/infer with one [N, F] FP64 tensor (null = missing),
    outputs predict, raw and leaf, with the case's predict_kwargs as
    parameters;
  - POST /v1/models/{case}:predict (records API, rows as lists) for value,
    raw and leaf;
  - pandas_categorical also with one tensor per feature (BYTES for the
    categorical columns) and through the records API with its records.json;
  - the contrib output (SHAP) against contrib.csv within 1e-12 (422 for the
    linear-tree cases, which have none).
raw and leaf must match LightGBM bit for bit, predict bit for bit or within
1e-15 relative (the same rule as the engine's golden test)."""
import json
import math
import os
import struct

from serverlib import GOLDEN, Checks, Server, golden_cases, read_csv_rows

chk = Checks()


def num(s):
    return None if s == "" else float(s)


def matrix(path):
    return [[float(v) for v in row] for row in read_csv_rows(path) if row]


def same(got, want, rel):
    if got is None:
        return False
    if struct.pack("<d", got) == struct.pack("<d", want):
        return True
    return rel and abs(got - want) <= 1e-15 * abs(want)


def compare(case, what, got_rows, want_rows, rel=False):
    bad = 0
    if len(got_rows) != len(want_rows):
        return chk.ok(False, "%s %s: %d rows, want %d" % (case, what, len(got_rows), len(want_rows)))
    for r, (g, w) in enumerate(zip(got_rows, want_rows)):
        if len(g) != len(w):
            bad += 1
            continue
        for c, (a, b) in enumerate(zip(g, w)):
            if not same(a, b, rel):
                if bad < 3:
                    print("  %s %s row %d col %d: got %r want %r" % (case, what, r, c, a, b))
                bad += 1
    return chk.ok(bad == 0, "%s %s: %d values differ" % (case, what, bad))


def rows_of(data, n, width):
    return [data[i * width:(i + 1) * width] for i in range(n)]


def check_contrib(case, req, N, want, has_contrib):
    """SHAP contributions through the contrib output: within 1e-12 of
    LightGBM (relative, floor 1), as the engine's SHAP tests; refused with 422
    for models without an explainer (linear trees)."""
    req = dict(req, outputs=[{"name": "contrib"}])
    st, resp = srv.json("POST", "/v2/models/%s/infer" % case, req)
    if not has_contrib:
        chk.ok(st == 422 and "contrib" in resp.get("error", ""), "%s contrib refused with 422 (%d %s)" % (case, st, resp))
        return
    if not chk.ok(st == 200, "%s contrib: status %d %s" % (case, st, resp)):
        return
    o = resp["outputs"][0]
    width = len(want["contrib"][0])
    chk.ok(o["name"] == "contrib" and o["shape"] == [N, width], "%s contrib shape %s" % (case, o["shape"]))
    got = [float(v) for v in o["data"]]
    flat = [v for r in want["contrib"] for v in r]
    bad = sum(1 for a, b in zip(got, flat) if abs(a - b) > 1e-12 * max(1.0, abs(b)))
    chk.ok(len(got) == len(flat) and bad == 0, "%s contrib: %d values differ" % (case, bad))


cases = golden_cases()
models = []
for c in cases:
    models += ["--model", "%s=%s" % (c, os.path.join(GOLDEN, c, "model.txt"))]
srv = Server(models + ["--max-body-bytes", str(8 << 20), "--threads", "2", "--drain-seconds", "0"])
print("server on port", srv.port, "with", len(cases), "golden models")

for case in cases:
    d = os.path.join(GOLDEN, case)
    meta = json.load(open(os.path.join(d, "meta.json")))
    kw = meta.get("predict_kwargs") or {}
    rows = read_csv_rows(os.path.join(d, "X.csv"))
    header, rows = rows[0], [r for r in rows[1:] if r]
    F = meta["num_feature"]
    N = len(rows)
    want = {"predict": matrix(os.path.join(d, "pred.csv")), "raw": matrix(os.path.join(d, "raw.csv")),
            "leaf": matrix(os.path.join(d, "leaf.csv"))}
    has_contrib = os.path.exists(os.path.join(d, "contrib.csv"))
    if has_contrib:
        want["contrib"] = matrix(os.path.join(d, "contrib.csv"))
    params = {k: kw[k] for k in ("start_iteration", "num_iteration") if k in kw}
    categorical = bool(meta.get("pandas_categorical_in_model"))
    if not categorical:
        data = [num(v) for r in rows for v in r]
        req = {"id": "golden-" + case, "inputs": [{"name": "X", "shape": [N, F], "datatype": "FP64", "data": data}],
               "outputs": [{"name": "predict"}, {"name": "raw"}, {"name": "leaf"}]}
        if params:
            req["parameters"] = params
        st, resp = srv.json("POST", "/v2/models/%s/infer" % case, req)
        if not chk.ok(st == 200, "%s infer: status %d %s" % (case, st, resp)):
            continue
        chk.ok(resp.get("id") == "golden-" + case and resp.get("model_name") == case and resp.get("model_version") == "1",
               "%s: id/model_name/model_version echoed: %s" % (case, {k: resp.get(k) for k in ("id", "model_name", "model_version")}))
        outs = {o["name"]: o for o in resp["outputs"]}
        for name in ("predict", "raw", "leaf"):
            o = outs[name]
            width = len(want[name][0])
            exp_shape = [N, width] if (name == "leaf" or width > 1) else [N]
            chk.ok(o["shape"] == exp_shape, "%s %s shape %s want %s" % (case, name, o["shape"], exp_shape))
            chk.ok(o["datatype"] == ("INT32" if name == "leaf" else "FP64"), "%s %s datatype" % (case, name))
            compare(case, "infer " + name, rows_of([float(v) for v in o["data"]], N, width), want[name], name == "predict")
        check_contrib(case, {"inputs": req["inputs"], **({"parameters": params} if params else {})}, N, want, has_contrib)
        # records API, rows as lists
        for output, key in (("value", "predict"), ("raw", "raw"), ("leaf", "leaf")):
            body = {"instances": [[num(v) for v in r] for r in rows], "output": output}
            if params:
                body["parameters"] = params
            st, resp = srv.json("POST", "/v1/models/%s:predict" % case, body)
            if not chk.ok(st == 200, "%s records %s: status %d %s" % (case, output, st, resp)):
                continue
            preds = resp["predictions"]
            got = [[float(x) for x in p] if isinstance(p, list) else [float(p)] for p in preds]
            compare(case, "records " + output, got, want[key], key == "predict")
    else:
        cat = set(meta["categorical_feature_indices"])
        names = meta["feature_names_in_model"]
        inputs = []
        for j in range(F):
            col = [r[j] for r in rows]
            if j in cat:
                inputs.append({"name": header[j], "shape": [N], "datatype": "BYTES", "data": [v if v != "" else None for v in col]})
            else:
                inputs.append({"name": names[j], "shape": [N], "datatype": "FP64", "data": [num(v) for v in col]})
        req = {"inputs": inputs, "outputs": [{"name": "predict"}, {"name": "raw"}, {"name": "leaf"}]}
        st, resp = srv.json("POST", "/v2/models/%s/infer" % case, req)
        if chk.ok(st == 200, "%s infer per-feature tensors: status %d %s" % (case, st, resp)):
            outs = {o["name"]: o for o in resp["outputs"]}
            for name in ("predict", "raw", "leaf"):
                width = len(want[name][0])
                compare(case, "infer(per feature) " + name, rows_of([float(v) for v in outs[name]["data"]], N, width),
                        want[name], name == "predict")
        records = json.load(open(os.path.join(d, "records.json")))
        for output, key in (("value", "predict"), ("raw", "raw"), ("leaf", "leaf")):
            st, resp = srv.json("POST", "/v1/models/%s:predict" % case, {"instances": records, "output": output})
            if not chk.ok(st == 200, "%s records.json %s: status %d %s" % (case, output, st, resp)):
                continue
            got = [[float(x) for x in p] if isinstance(p, list) else [float(p)] for p in resp["predictions"]]
            compare(case, "records.json " + output, got, want[key], key == "predict")
        st, resp = srv.json("POST", "/v1/models/%s:predict" % case, {"instances": records, "output": "contrib"})
        if chk.ok(st == 200 and has_contrib, "%s records.json contrib: status %d" % (case, st)):
            got = [float(x) for p in resp["predictions"] for x in p]
            flat = [v for r in want["contrib"] for v in r]
            bad = sum(1 for a, b in zip(got, flat) if abs(a - b) > 1e-12 * max(1.0, abs(b)))
            chk.ok(len(got) == len(flat) and bad == 0, "%s records.json contrib: %d values differ" % (case, bad))
    print("checked", case)

chk.ok(srv.stop() == 0, "server exits 0 on SIGTERM")
chk.done()
