/*
 * Per-model config.json (strict syntax pass, then jsmn) and the name rules
 * of the repository. Every rejection names the file, the key and what was
 * expected, because an operator reads these messages in the index and logs.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define JSMN_STATIC
#define JSMN_STRICT
#include <jsmn.h>

#include "base/jsonstr.h"
#include "json/json_syntax.h"
#include "repo/repo_internal.h"

/* Tokens allowed in one config.json: the known keys need 11; the rest is room
 * for a clear "unknown key" message rather than a parser failure. */
#define CONFIG_MAX_TOKENS 256
/* Nesting accepted by the syntax pass: known keys take scalars, so anything
 * nested is refused by key anyway; this only bounds the scan. */
#define CONFIG_MAX_DEPTH 16

bool ts_repo_valid_model_name(const char *s, size_t len) {
  if (!s || len == 0 || len > TS_REPO_MAX_NAME || s[0] == '.') return false;
  for (size_t i = 0; i < len; i++) {
    char c = s[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.';
    if (!ok) return false;
    if (c == '.' && i + 1 < len && s[i + 1] == '.') return false;
  }
  return true;
}

bool ts_repo_valid_version(const char *s, size_t len, int64_t *out) {
  int64_t v = 0;
  if (!s || len == 0 || len > TS_REPO_MAX_VERSION_DIGITS || s[0] == '0') return false;
  for (size_t i = 0; i < len; i++) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0'); /* 18 digits cannot overflow int64 */
  }
  if (out) *out = v;
  return true;
}

void ts__repo_config_default(ts_repo_model_config *c) {
  memset(c, 0, sizeof *c);
  c->default_output = TS_PREDICT_VALUE;
  c->explain = true;
}

static bool tok_is(const char *js, const jsmntok_t *t, const char *s) {
  size_t n = strlen(s);
  return (size_t)(t->end - t->start) == n && !memcmp(js + t->start, s, n);
}

/* Decodes a JSON string token's escapes into out (cap bytes with the NUL).
 * Returns 0, or -1 if the text does not fit, -2 for a bad escape (a lone
 * surrogate) or an embedded NUL (the description is a C string). */
static int unescape(const char *s, size_t n, char *out, size_t cap) {
  size_t len;
  int rc = ts_json_unescape_raw(s, n, out, cap, &len);
  if (rc == TS_ELIMIT) return -1;
  if (rc || memchr(out, '\0', len)) return -2;
  return 0;
}

/* Reads an integer primitive in [lo, hi]. */
static bool tok_int(const char *js, const jsmntok_t *t, long long lo, long long hi,
                    long long *out) {
  if (t->type != JSMN_PRIMITIVE) return false;
  const char *p = js + t->start;
  size_t n = (size_t)(t->end - t->start), i = 0;
  bool neg = false;
  long long v = 0;
  if (n && p[0] == '-') neg = true, i = 1;
  if (i == n || n - i > 18) return false;
  if (p[i] == '0' && n - i > 1) return false;
  for (; i < n; i++) {
    if (p[i] < '0' || p[i] > '9') return false;
    v = v * 10 + (p[i] - '0');
  }
  if (neg) v = -v;
  if (v < lo || v > hi) return false;
  *out = v;
  return true;
}

static const struct {
  const char *name;
  ts_predict_type type;
} output_names[] = {{"predict", TS_PREDICT_VALUE},
                    {"value", TS_PREDICT_VALUE},
                    {"raw", TS_PREDICT_RAW},
                    {"leaf", TS_PREDICT_LEAF},
                    {"contrib", TS_PREDICT_CONTRIB}};

int ts__repo_config_parse(const char *js, size_t len, const char *path,
                          ts_repo_model_config *out, ts_error *err) {
  jsmn_parser p;
  jsmntok_t tok[CONFIG_MAX_TOKENS];
  ts__repo_config_default(out);
  /* The strict syntax pass every JSON reader shares: jsmn alone accepts
   * "{\"max_rows\": 5 : 6}" (read as max_rows 5), doubled commas and more. */
  size_t off;
  const char *why;
  int src = ts_json_syntax_check(js, len, CONFIG_MAX_DEPTH, &off, &why);
  if (src == TS_ELIMIT)
    return ts_error_set(err, TS_ELIMIT, "%s: JSON nested deeper than %d at byte %zu", path,
                        CONFIG_MAX_DEPTH, off);
  if (src) return ts_error_set(err, TS_EPARSE, "%s: invalid JSON at byte %zu: %s", path, off, why);
  jsmn_init(&p);
  int n = jsmn_parse(&p, js, len, tok, CONFIG_MAX_TOKENS);
  if (n == JSMN_ERROR_NOMEM)
    return ts_error_set(err, TS_ELIMIT, "%s: more than %d JSON tokens", path, CONFIG_MAX_TOKENS);
  if (n < 0) /* not expected after the syntax pass */
    return ts_error_set(err, TS_EPARSE, "%s: invalid JSON at byte %u", path, p.pos);
  if (n == 0 || tok[0].type != JSMN_OBJECT)
    return ts_error_set(err, TS_EPARSE, "%s: must hold one JSON object", path);
  unsigned seen = 0;
  int i = 1;
  for (int k = 0; k < tok[0].size; k++) {
    if (i + 1 >= n || tok[i].type != JSMN_STRING || tok[i].size != 1)
      return ts_error_set(err, TS_EPARSE, "%s: malformed object member at byte %d", path,
                          tok[i].start);
    const jsmntok_t *key = &tok[i], *val = &tok[i + 1];
    char kname[48];
    int kl = key->end - key->start;
    snprintf(kname, sizeof kname, "%.*s", kl > 40 ? 40 : kl, js + key->start);
    static const char *const keys[] = {"description", "default_output", "max_rows",
                                       "default_version", "explain"};
    int which = -1;
    for (int j = 0; j < 5; j++)
      if (tok_is(js, key, keys[j])) which = j;
    if (which < 0)
      return ts_error_set(err, TS_EINVAL,
                          "%s: unknown key \"%s\" (known: description, default_output, "
                          "max_rows, default_version, explain)",
                          path, kname);
    if (seen & (1u << which))
      return ts_error_set(err, TS_EINVAL, "%s: key \"%s\" appears twice", path, kname);
    seen |= 1u << which;
    long long v;
    switch (which) {
    case 0: { /* description */
      if (val->type != JSMN_STRING)
        return ts_error_set(err, TS_EINVAL, "%s: \"description\" must be a string", path);
      int rc = unescape(js + val->start, (size_t)(val->end - val->start), out->description,
                        sizeof out->description);
      if (rc == -1)
        return ts_error_set(err, TS_ELIMIT, "%s: \"description\" longer than %d bytes", path,
                            TS_REPO_MAX_DESCRIPTION);
      if (rc)
        return ts_error_set(err, TS_EINVAL,
                            "%s: \"description\" holds an invalid \\u escape (lone surrogate or "
                            "NUL)",
                            path);
      break;
    }
    case 1: { /* default_output */
      bool found = false;
      for (size_t j = 0; val->type == JSMN_STRING && j < sizeof output_names / sizeof output_names[0];
           j++) {
        if (tok_is(js, val, output_names[j].name)) {
          out->default_output = output_names[j].type;
          found = true;
        }
      }
      if (!found)
        return ts_error_set(err, TS_EINVAL,
                            "%s: \"default_output\" must be one of \"predict\", \"value\", "
                            "\"raw\", \"leaf\", \"contrib\"",
                            path);
      break;
    }
    case 2: /* max_rows */
      if (!tok_int(js, val, 1, TS_REPO_MAX_ROWS_LIMIT, &v))
        return ts_error_set(err, TS_EINVAL, "%s: \"max_rows\" must be an integer from 1 to %d",
                            path, TS_REPO_MAX_ROWS_LIMIT);
      out->max_rows = (long)v;
      break;
    case 3: /* default_version */
      if (!tok_int(js, val, 1, 999999999999999999LL, &v))
        return ts_error_set(err, TS_EINVAL,
                            "%s: \"default_version\" must be a positive integer (a version "
                            "folder name)",
                            path);
      out->default_version = v;
      break;
    case 4: /* explain */
      if (val->type == JSMN_PRIMITIVE && tok_is(js, val, "true"))
        out->explain = true;
      else if (val->type == JSMN_PRIMITIVE && tok_is(js, val, "false"))
        out->explain = false;
      else
        return ts_error_set(err, TS_EINVAL, "%s: \"explain\" must be true or false", path);
      break;
    }
    /* Known keys take scalar values only (checked above), so the value is
     * exactly one token. */
    i += 2;
  }
  return 0;
}

int ts__repo_config_load(const char *path, ts_repo_model_config *out, ts_error *err) {
  int rc = 0;
  char *buf = NULL;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ts_error_set(err, TS_EIO, "%s: cannot open: %s", path, strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    rc = ts_error_set(err, TS_EIO, "%s: not a regular file", path);
    goto out;
  }
  if (st.st_size > TS_REPO_MAX_CONFIG_BYTES) {
    rc = ts_error_set(err, TS_ELIMIT, "%s: %lld bytes, more than the %d-byte limit", path,
                      (long long)st.st_size, TS_REPO_MAX_CONFIG_BYTES);
    goto out;
  }
  /* Read up to one byte past the limit: the file may have grown since fstat. */
  buf = malloc(TS_REPO_MAX_CONFIG_BYTES + 1);
  if (!buf) {
    rc = ts_error_set(err, TS_ENOMEM, "%s: out of memory", path);
    goto out;
  }
  size_t len = 0;
  while (len < TS_REPO_MAX_CONFIG_BYTES + 1) {
    ssize_t k = read(fd, buf + len, TS_REPO_MAX_CONFIG_BYTES + 1 - len);
    if (k < 0 && errno == EINTR) continue;
    if (k < 0) {
      rc = ts_error_set(err, TS_EIO, "%s: read failed: %s", path, strerror(errno));
      goto out;
    }
    if (k == 0) break;
    len += (size_t)k;
  }
  if (len > TS_REPO_MAX_CONFIG_BYTES) {
    rc = ts_error_set(err, TS_ELIMIT, "%s: more than the %d-byte limit", path,
                      TS_REPO_MAX_CONFIG_BYTES);
    goto out;
  }
  rc = ts__repo_config_parse(buf, len, path, out, err);
out:
  free(buf);
  close(fd);
  return rc;
}
