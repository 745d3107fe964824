/* Unit tests for src/json/json_syntax.c: valid documents pass, every kind of
 * malformed text fails with the right offset and reason, depth limit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json/json_syntax.h"
#include "treeserve/error.h"

static void test_valid(void **state) {
  (void)state;
  static const char *ok[] = {
      "[]", "{}", " [ ] ", "\n{\r\n}\t", "0", "-0", "1.5e+10", "-12.25E-3", "\"s\"", "true",
      "false", "null", "[1,2,3]", "{\"a\":1,\"b\":[true,false,null],\"c\":{\"d\":\"e\"}}",
      "[\"esc \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u00e9 \\uD83D\\uDE00\"]", "[\"caf\xC3\xA9\"]",
      "[[[[[]]]]]", "[{}, [], \"\", 0]", "{\"\":0}",
  };
  for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
    size_t off = 99;
    const char *why = NULL;
    int rc = ts_json_syntax_check(ok[i], strlen(ok[i]), 64, &off, &why);
    if (rc != 0) fail_msg("'%s' rejected at %zu: %s", ok[i], off, why);
  }
}

typedef struct bad_case {
  const char *text;
  size_t off;
  const char *why;
} bad_case;

static void test_invalid(void **state) {
  (void)state;
  static const bad_case bad[] = {
      {"", 0, "ends inside"},
      {"   ", 3, "ends inside"},
      {"[1,,2]", 3, "expected a value"},
      {"[1,]", 3, "expected a value"},
      {"[1 2]", 3, "expected ',' or ']'"},
      {"{\"a\":1,}", 7, "expected a string key"},
      {"{\"a\":1 \"b\":2}", 7, "expected ',' or '}'"},
      {"{\"a\" 1}", 5, "expected ':'"},
      {"{\"a\":}", 5, "expected a value"},
      {"{a:1}", 1, "expected a string key"},
      {"{1:1}", 1, "expected a string key"},
      {"[1}", 2, "expected ',' or ']'"},
      {"{\"a\":1]", 6, "expected ',' or '}'"},
      {"[1]]", 3, "unexpected data after"},
      {"[] []", 3, "unexpected data after"},
      {"[NaN]", 1, "expected a value"},
      {"[Infinity]", 1, "expected a value"},
      {"[-Infinity]", 1, "bad number"},
      {"[01]", 2, "expected ',' or ']'"},
      {"[1.]", 1, "bad number"},
      {"[.5]", 1, "expected a value"},
      {"[+1]", 1, "expected a value"},
      {"[1e]", 1, "bad number"},
      {"[-]", 1, "bad number"},
      {"[tru]", 1, "expected a value"},
      {"[nul]", 1, "expected a value"},
      {"[\"a]", 1, "bad string"},
      {"[\"a\tb\"]", 1, "bad string"},
      {"[\"\\x\"]", 1, "bad string"},
      {"[\"\\u12G4\"]", 1, "bad string"},
      {"[\"\\u12\"]", 1, "bad string"},
      {"[", 1, "ends inside"},
      {"{\"a\":[1,2", 9, "ends inside"},
      {"[1,2,", 5, "ends inside"},
      /* Malformed text that src/json's reader (jsmn plus its validation pass)
       * still accepts, which is why rows.c keeps this checker: */
      {":[1]", 0, "expected a value"},
      {",[1]", 0, "expected a value"},
      {"[:1]", 1, "expected a value"},
      {"[,1]", 1, "expected a value"},
      {"{\"a\"::1}", 5, "expected a value"},
      {"[{}{}]", 3, "expected ',' or ']'"},
      {"[\"a\" \"b\"]", 5, "expected ',' or ']'"},
      {"{\"a\":[1]:\"b\":2}", 8, "expected ',' or '}'"},
      {"{\"a\",:1}", 4, "expected ':'"},
      {"{,\"a\":1}", 1, "expected a string key"},
      {"{\"a\":1,,\"b\":2}", 7, "expected a string key"},
      {"[[1],,[2]]", 5, "expected a value"},
      {"[{},]", 4, "expected a value"},
      {"{\"a\":{},}", 8, "expected a string key"},
      {"[1,\n]", 4, "expected a value"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    size_t off = 999;
    const char *why = NULL;
    int rc = ts_json_syntax_check(bad[i].text, strlen(bad[i].text), 64, &off, &why);
    if (rc != TS_EPARSE) fail_msg("'%s': got %d, want TS_EPARSE", bad[i].text, rc);
    if (off != bad[i].off) fail_msg("'%s': offset %zu, want %zu (%s)", bad[i].text, off, bad[i].off, why);
    if (!why || !strstr(why, bad[i].why)) fail_msg("'%s': reason '%s', want '%s'", bad[i].text, why, bad[i].why);
  }
  /* only n bytes are read: a valid prefix of a longer buffer */
  size_t off;
  const char *why;
  assert_int_equal(ts_json_syntax_check("[1]xyz", 3, 8, &off, &why), 0);
  assert_int_equal(ts_json_syntax_check("[1]xyz", 2, 8, &off, &why), TS_EPARSE);
}

/* The _utf8 variant also refuses invalid UTF-8 in strings (values and keys),
 * at the offset of the bad sequence; the plain check lets those bytes by. */
static void test_utf8(void **state) {
  (void)state;
  static const struct {
    const char *text;
    size_t off;
  } bad[] = {
      {"[\"\xff\"]", 2},          {"[\"ab\xc0\xaf\"]", 4},         {"[\"\xed\xa0\x80\"]", 2},
      {"[\"\xf4\x90\x80\x80\"]", 2}, {"[\"\xe2\x82\"]", 2},          {"{\"k\x80\":1}", 3},
      {"{\"a\":\"x\\n\xe9\"}", 9},  {"[\"\xe2\x82", 2},
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    size_t off = 99, n = strlen(bad[i].text);
    const char *why = NULL;
    int rc = ts_json_syntax_check_utf8(bad[i].text, n, 64, &off, &why);
    if (rc != TS_EPARSE || off != bad[i].off || strcmp(why, "invalid UTF-8 in a string") != 0)
      fail_msg("case %zu: rc %d off %zu why '%s'", i, rc, off, why ? why : "");
    /* without UTF-8 checking these are well-formed, except the unterminated one */
    rc = ts_json_syntax_check(bad[i].text, n, 64, &off, &why);
    assert_int_equal(rc, i == 7 ? TS_EPARSE : 0);
  }
  static const char *ok[] = {"[\"caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80\"]", "{\"\xC3\xA9\":\"\xF4\x8F\xBF\xBF\"}",
                             "[\"\\u00e9\"]"};
  for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
    size_t off;
    const char *why = NULL;
    int rc = ts_json_syntax_check_utf8(ok[i], strlen(ok[i]), 64, &off, &why);
    if (rc) fail_msg("'%s' rejected at %zu: %s", ok[i], off, why);
  }
}

static void check_depth(int nest, int max_depth, int want) {
  char *s = malloc((size_t)nest * 2 + 1);
  assert_non_null(s);
  for (int i = 0; i < nest; i++) {
    s[i] = '[';
    s[2 * nest - 1 - i] = ']';
  }
  size_t off = 0;
  const char *why = NULL;
  int rc = ts_json_syntax_check(s, (size_t)nest * 2, max_depth, &off, &why);
  if (rc != want) fail_msg("nest %d, max %d: got %d (%s), want %d", nest, max_depth, rc, why, want);
  int eff = max_depth < TS_JSON_SYNTAX_MAX_DEPTH ? max_depth : TS_JSON_SYNTAX_MAX_DEPTH;
  if (want == TS_ELIMIT) assert_int_equal(off, (size_t)eff); /* the first bracket too deep */
  free(s);
}

static void test_depth_limit(void **state) {
  (void)state;
  check_depth(8, 8, 0);
  check_depth(9, 8, TS_ELIMIT);
  check_depth(TS_JSON_SYNTAX_MAX_DEPTH, 1 << 30, 0); /* clamped */
  check_depth(TS_JSON_SYNTAX_MAX_DEPTH + 1, 1 << 30, TS_ELIMIT);
  check_depth(1, 0, TS_ELIMIT);
  /* objects count as levels too */
  const char *s = "{\"a\":{\"b\":{}}}";
  size_t off;
  const char *why;
  assert_int_equal(ts_json_syntax_check(s, strlen(s), 3, &off, &why), 0);
  assert_int_equal(ts_json_syntax_check(s, strlen(s), 2, &off, &why), TS_ELIMIT);
  assert_string_equal(why, "nested deeper than the limit");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_valid),
      cmocka_unit_test(test_invalid),
      cmocka_unit_test(test_depth_limit),
      cmocka_unit_test(test_utf8),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
