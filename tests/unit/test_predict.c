/*
 * Unit tests for src/predict/: decisions (numerical, missing types None /
 * NaN / Zero, LightGBM's zero clamp, categorical edge cases), linear leaves,
 * iteration ranges, every output transform, rf averaging, leaf output,
 * argument errors, and parallel == serial. Expected values are computed by
 * hand from the fixture model (model_fixture.h).
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "model_fixture.h"
#include "treeserve/model.h"
#include "treeserve/predict.h"

static ts_forest *build(const char *text) {
  ts_model *m = NULL;
  ts_forest *f = NULL;
  ts_error err = {0};
  if (ts_model_load_buffer(text, strlen(text), "m.txt", &m, &err) != 0) print_message("%s\n", err.msg);
  assert_non_null(m);
  assert_int_equal(ts_forest_build(m, &f, &err), 0);
  return f;
}

static ts_forest *build_with(const char *from, const char *to) {
  char *t = fixture_replace(kFixtureModel, from, to);
  assert_non_null(t);
  ts_forest *f = build(t);
  free(t);
  return f;
}

static double raw1(const ts_forest *f, double a, double b, double c) {
  double x[3] = {a, b, c}, out[8];
  ts_predict_opts o = {TS_PREDICT_RAW, 0, 0};
  ts_error err;
  assert_int_equal(ts_predict_rows(f, &o, x, 1, 3, out, &err), 0);
  /* the batch path (lanes of rows) must agree with the single-row path */
  double xs[3 * 9], outs[9];
  for (int r = 0; r < 9; r++) memcpy(xs + 3 * r, x, sizeof x);
  assert_int_equal(ts_predict_rows(f, &o, xs, 9, 3, outs, &err), 0);
  for (int r = 0; r < 9; r++) assert_memory_equal(&outs[r], &out[0], sizeof(double));
  return out[0];
}

static void assert_bits(double got, double want) {
  if (memcmp(&got, &want, sizeof got) != 0) print_message("got %.17g want %.17g\n", got, want);
  assert_memory_equal(&got, &want, sizeof got);
}

static double sum2(double a, double b) {
  double s = 0.0;
  s += a;
  s += b;
  return s;
}

static void test_decisions(void **state) {
  (void)state;
  ts_forest *f = build(kFixtureModel);
  assert_bits(raw1(f, 0.3, 0.1, 0), sum2(0.1, -1));
  assert_bits(raw1(f, 0.5, 0.25, 0), sum2(0.1, -1));  /* x <= thr is left */
  assert_bits(raw1(f, 0.7, 0.3, 1), sum2(0.2, 1));
  assert_bits(raw1(f, 0.7, NAN, 2.9), sum2(0.2, -1)); /* NaN-missing default left; 2.9 -> 2 */
  assert_bits(raw1(f, 0.7, 0.3, 3), sum2(0.3, 1));
  assert_bits(raw1(f, 0.7, 0.3, -0.5), sum2(0.3, 1));  /* truncates to 0, not in {1,2} */
  assert_bits(raw1(f, NAN, 0.3, 1), sum2(0.1, 1));     /* missing None: NaN is 0.0 */
  assert_bits(raw1(f, 0.7, 0.3, NAN), sum2(0.3, 1));   /* categorical NaN goes right */
  assert_bits(raw1(f, 0.7, 0.3, 3e9), sum2(0.3, 1));   /* int cast out of range */
  assert_bits(raw1(f, 0.7, 0.3, -1), sum2(0.3, 1));
  assert_bits(raw1(f, 0.7, 0.3, 1.999), sum2(0.2, 1));
  assert_bits(raw1(f, 0.7, 0.3, 33), sum2(0.3, 1));    /* beyond the bitset */
  assert_bits(raw1(f, 0.7, 0.3, INFINITY), sum2(0.3, 1));
  assert_bits(raw1(f, -INFINITY, INFINITY, 1), sum2(0.1, 1));
  ts_forest_free(f);
}

static void test_zero_clamp_and_zero_missing(void **state) {
  (void)state;
  /* LightGBM sees |x| <= 1e-35f as 0.0: with threshold 1e-36, x = 5e-36 goes left. */
  ts_forest *f = build_with("threshold=0.5 0", "threshold=1e-36 0");
  assert_bits(raw1(f, 5e-36, 0, 1), sum2(0.1, -1));
  assert_bits(raw1(f, -5e-36, 0, 1), sum2(0.1, -1));
  assert_bits(raw1(f, 2e-35, 0, 1), sum2(0.2, -1));
  assert_bits(raw1(f, -0.0, 0, 1), sum2(0.1, -1));
  ts_forest_free(f);
  f = build_with("threshold=0.5 0", "threshold=-1e-36 0");
  assert_bits(raw1(f, -5e-36, 0, 1), sum2(0.2, -1));
  assert_bits(raw1(f, -2e-35, 0, 1), sum2(0.1, -1));
  assert_bits(raw1(f, NAN, 0, 1), sum2(0.2, -1)); /* NaN -> 0 > -1e-36 */
  ts_forest_free(f);
  /* missing type Zero (decision_type 4: default right; 6: default left) */
  f = build_with("decision_type=0 1", "decision_type=4 1");
  assert_bits(raw1(f, 0.0, 0, 1), sum2(0.2, -1));
  assert_bits(raw1(f, NAN, 0, 1), sum2(0.2, -1));
  assert_bits(raw1(f, 1e-36, 0, 1), sum2(0.2, -1));
  assert_bits(raw1(f, 0.3, 0, 1), sum2(0.1, -1));
  ts_forest_free(f);
  f = build_with("decision_type=0 1", "decision_type=6 1");
  assert_bits(raw1(f, 0.0, 0, 1), sum2(0.1, -1));
  assert_bits(raw1(f, NAN, 0, 1), sum2(0.1, -1));
  assert_bits(raw1(f, 0.7, 0, 1), sum2(0.2, -1));
  ts_forest_free(f);
  /* missing type NaN, default right (decision_type 8) */
  f = build_with("decision_type=0 1", "decision_type=8 1");
  assert_bits(raw1(f, NAN, 0, 1), sum2(0.2, -1));
  assert_bits(raw1(f, 0.0, 0, 1), sum2(0.1, -1));
  ts_forest_free(f);
}

static void test_linear_leaves(void **state) {
  (void)state;
  ts_forest *f = build_with("is_linear=0\nshrinkage=0.1",
                            "is_linear=1\nleaf_const=0.5 0.25\nnum_features=1 0\nleaf_features=0  \n"
                            "leaf_coeff=2  \nshrinkage=0.1");
  assert_true(ts_model_has_linear_trees(ts_forest_model(f)));
  double l = 0.5;
  l += 2 * 0.3;
  assert_bits(raw1(f, 0.3, 0.1, 0), sum2(0.1, l));
  assert_bits(raw1(f, NAN, 0.1, 0), sum2(0.1, -1)); /* NaN feature: leaf_value */
  assert_bits(raw1(f, 1e-36, 0.1, 0), sum2(0.1, 0.5)); /* clamped to 0 */
  assert_bits(raw1(f, 0.7, 0.3, 1), sum2(0.2, 0.25));
  ts_forest_free(f);
}

static void test_iterations_and_leaves(void **state) {
  (void)state;
  ts_forest *f = build(kFixtureModel);
  double x[3] = {0.7, 0.3, 1}, out[4];
  ts_error err;
  ts_predict_opts o = {TS_PREDICT_RAW, 1, 0};
  assert_int_equal(ts_predict_width(f, &o), 1);
  assert_int_equal(ts_predict_rows(f, &o, x, 1, 3, out, &err), 0);
  assert_bits(out[0], 1.0); /* only tree 1 */
  o = (ts_predict_opts){TS_PREDICT_RAW, 0, 1};
  assert_int_equal(ts_predict_rows(f, &o, x, 1, 3, out, &err), 0);
  assert_bits(out[0], 0.2);
  o = (ts_predict_opts){TS_PREDICT_RAW, -3, 99};
  assert_int_equal(ts_predict_rows(f, &o, x, 1, 3, out, &err), 0);
  assert_bits(out[0], sum2(0.2, 1));
  o = (ts_predict_opts){TS_PREDICT_RAW, 5, 0}; /* clamped to 2: no trees */
  assert_int_equal(ts_predict_rows(f, &o, x, 1, 3, out, &err), 0);
  assert_bits(out[0], 0.0);
  o = (ts_predict_opts){TS_PREDICT_LEAF, 0, 0};
  assert_int_equal(ts_predict_width(f, &o), 2);
  assert_int_equal(ts_predict_rows(f, &o, x, 1, 3, out, &err), 0);
  assert_true(out[0] == 1 && out[1] == 1);
  double x2[3] = {0.7, 0.3, 5};
  assert_int_equal(ts_predict_rows(f, &o, x2, 1, 3, out, &err), 0);
  assert_true(out[0] == 2 && out[1] == 1);
  o = (ts_predict_opts){TS_PREDICT_LEAF, 1, 5};
  assert_int_equal(ts_predict_width(f, &o), 1);
  assert_int_equal(ts_predict_rows(f, &o, x, 1, 3, out, &err), 0);
  assert_true(out[0] == 1);
  o = (ts_predict_opts){TS_PREDICT_LEAF, 2, 0};
  assert_int_equal(ts_predict_width(f, &o), 0);
  ts_forest_free(f);
}

static double value1(const ts_forest *f, const double *x, double *out) {
  ts_predict_opts o = {TS_PREDICT_VALUE, 0, 0};
  ts_error err;
  assert_int_equal(ts_predict_rows(f, &o, x, 1, 3, out, &err), 0);
  return out[0];
}

static void test_transforms(void **state) {
  (void)state;
  double x[3] = {0.7, 0.3, 1}, out[4];
  double raw = sum2(0.2, 1);
  ts_forest *f = build(kFixtureModel);
  assert_bits(value1(f, x, out), 1.0 / (1.0 + exp(-1.0 * raw)));
  ts_forest_free(f);
  f = build_with("objective=binary sigmoid:1", "objective=binary sigmoid:0.5");
  assert_bits(value1(f, x, out), 1.0 / (1.0 + exp(-0.5 * raw)));
  ts_forest_free(f);
  f = build_with("objective=binary sigmoid:1", "objective=cross_entropy");
  assert_bits(value1(f, x, out), 1.0 / (1.0 + exp(-raw)));
  ts_forest_free(f);
  f = build_with("objective=binary sigmoid:1", "objective=cross_entropy_lambda");
  assert_bits(value1(f, x, out), log1p(exp(raw)));
  ts_forest_free(f);
  const char *exps[] = {"objective=poisson", "objective=gamma", "objective=tweedie"};
  for (int i = 0; i < 3; i++) {
    f = build_with("objective=binary sigmoid:1", exps[i]);
    assert_int_equal(ts_model_transform(ts_forest_model(f)), TS_TRANSFORM_EXP);
    assert_bits(value1(f, x, out), exp(raw));
    ts_forest_free(f);
  }
  const char *ids[] = {"objective=regression", "objective=regression_l1", "objective=huber",
                       "objective=fair", "objective=quantile", "objective=mape",
                       "objective=lambdarank", "objective=rank_xendcg"};
  for (int i = 0; i < 8; i++) {
    f = build_with("objective=binary sigmoid:1", ids[i]);
    assert_bits(value1(f, x, out), raw);
    ts_forest_free(f);
  }
  f = build_with("objective=binary sigmoid:1\n", ""); /* custom objective: no line */
  assert_string_equal(ts_model_objective_name(ts_forest_model(f)), "custom");
  assert_bits(value1(f, x, out), raw);
  ts_forest_free(f);
  f = build_with("objective=binary sigmoid:1", "objective=regression sqrt");
  assert_int_equal(ts_model_transform(ts_forest_model(f)), TS_TRANSFORM_SQUARE);
  assert_bits(value1(f, x, out), raw * raw);
  double xn[3] = {0.3, 0.1, 0};
  double rn = sum2(0.1, -1);
  assert_bits(value1(f, xn, out), (-1.0 * rn) * rn);
  ts_forest_free(f);
  /* rf: value averages over the iterations used, raw does not */
  f = build_with("label_index=0\n", "label_index=0\naverage_output\n");
  assert_true(ts_model_average_output(ts_forest_model(f)));
  assert_bits(value1(f, x, out), 1.0 / (1.0 + exp(-1.0 * (raw / 2))));
  assert_bits(raw1(f, 0.7, 0.3, 1), raw);
  ts_forest_free(f);
}

static void test_multiclass(void **state) {
  (void)state;
  char *t = fixture_replace(kFixtureModel, "num_class=1\nnum_tree_per_iteration=1",
                            "num_class=2\nnum_tree_per_iteration=2");
  char *t2 = fixture_replace(t, "objective=binary sigmoid:1", "objective=multiclass num_class:2");
  char *t3 = fixture_replace(t, "objective=binary sigmoid:1",
                             "objective=multiclassova num_class:2 sigmoid:2");
  double x[3] = {0.7, 0.3, 1}, out[4];
  ts_error err;
  ts_forest *f = build(t2);
  ts_predict_opts o = {TS_PREDICT_RAW, 0, 0};
  assert_int_equal(ts_predict_width(f, &o), 2);
  assert_int_equal(ts_predict_rows(f, &o, x, 1, 3, out, &err), 0);
  assert_bits(out[0], 0.2);
  assert_bits(out[1], 1.0);
  double e0 = exp(0.2 - 1.0), e1 = exp(1.0 - 1.0), s = 0.0;
  s += e0;
  s += e1;
  value1(f, x, out);
  assert_bits(out[0], e0 / s);
  assert_bits(out[1], e1 / s);
  ts_forest_free(f);
  f = build(t3);
  value1(f, x, out);
  assert_bits(out[0], 1.0 / (1.0 + exp(-2.0 * 0.2)));
  assert_bits(out[1], 1.0 / (1.0 + exp(-2.0 * 1.0)));
  ts_forest_free(f);
  free(t);
  free(t2);
  free(t3);
}

static void test_errors(void **state) {
  (void)state;
  ts_forest *f = build(kFixtureModel);
  double x[3] = {0}, out[8];
  ts_error err;
  ts_predict_opts o = {TS_PREDICT_CONTRIB, 0, 0};
  assert_int_equal(ts_predict_width(f, &o), 4);
  assert_int_equal(ts_predict_rows(f, &o, x, 1, 3, out, &err), TS_EUNSUPPORTED);
  o.type = (ts_predict_type)42;
  assert_true(ts_predict_width(f, &o) < 0);
  assert_int_equal(ts_predict_rows(f, &o, x, 1, 3, out, &err), TS_EINVAL);
  o.type = TS_PREDICT_RAW;
  assert_int_equal(ts_predict_rows(f, &o, x, 1, 2, out, &err), TS_EINVAL);
  assert_non_null(strstr(err.msg, "stride"));
  assert_int_equal(ts_predict_rows(f, &o, NULL, 1, 3, out, &err), TS_EINVAL);
  assert_int_equal(ts_predict_rows(f, &o, x, 0, 3, out, &err), 0);
  assert_int_equal(ts_predict_rows(f, NULL, x, 1, 3, out, &err), TS_EINVAL);
  assert_true(ts_forest_memory_bytes(f) > 0);
  ts_forest_free(f);
  ts_forest_free(NULL);
}

static void test_parallel_equals_serial(void **state) {
  (void)state;
  ts_forest *f = build(kFixtureModel);
  enum { N = 1237 };
  double *X = malloc(sizeof(double) * N * 4), *a = malloc(sizeof(double) * N * 2),
         *b = malloc(sizeof(double) * N * 2);
  unsigned s = 7;
  for (int i = 0; i < N * 4; i++) {
    s = s * 1103515245u + 12345u;
    X[i] = (s >> 8) % 7 == 0 ? NAN : ((double)((s >> 8) % 4000) / 1000.0 - 0.5);
  }
  ts_error err;
  ts_predict_type types[3] = {TS_PREDICT_RAW, TS_PREDICT_VALUE, TS_PREDICT_LEAF};
  int threads[5] = {0, 1, 2, 3, 7};
  for (int ti = 0; ti < 3; ti++) {
    ts_predict_opts o = {types[ti], 0, 0};
    long w = ts_predict_width(f, &o);
    /* stride 4 > 3 features: the extra column is ignored */
    assert_int_equal(ts_predict_rows(f, &o, X, N, 4, a, &err), 0);
    for (int r = 0; r < N; r += 101) {
      double one[2];
      assert_int_equal(ts_predict_rows(f, &o, X + 4 * r, 1, 4, one, &err), 0);
      assert_memory_equal(one, a + r * w, sizeof(double) * (size_t)w);
    }
    for (int k = 0; k < 5; k++) {
      memset(b, 0, sizeof(double) * N * 2);
      assert_int_equal(ts_predict_rows_parallel(f, &o, X, N, 4, b, threads[k], &err), 0);
      assert_memory_equal(a, b, sizeof(double) * N * (size_t)w);
    }
  }
  ts_predict_opts bad = {TS_PREDICT_CONTRIB, 0, 0};
  assert_int_equal(ts_predict_rows_parallel(f, &bad, X, N, 4, b, 2, &err), TS_EUNSUPPORTED);
  free(X);
  free(a);
  free(b);
  ts_forest_free(f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_decisions),
      cmocka_unit_test(test_zero_clamp_and_zero_missing),
      cmocka_unit_test(test_linear_leaves),
      cmocka_unit_test(test_iterations_and_leaves),
      cmocka_unit_test(test_transforms),
      cmocka_unit_test(test_multiclass),
      cmocka_unit_test(test_errors),
      cmocka_unit_test(test_parallel_equals_serial),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
