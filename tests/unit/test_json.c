/* Unit tests for src/json/json.c: tokenizing, validation, limits, values,
 * unescaping, and the bounded writer. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "json/json.h"

#define MAXT 256
static ts_json_tok toks[MAXT];

static int parse(ts_json_doc *d, const char *s, ts_error *e) {
  return ts_json_parse(d, s, strlen(s), toks, MAXT, 8, e);
}

static void test_valid_documents(void **state) {
  (void)state;
  const char *ok[] = {"{}", "[]", "[\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"]", " {\"a\": [1, -2.5e3, true, false, null, \"x\"]} \n", "\"s\"",
                      "{\"a\":{\"b\":{\"c\":[[]]}}}", "[0, -0, 0.5, 1E+2, 1e-2]"};
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
    ts_json_doc d;
    ts_error e;
    if (parse(&d, ok[i], &e)) fail_msg("rejected valid %s: %s", ok[i], e.msg);
  }
}

static void test_invalid_documents(void **state) {
  (void)state;
  const char *bad[] = {"",        "{",           "[1,",      "{\"a\"}",      "{\"a\":}",  "[tru]",
                       "[01]",    "[1.]",        "[.5]",     "[-]",          "[1e]",      "{1:2}",
                       "[1] [2]", "[1] x",       "[\"a\":1]", "{\"a\":1,}x", "[nulll]", "[\"\x01\"]",
                       "[+1]",    "{\"a\" 1 2}", "3", "null", "null\t", "1 ", "[\"\xff\"]",
                       "[\"\xc0\xaf\"]", "[\"\xed\xa0\x80\"]", "[\"\xf4\x90\x80\x80\"]", "[\"\xe2\x82\"]",
                       /* jsmn alone accepts these: the strict syntax pass must refuse them */
                       "[1,,2]", "[1 2]", "{\"a\":1,}", "[1,]", "[,1]", "{\"a\":[1]:\"b\"}", "{\"a\":1 \"b\":2}",
                       "{\"instances\":[[1,,2]]}"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    ts_json_doc d;
    ts_error e = {0};
    int rc = parse(&d, bad[i], &e);
    if (rc == 0) fail_msg("accepted invalid JSON '%s'", bad[i]);
    assert_true(rc == TS_EPARSE || rc == TS_ELIMIT);
    assert_true(strlen(e.msg) > 0);
  }
}

static void test_depth_limit(void **state) {
  (void)state;
  ts_json_doc d;
  ts_error e;
  assert_int_equal(parse(&d, "[[[[[[[[1]]]]]]]]", &e), 0); /* depth 8 = limit */
  assert_int_equal(parse(&d, "[[[[[[[[[1]]]]]]]]]", &e), TS_ELIMIT);
  assert_non_null(strstr(e.msg, "nesting"));
  /* brackets inside strings do not count */
  assert_int_equal(parse(&d, "[\"[[[[[[[[[[[[[[\"]", &e), 0);
}

static void test_deep_nesting_is_linear(void **state) {
  (void)state;
  /* 400k nested arrays: refused by the depth limit after a linear pass (a
   * quadratic tokenizer would make this test time out). */
  size_t d = 400000;
  char *s = malloc(2 * d);
  memset(s, '[', d);
  memset(s + d, ']', d);
  ts_json_tok *many = malloc((d + 1) * sizeof *many);
  ts_json_doc doc;
  ts_error e;
  assert_int_equal(ts_json_parse(&doc, s, 2 * d, many, (int)d + 1, TS_JSON_MAX_DEPTH_LIMIT, &e), TS_ELIMIT);
  assert_non_null(strstr(e.msg, "nesting"));
  assert_int_equal(ts_json_parse(&doc, s, 2 * d, many, (int)d + 1, TS_JSON_MAX_DEPTH_LIMIT + 1, &e), TS_EINVAL);
  free(many);
  free(s);
}

static void test_token_limit(void **state) {
  (void)state;
  ts_json_doc d;
  ts_error e;
  ts_json_tok small[4];
  const char *s = "[1,2,3,4,5]";
  assert_int_equal(ts_json_parse(&d, s, strlen(s), small, 4, 8, &e), TS_ELIMIT);
  assert_int_equal(ts_json_parse(&d, s, strlen(s), toks, (int)ts_json_max_tokens_for(strlen(s)), 8, &e), 0);
  assert_int_equal(d.ntok, 6);
}

static void test_object_access_and_values(void **state) {
  (void)state;
  ts_json_doc d;
  ts_error e;
  const char *s = "{\"x\":[1,{\"y\":2}],\"n\":null,\"b\":true,\"f\":0.1,\"i\":1e2,\"s\":\"a\\u00e9\\n\\ud83d\\ude00\",\"k\\\"q\":7}";
  assert_int_equal(parse(&d, s, &e), 0);
  int x = ts_json_obj_get(&d, 0, "x");
  assert_true(x > 0);
  assert_int_equal(d.toks[x].type, TS_JSON_ARRAY);
  assert_int_equal(ts_json_skip(&d, x), x + 5);
  assert_true(ts_json_is_null(&d, ts_json_obj_get(&d, 0, "n")));
  bool b = false;
  assert_true(ts_json_is_bool(&d, ts_json_obj_get(&d, 0, "b"), &b) && b);
  double v;
  assert_int_equal(ts_json_number(&d, ts_json_obj_get(&d, 0, "f"), &v), 0);
  assert_true(v == 0.1);
  int64_t iv;
  assert_int_equal(ts_json_int(&d, ts_json_obj_get(&d, 0, "i"), 0, 1000, &iv), 0);
  assert_int_equal(iv, 100);
  assert_int_equal(ts_json_int(&d, ts_json_obj_get(&d, 0, "i"), 0, 10, &iv), TS_ELIMIT);
  assert_int_equal(ts_json_int(&d, ts_json_obj_get(&d, 0, "f"), 0, 10, &iv), TS_ESHAPE);
  assert_int_equal(ts_json_number(&d, ts_json_obj_get(&d, 0, "s"), &v), TS_ESHAPE);
  char out[64];
  size_t n;
  assert_int_equal(ts_json_unescape(&d, ts_json_obj_get(&d, 0, "s"), out, sizeof out, &n), 0);
  assert_int_equal(n, 1 + 2 + 1 + 4);
  assert_memory_equal(out, "a\xc3\xa9\n\xf0\x9f\x98\x80", n);
  /* cap = token length + 1 suffices, as json.h promises (and one less does not) */
  int si = ts_json_obj_get(&d, 0, "s");
  size_t slen = (size_t)(d.toks[si].end - d.toks[si].start);
  assert_int_equal(ts_json_unescape(&d, si, out, slen + 1, &n), 0);
  assert_int_equal(ts_json_unescape(&d, si, out, n, &n), TS_ELIMIT);
  assert_int_equal(ts_json_obj_get(&d, 0, "missing"), -1);
  assert_int_equal(ts_json_obj_get(&d, x, "y"), -1); /* not an object */
  int kq = ts_json_obj_get(&d, 0, "k\"q");            /* escaped key compared unescaped */
  assert_true(kq > 0);
  assert_int_equal(ts_json_int(&d, kq, 0, 10, &iv), 0);
  assert_int_equal(iv, 7);
}

static void test_numbers_round_correctly(void **state) {
  (void)state;
  /* Values whose correct rounding needs more than a naive digit loop. */
  const char *nums[] = {"0.1", "2.2250738585072011e-308", "9007199254740993", "1.7976931348623157e308",
                        "0.30000000000000004", "123456789012345678901234567890", "5e-324", "-0.0"};
  for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
    char doc[80];
    snprintf(doc, sizeof doc, "[%s]", nums[i]);
    ts_json_doc d;
    ts_error e;
    assert_int_equal(parse(&d, doc, &e), 0);
    double v;
    assert_int_equal(ts_json_number(&d, 1, &v), 0);
    double ref = strtod(nums[i], NULL);
    assert_memory_equal(&v, &ref, sizeof v);
  }
}

static void test_bad_escapes(void **state) {
  (void)state;
  const char *bad[] = {"[\"\\x\"]", "[\"\\u12\"]", "[\"\\ud800\"]", "[\"\\udc00\"]", "[\"\\ud800\\u0041\"]"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    ts_json_doc d;
    ts_error e;
    if (parse(&d, bad[i], &e)) continue; /* the tokenizer may already refuse it */
    char out[32];
    size_t n;
    assert_int_equal(ts_json_unescape(&d, 1, out, sizeof out, &n), TS_EPARSE);
  }
}

static void test_writer(void **state) {
  (void)state;
  ts_jw w;
  ts_jw_init(&w, 1 << 20);
  ts_jw_lit(&w, "{\"a\":");
  ts_jw_double(&w, 0.1);
  ts_jw_char(&w, ',');
  ts_jw_double(&w, NAN);
  ts_jw_char(&w, ',');
  ts_jw_int(&w, INT64_MIN);
  ts_jw_char(&w, ',');
  ts_jw_cstr(&w, "q\"\\\x01z");
  ts_jw_char(&w, '}');
  assert_false(w.failed);
  const char *want = "{\"a\":0.1,null,-9223372036854775808,\"q\\\"\\\\\\u0001z\"}";
  assert_int_equal(w.len, strlen(want));
  assert_memory_equal(w.buf, want, w.len);
  /* Round trip of doubles written by the writer. */
  double vals[] = {1.0 / 3, 1e300, -2.5e-310, 123456789.125, 0.30000000000000004};
  for (size_t i = 0; i < 5; i++) {
    ts_jw_reset(&w);
    ts_jw_double(&w, vals[i]);
    ts_jw_char(&w, '\0');
    assert_true(strtod(w.buf, NULL) == vals[i]);
  }
  ts_jw_free(&w);
}

/* Strings echoed from requests may hold invalid UTF-8: the writer keeps valid
 * sequences and turns each invalid byte into U+FFFD so the answer stays JSON. */
static void test_writer_repairs_utf8(void **state) {
  (void)state;
  ts_jw w;
  ts_jw_init(&w, 1 << 16);
  const struct { const char *in, *want; } cases[] = {
      {"caf\xc3\xa9", "\"caf\xc3\xa9\""},
      {"\xe2\x82\xac\xf0\x9f\x98\x80", "\"\xe2\x82\xac\xf0\x9f\x98\x80\""},
      {"a\xff" "b", "\"a\\ufffd" "b\""},
      {"\xc3", "\"\\ufffd\""},                 /* truncated sequence at the end */
      {"\xe2\x82" "x", "\"\\ufffd\\ufffd" "x\""},   /* truncated in the middle */
      {"\xc0\xaf", "\"\\ufffd\\ufffd\""},     /* overlong */
      {"\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\""}, /* surrogate */
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    ts_jw_reset(&w);
    ts_jw_cstr(&w, cases[i].in);
    assert_false(w.failed);
    if (w.len != strlen(cases[i].want) || memcmp(w.buf, cases[i].want, w.len))
      fail_msg("case %zu: got '%.*s'", i, (int)w.len, w.buf);
  }
  ts_jw_free(&w);
}

static void test_writer_limit(void **state) {
  (void)state;
  ts_jw w;
  ts_jw_init(&w, 16);
  ts_jw_lit(&w, "0123456789");
  assert_false(w.failed);
  ts_jw_lit(&w, "0123456789");
  assert_true(w.failed);
  assert_int_equal(w.len, 10); /* nothing partial was written */
  ts_jw_lit(&w, "x");
  assert_int_equal(w.len, 10);
  ts_jw_reset(&w);
  assert_false(w.failed);
  ts_jw_free(&w);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_valid_documents),  cmocka_unit_test(test_invalid_documents),
      cmocka_unit_test(test_depth_limit),      cmocka_unit_test(test_token_limit),
      cmocka_unit_test(test_deep_nesting_is_linear),
      cmocka_unit_test(test_object_access_and_values), cmocka_unit_test(test_numbers_round_correctly),
      cmocka_unit_test(test_bad_escapes),      cmocka_unit_test(test_writer),
      cmocka_unit_test(test_writer_limit), cmocka_unit_test(test_writer_repairs_utf8),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
