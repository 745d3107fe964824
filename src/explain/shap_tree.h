/*
 * TreeSHAP for one tree: the per-tree data precomputed once at explainer build
 * time, the scratch one thread needs, and two exact algorithms over them.
 *
 * Internal to src/explain/ (and its unit tests). Nothing here allocates while
 * explaining: every buffer a call needs lives in a ts__shap_scratch sized at
 * build time from the deepest tree.
 *
 * The two algorithms compute the same numbers (path-dependent TreeSHAP over the
 * training cover stored as internal_count/leaf_count, as LightGBM's
 * Tree::PredictContrib), differing only in rounding:
 *
 *  - ts__shap_tree_path: the straight algorithm of Lundberg et al. as LightGBM
 *    runs it (extend/unwind of the unique feature path, unwound sums at every
 *    leaf): O(leaves * depth^2) per row. Kept as the reference the fast one is
 *    tested against.
 *  - ts__shap_tree_fast: the Shapley weights k!(d-1-k)!/d! are the integrals
 *    of t^k (1-t)^(d-1-k) over [0, 1], so a leaf's contribution to feature i is
 *    the integral of a polynomial of degree < depth (Linear TreeSHAP, Yu et al.
 *    2022). Gauss-Legendre quadrature with ceil(depth/2) points integrates it
 *    exactly, and the per-leaf polynomials are summed bottom-up, so a row costs
 *    O(leaves * depth / 2) per tree. See shap_tree.c for the derivation.
 */
#ifndef TS_EXPLAIN_SHAP_TREE_H
#define TS_EXPLAIN_SHAP_TREE_H

#include <stddef.h>
#include <stdint.h>

#include "model/model_internal.h"
#include "treeserve/error.h"

/* Deepest tree (in edges from the root to a leaf) an explainer accepts. The
 * scratch of one thread grows as depth^2 (about 70 KB at 64, 17 MB at 1024);
 * LightGBM models are far shallower in practice (num_leaves=255 trees are
 * 20-40 deep). Crossing it fails ts_explainer_build with TS_ELIMIT. */
#define TS_EXPLAIN_MAX_DEPTH 1024

/* Gauss-Legendre rule with n points on [0, 1]. */
typedef struct ts__gauss_rule {
  int n;
  double *t;    /* [n] nodes in (0, 1) */
  double *omt;  /* [n] 1 - t, computed without cancellation */
  double *ninv; /* [n] -1 / (1 - t) */
  double *w;    /* [n] weights, summing to 1 */
} ts__gauss_rule;

/* Fills `r` (arrays allocated here, free with ts__gauss_rule_free). */
int ts__gauss_rule_init(ts__gauss_rule *r, int n, ts_error *err);
void ts__gauss_rule_free(ts__gauss_rule *r);

/* One internal node as the fast algorithm reads it: everything in one
 * 40-byte record instead of six arrays of the model. */
typedef struct ts__shap_node {
  double threshold;      /* numerical threshold or category set index */
  double ratio[2];       /* count(left) / count(node), count(right) / count(node) */
  int32_t child[2];      /* left, right (negative: ~leaf) */
  int32_t feature;
  uint8_t decision_type;
} ts__shap_node;

/* Per-tree data: borrowed tree plus what TreeSHAP needs that does not depend
 * on the row. */
typedef struct ts__shap_tree {
  const ts_tree *tree;   /* borrowed from the model */
  int depth;             /* deepest leaf in edges, 0 for a single-leaf tree */
  int unique_depth;      /* most distinct features on one root-to-leaf path */
  double expected;       /* LightGBM's Tree::ExpectedValue() */
  ts__shap_node *nodes;  /* [num_leaves - 1] */
  const ts__gauss_rule *rule; /* quadrature for this depth (owned by the explainer) */
} ts__shap_tree;

/* Precomputes `st` for tree number `index` of `model` (index only names the
 * tree in error messages). Fails with TS_EUNSUPPORTED for a linear tree, TS_EPARSE
 * for missing or invalid cover counts, TS_ELIMIT past TS_EXPLAIN_MAX_DEPTH.
 * st->rule is left NULL for the caller to set. */
int ts__shap_tree_init(ts__shap_tree *st, const ts_tree *tree, int index, ts_error *err);
void ts__shap_tree_free(ts__shap_tree *st);

/* One element of the straight algorithm's unique path. */
typedef struct ts__path_elem {
  int feature;
  double zero_fraction, one_fraction, pweight;
} ts__path_elem;

/* Scratch for one thread, for trees up to `max_depth` deep over `num_features`. */
typedef struct ts__shap_scratch {
  int num_features, max_depth, max_points;
  double *x;      /* [num_features] the row as LightGBM sees it */
  double *ez;     /* [num_features] zero fraction of each feature's path element */
  uint8_t *eo;    /* [num_features] one fraction (0 or 1) */
  int32_t *el;    /* [num_features] level whose edge made the element, -1: none */
  double *levels; /* fast: [(max_depth + 2) * 4 * max_points] per-level vectors */
  struct ts__path_elem *path; /* path: [(max_depth + 2) * (max_depth + 3) / 2] */
  size_t levels_len, path_len;
} ts__shap_scratch;

int ts__shap_scratch_init(ts__shap_scratch *s, int num_features, int max_depth, int max_points,
                          ts_error *err);
void ts__shap_scratch_free(ts__shap_scratch *s);
size_t ts__shap_scratch_bytes(const ts__shap_scratch *s);

/* Copies row `x` into s->x the way LightGBM's dense-row predictor reads it:
 * values with |v| <= kZeroThreshold (1e-35f) become 0, NaN stays NaN. */
void ts__shap_load_row(ts__shap_scratch *s, const double *x);

/* Adds tree `st`'s contributions for the row in s->x to phi[0 .. num_features)
 * and its expected value to phi[num_features], as LightGBM's
 * Tree::PredictContrib does. */
void ts__shap_tree_fast(const ts__shap_tree *st, ts__shap_scratch *s, double *phi);
void ts__shap_tree_path(const ts__shap_tree *st, ts__shap_scratch *s, double *phi);

#endif
