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
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "model/model_internal.h"
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

/* ---- compiled forest == reference decision, on random trees ----
 *
 * The compiled forest (forest.c) re-encodes LightGBM's node decision for
 * speed: NaN-left flags, thresholds in the zero band moved, categorical sets
 * copied into one word array, branch-free lane kernels. The model module's
 * ts__decision_left is the one reference implementation of that decision (it is
 * what TreeSHAP walks). This test builds random models as text (every missing
 * type with both default_left values, categorical sets of 1-3 words, thresholds
 * on and around kZeroThreshold), loads and compiles them, and checks that for
 * edge-case rows the leaf each tree reaches and the raw score (single-row
 * lanes of trees, batch lanes of rows, NaN and NaN-free kernels, per-row path)
 * equal walking the parsed trees with the reference on the row LightGBM sees
 * (ts__zero_clamp). */

typedef struct sbuf {
  char *s;
  size_t len, cap;
} sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...) {
  for (;;) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? b->cap - b->len : 0, fmt, ap);
    va_end(ap);
    assert_true(n >= 0);
    if (b->s && b->len + (size_t)n < b->cap) {
      b->len += (size_t)n;
      return;
    }
    size_t cap = b->cap ? b->cap * 2 : 4096;
    while (cap < b->len + (size_t)n + 1) cap *= 2;
    b->s = realloc(b->s, cap);
    assert_non_null(b->s);
    b->cap = cap;
  }
}

static uint64_t rng_next(uint64_t *st) { /* xorshift64* */
  uint64_t x = *st;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  *st = x;
  return x * 0x2545F4914F6CDD1DULL;
}
static int rng_int(uint64_t *st, int n) { return (int)(rng_next(st) % (uint64_t)n); }
static double rng_unit(uint64_t *st) { return (double)(rng_next(st) >> 11) / 9007199254740992.0; }

#define RT_NUM_FEATURES 6 /* 0..3 numerical, 4..5 categorical */
#define RT_FIRST_CAT 4
#define RT_MAX_LEAVES 40

/* Values around which decisions change: the zero band and its edges, signed
 * zeros, tiny and huge magnitudes. */
static double special_value(uint64_t *st) {
  const double kzt = TS_ZERO_THRESHOLD;
  const double v[] = {0.0,  -0.0,   1e-40, -1e-40, 1e-36, -1e-36, kzt, -kzt,
                      nextafter(kzt, 1.0), nextafter(-kzt, -1.0), nextafter(kzt, 0.0),
                      0.5,  -0.5,   1.0,   -1.0,   1e300, -1e300, 2.5, -2.5};
  return v[rng_int(st, (int)(sizeof v / sizeof v[0]))];
}

/* Appends one random tree (Tree=<index>) to b. all_simple: numerical nodes
 * with missing type None or NaN only (the branch-free kernels' trees). */
static void random_tree(sbuf *b, uint64_t *st, int index, bool all_simple) {
  int nl = 1 + rng_int(st, RT_MAX_LEAVES);
  int left[RT_MAX_LEAVES], right[RT_MAX_LEAVES], feat[RT_MAX_LEAVES], dt[RT_MAX_LEAVES];
  double thr[RT_MAX_LEAVES], count[RT_MAX_LEAVES];
  /* where each leaf hangs: internal node * 2 + side, or -1 for the root */
  int slot[RT_MAX_LEAVES] = {-1};
  int leaves = 1, ncat = 0, cat_words[RT_MAX_LEAVES];
  while (leaves < nl) {
    int l = rng_int(st, leaves), k = leaves - 1; /* split leaf l into node k */
    if (slot[l] >= 0) {
      if (slot[l] % 2) right[slot[l] / 2] = k;
      else left[slot[l] / 2] = k;
    }
    left[k] = ~l;
    right[k] = ~leaves;
    slot[l] = 2 * k;
    slot[leaves] = 2 * k + 1;
    leaves++;
    bool cat = !all_simple && rng_int(st, 3) == 0;
    int missing = all_simple ? 2 * rng_int(st, 2) : rng_int(st, 3);
    dt[k] = (missing << TS_DT_MISSING_SHIFT) | (rng_int(st, 2) ? TS_DT_DEFAULT_LEFT : 0);
    if (cat) {
      dt[k] |= TS_DT_CATEGORICAL;
      feat[k] = RT_FIRST_CAT + rng_int(st, RT_NUM_FEATURES - RT_FIRST_CAT);
      cat_words[ncat] = 1 + rng_int(st, 3);
      thr[k] = ncat++;
    } else {
      feat[k] = rng_int(st, RT_FIRST_CAT);
      thr[k] = rng_int(st, 2) ? special_value(st) : 6.0 * rng_unit(st) - 3.0;
    }
  }
  int ni = nl - 1;
  /* children are created after their parent, so one backward pass sums counts */
  for (int k = ni - 1; k >= 0; k--)
    count[k] = (left[k] < 0 ? 1 : count[left[k]]) + (right[k] < 0 ? 1 : count[right[k]]);
#define RT_LIST(name, fmt, n, expr)                                     \
  do {                                                                  \
    sb_printf(b, "%s=", name);                                          \
    for (int i_ = 0; i_ < (n); i_++) sb_printf(b, i_ ? " " fmt : fmt, expr); \
    sb_printf(b, "\n");                                                 \
  } while (0)
  sb_printf(b, "Tree=%d\nnum_leaves=%d\nnum_cat=%d\n", index, nl, ncat);
  if (ni > 0) {
    RT_LIST("split_feature", "%d", ni, feat[i_]);
    RT_LIST("split_gain", "%d", ni, 1);
    RT_LIST("threshold", "%.17g", ni, thr[i_]);
    RT_LIST("decision_type", "%d", ni, dt[i_]);
    RT_LIST("left_child", "%d", ni, left[i_]);
    RT_LIST("right_child", "%d", ni, right[i_]);
  }
  /* distinct dyadic leaf values: sums stay exact and tell leaves apart */
  RT_LIST("leaf_value", "%.17g", nl, (double)(index * 64 + i_ + 1) / 1024.0);
  RT_LIST("leaf_weight", "%d", nl, 1);
  RT_LIST("leaf_count", "%d", nl, 1);
  if (ni > 0) {
    RT_LIST("internal_value", "%d", ni, 0);
    RT_LIST("internal_weight", "%d", ni, 0);
    RT_LIST("internal_count", "%.0f", ni, count[i_]);
  }
  if (ncat > 0) {
    int bound = 0;
    sb_printf(b, "cat_boundaries=0");
    for (int c = 0; c < ncat; c++) sb_printf(b, " %d", bound += cat_words[c]);
    sb_printf(b, "\ncat_threshold=");
    for (int w = 0; w < bound; w++)
      sb_printf(b, w ? " %u" : "%u", (unsigned)(rng_next(st) >> 32) | 1u);
    sb_printf(b, "\n");
  }
  sb_printf(b, "is_linear=0\nshrinkage=1\n\n\n");
#undef RT_LIST
}

/* One input value for feature j of a random row of model m. */
static double random_input(uint64_t *st, const ts_model *m, int j, bool nan) {
  int pick = rng_int(st, 10);
  if (nan && pick == 0) return NAN;
  if (pick <= 3) {
    /* exactly a threshold on this feature, or one ulp either side */
    const ts_tree *t = &m->trees[rng_int(st, m->num_trees)];
    for (int tries = 0; tries < 8 && t->num_leaves > 1; tries++) {
      int k = rng_int(st, t->num_leaves - 1);
      if (t->split_feature[k] != j || (t->decision_type[k] & TS_DT_CATEGORICAL)) continue;
      int side = rng_int(st, 3);
      return side == 0 ? t->threshold[k] : nextafter(t->threshold[k], side == 1 ? 1e308 : -1e308);
    }
  }
  if (j >= RT_FIRST_CAT) {
    /* categories: in and past the 1-3 word bitsets, fractional, negative,
     * outside int's range */
    const double v[] = {-0.5, -1.0, -1.5, 0.999, 2.9, 31.0, 32.0, 63.5, 95.0, 96.0,
                        2147483647.0, 2147483648.0, -2147483648.0, -2147483649.0, 1e300,
                        INFINITY, -INFINITY};
    if (pick <= 6) return (double)rng_int(st, 100) + (rng_int(st, 2) ? 0.0 : rng_unit(st));
    if (pick <= 8) return v[rng_int(st, (int)(sizeof v / sizeof v[0]))];
    return special_value(st);
  }
  return pick <= 6 ? special_value(st) : 6.0 * rng_unit(st) - 3.0;
}

static void test_compiled_matches_reference(void **state) {
  (void)state;
  /* Every fifth model declares WIDE features (the trees use the first
   * RT_NUM_FEATURES): too wide for the feature-major copy of a batch, so the
   * row-pointer lane kernel runs instead. */
  enum { MODELS = 60, ROWS = 203, WIDE = 600 };
  uint64_t st = 0x9E3779B97F4A7C15ULL;
  double *X = malloc(sizeof(double) * ROWS * WIDE);
  double *leaf = malloc(sizeof(double) * ROWS * 16), *raw = malloc(sizeof(double) * ROWS);
  assert_non_null(X);
  assert_non_null(leaf);
  assert_non_null(raw);
  for (int mi = 0; mi < MODELS; mi++) {
    bool all_simple = mi % 3 == 0, nan = mi % 4 != 1;
    const int nf = mi % 5 == 4 ? WIDE : RT_NUM_FEATURES;
    int ntrees = 9 + rng_int(&st, 8); /* > 8: lanes of trees plus a remainder */
    sbuf b = {0};
    sb_printf(&b, "tree\nversion=v4\nnum_class=1\nnum_tree_per_iteration=1\nlabel_index=0\n"
                  "max_feature_idx=%d\nobjective=regression\nfeature_names=",
              nf - 1);
    for (int j = 0; j < nf; j++) sb_printf(&b, j ? " f%d" : "f%d", j);
    sb_printf(&b, "\nfeature_infos=");
    for (int j = 0; j < nf; j++)
      sb_printf(&b, "%s%s", j ? " " : "",
                j >= RT_NUM_FEATURES ? "none" : j < RT_FIRST_CAT ? "[-3:3]" : "0:1:2:3");
    sb_printf(&b, "\n\n");
    for (int t = 0; t < ntrees; t++) random_tree(&b, &st, t, all_simple);
    sb_printf(&b, "end of trees\n");
    ts_forest *f = build(b.s);
    free(b.s);
    const ts_model *m = ts_forest_model(f);
    assert_int_equal(m->num_trees, ntrees);

    for (int r = 0; r < ROWS; r++)
      for (int j = 0; j < nf; j++) X[r * nf + j] = j < RT_NUM_FEATURES ? random_input(&st, m, j, nan) : 1.0;
    ts_predict_opts ol = {TS_PREDICT_LEAF, 0, 0}, orw = {TS_PREDICT_RAW, 0, 0};
    ts_error err;
    assert_int_equal(ts_predict_rows(f, &ol, X, ROWS, (size_t)nf, leaf, &err), 0);
    assert_int_equal(ts_predict_rows(f, &orw, X, ROWS, (size_t)nf, raw, &err), 0);
    for (int r = 0; r < ROWS; r++) {
      const double *x = X + r * nf;
      double seen[RT_NUM_FEATURES], want = 0.0, one;
      for (int j = 0; j < RT_NUM_FEATURES; j++) seen[j] = ts__zero_clamp(x[j]);
      for (int t = 0; t < ntrees; t++) {
        int l = ts__tree_leaf(&m->trees[t], seen);
        if (leaf[r * ntrees + t] != (double)l) {
          print_message("model %d tree %d row %d: compiled leaf %g, reference leaf %d\n", mi, t,
                        r, leaf[r * ntrees + t], l);
          for (int j = 0; j < RT_NUM_FEATURES; j++) print_message("  x[%d] = %.17g\n", j, x[j]);
        }
        assert_true(leaf[r * ntrees + t] == (double)l);
        want += m->trees[t].leaf_value[l]; /* in tree order from 0.0, as predict sums */
      }
      assert_bits(raw[r], want);
      assert_int_equal(ts_predict_rows(f, &orw, x, 1, (size_t)nf, &one, &err), 0);
      assert_bits(one, want);
    }
    ts_forest_free(f);
  }
  free(X);
  free(leaf);
  free(raw);
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
      cmocka_unit_test(test_compiled_matches_reference),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
