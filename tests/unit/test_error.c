/* Unit tests for src/base/error.c: codes, messages, truncation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "treeserve/error.h"

static void test_strerror_table(void **state) {
  (void)state;
  assert_string_equal(ts_strerror(0), "success");
  assert_string_equal(ts_strerror(TS_EPARSE), "parse error");
  assert_string_equal(ts_strerror(TS_ENOMEM), "out of memory");
  assert_string_equal(ts_strerror(12345), "unknown error");
}

static void test_set_formats_and_returns_code(void **state) {
  (void)state;
  ts_error e;
  assert_int_equal(ts_error_set(&e, TS_EPARSE, "%s:%d: bad", "m.txt", 7), TS_EPARSE);
  assert_int_equal(e.code, TS_EPARSE);
  assert_string_equal(e.msg, "m.txt:7: bad");
  assert_int_equal(ts_error_set(NULL, TS_EIO, "x"), TS_EIO);
  ts_error_clear(&e);
  assert_int_equal(e.code, 0);
  assert_string_equal(e.msg, "");
}

static void test_long_message_truncated(void **state) {
  (void)state;
  ts_error e;
  char big[2000];
  memset(big, 'a', sizeof big - 1);
  big[sizeof big - 1] = 0;
  ts_error_set(&e, TS_EINVAL, "%s", big);
  assert_int_equal(strlen(e.msg), TS_ERROR_MSG_MAX - 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_strerror_table),
      cmocka_unit_test(test_set_formats_and_returns_code),
      cmocka_unit_test(test_long_message_truncated),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
