#!/usr/bin/env python3
"""CLI tests: runs the real treeserve binary ($TREESERVE_BIN) from the repository
root ($TREESERVE_SRC) and checks exit codes, messages, every flag of predict /
inspect / bench, CSV edge cases (quoted fields, BOM, CRLF, no trailing newline,
wrong column count, blank lines, column order), JSON and JSONL inputs, and that
outputs reproduce tests/golden/<case>/{pred,raw,leaf,contrib}.csv.

Comparison: every value is parsed as a float. raw and leaf must be identical;
pred must be identical for the cases in EXACT_CASES and within 1e-15 relative
elsewhere (the README of tests/golden allows a few ULP where the transform's
arithmetic may differ). Each output field must also be the shortest string
that round-trips (no longer than Python's repr of the same value). contrib
must be within 1e-12 * max(1, |expected|), the bound of the SHAP unit tests.
"""
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.environ.get("TREESERVE_SRC") or os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("TREESERVE_BIN") or os.path.join(ROOT, "build", "treeserve")
GOLDEN = os.path.join(ROOT, "tests", "golden")
EXACT_CASES = ["binary", "multiclass_softmax", "pandas_categorical", "predict_iteration_range_binary",
               "feature_names_unicode", "categorical_int", "nan_missing_binary", "linear_tree",
               "regression_l2", "lambdarank", "rf_binary"]
TIMEOUT = 120

failures = []
checks = 0


def check(cond, what):
    global checks
    checks += 1
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def run(*args, stdin=None):
    p = subprocess.run([BIN, *args], capture_output=True, timeout=TIMEOUT, input=stdin)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def parse_csv_floats(text):
    rows = []
    for line in text.splitlines():
        rows.append([float(x) for x in line.split(",")] if line else [])
    return rows


def same_float(a, b):
    return (math.isnan(a) and math.isnan(b)) or a == b and math.copysign(1, a) == math.copysign(1, b)


def compare(out_text, expected_path, exact, label, rel=1e-15, floor=1e-300):
    """Compares CSV output with an expected file, value by value: identical, or
    |a - b| <= rel * max(|b|, floor)."""
    with open(expected_path) as f:
        want = parse_csv_floats(f.read())
    got = parse_csv_floats(out_text)
    if len(got) != len(want):
        check(False, f"{label}: {len(got)} lines, want {len(want)}")
        return False
    worst = 0.0
    for i, (g, w) in enumerate(zip(got, want)):
        if len(g) != len(w):
            check(False, f"{label}: line {i + 1} has {len(g)} columns, want {len(w)}")
            return False
        for a, b in zip(g, w):
            if same_float(a, b):
                continue
            if exact:
                check(False, f"{label}: line {i + 1}: {a!r} != {b!r}")
                return False
            d = abs(a - b) / max(abs(b), floor)
            worst = max(worst, d)
    check(worst <= rel, f"{label}: max relative difference {worst:g} > {rel:g}")
    return True


def check_shortest(out_text, label):
    """Every field parses and is no longer than Python's shortest repr."""
    for line in out_text.splitlines()[:50]:
        for tok in line.split(","):
            v = float(tok)
            r = repr(v)
            if r.endswith(".0"):
                r = r[:-2]
            if r in ("nan", "inf", "-inf"):
                continue
            if len(tok) > len(r) or float(tok) != v:
                check(False, f"{label}: '{tok}' is not the shortest form ('{r}')")
                return
    check(True, label)


def meta(case):
    with open(os.path.join(GOLDEN, case, "meta.json")) as f:
        return json.load(f)


def iter_flags(case):
    kw = meta(case).get("predict_kwargs", {})
    flags = []
    if "start_iteration" in kw:
        flags += ["--start-iteration", str(kw["start_iteration"])]
    if "num_iteration" in kw:
        flags += ["--num-iteration", str(kw["num_iteration"])]
    return flags


def golden_cases():
    return sorted(d for d in os.listdir(GOLDEN) if os.path.isdir(os.path.join(GOLDEN, d)))


# --------------------------------------------------------------------------
def test_golden():
    print("== predict reproduces tests/golden (value, raw, leaf) for every case")
    for case in golden_cases():
        d = os.path.join(GOLDEN, case)
        model, X = os.path.join(d, "model.txt"), os.path.join(d, "X.csv")
        for typ, fname in (("value", "pred.csv"), ("raw", "raw.csv"), ("leaf", "leaf.csv")):
            rc, out, err = run("predict", "--model", model, "--input", X, "--type", typ, *iter_flags(case))
            if rc != 0:
                check(False, f"{case} --type {typ}: exit {rc}: {err.strip()}")
                continue
            check(err == "", f"{case} --type {typ}: quiet stderr (got {err!r})")
            exact = typ != "value" or case in EXACT_CASES
            compare(out, os.path.join(d, fname), exact, f"{case} {fname}")
            if typ == "leaf":
                check(all(t.isdigit() for t in out.replace("\n", ",").split(",") if t),
                      f"{case}: leaf indices written as integers")
            if case in ("binary", "digits_multiclass") and typ != "leaf":
                check_shortest(out, f"{case} {typ}: shortest round-trip doubles")
    print(f"   {len(golden_cases())} cases")


def test_contrib():
    print("== predict --type contrib reproduces contrib.csv (within 1e-12, as the SHAP tests)")
    n = 0
    for case in golden_cases():
        d = os.path.join(GOLDEN, case)
        model, X = os.path.join(d, "model.txt"), os.path.join(d, "X.csv")
        rc, out, err = run("predict", "--model", model, "--input", X, "--type", "contrib", *iter_flags(case))
        if not os.path.exists(os.path.join(d, "contrib.csv")):
            # linear trees: LightGBM has no SHAP for them, neither do we
            check(rc == 1 and "model.txt" in err and "contrib" in err,
                  f"{case}: --type contrib refused naming the model (exit {rc}, {err.strip()!r})")
            continue
        if rc != 0:
            check(False, f"{case} --type contrib: exit {rc}: {err.strip()}")
            continue
        compare(out, os.path.join(d, "contrib.csv"), False, f"{case} contrib.csv", rel=1e-12, floor=1.0)
        n += 1
    check(n >= 40, f"contrib compared for {n} cases")


def test_help_and_usage():
    print("== --help on every subcommand; usage errors exit 2 naming the problem")
    for cmd, flags in (("predict", ["--model", "--input", "--output", "--type", "--start-iteration",
                                    "--num-iteration", "--threads", "contrib"]),
                       ("inspect", ["--model", "--json"]),
                       ("bench", ["--model", "--input", "--json", "--type", "--threads", "--seconds"])):
        rc, out, err = run(cmd, "--help")
        check(rc == 0, f"{cmd} --help exits 0 (got {rc})")
        check(out.startswith(f"usage: treeserve {cmd}"), f"{cmd} --help prints usage on stdout")
        for fl in flags:
            check(fl in out, f"{cmd} --help mentions {fl}")
        rc, out, _ = run(cmd, "-h")
        check(rc == 0 and "usage:" in out, f"{cmd} -h")
    m = os.path.join(GOLDEN, "binary", "model.txt")
    X = os.path.join(GOLDEN, "binary", "X.csv")
    cases = [
        (["predict"], "missing required option --model"),
        (["predict", "--model", m], "missing required option --input"),
        (["predict", "--input", X], "missing required option --model"),
        (["predict", "--model", m, "--input", X, "--bogus"], "unknown option '--bogus'"),
        (["predict", "--model", m, "--input", X, "--threads", "x"], "bad value 'x' for --threads"),
        (["predict", "--model", m, "--input", X, "--threads", "-1"], "bad value '-1' for --threads"),
        (["predict", "--model", m, "--input", X, "--threads=2x"], "bad value '2x' for --threads"),
        (["predict", "--model", m, "--input", X, "--start-iteration", "-3"], "--start-iteration"),
        (["predict", "--model", m, "--input", X, "--num-iteration", "1.5"], "bad value '1.5' for --num-iteration"),
        (["predict", "--model", m, "--input", X, "--type", "probability"], "bad value 'probability' for --type"),
        (["predict", "--model", m, "--input", X, "--model", m], "option --model given more than once"),
        (["predict", "--model", m, "--input", X, "extra"], "unexpected argument 'extra'"),
        (["predict", "--model", m, "--input"], "option --input needs a value"),
        (["predict", "--model=", "--input", X], "--model needs a non-empty value"),
        (["predict", "--model", m, "--input", "rows.txt"], "rows.txt: unknown input format"),
        (["inspect"], "missing required option --model"),
        (["inspect", "--model", m, "--json=yes"], "option --json takes no value"),
        (["bench", "--model", m], "missing required option --input"),
        (["bench", "--model", m, "--input", X, "--seconds", "0"], "bad value '0' for --seconds"),
        (["bench", "--model", m, "--input", X, "--seconds", "nan"], "bad value 'nan' for --seconds"),
        (["nosuchcommand"], "unknown command"),
        ([], "usage"),
    ]
    for args, msg in cases:
        rc, out, err = run(*args)
        check(rc == 2, f"{' '.join(args) or '(no args)'}: exit 2 (got {rc}, stderr {err.strip()[:200]!r})")
        check(msg in err, f"{' '.join(args)}: stderr mentions {msg!r} (got {err.strip()[:300]!r})")
        check(out == "", f"{' '.join(args)}: nothing on stdout")


def test_runtime_errors(tmp):
    print("== runtime errors exit 1 and name the file, line, column or feature")
    m = os.path.join(GOLDEN, "binary", "model.txt")
    X = os.path.join(GOLDEN, "binary", "X.csv")
    rc, _, err = run("predict", "--model", os.path.join(tmp, "nope.txt"), "--input", X)
    check(rc == 1 and "nope.txt" in err, f"missing model: exit 1 naming it ({rc}, {err.strip()!r})")
    bad_model = os.path.join(tmp, "bad_model.txt")
    with open(os.path.join(GOLDEN, "binary", "model.txt")) as f:
        lines = f.read().split("\n")
    with open(bad_model, "w") as f:
        f.write("\n".join(lines[:40]))  # truncated
    rc, _, err = run("predict", "--model", bad_model, "--input", X)
    check(rc == 1 and "bad_model.txt" in err, f"truncated model: exit 1 naming it ({rc}, {err.strip()!r})")
    rc, _, err = run("inspect", "--model", bad_model)
    check(rc == 1 and "bad_model.txt" in err, f"inspect truncated model: exit 1 ({rc}, {err.strip()!r})")
    rc, _, err = run("predict", "--model", m, "--input", os.path.join(tmp, "none.csv"))
    check(rc == 1 and "none.csv: cannot open" in err, f"missing input: exit 1 naming it ({err.strip()!r})")
    rc, _, err = run("predict", "--model", m, "--input", X, "--output", os.path.join(tmp, "no", "dir", "o.csv"))
    check(rc == 1 and "o.csv: cannot create" in err, f"unwritable output: exit 1 naming it ({err.strip()!r})")

    with open(X) as f:
        text = f.read()
    lines = text.split("\n")

    def write(name, content, mode="w"):
        p = os.path.join(tmp, name)
        with open(p, mode) as f:
            f.write(content)
        return p

    cells = lines[2].split(",")
    bad = write("wrong_count.csv", "\n".join(lines[:2] + [",".join(cells[:-1])] + lines[3:]))
    rc, _, err = run("predict", "--model", m, "--input", bad)
    check(rc == 1 and "wrong_count.csv:3: expected 28 fields, found 27" in err,
          f"wrong column count message ({err.strip()!r})")
    cells2 = lines[4].split(",")
    cells2[6] = "abc"
    bad = write("not_number.csv", "\n".join(lines[:4] + [",".join(cells2)] + lines[5:]))
    rc, _, err = run("predict", "--model", m, "--input", bad)
    check(rc == 1 and "not_number.csv:5: column 7 (feature 'Column_6'): not a number: \"abc\"" in err,
          f"non-number message ({err.strip()!r})")
    header = lines[0].split(",")
    bad = write("missing_feature.csv", "\n".join(
        [",".join(h for h in header if h != "Column_9")] +
        [",".join(c for j, c in enumerate(l.split(",")) if header[j] != "Column_9") for l in lines[1:] if l]))
    rc, _, err = run("predict", "--model", m, "--input", bad)
    check(rc == 1 and "missing_feature.csv:1: no column for feature 'Column_9'" in err,
          f"missing feature message ({err.strip()!r})")
    bad = write("open_quote.csv", "\n".join(lines[:3] + ['"0.5,' + lines[3]] + lines[4:]))
    rc, _, err = run("predict", "--model", m, "--input", bad)
    check(rc == 1 and "open_quote.csv:4: quoted field not closed" in err, f"unterminated quote ({err.strip()!r})")
    bad = write("bad.json", '[{"Column_0": 1,\n "Column_1": x}]')
    rc, _, err = run("predict", "--model", m, "--input", bad)
    check(rc == 1 and "bad.json:2: invalid JSON" in err, f"bad JSON names file and line ({err.strip()!r})")
    bad = write("bad2.json", '[{"Column_0": 1,\n "Column_1": }]')
    rc, _, err = run("predict", "--model", m, "--input", bad)
    check(rc == 1 and "bad2.json:2: invalid JSON: expected a value" in err, f"key without value ({err.strip()!r})")
    bad = write("bad3.json", '[{"Column_0": 1},,\n{"Column_0": 2}]')
    rc, _, err = run("predict", "--model", m, "--input", bad)
    check(rc == 1 and "bad3.json:1: invalid JSON: expected a value" in err, f"doubled comma ({err.strip()!r})")
    bad = write("bad.jsonl", '{"Column_0": 1}\n')
    rc, _, err = run("predict", "--model", m, "--input", bad)
    check(rc == 1 and "bad.jsonl:1: row 1: no value for feature 'Column_1'" in err,
          f"JSONL missing feature ({err.strip()!r})")
    empty = write("empty.csv", "")
    rc, _, err = run("predict", "--model", m, "--input", empty)
    check(rc == 1 and "empty.csv:1: empty input" in err, f"empty CSV ({err.strip()!r})")


def test_csv_edge_cases(tmp):
    print("== CSV edge cases give the same predictions as the plain file")
    d = os.path.join(GOLDEN, "binary")
    m, X = os.path.join(d, "model.txt"), os.path.join(d, "X.csv")
    with open(X) as f:
        text = f.read()
    assert text.endswith("\n")
    lines = text[:-1].split("\n")
    header = lines[0].split(",")
    rows = [l.split(",") for l in lines[1:]]
    perm = list(reversed(range(len(header))))
    variants = {
        "quoted.csv": "\n".join(",".join(f'"{c}"' for c in l.split(",")) for l in lines) + "\n",
        "bom.csv": "\ufeff" + text,
        "crlf.csv": text.replace("\n", "\r\n"),
        "no_trailing_newline.csv": text[:-1],
        "crlf_no_trailing.csv": text[:-1].replace("\n", "\r\n"),
        "blank_lines.csv": lines[0] + "\n\n" + "\n".join(lines[1:250]) + "\n\n\n" + "\n".join(lines[250:]) + "\n",
        "reordered_extra.csv": "\n".join(
            [",".join([header[j] for j in perm] + ["label", '"note, with comma"'])] +
            [",".join([r[j] for j in perm] + ["1", '"say ""hi""\nsecond line"']) for r in rows]) + "\n",
        "spaces.csv": "\n".join([lines[0]] + [",".join(f" {c} " if c else c for c in r) for r in rows]) + "\n",
    }
    for name, content in variants.items():
        p = os.path.join(tmp, name)
        with open(p, "w", newline="") as f:
            f.write(content)
        rc, out, err = run("predict", "--model", m, "--input", p, "--type", "raw")
        check(rc == 0, f"{name}: exit 0 (got {rc}: {err.strip()!r})")
        if rc == 0:
            compare(out, os.path.join(d, "raw.csv"), True, name)
    # missing markers: nan / NaN / NA / null / empty give the same as the empty field
    marked = []
    for i, r in enumerate(rows):
        r = list(r)
        for j, c in enumerate(r):
            if c == "":
                r[j] = ["", "nan", "NaN", "NA", "null"][(i + j) % 5]
        marked.append(",".join(r))
    d2 = os.path.join(GOLDEN, "nan_missing_binary")
    with open(os.path.join(d2, "X.csv")) as f:
        nlines = f.read().rstrip("\n").split("\n")
    out_rows = []
    for i, l in enumerate(nlines[1:]):
        cells = l.split(",")
        out_rows.append(",".join(["", "nan", "NaN", "NA", "null"][(i + j) % 5] if c == "" else c
                                 for j, c in enumerate(cells)))
    p = os.path.join(tmp, "markers.csv")
    with open(p, "w") as f:
        f.write(nlines[0] + "\n" + "\n".join(out_rows) + "\n")
    rc, out, err = run("predict", "--model", os.path.join(d2, "model.txt"), "--input", p, "--type", "raw")
    check(rc == 0, f"missing markers: exit 0 ({err.strip()!r})")
    if rc == 0:
        compare(out, os.path.join(d2, "raw.csv"), True, "missing markers nan/NaN/NA/null")


def test_json_inputs(tmp):
    print("== JSON (array of objects) and JSONL inputs")
    d = os.path.join(GOLDEN, "pandas_categorical")
    m = os.path.join(d, "model.txt")
    rec = os.path.join(d, "records.json")
    rc, out, err = run("predict", "--model", m, "--input", rec)
    check(rc == 0, f"records.json: exit 0 ({err.strip()!r})")
    if rc == 0:
        compare(out, os.path.join(d, "pred.csv"), True, "pandas_categorical records.json pred")
    with open(rec) as f:
        records = json.load(f)
    p = os.path.join(tmp, "records.jsonl")
    with open(p, "w") as f:
        for r in records:
            f.write(json.dumps(r) + "\n")
    for typ, fname in (("raw", "raw.csv"), ("leaf", "leaf.csv")):
        rc, out, err = run("predict", "--model", m, "--input", p, "--type", typ)
        check(rc == 0, f"records.jsonl --type {typ}: exit 0 ({err.strip()!r})")
        if rc == 0:
            compare(out, os.path.join(d, fname), True, f"pandas_categorical records.jsonl {typ}")
    # ensure_ascii escapes and pretty-printing are fine too
    p = os.path.join(tmp, "pretty.json")
    with open(p, "w") as f:
        json.dump(records, f, indent=2, ensure_ascii=True)
    rc, out, err = run("predict", "--model", m, "--input", p, "--type", "raw")
    check(rc == 0, f"pretty.json: exit 0 ({err.strip()!r})")
    if rc == 0:
        compare(out, os.path.join(d, "raw.csv"), True, "pretty-printed JSON")
    # unicode feature names as JSON keys (original names, with spaces, \\u escapes)
    d2 = os.path.join(GOLDEN, "feature_names_unicode")
    import csv
    with open(os.path.join(d2, "X.csv"), newline="", encoding="utf-8") as f:
        rd = csv.reader(f)
        hdr = next(rd)
        objs = [{k: (float(v) if v != "" else None) for k, v in zip(hdr, row)} for row in rd]
    p = os.path.join(tmp, "unicode.json")
    with open(p, "w") as f:
        json.dump(objs, f, ensure_ascii=True)
    rc, out, err = run("predict", "--model", os.path.join(d2, "model.txt"), "--input", p, "--type", "raw")
    check(rc == 0, f"unicode keys JSON: exit 0 ({err.strip()!r})")
    if rc == 0:
        compare(out, os.path.join(d2, "raw.csv"), True, "feature_names_unicode via JSON")


def test_output_and_threads(tmp):
    print("== --output, --threads, stdout, iteration flags")
    d = os.path.join(GOLDEN, "multiclass_softmax")
    m, X = os.path.join(d, "model.txt"), os.path.join(d, "X.csv")
    o = os.path.join(tmp, "out.csv")
    rc, out, err = run("predict", "--model", m, "--input", X, "--output", o)
    check(rc == 0 and out == "" and err == "", f"--output: exit 0, nothing on stdout ({rc}, {err!r})")
    with open(o) as f:
        compare(f.read(), os.path.join(d, "pred.csv"), True, "--output file")
    rc, out1, _ = run("predict", "--model", m, "--input", X, "--threads", "1")
    rc2, out2, _ = run("predict", "--model", m, "--input", X, "--threads=2")
    rc3, out3, _ = run("predict", "--model", m, "--input", X, "--output", "-")
    check(rc == 0 and rc2 == 0 and rc3 == 0 and out1 == out2 == out3, "--threads 1, 2 and --output - agree")
    d = os.path.join(GOLDEN, "predict_iteration_range_binary")
    m, X = os.path.join(d, "model.txt"), os.path.join(d, "X.csv")
    rc, out, err = run("predict", "--model", m, "--input", X, "--start-iteration=10", "--num-iteration=20", "--type=leaf")
    check(rc == 0 and len(out.splitlines()[0].split(",")) == 20, "iteration range: 20 leaf columns")
    compare(out, os.path.join(d, "leaf.csv"), True, "iteration range leaf")
    rc, out, err = run("predict", "--model", m, "--input", X, "--type", "leaf")
    check(rc == 0 and len(out.splitlines()[0].split(",")) == 60, "no iteration flags: all 60 trees")
    rc, out, err = run("predict", "--model", m, "--input", X, "--num-iteration", "-1", "--type", "leaf")
    check(rc == 0 and len(out.splitlines()[0].split(",")) == 60, "--num-iteration -1: all trees")
    rc, out, err = run("predict", "--model", m, "--input", X, "--start-iteration", "1000", "--type", "leaf")
    check(rc == 0, f"--start-iteration past the end is clamped like LightGBM (exit {rc}, {err.strip()!r})")
    # header-only input: no output lines
    p = os.path.join(tmp, "header_only.csv")
    with open(X) as f:
        hdr = f.readline()
    with open(p, "w") as f:
        f.write(hdr)
    rc, out, err = run("predict", "--model", m, "--input", p)
    check(rc == 0 and out == "", f"header-only input: no output ({rc}, {err!r})")


def test_run_example():
    print("== the README's main job (scripts/run-example.sh command)")
    rc, out, err = run("predict", "--model", os.path.join(ROOT, "examples/models/binary/1/model.txt"),
                       "--input", os.path.join(ROOT, "examples/binary.csv"))
    check(rc == 0 and len(out.splitlines()) > 0, f"example predict works ({rc}, {err.strip()!r})")


def test_inspect():
    print("== inspect (text and --json)")
    for case in ("binary", "pandas_categorical", "digits_multiclass", "linear_tree", "rf_binary"):
        m = os.path.join(GOLDEN, case, "model.txt")
        mt = meta(case)
        rc, out, err = run("inspect", "--model", m)
        check(rc == 0, f"inspect {case}: exit 0 ({err.strip()!r})")
        for word in ("objective", "transform", "classes", "trees", "leaves", "depth", "features",
                     "memory", "load time"):
            check(word in out, f"inspect {case}: text mentions {word}")
        rc, out, err = run("inspect", "--model", m, "--json")
        check(rc == 0, f"inspect --json {case}: exit 0")
        try:
            j = json.loads(out)
        except ValueError as e:
            check(False, f"inspect --json {case}: valid JSON ({e})")
            continue
        check(j["num_trees"] == mt["num_trees_in_model"], f"{case}: num_trees {j['num_trees']}")
        check(j["num_class"] == mt["num_class"], f"{case}: num_class")
        check(j["num_single_leaf_trees"] == mt["num_single_leaf_trees"], f"{case}: single-leaf trees")
        check(j["num_features"] == mt["num_feature"] == len(j["features"]), f"{case}: features")
        check([f["name"] for f in j["features"]] == mt["feature_names_in_model"], f"{case}: feature names")
        cats = set(mt.get("categorical_feature_indices", []))
        check({f["index"] for f in j["features"] if f["kind"] == "categorical"} == cats,
              f"{case}: categorical features {cats}")
        for key in ("objective", "transform", "total_leaves", "depth", "model_memory_bytes",
                    "forest_memory_bytes", "load_seconds"):
            check(key in j, f"inspect --json {case}: key {key}")
        if case == "pandas_categorical":
            pc = [f.get("pandas_categories") for f in j["features"] if "pandas_categories" in f]
            check(pc == mt["pandas_categorical_in_model"], f"pandas categories listed ({pc})")
        if case == "rf_binary":
            check(j["average_output"] is True, "rf: average_output")
        if case == "linear_tree":
            check(j["linear_trees"] is True, "linear_tree: linear_trees")


def test_inspect_invalid_utf8(tmp):
    print("== inspect --json with a feature name that is not UTF-8")
    with open(os.path.join(GOLDEN, "binary", "model.txt"), "rb") as f:
        text = f.read()
    # a Latin-1 byte in a feature name (and its importance line): the model loads, the JSON must stay valid
    bad = os.path.join(tmp, "latin1_name.txt")
    with open(bad, "wb") as f:
        f.write(text.replace(b"Column_0", b"Col\xe9_0"))
    p = subprocess.run([BIN, "inspect", "--model", bad, "--json"], capture_output=True, timeout=TIMEOUT)
    check(p.returncode == 0, f"inspect --json of a Latin-1 feature name: exit 0 ({p.stderr[-200:]!r})")
    try:
        j = json.loads(p.stdout.decode("utf-8"))  # strict: invalid UTF-8 is not JSON
        check(j["features"][0]["name"] == "Col\ufffd_0", f"the invalid byte is U+FFFD ({j['features'][0]['name']!r})")
    except (UnicodeDecodeError, ValueError) as e:
        check(False, f"inspect --json output is valid UTF-8 JSON ({e})")


def test_bench():
    print("== bench (text and --json)")
    d = os.path.join(GOLDEN, "binary")
    m, X = os.path.join(d, "model.txt"), os.path.join(d, "X.csv")
    rc, out, err = run("bench", "--model", m, "--input", X, "--json", "--seconds", "0.05", "--threads", "2")
    check(rc == 0, f"bench --json: exit 0 ({err.strip()!r})")
    try:
        j = json.loads(out)
    except ValueError as e:
        check(False, f"bench --json prints one JSON object ({e}: {out[:200]!r})")
        return
    for key in ("load_seconds", "rows", "threads", "single_row_rows_per_s", "batch_1thread_rows_per_s",
                "batch_all_threads_rows_per_s", "single_row_ns_per_row", "batch_1thread_ns_per_row",
                "batch_all_threads_ns_per_row", "peak_rss_bytes", "model", "type"):
        check(key in j, f"bench --json has {key}")
    check(j.get("rows") == 500 and j.get("threads") == 2, "bench: rows and threads")
    check(j.get("outputs_identical") is True, "bench: outputs identical across modes")
    check(all(j.get(k, 0) > 0 for k in ("single_row_rows_per_s", "batch_1thread_rows_per_s",
                                         "batch_all_threads_rows_per_s", "peak_rss_bytes")), "bench: positive numbers")
    rc, out, err = run("bench", "--model", m, "--input", X, "--seconds", "0.02", "--type", "raw")
    check(rc == 0 and "rows/s" in out and "single-row" in out, f"bench text table ({err.strip()!r})")
    rc, out, err = run("bench", "--model", os.path.join(GOLDEN, "pandas_categorical", "model.txt"),
                       "--input", os.path.join(GOLDEN, "pandas_categorical", "records.json"),
                       "--seconds", "0.02", "--json", "--type", "leaf")
    check(rc == 0 and json.loads(out)["rows"] == 500, f"bench with JSON input ({err.strip()!r})")
    rc, out, err = run("bench", "--model", m, "--input", X, "--seconds", "0.02", "--json", "--type", "contrib")
    check(rc == 0 and json.loads(out)["type"] == "contrib" and json.loads(out)["outputs_identical"],
          f"bench --type contrib ({err.strip()!r})")
    # A phase stops when its time is up, even before the whole input was
    # predicted; only the rows every mode reached are compared (and counted).
    j = json.loads(out) if rc == 0 else {}
    check(0 < j.get("compared_rows", 0) <= 500, "bench reports the rows it compared (%s)" % j.get("compared_rows"))
    rc, out, err = run("bench", "--model", m, "--input", X, "--seconds", "0.5", "--json", "--type", "raw")
    j = json.loads(out) if rc == 0 else {}
    check(j.get("compared_rows") == 500, "bench: a long enough phase compares every row (%s)" % j.get("compared_rows"))


def main():
    if not os.access(BIN, os.X_OK):
        print(f"no executable at {BIN}")
        return 1
    os.chdir(ROOT)
    tmp = tempfile.mkdtemp(prefix="ts-cli-")
    try:
        test_help_and_usage()
        test_runtime_errors(tmp)
        test_csv_edge_cases(tmp)
        test_json_inputs(tmp)
        test_output_and_threads(tmp)
        test_run_example()
        test_inspect()
        test_inspect_invalid_utf8(tmp)
        test_bench()
        test_golden()
        test_contrib()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{checks} checks, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
