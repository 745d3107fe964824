/*
 * Reading the golden cases under tests/golden/ (see tests/golden/README.md),
 * shared by the golden runners test_golden.c (predictions) and
 * test_explain_golden.c (SHAP contributions). Header-only because the Makefile
 * builds every tests/unit/test_*.c as its own binary from that one file.
 *
 * Every function fails the running cmocka test (fail_msg, naming the file and
 * what is wrong) on malformed data instead of returning something partial, so a
 * damaged golden file cannot pass as "no mismatches". Returned arrays and
 * strings are malloc'd and owned by the caller.
 *
 * Include after <cmocka.h> and treeserve/model.h.
 */
#ifndef TS_TEST_GOLDEN_UTIL_H
#define TS_TEST_GOLDEN_UTIL_H

#include <ctype.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Golden files are a few MB at most; anything larger is not a golden file. */
#define GOLDEN_MAX_FILE_BYTES (64L << 20)
#define GOLDEN_MAX_CASES 512
#define GOLDEN_MAX_COLUMNS 8192

/* The repository root: $TREESERVE_SRC, or "." when run from the root. */
static inline const char *golden_root(void) {
  const char *root = getenv("TREESERVE_SRC");
  return root && *root ? root : ".";
}

/* Whole file as a NUL-terminated string, or NULL if it cannot be opened
 * (a missing optional file such as contrib.csv). *len (if non-NULL) gets the
 * size. */
static inline char *golden_read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  char *b = NULL;
  long n = -1;
  if (fseek(f, 0, SEEK_END) == 0) n = ftell(f);
  if (n < 0 || n > GOLDEN_MAX_FILE_BYTES || fseek(f, 0, SEEK_SET) != 0) {
    fclose(f);
    fail_msg("%s: cannot size the file, or it is over %ld bytes", path, GOLDEN_MAX_FILE_BYTES);
  }
  b = malloc((size_t)n + 1);
  assert_non_null(b);
  size_t got = fread(b, 1, (size_t)n, f);
  fclose(f);
  if (got != (size_t)n) {
    free(b);
    fail_msg("%s: short read (%zu of %ld bytes)", path, got, n);
  }
  b[n] = 0;
  if (len) *len = (size_t)n;
  return b;
}

/* Cuts the next line off *p (handling "\r\n"); NULL at the end of the text. */
static inline char *golden_next_line(char **p) {
  char *s = *p;
  if (!*s) return NULL;
  char *e = strchr(s, '\n');
  *p = e ? e + 1 : s + strlen(s);
  if (e) {
    if (e > s && e[-1] == '\r') e[-1] = 0;
    *e = 0;
  }
  return s;
}

/* Splits a line in place at commas (golden files have no quoting) into
 * fields[0 .. max); returns the number of fields (the test fails past max). */
static inline int golden_split(char *line, char **fields, int max, const char *path) {
  int n = 0;
  for (;;) {
    if (n >= max) fail_msg("%s: more than %d fields on a line", path, max);
    fields[n++] = line;
    char *c = strchr(line, ',');
    if (!c) return n;
    *c = 0;
    line = c + 1;
  }
}

static inline int golden_cmp_names(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Names of the case directories (those holding a model.txt) under
 * <root>/tests/golden, sorted; returns how many. Free each name and *names. */
static inline int golden_list_cases(const char *root, char ***names) {
  char dir[1024], path[1400];
  if (strlen(root) > 900) fail_msg("repository root path too long: %s", root);
  snprintf(dir, sizeof dir, "%s/tests/golden", root);
  DIR *d = opendir(dir);
  if (!d) fail_msg("cannot open %s (run from the repository root or set TREESERVE_SRC)", dir);
  char **list = malloc(GOLDEN_MAX_CASES * sizeof *list);
  assert_non_null(list);
  int n = 0;
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    if (de->d_name[0] == '.') continue;
    snprintf(path, sizeof path, "%s/%s/model.txt", dir, de->d_name);
    FILE *f = fopen(path, "r");
    if (!f) continue;
    fclose(f);
    if (n == GOLDEN_MAX_CASES) fail_msg("%s: more than %d cases", dir, GOLDEN_MAX_CASES);
    list[n] = strdup(de->d_name);
    assert_non_null(list[n]);
    n++;
  }
  closedir(d);
  qsort(list, (size_t)n, sizeof *list, golden_cmp_names);
  *names = list;
  return n;
}

/* Path of file `file` of case `name`: <root>/tests/golden/<name>/<file>. */
static inline void golden_path(char *out, size_t cap, const char *root, const char *name,
                               const char *file) {
  int n = snprintf(out, cap, "%s/tests/golden/%s/%s", root, name, file);
  if (n < 0 || (size_t)n >= cap) fail_msg("golden path too long for %s/%s", name, file);
}

/* A headerless all-numeric CSV (LightGBM's outputs: raw.csv, pred.csv,
 * leaf.csv, contrib.csv) as a row-major array; *rows and *cols out. NULL if
 * the file does not exist; the test fails on a field that is not a number or
 * a ragged row. */
static inline double *golden_read_numbers(const char *path, size_t *rows, size_t *cols) {
  *rows = 0;
  *cols = 0;
  char *text = golden_read_file(path, NULL);
  if (!text) return NULL;
  char *p = text, *line;
  char **fields = malloc(GOLDEN_MAX_COLUMNS * sizeof *fields);
  size_t cap = 1024, n = 0;
  double *v = malloc(cap * sizeof *v);
  assert_non_null(fields);
  assert_non_null(v);
  while ((line = golden_next_line(&p)) != NULL) {
    if (!*line) continue;
    const int nf = golden_split(line, fields, GOLDEN_MAX_COLUMNS, path);
    if (*cols == 0) *cols = (size_t)nf;
    if ((size_t)nf != *cols)
      fail_msg("%s: line %zu has %d fields, the first had %zu", path, *rows + 1, nf, *cols);
    for (int i = 0; i < nf; i++) {
      char *end;
      const double d = strtod(fields[i], &end);
      if (end == fields[i] || *end)
        fail_msg("%s: line %zu field %d '%s' is not a number", path, *rows + 1, i + 1, fields[i]);
      if (n == cap) {
        v = realloc(v, (cap *= 2) * sizeof *v);
        assert_non_null(v);
      }
      v[n++] = d;
    }
    (*rows)++;
  }
  free(fields);
  free(text);
  return v;
}

/* X.csv for model m as the row-major [*nrows x num_features] matrix LightGBM's
 * Python package predicts on: header of feature names (matched by name,
 * columns in any order, features without a column are NaN), empty field =
 * missing (NaN), values of pandas categorical columns (strings) mapped to
 * their codes with ts_model_pandas_code (NaN when unseen). The test fails on
 * an unknown column, a ragged row or a non-numeric value in a numeric
 * column. */
static inline double *golden_read_x(const ts_model *m, const char *path, size_t *nrows) {
  char *text = golden_read_file(path, NULL);
  if (!text) fail_msg("%s: cannot open", path);
  const int nfeat = ts_model_num_features(m);
  char **fields = malloc(GOLDEN_MAX_COLUMNS * sizeof *fields);
  int *col_feat = malloc(GOLDEN_MAX_COLUMNS * sizeof *col_feat);
  assert_non_null(fields);
  assert_non_null(col_feat);
  char *p = text, *line = golden_next_line(&p);
  if (!line) fail_msg("%s: empty, no header", path);
  const int ncols = golden_split(line, fields, GOLDEN_MAX_COLUMNS, path);
  for (int i = 0; i < ncols; i++) {
    col_feat[i] = ts_model_find_feature(m, fields[i], strlen(fields[i]));
    if (col_feat[i] < 0) fail_msg("%s: column %d '%s' is not a model feature", path, i + 1, fields[i]);
  }
  size_t cap = 64, n = 0;
  double *X = malloc(cap * (size_t)nfeat * sizeof *X);
  assert_non_null(X);
  while ((line = golden_next_line(&p)) != NULL) {
    if (!*line) continue;
    const int nf = golden_split(line, fields, GOLDEN_MAX_COLUMNS, path);
    if (nf != ncols)
      fail_msg("%s: data line %zu has %d fields, the header %d", path, n + 1, nf, ncols);
    if (n == cap) {
      X = realloc(X, (cap *= 2) * (size_t)nfeat * sizeof *X);
      assert_non_null(X);
    }
    double *row = X + n * (size_t)nfeat;
    for (int j = 0; j < nfeat; j++) row[j] = NAN;
    for (int i = 0; i < nf; i++) {
      const char *s = fields[i];
      const int fi = col_feat[i];
      if (!*s) continue;
      if (ts_model_pandas_categories(m, fi, NULL) >= 0) {
        row[fi] = ts_model_pandas_code(m, fi, s, strlen(s));
        continue;
      }
      char *end;
      row[fi] = strtod(s, &end);
      if (*end) fail_msg("%s: data line %zu column %d '%s' is not a number", path, n + 1, i + 1, s);
    }
    n++;
  }
  free(col_feat);
  free(fields);
  free(text);
  *nrows = n;
  return X;
}

/* Integer `key` of meta.json's "predict_kwargs" object, or dflt when absent
 * (e.g. "predict_kwargs": {"start_iteration": 10, "num_iteration": 20}). */
static inline int golden_predict_kwarg(const char *meta, const char *key, int dflt) {
  const char *kw = strstr(meta, "\"predict_kwargs\"");
  if (!kw) return dflt;
  const char *end = strchr(kw, '}');
  char pat[64];
  snprintf(pat, sizeof pat, "\"%s\"", key);
  const char *k = strstr(kw, pat);
  if (!k || (end && k > end)) return dflt;
  k += strlen(pat);
  while (isspace((unsigned char)*k)) k++;
  if (*k != ':') fail_msg("meta.json: predict_kwargs.%s has no ':'", key);
  char *num_end;
  const long v = strtol(k + 1, &num_end, 10);
  if (num_end == k + 1) fail_msg("meta.json: predict_kwargs.%s is not an integer", key);
  return (int)v;
}

#endif
