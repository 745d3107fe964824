/*
 * Golden test runner: for every case directory under tests/golden/ load
 * model.txt, read X.csv (header of feature names matched by name; empty field
 * = NaN; strings of pandas categorical columns mapped with
 * ts_model_pandas_code; reading shared with test_explain_golden.c in
 * golden_util.h), apply meta.json's predict_kwargs and compare with
 * LightGBM's own outputs:
 *   raw.csv   bit for bit
 *   pred.csv  bit for bit, or within 1e-15 relative (counted separately)
 *   leaf.csv  exactly
 * Prints one line per case; fails if any case does not match. Also checks that
 * the multi-threaded path gives identical bits.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "treeserve/model.h"
#include "treeserve/predict.h"
/* after the engine headers: it uses ts_model_* */
#include "golden_util.h"

typedef struct stats {
  int cases, failed, value_inexact;
} stats;

static bool same_bits(double a, double b) { return memcmp(&a, &b, sizeof a) == 0; }

static void run_case(const char *root, const char *name, stats *st) {
  char path[2200];
  ts_error err = {0};
  ts_model *m = NULL;
  golden_path(path, sizeof path, root, name, "model.txt");
  int rc = ts_model_load_file(path, &m, &err);
  if (rc) {
    print_message("FAIL %-40s load: %s\n", name, err.msg);
    st->failed++;
    return;
  }
  ts_forest *f = NULL;
  assert_int_equal(ts_forest_build(m, &f, &err), 0);
  m = NULL;
  const ts_model *mm = ts_forest_model(f);
  int nfeat = ts_model_num_features(mm);

  size_t nrows;
  golden_path(path, sizeof path, root, name, "X.csv");
  double *X = golden_read_x(mm, path, &nrows);

  golden_path(path, sizeof path, root, name, "meta.json");
  char *meta = golden_read_file(path, NULL);
  assert_non_null(meta);
  ts_predict_opts opts = {TS_PREDICT_RAW, golden_predict_kwarg(meta, "start_iteration", 0),
                          golden_predict_kwarg(meta, "num_iteration", -1)};
  free(meta);

  static const char *const files[3] = {"raw.csv", "pred.csv", "leaf.csv"};
  static const ts_predict_type types[3] = {TS_PREDICT_RAW, TS_PREDICT_VALUE, TS_PREDICT_LEAF};
  int bad[3] = {0, 0, 0}, inexact = 0;
  for (int w = 0; w < 3; w++) {
    size_t er = 0, ec = 0;
    golden_path(path, sizeof path, root, name, files[w]);
    double *exp = golden_read_numbers(path, &er, &ec);
    assert_non_null(exp);
    opts.type = types[w];
    long width = ts_predict_width(f, &opts);
    if (er != nrows || ec != (size_t)width) {
      print_message("FAIL %-40s %s: shape %zux%zu, we give %zux%ld\n", name, files[w], er, ec, nrows,
                    width);
      bad[w]++;
      free(exp);
      continue;
    }
    double *got = malloc(nrows * (size_t)width * sizeof *got);
    double *got2 = malloc(nrows * (size_t)width * sizeof *got2);
    assert_int_equal(ts_predict_rows(f, &opts, X, nrows, (size_t)nfeat, got, &err), 0);
    assert_int_equal(ts_predict_rows_parallel(f, &opts, X, nrows, (size_t)nfeat, got2, 3, &err), 0);
    assert_memory_equal(got, got2, nrows * (size_t)width * sizeof *got);
    /* one row at a time, as the server calls it */
    for (size_t r = 0; r < nrows; r += 7) {
      assert_int_equal(ts_predict_rows(f, &opts, X + r * (size_t)nfeat, 1, (size_t)nfeat, got2, &err), 0);
      assert_memory_equal(got + r * (size_t)width, got2, (size_t)width * sizeof *got);
    }
    for (size_t i = 0; i < nrows * (size_t)width; i++) {
      if (same_bits(got[i], exp[i])) continue;
      if (w == 1 && fabs(got[i] - exp[i]) <= 1e-15 * fabs(exp[i])) {
        inexact++;
        continue;
      }
      if (bad[w]++ < 3)
        print_message("  %s %s row %zu col %zu: got %.17g want %.17g\n", name, files[w],
                      i / (size_t)width, i % (size_t)width, got[i], exp[i]);
    }
    free(got);
    free(got2);
    free(exp);
  }
  st->cases++;
  if (bad[0] || bad[1] || bad[2]) {
    st->failed++;
    print_message("FAIL %-40s raw %d, pred %d, leaf %d mismatches (%zu rows)\n", name, bad[0],
                  bad[1], bad[2], nrows);
  } else {
    print_message("ok   %-40s %zu rows, raw+leaf exact, pred %s\n", name, nrows,
                  inexact ? "within 1e-15" : "exact");
  }
  st->value_inexact += inexact;
  free(X);
  ts_forest_free(f);
}

static void test_all_golden_cases(void **state) {
  (void)state;
  const char *root = golden_root();
  char **names;
  int n = golden_list_cases(root, &names);
  stats st = {0, 0, 0};
  for (int i = 0; i < n; i++) {
    run_case(root, names[i], &st);
    free(names[i]);
  }
  free(names);
  print_message("%d cases, %d failed, %d values within 1e-15 but not bit-exact\n", st.cases,
                st.failed, st.value_inexact);
  assert_true(n >= 46);
  assert_int_equal(st.failed, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_all_golden_cases),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
