/*
 * Unit tests for src/model/: loading the fixture model, accessors, feature
 * name lookup, pandas categories, and one test per class of malformed file
 * and per limit (each must fail with "name:line: message", never crash; the
 * sanitizer build runs these too).
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "model/model_internal.h"
#include "model/model_num.h"
#include "model_fixture.h"
#include "treeserve/model.h"
#include "treeserve/predict.h"

static int load(const char *text, ts_model **m, ts_error *err) {
  return ts_model_load_buffer(text, strlen(text), "m.txt", m, err);
}

/* Loads `base` with one replacement; expects failure with code `code` (0: any)
 * and a message containing `want`, and if line > 0 "m.txt:<line>:". */
static void expect_bad(const char *base, const char *from, const char *to, int code,
                       const char *want, int line) {
  char *text = fixture_replace(base, from, to);
  assert_non_null(text);
  ts_model *m = (ts_model *)1;
  ts_error err = {0};
  int rc = load(text, &m, &err);
  if (rc == 0 || !strstr(err.msg, want)) print_message("case '%s' -> '%s': rc %d msg '%s'\n", from, to, rc, err.msg);
  assert_true(rc < 0);
  assert_null(m);
  if (code) assert_int_equal(rc, code);
  assert_non_null(strstr(err.msg, want));
  if (line > 0) {
    char pre[32];
    snprintf(pre, sizeof pre, "m.txt:%d:", line);
    if (strncmp(err.msg, pre, strlen(pre)) != 0) print_message("msg '%s', want prefix %s\n", err.msg, pre);
    assert_memory_equal(err.msg, pre, strlen(pre));
  }
  free(text);
}

static void test_fixture_loads(void **state) {
  (void)state;
  ts_model *m = NULL;
  ts_error err = {0};
  assert_int_equal(load(kFixtureModel, &m, &err), 0);
  assert_int_equal(ts_model_num_features(m), 3);
  assert_int_equal(ts_model_num_class(m), 1);
  assert_int_equal(ts_model_num_trees(m), 2);
  assert_int_equal(ts_model_num_iterations(m), 2);
  assert_string_equal(ts_model_objective_name(m), "binary");
  assert_string_equal(ts_model_objective(m), "binary sigmoid:1");
  assert_int_equal(ts_model_transform(m), TS_TRANSFORM_SIGMOID);
  assert_true(ts_model_sigmoid(m) == 1.0);
  assert_string_equal(ts_model_version(m), "v4");
  assert_false(ts_model_average_output(m));
  assert_false(ts_model_has_linear_trees(m));
  assert_string_equal(ts_model_feature_name(m, 2), "c_d");
  assert_null(ts_model_feature_name(m, 3));
  assert_false(ts_model_feature_is_categorical(m, 0));
  assert_true(ts_model_feature_is_categorical(m, 2));
  assert_int_equal(m->trees[0].max_depth, 2);
  assert_int_equal(m->trees[0].cat_threshold[0], 6);
  assert_true(m->trees[1].shrinkage == 0.1);
  assert_true(m->feature_importance[0] == 1.0);
  assert_non_null(strstr(m->parameters_text, "[boosting: gbdt]"));
  ts_model_stats st;
  ts_model_get_stats(m, &st);
  assert_int_equal(st.total_leaves, 5);
  assert_int_equal(st.max_leaves, 3);
  assert_int_equal(st.min_depth, 1);
  assert_int_equal(st.max_depth, 2);
  assert_int_equal(st.num_categorical_splits, 1);
  assert_true(st.memory_bytes > 0);
  ts_model_free(m);
}

/* A wide model: every name found at its index through the hash index,
 * whitespace read as '_', a repeated name resolves to its first feature,
 * near misses are not found, and importances land on the named features. */
static void test_wide_feature_names(void **state) {
  (void)state;
  enum { N = 20000 };
  size_t cap = (size_t)N * 16 + 64;
  char *names = malloc(cap), *infos = malloc(cap);
  assert_non_null(names);
  assert_non_null(infos);
  size_t nl = (size_t)snprintf(names, cap, "feature_names=a b c_d"), il = (size_t)snprintf(infos, cap, "feature_infos=[0:1] [0:1] 0:1:2");
  for (int i = 3; i < N; i++) {
    nl += (size_t)snprintf(names + nl, cap - nl, i == 5 || i == 9 ? " dup" : " w%d", i);
    il += (size_t)snprintf(infos + il, cap - il, " none");
  }
  char mfi[40];
  snprintf(mfi, sizeof mfi, "max_feature_idx=%d", N - 1);
  char *t1 = fixture_replace(kFixtureModel, "max_feature_idx=2", mfi);
  char *t2 = fixture_replace(t1, "feature_names=a b c_d", names);
  char *t3 = fixture_replace(t2, "feature_infos=[0:1] [0:1] 0:1:2", infos);
  char *text = fixture_replace(t3, "a=1\n", "a=1\nw19999=7\nc_d=3\ndup=2\nnot_a_feature=5\n");
  ts_model *m = NULL;
  ts_error err = {0};
  int rc = load(text, &m, &err);
  if (rc) print_message("%s\n", err.msg);
  assert_int_equal(rc, 0);
  assert_int_equal(ts_model_num_features(m), N);
  for (int i = 0; i < N; i++) {
    const char *name = ts_model_feature_name(m, i);
    int want = !strcmp(name, "dup") ? 5 : i;
    assert_int_equal(ts_model_find_feature(m, name, strlen(name)), want);
  }
  assert_int_equal(ts_model_find_feature(m, "c d", 3), 2);
  assert_int_equal(ts_model_find_feature(m, "c\td", 3), 2);
  assert_int_equal(ts_model_find_feature(m, "w19999", 6), N - 1);
  assert_int_equal(ts_model_find_feature(m, "w1999", 5), 1999);
  assert_int_equal(ts_model_find_feature(m, "w20000", 6), -1);
  assert_int_equal(ts_model_find_feature(m, "w 3", 3), -1);
  assert_int_equal(ts_model_find_feature(m, "", 0), -1);
  assert_int_equal(ts_model_find_feature(m, "w3\0", 3), -1); /* length counts, not the NUL */
  assert_int_equal(ts_model_find_feature(m, "w3xyz", 2), 3);   /* the first len bytes only */
  assert_int_equal(ts_model_find_feature(m, "w5", 2), -1);     /* feature 5 is "dup" */
  assert_int_equal(ts_model_find_feature(m, "w30xyz", 3), 30);
  assert_true(m->feature_importance[0] == 1.0);
  assert_true(m->feature_importance[N - 1] == 7.0);
  assert_true(m->feature_importance[2] == 3.0);
  assert_true(m->feature_importance[5] == 2.0 && m->feature_importance[9] == 0.0);
  ts_model_free(m);
  free(text);
  free(t3);
  free(t2);
  free(t1);
  free(names);
  free(infos);
}

static void test_find_feature_and_pandas(void **state) {
  (void)state;
  ts_model *m = NULL;
  ts_error err = {0};
  assert_int_equal(load(kFixtureModel, &m, &err), 0);
  assert_int_equal(ts_model_find_feature(m, "a", 1), 0);
  assert_int_equal(ts_model_find_feature(m, "c_d", 3), 2);
  assert_int_equal(ts_model_find_feature(m, "c d", 3), 2); /* original name with a space */
  assert_int_equal(ts_model_find_feature(m, "c", 1), -1);
  assert_int_equal(ts_model_find_feature(m, "c_dx", 4), -1);
  const char *const *names = NULL;
  assert_int_equal(ts_model_pandas_categories(m, 2, &names), 3);
  assert_string_equal(names[1], "y\xc3\xa9"); /* \u00e9 decoded to UTF-8 */
  assert_int_equal(ts_model_pandas_categories(m, 0, &names), -1);
  assert_true(ts_model_pandas_code(m, 2, "x", 1) == 0.0);
  assert_true(ts_model_pandas_code(m, 2, "y\xc3\xa9", 3) == 1.0);
  assert_true(ts_model_pandas_code(m, 2, "z", 1) == 2.0);
  assert_true(isnan(ts_model_pandas_code(m, 2, "w", 1)));
  assert_true(isnan(ts_model_pandas_code(m, 2, "", 0)));
  assert_true(isnan(ts_model_pandas_code(m, 0, "x", 1)));
  ts_model_free(m);
}

static void test_pandas_null_numeric_and_surrogates(void **state) {
  (void)state;
  ts_model *m = NULL;
  ts_error err = {0};
  char *t = fixture_replace(kFixtureModel, "pandas_categorical:[[\"x\", \"y\\u00e9\", \"z\"]]",
                            "pandas_categorical:null");
  assert_int_equal(load(t, &m, &err), 0);
  assert_int_equal(ts_model_pandas_categories(m, 2, NULL), -1);
  ts_model_free(m);
  free(t);
  t = fixture_replace(kFixtureModel, "[[\"x\", \"y\\u00e9\", \"z\"]]", "[[1, 5, \"\\ud83d\\ude00\"]]");
  assert_int_equal(load(t, &m, &err), 0);
  assert_true(ts_model_pandas_code(m, 2, "5", 1) == 1.0);
  assert_true(ts_model_pandas_code(m, 2, "5.0", 3) == 1.0); /* numeric categories by value */
  assert_true(ts_model_pandas_code(m, 2, "\xf0\x9f\x98\x80", 4) == 2.0);
  ts_model_free(m);
  free(t);
  /* A categorical_feature parameter naming one feature twice does not say
   * which list is whose: it used to hand feature 2 the second list ("a",
   * "b") silently; now the parameter is not trusted and the feature_infos
   * count (one categorical feature, two lists) fails the load. */
  char *t2 = fixture_replace(kFixtureModel, "[[\"x\", \"y\\u00e9\", \"z\"]]", "[[\"x\", \"y\", \"z\"], [\"a\", \"b\"]]");
  t = fixture_replace(t2, "[categorical_feature: 2]", "[categorical_feature: 2,2]");
  free(t2);
  m = NULL;
  assert_int_not_equal(load(t, &m, &err), 0);
  assert_non_null(strstr(err.msg, "pandas_categorical"));
  assert_null(m);
  free(t);
}

static void test_crlf_trailing_spaces_unknown_keys(void **state) {
  (void)state;
  size_t n = strlen(kFixtureModel);
  char *crlf = malloc(3 * n + 1), *q = crlf;
  for (size_t i = 0; i < n; i++) {
    if (kFixtureModel[i] == '\n') {
      *q++ = ' ';
      *q++ = '\r';
    }
    *q++ = kFixtureModel[i];
  }
  *q = 0;
  ts_model *m = NULL;
  ts_error err = {0};
  assert_int_equal(load(crlf, &m, &err), 0);
  assert_string_equal(ts_model_feature_name(m, 2), "c_d");
  assert_true(m->trees[1].leaf_value[1] == 1.0);
  ts_model_free(m);
  free(crlf);
  char *t = fixture_replace(kFixtureModel, "label_index=0\n", "label_index=0\nfuture_key=1 2 3\n");
  char *t2 = fixture_replace(t, "is_linear=0\nshrinkage=1\n", "is_linear=0\nnew_tree_key=x\nshrinkage=1\n");
  assert_int_equal(load(t2, &m, &err), 0);
  ts_model_free(m);
  free(t);
  free(t2);
  /* no pandas line, no parameters, no importances: still a model */
  t = strdup(kFixtureModel);
  strstr(t, "end of trees\n")[13] = 0;
  assert_int_equal(load(t, &m, &err), 0);
  ts_model_free(m);
  free(t);
}

static void test_empty_garbage_nul(void **state) {
  (void)state;
  ts_model *m = NULL;
  ts_error err = {0};
  assert_int_equal(ts_model_load_buffer("", 0, "m.txt", &m, &err), TS_EPARSE);
  assert_non_null(strstr(err.msg, "m.txt:1: empty file"));
  char junk[4096];
  unsigned s = 12345;
  for (size_t i = 0; i < sizeof junk; i++) {
    s = s * 1103515245u + 12345u;
    junk[i] = (char)((s >> 16) % 255 + 1); /* no NUL */
  }
  assert_true(ts_model_load_buffer(junk, sizeof junk, "m.txt", &m, &err) < 0);
  assert_non_null(strstr(err.msg, "not a LightGBM text model"));
  char *t = strdup(kFixtureModel);
  t[fixture_line_of(t, "leaf_value=0.1") > 0 ? (size_t)(strstr(t, "leaf_value=0.1") - t) : 0] = 0;
  size_t n = strlen(kFixtureModel);
  memcpy(t, kFixtureModel, n);
  t[strstr(kFixtureModel, "leaf_value=0.1") - kFixtureModel] = 0;
  assert_int_equal(ts_model_load_buffer(t, n, "m.txt", &m, &err), TS_EPARSE);
  char want[64];
  snprintf(want, sizeof want, "m.txt:%d: NUL byte", fixture_line_of(kFixtureModel, "leaf_value=0.1"));
  assert_non_null(strstr(err.msg, want));
  free(t);
  assert_int_equal(load("tree\nversion=v4\n", &m, &err), TS_EPARSE);
  assert_non_null(strstr(err.msg, "truncated"));
}

static void test_every_truncation_fails_cleanly(void **state) {
  (void)state;
  size_t n = strlen(kFixtureModel);
  size_t end_trees = (size_t)(strstr(kFixtureModel, "end of trees") - kFixtureModel);
  for (size_t len = 0; len < n; len++) {
    ts_model *m = NULL;
    ts_error err = {0};
    int rc = ts_model_load_buffer(kFixtureModel, len, "m.txt", &m, &err);
    if (len < end_trees + 12) {
      if (rc == 0) print_message("prefix of %zu bytes loaded\n", len);
      assert_true(rc < 0);
      assert_non_null(strstr(err.msg, "m.txt:"));
    }
    ts_model_free(m);
  }
}

static void test_bad_arrays_and_structure(void **state) {
  (void)state;
  const char *b = kFixtureModel;
  int l_lv = fixture_line_of(b, "leaf_value=0.1");
  int l_rc = fixture_line_of(b, "right_child=1 -3");
  int l_lc = fixture_line_of(b, "left_child=-1 -2");
  int l_th = fixture_line_of(b, "threshold=0.5 0");
  int l_sf = fixture_line_of(b, "split_feature=0 2");
  int l_cb = fixture_line_of(b, "cat_boundaries=0 1");
  int l_ct = fixture_line_of(b, "cat_threshold=6");
  int l_dt = fixture_line_of(b, "decision_type=0 1");
  expect_bad(b, "leaf_value=0.1 0.2 0.3", "leaf_value=0.1 0.2", TS_EPARSE, "expected 3 values", l_lv);
  expect_bad(b, "leaf_value=0.1 0.2 0.3", "leaf_value=0.1 0.2 0.3 0.4", TS_EPARSE, "more than", l_lv);
  expect_bad(b, "leaf_value=0.1 0.2 0.3", "leaf_value=0.1 zz 0.3", TS_EPARSE, "not a number", l_lv);
  expect_bad(b, "leaf_value=0.1 0.2 0.3", "leaf_value=0.1 inf 0.3", TS_EPARSE, "not finite", l_lv);
  expect_bad(b, "right_child=1 -3", "right_child=1 -4", TS_EPARSE, "right_child", l_rc);
  expect_bad(b, "right_child=1 -3", "right_child=2 -3", TS_EPARSE, "right_child", l_rc);
  expect_bad(b, "right_child=1 -3", "right_child=1 -2", TS_EPARSE, "more than one node", l_rc);
  expect_bad(b, "left_child=-1 -2", "left_child=-1 0", TS_EPARSE, "root", l_lc);
  expect_bad(b, "left_child=-1 -2", "left_child=-1 1", TS_EPARSE, "more than one parent", l_lc);
  expect_bad(b, "threshold=0.5 0", "threshold=nan 0", TS_EPARSE, "NaN", l_th);
  expect_bad(b, "threshold=0.5 0", "threshold=0.5 1", TS_EPARSE, "category set", l_th);
  expect_bad(b, "threshold=0.5 0", "threshold=0.5 0.5", TS_EPARSE, "category set", l_th);
  expect_bad(b, "threshold=0.5 0", "threshold=0.5 -1", TS_EPARSE, "category set", l_th);
  expect_bad(b, "split_feature=0 2", "split_feature=0 3", TS_EPARSE, "split_feature", l_sf);
  expect_bad(b, "split_feature=0 2", "split_feature=-1 2", TS_EPARSE, "split_feature", l_sf);
  expect_bad(b, "cat_boundaries=0 1", "cat_boundaries=1 1", TS_EPARSE, "start at 0", l_cb);
  expect_bad(b, "cat_boundaries=0 1", "cat_boundaries=0 2", TS_EPARSE, "expected 2 words", l_ct);
  expect_bad(b, "num_cat=1\nsplit_feature=0 2", "num_cat=2\nsplit_feature=0 2", TS_EPARSE,
             "cat_boundaries: expected 3 values", l_cb);
  char *two = fixture_replace(b, "num_cat=1\nsplit_feature=0 2", "num_cat=2\nsplit_feature=0 2");
  expect_bad(two, "cat_boundaries=0 1", "cat_boundaries=0 1 0", TS_EPARSE, "not monotonic", l_cb);
  free(two);
  expect_bad(b, "cat_threshold=6", "cat_threshold=4294967296", TS_EPARSE, "32-bit", l_ct);
  expect_bad(b, "cat_threshold=6", "cat_threshold=6 7", TS_EPARSE, "more than", l_ct);
  expect_bad(b, "decision_type=0 1", "decision_type=12 1", TS_EPARSE, "missing type 3", l_dt);
  expect_bad(b, "decision_type=0 1", "decision_type=0 16", TS_EPARSE, "decision_type", l_dt);
  expect_bad(b, "num_cat=1\n", "num_cat=0\n", TS_EPARSE, "num_cat=0", l_dt);
  expect_bad(b, "leaf_value=0.1 0.2 0.3\n", "", TS_EPARSE, "no leaf_value", 12);
  expect_bad(b, "num_cat=1\n", "", TS_EPARSE, "no num_cat", 12);
  expect_bad(b, "Tree=1", "Tree=5", TS_EPARSE, "expected Tree=1", 0);
  expect_bad(b, "leaf_count=1 1 1", "leaf_count=1 1.5 1", TS_EPARSE, "leaf_count", 0);
  expect_bad(b, "num_leaves=2\n", "num_leaves=2\nnum_leaves=2\n", TS_EPARSE, "duplicate", 0);
  expect_bad(b, "leaf_weight=1 1 1\n", "leaf_weight 1 1 1\n", TS_EPARSE, "key=value", 0);
  /* A cycle detached from the root: nodes 1 and 2 point at each other, each
   * has one parent, but the root only reaches leaves 0 and 1. */
  const char *cyc =
      "num_leaves=4\nnum_cat=0\nsplit_feature=0 0 0\nthreshold=1 1 1\ndecision_type=0 0 0\n"
      "left_child=-1 2 1\nright_child=-2 -3 -4\nleaf_value=1 2 3 4\n";
  char *t = fixture_replace(b, "num_leaves=2\nnum_cat=0\nsplit_feature=1\nsplit_gain=1\n"
                               "threshold=0.25\ndecision_type=10\nleft_child=-1\nright_child=-2\n"
                               "leaf_value=-1 1\nleaf_weight=1 1\nleaf_count=1 1\n"
                               "internal_value=0\ninternal_weight=0\ninternal_count=2\n",
                            cyc);
  assert_non_null(t);
  expect_bad(t, "version=v4", "version=v4", TS_EPARSE, "unreachable", 0);
  free(t);
}

static void test_bad_header(void **state) {
  (void)state;
  const char *b = kFixtureModel;
  expect_bad(b, "tree\n", "forest\n", TS_EPARSE, "first line", 1);
  expect_bad(b, "objective=binary sigmoid:1", "objective=foobar", TS_EUNSUPPORTED,
             "unknown objective 'foobar'", 7);
  expect_bad(b, "objective=binary sigmoid:1", "objective=binary", TS_EPARSE, "sigmoid", 7);
  expect_bad(b, "objective=binary sigmoid:1", "objective=binary sigmoid:-1", TS_EPARSE, "sigmoid", 7);
  expect_bad(b, "feature_names=a b c_d", "feature_names=a b", TS_EPARSE, "feature_names", 8);
  expect_bad(b, "feature_infos=[0:1] [0:1] 0:1:2", "feature_infos=[0:1]", TS_EPARSE,
             "feature_infos", 9);
  expect_bad(b, "feature_names=a b c_d\n", "", TS_EPARSE, "no feature_names", 0);
  expect_bad(b, "max_feature_idx=2\n", "", TS_EPARSE, "no max_feature_idx", 0);
  expect_bad(b, "tree_sizes=400 300", "tree_sizes=400", TS_EPARSE, "tree_sizes lists 1", 10);
  /* multiclass with 3 classes: 2 trees is not a multiple of 3 */
  char *t = fixture_replace(b, "num_class=1\nnum_tree_per_iteration=1", "num_class=3\nnum_tree_per_iteration=3");
  expect_bad(t, "objective=binary sigmoid:1", "objective=multiclass num_class:3", TS_EPARSE,
             "not a multiple", 0);
  expect_bad(t, "objective=binary sigmoid:1", "objective=multiclass num_class:4", TS_EPARSE,
             "differs", 7);
  expect_bad(t, "objective=binary sigmoid:1", "objective=binary sigmoid:1", TS_EPARSE,
             "num_class=3", 7);
  free(t);
  expect_bad(b, "num_tree_per_iteration=1", "num_tree_per_iteration=2", TS_EPARSE, "differs", 4);
  expect_bad(b, "end of trees\n", "", TS_EPARSE, "expected 'Tree='", 0);
  expect_bad(b, "end of parameters\n", "", TS_EPARSE, "end of parameters", 0);
  expect_bad(b, "[[\"x\", \"y\\u00e9\", \"z\"]]", "[[\"x\", \"y\"", TS_EPARSE, "pandas_categorical", 0);
  expect_bad(b, "[[\"x\", \"y\\u00e9\", \"z\"]]", "[[\"x\"], [\"y\"]]", TS_EPARSE, "2 lists", 0);
  expect_bad(b, "[[\"x\", \"y\\u00e9\", \"z\"]]", "[[\"x\\q\"]]", TS_EPARSE, "escape", 0);
  expect_bad(b, "[[\"x\", \"y\\u00e9\", \"z\"]]", "[[\"\\ud83d\"]]", TS_EPARSE, "escape", 0);
  expect_bad(b, "[[\"x\", \"y\\u00e9\", \"z\"]]", "[[x]]", TS_EPARSE, "expected a string", 0);
  expect_bad(b, "[[\"x\", \"y\\u00e9\", \"z\"]]", "{}", TS_EPARSE, "null or a JSON list", 0);
  expect_bad(b, "[[\"x\", \"y\\u00e9\", \"z\"]]", "[[\"x\"]] x", TS_EPARSE, "trailing", 0);
}

static void test_limits(void **state) {
  (void)state;
  const char *b = kFixtureModel;
  char buf[64];
  snprintf(buf, sizeof buf, "num_leaves=%d\n", TS_MODEL_MAX_LEAVES + 1);
  expect_bad(b, "num_leaves=3\n", buf, TS_ELIMIT, "num_leaves", 13);
  expect_bad(b, "num_leaves=3\n", "num_leaves=0\n", TS_ELIMIT, "num_leaves", 13);
  expect_bad(b, "num_cat=1\n", "num_cat=3\n", TS_EPARSE, "num_cat", 14);
  snprintf(buf, sizeof buf, "max_feature_idx=%d", TS_MODEL_MAX_FEATURES);
  expect_bad(b, "max_feature_idx=2", buf, TS_ELIMIT, "max_feature_idx", 6);
  snprintf(buf, sizeof buf, "num_class=%d", TS_MODEL_MAX_CLASSES + 1);
  expect_bad(b, "num_class=1", buf, TS_ELIMIT, "num_class", 3);
  expect_bad(b, "num_class=1", "num_class=0", TS_ELIMIT, "num_class", 3);
  expect_bad(b, "num_class=1", "num_class=99999999999999999999", TS_ELIMIT, "num_class", 3);
  snprintf(buf, sizeof buf, "cat_boundaries=0 %d", TS_MODEL_MAX_CAT_WORDS + 1);
  expect_bad(b, "cat_boundaries=0 1", buf, TS_EPARSE, "cat_boundaries", 0);
  /* more trees than TS_MODEL_MAX_TREES announced by tree_sizes */
  size_t n = (size_t)TS_MODEL_MAX_TREES + 1;
  char *sizes = malloc(11 + 2 * n + 1);
  strcpy(sizes, "tree_sizes=");
  for (size_t i = 0; i < n; i++) memcpy(sizes + 11 + 2 * i, "1 ", 2);
  sizes[11 + 2 * n - 1] = 0;
  expect_bad(b, "tree_sizes=400 300", sizes, TS_ELIMIT, "TS_MODEL_MAX_TREES", 10);
  free(sizes);
  /* file size: checked before anything is read */
  ts_model *m = NULL;
  ts_error err = {0};
  assert_int_equal(ts_model_load_buffer(kFixtureModel, TS_MODEL_MAX_FILE_BYTES + 1, "m.txt", &m, &err),
                   TS_ELIMIT);
  assert_non_null(strstr(err.msg, "TS_MODEL_MAX_FILE_BYTES"));
  /* linear coefficients must name existing features */
  char *lin = fixture_replace(b, "is_linear=0\nshrinkage=0.1", "is_linear=1\nleaf_const=1 2\nnum_features=1 0\n"
                              "leaf_features=3 \nleaf_coeff=0.5 \nshrinkage=0.1");
  expect_bad(lin, "version=v4", "version=v4", TS_EPARSE, "leaf_features", 0);
  free(lin);
}

/* Random byte mutations of the fixture: every result must load or fail with a
 * message, never crash or read out of bounds (run under ASan in CI). */
static void test_random_mutations(void **state) {
  (void)state;
  size_t n = strlen(kFixtureModel);
  char *buf = malloc(n + 1);
  unsigned long long s = 0x9E3779B97F4A7C15ULL;
  static const char alphabet[] = "0123456789 -=.\n\r\t[]\"eEnaif,:";
  int loaded = 0;
  for (int iter = 0; iter < 3000; iter++) {
    memcpy(buf, kFixtureModel, n + 1);
    int edits = 1 + (int)(s % 4);
    for (int e = 0; e < edits; e++) {
      s ^= s << 13;
      s ^= s >> 7;
      s ^= s << 17;
      size_t at = (size_t)(s % n);
      buf[at] = alphabet[(s >> 32) % (sizeof alphabet - 1)];
    }
    size_t len = (iter % 5 == 0) ? (size_t)((s >> 20) % n) : n;
    ts_model *m = NULL;
    ts_error err = {0};
    int rc = ts_model_load_buffer(buf, len, "m.txt", &m, &err);
    if (rc == 0) {
      /* whatever loaded must also predict safely */
      loaded++;
      ts_forest *f = NULL;
      assert_int_equal(ts_forest_build(m, &f, &err), 0);
      int nf = ts_model_num_features(ts_forest_model(f));
      double x[3 * 16], out[16 * 64];
      for (int i = 0; i < 3 * 16; i++) x[i] = (i % 5 == 0) ? NAN : (double)(i % 7) - 2.5;
      ts_predict_opts o = {TS_PREDICT_RAW, 0, 0};
      long w = ts_predict_width(f, &o);
      if (nf <= 3 && w > 0 && w <= 64) {
        assert_int_equal(ts_predict_rows(f, &o, x, 16 * 3 / (size_t)nf, (size_t)nf, out, &err), 0);
        o.type = TS_PREDICT_VALUE;
        assert_int_equal(ts_predict_rows(f, &o, x, 1, (size_t)nf, out, &err), 0);
      }
      o.type = TS_PREDICT_LEAF;
      w = ts_predict_width(f, &o);
      if (nf <= 3 && w > 0 && w <= 64)
        assert_int_equal(ts_predict_rows(f, &o, x, 1, (size_t)nf, out, &err), 0);
      ts_forest_free(f);
    } else {
      assert_null(m);
      assert_true(err.msg[0] != 0);
    }
  }
  print_message("%d of 3000 mutated models still loaded\n", loaded);
  free(buf);
}

static void test_load_file_errors(void **state) {
  (void)state;
  ts_model *m = NULL;
  ts_error err = {0};
  assert_int_equal(ts_model_load_file("/nonexistent/model.txt", &m, &err), TS_EIO);
  assert_non_null(strstr(err.msg, "/nonexistent/model.txt"));
  assert_int_equal(ts_model_load_file("/", &m, &err), TS_EIO);
  char path[] = "/tmp/ts_test_model_XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  FILE *f = fdopen(fd, "w");
  fputs(kFixtureModel, f);
  fclose(f);
  assert_int_equal(ts_model_load_file(path, &m, &err), 0);
  ts_model_stats st;
  ts_model_get_stats(m, &st);
  assert_true(st.load_seconds >= 0);
  ts_model_free(m);
  remove(path);
  ts_model_free(NULL);
}

static int parse_long_str(const char *s, long long lo, long long hi, long long *out) {
  return ts__parse_long(s, s + strlen(s), lo, hi, out);
}

static void test_number_parser(void **state) {
  (void)state;
  struct {
    const char *s;
    double v;
  } ok[] = {{"0.1", 0.1},
            {"-0", -0.0},
            {"1e-35", 1e-35},
            {"1.0000000180025095e-35", 1.0000000180025095e-35},
            {"0.77650000000000008", 0.77650000000000008},
            {"9007199254740993", 9007199254740993.0},
            {"123456789012345678901234567890", 123456789012345678901234567890.0},
            {"2.2250738585072014e-308", 2.2250738585072014e-308},
            {"1e308", 1e308},
            {"inf", INFINITY},
            {"+3", 3.0}};
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
    double v;
    assert_int_equal(ts__parse_double(ok[i].s, ok[i].s + strlen(ok[i].s), &v), 0);
    assert_memory_equal(&v, &ok[i].v, sizeof v);
  }
  const char *bad[] = {"", "-", "1.5e", "abc", "1.2.3", "1,5", "0x10"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    double v;
    assert_int_equal(ts__parse_double(bad[i], bad[i] + strlen(bad[i]), &v), -1);
  }
  /* random doubles printed with 17, 16 and 15 digits round-trip like strtod */
  unsigned long long s = 88172645463325252ULL;
  for (int i = 0; i < 200000; i++) {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    double x;
    unsigned long long bits = s;
    memcpy(&x, &bits, sizeof x);
    if (!isfinite(x)) continue;
    if (i % 2) x = (double)(s % 100000000) / 1e7;
    char buf[64];
    snprintf(buf, sizeof buf, i % 3 == 0 ? "%.17g" : (i % 3 == 1 ? "%.16g" : "%.15g"), x);
    double a = strtod(buf, NULL), v;
    assert_int_equal(ts__parse_double(buf, buf + strlen(buf), &v), 0);
    assert_memory_equal(&a, &v, sizeof v);
  }
  long long l;
  assert_int_equal(parse_long_str("-5", -10, 10, &l), 0);
  assert_int_equal(l, -5);
  assert_int_equal(parse_long_str("11", -10, 10, &l), -1);
  assert_int_equal(parse_long_str("1.0", -10, 10, &l), -1);
  assert_int_equal(parse_long_str("", -10, 10, &l), -1);
  assert_int_equal(parse_long_str("99999999999999999999999", 0, 10, &l), -1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fixture_loads),
      cmocka_unit_test(test_find_feature_and_pandas),
      cmocka_unit_test(test_wide_feature_names),
      cmocka_unit_test(test_pandas_null_numeric_and_surrogates),
      cmocka_unit_test(test_crlf_trailing_spaces_unknown_keys),
      cmocka_unit_test(test_empty_garbage_nul),
      cmocka_unit_test(test_every_truncation_fails_cleanly),
      cmocka_unit_test(test_bad_arrays_and_structure),
      cmocka_unit_test(test_bad_header),
      cmocka_unit_test(test_limits),
      cmocka_unit_test(test_random_mutations),
      cmocka_unit_test(test_load_file_errors),
      cmocka_unit_test(test_number_parser),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
