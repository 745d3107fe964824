/*
 * libFuzzer driver: the LightGBM model-file loader (ts_model_load_buffer).
 *
 * Any bytes must give either a model or a clean error with a message; a model
 * that loads must answer every accessor, compile into a forest and predict
 * (value, raw, leaf; SHAP contributions when the explainer builds) on a row of
 * missing values and a row of ordinary numbers without tripping ASan/UBSan.
 * Seeds: tests/fuzz/corpus/model_load/ (golden models cut to a few trees).
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "treeserve/explain.h"
#include "treeserve/model.h"
#include "treeserve/predict.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Keeps one input's work bounded (a model may declare up to 10^6 features). */
#define MAX_ROW_FEATURES 200000
#define MAX_OUTPUT_WIDTH 2000000

static void predict_all(const ts_forest *f, int F) {
  double *X = malloc(2 * (size_t)F * sizeof(double));
  FUZZ_CHECK(X != NULL);
  for (int j = 0; j < F; j++) {
    X[j] = NAN;
    X[F + j] = (double)(j % 7) - 2.5;
  }
  static const ts_predict_type types[] = {TS_PREDICT_VALUE, TS_PREDICT_RAW, TS_PREDICT_LEAF};
  for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
    for (int start = 0; start <= 1; start++) {
      ts_predict_opts o = {types[t], start, start ? 1 : 0};
      long w = ts_predict_width(f, &o);
      FUZZ_CHECK(w >= 0);
      if (w > MAX_OUTPUT_WIDTH) continue;
      double *out = malloc(2 * (size_t)(w ? w : 1) * sizeof(double));
      FUZZ_CHECK(out != NULL);
      ts_error err;
      FUZZ_CHECK(ts_predict_rows(f, &o, X, 2, (size_t)F, out, &err) == 0);
      if (types[t] == TS_PREDICT_LEAF)
        for (long k = 0; k < 2 * w; k++) FUZZ_CHECK(out[k] >= 0 && out[k] == floor(out[k]));
      free(out);
    }
  }
  ts_explainer *ex = NULL;
  ts_error err;
  if (ts_explainer_build(f, &ex, &err) == 0) {
    ts_predict_opts o = {TS_PREDICT_CONTRIB, 0, 0};
    long w = ts_predict_width(f, &o);
    if (w > 0 && w <= MAX_OUTPUT_WIDTH) {
      double *out = malloc(2 * (size_t)w * sizeof(double));
      FUZZ_CHECK(out != NULL);
      (void)ts_explain_rows(ex, &o, X, 2, (size_t)F, out, &err);
      free(out);
    }
    ts_explainer_free(ex);
  }
  free(X);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  ts_model *m = NULL;
  ts_error err;
  err.msg[0] = 0;
  int rc = ts_model_load_buffer((const char *)data, size, "fuzz", &m, &err);
  if (rc) {
    FUZZ_CHECK(rc < 0 && m == NULL && err.msg[0] != 0);
    return 0;
  }
  FUZZ_CHECK(m != NULL);
  int F = ts_model_num_features(m);
  FUZZ_CHECK(F >= 1 && F <= TS_MODEL_MAX_FEATURES);
  FUZZ_CHECK(ts_model_num_class(m) >= 1);
  FUZZ_CHECK(ts_model_trees_per_iteration(m) >= 1);
  FUZZ_CHECK(ts_model_num_trees(m) >= 0);
  (void)ts_model_objective(m);
  (void)ts_model_transform_name(ts_model_transform(m));
  ts_model_stats st;
  ts_model_get_stats(m, &st);
  int lim = F < 64 ? F : 64;
  for (int j = 0; j < lim; j++) {
    const char *name = ts_model_feature_name(m, j);
    FUZZ_CHECK(name != NULL);
    int found = ts_model_find_feature(m, name, strlen(name));
    FUZZ_CHECK(found >= 0 && found < F);
    const char *const *cats;
    int nc = ts_model_pandas_categories(m, j, &cats);
    for (int c = 0; c < nc && c < 8; c++) {
      double code = ts_model_pandas_code(m, j, cats[c], strlen(cats[c]));
      FUZZ_CHECK(isnan(code) || (code >= 0 && code < nc));
    }
    (void)ts_model_feature_is_categorical(m, j);
  }
  if (F > MAX_ROW_FEATURES) {
    ts_model_free(m);
    return 0;
  }
  ts_forest *f = NULL;
  if (ts_forest_build(m, &f, &err)) return 0; /* the model was freed */
  predict_all(f, F);
  ts_forest_free(f);
  return 0;
}
