/* Unit tests for src/base/utf8.c: valid sequences of each length pass, and
 * every kind of invalid byte (stray continuation, overlong form, surrogate,
 * above U+10FFFF, cut-off sequence) is found at the right offset. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <string.h>

#include "base/utf8.h"

static size_t prefix(const char *s) { return ts_utf8_valid_prefix((const unsigned char *)s, strlen(s)); }

static void test_valid(void **state) {
  (void)state;
  static const char *ok[] = {"", "plain ascii", "caf\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\x98\x80",
                             "\xC2\x80", "\xDF\xBF", "\xE0\xA0\x80", "\xED\x9F\xBF", "\xEE\x80\x80",
                             "\xF0\x90\x80\x80", "\xF4\x8F\xBF\xBF", "\x7F"};
  for (size_t i = 0; i < sizeof ok / sizeof *ok; i++)
    if (prefix(ok[i]) != strlen(ok[i])) fail_msg("'%s' not valid (prefix %zu)", ok[i], prefix(ok[i]));
  assert_int_equal(ts_utf8_seq((const unsigned char *)"a", 1), 1);
  assert_int_equal(ts_utf8_seq((const unsigned char *)"\xC3\xA9", 2), 2);
  assert_int_equal(ts_utf8_seq((const unsigned char *)"\xE2\x82\xAC", 3), 3);
  assert_int_equal(ts_utf8_seq((const unsigned char *)"\xF0\x9F\x98\x80", 4), 4);
}

static void test_invalid(void **state) {
  (void)state;
  static const struct {
    const char *s;
    size_t prefix;
  } bad[] = {
      {"\x80", 0},                /* stray continuation byte */
      {"ab\xBF", 2},              {"\xC0\xAF", 0}, /* overlong '/' */
      {"\xC1\xBF", 0},            {"\xE0\x9F\xBF", 0}, /* overlong 3-byte */
      {"\xF0\x8F\xBF\xBF", 0},    /* overlong 4-byte */
      {"x\xED\xA0\x80", 1},       /* surrogate U+D800 */
      {"\xED\xBF\xBF", 0},        /* surrogate U+DFFF */
      {"\xF4\x90\x80\x80", 0},    /* U+110000 */
      {"\xF5\x80\x80\x80", 0},    {"\xFF", 0},
      {"\xE2\x82", 0},            /* cut off by the end */
      {"\xE2\x82z", 0},           /* cut off by an ASCII byte */
      {"\xC3\xA9\xC3", 2},
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    size_t p = prefix(bad[i].s);
    if (p != bad[i].prefix) fail_msg("case %zu: prefix %zu, want %zu", i, p, bad[i].prefix);
    const unsigned char *u = (const unsigned char *)bad[i].s + p;
    assert_int_equal(ts_utf8_seq(u, strlen(bad[i].s) - p), 0);
  }
  /* only n bytes are read */
  assert_int_equal(ts_utf8_seq((const unsigned char *)"\xE2\x82\xAC", 2), 0);
  assert_int_equal(ts_utf8_valid_prefix((const unsigned char *)"ab\xE2\x82\xAC", 4), 2);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_valid),
      cmocka_unit_test(test_invalid),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
