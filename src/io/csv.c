/*
 * CSV reader: one pass over the caller's buffer, no copies except for quoted
 * fields with "" escapes. See csv.h for the accepted dialect.
 *
 * Unescaped fields live in a scratch buffer that may grow (and move) while a
 * record is read, so fields are first recorded as offsets and turned into
 * pointers once the record is complete.
 */
#include "io/csv.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TS_CSV_NAME_MAX 256

/* A field while its record is being read: an offset into the input or into
 * the scratch buffer. */
typedef struct pending_field {
  size_t off;
  size_t len;
  bool in_scratch;
  bool quoted;
} pending_field;

struct ts_csv_reader {
  const char *buf;
  size_t len;
  size_t pos;        /* next byte to read */
  size_t line;       /* 1-based line of buf[pos] */
  size_t rec_line;   /* line where the last record started */
  ts_csv_limits lim;
  char name[TS_CSV_NAME_MAX];

  pending_field *pend;
  ts_csv_field *fields;
  size_t cap_fields;

  char *scratch;
  size_t scratch_len, scratch_cap;
};

int ts_csv_open(const char *buf, size_t len, const char *name, const ts_csv_limits *limits,
                ts_csv_reader **out, ts_error *err) {
  *out = NULL;
  ts_csv_reader *r = calloc(1, sizeof *r);
  if (!r) return ts_error_set(err, TS_ENOMEM, "%s: out of memory", name ? name : "<input>");
  r->buf = buf;
  r->len = buf ? len : 0;
  r->line = 1;
  snprintf(r->name, sizeof r->name, "%s", name ? name : "<input>");
  r->lim.max_columns = TS_CSV_MAX_COLUMNS;
  r->lim.max_field_bytes = TS_CSV_MAX_FIELD_BYTES;
  r->lim.max_record_bytes = TS_CSV_MAX_RECORD_BYTES;
  if (limits) {
    if (limits->max_columns) r->lim.max_columns = limits->max_columns;
    if (limits->max_field_bytes) r->lim.max_field_bytes = limits->max_field_bytes;
    if (limits->max_record_bytes) r->lim.max_record_bytes = limits->max_record_bytes;
  }
  /* A UTF-8 byte-order mark (Excel writes one) is not part of the first field. */
  if (r->len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0) r->pos = 3;
  *out = r;
  return 0;
}

void ts_csv_close(ts_csv_reader *r) {
  if (!r) return;
  free(r->pend);
  free(r->fields);
  free(r->scratch);
  free(r);
}

size_t ts_csv_line(const ts_csv_reader *r) { return r->rec_line; }

const char *ts_csv_name(const ts_csv_reader *r) { return r->name; }

static int add_field(ts_csv_reader *r, size_t *n, pending_field f, ts_error *err) {
  if (*n >= r->lim.max_columns)
    return ts_error_set(err, TS_ELIMIT, "%s:%zu: more than %zu fields in a record (limit)",
                        r->name, r->rec_line, r->lim.max_columns);
  if (*n == r->cap_fields) {
    size_t cap = r->cap_fields ? r->cap_fields * 2 : 64;
    if (cap > r->lim.max_columns) cap = r->lim.max_columns;
    pending_field *p = realloc(r->pend, cap * sizeof *p);
    if (!p) return ts_error_set(err, TS_ENOMEM, "%s:%zu: out of memory", r->name, r->rec_line);
    r->pend = p;
    ts_csv_field *q = realloc(r->fields, cap * sizeof *q);
    if (!q) return ts_error_set(err, TS_ENOMEM, "%s:%zu: out of memory", r->name, r->rec_line);
    r->fields = q;
    r->cap_fields = cap;
  }
  r->pend[(*n)++] = f;
  return 0;
}

static int scratch_put(ts_csv_reader *r, const char *s, size_t n, ts_error *err) {
  if (r->scratch_len + n > r->scratch_cap) {
    size_t cap = r->scratch_cap ? r->scratch_cap : 256;
    while (cap < r->scratch_len + n) cap *= 2;
    char *p = realloc(r->scratch, cap);
    if (!p) return ts_error_set(err, TS_ENOMEM, "%s:%zu: out of memory", r->name, r->rec_line);
    r->scratch = p;
    r->scratch_cap = cap;
  }
  memcpy(r->scratch + r->scratch_len, s, n);
  r->scratch_len += n;
  return 0;
}

/* Reads a quoted field starting at the opening quote. On success r->pos is at
 * the byte after the closing quote. */
static int read_quoted(ts_csv_reader *r, pending_field *f, ts_error *err) {
  const char *b = r->buf;
  size_t start_line = r->line;
  size_t open = r->pos++;
  size_t content = r->pos;
  bool escaped = false;
  size_t seg = content; /* start of the not yet copied run (escaped fields) */
  size_t scratch_start = r->scratch_len;
  for (;;) {
    const char *q = memchr(b + r->pos, '"', r->len - r->pos);
    size_t stop = q ? (size_t)(q - b) : r->len;
    /* count the newlines inside the quotes so line numbers stay right */
    for (const char *p = b + r->pos; (p = memchr(p, '\n', (size_t)(b + stop - p))) != NULL; p++)
      r->line++;
    if (stop - open + 1 > r->lim.max_field_bytes)
      return ts_error_set(err, TS_ELIMIT, "%s:%zu: field longer than %zu bytes (limit)", r->name,
                          start_line, r->lim.max_field_bytes);
    if (!q)
      return ts_error_set(err, TS_EPARSE, "%s:%zu: quoted field not closed before end of input",
                          r->name, start_line);
    if (stop + 1 < r->len && b[stop + 1] == '"') {
      /* "" is one quote: copy the run including one quote, skip the other */
      if (!escaped) {
        escaped = true;
        seg = content;
      }
      int rc = scratch_put(r, b + seg, stop + 1 - seg, err);
      if (rc) return rc;
      r->pos = stop + 2;
      seg = r->pos;
      continue;
    }
    /* closing quote */
    if (escaped) {
      int rc = scratch_put(r, b + seg, stop - seg, err);
      if (rc) return rc;
      f->off = scratch_start;
      f->len = r->scratch_len - scratch_start;
      f->in_scratch = true;
    } else {
      f->off = content;
      f->len = stop - content;
      f->in_scratch = false;
    }
    f->quoted = true;
    r->pos = stop + 1;
    return 0;
  }
}

int ts_csv_next(ts_csv_reader *r, const ts_csv_field **fields, size_t *nfields, ts_error *err) {
  const char *b = r->buf;
  if (r->pos >= r->len) return 0;
  r->rec_line = r->line;
  r->scratch_len = 0;
  size_t rec_start = r->pos;
  size_t n = 0;
  int rc;
  for (;;) {
    pending_field f = {0};
    /* r->pos == r->len here after a comma that ends the input: the last
     * field is empty (and unquoted) */
    if (r->pos < r->len && b[r->pos] == '"') {
      rc = read_quoted(r, &f, err);
      if (rc) return rc;
      if (r->pos < r->len && b[r->pos] != ',' && b[r->pos] != '\n' && b[r->pos] != '\r')
        return ts_error_set(err, TS_EPARSE,
                            "%s:%zu: field %zu: unexpected text after a closing quote", r->name,
                            r->line, n + 1);
    } else {
      size_t s = r->pos;
      while (r->pos < r->len) {
        char c = b[r->pos];
        if (c == ',' || c == '\n' || c == '\r') break;
        if (c == '"')
          return ts_error_set(err, TS_EPARSE,
                              "%s:%zu: field %zu: quote inside an unquoted field (quote the whole "
                              "field and double the quote)",
                              r->name, r->line, n + 1);
        r->pos++;
      }
      if (r->pos - s > r->lim.max_field_bytes)
        return ts_error_set(err, TS_ELIMIT, "%s:%zu: field %zu longer than %zu bytes (limit)",
                            r->name, r->line, n + 1, r->lim.max_field_bytes);
      f.off = s;
      f.len = r->pos - s;
    }
    rc = add_field(r, &n, f, err);
    if (rc) return rc;
    if (r->pos - rec_start > r->lim.max_record_bytes)
      return ts_error_set(err, TS_ELIMIT, "%s:%zu: record longer than %zu bytes (limit)", r->name,
                          r->rec_line, r->lim.max_record_bytes);
    if (r->pos >= r->len) break; /* last record without a newline */
    char c = b[r->pos++];
    if (c == ',') continue;
    /* end of record: \n, \r\n or a lone \r */
    if (c == '\r' && r->pos < r->len && b[r->pos] == '\n') r->pos++;
    r->line++;
    break;
  }
  for (size_t i = 0; i < n; i++) {
    const pending_field *p = &r->pend[i];
    r->fields[i].ptr = p->in_scratch ? r->scratch + p->off : b + p->off;
    r->fields[i].len = p->len;
    r->fields[i].quoted = p->quoted;
  }
  *fields = r->fields;
  *nfields = n;
  return 1;
}
