/* Unit tests for src/repo/repo_config.c: model and version name rules, and
 * config.json parsing (every accepted form, every rejection with its message,
 * the size limits, and mutated inputs under ASan). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "repo/repo.h"
#include "repo/repo_internal.h"

static char tmpdir[64];

static const char *path_of(const char *name) {
  static char p[2][256];
  static int k;
  char *out = p[k++ % 2];
  snprintf(out, 256, "%s/%s", tmpdir, name);
  return out;
}

static void write_file(const char *path, const char *data, size_t len) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(data, 1, len, f), len);
  assert_int_equal(fclose(f), 0);
}

static int setup(void **state) {
  (void)state;
  snprintf(tmpdir, sizeof tmpdir, "/tmp/ts_repo_config_XXXXXX");
  assert_non_null(mkdtemp(tmpdir));
  return 0;
}

static int teardown(void **state) {
  (void)state;
  unlink(path_of("big.json"));
  unlink(path_of("ok.json"));
  rmdir(tmpdir);
  return 0;
}

static void test_names(void **state) {
  (void)state;
  const char *good[] = {"iris", "a", "my-model_2.v3", "A.b"};
  const char *bad[] = {"", ".", "..", ".hidden", "a..b", "a/b", "a b", "a\nb", "a\\b", "é", "a:b"};
  for (size_t i = 0; i < sizeof good / sizeof *good; i++)
    assert_true(ts_repo_valid_model_name(good[i], strlen(good[i])));
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
    if (ts_repo_valid_model_name(bad[i], strlen(bad[i]))) fail_msg("accepted '%s'", bad[i]);
  char longname[TS_REPO_MAX_NAME + 2];
  memset(longname, 'x', sizeof longname);
  assert_true(ts_repo_valid_model_name(longname, TS_REPO_MAX_NAME));
  assert_false(ts_repo_valid_model_name(longname, TS_REPO_MAX_NAME + 1));
  assert_false(ts_repo_valid_model_name("a\0b", 3)); /* embedded NUL */
  int64_t v;
  assert_true(ts_repo_valid_version("7", 1, &v));
  assert_int_equal(v, 7);
  assert_true(ts_repo_valid_version("999999999999999999", 18, &v));
  assert_true(v == 999999999999999999LL);
  const char *badv[] = {"", "0", "01", "-1", "1a", "1.0", "1000000000000000000", " 1"};
  for (size_t i = 0; i < sizeof badv / sizeof *badv; i++)
    if (ts_repo_valid_version(badv[i], strlen(badv[i]), &v)) fail_msg("accepted version '%s'", badv[i]);
}

/* --- config.json --- */

static int parse(const char *js, ts_repo_model_config *c, ts_error *err) {
  return ts__repo_config_parse(js, strlen(js), "m/config.json", c, err);
}

static void test_config_valid(void **state) {
  (void)state;
  ts_repo_model_config c;
  ts_error err;
  assert_int_equal(parse("{}", &c, &err), 0);
  assert_int_equal(c.default_output, TS_PREDICT_VALUE);
  assert_true(c.explain);
  assert_int_equal(c.max_rows, 0);
  assert_int_equal(parse(" {\"description\": \"Churn \\\"v2\\\"\\n\\u00e9\\ud83d\\ude00\", "
                         "\"default_output\": \"raw\", \"max_rows\": 500, \"default_version\": 3, "
                         "\"explain\": false}\n",
                         &c, &err),
                   0);
  assert_string_equal(c.description, "Churn \"v2\"\n\xc3\xa9\xf0\x9f\x98\x80");
  assert_int_equal(c.default_output, TS_PREDICT_RAW);
  assert_int_equal(c.max_rows, 500);
  assert_int_equal(c.default_version, 3);
  assert_false(c.explain);
  assert_int_equal(parse("{\"default_output\": \"leaf\"}", &c, &err), 0);
  assert_int_equal(c.default_output, TS_PREDICT_LEAF);
  assert_int_equal(parse("{\"default_output\": \"contrib\"}", &c, &err), 0);
  assert_int_equal(c.default_output, TS_PREDICT_CONTRIB);
  assert_int_equal(parse("{\"max_rows\": 100000000}", &c, &err), 0);
}

static void test_config_invalid(void **state) {
  (void)state;
  static const struct {
    const char *js, *msg;
    int code;
  } cases[] = {
      {"", "invalid JSON at byte 0", TS_EPARSE},
      {"[1]", "must hold one JSON object", TS_EPARSE},
      {"{\"max_rows\": 5", "ends inside a value", TS_EPARSE},
      {"{\"max_rows\": 5} \"x\"", "unexpected data after the JSON value", TS_EPARSE},
      {"{\"max_rows\": 5} x", "invalid JSON", TS_EPARSE},
      {"{\"max_rows\": 5,}", "invalid JSON at byte 15: expected a string key", TS_EPARSE},
      {"{,\"max_rows\": 5}", "invalid JSON at byte 1: expected a string key", TS_EPARSE},
      {"{\"max_rows\": 5,, \"explain\": true}", "invalid JSON at byte 15", TS_EPARSE},
      /* jsmn alone let these through (the first was read as max_rows 5) */
      {"{\"max_rows\": 5 : 6}", "invalid JSON at byte 15: expected ',' or '}'", TS_EPARSE},
      {"{\"max_rows\": 5 \"explain\": false}", "invalid JSON at byte 15: expected ',' or '}'", TS_EPARSE},
      {"{\"description\": \"a\" \"b\", \"max_rows\": 3}", "invalid JSON at byte 20: expected ',' or '}'", TS_EPARSE},
      {"{max_rows: 5}", "invalid JSON", TS_EPARSE},
      {"{\"max_row\": 5}", "unknown key \"max_row\"", TS_EINVAL},
      {"{\"max_rows\": 5, \"max_rows\": 6}", "\"max_rows\" appears twice", TS_EINVAL},
      {"{\"max_rows\": 0}", "\"max_rows\" must be an integer from 1 to", TS_EINVAL},
      {"{\"max_rows\": 100000001}", "\"max_rows\" must be an integer", TS_EINVAL},
      {"{\"max_rows\": 1.5}", "\"max_rows\" must be an integer", TS_EINVAL},
      {"{\"max_rows\": \"5\"}", "\"max_rows\" must be an integer", TS_EINVAL},
      {"{\"max_rows\": 007}", "invalid JSON at byte 14", TS_EPARSE}, /* leading zeros are not JSON */
      {"{\"default_version\": -1}", "\"default_version\" must be a positive integer", TS_EINVAL},
      {"{\"default_output\": \"proba\"}", "\"default_output\" must be one of", TS_EINVAL},
      {"{\"default_output\": 1}", "\"default_output\" must be one of", TS_EINVAL},
      {"{\"explain\": \"yes\"}", "\"explain\" must be true or false", TS_EINVAL},
      {"{\"explain\": tru}", "invalid JSON at byte 12: expected a value", TS_EPARSE},
      {"{\"description\": 5}", "\"description\" must be a string", TS_EINVAL},
      {"{\"description\": [\"a\"]}", "\"description\" must be a string", TS_EINVAL},
      {"{\"description\": \"\\ud800\"}", "invalid \\u escape", TS_EINVAL},
      {"{\"description\": \"\\u0000\"}", "invalid \\u escape", TS_EINVAL},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    ts_repo_model_config c;
    ts_error err = {0};
    int rc = parse(cases[i].js, &c, &err);
    if (rc != cases[i].code || !strstr(err.msg, cases[i].msg) || !strstr(err.msg, "m/config.json"))
      fail_msg("config %s: rc %d msg '%s'", cases[i].js, rc, err.msg);
  }
  /* description limit: exactly the limit passes, one byte more fails. */
  size_t n = TS_REPO_MAX_DESCRIPTION;
  char *js = malloc(n + 64);
  for (int extra = 0; extra <= 1; extra++) {
    strcpy(js, "{\"description\": \"");
    size_t k = strlen(js);
    memset(js + k, 'd', n + (size_t)extra);
    strcpy(js + k + n + (size_t)extra, "\"}");
    ts_repo_model_config c;
    ts_error err;
    int rc = parse(js, &c, &err);
    if (extra)
      assert_int_equal(rc, TS_ELIMIT);
    else
      assert_int_equal(rc, 0);
  }
  free(js);
}

/* Mutated configs (flipped, inserted, deleted bytes and truncations of valid
 * ones, fixed seed) never crash or read out of bounds (ASan) and always give
 * 0 or a TS_E* code with a message naming the file. */
static void test_config_mutations(void **state) {
  (void)state;
  static const char *seeds[] = {
      ("{\"description\": \"a \\\"b\\\" \\u00e9 \\ud83d\\ude00\", \"default_output\": \"raw\", "
       "\"max_rows\": 500, \"default_version\": 3, \"explain\": false}"),
      "{\"max_rows\": 1}", "{}", "{\"explain\": true, \"description\": \"\"}"};
  const char alphabet[] = "{}[]\",:\\u0123456789-.etfn ";
  unsigned seed = 12345;
  char buf[512];
  for (int it = 0; it < 20000; it++) {
    const char *src = seeds[it % 4];
    size_t n = strlen(src);
    memcpy(buf, src, n);
    int edits = 1 + (int)((seed = seed * 1103515245u + 12345u) >> 16) % 4;
    for (int e = 0; e < edits; e++) {
      seed = seed * 1103515245u + 12345u;
      size_t pos = n ? (seed >> 8) % n : 0;
      char c = alphabet[(seed >> 20) % (sizeof alphabet - 1)];
      switch ((seed >> 28) % 4) {
      case 0: if (n) buf[pos] = c; break;
      case 1: if (n + 1 < sizeof buf) { memmove(buf + pos + 1, buf + pos, n - pos); buf[pos] = c; n++; } break;
      case 2: if (n) { memmove(buf + pos, buf + pos + 1, n - pos - 1); n--; } break;
      default: n = pos; break;
      }
    }
    /* Parse from an exact-size heap copy so ASan sees any read past the end. */
    char *exact = malloc(n ? n : 1);
    memcpy(exact, buf, n);
    ts_repo_model_config c;
    ts_error err = {0};
    int rc = ts__repo_config_parse(exact, n, "f.json", &c, &err);
    if (rc) {
      assert_true(rc == TS_EPARSE || rc == TS_EINVAL || rc == TS_ELIMIT);
      assert_non_null(strstr(err.msg, "f.json: "));
    } else {
      assert_true(c.max_rows >= 0 && c.max_rows <= TS_REPO_MAX_ROWS_LIMIT);
      assert_true(strlen(c.description) <= TS_REPO_MAX_DESCRIPTION);
    }
    free(exact);
  }
}

static void test_config_file_limit(void **state) {
  (void)state;
  size_t n = TS_REPO_MAX_CONFIG_BYTES + 1;
  char *big = malloc(n);
  memset(big, ' ', n);
  big[0] = '{';
  big[n - 1] = '}';
  write_file(path_of("big.json"), big, n);
  ts_repo_model_config c;
  ts_error err;
  assert_int_equal(ts__repo_config_load(path_of("big.json"), &c, &err), TS_ELIMIT);
  assert_non_null(strstr(err.msg, "limit"));
  write_file(path_of("ok.json"), big + 1, n - 1 - 1); /* spaces only: not an object */
  assert_int_equal(ts__repo_config_load(path_of("ok.json"), &c, &err), TS_EPARSE);
  big[n - 2] = '}';
  write_file(path_of("ok.json"), big, n - 1); /* exactly the limit: fine */
  assert_int_equal(ts__repo_config_load(path_of("ok.json"), &c, &err), 0);
  assert_int_equal(ts__repo_config_load(path_of("missing.json"), &c, &err), TS_EIO);
  free(big);
}

/* --- scanning and lookups --- */


int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_names),
      cmocka_unit_test(test_config_valid),
      cmocka_unit_test(test_config_invalid),
      cmocka_unit_test(test_config_mutations),
      cmocka_unit_test_setup_teardown(test_config_file_limit, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
