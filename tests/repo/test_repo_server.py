#!/usr/bin/env python3
"""The model repository through the real server (--poll-interval, admin API),
while a client keeps predicting:

- a model file overwritten with garbage: the old model keeps serving, the
  index says why, the failure is logged and counted in /metrics; a good file
  again clears the reason;
- a new version folder becomes the default; removing it falls back, and its
  series leave /metrics;
- an invalid config.json keeps the previous settings (max_rows still applies);
- unload stops serving (503) without touching readiness, load brings it back,
  load of a model whose config is broken fails with the reason;
- no request ever fails while the model is meant to be served, and no request
  body reaches the log.
Uses the shared helpers of tests/http (serverlib.py)."""
import json
import os
import re
import shutil
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "http"))
from serverlib import GOLDEN, Checks, Server  # noqa: E402

chk = Checks()
MODEL = os.path.join(GOLDEN, "binary", "model.txt")
TOKEN = "s3cret-token"
AUTH = {"Authorization": "Bearer " + TOKEN}
MARKER = 0.123456789  # appears in every request body, must never appear in the log
ROW = [MARKER] * 28

tmp = tempfile.mkdtemp(prefix="ts_repo_srv_")
repo = os.path.join(tmp, "repo")


def put(rel, data):
    """Writes a file atomically (write aside, rename), as operators should."""
    path = os.path.join(repo, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path + ".tmp", "wb") as f:
        f.write(data)
    os.rename(path + ".tmp", path)


with open(MODEL, "rb") as f:
    GOOD = f.read()
put("m/1/model.txt", GOOD)
put("m/config.json", b'{"description": "churn", "max_rows": 2}')
put("other/1/model.txt", GOOD)


def wait_for(what, cond, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.05)
    chk.ok(False, "timed out waiting for: " + what)
    return None


srv = Server(["--model-repository", repo, "--poll-interval", "0.2", "--admin-token", TOKEN,
              "--drain-seconds", "0", "--threads", "2"])


def index():
    st, body = srv.json("POST", "/v2/repository/index", {}, AUTH)
    assert st == 200, (st, body)
    return {(i["name"], i["version"]): i for i in body}


def metric(line_prefix):
    st, _, data = srv.request("GET", "/metrics")
    for line in data.decode().splitlines():
        if line.startswith(line_prefix + " "):
            return float(line.split()[-1])
    return 0.0


# A client predicting all the time; failures count only while `must_work`.
state = {"must_work": True, "stop": False, "ok": 0, "bad": []}


def client():
    conn = srv.conn()
    while not state["stop"]:
        must = state["must_work"]
        try:
            st, _, data = srv.request("POST", "/v1/models/m:predict", {"instances": [ROW]}, conn=conn)
        except Exception as e:  # connection trouble is a failure too
            st, data = None, str(e).encode()
            conn = srv.conn()
        if st == 200:
            state["ok"] += 1
        elif must and state["must_work"]:
            state["bad"].append((st, data[:200]))


t = threading.Thread(target=client, daemon=True)
t.start()
try:
    chk.ok(srv.request("GET", "/v2/health/ready")[0] == 200, "ready at start")
    idx = index()
    chk.ok(idx[("m", "1")]["state"] == "READY" and idx[("m", "1")]["reason"] == "", "index: m/1 READY")

    # 1. garbage over a served file: old model keeps serving, reason, log, metric
    put("m/1/model.txt", b"tree\nversion=v4\nnot a model at all\n")
    wait_for("load failure counted",
             lambda: metric('treeserve_model_loads_total{model="m",result="failure"}') >= 1)
    r = index()[("m", "1")]
    chk.ok(r["state"] == "READY" and "still serving the previous file" in r["reason"]
           and "m/1/model.txt" in r["reason"], "broken file: still READY, reason %r" % r["reason"])
    st, body = srv.json("POST", "/v1/models/m:predict", {"instances": [ROW]})
    chk.ok(st == 200, "broken file: predictions still answered (%s)" % st)
    fails = [json.loads(l) for l in srv.log if '"model load failed"' in l]
    chk.ok(fails and fails[0].get("model") == "m" and "m/1/model.txt" in fails[0].get("path", ""),
           "load failure logged as JSON with model and path")
    time.sleep(0.6)  # three more polls: the same bad file is not retried
    chk.ok(metric('treeserve_model_loads_total{model="m",result="failure"}') == 1,
           "the same bad file is not reloaded on every poll")
    put("m/1/model.txt", GOOD)
    wait_for("good file again clears the reason", lambda: index()[("m", "1")]["reason"] == "")

    # 2. new version becomes the default, removing it falls back
    put("m/2/model.txt", GOOD)
    wait_for("version 2 loaded", lambda: ("m", "2") in index())

    def served_version():
        st, body = srv.json("POST", "/v2/models/m/infer",
                            {"inputs": [{"name": "x", "shape": [1, 28], "datatype": "FP64", "data": ROW}]})
        return body.get("model_version") if st == 200 else None
    chk.ok(served_version() == "2", "version 2 is the default")

    def m2_series():
        text = srv.request("GET", "/metrics")[2].decode()
        return [l for l in text.splitlines() if 'model="m",version="2"' in l]
    chk.ok(any(l.startswith("treeserve_requests_total{") for l in m2_series())
           and any(l.startswith("treeserve_model_info{") for l in m2_series()),
           "/metrics has series for m/2 while it is served")
    shutil.rmtree(os.path.join(repo, "m", "2"))
    wait_for("version 2 removed", lambda: ("m", "2") not in index())
    chk.ok(served_version() == "1", "default falls back to version 1")
    chk.ok(m2_series() == [], "a removed version's series leave /metrics: %s" % m2_series()[:2])

    # 3. invalid config.json: failure, previous settings stay (max_rows 2)
    before = metric('treeserve_model_loads_total{model="m",result="failure"}')
    put("m/config.json", b'{"max_rows": "lots"}')
    wait_for("config failure counted",
             lambda: metric('treeserve_model_loads_total{model="m",result="failure"}') > before)
    chk.ok("max_rows" in index()[("m", "1")]["reason"], "index names the bad config key")
    st, _ = srv.json("POST", "/v1/models/m:predict", {"instances": [ROW] * 3})
    chk.ok(st == 413, "max_rows 2 from the last valid config still applies (3 rows -> %s)" % st)
    st, _ = srv.json("POST", "/v1/models/m:predict", {"instances": [ROW] * 2})
    chk.ok(st == 200, "2 rows still fine")

    # 4. unload / load through the repository API
    state["must_work"] = False
    time.sleep(0.05)
    st, _ = srv.json("POST", "/v2/repository/models/m/unload", {}, AUTH)
    chk.ok(st == 200, "unload answered 200")
    st, _ = srv.json("POST", "/v1/models/m:predict", {"instances": [ROW]})
    chk.ok(st == 503, "unloaded model answers 503 (%s)" % st)
    chk.ok(index()[("m", "1")]["state"] == "UNAVAILABLE" and index()[("m", "1")]["reason"] == "unloaded",
           "index: unloaded")
    chk.ok(srv.request("GET", "/v2/health/ready")[0] == 200, "an unloaded model does not make the server unready")
    time.sleep(0.5)  # polls do not bring it back
    chk.ok(srv.json("POST", "/v1/models/m:predict", {"instances": [ROW]})[0] == 503, "still unloaded after polls")
    st, body = srv.json("POST", "/v2/repository/models/m/load", {}, AUTH)
    chk.ok(st >= 400 and "max_rows" in (body or {}).get("error", ""),
           "load with a broken config.json fails naming it (%s %s)" % (st, body))
    put("m/config.json", b'{"max_rows": 5}')
    st, body = srv.json("POST", "/v2/repository/models/m/load", {}, AUTH)
    chk.ok(st == 200, "load answered 200 (%s %s)" % (st, body))
    chk.ok(srv.json("POST", "/v1/models/m:predict", {"instances": [ROW] * 5})[0] == 200,
           "loaded again, with the new max_rows 5")
    state["must_work"] = True
    st, _ = srv.json("POST", "/v2/repository/models/nope/load", {}, AUTH)
    chk.ok(st == 404, "load of an unknown model: 404")
    st, _ = srv.json("POST", "/v2/repository/index", {}, {})
    chk.ok(st == 401, "index without the token: 401")
    time.sleep(0.3)
finally:
    state["stop"] = True
    t.join(10)
    code = srv.stop()
    shutil.rmtree(tmp, ignore_errors=True)

chk.ok(state["ok"] > 20, "client made %d successful requests" % state["ok"])
chk.ok(not state["bad"], "no failed request while the model was served: %s" % state["bad"][:3])
log = "".join(srv.log)
chk.ok(re.search(r"0\.12345", log) is None, "no request body content in the log")
chk.ok(all(l.startswith("{") for l in srv.log if l.strip()), "every log line is a JSON object")
chk.ok(code == 0, "server exited 0 (%s)" % code)
chk.done()
