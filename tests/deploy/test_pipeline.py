#!/usr/bin/env python3
"""Validates azure-pipelines.yml and its step templates offline.

- Structure: the pipeline and deploy/pipelines/*.yml validate against
  deploy/schemas/azure-pipelines.schema.json (ajv; unknown keys are errors).
- Template calls pass only declared parameters, every required one, and allowed values.
- Stage graph: every dependsOn exists, no cycle; build+test -> image -> staging -> smoke ->
  production; terraform plan runs on pull requests, apply only on main in deployment jobs bound
  to environments; deployments happen in deployment jobs bound to environments.
- Contents: the build runs .ci/run (the README's test command); Docker@2 builds
  deploy/docker/Dockerfile with tags = build id and commit; the ACR names and URLs agree with the
  Terraform tfvars and the Kubernetes overlays; staging/production deploy their overlay with
  `kustomize edit set image`, wait for the rollout and roll back on failure; the smoke test hits
  /v2/health/ready and one inference.
- Every inline script passes shellcheck (pipeline macros replaced by shell-safe placeholders).
- Negative controls: misspelt keys, a task without a version, a dangling dependsOn, a cycle and a
  template call with an unknown parameter are rejected.
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

SCHEMA = json.loads(read("deploy", "schemas", "azure-pipelines.schema.json"))


def load(rel):
    return yaml.safe_load(read(rel))


def jobs_of(stage):
    return stage.get("jobs", [])


def steps_of(job):
    if "steps" in job:
        return job["steps"]
    ro = job.get("strategy", {}).get("runOnce", {})
    return [s for hook in ("preDeploy", "deploy", "routeTraffic", "postRouteTraffic") for s in ro.get(hook, {}).get("steps", [])]


def expand(steps, errs, where):
    """Steps with template calls replaced by the template's steps (parameters substituted)."""
    out = []
    for s in steps:
        if "template" not in s:
            out.append(s)
            continue
        rel = s["template"]
        if not os.path.exists(path(rel)):
            errs.append(f"{where}: template {rel} does not exist")
            continue
        tpl = load(rel)
        decl = {p["name"]: p for p in tpl.get("parameters", [])}
        given = s.get("parameters", {})
        for k in given:
            if k not in decl:
                errs.append(f"{where}: {rel} has no parameter {k}")
            elif "values" in decl[k] and given[k] not in decl[k]["values"]:
                errs.append(f"{where}: {rel} parameter {k}={given[k]!r} not in {decl[k]['values']}")
        for k, d in decl.items():
            if "default" not in d and k not in given:
                errs.append(f"{where}: {rel} needs parameter {k}")
        vals = {k: given.get(k, d.get("default", "")) for k, d in decl.items()}
        text = yaml.safe_dump(tpl["steps"], sort_keys=False, width=10000)
        text = re.sub(r"\$\{\{\s*parameters\.(\w+)\s*\}\}", lambda m: str(vals.get(m.group(1), "")), text)
        out.extend(expand(yaml.safe_load(text), errs, f"{where} > {rel}"))
    return out


def stage_graph_errors(p):
    errs = []
    names = [s["stage"] for s in p["stages"]]
    deps = {}
    for i, s in enumerate(p["stages"]):
        d = s.get("dependsOn", names[i - 1] if i else [])
        deps[s["stage"]] = [d] if isinstance(d, str) else list(d)
        for x in deps[s["stage"]]:
            if x not in names:
                errs.append(f"stage {s['stage']} depends on unknown stage {x}")
    state = {}

    def visit(n, stack):
        if state.get(n) == 1:
            errs.append(f"dependency cycle through {' -> '.join(stack + [n])}")
            return
        if state.get(n) == 2 or n not in deps:
            return
        state[n] = 1
        for x in deps[n]:
            visit(x, stack + [n])
        state[n] = 2

    for n in names:
        visit(n, [])
    return errs, deps


def ancestors(deps, n):
    seen, todo = set(), list(deps.get(n, []))
    while todo:
        x = todo.pop()
        if x not in seen:
            seen.add(x)
            todo.extend(deps.get(x, []))
    return seen


def shell_scripts(steps):
    for s in steps:
        for k in ("script", "bash"):
            if k in s:
                yield s.get("displayName", k), s[k]
        if s.get("task", "").startswith("AzureCLI@") and s.get("inputs", {}).get("inlineScript"):
            yield s.get("displayName", "AzureCLI"), s["inputs"]["inlineScript"]


def shellcheck(name, script, d):
    # Pipeline macros $(a.b) and leftover ${{ }} become plain shell-safe words.
    s = re.sub(r"\$\(([A-Za-z_][\w.]*)\)", lambda m: "MACRO_" + m.group(1).replace(".", "_"), script)
    s = re.sub(r"\$\{\{[^}]*\}\}", "PARAM", s)
    f = os.path.join(d, re.sub(r"\W+", "_", name) + ".sh")
    with open(f, "w") as fh:
        fh.write("#!/usr/bin/env bash\n" + s)
    return run(["shellcheck", "-s", "bash", f])


def main():
    c = Checker("test_pipeline")
    need_tools()
    files = ["azure-pipelines.yml"] + sorted(f"deploy/pipelines/{f}" for f in os.listdir(path("deploy", "pipelines")) if f.endswith(".yml"))
    docs = {}
    for f in files:
        docs[f] = load(f)
        ans = node_validate("ajv", {"schema": SCHEMA, "data": docs[f]})
        c.check(ans["ok"], f"{f} matches the pipeline schema", "; ".join(ans["errors"]))
    p = docs["azure-pipelines.yml"]
    stages = {s["stage"]: s for s in p["stages"]}
    errs, deps = stage_graph_errors(p)
    c.check(not errs, "stage dependencies exist and have no cycle", "; ".join(errs))
    order = ["Build", "Image", "Staging", "Smoke", "Production"]
    c.check(all(order[i] in ancestors(deps, order[i + 1]) for i in range(len(order) - 1)),
            "stages run build+test -> image -> staging -> smoke -> production")
    c.check({"Plan"} <= ancestors(deps, "ApplyStaging") and "ApplyStaging" in ancestors(deps, "Staging")
            and "ApplyProduction" in ancestors(deps, "Production"), "terraform apply precedes each deployment")
    c.check(set(p.get("pr", {}).get("branches", {}).get("include", [])) == {"main"}, "pipeline runs on pull requests to main")
    main_only = lambda s: "eq(variables.isMain, true)" in s.get("condition", "")  # noqa: E731
    c.check(not main_only(stages["Plan"]) and not main_only(stages["Build"]), "build, test and terraform plan also run on pull requests")
    c.check(all(main_only(stages[s]) for s in ("ApplyStaging", "ApplyProduction", "Staging", "Smoke", "Production")),
            "apply and deployments run only on main")
    isn = [v for v in p["variables"] if v.get("name") == "isMain"]
    c.check(isn and "refs/heads/main" in isn[0]["value"], "isMain is computed from Build.SourceBranch")

    all_steps = {}
    terr = []
    for sn, st in stages.items():
        for j in jobs_of(st):
            jn = j.get("job") or j.get("deployment")
            all_steps[(sn, jn)] = expand(steps_of(j), terr, f"{sn}.{jn}")
    c.check(not terr, "template calls pass declared parameters with allowed values", "; ".join(terr))
    text_of = lambda sn: json.dumps([s for (x, _), ss in all_steps.items() if x == sn for s in ss])  # noqa: E731

    build = text_of("Build")
    c.check("bash .ci/run" in build and os.path.exists(path(".ci", "run")) and "scripts/test.sh" in read(".ci", "run"),
            "Build runs .ci/run, which runs the README's test command (scripts/test.sh)")
    c.check("debian:12" in build, "tests run in a fresh Debian 12 container, like CI")
    dockers = [s for (x, _), ss in all_steps.items() if x == "Image" for s in ss if s.get("task", "").startswith("Docker@2")]
    bld = [s for s in dockers if s["inputs"].get("command") in ("build", "buildAndPush")]
    push = [s for s in dockers if s["inputs"].get("command") in ("push", "buildAndPush")]
    c.check(bld and os.path.exists(path(bld[0]["inputs"]["Dockerfile"])), "Docker@2 builds an existing Dockerfile",
            bld[0]["inputs"].get("Dockerfile") if bld else "no build step")
    c.check(push and all({"$(Build.BuildId)", "$(Build.SourceVersion)"} <= set(s["inputs"]["tags"].split()) for s in bld + push),
            "image tags are the build id and the commit")
    c.check(all(s["inputs"].get("containerRegistry") for s in dockers) and all(main_only(s) for s in push),
            "Docker@2 uses the ACR service connection; pushes only on main")
    plan = text_of("Plan")
    for ws in ("staging", "production"):
        c.check(f'"TF_WORKSPACE_NAME": "{ws}"' in plan and 'workspace select -or-create \\"$TF_WORKSPACE_NAME\\"' in plan
                and "envs/$TF_WORKSPACE_NAME.tfvars" in plan
                and os.path.exists(path("deploy", "terraform", "envs", f"{ws}.tfvars")),
                f"terraform plan selects workspace {ws} with envs/{ws}.tfvars")
    for sn, env in (("ApplyStaging", "treeserve-infra-staging"), ("ApplyProduction", "treeserve-infra-production"),
                    ("Staging", "treeserve-staging"), ("Production", "treeserve-production")):
        js = jobs_of(stages[sn])
        c.check(js and all(j.get("deployment") and j.get("environment") == env for j in js),
                f"{sn} is a deployment job bound to environment {env} (approvals live there)")
    c.check("terraform apply" in text_of("ApplyStaging") and "tfplan" in text_of("ApplyStaging"), "apply uses the reviewed plan file")

    tfv = {e: read("deploy", "terraform", "envs", f"{e}.tfvars") for e in ("staging", "production")}
    var = {v["name"]: v["value"] for v in p["variables"] if "name" in v}
    for env, acr_var, url_var in (("staging", "stagingAcr", "stagingUrl"), ("production", "productionAcr", "productionUrl")):
        c.check(re.search(rf'^acr_name\s*=\s*"{var[acr_var]}"', tfv[env], re.M), f"{acr_var} = {var[acr_var]} is the ACR of envs/{env}.tfvars")
        host = re.sub(r"^https://", "", var[url_var]).rstrip("/")
        kust = read("deploy", "k8s", "overlays", env, "kustomization.yaml")
        c.check(f"value: {host}" in kust or (env == "production" and host in read("deploy", "k8s", "base", "ingress.yaml")),
                f"{url_var} host {host} is the {env} Ingress host")
        t = text_of("Staging" if env == "staging" else "Production")
        c.check("kustomize edit set image" in t and f"overlays/{env}" in t, f"{env}: kustomize edit set image on overlays/{env}")
        c.check(f"$({acr_var}).azurecr.io/$(imageRepository):$(Build.BuildId)" in t, f"{env}: deploys the image of this build from its ACR")
        c.check("rollout status" in t and "rollout undo" in t, f"{env}: waits for the rollout and rolls back on failure")
        c.check("kubectl apply" in t and "--force-conflicts" not in t and "--server-side" not in t,
                f"{env}: client-side kubectl apply (keeps the HPA's replica count)")
        c.check("azure-env.sh" in t, f"{env}: writes the model volume settings from terraform output")
    c.check("az acr import" in text_of("Production"), "production promotes the tested image from staging (az acr import)")
    c.check("smoke-test.sh" in text_of("Smoke") and "$(stagingUrl)" in text_of("Smoke") and "smokeUrl" in json.dumps(p) and "smoke-test.sh" in text_of("Production"),
            "smoke tests through the staging ingress, and production after its rollout")
    smoke = read("deploy", "tools", "smoke-test.sh")
    c.check("/v2/health/ready" in smoke and "/infer" in smoke and "/v2/models/$model/ready" in smoke, "smoke-test.sh checks readiness, model readiness and one inference")

    with tempfile.TemporaryDirectory() as d:
        for (sn, jn), ss in sorted(all_steps.items()):
            for name, script in shell_scripts(ss):
                rc, out, err = shellcheck(f"{sn}_{jn}_{name}", script, d)
                c.check(rc == 0, f"shellcheck: {sn}.{jn} '{name}'", out + err)
        rc, out, _ = shellcheck("bad", 'x=$(ls *.txt)\nfor f in $x; do rm $f; done\ncd /tmp\n', d)
        c.check(rc != 0, "shellcheck rejects a sloppy script (negative control)")

    # Negative controls.
    bad = copy.deepcopy(p)
    bad["stages"][0]["jobs"][0]["stepz"] = bad["stages"][0]["jobs"][0].pop("steps")
    bad["stages"][1]["jobs"][0]["steps"][1]["task"] = "Docker"
    bad["stages"][2]["displayname"] = "typo"
    ans = node_validate("ajv", {"schema": SCHEMA, "data": bad})
    c.check(not ans["ok"], "the schema rejects misspelt keys and a task without a version")
    bad = copy.deepcopy(p)
    bad["stages"][1]["dependsOn"] = "Biuld"
    bad["stages"][0]["dependsOn"] = "Production"
    e, _ = stage_graph_errors(bad)
    c.check(any("unknown stage Biuld" in x for x in e) and any("cycle" in x for x in e), "dangling dependsOn and cycles are detected", str(e))
    e = []
    expand([{"template": "deploy/pipelines/deploy-steps.yml", "parameters": {"environment": "prod", "colour": "x"}}], e, "neg")
    c.check(any("colour" in x for x in e) and any("'prod'" in x for x in e) and any("needs parameter image" in x for x in e),
            "template calls with unknown, invalid or missing parameters are rejected", str(e))
    c.done()


if __name__ == "__main__":
    main()
