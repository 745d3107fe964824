/* Unit tests for src/explain/: TreeSHAP on hand-built trees.
 *
 * Random trees (repeated features, numerical splits with every missing type,
 * categorical splits) are explained by both algorithms and compared with the
 * Shapley values computed by brute force from their definition (path-dependent
 * conditional expectations over the cover counts). Plus: decision rules,
 * quadrature exactness, linear trees refused, bad counts, the depth limit,
 * iteration ranges and the multiclass layout, threads, bad arguments.
 * The golden comparison with LightGBM is in test_explain_golden.c. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "explain/explain_internal.h"
#include "explain/shap_tree.h"
#include "model/model_internal.h"
#include "treeserve/explain.h"

/* ---------------------------------------------------------- tree building */

static uint64_t rng_state = 88172645463325252ull;
static uint64_t rnd(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return rng_state;
}
static double unif(void) { return (double)(rnd() >> 11) / 9007199254740992.0; }

static void tree_alloc(ts_tree *t, int nl) {
  memset(t, 0, sizeof *t);
  t->num_leaves = nl;
  t->shrinkage = 1;
  t->leaf_value = calloc((size_t)nl, sizeof(double));
  t->leaf_count = calloc((size_t)nl, sizeof(double));
  if (nl > 1) {
    const size_t ni = (size_t)nl - 1;
    t->split_feature = calloc(ni, sizeof(int32_t));
    t->threshold = calloc(ni, sizeof(double));
    t->decision_type = calloc(ni, 1);
    t->left_child = calloc(ni, sizeof(int32_t));
    t->right_child = calloc(ni, sizeof(int32_t));
    t->internal_count = calloc(ni, sizeof(double));
  }
  /* one categorical set {1, 3, 40} shared by every categorical node */
  t->num_cat = 1;
  t->cat_boundaries = calloc(2, sizeof(int32_t));
  t->cat_threshold = calloc(2, sizeof(uint32_t));
  t->cat_boundaries[1] = 2;
  t->cat_threshold[0] = (1u << 1) | (1u << 3);
  t->cat_threshold[1] = 1u << (40 - 32);
}

static void tree_free(ts_tree *t) {
  free(t->leaf_value);
  free(t->leaf_count);
  free(t->split_feature);
  free(t->threshold);
  free(t->decision_type);
  free(t->left_child);
  free(t->right_child);
  free(t->internal_count);
  free(t->cat_boundaries);
  free(t->cat_threshold);
}

static double fill_counts(ts_tree *t, int node) {
  if (node < 0) return t->leaf_count[~node];
  const double c = fill_counts(t, t->left_child[node]) + fill_counts(t, t->right_child[node]);
  t->internal_count[node] = c;
  return c;
}

/* A random tree grown leaf-wise like LightGBM's: split a random leaf each time. */
static void random_tree(ts_tree *t, int nl, int nf, int allow_cat) {
  tree_alloc(t, nl);
  for (int k = 0; k < nl - 1; k++) {
    int leaf = (int)(rnd() % (uint64_t)(k + 1));
    /* redirect the pointer to ~leaf (if any) to the new node k */
    for (int u = 0; u < k; u++) {
      if (t->left_child[u] == ~leaf) t->left_child[u] = k;
      if (t->right_child[u] == ~leaf) t->right_child[u] = k;
    }
    t->left_child[k] = ~leaf;
    t->right_child[k] = ~(k + 1);
    t->split_feature[k] = (int32_t)(rnd() % (uint64_t)nf);
    if (allow_cat && rnd() % 4 == 0) {
      t->decision_type[k] = TS_DT_CATEGORICAL;
      t->threshold[k] = 0;
    } else {
      const int missing = (int)(rnd() % 3);
      t->decision_type[k] = (uint8_t)((missing << TS_DT_MISSING_SHIFT) |
                                      (rnd() % 2 ? TS_DT_DEFAULT_LEFT : 0));
      static const double thr[] = {-0.5, 0.0, 0.25, 1.5, 3.0};
      t->threshold[k] = thr[rnd() % 5];
    }
  }
  for (int l = 0; l < nl; l++) {
    t->leaf_value[l] = 2 * unif() - 1;
    t->leaf_count[l] = (double)(1 + rnd() % 50);
  }
  if (nl > 1) fill_counts(t, 0);
}

/* ------------------------------------------------------------ brute force */

/* E[f(x) | x_S] with the cover as the distribution of the other features. */
static double cond_exp(const ts_tree *t, int node, const double *x, unsigned S) {
  if (node < 0) return t->leaf_value[~node];
  const int f = t->split_feature[node];
  if (S & (1u << f)) return cond_exp(t, ts__tree_next(t, node, x[f]), x, S);
  const int l = t->left_child[node], r = t->right_child[node];
  const double cl = l < 0 ? t->leaf_count[~l] : t->internal_count[l];
  const double cr = r < 0 ? t->leaf_count[~r] : t->internal_count[r];
  return (cl * cond_exp(t, l, x, S) + cr * cond_exp(t, r, x, S)) / t->internal_count[node];
}

static void brute_shap(const ts_tree *t, int nf, const double *x_in, double *phi) {
  /* LightGBM reads |v| <= 1e-35f as 0 (see ts__shap_load_row). */
  double x[16];
  for (int j = 0; j < nf; j++) x[j] = fabs(x_in[j]) <= (double)1e-35f ? 0.0 : x_in[j];
  double fact[16];
  fact[0] = 1;
  for (int i = 1; i < 16; i++) fact[i] = fact[i - 1] * i;
  memset(phi, 0, sizeof(double) * (size_t)(nf + 1));
  if (t->num_leaves == 1) {
    phi[nf] = t->leaf_value[0];
    return;
  }
  phi[nf] = cond_exp(t, 0, x, 0);
  for (int i = 0; i < nf; i++) {
    for (unsigned S = 0; S < (1u << nf); S++) {
      if (S & (1u << i)) continue;
      const int s = __builtin_popcount(S);
      const double wgt = fact[s] * fact[nf - s - 1] / fact[nf];
      phi[i] += wgt * (cond_exp(t, 0, x, S | (1u << i)) - cond_exp(t, 0, x, S));
    }
  }
}

static double random_value(void) {
  static const double vals[] = {NAN, 0.0, -0.0, 1e-40, -0.5, 0.25, 0.3, 1.0, 1.5, 3.0,
                                3.5, 40.0, 40.9, -3.0, 1e300, -1e300, 2.5e9};
  return vals[rnd() % (sizeof vals / sizeof vals[0])];
}

static ts_model *model_of(ts_tree *trees, int ntrees, int nf, int per_iter) {
  ts_model *m = calloc(1, sizeof *m);
  m->num_features = nf;
  m->max_feature_idx = nf - 1;
  m->num_class = per_iter;
  m->num_tree_per_iteration = per_iter;
  m->num_trees = ntrees;
  m->trees = trees;
  return m;
}

static void assert_close(double got, double want, double tol, const char *what, int i) {
  const double d = fabs(got - want);
  if (!(d <= tol * fmax(1.0, fabs(want)))) {
    fail_msg("%s[%d]: got %.17g want %.17g (diff %.3g)", what, i, got, want, d);
  }
}

/* ------------------------------------------------------------------ tests */

static void test_random_trees_match_brute_force(void **state) {
  (void)state;
  const int nf = 5;
  for (int trial = 0; trial < 300; trial++) {
    ts_tree t;
    const int nl = 1 + (int)(rnd() % 24);
    random_tree(&t, nl, nf, 1);
    ts_model *m = model_of(&t, 1, nf, 1);
    ts_explainer *e = NULL;
    ts_error err;
    assert_int_equal(ts__explainer_build_model(m, &e, &err), 0);
    for (int row = 0; row < 8; row++) {
      double x[5], want[6], fast[6], path[6];
      for (int j = 0; j < nf; j++) x[j] = random_value();
      brute_shap(&t, nf, x, want);
      ts_predict_opts o = {TS_PREDICT_CONTRIB, 0, 0};
      ts__explainer_set_algorithm(e, TS__EXPLAIN_FAST);
      assert_int_equal(ts_explain_rows(e, &o, x, 1, (size_t)nf, fast, &err), 0);
      ts__explainer_set_algorithm(e, TS__EXPLAIN_PATH);
      assert_int_equal(ts_explain_rows(e, &o, x, 1, (size_t)nf, path, &err), 0);
      for (int j = 0; j <= nf; j++) {
        assert_close(fast[j], want[j], 1e-12, "fast", j);
        assert_close(path[j], want[j], 1e-12, "path", j);
      }
    }
    ts_explainer_free(e);
    free(m);
    tree_free(&t);
  }
}

static void test_gauss_rule_exact(void **state) {
  (void)state;
  ts_error err;
  for (int n = 1; n <= 60; n++) {
    ts__gauss_rule r;
    assert_int_equal(ts__gauss_rule_init(&r, n, &err), 0);
    for (int k = 0; k <= 2 * n - 1; k++) {
      double s = 0;
      for (int p = 0; p < n; p++) s += r.w[p] * pow(r.t[p], k);
      assert_close(s, 1.0 / (k + 1), 1e-14, "moment", k);
    }
    for (int p = 0; p < n; p++) {
      assert_true(r.t[p] > 0 && r.t[p] < 1);
      assert_close(r.t[p] + r.omt[p], 1.0, 1e-15, "t+omt", p);
    }
    ts__gauss_rule_free(&r);
  }
  ts__gauss_rule bad;
  assert_int_equal(ts__gauss_rule_init(&bad, 0, &err), TS_EINVAL);
}

static void test_decisions(void **state) {
  (void)state;
  ts_tree t;
  tree_alloc(&t, 2);
  t.left_child[0] = ~0;
  t.right_child[0] = ~1;
  const int L = ~0, R = ~1;
  /* categorical, set {1, 3, 40} */
  t.decision_type[0] = TS_DT_CATEGORICAL;
  assert_int_equal(ts__tree_next(&t, 0, 1.0), L);
  assert_int_equal(ts__tree_next(&t, 0, 3.9), L); /* truncated to 3 */
  assert_int_equal(ts__tree_next(&t, 0, 40.0), L);
  assert_int_equal(ts__tree_next(&t, 0, 2.0), R);
  assert_int_equal(ts__tree_next(&t, 0, 0.0), R);
  assert_int_equal(ts__tree_next(&t, 0, NAN), R);
  assert_int_equal(ts__tree_next(&t, 0, -1.0), R);
  assert_int_equal(ts__tree_next(&t, 0, 64.0), R);   /* past the bitset */
  assert_int_equal(ts__tree_next(&t, 0, 1e300), R);  /* outside int */
  assert_int_equal(ts__tree_next(&t, 0, -1e300), R);
  /* numerical, missing None: NaN is 0 */
  t.threshold[0] = 0.5;
  t.decision_type[0] = TS_DT_DEFAULT_LEFT;
  assert_int_equal(ts__tree_next(&t, 0, NAN), L);
  t.threshold[0] = -0.5;
  assert_int_equal(ts__tree_next(&t, 0, NAN), R);
  assert_int_equal(ts__tree_next(&t, 0, -0.5), L); /* <= goes left */
  /* missing Zero: 0 and NaN take the default side */
  t.decision_type[0] = (uint8_t)(TS_MISSING_ZERO << TS_DT_MISSING_SHIFT);
  assert_int_equal(ts__tree_next(&t, 0, 0.0), R);
  assert_int_equal(ts__tree_next(&t, 0, NAN), R);
  assert_int_equal(ts__tree_next(&t, 0, -1.0), L);
  t.decision_type[0] |= TS_DT_DEFAULT_LEFT;
  t.threshold[0] = -2;
  assert_int_equal(ts__tree_next(&t, 0, 1e-36), L);
  assert_int_equal(ts__tree_next(&t, 0, 1.0), R);
  /* missing NaN */
  t.decision_type[0] = (uint8_t)(TS_MISSING_NAN << TS_DT_MISSING_SHIFT);
  t.threshold[0] = 10;
  assert_int_equal(ts__tree_next(&t, 0, NAN), R);
  assert_int_equal(ts__tree_next(&t, 0, 0.0), L);
  tree_free(&t);
}

static void test_linear_tree_refused(void **state) {
  (void)state;
  ts_tree t[2];
  random_tree(&t[0], 4, 3, 0);
  random_tree(&t[1], 4, 3, 0);
  t[1].is_linear = true;
  ts_model *m = model_of(t, 2, 3, 1);
  ts_explainer *e = (ts_explainer *)1;
  ts_error err;
  assert_int_equal(ts__explainer_build_model(m, &e, &err), TS_EUNSUPPORTED);
  assert_null(e);
  assert_non_null(strstr(err.msg, "linear"));
  assert_non_null(strstr(err.msg, "tree 1"));
  free(m);
  tree_free(&t[0]);
  tree_free(&t[1]);
}

static void test_bad_counts_refused(void **state) {
  (void)state;
  ts_tree t;
  random_tree(&t, 5, 3, 0);
  ts_model *m = model_of(&t, 1, 3, 1);
  ts_explainer *e = NULL;
  ts_error err;
  t.internal_count[1] = 0;
  assert_int_equal(ts__explainer_build_model(m, &e, &err), TS_EPARSE);
  assert_non_null(strstr(err.msg, "internal_count[1]"));
  fill_counts(&t, 0);
  t.leaf_count[2] = NAN;
  assert_int_equal(ts__explainer_build_model(m, &e, &err), TS_EPARSE);
  assert_non_null(strstr(err.msg, "leaf_count[2]"));
  t.leaf_count[2] = 1;
  fill_counts(&t, 0);
  double *saved = t.leaf_count;
  t.leaf_count = NULL;
  assert_int_equal(ts__explainer_build_model(m, &e, &err), TS_EPARSE);
  t.leaf_count = saved;
  assert_int_equal(ts__explainer_build_model(m, &e, &err), 0);
  ts_explainer_free(e);
  free(m);
  tree_free(&t);
}

/* A chain: node k splits feature k % 3 and has leaf k on the left. */
static void chain_tree(ts_tree *t, int depth) {
  tree_alloc(t, depth + 1);
  for (int k = 0; k < depth; k++) {
    t->split_feature[k] = k % 3;
    t->threshold[k] = (k % 2) ? 0.5 : -0.5;
    t->left_child[k] = ~k;
    t->right_child[k] = k + 1 < depth ? k + 1 : ~depth;
  }
  for (int l = 0; l <= depth; l++) {
    t->leaf_value[l] = sin(l + 1.0);
    t->leaf_count[l] = 1 + l % 7;
  }
  fill_counts(t, 0);
}

static void test_depth_limit(void **state) {
  (void)state;
  ts_tree t;
  ts_error err;
  ts_explainer *e = NULL;
  chain_tree(&t, TS_EXPLAIN_MAX_DEPTH + 1);
  ts_model *m = model_of(&t, 1, 3, 1);
  assert_int_equal(ts__explainer_build_model(m, &e, &err), TS_ELIMIT);
  assert_non_null(strstr(err.msg, "TS_EXPLAIN_MAX_DEPTH"));
  free(m);
  tree_free(&t);
  /* A deep but allowed chain: both algorithms agree with brute force. */
  chain_tree(&t, 300);
  m = model_of(&t, 1, 3, 1);
  assert_int_equal(ts__explainer_build_model(m, &e, &err), 0);
  assert_int_equal(ts__explainer_max_depth(e), 300);
  const double x[3] = {0.0, 1.0, -1.0};
  double want[4], got[4];
  brute_shap(&t, 3, x, want);
  ts_predict_opts o = {TS_PREDICT_CONTRIB, 0, 0};
  for (int alg = 0; alg < 2; alg++) {
    ts__explainer_set_algorithm(e, alg);
    assert_int_equal(ts_explain_rows(e, &o, x, 1, 3, got, &err), 0);
    for (int j = 0; j < 4; j++) assert_close(got[j], want[j], 1e-12, "chain", j);
  }
  ts_explainer_free(e);
  free(m);
  tree_free(&t);
}

static void test_iterations_and_multiclass_layout(void **state) {
  (void)state;
  enum { NF = 4, K = 2, ITER = 3 };
  ts_tree t[K * ITER];
  for (int i = 0; i < K * ITER; i++) random_tree(&t[i], 1 + (int)(rnd() % 12), NF, 1);
  ts_model *m = model_of(t, K * ITER, NF, K);
  ts_explainer *e = NULL;
  ts_error err;
  assert_int_equal(ts__explainer_build_model(m, &e, &err), 0);
  const double x[NF] = {0.3, NAN, 1.0, 3.0};
  struct { int start, num; } cases[] = {{0, 0}, {1, 0}, {1, 1}, {0, 2}, {-5, 100}, {7, 0}};
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    int first = cases[c].start < 0 ? 0 : cases[c].start > ITER ? ITER : cases[c].start;
    int num = ITER - first;
    if (cases[c].num > 0 && cases[c].num < num) num = cases[c].num;
    double want[(NF + 1) * K] = {0}, one[NF + 1], got[(NF + 1) * K];
    for (int it = first; it < first + num; it++) {
      for (int k = 0; k < K; k++) {
        brute_shap(&t[it * K + k], NF, x, one);
        for (int j = 0; j <= NF; j++) want[k * (NF + 1) + j] += one[j];
      }
    }
    ts_predict_opts o = {TS_PREDICT_CONTRIB, cases[c].start, cases[c].num};
    assert_int_equal(ts_explain_rows(e, &o, x, 1, NF, got, &err), 0);
    for (int j = 0; j < (NF + 1) * K; j++) assert_close(got[j], want[j], 1e-12, "layout", j);
  }
  ts_explainer_free(e);
  free(m);
  for (int i = 0; i < K * ITER; i++) tree_free(&t[i]);
}

static void test_parallel_and_bad_args(void **state) {
  (void)state;
  enum { NF = 5, NT = 20, ROWS = 333, STRIDE = 7 };
  ts_tree t[NT];
  for (int i = 0; i < NT; i++) random_tree(&t[i], 2 + (int)(rnd() % 30), NF, 1);
  ts_model *m = model_of(t, NT, NF, 1);
  ts_explainer *e = NULL;
  ts_error err;
  assert_int_equal(ts__explainer_build_model(m, &e, &err), 0);
  assert_true(ts_explainer_memory_bytes(e) > 0);
  double *X = malloc(sizeof(double) * ROWS * STRIDE);
  for (int i = 0; i < ROWS * STRIDE; i++) X[i] = random_value();
  double *a = malloc(sizeof(double) * ROWS * (NF + 1));
  double *b = malloc(sizeof(double) * ROWS * (NF + 1));
  ts_predict_opts o = {TS_PREDICT_CONTRIB, 0, 0};
  assert_int_equal(ts_explain_rows(e, &o, X, ROWS, STRIDE, a, &err), 0);
  for (int nt = 0; nt <= 9; nt += 3) {
    memset(b, 0xff, sizeof(double) * ROWS * (NF + 1));
    assert_int_equal(ts_explain_rows_parallel(e, &o, X, ROWS, STRIDE, b, nt, &err), 0);
    assert_memory_equal(a, b, sizeof(double) * ROWS * (NF + 1));
  }
  /* more concurrent callers than pool slots still work (temporary scratch) */
  assert_int_equal(ts_explain_rows_parallel(e, &o, X, ROWS, STRIDE, b, 100, &err), 0);
  assert_memory_equal(a, b, sizeof(double) * ROWS * (NF + 1));
  /* bad arguments */
  ts_predict_opts raw = {TS_PREDICT_RAW, 0, 0};
  assert_int_equal(ts_explain_rows(e, &raw, X, 1, STRIDE, a, &err), TS_EINVAL);
  assert_non_null(strstr(err.msg, "TS_PREDICT_CONTRIB"));
  assert_int_equal(ts_explain_rows(e, &o, X, 1, NF - 1, a, &err), TS_ESHAPE);
  assert_int_equal(ts_explain_rows(e, &o, NULL, 1, STRIDE, a, &err), TS_EINVAL);
  assert_int_equal(ts_explain_rows(e, &o, X, 1, STRIDE, NULL, &err), TS_EINVAL);
  assert_int_equal(ts_explain_rows(NULL, &o, X, 1, STRIDE, a, &err), TS_EINVAL);
  assert_int_equal(ts_explain_rows(e, &o, X, SIZE_MAX / 8, STRIDE, a, &err), TS_ELIMIT);
  assert_int_equal(ts_explain_rows(e, &o, NULL, 0, STRIDE, NULL, &err), 0);
  ts_explainer_free(e);
  assert_int_equal(ts_explainer_build(NULL, &e, &err), TS_EINVAL);
  assert_null(e);
  free(X);
  free(a);
  free(b);
  free(m);
  for (int i = 0; i < NT; i++) tree_free(&t[i]);
  ts_explainer_free(NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_random_trees_match_brute_force),
      cmocka_unit_test(test_gauss_rule_exact),
      cmocka_unit_test(test_decisions),
      cmocka_unit_test(test_linear_tree_refused),
      cmocka_unit_test(test_bad_counts_refused),
      cmocka_unit_test(test_depth_limit),
      cmocka_unit_test(test_iterations_and_multiclass_layout),
      cmocka_unit_test(test_parallel_and_bad_args),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
