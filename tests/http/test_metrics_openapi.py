#!/usr/bin/env python3
"""GET /metrics after real traffic: Prometheus text format accepted by
`promtool check metrics`, the series the issue lists present with the right
labels. GET /openapi.json: a valid OpenAPI 3 document (@redocly/cli lint from
tools/node_modules), and every path/method it documents is routed by the
server (no 404-route/405), while the server's routes are all documented.
Also the health and metadata endpoints' shapes."""
import json
import os
import shutil
import subprocess
import tempfile

from serverlib import GOLDEN, SRC, Checks, Server

chk = Checks()
model = os.path.join(GOLDEN, "binary", "model.txt")
multi = os.path.join(GOLDEN, "multiclass_softmax", "model.txt")
srv = Server(["--model", "binary=" + model, "--model", "multi=" + multi, "--admin-token", "tok", "--drain-seconds", "0"])
row = [0.5] * 28
for _ in range(5):
    st, _, _ = srv.request("POST", "/v2/models/binary/infer",
                           {"inputs": [{"name": "x", "shape": [2, 28], "datatype": "FP64", "data": row * 2}]})
srv.request("POST", "/v1/models/binary:predict", {"instances": [row]})
srv.request("POST", "/v2/models/binary/infer", "{bad json")
srv.request("GET", "/nope")

# health and metadata
for path, key in (("/v2/health/live", "live"), ("/healthz", "live"), ("/v2/health/ready", "ready"), ("/readyz", "ready")):
    st, body = srv.json("GET", path)
    chk.ok(st == 200 and body.get(key) is True, "GET %s -> 200 {%s: true} (%d %s)" % (path, key, st, body))
st, md = srv.json("GET", "/v2/models/binary")
chk.ok(st == 200 and md["name"] == "binary" and len(md["inputs"]) == 28 and md["inputs"][0]["name"] == "Column_0"
       and md["inputs"][0]["shape"] == [-1], "model metadata lists the 28 features with batch dim -1")
chk.ok([o["name"] for o in md["outputs"]] == ["predict", "raw", "leaf"] and md["outputs"][0]["shape"] == [-1],
       "model metadata outputs")
st, md = srv.json("GET", "/v2/models/multi/versions/1")
chk.ok(st == 200 and md["outputs"][0]["shape"][0] == -1 and len(md["outputs"][0]["shape"]) == 2, "multiclass output shape [-1, K]")
st, r = srv.json("GET", "/v2/models/binary/ready")
chk.ok(st == 200 and r["ready"] is True, "model ready")
st, r = srv.json("GET", "/v2/models/binary/versions/1/ready")
chk.ok(st == 200 and r["ready"] is True, "model version ready")
st, _, _ = srv.request("HEAD", "/healthz")
chk.ok(st == 200, "HEAD on a GET route")

# metrics
st, h, body = srv.request("GET", "/metrics")
chk.ok(st == 200 and h.get("content-type", "").startswith("text/plain"), "GET /metrics -> 200 text/plain")
text = body.decode()
for needle in ('treeserve_requests_total{model="binary",version="1",endpoint="infer",status="200"} 5',
               'endpoint="predict"', 'status="400"', 'status="404"', "treeserve_request_duration_seconds_bucket",
               "treeserve_request_parse_duration_seconds", "treeserve_request_predict_duration_seconds",
               "treeserve_request_write_duration_seconds", 'treeserve_predicted_rows_total{model="binary",version="1"} 11',
               "treeserve_inflight_requests", "treeserve_model_info", "process_resident_memory_bytes", "treeserve_build_info"):
    chk.ok(needle in text, "metrics contain %s" % needle)
promtool = shutil.which("promtool")
if chk.ok(promtool is not None, "promtool installed"):
    p = subprocess.run([promtool, "check", "metrics"], input=body, capture_output=True, timeout=60)
    chk.ok(p.returncode == 0, "promtool check metrics: %s %s" % (p.stdout.decode()[:500], p.stderr.decode()[:500]))

# OpenAPI
st, h, body = srv.request("GET", "/openapi.json")
chk.ok(st == 200, "GET /openapi.json -> 200")
doc = json.loads(body)
chk.ok(doc["openapi"].startswith("3."), "OpenAPI 3 document")
redocly = os.path.join(SRC, "tools", "node_modules", ".bin", "redocly")
if chk.ok(os.path.exists(redocly), "redocly installed in tools/node_modules (scripts/install-deps.sh)"):
    with tempfile.NamedTemporaryFile("wb", suffix=".json", delete=False) as f:
        f.write(body)
    # The project has no license yet, so the info-license rule is skipped.
    p = subprocess.run([redocly, "lint", "--skip-rule", "info-license", f.name], capture_output=True, timeout=180)
    os.unlink(f.name)
    out = (p.stdout + p.stderr).decode()
    chk.ok(p.returncode == 0 and "warning" not in out.lower().replace("deprecation warning", ""),
           "redocly lint: no errors or warnings:\n%s" % out[-3000:])
documented = set()
for path, ops in doc["paths"].items():
    for method in ops:
        documented.add((method.upper(), path))
        concrete = path.replace("{model}", "binary").replace("{version}", "1")
        st, _, b = srv.request(method.upper(), concrete, "{}" if method == "post" else None,
                               {"Authorization": "Bearer tok"})
        routed = st != 405 and not (st == 404 and b"no route" in b)
        chk.ok(routed, "documented %s %s is routed (got %d %r)" % (method.upper(), path, st, b[:80]))
# every served route is documented (the route table as the server knows it)
served = [("POST", "/v2/models/{model}/infer"), ("POST", "/v2/models/{model}/versions/{version}/infer"),
          ("POST", "/v1/models/{model}:predict"), ("GET", "/v2/health/live"), ("GET", "/v2/health/ready"),
          ("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/v2"), ("GET", "/v2/models/{model}"),
          ("GET", "/v2/models/{model}/versions/{version}"), ("GET", "/v2/models/{model}/ready"),
          ("GET", "/v2/models/{model}/versions/{version}/ready"), ("GET", "/metrics"), ("GET", "/openapi.json"),
          ("POST", "/v2/repository/index"), ("POST", "/v2/repository/models/{model}/load"),
          ("POST", "/v2/repository/models/{model}/unload")]
for r in served:
    chk.ok(r in documented, "route %s %s documented" % r)
chk.ok(srv.stop() == 0, "exit 0")
chk.done()
