/* Unit tests for src/base/jsonstr.c, the JSON string unescaper shared by the
 * JSON reader, the row reader, config.json and pandas_categorical: the union
 * of what those four readers' own decoders were tested for (every simple
 * escape, \u in each UTF-8 length, surrogate pairs, lone and unpaired
 * surrogates, \u0000, bad hex, truncated escapes, raw control characters,
 * exact capacity). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <string.h>

#include "base/jsonstr.h"
#include "treeserve/error.h"

static void test_decodes(void **state) {
  (void)state;
  static const struct {
    const char *raw, *want;
    size_t want_len;
  } ok[] = {
      {"", "", 0},
      {"plain", "plain", 5},
      {"\\\" \\\\ \\/ \\b \\f \\n \\r \\t", "\" \\ / \b \f \n \r \t", 15},
      {"\\u0041\\u00e9\\u20AC", "A\xc3\xa9\xe2\x82\xac", 6},
      {"\\uD83D\\uDE00", "\xf0\x9f\x98\x80", 4},           /* surrogate pair -> U+1F600 */
      {"\\udbff\\udfff", "\xf4\x8f\xbf\xbf", 4},           /* highest code point */
      {"x\\u0000y", "x\0y", 3},                            /* NUL kept; length tells */
      {"caf\xc3\xa9", "caf\xc3\xa9", 5},                   /* raw UTF-8 copied */
      {"lepton\\u0020pT", "lepton pT", 9},
      {"Churn \\\"v2\\\"\\n\\u00e9\\ud83d\\ude00", "Churn \"v2\"\n\xc3\xa9\xf0\x9f\x98\x80", 17},
  };
  for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
    char out[64];
    size_t n = 99, raw = strlen(ok[i].raw);
    int rc = ts_json_unescape_raw(ok[i].raw, raw, out, sizeof out, &n);
    if (rc || n != ok[i].want_len || memcmp(out, ok[i].want, n) || out[n])
      fail_msg("case %zu '%s': rc %d len %zu", i, ok[i].raw, rc, n);
    /* cap = raw length + 1 always suffices */
    rc = ts_json_unescape_raw(ok[i].raw, raw, out, raw + 1, &n);
    if (rc) fail_msg("case %zu: cap %zu refused", i, raw + 1);
  }
}

static void test_rejects(void **state) {
  (void)state;
  static const struct {
    const char *raw;
    size_t off; /* where the problem starts */
  } bad[] = {
      {"\\q", 0},          {"ab\\", 2},            {"\\u12", 0},          {"\\u12G4", 0},
      {"x\\ud800", 1},     {"\\ud800x", 0},        {"\\ud800\\u0041", 0}, {"\\ud800\\ud800", 0},
      {"\\udc00", 0},      {"\\ud83d\\ude0", 0},   {"\\ud83d\\", 0},      {"a\x01", 1},
      {"tab\there", 3},    {"\\x41", 0},           {"ok\\u00e9\\'", 8},
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    char out[64];
    size_t n = 99;
    int rc = ts_json_unescape_raw(bad[i].raw, strlen(bad[i].raw), out, sizeof out, &n);
    if (rc != TS_EPARSE || n != bad[i].off)
      fail_msg("case %zu '%s': rc %d off %zu, want TS_EPARSE at %zu", i, bad[i].raw, rc, n, bad[i].off);
  }
}

static void test_capacity(void **state) {
  (void)state;
  char out[8];
  size_t n;
  /* the text and its NUL must fit: "abc" needs 4 bytes */
  assert_int_equal(ts_json_unescape_raw("abc", 3, out, 4, &n), 0);
  assert_int_equal(n, 3);
  assert_int_equal(ts_json_unescape_raw("abc", 3, out, 3, &n), TS_ELIMIT);
  assert_int_equal(ts_json_unescape_raw("", 0, out, 0, &n), TS_ELIMIT);
  assert_int_equal(ts_json_unescape_raw("", 0, out, 1, &n), 0);
  /* an escape decoding to 4 bytes needs 5 */
  assert_int_equal(ts_json_unescape_raw("\\ud83d\\ude00", 12, out, 5, &n), 0);
  assert_int_equal(n, 4);
  assert_int_equal(ts_json_unescape_raw("\\ud83d\\ude00", 12, out, 4, &n), TS_ELIMIT);
  assert_int_equal(ts_json_unescape_raw("\\u00e9", 6, out, 2, &n), TS_ELIMIT);
  /* only n bytes are read */
  assert_int_equal(ts_json_unescape_raw("ab\\q", 2, out, sizeof out, &n), 0);
  assert_int_equal(n, 2);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_decodes),
      cmocka_unit_test(test_rejects),
      cmocka_unit_test(test_capacity),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
