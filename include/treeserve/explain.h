/*
 * treeserve explanations: exact SHAP feature contributions, the same numbers as
 * LightGBM's predict(pred_contrib=True).
 *
 * A ts_explainer holds per-tree data precomputed once from a forest; it is
 * immutable and thread-safe after ts_explainer_build.
 */
#ifndef TREESERVE_EXPLAIN_H
#define TREESERVE_EXPLAIN_H

#include <stddef.h>

#include "treeserve/error.h"
#include "treeserve/predict.h"

typedef struct ts_explainer ts_explainer;

/* Builds an explainer for `forest` (borrowed: it must outlive the explainer).
 * Fails with TS_EUNSUPPORTED for linear-tree models, as LightGBM does. */
int ts_explainer_build(const ts_forest *forest, ts_explainer **out, ts_error *err);

void ts_explainer_free(ts_explainer *e);

size_t ts_explainer_memory_bytes(const ts_explainer *e);

/* Writes nrows * (num_features + 1) * num_class contributions to `out`:
 * per row, per class (class-major), num_features contributions then the bias
 * (expected value). opts->type must be TS_PREDICT_CONTRIB; iterations apply.
 * Thread-safe. */
int ts_explain_rows(const ts_explainer *e, const ts_predict_opts *opts, const double *X,
                    size_t nrows, size_t row_stride, double *out, ts_error *err);

/* Same over `nthreads` threads (<= 0: number of cores). */
int ts_explain_rows_parallel(const ts_explainer *e, const ts_predict_opts *opts, const double *X,
                             size_t nrows, size_t row_stride, double *out, int nthreads,
                             ts_error *err);

#endif
