/*
 * Allocation-failure torture of the model loader, the forest compiler and the
 * SHAP explainer builder (in the spirit of curl's torture tests).
 *
 * This binary is linked with -Wl,--wrap=malloc,calloc,realloc,strdup,strndup,free
 * (Makefile: TEST_LDFLAGS_test_alloc_failure), so every allocation the library
 * makes goes through the wrappers below. For each model, the test first counts
 * the allocations a successful load makes, then loads again with the 1st,
 * 2nd, 3rd, ... allocation failing (one failure per attempt) until a load
 * succeeds without reaching the failure. Every failed attempt must return
 * TS_ENOMEM with a message, leave *out NULL, and give back every byte: the
 * wrappers count live blocks (in release builds too) and LeakSanitizer checks
 * again at exit in the sanitizer build. The same is done for ts_forest_build
 * (which takes ownership of the model in every case) and ts_explainer_build.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "treeserve/explain.h"
#include "treeserve/model.h"
#include "treeserve/predict.h"

/* ---- allocator wrappers ---- */

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);
void __real_free(void *p);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);
void __wrap_free(void *p);

static struct {
  bool tracking;   /* count calls and live blocks */
  long calls;      /* allocation calls since tracking started */
  long fail_at;    /* 1-based call number that fails; 0 = none */
  long live;       /* blocks allocated minus blocks freed while tracking */
  bool failed;     /* the planned failure happened */
} A;

/* Returns true if this allocation call is the one that must fail. */
static bool should_fail(void) {
  if (!A.tracking) return false;
  A.calls++;
  if (A.fail_at && A.calls == A.fail_at) {
    A.failed = true;
    errno = ENOMEM;
    return true;
  }
  return false;
}

void *__wrap_malloc(size_t n) {
  if (should_fail()) return NULL;
  void *p = __real_malloc(n);
  if (p && A.tracking) A.live++;
  return p;
}

void *__wrap_calloc(size_t n, size_t size) {
  if (should_fail()) return NULL;
  void *p = __real_calloc(n, size);
  if (p && A.tracking) A.live++;
  return p;
}

void *__wrap_realloc(void *old, size_t n) {
  if (should_fail()) return NULL; /* the old block stays valid, as with a real failure */
  void *p = __real_realloc(old, n);
  if (A.tracking) {
    if (!old && p) A.live++;
    else if (old && n == 0 && !p) A.live--; /* glibc frees on realloc(p, 0) */
  }
  return p;
}

char *__wrap_strdup(const char *s) {
  if (should_fail()) return NULL;
  char *p = __real_strdup(s);
  if (p && A.tracking) A.live++;
  return p;
}

char *__wrap_strndup(const char *s, size_t n) {
  if (should_fail()) return NULL;
  char *p = __real_strndup(s, n);
  if (p && A.tracking) A.live++;
  return p;
}

void __wrap_free(void *p) {
  if (p && A.tracking) A.live--;
  __real_free(p);
}

static void track_start(long fail_at) {
  A.calls = 0;
  A.fail_at = fail_at;
  A.live = 0;
  A.failed = false;
  A.tracking = true;
}

static void track_stop(void) { A.tracking = false; }

/* ---- test data ---- */

/* Golden models that together reach every allocation site of the loader:
 * numerical and categorical splits, pandas categories, linear trees,
 * multiclass, random forest, single-leaf trees. */
static const char *const MODELS[] = {
    "tests/fuzz/corpus/model_load/pandas_categorical.txt",
    "tests/fuzz/corpus/model_load/categorical_int.txt",
    "tests/fuzz/corpus/model_load/linear_tree_nan.txt",
    "tests/fuzz/corpus/model_load/multiclass_softmax.txt",
    "tests/fuzz/corpus/model_load/rf_binary.txt",
    "tests/fuzz/corpus/model_load/single_leaf_trees.txt",
    "tests/fuzz/corpus/model_load/feature_names_unicode.txt",
    /* whole golden models: many trees, so the growth paths (realloc) run too */
    "tests/golden/pandas_categorical/model.txt",
    "tests/golden/multiclass_softmax/model.txt",
    "tests/golden/linear_tree/model.txt",
};
#define NMODELS (sizeof(MODELS) / sizeof(MODELS[0]))

/* Safety net: no model here needs anywhere near this many allocations. */
#define MAX_ATTEMPTS 200000

static char *read_file(const char *rel, size_t *len) {
  const char *root = getenv("TREESERVE_SRC");
  char path[4096];
  snprintf(path, sizeof(path), "%s/%s", root && *root ? root : ".", rel);
  FILE *f = fopen(path, "rb");
  if (!f) {
    fail_msg("cannot open %s (run from the repository root or set TREESERVE_SRC)", path);
    return NULL;
  }
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = __real_malloc((size_t)n + 1);
  assert_non_null(buf);
  assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
  fclose(f);
  *len = (size_t)n;
  return buf;
}

/* Load with allocation `k` failing; returns the loaded model or NULL. */
static void check_load(const char *name, const char *buf, size_t len) {
  long attempts = 0;
  for (long k = 1; k < MAX_ATTEMPTS; k++) {
    ts_model *m = (ts_model *)(uintptr_t)1;
    ts_error err = {0};
    track_start(k);
    int rc = ts_model_load_buffer(buf, len, name, &m, &err);
    if (!A.failed) {
      /* every allocation succeeded: the load must have too, and we are done */
      track_stop();
      if (rc) fail_msg("%s: load failed without an allocation failure: %s", name, err.msg);
      ts_model_free(m);
      attempts = k;
      break;
    }
    if (rc == 0) {
      /* A failure that the loader may legitimately absorb would be fine, but
       * the loader has no optional allocation: say which one was ignored. */
      track_stop();
      fail_msg("%s: load succeeded although allocation %ld failed", name, k);
    }
    track_stop();
    if (rc != TS_ENOMEM || m != NULL || err.msg[0] == 0)
      fail_msg("%s: allocation %ld failed: got rc=%d (%s) msg='%s' out=%p, want TS_ENOMEM, a message and NULL",
               name, k, rc, ts_strerror(rc), err.msg, (void *)m);
    if (A.live != 0) fail_msg("%s: allocation %ld failed: %ld blocks leaked", name, k, A.live);
  }
  assert_true(attempts > 1);
  print_message("%s: load survived each of its %ld allocations failing\n", name, attempts - 1);
}

/* Same for ts_forest_build and ts_explainer_build on a model loaded normally. */
static void check_build(const char *name, const char *buf, size_t len) {
  long forest_attempts = 0, explainer_attempts = 0;
  for (long k = 1; k < MAX_ATTEMPTS; k++) {
    ts_model *m = NULL;
    ts_error err = {0};
    track_start(0);
    assert_int_equal(ts_model_load_buffer(buf, len, name, &m, &err), 0);
    track_stop();
    long model_blocks = A.live;
    ts_forest *f = (ts_forest *)(uintptr_t)1;
    track_start(k);
    /* the model's blocks count as live: ts_forest_build frees the model when
     * it fails, so a clean failure brings the count back to exactly 0 */
    A.live = model_blocks;
    int rc = ts_forest_build(m, &f, &err);
    bool failed = A.failed;
    track_stop();
    long live = A.live;
    if (!failed) {
      if (rc) fail_msg("%s: forest build failed without an allocation failure: %s", name, err.msg);
      ts_forest_free(f);
      forest_attempts = k;
      break;
    }
    if (rc != TS_ENOMEM || f != NULL || err.msg[0] == 0)
      fail_msg("%s: forest allocation %ld failed: got rc=%d (%s) msg='%s', want TS_ENOMEM, a message and NULL", name,
               k, rc, ts_strerror(rc), err.msg);
    if (live != 0) fail_msg("%s: forest allocation %ld failed: %ld blocks leaked", name, k, live);
  }
  ts_model *m = NULL;
  ts_forest *f = NULL;
  ts_error err = {0};
  assert_int_equal(ts_model_load_buffer(buf, len, name, &m, &err), 0);
  assert_int_equal(ts_forest_build(m, &f, &err), 0);
  for (long k = 1; k < MAX_ATTEMPTS; k++) {
    ts_explainer *e = (ts_explainer *)(uintptr_t)1;
    track_start(k);
    int rc = ts_explainer_build(f, &e, &err);
    bool failed = A.failed;
    if (!failed) {
      track_stop();
      if (rc == TS_EUNSUPPORTED) break; /* e.g. linear trees: no SHAP, nothing to torture */
      if (rc) fail_msg("%s: explainer build failed without an allocation failure: %s", name, err.msg);
      ts_explainer_free(e);
      explainer_attempts = k;
      break;
    }
    track_stop();
    if (rc != TS_ENOMEM || e != NULL || err.msg[0] == 0)
      fail_msg("%s: explainer allocation %ld failed: got rc=%d (%s) msg='%s', want TS_ENOMEM, a message and NULL",
               name, k, rc, ts_strerror(rc), err.msg);
    if (A.live != 0) fail_msg("%s: explainer allocation %ld failed: %ld blocks leaked", name, k, A.live);
  }
  ts_forest_free(f);
  assert_true(forest_attempts > 1);
  print_message("%s: forest build survived each of its %ld allocations failing; explainer: %ld\n", name,
                forest_attempts - 1, explainer_attempts ? explainer_attempts - 1 : 0);
}

static void test_model_load_alloc_failures(void **state) {
  (void)state;
  for (size_t i = 0; i < NMODELS; i++) {
    size_t len;
    char *buf = read_file(MODELS[i], &len);
    check_load(MODELS[i], buf, len);
    __real_free(buf);
  }
}

static void test_forest_and_explainer_alloc_failures(void **state) {
  (void)state;
  for (size_t i = 0; i < NMODELS; i++) {
    size_t len;
    char *buf = read_file(MODELS[i], &len);
    check_build(MODELS[i], buf, len);
    __real_free(buf);
  }
}

/* The wrappers themselves must count: a negative control, so that the test
 * cannot pass by never failing anything. */
static void test_wrappers_fail_and_count(void **state) {
  (void)state;
  /* through volatile pointers: the optimizer knows malloc and may drop or
   * merge direct calls whose results it can see */
  void *(*volatile m)(size_t) = malloc;
  char *(*volatile d)(const char *) = strdup;
  void (*volatile fr)(void *) = free;
  track_start(2);
  void *a = m(8);
  void *b = m(8);
  char *c = d("x");
  track_stop();
  assert_non_null(a);
  assert_null(b);
  assert_non_null(c);
  assert_true(A.failed);
  assert_int_equal(A.calls, 3);
  assert_int_equal(A.live, 2);
  track_start(0);
  fr(a);
  fr(c);
  track_stop();
  assert_int_equal(A.live, -2);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_wrappers_fail_and_count),
      cmocka_unit_test(test_model_load_alloc_failures),
      cmocka_unit_test(test_forest_and_explainer_alloc_failures),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
