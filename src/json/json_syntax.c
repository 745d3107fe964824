/* Strict JSON syntax check: a pushdown automaton over the bytes (see
 * json_syntax.h). States say what may come next. */
#include "json/json_syntax.h"

#include <stdbool.h>
#include <string.h>

#include "base/utf8.h"
#include "treeserve/error.h"

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

enum { JV_VALUE, JV_VALUE_OR_END, JV_KEY, JV_KEY_OR_END, JV_COLON, JV_AFTER };

static bool json_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

/* Results of scan_string. */
enum { STR_OK = 0, STR_BAD = 1, STR_BAD_UTF8 = 2 };

/* Scans the string whose opening quote is at s[*i]. On STR_OK *i is past the
 * closing quote; on STR_BAD_UTF8 *i is the offset of the first byte that
 * starts no valid UTF-8 sequence. Checking UTF-8 here, in the same pass,
 * costs nothing for ASCII text (the common case: one compare per byte). */
static int scan_string(const char *s, size_t n, size_t *i, bool utf8) {
  size_t k = *i + 1; /* after the opening quote */
  while (k < n) {
    unsigned char c = (unsigned char)s[k];
    if (c == '"') {
      *i = k + 1;
      return STR_OK;
    }
    if (c < 0x20) return STR_BAD;
    if (c == '\\') {
      if (++k >= n) return STR_BAD;
      if (s[k] == 'u') {
        for (int h = 1; h <= 4; h++)
          if (k + (size_t)h >= n || hexval(s[k + (size_t)h]) < 0) return STR_BAD;
        k += 4;
      } else if (!strchr("\"\\/bfnrt", s[k]) || s[k] == '\0') {
        return STR_BAD;
      }
    } else if (c >= 0x80 && utf8) {
      size_t len = ts_utf8_seq((const unsigned char *)s + k, n - k);
      if (!len) {
        *i = k;
        return STR_BAD_UTF8;
      }
      k += len;
      continue;
    }
    k++;
  }
  return STR_BAD;
}

static bool scan_number(const char *s, size_t n, size_t *i) {
  size_t k = *i;
  if (k < n && s[k] == '-') k++;
  if (k < n && s[k] == '0') {
    k++;
  } else if (k < n && s[k] >= '1' && s[k] <= '9') {
    while (k < n && s[k] >= '0' && s[k] <= '9') k++;
  } else {
    return false;
  }
  if (k < n && s[k] == '.') {
    size_t d = ++k;
    while (k < n && s[k] >= '0' && s[k] <= '9') k++;
    if (k == d) return false;
  }
  if (k < n && (s[k] == 'e' || s[k] == 'E')) {
    k++;
    if (k < n && (s[k] == '+' || s[k] == '-')) k++;
    size_t d = k;
    while (k < n && s[k] >= '0' && s[k] <= '9') k++;
    if (k == d) return false;
  }
  *i = k;
  return true;
}

/* The automaton; `utf8` is a constant at each call below, so the compiler
 * can specialise both callers. */
static int check(const char *s, size_t n, int max_depth, size_t *off, const char **why, bool utf8) {
  char stack[TS_JSON_SYNTAX_MAX_DEPTH]; /* '{' or '[' of each open container */
  if (max_depth > TS_JSON_SYNTAX_MAX_DEPTH) max_depth = TS_JSON_SYNTAX_MAX_DEPTH;
  int depth = 0, st = JV_VALUE;
  size_t i = 0;
  for (;;) {
    while (i < n && json_ws(s[i])) i++;
    *off = i;
    if (i >= n) {
      if (st == JV_AFTER && depth == 0) return 0;
      *why = "the input ends inside a value";
      return TS_EPARSE;
    }
    char c = s[i];
    switch (st) {
    case JV_VALUE_OR_END:
      if (c == ']') {
        depth--;
        i++;
        st = JV_AFTER;
        continue;
      }
      /* fall through */
    case JV_VALUE:
      if (c == '{' || c == '[') {
        if (depth >= max_depth) {
          *why = "nested deeper than the limit";
          return TS_ELIMIT;
        }
        stack[depth++] = c;
        i++;
        st = c == '{' ? JV_KEY_OR_END : JV_VALUE_OR_END;
        continue;
      }
      if (c == '"') {
        int sr = scan_string(s, n, &i, utf8);
        if (sr) {
          if (sr == STR_BAD_UTF8) *off = i;
          *why = sr == STR_BAD_UTF8 ? "invalid UTF-8 in a string"
                                    : "bad string (unterminated, control character or bad escape)";
          return TS_EPARSE;
        }
      } else if (c == '-' || (c >= '0' && c <= '9')) {
        if (!scan_number(s, n, &i)) {
          *why = "bad number";
          return TS_EPARSE;
        }
      } else if (n - i >= 4 && (!memcmp(s + i, "true", 4) || !memcmp(s + i, "null", 4))) {
        i += 4;
      } else if (n - i >= 5 && !memcmp(s + i, "false", 5)) {
        i += 5;
      } else {
        *why = "expected a value (number, string, true, false, null, object or array)";
        return TS_EPARSE;
      }
      st = JV_AFTER;
      continue;
    case JV_KEY_OR_END:
      if (c == '}') {
        depth--;
        i++;
        st = JV_AFTER;
        continue;
      }
      /* fall through */
    case JV_KEY: {
      int sr = c == '"' ? scan_string(s, n, &i, utf8) : STR_BAD;
      if (sr == STR_BAD_UTF8) {
        *off = i;
        *why = "invalid UTF-8 in a string";
        return TS_EPARSE;
      }
      if (sr) {
        *why = "expected a string key";
        return TS_EPARSE;
      }
      st = JV_COLON;
      continue;
    }
    case JV_COLON:
      if (c != ':') {
        *why = "expected ':'";
        return TS_EPARSE;
      }
      i++;
      st = JV_VALUE;
      continue;
    default: /* JV_AFTER */
      if (depth == 0) {
        *why = "unexpected data after the JSON value";
        return TS_EPARSE;
      }
      if (c == ',') {
        i++;
        st = stack[depth - 1] == '{' ? JV_KEY : JV_VALUE;
      } else if ((c == '}' && stack[depth - 1] == '{') || (c == ']' && stack[depth - 1] == '[')) {
        depth--;
        i++;
      } else {
        *why = stack[depth - 1] == '{' ? "expected ',' or '}'" : "expected ',' or ']'";
        return TS_EPARSE;
      }
      continue;
    }
  }
}

int ts_json_syntax_check(const char *s, size_t n, int max_depth, size_t *off, const char **why) {
  return check(s, n, max_depth, off, why, false);
}

int ts_json_syntax_check_utf8(const char *s, size_t n, int max_depth, size_t *off, const char **why) {
  return check(s, n, max_depth, off, why, true);
}
