#!/usr/bin/env python3
"""Static checks of deploy/docker/Dockerfile and .dockerignore (no Docker engine needed).

Checks: multi-stage build that runs the CI dependency script and make; minimal runtime stage
with a pinned base image, non-root numeric USER, EXPOSE 8080, STOPSIGNAL SIGTERM, OCI labels,
exec-form ENTRYPOINT, the example model repository copied, no ADD; the runtime package list is
exactly what `ldd $TREESERVE_BIN` needs (shared objects mapped to Debian packages with dpkg -S);
.dockerignore lets in every COPY source and keeps build outputs out; dockerfile-utils and
dockerfilelint pass. Every checker is also run on a deliberately broken Dockerfile and must
reject it.
"""
import fnmatch
import os
import re
import shlex
import sys
import tempfile

sys.dont_write_bytecode = True  # importing deploylib must not leave a __pycache__ here
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from deploylib import BIN, Checker, path, read, run, need_tools  # noqa: E402

DOCKERFILE = "deploy/docker/Dockerfile"
OCI_LABELS = ["title", "description", "version", "revision", "created", "source", "licenses"]


def parse(text):
    """Returns [(line number, INSTRUCTION, argument string)] with continuations joined."""
    out, buf, start = [], "", 0
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not buf and (not line or line.startswith("#")):
            continue
        if buf and line.startswith("#"):
            continue  # comment lines inside a continued instruction are dropped by Docker too
        if not buf:
            start = n
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        buf += line
        word, _, rest = buf.partition(" ")
        out.append((start, word.upper(), rest.strip()))
        buf = ""
    return out


def stages(instrs):
    st = []
    for ins in instrs:
        if ins[1] == "FROM":
            st.append({"from": ins[2], "instrs": []})
        elif st:
            st[-1]["instrs"].append(ins)
    return st


def arg_defaults(stage):
    d = {}
    for _, op, rest in stage["instrs"]:
        if op == "ARG" and "=" in rest:
            k, v = rest.split("=", 1)
            d[k.strip()] = shlex.split(v)[0] if v.strip() else ""
    return d


def runtime_packages(stage):
    """Packages the runtime stage installs: `apt-get install` words that are not options,
    with ${VAR} expanded from the stage's ARG defaults."""
    args = arg_defaults(stage)
    pkgs = set()
    for _, op, rest in stage["instrs"]:
        if op != "RUN":
            continue
        for cmd in re.split(r"&&|;", rest):
            words = cmd.split()
            if len(words) >= 2 and words[0] == "apt-get" and "install" in words:
                for w in words[words.index("install") + 1:]:
                    m = re.fullmatch(r"\$\{?(\w+)\}?", w)
                    if m:
                        pkgs.update(args.get(m.group(1), "").split())
                    elif not w.startswith("-"):
                        pkgs.add(w)
    return pkgs


def static_checks(text, c):
    """All structural checks on a Dockerfile's text; returns the runtime stage or None."""
    instrs = parse(text)
    st = stages(instrs)
    ok = c.check(len(st) >= 2, "multi-stage build (at least a build and a runtime stage)", f"{len(st)} stage(s)")
    if not ok:
        return None
    build, rt = st[0], st[-1]
    for s in st:
        img = (s["from"].split() or ["<missing>"])[0]
        c.check(re.fullmatch(r"[\w./-]+:[\w.-]+(@sha256:[0-9a-f]{64})?", img) and not img.endswith(":latest"),
                f"base image {img} is pinned to a tag other than latest")
    c.check(re.search(r"\bAS\s+build\b", build["from"], re.I), "first stage is named 'build'")
    c.check(re.search(r"-slim|distroless", rt["from"]), "runtime stage is debian-slim or distroless", rt["from"])
    runs_b = " ".join(r for _, op, r in build["instrs"] if op == "RUN")
    c.check("scripts/install-deps.sh --build-only" in runs_b, "build stage runs scripts/install-deps.sh --build-only (same as CI)")
    c.check(re.search(r"\bmake\b", runs_b), "build stage runs make")
    c.check(not any(op == "ADD" for _, op, _ in instrs), "no ADD (COPY only, never a remote URL)")
    c.check(not re.search(r"\b(curl|wget)\b", " ".join(r for _, op, r in instrs if op == "RUN")),
            "no downloads in RUN (curl/wget)")
    users = [r for _, op, r in rt["instrs"] if op == "USER"]
    uid = users[-1].split(":")[0] if users else ""
    c.check(uid.isdigit() and int(uid) != 0, "runtime USER is a numeric non-root uid", f"USER {users[-1] if users else 'missing'}")
    exposes = [r for _, op, r in rt["instrs"] if op == "EXPOSE"]
    c.check(any(re.fullmatch(r"8080(/tcp)?", p) for e in exposes for p in e.split()), "EXPOSE 8080", str(exposes))
    sig = [r for _, op, r in rt["instrs"] if op == "STOPSIGNAL"]
    c.check(sig and sig[-1] == "SIGTERM", "STOPSIGNAL SIGTERM", str(sig))
    labels = " ".join(r for _, op, r in rt["instrs"] if op == "LABEL")
    missing = [k for k in OCI_LABELS if f"org.opencontainers.image.{k}=" not in labels]
    c.check(not missing, "OCI labels present", f"missing {missing}")
    ep = [r for _, op, r in rt["instrs"] if op == "ENTRYPOINT"]
    c.check(ep and ep[-1].startswith("[") and "treeserve" in ep[-1], "exec-form ENTRYPOINT runs treeserve", str(ep))
    copies = [r for _, op, r in rt["instrs"] if op == "COPY"]
    c.check(any(r.startswith("--from=build") and "build/treeserve" in r for r in copies),
            "runtime copies build/treeserve from the build stage")
    c.check(any(r.split()[0] == "examples/models" for r in copies), "runtime copies examples/models (demo model repository)")
    env = " ".join(r for _, op, r in rt["instrs"] if op == "ENV")
    c.check("TREESERVE_MODEL_REPOSITORY=" in env and "TREESERVE_PORT=8080" in env,
            "runtime ENV sets TREESERVE_MODEL_REPOSITORY and TREESERVE_PORT=8080")
    apt = " ".join(r for _, op, r in rt["instrs"] if op == "RUN" and "apt-get install" in r)
    c.check("--no-install-recommends" in apt and "rm -rf /var/lib/apt/lists" in apt,
            "runtime apt-get uses --no-install-recommends and cleans its lists in the same layer")
    return rt


def dockerignore_excluded(patterns, rel):
    """True if .dockerignore excludes rel (last matching pattern wins, ! re-includes)."""
    excluded = False
    for p in patterns:
        neg = p.startswith("!")
        pat = p[1:] if neg else p
        pat = pat.rstrip("/")
        parts = rel.split("/")
        prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
        hit = any(fnmatch.fnmatch(x, pat) for x in prefixes)
        if pat.startswith("**/"):
            hit = hit or any(fnmatch.fnmatch(x, pat[3:]) for x in parts)
        if hit:
            excluded = not neg
    return excluded


def needed_packages(binary, c):
    """(direct, all) Debian packages owning the shared objects binary loads."""
    rc, out, err = run(["ldd", binary])
    c.check(rc == 0, f"ldd {binary}", err.strip())
    libs = {}
    for line in out.splitlines():
        m = re.match(r"\s*(\S+)\s+=>\s+(/\S+)", line) or re.match(r"\s*(/\S+)\s+\(", line)
        if m:
            soname = os.path.basename(m.group(1))
            libs[soname] = os.path.realpath(m.group(m.lastindex))
    rc, out, _ = run(["readelf", "-d", binary])
    direct_sonames = set(re.findall(r"\(NEEDED\)\s+Shared library: \[(.+?)\]", out))

    def owner(p):
        for cand in (p, p.replace("/usr/lib/", "/lib/", 1), p.replace("/lib/", "/usr/lib/", 1)):
            rc2, o, _ = run(["dpkg", "-S", cand])
            if rc2 == 0:
                return o.split(":")[0].strip()
        return None

    all_pkgs, direct = set(), set()
    for soname, p in libs.items():
        pkg = owner(p)
        c.check(pkg is not None, f"{p} belongs to a Debian package")
        if pkg:
            all_pkgs.add(pkg)
            if soname in direct_sonames:
                direct.add(pkg)
    return direct, all_pkgs


def required_packages():
    """Packages every Debian image has (Essential or Priority: required); their
    dependencies (libc6 among them) come along, see depends_closure."""
    rc, out, _ = run(["dpkg-query", "-W", "-f", "${Package} ${Essential} ${Priority}\n"])
    return {l.split()[0] for l in out.splitlines() if " yes " in l or l.endswith(" required")}


def depends_closure(pkgs):
    seen, todo = set(), list(pkgs)
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        rc, out, _ = run(["dpkg-query", "-W", "-f", "${Depends},${Pre-Depends}", p])
        for alt in out.split(","):
            name = alt.strip().split("|")[0].split()[0].split(":")[0] if alt.strip() else ""
            if name:
                todo.append(name)
    return seen


def main():
    c = Checker("test_dockerfile")
    need_tools()
    text = read(DOCKERFILE)
    rt = static_checks(text, c)

    binary = os.environ.get("TREESERVE_BIN") or path("build", "treeserve")
    placeholder = "not available in this build yet" in run([binary, "serve", "--help"])[2] if os.access(binary, os.X_OK) else False
    if placeholder:
        # Until the HTTP server is linked in, the binary needs no libmicrohttpd: nothing to compare.
        print("SKIP runtime packages vs ldd: `treeserve serve` is still the placeholder")
    elif c.check(os.access(binary, os.X_OK), f"binary to inspect exists ({binary})") and rt:
        direct, all_pkgs = needed_packages(binary, c)
        base = depends_closure(required_packages())  # what a minimal Debian image holds
        want = direct - base
        have = runtime_packages(rt)
        c.check(have == want, "runtime package list equals the packages of the binary's direct NEEDED libraries "
                "(less those in every Debian image)", f"Dockerfile installs {sorted(have)}, ldd needs {sorted(want)}")
        closure = depends_closure(have) | base
        c.check(all_pkgs <= closure, "every library ldd resolves comes with those packages or the base image",
                f"not covered: {sorted(all_pkgs - closure)}")

    # .dockerignore: every COPY source from the context is sent, build outputs are not.
    pats = [l.strip() for l in read(".dockerignore").splitlines() if l.strip() and not l.startswith("#")]
    for _, op, rest in parse(text):
        if op == "COPY" and not rest.startswith("--from"):
            for src in rest.split()[:-1]:
                c.check(not dockerignore_excluded(pats, src.rstrip("/")) and os.path.exists(path(src)),
                        f".dockerignore lets COPY source {src} into the context and it exists")
    for p in ["build/treeserve", "build-san/x", ".git/config", "tools/node_modules/x", "deploy/terraform/main.tf"]:
        c.check(dockerignore_excluded(pats, p), f".dockerignore keeps {p} out of the context")

    rc, out, err = run([os.path.join(BIN, "dockerfile-utils"), "lint", path(DOCKERFILE)])
    c.check(rc == 0 and not out.strip(), "dockerfile-utils lint passes", out + err)
    rc, out, err = run([os.path.join(BIN, "dockerfilelint"), path(DOCKERFILE)])
    c.check(rc == 0, "dockerfilelint passes", out + err)

    # Negative controls: each checker must reject a broken Dockerfile.
    broken = ("FROM debian:latest\nADD https://example.invalid/x.tgz /x\n"
              "RUN apt-get update && apt-get install -y curl\nUSER root\nEXPOSE 99999\nFROM\nBOGUS x\n")
    inner = Checker("broken")
    devnull = open(os.devnull, "w")
    saved, sys.stdout = sys.stdout, devnull
    try:
        static_checks(broken, inner)
    finally:
        sys.stdout = saved
    c.check(len(inner.failures) >= 5, "static checks reject a broken Dockerfile", f"only {len(inner.failures)} failures")
    with tempfile.TemporaryDirectory() as d:
        bad = os.path.join(d, "Dockerfile")
        with open(bad, "w") as f:
            f.write(broken)
        rc, out, _ = run([os.path.join(BIN, "dockerfile-utils"), "lint", bad])
        c.check(rc != 0 and "Unknown instruction" in out, "dockerfile-utils lint rejects the broken Dockerfile")
        rc, out, _ = run([os.path.join(BIN, "dockerfilelint"), bad])
        c.check(rc != 0, "dockerfilelint rejects the broken Dockerfile")
    c.check(runtime_packages({"instrs": [(1, "ARG", 'P="a b"'), (2, "RUN", "apt-get install -y --no-install-recommends ${P} c")]})
            == {"a", "b", "c"}, "runtime package parser expands ARG defaults")
    c.check(dockerignore_excluded(["*", "!src/"], "build/x") and not dockerignore_excluded(["*", "!src/"], "src/a.c"),
            ".dockerignore matcher honours re-includes")
    c.done()


if __name__ == "__main__":
    main()
