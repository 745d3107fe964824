#!/usr/bin/env python3
"""A model whose SHAP explainer cannot be built (one tree deeper than the
explainer's depth limit) is still served for predictions, and asking it for
explanations (:explain, OIP and records "contrib") answers 422 with a message
that gives that cause too, not only the three configuration reasons."""
import json
import os
import shutil
import tempfile

from serverlib import Checks, Server

chk = Checks()
DEPTH = 1100  # internal nodes in one chain: deeper than TS_EXPLAIN_MAX_DEPTH (1024)


def chain_model():
    """One regression tree: node i sends x <= i to leaf i and the rest down the chain."""
    ni, nl = DEPTH, DEPTH + 1
    ints = lambda xs: " ".join(str(x) for x in xs)
    tree = ["Tree=0", "num_leaves=%d" % nl, "num_cat=0", "split_feature=" + ints([0] * ni),
            "split_gain=" + ints([1] * ni), "threshold=" + ints(range(ni)), "decision_type=" + ints([2] * ni),
            "left_child=" + ints([~i for i in range(ni)]),
            "right_child=" + ints([i + 1 for i in range(ni - 1)] + [~ni]),
            "leaf_value=" + ints(range(nl)), "leaf_weight=" + ints([1] * nl), "leaf_count=" + ints([1] * nl),
            "internal_value=" + ints([0] * ni), "internal_weight=" + ints([1] * ni),
            "internal_count=" + ints([1] * ni), "is_linear=0", "shrinkage=1", ""]
    head = ["tree", "version=v4", "num_class=1", "num_tree_per_iteration=1", "label_index=0", "max_feature_idx=0",
            "objective=regression", "feature_names=x0", "feature_infos=[0:%d]" % DEPTH, ""]
    return "\n".join(head + tree + ["end of trees", ""])


tmp = tempfile.mkdtemp(prefix="ts-explain-unavail-")
try:
    path = os.path.join(tmp, "deep.txt")
    with open(path, "w") as f:
        f.write(chain_model())
    srv = Server(["--model", "deep=" + path, "--threads", "1", "--drain-seconds", "0"])
    st, _, body = srv.request("POST", "/v1/models/deep:predict", {"instances": [[5.5], [2000]]})
    chk.ok(st == 200 and json.loads(body)["predictions"] == [6, DEPTH],
           "the deep model predicts (leaf 6 for 5.5, the last leaf for 2000): %d %r" % (st, body[:100]))
    answers = (("/v1/models/deep:explain", {"instances": [[5.5]]}, ":explain"),
               ("/v1/models/deep:predict", {"instances": [[5.5]], "output": "contrib"}, "records contrib"),
               ("/v2/models/deep/infer", {"inputs": [{"name": "x", "shape": [1, 1], "datatype": "FP64", "data": [5.5]}],
                                          "outputs": [{"name": "contrib"}]}, "OIP contrib"))
    for route, req, what in answers:
        st, _, body = srv.request("POST", route, req)
        msg = json.loads(body).get("error", "") if st != 200 else ""
        chk.ok(st == 422 and "explainer could not be built" in msg and "SHAP explainer not built" in msg,
               "%s -> 422 naming the failed explainer build and the log line to read (%d %r)" % (what, st, msg[:300]))
    log = "".join(srv.log)
    chk.ok("SHAP explainer not built" in log, "the server logged why the explainer was not built")
    srv.kill()
finally:
    shutil.rmtree(tmp, ignore_errors=True)
chk.done()
