/*
 * Compiling a parsed model into the flat forest (layout and decision encoding
 * are described in forest_internal.h), plus the forest's accessors and the
 * objective output transforms (formulas copied from LightGBM's ConvertOutput
 * implementations so values match bit for bit).
 *
 * The node decision's one reference is ts__decision_left (model_internal.h).
 * The compiled nodes are an optimised re-encoding of it, not a call to it (see
 * predict.c for why); tests/unit/test_predict.c checks on random trees and
 * edge-case rows that both reach the same leaf.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "predict/forest_internal.h"

/* A leaf node: self loop, NaN threshold carrying the leaf index. */
static void make_leaf(ts_fnode *nd, uint32_t self, int leaf) {
  uint64_t bits = 0x7FF8000000000000ULL | (uint64_t)(uint32_t)leaf;
  memcpy(&nd->u.thr, &bits, sizeof bits);
  nd->ff = TS_FN_LEAF;
  nd->right = (int32_t)self;
}

/* Emits tree t's nodes at f->nodes[pos...] in pre-order. */
static int compile_tree(ts_forest *f, const ts_tree *t, size_t pos, size_t *cat_pos,
                        bool *simple, ts_error *err) {
  ts_fnode *base = f->nodes + pos;
  *simple = !t->is_linear;
  if (t->num_leaves == 1) {
    make_leaf(&base[0], 0, 0);
    return 0;
  }
  /* stack of (model node, index of the parent whose right child it is, or -1) */
  int n = t->num_leaves;
  int32_t *stack = malloc((size_t)(2 * n + 2) * 2 * sizeof *stack);
  if (!stack) return ts_error_set(err, TS_ENOMEM, "out of memory compiling forest");
  int sp = 0;
  uint32_t out = 0;
  stack[sp++] = 0;
  stack[sp++] = -1;
  while (sp > 0) {
    int32_t patch = stack[--sp], node = stack[--sp];
    if (patch >= 0) base[patch].right = (int32_t)out;
    ts_fnode *nd = &base[out];
    if (node < 0) {
      make_leaf(nd, out, ~node);
      out++;
      continue;
    }
    uint8_t dt = t->decision_type[node];
    int mt = (dt >> TS_DT_MISSING_SHIFT) & TS_DT_MISSING_MASK;
    uint32_t ff = (uint32_t)t->split_feature[node];
    if (dt & TS_DT_DEFAULT_LEFT) ff |= TS_FN_DEFAULT_LEFT;
    if (dt & TS_DT_CATEGORICAL) {
      int s = (int)t->threshold[node];
      ff |= TS_FN_CAT;
      *simple = false;
      nd->u.cat.off = (uint32_t)(*cat_pos + (size_t)t->cat_boundaries[s]);
      nd->u.cat.len = (uint32_t)(t->cat_boundaries[s + 1] - t->cat_boundaries[s]);
    } else {
      double thr = t->threshold[node];
      if (mt == TS_MISSING_ZERO) {
        ff |= TS_FN_ZERO;
        *simple = false;
      } else {
        /* Where NaN goes is asked of the reference decision itself (missing
         * type None reads NaN as 0.0, type NaN takes default_left). */
        if (ts__tree_goes_left(t, node, NAN)) ff |= TS_FN_NAN_LEFT;
        /* Inputs with |x| <= kZT are 0.0 to LightGBM; a threshold inside
         * [-kZT, kZT) is moved so that the raw x gives the same decision. */
        if (thr >= 0 && thr < TS_ZERO_THRESHOLD)
          thr = TS_ZERO_THRESHOLD;
        else if (thr < 0 && thr >= -TS_ZERO_THRESHOLD)
          thr = nextafter(-TS_ZERO_THRESHOLD, -INFINITY);
      }
      nd->u.thr = thr;
    }
    nd->ff = ff;
    uint32_t me = out++;
    stack[sp++] = t->right_child[node];
    stack[sp++] = (int32_t)me;
    stack[sp++] = t->left_child[node];
    stack[sp++] = -1;
  }
  free(stack);
  if (t->num_cat > 0) {
    size_t w = (size_t)t->cat_boundaries[t->num_cat];
    if (w) memcpy(f->cat_words + *cat_pos, t->cat_threshold, w * sizeof(uint32_t));
    *cat_pos += w;
  }
  return 0;
}

int ts_forest_build(ts_model *model, ts_forest **out, ts_error *err) {
  *out = NULL;
  if (!model) return ts_error_set(err, TS_EINVAL, "ts_forest_build: no model");
  ts_forest *f = calloc(1, sizeof *f);
  int rc = 0;
  if (!f) {
    ts_model_free(model);
    return ts_error_set(err, TS_ENOMEM, "out of memory building forest");
  }
  f->model = model;
  f->num_trees = model->num_trees;
  f->num_class = model->num_tree_per_iteration;
  f->num_features = model->num_features;
  f->transform = model->transform;
  f->sigmoid = model->sigmoid;
  f->average_output = model->average_output;
  size_t nn = 0, nc = 0, nl = 0;
  for (int i = 0; i < model->num_trees; i++) {
    const ts_tree *t = &model->trees[i];
    nn += (size_t)(2 * t->num_leaves - 1);
    nl += (size_t)t->num_leaves;
    if (t->num_cat) nc += (size_t)t->cat_boundaries[t->num_cat];
  }
  if (nn > UINT32_MAX || nl > UINT32_MAX) {
    rc = ts_error_set(err, TS_ELIMIT, "model too large to compile: %zu nodes", nn);
    goto fail;
  }
  f->num_nodes = nn;
  f->num_cat_words = nc;
  f->num_leaves = nl;
  f->leaf_values = malloc((nl ? nl : 1) * sizeof(double));
  f->trees = calloc((size_t)(model->num_trees ? model->num_trees : 1), sizeof *f->trees);
  f->nodes = calloc(nn ? nn : 1, sizeof *f->nodes);
  f->cat_words = calloc(nc ? nc : 1, sizeof *f->cat_words);
  if (!f->trees || !f->nodes || !f->cat_words || !f->leaf_values) {
    rc = ts_error_set(err, TS_ENOMEM, "out of memory building forest (%zu nodes)", nn);
    goto fail;
  }
  size_t pos = 0, cat_pos = 0, lpos = 0;
  for (int i = 0; i < model->num_trees; i++) {
    const ts_tree *t = &model->trees[i];
    f->trees[i].first = (uint32_t)pos;
    f->trees[i].nnodes = (uint32_t)(2 * t->num_leaves - 1);
    f->trees[i].leaf_base = (uint32_t)lpos;
    f->trees[i].linear = t->is_linear ? i : -1;
    f->trees[i].max_depth = t->max_depth;
    if ((rc = compile_tree(f, t, pos, &cat_pos, &f->trees[i].simple, err)) != 0) goto fail;
    memcpy(f->leaf_values + lpos, t->leaf_value, (size_t)t->num_leaves * sizeof(double));
    pos += f->trees[i].nnodes;
    lpos += (size_t)t->num_leaves;
  }
  *out = f;
  return 0;
fail:
  ts_forest_free(f);
  return rc;
}

void ts_forest_free(ts_forest *f) {
  if (!f) return;
  ts_model_free(f->model);
  free(f->trees);
  free(f->nodes);
  free(f->leaf_values);
  free(f->cat_words);
  free(f);
}

const ts_model *ts_forest_model(const ts_forest *f) { return f->model; }

size_t ts_forest_memory_bytes(const ts_forest *f) {
  return sizeof *f + (size_t)f->num_trees * sizeof(ts_ftree) + f->num_nodes * sizeof(ts_fnode) +
         f->num_leaves * sizeof(double) + f->num_cat_words * sizeof(uint32_t);
}

/* ---- output transforms: LightGBM's ConvertOutput, operation for operation ---- */

void ts_predict_transform(const ts_forest *f, double *scores, size_t nrows) {
  int k = f->num_class;
  double s = f->sigmoid;
  size_t n = nrows * (size_t)k;
  switch (f->transform) {
  case TS_TRANSFORM_IDENTITY:
    break;
  case TS_TRANSFORM_EXP:
    for (size_t i = 0; i < n; i++) scores[i] = exp(scores[i]);
    break;
  case TS_TRANSFORM_SQUARE:
    /* Common::Sign(x) * x * x, Sign returning an int */
    for (size_t i = 0; i < n; i++) {
      double x = scores[i];
      double sign = (double)((x > 0) - (x < 0));
      scores[i] = sign * x * x;
    }
    break;
  case TS_TRANSFORM_SIGMOID:
  case TS_TRANSFORM_SIGMOID_OVA:
    /* 1.0f / (1.0f + std::exp(-sigmoid_ * input)) */
    for (size_t i = 0; i < n; i++) scores[i] = 1.0 / (1.0 + exp(-s * scores[i]));
    break;
  case TS_TRANSFORM_LOG1P_EXP:
    /* LightGBM 4.6: std::log1p(std::exp(input)) (older versions used
     * log(1 + exp(x)), which differs in the last bit for half the inputs) */
    for (size_t i = 0; i < n; i++) scores[i] = log1p(exp(scores[i]));
    break;
  case TS_TRANSFORM_SOFTMAX:
    for (size_t r = 0; r < nrows; r++) {
      double *v = scores + r * (size_t)k;
      double wmax = v[0];
      for (int i = 1; i < k; i++) wmax = v[i] < wmax ? wmax : v[i]; /* std::max(v[i], wmax) */
      double wsum = 0.0;
      for (int i = 0; i < k; i++) {
        v[i] = exp(v[i] - wmax);
        wsum += v[i];
      }
      for (int i = 0; i < k; i++) v[i] /= wsum;
    }
    break;
  }
}
