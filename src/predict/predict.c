/*
 * Exact prediction on the flat forest.
 *
 * Rows are processed in blocks: for each tree, every row of the block descends
 * it before the next tree is touched, so the tree stays in cache while rows
 * stream through. Per row and class the tree outputs are still added in model
 * order starting from 0.0, exactly like LightGBM's GBDT::PredictRaw
 * (iteration by iteration, class inside the iteration), so raw scores are
 * bit-identical. Nothing here allocates: output accumulates directly in the
 * caller's buffer.
 */
#include <math.h>
#include <string.h>

#include "predict/forest_internal.h"

/* Rows per block: 64 rows x (say) 256 features x 8 bytes = 128 KB of input
 * in L2, one tree (a few KB) in L1. */
#define TS_BLOCK_ROWS 64

/* The slow decisions: categorical and missing-type-Zero numerical nodes.
 * Mirrors Tree::CategoricalDecision / NumericalDecision. */
static bool slow_left(const ts_forest *f, const ts_fnode *nd, double v) {
  uint32_t ff = nd->ff;
  if (ff & TS_FN_CAT) {
    /* NaN, negatives and values whose int cast is out of range (x86 gives
     * INT_MIN, i.e. negative) go right; (-1, 0) truncates to category 0. */
    if (!(v > -1.0 && v < 2147483648.0)) return false;
    uint32_t c = (uint32_t)(int32_t)v;
    uint32_t w = c >> 5;
    if (w >= nd->u.cat.len) return false;
    return (f->cat_words[nd->u.cat.off + w] >> (c & 31)) & 1;
  }
  /* missing type Zero: NaN counts as 0, and 0 (|x| <= kZT) takes the default */
  if (isnan(v) || (v >= -TS_ZERO_THRESHOLD && v <= TS_ZERO_THRESHOLD))
    return (ff & TS_FN_DEFAULT_LEFT) != 0;
  return v <= nd->u.thr;
}

/* Index (within the tree) of the leaf node row x reaches. */
static inline uint32_t descend(const ts_forest *f, const ts_fnode *base, const double *x) {
  uint32_t i = 0;
  for (;;) {
    const ts_fnode *nd = base + i;
    uint32_t ff = nd->ff;
    if (ff & TS_FN_LEAF) return i;
    double v = x[ff & TS_FN_FEAT_MASK];
    bool left;
    if (!(ff & (TS_FN_CAT | TS_FN_ZERO)))
      left = v <= nd->u.thr || (isnan(v) && (ff & TS_FN_NAN_LEFT));
    else
      left = slow_left(f, nd, v);
    i = left ? i + 1 : (uint32_t)nd->right;
  }
}

/* Output of a linear leaf: Tree::Predict's is_linear branch. */
static double linear_output(const ts_forest *f, int tree, int leaf, const double *x) {
  const ts_tree *t = &f->model->trees[tree];
  double out = t->leaf_const[leaf];
  for (int32_t k = t->leaf_feat_begin[leaf]; k < t->leaf_feat_begin[leaf + 1]; k++) {
    double v = x[t->leaf_features[k]];
    if (isnan(v)) return t->leaf_value[leaf];
    out += t->leaf_coeff[k] * ts__zero_clamp(v);
  }
  return out;
}

/* Resolves opts into the tree range [t0, t1) and the iteration count. */
static int resolve(const ts_forest *f, const ts_predict_opts *opts, int *t0, int *t1, int *niter,
                   ts_error *err) {
  if (!opts) return ts_error_set(err, TS_EINVAL, "predict: no options");
  if (opts->type != TS_PREDICT_VALUE && opts->type != TS_PREDICT_RAW &&
      opts->type != TS_PREDICT_LEAF) {
    if (opts->type == TS_PREDICT_CONTRIB)
      return ts_error_set(err, TS_EUNSUPPORTED, "predict: contributions are computed by explain.h");
    return ts_error_set(err, TS_EINVAL, "predict: unknown prediction type %d", (int)opts->type);
  }
  /* GBDT::InitPredict */
  int total = f->num_trees / f->num_class;
  int start = opts->start_iteration < 0 ? 0 : opts->start_iteration;
  if (start > total) start = total;
  int num = opts->num_iteration > 0 ? (opts->num_iteration < total - start ? opts->num_iteration
                                                                             : total - start)
                                    : total - start;
  *t0 = start * f->num_class;
  *t1 = (start + num) * f->num_class;
  *niter = num;
  return 0;
}

long ts_predict_width(const ts_forest *f, const ts_predict_opts *opts) {
  int t0, t1, niter;
  if (opts && opts->type == TS_PREDICT_CONTRIB)
    return (long)(f->num_features + 1) * f->num_class;
  int rc = resolve(f, opts, &t0, &t1, &niter, NULL);
  if (rc) return rc;
  return opts->type == TS_PREDICT_LEAF ? (long)(t1 - t0) : (long)f->num_class;
}

int ts_predict_rows(const ts_forest *f, const ts_predict_opts *opts, const double *X,
                    size_t nrows, size_t row_stride, double *out, ts_error *err) {
  int t0, t1, niter;
  int rc = resolve(f, opts, &t0, &t1, &niter, err);
  if (rc) return rc;
  if (nrows == 0) return 0;
  if (!X || !out) return ts_error_set(err, TS_EINVAL, "predict: NULL input or output");
  if (row_stride < (size_t)f->num_features)
    return ts_error_set(err, TS_EINVAL, "predict: row stride %zu < %d features", row_stride,
                        f->num_features);
  const int K = f->num_class;

  if (opts->type == TS_PREDICT_LEAF) {
    size_t w = (size_t)(t1 - t0);
    for (size_t r = 0; r < nrows; r++) {
      const double *x = X + r * row_stride;
      for (int t = t0; t < t1; t++) {
        const ts_fnode *base = f->nodes + f->trees[t].first;
        out[r * w + (size_t)(t - t0)] = (double)base[descend(f, base, x)].right;
      }
    }
    return 0;
  }

  memset(out, 0, nrows * (size_t)K * sizeof(double));
  for (size_t b = 0; b < nrows; b += TS_BLOCK_ROWS) {
    size_t nb = nrows - b < TS_BLOCK_ROWS ? nrows - b : TS_BLOCK_ROWS;
    const double *xb = X + b * row_stride;
    double *ob = out + b * (size_t)K;
    for (int t = t0; t < t1; t++) {
      const ts_ftree *ft = &f->trees[t];
      const ts_fnode *base = f->nodes + ft->first;
      int k = t % K;
      if (ft->linear >= 0) {
        for (size_t r = 0; r < nb; r++) {
          const double *x = xb + r * row_stride;
          uint32_t i = descend(f, base, x);
          ob[r * (size_t)K + (size_t)k] += linear_output(f, ft->linear, base[i].right, x);
        }
      } else if (ft->nnodes == 1) {
        double v = base[0].u.thr;
        for (size_t r = 0; r < nb; r++) ob[r * (size_t)K + (size_t)k] += v;
      } else {
        for (size_t r = 0; r < nb; r++) {
          const double *x = xb + r * row_stride;
          ob[r * (size_t)K + (size_t)k] += base[descend(f, base, x)].u.thr;
        }
      }
    }
  }
  if (opts->type == TS_PREDICT_VALUE) {
    /* GBDT::Predict divides by the iterations used (rf); GBDT::PredictRaw,
     * behind raw_score=True, does not. */
    if (f->average_output)
      for (size_t i = 0; i < nrows * (size_t)K; i++) out[i] /= niter;
    ts_predict_transform(f, out, nrows);
  }
  return 0;
}
