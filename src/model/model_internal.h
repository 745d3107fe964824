/*
 * The parsed model: a plain, validated mirror of a LightGBM text model file.
 *
 * Shared (read-only) by the engine modules model/, predict/ and explain/; no
 * other module includes this header. Everything here is owned by the ts_model
 * and freed by ts_model_free. After ts_model_load_* returns, the loader has
 * checked every invariant documented below, so readers need not re-check them.
 */
#ifndef TS_MODEL_INTERNAL_H
#define TS_MODEL_INTERNAL_H

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "treeserve/model.h"

/* decision_type bits, as in LightGBM's include/LightGBM/tree.h. */
#define TS_DT_CATEGORICAL 1
#define TS_DT_DEFAULT_LEFT 2
#define TS_DT_MISSING_SHIFT 2
#define TS_DT_MISSING_MASK 3
enum { TS_MISSING_NONE = 0, TS_MISSING_ZERO = 1, TS_MISSING_NAN = 2 };

/* LightGBM's kZeroThreshold: |x| <= 1e-35f counts as zero. It is a float
 * constant compared in double, so its value is (double)1e-35f
 * (1.0000000180025095e-35), not 1e-35. LightGBM's Python/C API also replaces
 * every input value with |x| <= kZeroThreshold by 0.0 before predicting (dense
 * rows are turned into sparse pairs); see ts__zero_clamp. */
#define TS_ZERO_THRESHOLD ((double)1e-35f)

/* The input value LightGBM's predictor actually sees for a raw input x. */
static inline double ts__zero_clamp(double x) {
  return (x >= -TS_ZERO_THRESHOLD && x <= TS_ZERO_THRESHOLD) ? 0.0 : x;
}

/* One tree. Internal nodes are 0..num_leaves-2; a child index c >= 0 is an
 * internal node, c < 0 is leaf ~c. A tree with num_leaves == 1 has no internal
 * nodes (all per-node arrays are NULL) and its output is leaf_value[0].
 * Invariants: every internal node except 0 has exactly one parent, node 0 is
 * the root, every leaf is reached exactly once (no cycles, nothing unreachable),
 * split_feature < num_features, categorical nodes have
 * 0 <= (int)threshold < num_cat. */
typedef struct ts_tree {
  int num_leaves;
  int num_cat;
  double shrinkage;
  bool is_linear;
  int max_depth;           /* depth of the deepest leaf (0 for a single leaf) */

  /* per internal node [num_leaves - 1] */
  int32_t *split_feature;
  double *split_gain;
  double *threshold;       /* numerical threshold, or category set index for categorical */
  uint8_t *decision_type;
  int32_t *left_child;
  int32_t *right_child;
  double *internal_value;
  double *internal_weight;
  double *internal_count;

  /* per leaf [num_leaves]; leaf_count/internal_count hold integers (LightGBM
   * parses them as int), split_gain is kept as written (LightGBM uses float). */
  double *leaf_value;
  double *leaf_weight;
  double *leaf_count;

  /* categorical sets: set s is the bitset cat_threshold[cat_boundaries[s] ..
   * cat_boundaries[s+1]); category c is in the set iff bit (c % 32) of word
   * (c / 32) is set. */
  int32_t *cat_boundaries; /* [num_cat + 1] */
  uint32_t *cat_threshold; /* [cat_boundaries[num_cat]] */

  /* linear trees (is_linear): leaf l's output is leaf_const[l] +
   * sum_k leaf_coeff[k] * x[leaf_features[k]] for k in
   * [leaf_feat_begin[l], leaf_feat_begin[l+1]), or leaf_value[l] if any of those
   * features is NaN. */
  double *leaf_const;        /* [num_leaves] */
  int32_t *leaf_feat_begin;  /* [num_leaves + 1] */
  int32_t *leaf_features;    /* [leaf_feat_begin[num_leaves]] */
  double *leaf_coeff;        /* [leaf_feat_begin[num_leaves]] */
} ts_tree;

/* ---- the per-node decision: the one reference implementation ----
 *
 * LightGBM's Tree::NumericalDecision and Tree::CategoricalDecision
 * (include/LightGBM/tree.h, v4.6) on the parsed mirror, for a value `x` as
 * LightGBM's predictor sees it, i.e. after ts__zero_clamp. Returns true when x
 * goes to the left child of a node with decision type `dt` and threshold `thr`.
 *
 * Numerical (missing type from dt bits 2-3):
 *   NaN with a missing type other than NaN is read as 0.0; then missing type
 *   Zero with |x| <= kZeroThreshold, or missing type NaN with x NaN, takes the
 *   default side (default_left bit); anything else goes left iff x <= thr.
 * Categorical (thr is the category set index):
 *   NaN goes right; otherwise the category is static_cast<int>(x) (truncation,
 *   so 2.9 is 2 and -0.5 is 0); a negative category goes right, and so does a
 *   value outside int's range (x86's cvttsd2si gives INT_MIN there; C leaves it
 *   undefined, so it is tested before the cast); a category past the set's
 *   bitset goes right; else the set's bit decides (FindInBitset).
 *
 * Everything that decides a node on the parsed model (TreeSHAP in src/explain/)
 * calls this. The compiled forest (src/predict/) pre-digests the same rules into
 * flat nodes for speed; tests/unit/test_predict.c checks on random trees and
 * edge-case rows that both give the same leaf. */
static inline __attribute__((always_inline)) bool ts__decision_left(const ts_tree *t, uint8_t dt,
                                                                    double thr, double x) {
  if (dt & TS_DT_CATEGORICAL) {
    if (isnan(x) || !(x > -2147483649.0 && x < 2147483648.0)) return false;
    const int cat = (int)x;
    if (cat < 0) return false;
    const int set = (int)thr;
    const int32_t begin = t->cat_boundaries[set];
    const int32_t nwords = t->cat_boundaries[set + 1] - begin;
    if (cat / 32 >= nwords) return false;
    return ((t->cat_threshold[begin + cat / 32] >> (cat % 32)) & 1u) != 0;
  }
  const int missing = (dt >> TS_DT_MISSING_SHIFT) & TS_DT_MISSING_MASK;
  if (isnan(x) && missing != TS_MISSING_NAN) x = 0.0;
  if ((missing == TS_MISSING_ZERO && x >= -TS_ZERO_THRESHOLD && x <= TS_ZERO_THRESHOLD) ||
      (missing == TS_MISSING_NAN && isnan(x)))
    return (dt & TS_DT_DEFAULT_LEFT) != 0;
  return x <= thr;
}

/* ts__decision_left for internal node `node` of tree t. */
static inline bool ts__tree_goes_left(const ts_tree *t, int node, double x) {
  return ts__decision_left(t, t->decision_type[node], t->threshold[node], x);
}

/* The child x leads to from internal node `node` (LightGBM's Tree::Decision):
 * an internal node index >= 0, or ~leaf. */
static inline int ts__tree_next(const ts_tree *t, int node, double x) {
  return ts__tree_goes_left(t, node, x) ? t->left_child[node] : t->right_child[node];
}

/* The leaf a row reaches in tree t (Tree::GetLeaf), deciding every node with
 * the reference above; x is the row as LightGBM sees it (ts__zero_clamp'ed). */
static inline int ts__tree_leaf(const ts_tree *t, const double *x) {
  int node = 0;
  if (t->num_leaves <= 1) return 0;
  while (node >= 0) node = ts__tree_next(t, node, x[t->split_feature[node]]);
  return ~node;
}

/* pandas categorical column: the strings whose index is the category code. */
typedef struct ts_pandas_column {
  int num_categories;
  char **categories; /* NUL-terminated UTF-8 strings (JSON numbers kept as text) */
  bool numeric;      /* some categories were JSON numbers: match those by value */
} ts_pandas_column;

struct ts_model {
  char version[16];
  int num_class;             /* output columns */
  int num_tree_per_iteration;
  int label_index;
  int max_feature_idx;
  int num_features;          /* max_feature_idx + 1 */
  bool average_output;

  char *objective_line;      /* "" when the file has no objective line (custom) */
  char objective_name[48];   /* first token, or "custom" */
  ts_transform transform;
  double sigmoid;            /* for SIGMOID / SIGMOID_OVA, else 1 */

  char **feature_names;      /* [num_features], as stored */
  char **feature_infos;      /* [num_features], as stored ("none", "[a:b]", "1:2:5") */
  bool *feature_is_categorical; /* [num_features] */
  /* Feature name -> number (model_names.c): open addressing, name_mask + 1
   * slots holding a feature number or -1. */
  int32_t *name_slots;
  size_t name_mask;

  int num_trees;
  ts_tree *trees;            /* [num_trees], iteration-major, class inside iteration */

  /* pandas_categorical: pandas_of_feature[i] indexes pandas_columns or is -1.
   * List k belongs to the k-th index of the "[categorical_feature: ...]"
   * parameter when it names one feature per list, else to the k-th feature
   * that feature_infos marks categorical (counts must match, else load error). */
  int num_pandas_columns;
  ts_pandas_column *pandas_columns;
  int32_t *pandas_of_feature;  /* [num_features] or NULL */

  char *parameters_text;     /* the "parameters:" block verbatim, or NULL */
  double *feature_importance; /* [num_features] split importances, 0 if absent */

  ts_model_stats stats;
};

#endif
