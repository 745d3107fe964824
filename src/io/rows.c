/*
 * Input rows (CSV / JSON array / JSON Lines) -> matrix in model feature order.
 * See rows.h for the rules. CSV goes through io/csv (no copies); JSON is
 * checked strictly (json/json_syntax), then tokenized by jsmn into a bounded
 * token array; strings are unescaped only when they contain a backslash.
 * The syntax pass is the same one src/json's reader runs; rows does its own
 * tokenizing because it sizes the token array with a counting pass (files,
 * not bounded requests) and reports errors by line rather than byte offset.
 */
#include "io/rows.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define JSMN_STATIC
#define JSMN_STRICT
#include <jsmn.h>

#include "base/dtoa.h"
#include "base/jsonstr.h"
#include "io/csv.h"
#include "json/json_syntax.h"

/* How much of an offending value an error message quotes. */
#define TS_ROWS_MSG_VALUE_MAX 60
/* First token array for one JSON Lines record; doubled as needed. */
#define TS_ROWS_JSONL_TOKENS 256

/* pandas.read_csv's default missing-value markers, plus the empty string. */
static const char *const k_missing[] = {
    "",     "nan",  "NaN", "-nan", "-NaN", "NA",      "null",     "NULL",    "None",
    "N/A",  "n/a",  "<NA>", "#N/A", "#NA", "#N/A N/A", "-1.#IND", "-1.#QNAN", "1.#IND",
    "1.#QNAN",
};

typedef struct builder {
  const ts_model *m;
  const char *name;
  size_t ncols;
  double *X;
  size_t nrows, cap_rows;
  size_t max_rows;
  char *scratch; /* unescaped JSON strings */
  size_t scratch_cap;
} builder;

static bool is_missing(const char *s, size_t len) {
  for (size_t i = 0; i < sizeof k_missing / sizeof *k_missing; i++)
    if (strlen(k_missing[i]) == len && memcmp(k_missing[i], s, len) == 0) return true;
  return false;
}

static int shown_len(size_t len) {
  return (int)(len > TS_ROWS_MSG_VALUE_MAX ? TS_ROWS_MSG_VALUE_MAX : len);
}

/* Converts one text value of feature `feat`. Returns 0 or TS_EPARSE (the
 * caller names the place). */
static int cell_from_text(const ts_model *m, int feat, const char *s, size_t len, double *out) {
  const char *const *names;
  if (ts_model_pandas_categories(m, feat, &names) >= 0) {
    *out = is_missing(s, len) ? NAN : ts_model_pandas_code(m, feat, s, len);
    return 0;
  }
  while (len > 0 && (*s == ' ' || *s == '\t')) s++, len--;
  while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t')) len--;
  if (is_missing(s, len)) {
    *out = NAN;
    return 0;
  }
  return ts_parse_double(s, len, out) == 0 ? 0 : TS_EPARSE;
}

/* Appends a row (its values are filled by the caller). Returns NULL with
 * *rc = TS_ELIMIT or TS_ENOMEM; the caller names the place, since finding the
 * line of a JSON token costs a scan we only pay on errors. */
static double *new_row(builder *b, int *rc) {
  if (b->nrows >= b->max_rows) {
    *rc = TS_ELIMIT;
    return NULL;
  }
  if (b->nrows == b->cap_rows) {
    size_t cap = b->cap_rows ? b->cap_rows * 2 : 1024;
    if (cap > b->max_rows) cap = b->max_rows;
    size_t width = b->ncols ? b->ncols : 1;
    double *x = realloc(b->X, cap * width * sizeof *x);
    if (!x) {
      *rc = TS_ENOMEM;
      return NULL;
    }
    b->X = x;
    b->cap_rows = cap;
  }
  return b->X + b->nrows++ * b->ncols;
}

static int row_error(const builder *b, int rc, size_t line, ts_error *err) {
  if (rc == TS_ELIMIT)
    return ts_error_set(err, rc, "%s:%zu: more than %zu rows (limit)", b->name, line, b->max_rows);
  return ts_error_set(err, rc, "%s:%zu: out of memory after %zu rows", b->name, line, b->nrows);
}

/* ------------------------------------------------------------------------ */
/* CSV                                                                       */

static int parse_csv(builder *b, const char *buf, size_t len, ts_error *err) {
  const ts_model *m = b->m;
  ts_csv_reader *r = NULL;
  int *col_feat = NULL;   /* header column -> feature or -1 */
  size_t *feat_col = NULL; /* feature -> header column + 1, 0 if none */
  int rc = ts_csv_open(buf, len, b->name, NULL, &r, err);
  if (rc) goto out;
  const ts_csv_field *f;
  size_t nf;
  rc = ts_csv_next(r, &f, &nf, err);
  if (rc < 0) goto out;
  if (rc == 0) {
    rc = ts_error_set(err, TS_EPARSE, "%s:1: empty input: expected a header row of feature names",
                      b->name);
    goto out;
  }
  size_t ncols_in = nf;
  col_feat = malloc(ncols_in * sizeof *col_feat);
  feat_col = calloc(b->ncols ? b->ncols : 1, sizeof *feat_col);
  if (!col_feat || !feat_col) {
    rc = ts_error_set(err, TS_ENOMEM, "%s: out of memory", b->name);
    goto out;
  }
  for (size_t c = 0; c < ncols_in; c++) {
    int feat = ts_model_find_feature(m, f[c].ptr, f[c].len);
    col_feat[c] = feat;
    if (feat < 0) continue;
    if (feat_col[feat]) {
      rc = ts_error_set(err, TS_ESHAPE,
                        "%s:1: columns %zu and %zu (\"%.*s\") both name feature '%s'", b->name,
                        feat_col[feat], c + 1, shown_len(f[c].len), f[c].ptr,
                        ts_model_feature_name(m, feat));
      goto out;
    }
    feat_col[feat] = c + 1;
  }
  for (size_t j = 0; j < b->ncols; j++) {
    if (feat_col[j]) continue;
    size_t more = 0;
    for (size_t k = j + 1; k < b->ncols; k++) more += feat_col[k] == 0;
    char extra[64] = "";
    if (more) snprintf(extra, sizeof extra, " (and %zu more)", more);
    rc = ts_error_set(err, TS_ENOTFOUND, "%s:1: no column for feature '%s' in the header%s",
                      b->name, ts_model_feature_name(m, (int)j), extra);
    goto out;
  }

  while ((rc = ts_csv_next(r, &f, &nf, err)) == 1) {
    size_t line = ts_csv_line(r);
    if (nf == 1 && f[0].len == 0 && !f[0].quoted) continue; /* blank line */
    if (nf != ncols_in) {
      rc = ts_error_set(err, TS_ESHAPE, "%s:%zu: expected %zu fields, found %zu", b->name, line,
                        ncols_in, nf);
      goto out;
    }
    double *row = new_row(b, &rc);
    if (!row) {
      rc = row_error(b, rc, line, err);
      goto out;
    }
    for (size_t c = 0; c < nf; c++) {
      int feat = col_feat[c];
      if (feat < 0) continue;
      if (cell_from_text(m, feat, f[c].ptr, f[c].len, &row[feat]) != 0) {
        rc = ts_error_set(err, TS_EPARSE, "%s:%zu: column %zu (feature '%s'): not a number: \"%.*s\"",
                          b->name, line, c + 1, ts_model_feature_name(m, feat),
                          shown_len(f[c].len), f[c].ptr);
        goto out;
      }
    }
  }
out:
  free(col_feat);
  free(feat_col);
  ts_csv_close(r);
  return rc < 0 ? rc : 0;
}

/* ------------------------------------------------------------------------ */
/* JSON                                                                      */

static size_t line_of(const char *buf, size_t off) {
  size_t line = 1;
  for (const char *p = buf; (p = memchr(p, '\n', (size_t)(buf + off - p))) != NULL; p++) line++;
  return line;
}

/* Index of the token after the subtree rooted at i (jsmn stores tokens in
 * pre-order; an object's size counts its keys, a key's size is 1). */
static int skip_tok(const jsmntok_t *t, int ntok, int i) {
  long pending = 1;
  while (pending > 0 && i < ntok) {
    pending += t[i].size - 1;
    i++;
  }
  return i;
}

/* The text of string token `tk`, unescaped into b->scratch when it holds a
 * backslash. Returns 0 or TS_EPARSE (bad escape) / TS_ENOMEM. */
static int json_string(builder *b, const char *js, const jsmntok_t *tk, const char **s,
                       size_t *len) {
  const char *p = js + tk->start;
  size_t n = (size_t)(tk->end - tk->start);
  if (!memchr(p, '\\', n)) {
    *s = p;
    *len = n;
    return 0;
  }
  if (n + 1 > b->scratch_cap) {
    char *q = realloc(b->scratch, n + 1);
    if (!q) return TS_ENOMEM;
    b->scratch = q;
    b->scratch_cap = n + 1;
  }
  size_t k;
  if (ts_json_unescape_raw(p, n, b->scratch, n + 1, &k)) return TS_EPARSE;
  *s = b->scratch;
  *len = k;
  return 0;
}

/* Fills one row from the object at token `obj`. `line0` is the line number
 * of the buffer's first byte (JSONL passes the line; JSON passes 1 and the
 * line is counted). `rowno` is 1-based for messages. `seen` has ncols bytes. */
static int json_object_row(builder *b, const char *js, size_t jslen, const jsmntok_t *t, int ntok,
                           int obj, size_t line0, size_t rowno, unsigned char *seen,
                           ts_error *err) {
  const ts_model *m = b->m;
#define LINE_AT(tok) (line0 + line_of(js, (size_t)t[tok].start) - 1)
  (void)jslen;
  if (t[obj].type != JSMN_OBJECT)
    return ts_error_set(err, TS_ESHAPE, "%s:%zu: row %zu: expected an object {\"feature\": value, ...}",
                        b->name, LINE_AT(obj), rowno);
  int rc = 0;
  double *row = new_row(b, &rc);
  if (!row) return row_error(b, rc, LINE_AT(obj), err);
  memset(seen, 0, b->ncols);
  int i = obj + 1;
  for (int kv = 0; kv < t[obj].size; kv++) {
    if (i >= ntok || t[i].type != JSMN_STRING || t[i].size != 1 || i + 1 >= ntok)
      return ts_error_set(err, TS_EPARSE, "%s:%zu: row %zu: malformed object", b->name,
                          LINE_AT(i < ntok ? i : obj), rowno);
    const char *key;
    size_t klen;
    rc = json_string(b, js, &t[i], &key, &klen);
    if (rc)
      return ts_error_set(err, rc, "%s:%zu: row %zu: bad escape in a key", b->name, LINE_AT(i),
                          rowno);
    int feat = ts_model_find_feature(m, key, klen);
    int v = i + 1;
    int next = skip_tok(t, ntok, v);
    if (feat < 0) { /* not a feature: ignored, whatever its value */
      i = next;
      continue;
    }
    if (seen[feat])
      return ts_error_set(err, TS_ESHAPE, "%s:%zu: row %zu: feature '%s' given twice", b->name,
                          LINE_AT(i), rowno, ts_model_feature_name(m, feat));
    seen[feat] = 1;
    const char *s = js + t[v].start;
    size_t n = (size_t)(t[v].end - t[v].start);
    double val = NAN;
    bool ok = true;
    if (t[v].type == JSMN_PRIMITIVE) {
      if (n == 4 && !memcmp(s, "null", 4)) {
        val = NAN;
      } else if (n == 4 && !memcmp(s, "true", 4)) {
        val = 1;
      } else if (n == 5 && !memcmp(s, "false", 5)) {
        val = 0;
      } else {
        const char *const *names;
        if (ts_model_pandas_categories(m, feat, &names) >= 0)
          val = ts_model_pandas_code(m, feat, s, n);
        else
          ok = ts_parse_double(s, n, &val) == 0;
      }
    } else if (t[v].type == JSMN_STRING) {
      rc = json_string(b, js, &t[v], &s, &n);
      if (rc)
        return ts_error_set(err, rc, "%s:%zu: row %zu, feature '%s': bad escape in a string",
                            b->name, LINE_AT(v), rowno, ts_model_feature_name(m, feat));
      ok = cell_from_text(m, feat, s, n, &val) == 0;
    } else {
      return ts_error_set(err, TS_ESHAPE,
                          "%s:%zu: row %zu, feature '%s': expected a number, string or null, "
                          "found an %s",
                          b->name, LINE_AT(v), rowno, ts_model_feature_name(m, feat),
                          t[v].type == JSMN_ARRAY ? "array" : "object");
    }
    if (!ok)
      return ts_error_set(err, TS_EPARSE, "%s:%zu: row %zu, feature '%s': not a number: \"%.*s\"",
                          b->name, LINE_AT(v), rowno, ts_model_feature_name(m, feat),
                          shown_len(n), s);
    row[feat] = val;
    i = next;
  }
  for (size_t j = 0; j < b->ncols; j++)
    if (!seen[j])
      return ts_error_set(err, TS_ENOTFOUND,
                          "%s:%zu: row %zu: no value for feature '%s' (use null for missing)",
                          b->name, LINE_AT(obj), rowno, ts_model_feature_name(m, (int)j));
#undef LINE_AT
  return 0;
}

static const char *jsmn_why(int rc) {
  return rc == JSMN_ERROR_PART ? "the input ends inside a value" : "unexpected character";
}

static int parse_json_array(builder *b, const char *js, size_t len, ts_error *err) {
  jsmntok_t *t = NULL;
  unsigned char *seen = malloc(b->ncols ? b->ncols : 1);
  int rc = 0;
  if (!seen) return ts_error_set(err, TS_ENOMEM, "%s: out of memory", b->name);
  size_t off;
  const char *why;
  if (len > 0 && (rc = ts_json_syntax_check(js, len, TS_ROWS_MAX_JSON_DEPTH, &off, &why)) != 0) {
    rc = ts_error_set(err, rc, "%s:%zu: invalid JSON: %s", b->name, line_of(js, off), why);
    goto out;
  }
  jsmn_parser p;
  jsmn_init(&p);
  int ntok = jsmn_parse(&p, js, len, NULL, 0); /* counting pass */
  if (ntok < 0) {
    rc = ts_error_set(err, TS_EPARSE, "%s:%zu: invalid JSON: %s", b->name,
                      line_of(js, p.pos < len ? p.pos : len), jsmn_why(ntok));
    goto out;
  }
  if (ntok == 0) {
    rc = ts_error_set(err, TS_EPARSE, "%s:1: empty input: expected a JSON array of objects",
                      b->name);
    goto out;
  }
  t = malloc((size_t)ntok * sizeof *t);
  if (!t) {
    rc = ts_error_set(err, TS_ENOMEM, "%s: out of memory for %d JSON tokens", b->name, ntok);
    goto out;
  }
  jsmn_init(&p);
  int n = jsmn_parse(&p, js, len, t, (unsigned)ntok);
  if (n < 0) {
    rc = ts_error_set(err, TS_EPARSE, "%s:%zu: invalid JSON: %s", b->name,
                      line_of(js, p.pos < len ? p.pos : len), jsmn_why(n));
    goto out;
  }
  if (t[0].type != JSMN_ARRAY) {
    rc = ts_error_set(err, TS_ESHAPE, "%s:%zu: expected a JSON array of objects", b->name,
                      line_of(js, (size_t)t[0].start));
    goto out;
  }
  if (skip_tok(t, n, 0) != n) {
    int extra = skip_tok(t, n, 0);
    rc = ts_error_set(err, TS_EPARSE, "%s:%zu: unexpected data after the JSON array", b->name,
                      line_of(js, (size_t)t[extra].start));
    goto out;
  }
  int i = 1;
  for (int r = 0; r < t[0].size; r++) {
    rc = json_object_row(b, js, len, t, n, i, 1, (size_t)r + 1, seen, err);
    if (rc) goto out;
    i = skip_tok(t, n, i);
  }
out:
  free(t);
  free(seen);
  return rc;
}

static int parse_jsonl(builder *b, const char *js, size_t len, ts_error *err) {
  unsigned cap = TS_ROWS_JSONL_TOKENS;
  jsmntok_t *t = malloc(cap * sizeof *t);
  unsigned char *seen = malloc(b->ncols ? b->ncols : 1);
  int rc = 0;
  size_t line = 0, rowno = 0;
  if (!t || !seen) {
    rc = ts_error_set(err, TS_ENOMEM, "%s: out of memory", b->name);
    goto out;
  }
  for (size_t pos = 0; pos < len;) {
    const char *nl = memchr(js + pos, '\n', len - pos);
    size_t end = nl ? (size_t)(nl - js) : len;
    const char *s = js + pos;
    size_t n = end - pos;
    line++;
    pos = end + 1;
    if (line == 1 && n >= 3 && !memcmp(s, "\xEF\xBB\xBF", 3)) s += 3, n -= 3;
    size_t k = 0;
    while (k < n && (s[k] == ' ' || s[k] == '\t' || s[k] == '\r')) k++;
    if (k == n) continue; /* blank line */
    size_t off;
    const char *why;
    if ((rc = ts_json_syntax_check(s, n, TS_ROWS_MAX_JSON_DEPTH, &off, &why)) != 0) {
      rc = ts_error_set(err, rc, "%s:%zu: invalid JSON: %s", b->name, line, why);
      goto out;
    }
    int ntok;
    for (;;) {
      jsmn_parser p;
      jsmn_init(&p);
      ntok = jsmn_parse(&p, s, n, t, cap);
      if (ntok != JSMN_ERROR_NOMEM) {
        if (ntok < 0) {
          rc = ts_error_set(err, TS_EPARSE, "%s:%zu: invalid JSON: %s", b->name, line,
                            jsmn_why(ntok));
          goto out;
        }
        break;
      }
      /* a line of n bytes never needs more than n tokens */
      if (cap >= n) {
        rc = ts_error_set(err, TS_EINTERNAL, "%s:%zu: JSON token count", b->name, line);
        goto out;
      }
      cap = cap * 2 > n ? (unsigned)n : cap * 2;
      jsmntok_t *nt = realloc(t, cap * sizeof *t);
      if (!nt) {
        rc = ts_error_set(err, TS_ENOMEM, "%s:%zu: out of memory", b->name, line);
        goto out;
      }
      t = nt;
    }
    if (ntok == 0 || skip_tok(t, ntok, 0) != ntok) {
      rc = ts_error_set(err, TS_EPARSE, "%s:%zu: expected exactly one JSON object on the line",
                        b->name, line);
      goto out;
    }
    rc = json_object_row(b, s, n, t, ntok, 0, line, ++rowno, seen, err);
    if (rc) goto out;
  }
out:
  free(t);
  free(seen);
  return rc;
}

/* ------------------------------------------------------------------------ */
/* Entry points                                                              */

static bool ends_with_ci(const char *s, const char *suffix) {
  size_t n = strlen(s), k = strlen(suffix);
  if (n < k) return false;
  for (size_t i = 0; i < k; i++) {
    char c = s[n - k + i];
    if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
    if (c != suffix[i]) return false;
  }
  return true;
}

int ts_rows_format_from_path(const char *path, ts_rows_format *fmt, ts_error *err) {
  if (ends_with_ci(path, ".csv")) *fmt = TS_ROWS_CSV;
  else if (ends_with_ci(path, ".json")) *fmt = TS_ROWS_JSON;
  else if (ends_with_ci(path, ".jsonl") || ends_with_ci(path, ".ndjson")) *fmt = TS_ROWS_JSONL;
  else
    return ts_error_set(err, TS_EINVAL,
                        "%s: unknown input format (the name must end in .csv, .json or .jsonl)",
                        path);
  return 0;
}

int ts_rows_parse(const ts_model *m, ts_rows_format fmt, const char *buf, size_t len,
                  const char *name, const ts_rows_limits *lim, ts_rows *out, ts_error *err) {
  size_t ncols = (size_t)ts_model_num_features(m);
  builder b = {.m = m, .name = name ? name : "<input>", .ncols = ncols};
  size_t max_in = lim && lim->max_input_bytes ? lim->max_input_bytes : TS_ROWS_MAX_INPUT_BYTES;
  size_t max_rows = lim && lim->max_rows ? lim->max_rows : TS_ROWS_MAX_ROWS;
  size_t max_cells = lim && lim->max_cells ? lim->max_cells : TS_ROWS_MAX_CELLS;
  out->X = NULL;
  out->nrows = 0;
  out->ncols = ncols;
  if (len > max_in || len > (size_t)INT_MAX)
    return ts_error_set(err, TS_ELIMIT, "%s: input of %zu bytes is larger than the limit of %zu",
                        b.name, len, max_in);
  b.max_rows = ncols ? max_cells / ncols : max_cells;
  if (b.max_rows > max_rows) b.max_rows = max_rows;
  if (!buf) buf = "";
  int rc;
  switch (fmt) {
  case TS_ROWS_CSV: rc = parse_csv(&b, buf, len, err); break;
  case TS_ROWS_JSON: rc = parse_json_array(&b, buf, len, err); break;
  case TS_ROWS_JSONL: rc = parse_jsonl(&b, buf, len, err); break;
  default: rc = ts_error_set(err, TS_EINVAL, "%s: unknown input format", b.name); break;
  }
  free(b.scratch);
  if (rc) {
    free(b.X);
    return rc;
  }
  out->X = b.X;
  out->nrows = b.nrows;
  return 0;
}

int ts_rows_read_file(const ts_model *m, const char *path, const ts_rows_limits *lim,
                      ts_rows *out, ts_error *err) {
  out->X = NULL;
  out->nrows = 0;
  out->ncols = (size_t)ts_model_num_features(m);
  ts_rows_format fmt;
  int rc = ts_rows_format_from_path(path, &fmt, err);
  if (rc) return rc;
  size_t max_in = lim && lim->max_input_bytes ? lim->max_input_bytes : TS_ROWS_MAX_INPUT_BYTES;
  char *buf = NULL;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ts_error_set(err, TS_EIO, "%s: cannot open: %s", path, strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0) {
    rc = ts_error_set(err, TS_EIO, "%s: cannot stat: %s", path, strerror(errno));
    goto out;
  }
  if (S_ISDIR(st.st_mode)) {
    rc = ts_error_set(err, TS_EIO, "%s: is a directory", path);
    goto out;
  }
  /* Read to the end rather than trusting st_size (pipes, growing files), but
   * never past the limit. */
  size_t cap = st.st_size > 0 && (size_t)st.st_size <= max_in ? (size_t)st.st_size + 1 : 65536;
  size_t len = 0;
  buf = malloc(cap);
  if (!buf) {
    rc = ts_error_set(err, TS_ENOMEM, "%s: out of memory", path);
    goto out;
  }
  for (;;) {
    if (len == cap) {
      if (cap > max_in) {
        rc = ts_error_set(err, TS_ELIMIT, "%s: larger than the input limit of %zu bytes", path,
                          max_in);
        goto out;
      }
      size_t ncap = cap * 2;
      if (ncap > max_in + 1) ncap = max_in + 1;
      char *nb = realloc(buf, ncap);
      if (!nb) {
        rc = ts_error_set(err, TS_ENOMEM, "%s: out of memory", path);
        goto out;
      }
      buf = nb;
      cap = ncap;
    }
    ssize_t got = read(fd, buf + len, cap - len);
    if (got < 0) {
      if (errno == EINTR) continue;
      rc = ts_error_set(err, TS_EIO, "%s: read error: %s", path, strerror(errno));
      goto out;
    }
    if (got == 0) break;
    len += (size_t)got;
  }
  if (len > max_in) {
    rc = ts_error_set(err, TS_ELIMIT, "%s: larger than the input limit of %zu bytes", path,
                      max_in);
    goto out;
  }
  rc = ts_rows_parse(m, fmt, buf, len, path, lim, out, err);
out:
  free(buf);
  close(fd);
  return rc;
}

void ts_rows_free(ts_rows *r) {
  if (!r) return;
  free(r->X);
  r->X = NULL;
  r->nrows = 0;
}
