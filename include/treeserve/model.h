/*
 * treeserve model: a LightGBM text model file parsed and validated.
 *
 * A ts_model is immutable once loaded and may be read by any number of threads
 * without locks. Prediction goes through a ts_forest (predict.h), which is
 * compiled from a model and takes ownership of it.
 */
#ifndef TREESERVE_MODEL_H
#define TREESERVE_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "treeserve/error.h"

typedef struct ts_model ts_model;

/* Hard limits on what a model file may declare. Crossing one is a load error
 * (TS_ELIMIT) naming the limit, never an allocation of an absurd size. */
#define TS_MODEL_MAX_FILE_BYTES ((size_t)2 << 30) /* 2 GiB */
#define TS_MODEL_MAX_TREES 1000000
#define TS_MODEL_MAX_LEAVES 131072 /* per tree */
#define TS_MODEL_MAX_FEATURES 1000000
#define TS_MODEL_MAX_CLASSES 10000
#define TS_MODEL_MAX_CAT_WORDS (1 << 24) /* cat_threshold words per tree */

/* What the objective's output transform is. */
typedef enum ts_transform {
  TS_TRANSFORM_IDENTITY,   /* regression, l1, huber, fair, quantile, mape, ranking, custom */
  TS_TRANSFORM_EXP,        /* poisson, gamma, tweedie */
  TS_TRANSFORM_SQUARE,     /* regression sqrt: sign(x) * x * x */
  TS_TRANSFORM_SIGMOID,    /* binary (sigmoid:k), cross_entropy (k = 1) */
  TS_TRANSFORM_LOG1P_EXP,  /* cross_entropy_lambda */
  TS_TRANSFORM_SOFTMAX,    /* multiclass */
  TS_TRANSFORM_SIGMOID_OVA /* multiclassova: per-class sigmoid */
} ts_transform;

/* Loads a model from a file. On success *out owns a new model (free with
 * ts_model_free or hand it to ts_forest_build). On failure returns a TS_E*
 * code, *out is NULL and err->msg reads "path:line: what is wrong".
 * Thread-safe (no shared state). */
int ts_model_load_file(const char *path, ts_model **out, ts_error *err);

/* Same, from a buffer of `len` bytes (need not be NUL-terminated; not kept).
 * `name` is used in error messages in place of the path. */
int ts_model_load_buffer(const char *buf, size_t len, const char *name, ts_model **out,
                         ts_error *err);

/* Frees a model (NULL is fine). Not needed after ts_forest_build took it. */
void ts_model_free(ts_model *m);

/* --- Read-only accessors: all thread-safe, pointers live as long as the model. --- */

int ts_model_num_features(const ts_model *m);     /* max_feature_idx + 1 */
int ts_model_num_class(const ts_model *m);        /* output columns of value/raw (1 unless multiclass) */
int ts_model_trees_per_iteration(const ts_model *m);
int ts_model_num_trees(const ts_model *m);
int ts_model_num_iterations(const ts_model *m);   /* num_trees / trees_per_iteration */
bool ts_model_average_output(const ts_model *m);  /* rf models */
bool ts_model_has_linear_trees(const ts_model *m);
const char *ts_model_objective(const ts_model *m); /* the objective line, "" for custom */
const char *ts_model_objective_name(const ts_model *m); /* "binary", "regression", ..., "custom" */
ts_transform ts_model_transform(const ts_model *m);
const char *ts_model_transform_name(ts_transform t); /* "sigmoid", "identity", ... */
double ts_model_sigmoid(const ts_model *m);        /* sigmoid parameter (1 if none) */
const char *ts_model_version(const ts_model *m);   /* "v4" */

/* Feature `i` (0 <= i < num_features): its name as stored in the file (spaces
 * were replaced by '_' by LightGBM) and whether any split treats it as categorical
 * or feature_infos lists it as categorical. */
const char *ts_model_feature_name(const ts_model *m, int i);
bool ts_model_feature_is_categorical(const ts_model *m, int i);

/* Finds a feature by name. Accepts the stored name and the original name with
 * spaces (LightGBM replaced them with '_'). Returns the index or -1. */
int ts_model_find_feature(const ts_model *m, const char *name, size_t len);

/* pandas categorical columns (the trailing `pandas_categorical:` line).
 * ts_model_pandas_categories returns the number of categories of feature i, or
 * -1 if feature i is not a pandas categorical column; *names receives the array
 * of category strings. ts_model_pandas_code maps a string value of feature i to
 * the code the trees use (its index in the list), or NaN when unseen, exactly as
 * LightGBM's Python package does. */
int ts_model_pandas_categories(const ts_model *m, int i, const char *const **names);
double ts_model_pandas_code(const ts_model *m, int i, const char *value, size_t len);

/* Structure statistics for `inspect`. */
typedef struct ts_model_stats {
  size_t total_leaves;
  int max_leaves;
  int min_depth, max_depth; /* depth of the shallowest/deepest leaf over all trees */
  double mean_depth;        /* mean leaf depth */
  int num_single_leaf_trees;
  int num_categorical_splits;
  size_t memory_bytes;      /* bytes held by the parsed model */
  double load_seconds;      /* wall time of the load that made it */
} ts_model_stats;
void ts_model_get_stats(const ts_model *m, ts_model_stats *out);

#endif
