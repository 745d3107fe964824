/* Golden test for src/explain/: every tests/golden/<case>/ with a contrib.csv
 * must reproduce LightGBM's predict(pred_contrib=True) within 1e-12 (absolute,
 * or relative for values above 1), with both algorithms, and per row and class
 * the contributions must sum to raw.csv within 1e-9. predict_kwargs
 * (start_iteration / num_iteration) from meta.json are applied. Cases whose
 * meta.json says contrib_not_available (linear trees) must be refused with
 * TS_EUNSUPPORTED. Run from the repository root (or with TREESERVE_SRC set). */
#include <dirent.h>
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

static char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *b = malloc((size_t)n + 1);
  if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
    free(b);
    b = NULL;
  }
  fclose(f);
  if (b) b[n] = 0;
  if (len) *len = (size_t)n;
  return b;
}

/* A headerless CSV of numbers (LightGBM's outputs). */
static double *read_numbers(const char *path, size_t *count) {
  char *text = slurp(path, NULL);
  if (!text) return NULL;
  size_t cap = 1024, n = 0;
  double *v = malloc(cap * sizeof(double));
  char *s = text;
  while (*s) {
    if (*s == ',' || *s == '\n' || *s == '\r') {
      s++;
      continue;
    }
    char *end;
    const double d = strtod(s, &end);
    if (end == s) fail_msg("%s: not a number at offset %td", path, s - text);
    if (n == cap) v = realloc(v, (cap *= 2) * sizeof(double));
    v[n++] = d;
    s = end;
  }
  free(text);
  *count = n;
  return v;
}

/* X.csv: header of feature names, empty field = missing, strings only in
 * pandas categorical columns (mapped to their codes as LightGBM's Python
 * package does). Returns a row-major [nrows x num_features] matrix. */
static double *read_x(const ts_model *m, const char *path, size_t *nrows) {
  char *text = slurp(path, NULL);
  assert_non_null(text);
  const int nf = ts_model_num_features(m);
  int colmap[4096];
  int ncols = 0;
  char *line = text, *eol = strchr(line, '\n');
  assert_non_null(eol);
  *eol = 0;
  for (char *f = line;; ncols++) {
    char *comma = strchr(f, ',');
    const size_t len = comma ? (size_t)(comma - f) : strlen(f);
    assert_true(ncols < 4096);
    colmap[ncols] = ts_model_find_feature(m, f, len);
    if (colmap[ncols] < 0) fail_msg("%s: column %d not a model feature", path, ncols);
    if (!comma) break;
    f = comma + 1;
  }
  ncols++;
  size_t cap = 64, n = 0;
  double *X = malloc(cap * (size_t)nf * sizeof(double));
  for (line = eol + 1; *line; line = eol + 1) {
    eol = strchr(line, '\n');
    if (!eol) eol = line + strlen(line);
    if (eol == line) break;
    if (n == cap) X = realloc(X, (cap *= 2) * (size_t)nf * sizeof(double));
    double *row = X + n * (size_t)nf;
    for (int j = 0; j < nf; j++) row[j] = NAN;
    char *f = line;
    for (int c = 0; c < ncols; c++) {
      char *end = f;
      while (end < eol && *end != ',') end++;
      const size_t len = (size_t)(end - f);
      const int feat = colmap[c];
      if (len > 0) {
        char *num_end;
        const double d = strtod(f, &num_end);
        if (num_end == end) {
          row[feat] = d;
        } else {
          row[feat] = ts_model_pandas_code(m, feat, f, len);
        }
      }
      f = end + 1;
    }
    n++;
    if (!*eol) break;
  }
  free(text);
  *nrows = n;
  return X;
}

static int meta_int(const char *meta, const char *key, int dflt) {
  const char *kw = strstr(meta, "\"predict_kwargs\"");
  if (!kw) return dflt;
  const char *end = strchr(kw, '}');
  const char *k = strstr(kw, key);
  if (!k || (end && k > end)) return dflt;
  k = strchr(k, ':');
  return k ? atoi(k + 1) : dflt;
}

static int run_case(const char *root, const char *name) {
  char path[1024];
  snprintf(path, sizeof path, "%s/tests/golden/%s/meta.json", root, name);
  char *meta = slurp(path, NULL);
  if (!meta) return 0; /* not a case directory */
  ts_error err;
  ts_model *m = NULL;
  snprintf(path, sizeof path, "%s/tests/golden/%s/model.txt", root, name);
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
  size_t nrows, nwant, nraw;
  snprintf(path, sizeof path, "%s/tests/golden/%s/X.csv", root, name);
  double *X = read_x(cm, path, &nrows);
  snprintf(path, sizeof path, "%s/tests/golden/%s/contrib.csv", root, name);
  double *want = read_numbers(path, &nwant);
  assert_non_null(want);
  snprintf(path, sizeof path, "%s/tests/golden/%s/raw.csv", root, name);
  double *raw = read_numbers(path, &nraw);
  assert_non_null(raw);
  const int nf = ts_model_num_features(cm), K = ts_model_trees_per_iteration(cm);
  const size_t width = (size_t)(nf + 1) * (size_t)K;
  if (nwant != nrows * width) fail_msg("%s: contrib.csv has %zu values, want %zu", name, nwant, nrows * width);
  if (nraw != nrows * (size_t)K) fail_msg("%s: raw.csv has %zu values", name, nraw);
  ts_predict_opts o = {TS_PREDICT_CONTRIB, meta_int(meta, "\"start_iteration\"", 0),
                       meta_int(meta, "\"num_iteration\"", 0)};
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
  const char *root = getenv("TREESERVE_SRC");
  if (!root || !*root) root = ".";
  char path[1024];
  snprintf(path, sizeof path, "%s/tests/golden", root);
  DIR *d = opendir(path);
  if (!d) fail_msg("cannot open %s (run from the repository root)", path);
  int cases = 0;
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    if (de->d_name[0] == '.') continue;
    cases += run_case(root, de->d_name);
  }
  closedir(d);
  /* 46 golden cases: a count far below means the data went missing. */
  if (cases < 40) fail_msg("only %d golden cases found under %s", cases, path);
  print_message("checked %d golden cases\n", cases);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_golden_contrib),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
