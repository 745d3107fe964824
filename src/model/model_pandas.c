/*
 * pandas categorical support and feature-name lookup.
 *
 * LightGBM's Python package appends "pandas_categorical:<json>" to the model:
 * `null`, or one JSON list per pandas 'category' column (in column order)
 * holding that column's categories. At prediction time it maps a value to its
 * index in the list (pandas Categorical codes) and unseen values and missing
 * values to NaN. The JSON is parsed here by a small bounded parser of our own
 * (strings with escapes incl. \uXXXX surrogate pairs, numbers, true/false/null).
 *
 * Which model feature a list belongs to: the features named by the
 * "[categorical_feature: i,j,k]" parameter when it has one index per list,
 * else the features whose feature_infos say categorical, in order, when their
 * count matches. Anything else is a load error, never a guess.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/jsonstr.h"
#include "model/model_num.h"
#include "model/model_parse.h"

/* Bounds on the JSON line (it is also bounded by the file size). */
#define TS_PANDAS_MAX_COLUMNS 100000
#define TS_PANDAS_MAX_CATEGORIES 10000000 /* per column */

typedef struct jp {
  const char *p, *e;
  const char *base; /* start of the JSON text, for column numbers */
  const char *name;
  int line;
  ts_error *err;
} jp;

static int jfail(jp *j, const char *what) {
  return ts_error_set(j->err, TS_EPARSE, "%s:%d: pandas_categorical: %s at column %d", j->name,
                      j->line, what, (int)(j->p - j->base) + 20);
}

static void ws(jp *j) {
  while (j->p < j->e && (*j->p == ' ' || *j->p == '\t')) j->p++;
}

/* Reads one item (string, number, literal) into a new NUL-terminated string.
 * The decoded string is never longer than its JSON text. */
static int read_item(jp *j, char **out, bool *is_string) {
  ws(j);
  if (j->p >= j->e) return jfail(j, "unexpected end");
  const char *start = j->p;
  *is_string = *j->p == '"';
  if (*j->p == '"') {
    j->p++;
    const char *q = j->p;
    /* find the closing quote to size the buffer */
    while (q < j->e && *q != '"') q += (*q == '\\' && q + 1 < j->e) ? 2 : 1;
    if (q >= j->e) return jfail(j, "unterminated string");
    char *s = malloc((size_t)(q - j->p) + 1);
    if (!s) return ts_error_set(j->err, TS_ENOMEM, "%s: out of memory", j->name);
    size_t n, len = (size_t)(q - j->p);
    if (ts_json_unescape_raw(j->p, len, s, len + 1, &n)) {
      /* n is the offset of the raw control character or bad escape: point
       * the column just past its first byte. */
      bool ctl = (unsigned char)j->p[n] < 0x20;
      j->p += n + 1;
      free(s);
      return jfail(j, ctl ? "control character in string" : "bad escape in string");
    }
    j->p = q + 1;
    *out = s;
    return 0;
  }
  /* number or literal: up to the next ',' ']' or space */
  while (j->p < j->e && *j->p != ',' && *j->p != ']' && *j->p != ' ') j->p++;
  ts__span tok = {start, j->p};
  double d;
  if (!(ts__span_eq(tok, "true") || ts__span_eq(tok, "false") || ts__span_eq(tok, "null") ||
        (tok.e - tok.s < TS_NUM_MAX_TOKEN && ts__parse_double(tok.s, tok.e, &d) == 0)))
    return jfail(j, "expected a string, number, true, false or null");
  size_t n = (size_t)(tok.e - tok.s);
  char *s = malloc(n + 1);
  if (!s) return ts_error_set(j->err, TS_ENOMEM, "%s: out of memory", j->name);
  memcpy(s, tok.s, n);
  s[n] = 0;
  *out = s;
  return 0;
}

static int read_column(jp *j, ts_pandas_column *col) {
  ws(j);
  if (j->p >= j->e || *j->p != '[') return jfail(j, "expected '[' starting a category list");
  j->p++;
  int cap = 0;
  ws(j);
  if (j->p < j->e && *j->p == ']') {
    j->p++;
    return 0;
  }
  for (;;) {
    if (col->num_categories == cap) {
      if (cap >= TS_PANDAS_MAX_CATEGORIES)
        return ts_error_set(j->err, TS_ELIMIT, "%s:%d: pandas_categorical: more than %d categories",
                            j->name, j->line, TS_PANDAS_MAX_CATEGORIES);
      int ncap = cap ? cap * 2 : 8;
      char **nc = realloc(col->categories, (size_t)ncap * sizeof(char *));
      if (!nc) return ts_error_set(j->err, TS_ENOMEM, "%s: out of memory", j->name);
      col->categories = nc;
      cap = ncap;
    }
    bool is_string = false;
    int rc = read_item(j, &col->categories[col->num_categories], &is_string);
    if (rc) return rc;
    if (!is_string) col->numeric = true;
    col->num_categories++;
    ws(j);
    if (j->p < j->e && *j->p == ',') {
      j->p++;
      continue;
    }
    if (j->p < j->e && *j->p == ']') {
      j->p++;
      return 0;
    }
    return jfail(j, "expected ',' or ']' in a category list");
  }
}

int ts__pandas_parse(ts_model *m, ts__span json, ts__span cat_param, int lineno, const char *name,
                     ts_error *err) {
  jp j = {json.s, json.e, json.s, name, lineno, err};
  ws(&j);
  if (ts__span_eq((ts__span){j.p, j.e}, "null")) return 0;
  if (j.p >= j.e || *j.p != '[') return jfail(&j, "expected null or a JSON list");
  j.p++;
  int cap = 0, rc;
  ws(&j);
  if (j.p < j.e && *j.p == ']') {
    j.p++;
  } else {
    for (;;) {
      if (m->num_pandas_columns == cap) {
        if (cap >= TS_PANDAS_MAX_COLUMNS)
          return ts_error_set(err, TS_ELIMIT, "%s:%d: pandas_categorical: too many columns", name,
                              lineno);
        int ncap = cap ? cap * 2 : 4;
        ts_pandas_column *nc = realloc(m->pandas_columns, (size_t)ncap * sizeof *nc);
        if (!nc) return ts_error_set(err, TS_ENOMEM, "%s: out of memory", name);
        memset(nc + cap, 0, (size_t)(ncap - cap) * sizeof *nc);
        m->pandas_columns = nc;
        cap = ncap;
      }
      rc = read_column(&j, &m->pandas_columns[m->num_pandas_columns++]);
      if (rc) return rc;
      ws(&j);
      if (j.p < j.e && *j.p == ',') {
        j.p++;
        continue;
      }
      if (j.p < j.e && *j.p == ']') {
        j.p++;
        break;
      }
      return jfail(&j, "expected ',' or ']'");
    }
  }
  ws(&j);
  if (j.p != j.e) return jfail(&j, "trailing characters after the list");
  int ncol = m->num_pandas_columns;
  if (ncol == 0) return 0;

  if (!(m->pandas_of_feature = malloc((size_t)m->num_features * sizeof(int32_t))))
    return ts_error_set(err, TS_ENOMEM, "%s: out of memory", name);
  for (int i = 0; i < m->num_features; i++) m->pandas_of_feature[i] = -1;

  /* Preferred: the categorical_feature parameter, one index per list. */
  int nparam = 0;
  bool param_ok = cat_param.s != NULL;
  if (param_ok) {
    ts__span sp = cat_param;
    const char *s = sp.s;
    while (s <= sp.e && param_ok) {
      const char *c = s;
      while (c < sp.e && *c != ',') c++;
      long long idx;
      ts__span t = {s, c};
      while (t.s < t.e && *t.s == ' ') t.s++;
      if (t.s == t.e && c == sp.e && nparam == 0) break; /* empty parameter */
      /* A feature named twice would leave one list to no one and give the
       * feature whichever came last: then the parameter is not trusted. */
      if (ts__parse_long(t.s, t.e, 0, m->num_features - 1, &idx) != 0 || nparam >= ncol ||
          m->pandas_of_feature[idx] >= 0) {
        param_ok = false;
        break;
      }
      m->pandas_of_feature[idx] = nparam++;
      s = c + 1;
    }
    if (nparam != ncol) param_ok = false;
  }
  if (!param_ok) {
    for (int i = 0; i < m->num_features; i++) m->pandas_of_feature[i] = -1;
    int k = 0;
    for (int i = 0; i < m->num_features; i++)
      if (m->feature_is_categorical[i] && k < ncol) m->pandas_of_feature[i] = k++;
    int ncat = 0;
    for (int i = 0; i < m->num_features; i++) ncat += m->feature_is_categorical[i];
    if (ncat != ncol)
      return ts_error_set(err, TS_EPARSE,
                          "%s:%d: pandas_categorical has %d lists but the model has %d categorical "
                          "features",
                          name, lineno, ncol, ncat);
  }
  for (int i = 0; i < m->num_features; i++)
    if (m->pandas_of_feature[i] >= 0) m->feature_is_categorical[i] = true;
  return 0;
}

/* ---- lookups ------------------------------------------------------------------ */

int ts_model_pandas_categories(const ts_model *m, int i, const char *const **names) {
  if (i < 0 || i >= m->num_features || !m->pandas_of_feature || m->pandas_of_feature[i] < 0)
    return -1;
  const ts_pandas_column *c = &m->pandas_columns[m->pandas_of_feature[i]];
  if (names) *names = (const char *const *)c->categories;
  return c->num_categories;
}

double ts_model_pandas_code(const ts_model *m, int i, const char *value, size_t len) {
  if (i < 0 || i >= m->num_features || !m->pandas_of_feature || m->pandas_of_feature[i] < 0)
    return NAN;
  const ts_pandas_column *c = &m->pandas_columns[m->pandas_of_feature[i]];
  for (int k = 0; k < c->num_categories; k++) {
    const char *s = c->categories[k];
    if (strlen(s) == len && memcmp(s, value, len) == 0) return (double)k;
  }
  /* Numeric categories (JSON numbers) match by value: "1" equals "1.0". */
  double v;
  if (c->numeric && len > 0 && len < TS_NUM_MAX_TOKEN && ts__parse_double(value, value + len, &v) == 0 && !isnan(v)) {
    for (int k = 0; k < c->num_categories; k++) {
      const char *s = c->categories[k];
      double cv;
      if (ts__parse_double(s, s + strlen(s), &cv) == 0 && cv == v) return (double)k;
    }
  }
  return NAN;
}
