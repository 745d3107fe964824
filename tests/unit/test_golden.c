/*
 * Golden test runner: for every case directory under tests/golden/ load
 * model.txt, read X.csv (header of feature names matched by name; empty field
 * = NaN; strings of pandas categorical columns mapped with
 * ts_model_pandas_code), apply meta.json's predict_kwargs and compare with
 * LightGBM's own outputs:
 *   raw.csv   bit for bit
 *   pred.csv  bit for bit, or within 1e-15 relative (counted separately)
 *   leaf.csv  exactly
 * Prints one line per case; fails if any case does not match. Also checks that
 * the multi-threaded path gives identical bits.
 */
#include <dirent.h>
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

static char *read_all(const char *path, size_t *len) {
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
  if (b) b[n] = 0;
  if (len) *len = (size_t)n;
  fclose(f);
  return b;
}

/* Splits the next CSV line of *p into fields (no quoting in golden files).
 * Returns the number of fields, 0 at end of text. */
static int csv_line(char **p, char **fields, int max) {
  char *s = *p;
  if (!*s) return 0;
  char *e = strchr(s, '\n');
  char *next = e ? e + 1 : s + strlen(s);
  if (e) {
    if (e > s && e[-1] == '\r') e[-1] = 0;
    *e = 0;
  }
  int n = 0;
  for (;;) {
    char *c = strchr(s, ',');
    if (n < max) fields[n] = s;
    n++;
    if (!c) break;
    *c = 0;
    s = c + 1;
  }
  *p = next;
  return n;
}

/* Reads an all-numeric CSV into a new array; *rows, *cols out. */
static double *read_matrix(const char *path, int *rows, int *cols) {
  *rows = 0;
  *cols = 0;
  char *txt = read_all(path, NULL);
  if (!txt) return NULL;
  char *p = txt;
  char *fields[4096];
  size_t cap = 1024, n = 0;
  double *a = malloc(cap * sizeof *a);
  *rows = 0;
  *cols = 0;
  int nf;
  while ((nf = csv_line(&p, fields, 4096)) > 0) {
    if (nf == 1 && fields[0][0] == 0) continue;
    if (*cols == 0) *cols = nf;
    assert_int_equal(nf, *cols);
    for (int i = 0; i < nf; i++) {
      if (n == cap) a = realloc(a, (cap *= 2) * sizeof *a);
      a[n++] = strtod(fields[i], NULL);
    }
    (*rows)++;
  }
  free(txt);
  return a;
}

static int meta_int(const char *meta, const char *key, int dflt) {
  const char *pk = strstr(meta, "\"predict_kwargs\"");
  if (!pk) return dflt;
  const char *end = strchr(pk, '}');
  char pat[64];
  snprintf(pat, sizeof pat, "\"%s\":", key);
  const char *k = strstr(pk, pat);
  if (!k || (end && k > end)) return dflt;
  return atoi(k + strlen(pat));
}

typedef struct stats {
  int cases, failed, value_inexact;
} stats;

static bool same_bits(double a, double b) { return memcmp(&a, &b, sizeof a) == 0; }

static void run_case(const char *dir, const char *name, stats *st) {
  char path[2200];
  ts_error err = {0};
  ts_model *m = NULL;
  snprintf(path, sizeof path, "%s/%s/model.txt", dir, name);
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

  /* X.csv */
  snprintf(path, sizeof path, "%s/%s/X.csv", dir, name);
  char *txt = read_all(path, NULL);
  assert_non_null(txt);
  char *p = txt;
  char **fields = malloc(sizeof(char *) * 8192);
  int nh = csv_line(&p, fields, 8192);
  int *col_feat = malloc(sizeof(int) * (size_t)nh);
  for (int i = 0; i < nh; i++) {
    col_feat[i] = ts_model_find_feature(mm, fields[i], strlen(fields[i]));
    if (col_feat[i] < 0) {
      print_message("FAIL %-40s X.csv column '%s' not in model\n", name, fields[i]);
      st->failed++;
      goto done_x;
    }
  }
  size_t cap = 256, nrows = 0;
  double *X = malloc(cap * (size_t)nfeat * sizeof *X);
  int nf;
  while ((nf = csv_line(&p, fields, 8192)) > 0) {
    if (nf == 1 && fields[0][0] == 0) continue;
    assert_int_equal(nf, nh);
    if (nrows == cap) X = realloc(X, (cap *= 2) * (size_t)nfeat * sizeof *X);
    double *row = X + nrows * (size_t)nfeat;
    for (int j = 0; j < nfeat; j++) row[j] = NAN;
    for (int i = 0; i < nf; i++) {
      const char *s = fields[i];
      int fi = col_feat[i];
      if (!*s) continue;
      char *e;
      double v = strtod(s, &e);
      if (*e != 0 || ts_model_pandas_categories(mm, fi, NULL) >= 0)
        v = ts_model_pandas_code(mm, fi, s, strlen(s));
      row[fi] = v;
    }
    nrows++;
  }

  snprintf(path, sizeof path, "%s/%s/meta.json", dir, name);
  char *meta = read_all(path, NULL);
  assert_non_null(meta);
  ts_predict_opts opts = {TS_PREDICT_RAW, meta_int(meta, "start_iteration", 0),
                          meta_int(meta, "num_iteration", -1)};
  free(meta);

  static const char *const files[3] = {"raw.csv", "pred.csv", "leaf.csv"};
  static const ts_predict_type types[3] = {TS_PREDICT_RAW, TS_PREDICT_VALUE, TS_PREDICT_LEAF};
  int bad[3] = {0, 0, 0}, inexact = 0;
  for (int w = 0; w < 3; w++) {
    int er = 0, ec = 0;
    snprintf(path, sizeof path, "%s/%s/%s", dir, name, files[w]);
    double *exp = read_matrix(path, &er, &ec);
    assert_non_null(exp);
    opts.type = types[w];
    long width = ts_predict_width(f, &opts);
    if ((size_t)er != nrows || ec != width) {
      print_message("FAIL %-40s %s: shape %dx%d, we give %zux%ld\n", name, files[w], er, ec, nrows,
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
done_x:
  free(col_feat);
  free(fields);
  free(txt);
  ts_forest_free(f);
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_all_golden_cases(void **state) {
  (void)state;
  const char *src = getenv("TREESERVE_SRC");
  char dir[1024];
  assert_true(strlen(src ? src : ".") < 900);
  snprintf(dir, sizeof dir, "%s/tests/golden", src ? src : ".");
  DIR *d = opendir(dir);
  assert_non_null(d);
  char *names[512];
  int n = 0;
  struct dirent *de;
  while ((de = readdir(d)) && n < 512) {
    char path[1400];
    snprintf(path, sizeof path, "%s/%s/model.txt", dir, de->d_name);
    FILE *f = fopen(path, "r");
    if (!f) continue;
    fclose(f);
    names[n++] = strdup(de->d_name);
  }
  closedir(d);
  qsort(names, (size_t)n, sizeof names[0], cmp_str);
  stats st = {0, 0, 0};
  for (int i = 0; i < n; i++) {
    run_case(dir, names[i], &st);
    free(names[i]);
  }
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
