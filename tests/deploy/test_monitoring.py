#!/usr/bin/env python3
"""Validates deploy/monitoring offline.

- promtool check rules + promtool test rules on the alerting rules (every alert has a unit test).
- The PrometheusRule and dashboard ConfigMap in deploy/k8s/base are up to date with their sources.
- grafana-dashboard.json validates against the Grafana dashboard JSON schema (ajv), every PromQL
  expression in it parses (promtool, as recording rules with the dashboard variables substituted),
  and every metric named in the rules and the dashboard is one the server exports
  (the list in src/metrics/metrics.h).
- Negative controls: a rules change that breaks an alert test, an unparsable rule, an invalid
  dashboard, an unparsable panel query and an unknown metric name are each rejected.
"""
import copy
import json
import os
import re
import sys
import tempfile

import yaml

sys.dont_write_bytecode = True  # importing deploylib must not leave a __pycache__ here
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from deploylib import Checker, need_tools, node_validate, path, read, run  # noqa: E402

RULES = path("deploy", "monitoring", "prometheus-rules.yml")
RULES_TEST = path("deploy", "monitoring", "prometheus-rules.test.yml")
DASH = path("deploy", "monitoring", "grafana-dashboard.json")
SCHEMA = path("deploy", "schemas", "grafana-dashboard.schema.json")
REQUIRED_ALERTS = {"TreeserveReplicaDown", "TreeserveNoReadyReplicas", "TreeserveRestarting", "TreeserveHighErrorRatio",
                   "TreeserveHighLatencyP99", "TreeserveSaturated", "TreeserveModelLoadFailures",
                   "TreeserveRepositoryReloadFailures"}
# Panel title -> metric the panel must query.
REQUIRED_PANELS = {
    "Request rate by model and status": "treeserve_requests_total",
    "Error ratio (5xx) by model": "treeserve_requests_total",
    "Latency percentiles (infer)": "treeserve_request_duration_seconds_bucket",
    "Rows predicted per second by model": "treeserve_predicted_rows_total",
    "In-flight requests per pod": "treeserve_inflight_requests",
    "CPU per pod": "process_cpu_seconds_total",
    "Memory (RSS) per pod": "process_resident_memory_bytes",
    "Pods up": "up",
    "Model versions loaded": "treeserve_model_info",
    "Model loads and repository reloads": "treeserve_repository_reloads_total",
    "Model load failures": "treeserve_model_loads_total",
}
PROMQL_WORDS = {"sum", "by", "without", "rate", "increase", "irate", "histogram_quantile", "avg_over_time", "max_over_time",
                "changes", "count", "max", "min", "avg", "vector", "or", "and", "unless", "on", "ignoring", "group_left",
                "group_right", "le", "label_values", "absent", "topk", "bottomk", "offset", "bool", "time", "clamp_min"}


def server_metrics():
    """Metric families the server exports, from the contract comment in src/metrics/metrics.h."""
    text = read("src", "metrics", "metrics.h")
    block = text.split("Exposed metric families", 1)[1].split("*/", 1)[0]
    names = set(re.findall(r"\b((?:treeserve|process)_[a-z_]+)", block))
    hist = set(re.findall(r"\b(treeserve_[a-z_]+)\{[^}]*\}\s+histogram", block))
    for h in hist:
        names |= {h + "_bucket", h + "_sum", h + "_count"}
    return names | {"up"}


def metric_names(expr):
    """Identifiers in a PromQL expression that name series (not functions, keywords, labels)."""
    e = re.sub(r'"[^"]*"', '""', expr)            # drop string literals
    e = re.sub(r"\{[^}]*\}", "{}", e)               # drop label matchers
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", e)  # label lists
    e = re.sub(r"\[[^\]]*\]", "", e)                # ranges
    names = set()
    for m in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", e):
        w = m.group(0)
        nxt = e[m.end():m.end() + 1]
        if w in PROMQL_WORDS or nxt == "(" or re.fullmatch(r"\d+[smhdwy]", w):
            continue
        names.add(w)
    return names


def dashboard_exprs(d):
    out = []
    for p in d.get("panels", []):
        for sub in [p] + p.get("panels", []):
            for t in sub.get("targets", []):
                out.append((sub.get("title", "?"), t["expr"]))
    return out


def substitute(expr):
    return (expr.replace("$__rate_interval", "5m").replace("$__interval", "1m")
            .replace('"$job"', '"treeserve.*"').replace('"$model"', '".*"'))


def promtool_exprs(exprs, d):
    """Parses PromQL expressions with promtool by making them recording rules."""
    f = os.path.join(d, "exprs.yml")
    rules = [{"record": f"dashboard:expr_{i}", "expr": substitute(e)} for i, (_, e) in enumerate(exprs)]
    with open(f, "w") as fh:
        yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}, fh)
    return run(["promtool", "check", "rules", f])


def overlaps(a, b):
    return a["x"] < b["x"] + b["w"] and b["x"] < a["x"] + a["w"] and a["y"] < b["y"] + b["h"] and b["y"] < a["y"] + a["h"]


def main():
    c = Checker("test_monitoring")
    need_tools()
    known = server_metrics()
    c.check(len(known) > 15 and "treeserve_requests_total" in known, f"server metric list read from src/metrics/metrics.h ({len(known)} names)")

    # Rules.
    rc, out, err = run(["promtool", "check", "rules", RULES])
    c.check(rc == 0, "promtool check rules prometheus-rules.yml", out + err)
    rc, out, err = run(["promtool", "test", "rules", RULES_TEST], cwd=path("deploy", "monitoring"))
    c.check(rc == 0 and "SUCCESS" in out, "promtool test rules prometheus-rules.test.yml", out + err)
    rules = yaml.safe_load(read("deploy", "monitoring", "prometheus-rules.yml"))
    alerts = {r["alert"]: r for g in rules["groups"] for r in g["rules"] if "alert" in r}
    c.check(REQUIRED_ALERTS <= set(alerts), "every required alert is defined", str(sorted(REQUIRED_ALERTS - set(alerts))))
    tests = yaml.safe_load(read("deploy", "monitoring", "prometheus-rules.test.yml"))
    tested = {a["alertname"] for t in tests["tests"] for a in t.get("alert_rule_test", []) if a.get("exp_alerts")}
    c.check(set(alerts) <= tested, "every alert has a unit test where it fires", str(sorted(set(alerts) - tested)))
    for name, r in sorted(alerts.items()):
        c.check(r.get("labels", {}).get("severity") in ("warning", "critical") and r.get("annotations", {}).get("summary")
                and r["annotations"].get("runbook_url"), f"alert {name} has severity, summary and runbook_url")
        unknown = metric_names(r["expr"]) - known
        c.check(not unknown, f"alert {name} uses only metrics the server exports", str(sorted(unknown)))

    rc, out, err = run([sys.executable, path("deploy", "tools", "gen-monitoring.py"), "--check"])
    c.check(rc == 0, "deploy/k8s/base PrometheusRule and dashboard ConfigMap are regenerated from their sources", out + err)

    # Dashboard.
    dash = json.loads(read("deploy", "monitoring", "grafana-dashboard.json"))
    schema = json.loads(read("deploy", "schemas", "grafana-dashboard.schema.json"))
    ans = node_validate("ajv", {"schema": schema, "data": dash})
    c.check(ans["ok"], "grafana-dashboard.json validates against the Grafana dashboard schema (ajv)", "; ".join(ans["errors"]))
    exprs = dashboard_exprs(dash)
    with tempfile.TemporaryDirectory() as d:
        rc, out, err = promtool_exprs(exprs, d)
        c.check(rc == 0, f"all {len(exprs)} dashboard PromQL expressions parse (promtool)", out + err)
    for title, e in exprs:
        unknown = metric_names(substitute(e)) - known
        c.check(not unknown, f"panel '{title}' queries only metrics the server exports", str(sorted(unknown)))
    by_title = {}
    for title, e in exprs:
        by_title.setdefault(title, []).append(e)
    for title, metric in REQUIRED_PANELS.items():
        c.check(any(metric in metric_names(substitute(e)) for e in by_title.get(title, [])), f"dashboard has panel '{title}' on {metric}")
    lat = " ".join(by_title.get("Latency percentiles (infer)", []))
    c.check(all(f"histogram_quantile({q}" in lat for q in ("0.50", "0.95", "0.99")), "latency panel shows p50, p95 and p99 from the histogram")
    ids = [p["id"] for p in dash["panels"]]
    c.check(len(ids) == len(set(ids)), "panel ids are unique")
    grid = [p["gridPos"] for p in dash["panels"]]
    c.check(all(g["x"] + g["w"] <= 24 for g in grid) and not any(overlaps(a, b) for i, a in enumerate(grid) for b in grid[i + 1:]),
            "panels fit the 24-column grid without overlapping")
    c.check(all(t.get("datasource", {}).get("uid") == "${datasource}" for p in dash["panels"] for t in p.get("targets", [])),
            "every query uses the ${datasource} variable (portable between Prometheus installs)")

    # Negative controls.
    with tempfile.TemporaryDirectory() as d:
        broken = copy.deepcopy(rules)
        for g in broken["groups"]:
            for r in g["rules"]:
                if r.get("alert") == "TreeserveHighErrorRatio":
                    r["expr"] = r["expr"].replace("> 0.05", "> 0.5")
        with open(os.path.join(d, "prometheus-rules.yml"), "w") as f:
            yaml.safe_dump(broken, f)
        with open(os.path.join(d, "prometheus-rules.test.yml"), "w") as f:
            f.write(read("deploy", "monitoring", "prometheus-rules.test.yml"))
        rc, out, err = run(["promtool", "test", "rules", "prometheus-rules.test.yml"], cwd=d)
        c.check(rc != 0 and "TreeserveHighErrorRatio" in out + err, "promtool test rules catches a loosened error-ratio threshold")
        broken["groups"][0]["rules"][0]["expr"] = "sum(rate(treeserve_requests_total[5m]) > "
        with open(os.path.join(d, "prometheus-rules.yml"), "w") as f:
            yaml.safe_dump(broken, f)
        rc, out, err = run(["promtool", "check", "rules", os.path.join(d, "prometheus-rules.yml")])
        c.check(rc != 0, "promtool check rules rejects an unparsable expression")
        rc, out, err = promtool_exprs([("x", 'sum(rate(treeserve_requests_total{job=~"$job"}[$__rate_interval])')], d)
        c.check(rc != 0, "promtool rejects an unbalanced dashboard query")
    bad = copy.deepcopy(dash)
    bad["panels"][1]["gridPos"] = {"w": 4}
    bad["panels"][2]["bogusField"] = True
    bad["refresh"] = 30
    ans = node_validate("ajv", {"schema": schema, "data": bad})
    c.check(not ans["ok"] and len(ans["errors"]) >= 3, "the dashboard schema rejects a broken dashboard", str(ans["errors"][:3]))
    c.check(metric_names('sum by (model) (rate(treeserve_requets_total{status=~"5.."}[5m]))') - known == {"treeserve_requets_total"},
            "the metric-name check catches a misspelt metric")
    c.done()


if __name__ == "__main__":
    main()
