/*
 * libFuzzer driver: the JSON reader and writer (src/json/json.h).
 *
 * First byte: nesting depth limit and token budget; the rest is the document.
 * For a document that parses, every token must be a slice of the input and
 * the tree walk (ts_json_skip) must stay inside the token array. Round-trip
 * oracles: each string token, unescaped and written back with ts_jw_str,
 * parses again to the same bytes; each number token written back with
 * ts_jw_double parses again to the same double.
 */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/dtoa.h"
#include "fuzz_common.h"
#include "json/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void roundtrip_string(const char *s, size_t n) {
  ts_jw w;
  ts_jw_init(&w, 16 * n + 64);
  ts_jw_lit(&w, "[");
  ts_jw_str(&w, s, n);
  ts_jw_lit(&w, "]");
  FUZZ_CHECK(!w.failed);
  ts_json_tok toks[4];
  ts_json_doc d;
  ts_error err;
  FUZZ_CHECK(ts_json_parse(&d, w.buf, w.len, toks, 4, 4, &err) == 0);
  FUZZ_CHECK(d.ntok == 2 && toks[1].type == TS_JSON_STRING);
  char *back = malloc(w.len + 1);
  FUZZ_CHECK(back != NULL);
  size_t blen;
  FUZZ_CHECK(ts_json_unescape(&d, 1, back, w.len + 1, &blen) == 0);
  FUZZ_CHECK(blen == n && memcmp(back, s, n) == 0);
  free(back);
  ts_jw_free(&w);
}

static void roundtrip_number(double v) {
  ts_jw w;
  ts_jw_init(&w, 64);
  ts_jw_lit(&w, "[");
  ts_jw_double(&w, v);
  ts_jw_lit(&w, "]");
  FUZZ_CHECK(!w.failed);
  ts_json_tok toks[4];
  ts_json_doc d;
  ts_error err;
  FUZZ_CHECK(ts_json_parse(&d, w.buf, w.len, toks, 4, 4, &err) == 0);
  if (isfinite(v)) {
    double back;
    FUZZ_CHECK(ts_json_number(&d, 1, &back) == 0);
    FUZZ_CHECK(back == v && signbit(back) == signbit(v));
  } else {
    FUZZ_CHECK(ts_json_is_null(&d, 1)); /* JSON has no NaN/Infinity */
  }
  ts_jw_free(&w);
}

/* ---- a strict reference validator (RFC 8259 grammar, UTF-8 not checked
 * here), independent of jsmn: the differential oracle. Recursion is bounded
 * by `depth`. Returns the position after the value, or 0 on error (a value
 * never ends at 0). ---- */
static size_t ws(const char *s, size_t n, size_t i) {
  while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) i++;
  return i;
}

static size_t ref_string(const char *s, size_t n, size_t i) { /* at the opening quote */
  for (i++; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '"') return i + 1;
    if (c < 0x20) return 0;
    if (c == '\\') {
      if (++i >= n) return 0;
      if (s[i] == 'u') {
        for (int k = 0; k < 4; k++)
          if (++i >= n || !((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') || (s[i] >= 'A' && s[i] <= 'F')))
            return 0;
      } else if (!strchr("\"\\/bfnrt", s[i]) || s[i] == 0) {
        return 0;
      }
    }
  }
  return 0;
}

static size_t digits(const char *s, size_t n, size_t i) {
  size_t j = i;
  while (j < n && s[j] >= '0' && s[j] <= '9') j++;
  return j;
}

static size_t ref_number(const char *s, size_t n, size_t i) {
  if (i < n && s[i] == '-') i++;
  if (i >= n) return 0;
  if (s[i] == '0') i++;
  else if (s[i] >= '1' && s[i] <= '9') i = digits(s, n, i);
  else return 0;
  if (i < n && s[i] == '.') {
    size_t j = digits(s, n, i + 1);
    if (j == i + 1) return 0;
    i = j;
  }
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    i++;
    if (i < n && (s[i] == '+' || s[i] == '-')) i++;
    size_t j = digits(s, n, i);
    if (j == i) return 0;
    i = j;
  }
  return i;
}

static size_t ref_value(const char *s, size_t n, size_t i, int depth) {
  i = ws(s, n, i);
  if (i >= n) return 0;
  char c = s[i];
  if (c == '{' || c == '[') {
    if (depth <= 0) return 0;
    char close = c == '{' ? '}' : ']';
    i = ws(s, n, i + 1);
    if (i < n && s[i] == close) return i + 1;
    for (;;) {
      if (c == '{') {
        i = ws(s, n, i);
        if (i >= n || s[i] != '"' || !(i = ref_string(s, n, i))) return 0;
        i = ws(s, n, i);
        if (i >= n || s[i] != ':') return 0;
        i++;
      }
      if (!(i = ref_value(s, n, i, depth - 1))) return 0;
      i = ws(s, n, i);
      if (i >= n) return 0;
      if (s[i] == close) return i + 1;
      if (s[i] != ',') return 0;
      i++;
    }
  }
  if (c == '"') return ref_string(s, n, i);
  if (c == '-' || (c >= '0' && c <= '9')) return ref_number(s, n, i);
  static const char *const lits[] = {"true", "false", "null"};
  for (int k = 0; k < 3; k++) {
    size_t l = strlen(lits[k]);
    if (n - i >= l && !memcmp(s + i, lits[k], l)) return i + l;
  }
  return 0;
}

/* True if src is one JSON text whose top level is an object, array or string. */
static bool ref_valid(const char *s, size_t n, int depth) {
  size_t i = ws(s, n, 0);
  if (i >= n || (s[i] != '{' && s[i] != '[' && s[i] != '"')) return false;
  size_t e = ref_value(s, n, i, depth);
  return e && ws(s, n, e) == n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  int depth = 1 + (data[0] & 31);
  const char *src = (const char *)data + 1;
  size_t len = size - 1;
  size_t need = ts_json_max_tokens_for(len);
  int max_tokens = (data[0] & 0x80) ? (int)(need < 8 ? need : 8) : (int)need;
  if (max_tokens < 1) max_tokens = 1;
  ts_json_tok *toks = malloc((size_t)max_tokens * sizeof(*toks));
  FUZZ_CHECK(toks != NULL);
  ts_json_doc doc;
  ts_error err;
  err.msg[0] = 0;
  int rc = ts_json_parse(&doc, src, len, toks, max_tokens, depth, &err);
#ifndef FUZZ_LAX_KNOWN_BUGS
  /* Differential oracle: ts_json_parse never accepts what the grammar
   * refuses. (It may refuse valid text: limits, invalid UTF-8.) */
  if (rc == 0 && !ref_valid(src, len, depth)) {
    fprintf(stderr, "ts_json_parse accepted invalid JSON: %.*s\n", (int)(len > 200 ? 200 : len), src);
    FUZZ_CHECK(!"ts_json_parse accepted invalid JSON");
  }
#endif
  if (rc) {
    FUZZ_CHECK(rc < 0 && err.msg[0] != 0);
    free(toks);
    return 0;
  }
  FUZZ_CHECK(doc.ntok >= 1 && doc.ntok <= max_tokens);
  /* json.h: "a bare number or literal as the whole document is refused". A
   * bare string is a valid document (RFC 8259) and passes. FUZZ_LAX_KNOWN_BUGS
   * turns the check off for long runs while a known bug is open. */
#ifndef FUZZ_LAX_KNOWN_BUGS
  FUZZ_CHECK(toks[0].type == TS_JSON_OBJECT || toks[0].type == TS_JSON_ARRAY || toks[0].type == TS_JSON_STRING);
#endif
  FUZZ_CHECK(ts_json_skip(&doc, 0) == doc.ntok);
  char *scratch = malloc(len + 1);
  FUZZ_CHECK(scratch != NULL);
  for (int i = 0; i < doc.ntok; i++) {
    const ts_json_tok *t = &toks[i];
    FUZZ_CHECK(t->start >= 0 && t->start <= t->end && (size_t)t->end <= len);
    int next = ts_json_skip(&doc, i);
    FUZZ_CHECK(next > i && next <= doc.ntok);
    if (t->type == TS_JSON_OBJECT) {
      /* keys are strings, each followed by exactly one value */
      int k = i + 1;
      for (int c = 0; c < t->size; c++) {
        FUZZ_CHECK(k < doc.ntok && toks[k].type == TS_JSON_STRING && toks[k].size == 1);
        size_t kl;
        const char *ks = ts_json_raw(&doc, k, &kl);
        if (!memchr(ks, '\\', kl) && kl < 64) {
          char key[64];
          memcpy(key, ks, kl);
          key[kl] = 0;
          int v = ts_json_obj_get(&doc, i, key);
          FUZZ_CHECK(v > i && v < next);
          FUZZ_CHECK(ts_json_str_eq(&doc, k, key));
        }
        k = ts_json_skip(&doc, k);
      }
      FUZZ_CHECK(k == next);
    } else if (t->type == TS_JSON_STRING) {
      size_t n;
      int u = ts_json_unescape(&doc, i, scratch, len + 1, &n);
      if (u == 0) {
        FUZZ_CHECK(n <= (size_t)(t->end - t->start));
        roundtrip_string(scratch, n);
      } else {
        FUZZ_CHECK(u == TS_EPARSE);
      }
    } else if (t->type == TS_JSON_PRIMITIVE) {
      bool b;
      double v;
      int64_t iv;
      if (ts_json_is_null(&doc, i) || ts_json_is_bool(&doc, i, &b)) {
        FUZZ_CHECK(ts_json_number(&doc, i, &v) != 0);
      } else {
        /* base/dtoa.h: text longer than TS_PARSE_DOUBLE_MAX_LEN is refused
         * (TS_ELIMIT there, "not a number" here); anything shorter parses */
        int nr = ts_json_number(&doc, i, &v);
        if ((size_t)(t->end - t->start) > TS_PARSE_DOUBLE_MAX_LEN) continue;
        FUZZ_CHECK(nr == 0);
        roundtrip_number(v);
        if (ts_json_int(&doc, i, -1000000, 1000000, &iv) == 0) FUZZ_CHECK(iv == v);
      }
    }
  }
  free(scratch);
  free(toks);
  return 0;
}
