/*
 * treeserve prediction: a model compiled into a flat forest for fast, exact
 * evaluation (raw scores bit for bit as LightGBM 4.6).
 *
 * A ts_forest is immutable after ts_forest_build and thread-safe: any number of
 * threads may predict on it concurrently without locks.
 */
#ifndef TREESERVE_PREDICT_H
#define TREESERVE_PREDICT_H

#include <stddef.h>
#include <stdint.h>

#include "treeserve/error.h"
#include "treeserve/model.h"

typedef struct ts_forest ts_forest;

typedef enum ts_predict_type {
  TS_PREDICT_VALUE = 0, /* transformed output (sigmoid, softmax, exp, ...) */
  TS_PREDICT_RAW,       /* sum of tree outputs (averaged for rf) */
  TS_PREDICT_LEAF,      /* leaf index reached in each used tree */
  TS_PREDICT_CONTRIB    /* SHAP contributions, see explain.h */
} ts_predict_type;

/* Which iterations to use, with LightGBM's semantics: start_iteration is clamped
 * to [0, num_iterations]; num_iteration <= 0 means "all from start". */
typedef struct ts_predict_opts {
  ts_predict_type type;
  int start_iteration;
  int num_iteration;
} ts_predict_opts;

/* Compiles `model` into a forest. Takes ownership of `model` in every case
 * (it is freed on failure). On success *out is a new forest; free it with
 * ts_forest_free. */
int ts_forest_build(ts_model *model, ts_forest **out, ts_error *err);

/* Frees the forest and the model it owns (NULL is fine). */
void ts_forest_free(ts_forest *f);

/* The model the forest was built from (owned by the forest). */
const ts_model *ts_forest_model(const ts_forest *f);

/* Bytes held by the compiled forest (not counting the model). */
size_t ts_forest_memory_bytes(const ts_forest *f);

/* Number of output columns per row for `opts`: num_class for value/raw, the
 * number of trees used for leaf, (num_features + 1) * num_class for contrib.
 * Returns a negative TS_E* code for invalid opts. */
long ts_predict_width(const ts_forest *f, const ts_predict_opts *opts);

/* Predicts `nrows` rows. Row r's features are X[r * row_stride + j] for
 * j < num_features, in model feature order; NaN means missing. Writes
 * nrows * width doubles to `out` (row-major); leaf indices are written as
 * exact integer doubles. TS_PREDICT_CONTRIB is handled by explain.h, not here
 * (TS_EUNSUPPORTED). Thread-safe; allocates nothing on the heap for
 * value/raw/leaf. */
int ts_predict_rows(const ts_forest *f, const ts_predict_opts *opts, const double *X,
                    size_t nrows, size_t row_stride, double *out, ts_error *err);

/* Same, spreading rows over `nthreads` threads (<= 0: number of cores).
 * Output is identical to ts_predict_rows. */
int ts_predict_rows_parallel(const ts_forest *f, const ts_predict_opts *opts, const double *X,
                             size_t nrows, size_t row_stride, double *out, int nthreads,
                             ts_error *err);

/* Applies the model's output transform in place to `nrows` rows of num_class raw
 * scores (used by callers that already have raw scores). */
void ts_predict_transform(const ts_forest *f, double *scores, size_t nrows);

#endif
