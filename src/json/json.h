/*
 * treeserve JSON: reading on top of jsmn (a tokenizer that copies nothing) and a
 * bounded writer.
 *
 * Reading: ts_json_parse() first runs the strict syntax pass of
 * json/json_syntax.h (RFC 8259 grammar and the nesting depth, before jsmn,
 * whose cost grows with depth, sees a hostile "[[[[..."), tokenizes into a
 * caller-supplied token array, then checks the tokens in one pass: strings
 * are valid UTF-8 (they are echoed in answers and messages). Nothing here
 * recurses. Tokens are slices of the input: nothing is copied until a caller
 * asks for an unescaped string or a number.
 *
 * Writing: ts_jw appends to a growable buffer with a hard maximum; once the
 * maximum would be crossed the writer records the failure and ignores further
 * output, so callers check one flag at the end instead of every call.
 * Doubles are written in the shortest form that round-trips.
 *
 * Thread-safety: a ts_json_doc or ts_jw is used by one thread at a time; the
 * functions keep no global state.
 */
#ifndef TS_JSON_H
#define TS_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "treeserve/error.h"

/* Default depth limit, and the largest one ts_json_parse accepts (its
 * validation stack lives on the C stack). */
#define TS_JSON_DEFAULT_MAX_DEPTH 32
#define TS_JSON_MAX_DEPTH_LIMIT 512

typedef enum ts_json_type {
  TS_JSON_UNDEFINED = 0,
  TS_JSON_OBJECT = 1,
  TS_JSON_ARRAY = 2,
  TS_JSON_STRING = 3,
  TS_JSON_PRIMITIVE = 4 /* number, true, false or null */
} ts_json_type;

/* One token: same layout as jsmntok_t with JSMN_PARENT_LINKS (checked in
 * json.c), so jsmn writes the array directly. start/end are byte offsets into
 * the source (for strings, without the quotes); size is the number of
 * children (object: keys; key: 1); parent is the enclosing token or -1. */
typedef struct ts_json_tok {
  ts_json_type type;
  int start;
  int end;
  int size;
  int parent;
} ts_json_tok;

/* A tokenized document. `src` and `toks` are borrowed from the caller and must
 * outlive the doc. */
typedef struct ts_json_doc {
  const char *src;
  size_t len;
  ts_json_tok *toks;
  int ntok;
} ts_json_doc;

/* Number of tokens that is always enough for a document of `len` bytes (each
 * token needs at least one byte, plus separators). */
size_t ts_json_max_tokens_for(size_t len);

/* Tokenizes src[0..len) into toks[0..max_tokens); max_depth must be in
 * 1..TS_JSON_MAX_DEPTH_LIMIT (else TS_EINVAL). Errors (err->msg names the
 * byte offset): TS_EPARSE for malformed JSON or trailing garbage (a bare
 * number or literal as the whole document is refused too), TS_ELIMIT when
 * nesting exceeds max_depth or the document needs more than max_tokens tokens. */
int ts_json_parse(ts_json_doc *doc, const char *src, size_t len, ts_json_tok *toks,
                  int max_tokens, int max_depth, ts_error *err);

/* Index of the token after the whole subtree rooted at `i`. */
int ts_json_skip(const ts_json_doc *doc, int i);

/* Finds key `key` in the object at token `obj`; returns the value's token
 * index or -1 (also -1 if `obj` is not an object). */
int ts_json_obj_get(const ts_json_doc *doc, int obj, const char *key);

/* True if token i is a string equal to the (unescaped) `s`. Strings with
 * escapes are compared after unescaping. */
bool ts_json_str_eq(const ts_json_doc *doc, int i, const char *s);

/* True if token i is the literal null / true / false. */
bool ts_json_is_null(const ts_json_doc *doc, int i);
bool ts_json_is_bool(const ts_json_doc *doc, int i, bool *value);

/* Parses token i as a JSON number (exact, correctly rounded). Returns 0 or
 * TS_ESHAPE when the token is not a number. */
int ts_json_number(const ts_json_doc *doc, int i, double *out);

/* Parses token i as an integer in [lo, hi]. TS_ESHAPE if not an integer
 * number (1.0 and 1e2 are accepted: their value is integral), TS_ELIMIT if out
 * of range. */
int ts_json_int(const ts_json_doc *doc, int i, int64_t lo, int64_t hi, int64_t *out);

/* Unescapes string token i into out[0..cap) (base/jsonstr.h) and writes the
 * length; a NUL follows the text. Returns 0, TS_ESHAPE if the token is not a
 * string, TS_EPARSE for a bad escape or invalid UTF-16 surrogate, TS_ELIMIT
 * if the text and its NUL do not fit. The unescaped form is never longer
 * than the escaped one, so cap = token length + 1 always suffices. */
int ts_json_unescape(const ts_json_doc *doc, int i, char *out, size_t cap, size_t *out_len);

/* Pointer to and length of the raw (still escaped) text of token i. */
static inline const char *ts_json_raw(const ts_json_doc *doc, int i, size_t *len) {
  *len = (size_t)(doc->toks[i].end - doc->toks[i].start);
  return doc->src + doc->toks[i].start;
}

/* ---- writer ---- */

/* A bounded writer. `buf` is owned by the writer and reused between
 * documents (ts_jw_reset keeps the allocation); free with ts_jw_free. */
typedef struct ts_jw {
  char *buf;
  size_t len;
  size_t cap;
  size_t max;     /* hard maximum of len */
  bool failed;    /* a write would have crossed max, or allocation failed */
} ts_jw;

/* Initializes an empty writer that may grow to `max` bytes. */
void ts_jw_init(ts_jw *w, size_t max);
void ts_jw_reset(ts_jw *w);
void ts_jw_free(ts_jw *w);

/* Ensures room for n more bytes; false (and w->failed) if that crosses max. */
bool ts_jw_reserve(ts_jw *w, size_t n);

void ts_jw_raw(ts_jw *w, const char *s, size_t n);
void ts_jw_lit(ts_jw *w, const char *s); /* NUL-terminated raw text */
void ts_jw_char(ts_jw *w, char c);
/* A JSON string with escapes (control characters, quote, backslash). */
void ts_jw_str(ts_jw *w, const char *s, size_t n);
void ts_jw_cstr(ts_jw *w, const char *s);
/* Shortest round-trip form; non-finite values are written as null (JSON has
 * no NaN/Infinity). */
void ts_jw_double(ts_jw *w, double v);
void ts_jw_int(ts_jw *w, int64_t v);

#endif
