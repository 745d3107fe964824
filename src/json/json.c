/*
 * treeserve JSON reading (jsmn plus the checks jsmn leaves to its caller) and
 * bounded writing. See json.h for the contract.
 */
#define JSMN_STATIC
#define JSMN_STRICT
/* Parent links make closing a container O(1); without them jsmn walks back
 * over the tokens, which is quadratic for deeply nested input. */
#define JSMN_PARENT_LINKS
#include <jsmn.h>

#include "json/json.h"
#include "json/json_syntax.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/dtoa.h"
#include "base/jsonstr.h"
#include "base/utf8.h"

/* ts_json_tok mirrors jsmntok_t so jsmn can fill our array directly. */
_Static_assert(sizeof(ts_json_tok) == sizeof(jsmntok_t), "ts_json_tok layout");
_Static_assert(offsetof(ts_json_tok, start) == offsetof(jsmntok_t, start), "start");
_Static_assert(offsetof(ts_json_tok, end) == offsetof(jsmntok_t, end), "end");
_Static_assert(offsetof(ts_json_tok, size) == offsetof(jsmntok_t, size), "size");
_Static_assert(offsetof(ts_json_tok, parent) == offsetof(jsmntok_t, parent), "parent");
_Static_assert((int)TS_JSON_OBJECT == (int)JSMN_OBJECT && (int)TS_JSON_PRIMITIVE == (int)JSMN_PRIMITIVE,
               "token types");

size_t ts_json_max_tokens_for(size_t len) { return len / 2 + 2; }

/* Strict syntax check before tokenizing (json_syntax.c, one pass, bounded
 * stack): jsmn on its own accepts doubled, trailing or missing commas and a
 * key without a value, and closes containers by walking up through the
 * parents, which is quadratic in the nesting depth; so malformed text and a
 * hostile "[[[[...]]]]" are refused here, before jsmn sees them. The same
 * pass checks the nesting depth, the number grammar, the spelling of
 * true/false/null, that every object member is a string key with one value,
 * and that strings are UTF-8 (they are echoed in answers and error
 * messages); so jsmn's tokens need no second walk. */
static int check_syntax(const char *s, size_t len, int max_depth, ts_error *err) {
  size_t off = 0;
  const char *why = "";
  int rc = ts_json_syntax_check_utf8(s, len, max_depth, &off, &why);
  if (rc == TS_ELIMIT)
    return ts_error_set(err, TS_ELIMIT, "JSON: nesting deeper than %d at byte %zu", max_depth, off);
  if (rc) return ts_error_set(err, TS_EPARSE, "JSON: %s at byte %zu", why, off);
  return 0;
}

int ts_json_parse(ts_json_doc *doc, const char *src, size_t len, ts_json_tok *toks, int max_tokens,
                  int max_depth, ts_error *err) {
  doc->src = src;
  doc->len = len;
  doc->toks = toks;
  doc->ntok = 0;
  if (len > (size_t)0x7fffffff) return ts_error_set(err, TS_ELIMIT, "JSON: document of %zu bytes is too large", len);
  if (max_depth < 1 || max_depth > TS_JSON_MAX_DEPTH_LIMIT)
    return ts_error_set(err, TS_EINVAL, "JSON: depth limit %d outside 1..%d", max_depth, TS_JSON_MAX_DEPTH_LIMIT);
  int rc = check_syntax(src, len, max_depth, err);
  if (rc) return rc;
  jsmn_parser p;
  jsmn_init(&p);
  int n = jsmn_parse(&p, src, len, (jsmntok_t *)toks, (unsigned)max_tokens);
  if (n == JSMN_ERROR_NOMEM)
    return ts_error_set(err, TS_ELIMIT, "JSON: more than %d tokens", max_tokens);
  if (n == JSMN_ERROR_INVAL) return ts_error_set(err, TS_EPARSE, "JSON: invalid character at byte %u", p.pos);
  if (n == JSMN_ERROR_PART) {
    /* jsmn in strict mode cannot end a document on a bare number or literal;
     * the API only takes objects and arrays, so say that. */
    size_t i = 0;
    while (i < len && (src[i] == ' ' || src[i] == '\t' || src[i] == '\r' || src[i] == '\n')) i++;
    if (i < len && src[i] != '{' && src[i] != '[' && src[i] != '"')
      return ts_error_set(err, TS_EPARSE, "JSON: the document must be an object or an array");
    return ts_error_set(err, TS_EPARSE, "JSON: document ends early (%zu bytes)", len);
  }
  if (n <= 0) return ts_error_set(err, TS_EPARSE, "JSON: empty document");
  doc->ntok = n;
  /* jsmn accepts a bare literal when whitespace follows it. (That the text
   * is exactly one value followed only by whitespace, the syntax check has
   * already established.) */
  if (toks[0].type == TS_JSON_PRIMITIVE)
    return ts_error_set(err, TS_EPARSE, "JSON: the document must be an object or an array");
  return 0;
}

int ts_json_skip(const ts_json_doc *doc, int i) {
  /* Each token adds its children to the count still to visit; object keys
   * have size 1 (their value), so the same rule covers objects and arrays. */
  long pending = 1;
  while (pending > 0 && i < doc->ntok) {
    pending += doc->toks[i].size;
    pending--;
    i++;
  }
  return i;
}

bool ts_json_str_eq(const ts_json_doc *doc, int i, const char *s) {
  const ts_json_tok *t = &doc->toks[i];
  if (t->type != TS_JSON_STRING) return false;
  size_t n = (size_t)(t->end - t->start), len = strlen(s);
  const char *p = doc->src + t->start;
  /* Unescaping only shortens a string, so a raw text shorter than `s` never
   * matches, and one of the same length matches only byte for byte. */
  if (n < len) return false;
  if (n == len) return !memcmp(p, s, n);
  if (!memchr(p, '\\', n)) return false;
  char tmp[256];
  size_t ulen;
  if (n >= sizeof(tmp) || ts_json_unescape(doc, i, tmp, sizeof(tmp), &ulen)) return false;
  return ulen == len && !memcmp(tmp, s, ulen);
}

int ts_json_obj_get(const ts_json_doc *doc, int obj, const char *key) {
  if (obj < 0 || obj >= doc->ntok || doc->toks[obj].type != TS_JSON_OBJECT) return -1;
  int k = obj + 1;
  for (int c = 0; c < doc->toks[obj].size; c++) {
    if (ts_json_str_eq(doc, k, key)) return k + 1;
    k = ts_json_skip(doc, k);
  }
  return -1;
}

bool ts_json_is_null(const ts_json_doc *doc, int i) {
  const ts_json_tok *t = &doc->toks[i];
  return t->type == TS_JSON_PRIMITIVE && doc->src[t->start] == 'n';
}

bool ts_json_is_bool(const ts_json_doc *doc, int i, bool *value) {
  const ts_json_tok *t = &doc->toks[i];
  if (t->type != TS_JSON_PRIMITIVE) return false;
  char c = doc->src[t->start];
  if (c != 't' && c != 'f') return false;
  *value = c == 't';
  return true;
}

int ts_json_number(const ts_json_doc *doc, int i, double *out) {
  const ts_json_tok *t = &doc->toks[i];
  if (t->type != TS_JSON_PRIMITIVE) return TS_ESHAPE;
  char c = doc->src[t->start];
  if (c == 't' || c == 'f' || c == 'n') return TS_ESHAPE;
  /* The syntax check already checked the JSON grammar; ts_parse_double rounds
   * correctly (TS_ELIMIT only for absurdly long digit strings). */
  return ts_parse_double(doc->src + t->start, (size_t)(t->end - t->start), out) ? TS_ESHAPE : 0;
}

int ts_json_int(const ts_json_doc *doc, int i, int64_t lo, int64_t hi, int64_t *out) {
  double v;
  if (ts_json_number(doc, i, &v)) return TS_ESHAPE;
  if (v != floor(v)) return TS_ESHAPE;
  if (v < (double)lo || v > (double)hi) return TS_ELIMIT;
  *out = (int64_t)v;
  return 0;
}

int ts_json_unescape(const ts_json_doc *doc, int i, char *out, size_t cap, size_t *out_len) {
  const ts_json_tok *t = &doc->toks[i];
  if (t->type != TS_JSON_STRING) return TS_ESHAPE;
  size_t len;
  int rc = ts_json_unescape_raw(doc->src + t->start, (size_t)(t->end - t->start), out, cap, &len);
  if (rc == 0) *out_len = len;
  return rc;
}

/* ---- writer ---- */

void ts_jw_init(ts_jw *w, size_t max) {
  memset(w, 0, sizeof(*w));
  w->max = max;
}

void ts_jw_reset(ts_jw *w) {
  w->len = 0;
  w->failed = false;
}

void ts_jw_free(ts_jw *w) {
  free(w->buf);
  w->buf = NULL;
  w->len = w->cap = 0;
}

bool ts_jw_reserve(ts_jw *w, size_t n) {
  if (w->failed) return false;
  if (n <= w->cap - w->len) return true;
  if (n > w->max || w->len > w->max - n) {
    w->failed = true;
    return false;
  }
  size_t want = w->cap ? w->cap : 4096;
  while (want - w->len < n) want *= 2;
  if (want > w->max) want = w->max;
  char *nb = realloc(w->buf, want);
  if (!nb) {
    w->failed = true;
    return false;
  }
  w->buf = nb;
  w->cap = want;
  return true;
}

void ts_jw_raw(ts_jw *w, const char *s, size_t n) {
  if (!ts_jw_reserve(w, n)) return;
  memcpy(w->buf + w->len, s, n);
  w->len += n;
}

void ts_jw_lit(ts_jw *w, const char *s) { ts_jw_raw(w, s, strlen(s)); }

void ts_jw_char(ts_jw *w, char c) {
  if (!ts_jw_reserve(w, 1)) return;
  w->buf[w->len++] = c;
}

void ts_jw_str(ts_jw *w, const char *s, size_t n) {
  /* Worst case every byte becomes \u00XX (6 bytes) plus the quotes. */
  if (n > (SIZE_MAX - 2) / 6 || !ts_jw_reserve(w, n * 6 + 2)) {
    w->failed = true;
    return;
  }
  char *o = w->buf + w->len;
  *o++ = '"';
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '"' || c == '\\') {
      *o++ = '\\';
      *o++ = (char)c;
    } else if (c < 0x20) {
      static const char hexd[] = "0123456789abcdef";
      *o++ = '\\';
      *o++ = 'u';
      *o++ = '0';
      *o++ = '0';
      *o++ = hexd[c >> 4];
      *o++ = hexd[c & 15];
    } else if (c < 0x80) {
      *o++ = (char)c;
    } else {
      /* Text echoed from a request (a path, a name, a truncated message) may
       * hold invalid UTF-8; the answer must stay valid JSON, so each invalid
       * byte becomes U+FFFD (6 bytes: within the reservation above). */
      size_t seq = ts_utf8_seq((const unsigned char *)s + i, n - i);
      if (seq) {
        memcpy(o, s + i, seq);
        o += seq;
        i += seq - 1;
      } else {
        memcpy(o, "\\ufffd", 6);
        o += 6;
      }
    }
  }
  *o++ = '"';
  w->len = (size_t)(o - w->buf);
}

void ts_jw_cstr(ts_jw *w, const char *s) { ts_jw_str(w, s, strlen(s)); }

void ts_jw_double(ts_jw *w, double v) {
  if (!isfinite(v)) {
    ts_jw_raw(w, "null", 4);
    return;
  }
  if (!ts_jw_reserve(w, TS_DTOA_BUFSIZE)) return;
  w->len += ts_dtoa(v, w->buf + w->len, TS_DTOA_BUFSIZE);
}

void ts_jw_int(ts_jw *w, int64_t v) {
  if (!ts_jw_reserve(w, 24)) return;
  char tmp[24];
  int n = 0;
  uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
  do {
    tmp[n++] = (char)('0' + u % 10);
    u /= 10;
  } while (u);
  if (v < 0) w->buf[w->len++] = '-';
  while (n) w->buf[w->len++] = tmp[--n];
}
