/*
 * Exact prediction on the flat forest.
 *
 * Sums: per row and class the tree outputs are added in model order starting
 * from 0.0, exactly like LightGBM's GBDT::PredictRaw (iteration by iteration,
 * class inside the iteration), so raw scores are bit-identical whatever order
 * the descents themselves run in.
 *
 * Speed:
 *  - batches run block by block: for each tree, every row of the block
 *    descends it before the next tree, so the tree stays in cache while rows
 *    stream through (the block is sized so its rows stay in L2);
 *  - "simple" trees (plain numerical nodes) descend TS_LANES independent
 *    (row, tree) lanes in lockstep with a branch-free step (compare, select),
 *    which turns unpredictable branches into independent dependency chains the
 *    CPU overlaps. Batches use lanes = rows of one tree; a single row uses
 *    lanes = consecutive trees;
 *  - forests of small trees on narrow rows copy each block feature-major
 *    first (descend_cols): the 8 lanes then share one base pointer, so their
 *    node indices stay in registers, and one feature of 8 rows is one cache
 *    line;
 *  - categorical, zero-as-missing and linear trees take a plain per-row path.
 * Nothing here allocates: output accumulates in the caller's buffer.
 */
#include <math.h>
#include <string.h>

#include "predict/forest_internal.h"

#define TS_LANES 8 /* the kernels below are unrolled for exactly 8 */
/* Input bytes a block of rows may take (rows stay in L2 while trees pass). */
#define TS_BLOCK_BYTES (192 * 1024)
#define TS_BLOCK_MIN_ROWS 32
#define TS_BLOCK_MAX_ROWS 1024
/* Feature-major blocks (descend_cols): TS_COLS rows per chunk, a constant so
 * that a feature's offset is a shift; at most TS_TBUF_DOUBLES values per
 * block (64 KB, per thread); used when the trees average at most
 * TS_SMALL_TREE_BYTES of nodes (bigger trees want the long row-major blocks,
 * which bring each tree back from memory less often). */
#define TS_COLS 64
#define TS_TBUF_DOUBLES 8192
#define TS_SMALL_TREE_BYTES 2048

/* Why the descents below do not call the reference ts__decision_left
 * (model_internal.h): it reads six per-node arrays of the parsed tree and
 * branches on the decision type at every node, while the compiled node is one
 * 16-byte record whose common case is a single compare that the lane kernels
 * turn into a branch-free select; the zero clamp is folded into the thresholds
 * at compile time instead of being applied to every input. Calling the
 * reference here would give that up. Instead the compiled form is tested
 * against the reference (test_compiled_matches_reference in
 * tests/unit/test_predict.c), and forest.c asks the reference where NaN goes.
 *
 * The slow decisions: categorical and missing-type-Zero numerical nodes, the
 * reference's rules on the compiled node (Tree::CategoricalDecision /
 * NumericalDecision). */
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

/* One-row descent for any tree; returns the leaf node's index in the tree. */
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

/* One branch-free step of a simple tree, given the row's value v of the
 * node's feature: left = v <= thr, or NaN and NAN_LEFT; leaves loop on
 * themselves. When the caller knows the rows hold no NaN (`nan` is a
 * compile-time constant after inlining) the NaN test goes. */
static inline uint32_t step_on(const ts_fnode *nd, uint32_t i, double v, bool nan) {
  uint32_t left = (uint32_t)(v <= nd->u.thr);
  if (nan) left |= (uint32_t)isnan(v) & (nd->ff >> 28) & 1u;
  uint32_t m = 0u - left;
  return (m & (i + 1)) | (~m & (uint32_t)nd->right);
}

/* The same step reading the value from a row. */
static inline uint32_t step(const ts_fnode *nd, uint32_t i, const double *x, bool nan) {
  return step_on(nd, i, x[nd->ff & TS_FN_FEAT_MASK], nan);
}

/* The lane kernels are unrolled by hand (8 lanes) so that every lane's node
 * index and row pointer live in registers: written as loops over arrays,
 * compilers keep them in memory and the store/reload chain dominates. */
#define TS_LANE_STEP(j, B, X)                     \
  do {                                            \
    const ts_fnode *nd_ = (B) + i##j;             \
    all_leaves &= nd_->ff;                        \
    i##j = step(nd_, i##j, (X), nan);             \
  } while (0)

/* 8 rows through one simple tree; idx[] receives the leaf nodes. */
static inline void descend_rows(const ts_fnode *base, const double *const *x, uint32_t *idx,
                                bool nan) {
  const double *x0 = x[0], *x1 = x[1], *x2 = x[2], *x3 = x[3], *x4 = x[4], *x5 = x[5],
               *x6 = x[6], *x7 = x[7];
  uint32_t i0 = 0, i1 = 0, i2 = 0, i3 = 0, i4 = 0, i5 = 0, i6 = 0, i7 = 0;
  for (;;) {
    uint32_t all_leaves = TS_FN_LEAF;
    TS_LANE_STEP(0, base, x0);
    TS_LANE_STEP(1, base, x1);
    TS_LANE_STEP(2, base, x2);
    TS_LANE_STEP(3, base, x3);
    TS_LANE_STEP(4, base, x4);
    TS_LANE_STEP(5, base, x5);
    TS_LANE_STEP(6, base, x6);
    TS_LANE_STEP(7, base, x7);
    if (all_leaves) break;
  }
  idx[0] = i0, idx[1] = i1, idx[2] = i2, idx[3] = i3;
  idx[4] = i4, idx[5] = i5, idx[6] = i6, idx[7] = i7;
}

/* One step of lane j over a feature-major chunk: lane j's value of feature f
 * is xt[f * TS_COLS + j]. */
#define TS_COL_STEP(j)                                                                  \
  do {                                                                                  \
    const ts_fnode *nd_ = base + i##j;                                                  \
    uint32_t ff_ = nd_->ff;                                                             \
    all_leaves &= ff_;                                                                  \
    i##j = step_on(nd_, i##j, xt[(size_t)(ff_ & TS_FN_FEAT_MASK) * TS_COLS + j], nan); \
  } while (0)

/* 8 consecutive rows of a feature-major chunk through one simple tree; the
 * same step as descend_rows. Kept out of line (one copy per `nan`) so that
 * the eight node indices get registers of their own. */
static inline __attribute__((always_inline)) void descend_cols(const ts_fnode *base, const double *xt,
                                                               uint32_t *idx, bool nan) {
  uint32_t i0 = 0, i1 = 0, i2 = 0, i3 = 0, i4 = 0, i5 = 0, i6 = 0, i7 = 0;
  for (;;) {
    uint32_t all_leaves = TS_FN_LEAF;
    TS_COL_STEP(0);
    TS_COL_STEP(1);
    TS_COL_STEP(2);
    TS_COL_STEP(3);
    TS_COL_STEP(4);
    TS_COL_STEP(5);
    TS_COL_STEP(6);
    TS_COL_STEP(7);
    if (all_leaves) break;
  }
  idx[0] = i0, idx[1] = i1, idx[2] = i2, idx[3] = i3;
  idx[4] = i4, idx[5] = i5, idx[6] = i6, idx[7] = i7;
}

static __attribute__((noinline)) void descend_cols_nan(const ts_fnode *base, const double *xt, uint32_t *idx) {
  descend_cols(base, xt, idx, true);
}
static __attribute__((noinline)) void descend_cols_plain(const ts_fnode *base, const double *xt, uint32_t *idx) {
  descend_cols(base, xt, idx, false);
}

/* One row through 8 simple trees. */
static inline void descend_trees(const ts_fnode *const *base, const double *x, uint32_t *idx,
                                 bool nan) {
  const ts_fnode *b0 = base[0], *b1 = base[1], *b2 = base[2], *b3 = base[3], *b4 = base[4],
                 *b5 = base[5], *b6 = base[6], *b7 = base[7];
  uint32_t i0 = 0, i1 = 0, i2 = 0, i3 = 0, i4 = 0, i5 = 0, i6 = 0, i7 = 0;
  for (;;) {
    uint32_t all_leaves = TS_FN_LEAF;
    TS_LANE_STEP(0, b0, x);
    TS_LANE_STEP(1, b1, x);
    TS_LANE_STEP(2, b2, x);
    TS_LANE_STEP(3, b3, x);
    TS_LANE_STEP(4, b4, x);
    TS_LANE_STEP(5, b5, x);
    TS_LANE_STEP(6, b6, x);
    TS_LANE_STEP(7, b7, x);
    if (all_leaves) break;
  }
  idx[0] = i0, idx[1] = i1, idx[2] = i2, idx[3] = i3;
  idx[4] = i4, idx[5] = i5, idx[6] = i6, idx[7] = i7;
}

static bool row_has_nan(const double *x, int n) {
  int bad = 0;
  for (int i = 0; i < n; i++) bad |= isnan(x[i]);
  return bad != 0;
}

static inline double leaf_value(const ts_forest *f, const ts_ftree *ft, const ts_fnode *leaf) {
  return f->leaf_values[ft->leaf_base + ts__fnode_leaf(leaf)];
}

/* Output of a linear leaf: Tree::Predict's is_linear branch, on the inputs
 * LightGBM sees (|x| <= kZeroThreshold is 0). */
static double linear_output(const ts_forest *f, int tree, uint32_t leaf, const double *x) {
  const ts_tree *t = &f->model->trees[tree];
  double out = t->leaf_const[leaf];
  for (int32_t k = t->leaf_feat_begin[leaf]; k < t->leaf_feat_begin[leaf + 1]; k++) {
    double v = x[t->leaf_features[k]];
    if (isnan(v)) return t->leaf_value[leaf];
    out += t->leaf_coeff[k] * ts__zero_clamp(v);
  }
  return out;
}

/* Output of tree t for one row, any kind of tree. */
static inline double tree_output(const ts_forest *f, int t, const double *x) {
  const ts_ftree *ft = &f->trees[t];
  const ts_fnode *base = f->nodes + ft->first;
  const ts_fnode *leaf = base + descend(f, base, x);
  if (ft->linear >= 0) return linear_output(f, ft->linear, ts__fnode_leaf(leaf), x);
  return leaf_value(f, ft, leaf);
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

/* Raw scores of one row into out[0..K): trees in lanes of TS_LANES. */
static void raw_one_row(const ts_forest *f, int t0, int t1, const double *x, double *out) {
  const int K = f->num_class;
  const bool nan = row_has_nan(x, f->num_features);
  int t = t0;
  while (t < t1) {
    bool lanes = t + TS_LANES <= t1;
    for (int j = 0; lanes && j < TS_LANES; j++) lanes = f->trees[t + j].simple;
    if (!lanes) {
      out[t % K] += tree_output(f, t, x);
      t++;
      continue;
    }
    const ts_fnode *base[TS_LANES];
    uint32_t idx[TS_LANES];
    for (int j = 0; j < TS_LANES; j++) base[j] = f->nodes + f->trees[t + j].first;
    if (nan)
      descend_trees(base, x, idx, true);
    else
      descend_trees(base, x, idx, false);
    for (int j = 0; j < TS_LANES; j++) /* in tree order, as LightGBM adds them */
      out[(t + j) % K] += leaf_value(f, &f->trees[t + j], base[j] + idx[j]);
    t += TS_LANES;
  }
}

/* Raw scores of nb rows (a block) into ob (nb x K), tree by tree. xt, if not
 * NULL, is the block feature-major in chunks of TS_COLS rows (see
 * to_columns) and the simple trees read it instead of xb. */
static void raw_block(const ts_forest *f, int t0, int t1, const double *xb, size_t nb,
                      size_t stride, const double *xt, double *ob) {
  const size_t K = (size_t)f->num_class;
  const size_t F = (size_t)f->num_features;
  /* Which lane groups hold a NaN somewhere: the others use the NaN-free step. */
  bool group_nan[TS_BLOCK_MAX_ROWS / TS_LANES];
  for (size_t g = 0; g * TS_LANES < nb; g++) {
    bool any = false;
    for (size_t r = g * TS_LANES; r < nb && r < (g + 1) * TS_LANES; r++)
      any = any || row_has_nan(xb + r * stride, f->num_features);
    group_nan[g] = any;
  }
  for (int t = t0; t < t1; t++) {
    const ts_ftree *ft = &f->trees[t];
    const ts_fnode *base = f->nodes + ft->first;
    size_t k = (size_t)t % K;
    size_t r = 0;
    if (ft->nnodes == 1 && ft->linear < 0) {
      double v = f->leaf_values[ft->leaf_base];
      for (; r < nb; r++) ob[r * K + k] += v;
      continue;
    }
    if (ft->simple && xt) {
      for (; r + TS_LANES <= nb; r += TS_LANES) {
        const double *chunk = xt + (r / TS_COLS) * F * TS_COLS + r % TS_COLS;
        uint32_t idx[TS_LANES];
        if (group_nan[r / TS_LANES])
          descend_cols_nan(base, chunk, idx);
        else
          descend_cols_plain(base, chunk, idx);
        for (int j = 0; j < TS_LANES; j++)
          ob[(r + (size_t)j) * K + k] += leaf_value(f, ft, base + idx[j]);
      }
    } else if (ft->simple) {
      for (; r + TS_LANES <= nb; r += TS_LANES) {
        const double *x[TS_LANES];
        uint32_t idx[TS_LANES];
        for (int j = 0; j < TS_LANES; j++) x[j] = xb + (r + (size_t)j) * stride;
        if (group_nan[r / TS_LANES])
          descend_rows(base, x, idx, true);
        else
          descend_rows(base, x, idx, false);
        for (int j = 0; j < TS_LANES; j++)
          ob[(r + (size_t)j) * K + k] += leaf_value(f, ft, base + idx[j]);
      }
    }
    for (; r < nb; r++) ob[r * K + k] += tree_output(f, t, xb + r * stride);
  }
}

/* Copies nb rows feature-major into xt: chunk c (rows c*TS_COLS ...) holds
 * F runs of TS_COLS values, feature by feature. */
static void to_columns(const double *xb, size_t nb, size_t stride, size_t F, double *xt) {
  for (size_t r = 0; r < nb; r++) {
    double *dst = xt + (r / TS_COLS) * F * TS_COLS + r % TS_COLS;
    const double *src = xb + r * stride;
    for (size_t c = 0; c < F; c++) dst[c * TS_COLS] = src[c];
  }
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
  const size_t K = (size_t)f->num_class;

  if (opts->type == TS_PREDICT_LEAF) {
    size_t w = (size_t)(t1 - t0);
    for (size_t r = 0; r < nrows; r++) {
      const double *x = X + r * row_stride;
      for (int t = t0; t < t1; t++) {
        const ts_fnode *base = f->nodes + f->trees[t].first;
        out[r * w + (size_t)(t - t0)] = (double)ts__fnode_leaf(base + descend(f, base, x));
      }
    }
    return 0;
  }

  memset(out, 0, nrows * K * sizeof(double));
  if (nrows < TS_LANES) {
    for (size_t r = 0; r < nrows; r++) raw_one_row(f, t0, t1, X + r * row_stride, out + r * K);
  } else {
    const size_t F = (size_t)f->num_features;
    /* The copy lives in thread-local storage: no allocation per call, and
     * any number of threads may predict at once. */
    static _Thread_local double tbuf[TS_TBUF_DOUBLES];
    bool columns = f->num_nodes * sizeof(ts_fnode) <= (size_t)f->num_trees * TS_SMALL_TREE_BYTES &&
                   F * TS_COLS <= TS_TBUF_DOUBLES;
    size_t block;
    if (columns) {
      block = TS_TBUF_DOUBLES / F / TS_COLS * TS_COLS;
    } else {
      block = TS_BLOCK_BYTES / (row_stride * sizeof(double));
      if (block < TS_BLOCK_MIN_ROWS) block = TS_BLOCK_MIN_ROWS;
    }
    if (block > TS_BLOCK_MAX_ROWS) block = TS_BLOCK_MAX_ROWS;
    for (size_t b = 0; b < nrows; b += block) {
      size_t nb = nrows - b < block ? nrows - b : block;
      if (columns) to_columns(X + b * row_stride, nb, row_stride, F, tbuf);
      raw_block(f, t0, t1, X + b * row_stride, nb, row_stride, columns ? tbuf : NULL, out + b * K);
    }
  }
  if (opts->type == TS_PREDICT_VALUE) {
    /* GBDT::Predict divides by the iterations used (rf); GBDT::PredictRaw,
     * behind raw_score=True, does not. */
    if (f->average_output)
      for (size_t i = 0; i < nrows * K; i++) out[i] /= niter;
    ts_predict_transform(f, out, nrows);
  }
  return 0;
}
