/*
 * Internal entry points of the explainer, for src/explain/ and its unit tests
 * (tests build explainers on hand-made models and compare the two algorithms).
 */
#ifndef TS_EXPLAIN_INTERNAL_H
#define TS_EXPLAIN_INTERNAL_H

#include "treeserve/explain.h"
#include "treeserve/model.h"

/* Which per-tree algorithm ts_explain_rows runs (see shap_tree.h). */
enum { TS__EXPLAIN_FAST = 0, TS__EXPLAIN_PATH = 1 };

/* Same as ts_explainer_build but from a parsed model (borrowed: it must
 * outlive the explainer). */
int ts__explainer_build_model(const ts_model *m, ts_explainer **out, ts_error *err);

/* Selects the algorithm; call before the explainer is shared between threads.
 * Unknown values are ignored. */
void ts__explainer_set_algorithm(ts_explainer *e, int algorithm);

/* Depth of the deepest tree, in edges. */
int ts__explainer_max_depth(const ts_explainer *e);

#endif
