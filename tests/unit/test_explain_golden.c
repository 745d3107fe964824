/* Golden test for src/explain/: every tests/golden/<case>/ with a contrib.csv
 * must reproduce LightGBM's predict(pred_contrib=True) within 1e-12 (absolute,
 * or relative for values above 1), with both algorithms, and per row and class
 * the contributions must sum to raw.csv within 1e-9. predict_kwargs
 * (start_iteration / num_iteration) from meta.json are applied. Cases whose
 * meta.json says contrib_not_available (linear trees) must be refused with
 * TS_EUNSUPPORTED. Run from the repository root (or with TREESERVE_SRC set).
 * Case files are read with golden_util.h, shared with test_golden.c. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "explain/explain_internal.h"
#include "treeserve/explain.h"
#include "treeserve/model.h"
#include "treeserve/predict.h"
/* after the engine headers: it uses ts_model_* */
#include "golden_util.h"

static int run_case(const char *root, const char *name) {
  char path[1400];
  golden_path(path, sizeof path, root, name, "meta.json");
  char *meta = golden_read_file(path, NULL);
  if (!meta) fail_msg("%s: case without meta.json", name);
  ts_error err;
  ts_model *m = NULL;
  golden_path(path, sizeof path, root, name, "model.txt");
  if (ts_model_load_file(path, &m, &err)) fail_msg("%s: %s", name, err.msg);
  ts_forest *f = NULL;
  if (ts_forest_build(m, &f, &err)) fail_msg("%s: %s", name, err.msg);
  ts_explainer *e = NULL;
  const int rc = ts_explainer_build(f, &e, &err);
  if (strstr(meta, "contrib_not_available")) {
    if (rc != TS_EUNSUPPORTED) fail_msg("%s: linear model not refused (rc %d)", name, rc);
    assert_non_null(strstr(err.msg, "linear"));
    ts_forest_free(f);
    free(meta);
    return 1;
  }
  if (rc) fail_msg("%s: %s", name, err.msg);
  const ts_model *cm = ts_forest_model(f);
  size_t nrows, wrows, wcols, rrows, rcols;
  golden_path(path, sizeof path, root, name, "X.csv");
  double *X = golden_read_x(cm, path, &nrows);
  golden_path(path, sizeof path, root, name, "contrib.csv");
  double *want = golden_read_numbers(path, &wrows, &wcols);
  if (!want) fail_msg("%s: no contrib.csv and no contrib_not_available in meta.json", name);
  golden_path(path, sizeof path, root, name, "raw.csv");
  double *raw = golden_read_numbers(path, &rrows, &rcols);
  assert_non_null(raw);
  const int nf = ts_model_num_features(cm), K = ts_model_trees_per_iteration(cm);
  const size_t width = (size_t)(nf + 1) * (size_t)K, nwant = wrows * wcols;
  if (wrows != nrows || wcols != width)
    fail_msg("%s: contrib.csv is %zux%zu, want %zux%zu", name, wrows, wcols, nrows, width);
  if (rrows != nrows || rcols != (size_t)K) fail_msg("%s: raw.csv is %zux%zu", name, rrows, rcols);
  ts_predict_opts o = {TS_PREDICT_CONTRIB, golden_predict_kwarg(meta, "start_iteration", 0),
                       golden_predict_kwarg(meta, "num_iteration", 0)};
  assert_int_equal(ts_predict_width(f, &o), (long)width);
  double *got = malloc(nwant * sizeof(double));
  for (int alg = 0; alg < 2; alg++) {
    ts__explainer_set_algorithm(e, alg);
    if (ts_explain_rows(e, &o, X, nrows, (size_t)nf, got, &err)) fail_msg("%s: %s", name, err.msg);
    for (size_t i = 0; i < nwant; i++) {
      const double d = fabs(got[i] - want[i]);
      if (!(d <= 1e-12 * fmax(1.0, fabs(want[i])))) {
        fail_msg("%s (algorithm %d): row %zu column %zu: got %.17g, LightGBM %.17g", name, alg,
                 i / width, i % width, got[i], want[i]);
      }
    }
    for (size_t r = 0; r < nrows; r++) {
      for (int k = 0; k < K; k++) {
        double s = 0;
        for (int j = 0; j <= nf; j++) s += got[r * width + (size_t)k * (size_t)(nf + 1) + (size_t)j];
        const double rv = raw[r * (size_t)K + (size_t)k];
        if (!(fabs(s - rv) <= 1e-9 * fmax(1.0, fabs(rv)))) {
          fail_msg("%s: row %zu class %d: contributions sum to %.17g, raw %.17g", name, r, k, s, rv);
        }
      }
    }
  }
  free(got);
  free(X);
  free(want);
  free(raw);
  ts_explainer_free(e);
  ts_forest_free(f);
  free(meta);
  return 1;
}

static void test_golden_contrib(void **state) {
  (void)state;
  const char *root = golden_root();
  char **names;
  const int n = golden_list_cases(root, &names);
  int cases = 0;
  for (int i = 0; i < n; i++) {
    cases += run_case(root, names[i]);
    free(names[i]);
  }
  free(names);
  /* 46 golden cases: a count far below means the data went missing. */
  if (cases < 40) fail_msg("only %d golden cases found under %s/tests/golden", cases, root);
  print_message("checked %d golden cases\n", cases);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_golden_contrib),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
