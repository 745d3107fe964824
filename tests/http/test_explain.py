#!/usr/bin/env python3
"""POST /v1/models/{m}:explain on the real server (loopback, port 0):
  - golden cases (binary, multiclass_softmax, rf_binary,
    predict_iteration_range_multiclass with its iteration parameters,
    pandas_categorical via records.json, feature_names_unicode with the
    names given at training, spaces and all): contributions equal contrib.csv
    within 1e-12 (absolute, relative beyond 1), per class they sum to "raw"
    within 1e-9, "raw" equals raw.csv and "prediction" pred.csv; contribution
    keys are the names the client sent (records) or the model's (arrays),
    plus "bias"; multiclass gives lists, class-major;
  - errors: unknown model 404, wrong method 405, malformed 400, linear trees
    422, unknown feature 422, unknown key 422, the explain row limit
    (--max-explain-rows, set here through TREESERVE_MAX_EXPLAIN_ROWS) crossed
    413 while :predict still takes those rows; a feature named "bias" 422;
  - GET /metrics counts the requests under endpoint="explain"."""
import json
import os
import tempfile

from serverlib import GOLDEN, Checks, Server, read_csv_rows

chk = Checks()
CASES = ["binary", "multiclass_softmax", "rf_binary", "predict_iteration_range_multiclass", "pandas_categorical",
         "feature_names_unicode"]


def matrix(path):
    return [[float(v) for v in row] for row in read_csv_rows(path) if row]


def close(a, b, tol):
    return abs(a - b) <= tol * max(1.0, abs(b))


models = []
for c in CASES + ["linear_tree"]:
    models += ["--model", "%s=%s" % (c, os.path.join(GOLDEN, c, "model.txt"))]
srv = Server(models + ["--max-body-bytes", str(8 << 20), "--threads", "2", "--drain-seconds", "0"])
print("server on port", srv.port)


def check_case(case, body, names, N, K):
    """names[f]: the key expected for feature f in every row."""
    d = os.path.join(GOLDEN, case)
    contrib, raw, pred = (matrix(os.path.join(d, f)) for f in ("contrib.csv", "raw.csv", "pred.csv"))
    st, resp = srv.json("POST", "/v1/models/%s:explain" % case, body)
    if not chk.ok(st == 200, "%s explain: status %d %s" % (case, st, str(resp)[:300])):
        return
    chk.ok(resp.get("model_name") == case and resp.get("model_version") == "1", "%s: model_name/model_version" % case)
    ex = resp["explanations"]
    if not chk.ok(len(ex) == N, "%s: %d explanations for %d rows" % (case, len(ex), N)):
        return
    F = len(names)
    keys = names + ["bias"]
    bad_c = bad_sum = bad_raw = bad_pred = bad_shape = 0
    for r, e in enumerate(ex):
        per_class = e["contributions"] if K > 1 else [e["contributions"]]
        raws = e["raw"] if K > 1 else [e["raw"]]
        preds = e["prediction"] if isinstance(e["prediction"], list) else [e["prediction"]]
        if K > 1 and not (isinstance(e["contributions"], list) and isinstance(e["raw"], list)):
            bad_shape += 1
            continue
        if len(per_class) != K or any(list(obj.keys()) != keys for obj in per_class):
            if bad_shape < 2:
                print("  %s row %d keys %s" % (case, r, [list(o.keys()) for o in per_class][:1]))
            bad_shape += 1
            continue
        for k, obj in enumerate(per_class):
            for j, key in enumerate(keys):
                if not close(obj[key], contrib[r][k * (F + 1) + j], 1e-12):
                    if bad_c < 3:
                        print("  %s row %d class %d %r: got %r want %r" % (case, r, k, key, obj[key],
                                                                            contrib[r][k * (F + 1) + j]))
                    bad_c += 1
            if abs(sum(obj.values()) - raws[k]) > 1e-9 * max(1.0, abs(raws[k])):
                bad_sum += 1
        bad_raw += sum(1 for a, b in zip(raws, raw[r]) if a != b) + (len(raws) != len(raw[r]))
        bad_pred += sum(1 for a, b in zip(preds, pred[r]) if not close(a, b, 1e-15)) + (len(preds) != len(pred[r]))
    chk.ok(bad_shape == 0, "%s: every row has %d class object(s) with keys = client's names + bias (%d bad)" %
           (case, K, bad_shape))
    chk.ok(bad_c == 0, "%s: contributions equal contrib.csv within 1e-12 (%d differ)" % (case, bad_c))
    chk.ok(bad_sum == 0, "%s: contributions sum to raw within 1e-9 per class (%d rows off)" % (case, bad_sum))
    chk.ok(bad_raw == 0, "%s: raw equals raw.csv (%d differ)" % (case, bad_raw))
    chk.ok(bad_pred == 0, "%s: prediction equals pred.csv (%d differ)" % (case, bad_pred))


for case in CASES:
    d = os.path.join(GOLDEN, case)
    meta = json.load(open(os.path.join(d, "meta.json")))
    kw = meta.get("predict_kwargs") or {}
    params = {k: kw[k] for k in ("start_iteration", "num_iteration") if k in kw}
    K = meta["num_class"]
    if case == "pandas_categorical":
        records = json.load(open(os.path.join(d, "records.json")))
        check_case(case, {"instances": records}, meta["X_csv_header"], len(records), K)
        continue
    rows = read_csv_rows(os.path.join(d, "X.csv"))[1:]
    rows = [[None if v == "" else float(v) for v in r] for r in rows if r]
    body = {"instances": rows}
    if params:
        body["parameters"] = params
    names = meta["feature_names_in_model"]
    if case == "feature_names_unicode":
        # Records keyed by the names given at training ("  leading and
        # trailing  ", "mean compactness"): the answer uses those keys.
        orig = meta["feature_names_given_at_training"]
        body = {"instances": [dict(zip(orig, r)) for r in rows]}
        check_case(case, body, orig, len(rows), K)
        # and the same rows as arrays: the model's stored names
        check_case(case, {"instances": rows}, names, len(rows), K)
        continue
    check_case(case, body, names, len(rows), K)

# A record that leaves features out: those are missing and keyed by the
# model's names; the client's keys stay as sent (escapes included).
st, resp = srv.json("POST", "/v1/models/pandas_categorical:explain",
                    '{"instances":[{"lepton\\u0020pT":0.5,"jet1 btag":"tight"}]}')
if chk.ok(st == 200, "partial record: 200 (%d %s)" % (st, resp)):
    c = resp["explanations"][0]["contributions"]
    chk.ok(list(c.keys())[:3] == ["lepton pT", "lepton_eta", "region"] and "jet1 btag" in c and "m_wwbb" in c
           and len(c) == 11, "partial record: sent keys kept, absent features by model name: %s" % list(c.keys()))
    st2, p = srv.json("POST", "/v1/models/pandas_categorical:predict",
                      {"instances": [{"lepton pT": 0.5, "jet1 btag": "tight"}]})
    chk.ok(st2 == 200 and p["predictions"][0] == resp["explanations"][0]["prediction"],
           "partial record: prediction equals :predict's")

# errors
row = [0.5] * 28
for method, path, body, want, what in (
        ("POST", "/v1/models/nope:explain", {"instances": [row]}, 404, "unknown model"),
        ("GET", "/v1/models/binary:explain", None, 405, "wrong method"),
        ("POST", "/v1/models/binary:explain", "{bad", 400, "malformed JSON"),
        ("POST", "/v1/models/binary:explain", {"rows": [row]}, 400, "no instances"),
        ("POST", "/v1/models/binary:explain", {"instances": [row], "parameters": 3}, 400, "parameters not an object"),
        ("POST", "/v1/models/binary:explain", {"instances": [row], "output": "raw"}, 422, "unknown key 'output'"),
        ("POST", "/v1/models/binary:explain", {"instances": [row], "parameters": {"top_k": 3}}, 422,
         "unknown parameter"),
        ("POST", "/v1/models/binary:explain", {"instances": [row], "parameters": {"start_iteration": -1}}, 422,
         "negative start_iteration"),
        ("POST", "/v1/models/binary:explain", {"instances": [row[:5]]}, 422, "wrong number of values"),
        ("POST", "/v1/models/binary:explain", {"instances": [{"Column_0": 1, "no_such": 2}]}, 422, "unknown feature"),
        ("POST", "/v1/models/binary:explain", {"instances": [{"Column_0": "x"}]}, 422, "string for a numeric feature"),
        ("POST", "/v1/models/linear_tree:explain", {"instances": [[0.5] * 28]}, 422, "linear trees")):
    st, resp = srv.json(method, path, body)
    err = (resp or {}).get("error", "")
    chk.ok(st == want and err, "%s: %s %s -> %d with an error message (%d %s)" % (what, method, path, want, st, err))
st, resp = srv.json("POST", "/v1/models/linear_tree:explain", {"instances": [[0.5] * 28]})
chk.ok("not available" in resp.get("error", "") and "linear" in resp.get("error", ""),
       "linear trees: the message says why (%s)" % resp.get("error"))
st, resp = srv.json("POST", "/v1/models/binary:explain", {"instances": []})
chk.ok(st == 200 and resp["explanations"] == [], "no instances -> empty explanations")

# metrics: the explain requests have their own endpoint label
st, _, body = srv.request("GET", "/metrics")
text = body.decode()
chk.ok('treeserve_requests_total{model="binary",version="1",endpoint="explain",status="200"}' in text,
       "metrics count explain requests under endpoint=\"explain\"")
chk.ok('endpoint="explain",status="422"' in text and 'endpoint="explain",status="404"' in text,
       "metrics count failed explain requests (422, 404) too")
chk.ok(srv.stop() == 0, "server exits 0 on SIGTERM")

# the explain row limit, separate from (and below) the :predict limit
lim = Server(["--model", "binary=" + os.path.join(GOLDEN, "binary", "model.txt"), "--drain-seconds", "0"],
             env={"TREESERVE_MAX_EXPLAIN_ROWS": "3"})
st, resp = lim.json("POST", "/v1/models/binary:explain", {"instances": [row] * 3})
chk.ok(st == 200 and len(resp["explanations"]) == 3, "3 rows at a limit of 3: 200 (%d)" % st)
st, resp = lim.json("POST", "/v1/models/binary:explain", {"instances": [row] * 4})
chk.ok(st == 413 and "limit of 3 rows" in resp.get("error", ""), "4 rows over a limit of 3: 413 (%d %s)" % (st, resp))
st, resp = lim.json("POST", "/v1/models/binary:predict", {"instances": [row] * 4})
chk.ok(st == 200, ":predict is not bound by the explain limit (%d)" % st)
chk.ok(lim.stop() == 0, "limit server exits 0")
lim = Server(["--model", "binary=" + os.path.join(GOLDEN, "binary", "model.txt"), "--drain-seconds", "0",
              "--max-rows", "2"])
st, resp = lim.json("POST", "/v1/models/binary:explain", {"instances": [row] * 3})
chk.ok(st == 413 and "limit of 2 rows" in resp.get("error", ""),
       "--max-rows below the explain limit also bounds :explain (%d %s)" % (st, resp))
chk.ok(lim.stop() == 0, "second limit server exits 0")

# A feature named "bias" would give two "bias" keys in one object: 422.
tmp = tempfile.mkdtemp(prefix="ts-explain-")
text = open(os.path.join(GOLDEN, "binary", "model.txt"), encoding="utf-8").read()
with open(os.path.join(tmp, "model.txt"), "w", encoding="utf-8") as f:
    f.write(text.replace("feature_names=Column_0 ", "feature_names=bias ", 1))
bs = Server(["--model", "b=" + os.path.join(tmp, "model.txt"), "--drain-seconds", "0"])
for what, body in (("array row", {"instances": [row]}), ("record with key bias", {"instances": [{"bias": 1.0}]}),
                   ("record without it", {"instances": [{"Column_1": 1.0}]})):
    st, resp = bs.json("POST", "/v1/models/b:explain", body)
    chk.ok(st == 422 and "bias" in resp.get("error", ""), "feature named bias, %s: 422 (%d %s)" % (what, st, resp))
st, resp = bs.json("POST", "/v2/models/b/infer", {"inputs": [{"name": "x", "shape": [1, 28], "datatype": "FP64",
                                                              "data": row}], "outputs": [{"name": "contrib"}]})
chk.ok(st == 200 and len(resp["outputs"][0]["data"]) == 29, "feature named bias: the contrib output still works")
chk.ok(bs.stop() == 0, "bias server exits 0")
os.unlink(os.path.join(tmp, "model.txt"))
os.rmdir(tmp)
chk.done()
