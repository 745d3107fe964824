/* Unit tests for src/base/log.c: line format, escaping, truncation, levels,
 * and that concurrent lines never interleave. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "treeserve/error.h"

static void test_format_fields(void **state) {
  (void)state;
  char buf[TS_LOG_LINE_MAX];
  ts_log_field f[] = {TS_LOG_S("model", "iris"), TS_LOG_I("version", -3), TS_LOG_U("bytes", 42),
                      TS_LOG_D("seconds", 0.25), TS_LOG_B("ok", true), TS_LOG_S("none", NULL),
                      TS_LOG_D("inf", INFINITY), TS_LOG_D("t", 0.001)};
  size_t n = ts_log_format(buf, sizeof buf, "T", TS_LOG_WARN, "model loaded", f, 8);
  assert_string_equal(buf, "{\"ts\":\"T\",\"level\":\"warn\",\"msg\":\"model loaded\",\"model\":\"iris\","
                           "\"version\":-3,\"bytes\":42,\"seconds\":0.25,\"ok\":true,\"none\":null,"
                           "\"inf\":null,\"t\":0.001}\n");
  assert_int_equal(n, strlen(buf));
}

static void test_escaping(void **state) {
  (void)state;
  char buf[TS_LOG_LINE_MAX];
  /* quote, backslash, newline, tab, a control byte, DEL, valid UTF-8 (é),
   * then an invalid byte 0xff and a truncated sequence 0xc3 at the end. */
  ts_log_field f[] = {TS_LOG_S("v", "a\"b\\c\nd\te\001f\177g\xc3\xa9h\xffi\xc3")};
  ts_log_format(buf, sizeof buf, "T", TS_LOG_INFO, "m", f, 1);
  assert_string_equal(buf, "{\"ts\":\"T\",\"level\":\"info\",\"msg\":\"m\",\"v\":\"a\\\"b\\\\c\\nd\\te"
                           "\\u0001f\\u007fg\xc3\xa9h\\ufffdi\\ufffd\"}\n");
}

static void test_overlong_utf8_rejected(void **state) {
  (void)state;
  char buf[TS_LOG_LINE_MAX];
  /* 0xc0 0xaf is an overlong '/', 0xed 0xa0 0x80 a surrogate: both invalid. */
  ts_log_field f[] = {TS_LOG_S("v", "\xc0\xaf\xed\xa0\x80")};
  ts_log_format(buf, sizeof buf, "T", TS_LOG_INFO, "m", f, 1);
  assert_non_null(strstr(buf, "\"v\":\"\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\""));
}

static void test_long_value_cut(void **state) {
  (void)state;
  char buf[TS_LOG_LINE_MAX];
  char big[TS_LOG_VALUE_MAX * 2];
  memset(big, 'x', sizeof big - 1);
  big[sizeof big - 1] = 0;
  ts_log_field f[] = {TS_LOG_S("v", big), TS_LOG_I("after", 1)};
  ts_log_format(buf, sizeof buf, "T", TS_LOG_INFO, "m", f, 2);
  /* Cut at TS_LOG_VALUE_MAX input bytes with "...", later fields kept. */
  const char *v = strstr(buf, "\"v\":\"");
  assert_non_null(v);
  const char *end = strstr(v + 5, "...\"");
  assert_non_null(end);
  assert_int_equal(end - (v + 5), TS_LOG_VALUE_MAX);
  assert_non_null(strstr(buf, "\"after\":1}"));
  assert_null(strstr(buf, "truncated"));
}

static void test_line_limit(void **state) {
  (void)state;
  char buf[TS_LOG_LINE_MAX + 100];
  char big[TS_LOG_VALUE_MAX + 1];
  /* Control bytes escape to 6 bytes each: a few such values overflow the line. */
  memset(big, '\001', sizeof big - 1);
  big[sizeof big - 1] = 0;
  ts_log_field f[] = {TS_LOG_S("a", big), TS_LOG_S("b", big), TS_LOG_I("c", 7)};
  size_t n = ts_log_format(buf, sizeof buf, "T", TS_LOG_INFO, "m", f, 3);
  assert_true(n <= TS_LOG_LINE_MAX - 1);
  assert_int_equal(strlen(buf), n);
  assert_int_equal(buf[n - 1], '\n');
  assert_non_null(strstr(buf, ",\"truncated\":true}\n"));
  assert_null(strstr(buf, "\"c\":7")); /* fields after the cut are dropped */
  /* Every quote that opens a string is closed: count unescaped quotes. */
  int quotes = 0;
  for (size_t i = 0; i < n; i++)
    if (buf[i] == '"' && (i == 0 || buf[i - 1] != '\\')) quotes++;
  assert_int_equal(quotes % 2, 0);
}

static void test_small_buffer(void **state) {
  (void)state;
  char buf[200];
  char big[600];
  memset(big, 'y', sizeof big - 1);
  big[sizeof big - 1] = 0;
  size_t n = ts_log_format(buf, sizeof buf, "T", TS_LOG_INFO, big, NULL, 0);
  assert_true(n < sizeof buf);
  assert_non_null(strstr(buf, "...\",\"truncated\":true}\n"));
  char tiny[16];
  assert_int_equal(ts_log_format(tiny, sizeof tiny, "T", TS_LOG_INFO, "m", NULL, 0), 0);
  assert_string_equal(tiny, "");
}

static void test_levels(void **state) {
  (void)state;
  ts_log_level l;
  assert_int_equal(ts_log_parse_level("WARNING", &l), 0);
  assert_int_equal(l, TS_LOG_WARN);
  assert_int_equal(ts_log_parse_level("debug", &l), 0);
  assert_int_equal(l, TS_LOG_DEBUG);
  assert_int_equal(ts_log_parse_level("verbose", &l), TS_EINVAL);
  assert_string_equal(ts_log_level_name(TS_LOG_ERROR), "error");
  ts_log_set_level(TS_LOG_WARN);
  assert_false(ts_log_enabled(TS_LOG_INFO));
  assert_true(ts_log_enabled(TS_LOG_ERROR));
  ts_log_set_level(TS_LOG_OFF);
  assert_false(ts_log_enabled(TS_LOG_ERROR));
  ts_log_set_level(TS_LOG_INFO);
}

/* Reads everything written to a temp file. */
static char *slurp(FILE *f) {
  fflush(f);
  long n = ftell(f);
  char *s = malloc((size_t)n + 1);
  rewind(f);
  size_t got = fread(s, 1, (size_t)n, f);
  s[got] = 0;
  return s;
}

static void test_write_and_threshold(void **state) {
  (void)state;
  FILE *f = tmpfile();
  assert_non_null(f);
  ts_log_set_fd(fileno(f));
  ts_log_set_level(TS_LOG_INFO);
  ts_log(TS_LOG_DEBUG, "hidden", NULL, 0);
  TS_LOG(TS_LOG_INFO, "shown", TS_LOG_S("k", "v"));
  ts_log(TS_LOG_ERROR, "bad", NULL, 0);
  ts_log_set_fd(2);
  fseek(f, 0, SEEK_END);
  char *s = slurp(f);
  assert_null(strstr(s, "hidden"));
  assert_non_null(strstr(s, "\"level\":\"info\",\"msg\":\"shown\",\"k\":\"v\"}\n"));
  assert_non_null(strstr(s, "\"level\":\"error\",\"msg\":\"bad\"}\n"));
  /* ISO 8601 UTC timestamp with milliseconds. */
  assert_int_equal(strncmp(s, "{\"ts\":\"20", 9), 0);
  assert_non_null(strstr(s, "Z\",\"level\""));
  free(s);
  fclose(f);
}

#define THREADS 4
#define LINES 500

static void *writer(void *arg) {
  long id = (long)(size_t)arg;
  char pad[300];
  memset(pad, 'a' + (int)id, sizeof pad - 1);
  pad[sizeof pad - 1] = 0;
  for (int i = 0; i < LINES; i++)
    TS_LOG(TS_LOG_INFO, "line", TS_LOG_I("thread", id), TS_LOG_I("i", i), TS_LOG_S("pad", pad));
  return NULL;
}

static void test_concurrent_lines_whole(void **state) {
  (void)state;
  FILE *f = tmpfile();
  assert_non_null(f);
  ts_log_set_fd(fileno(f));
  pthread_t t[THREADS];
  for (long i = 0; i < THREADS; i++) pthread_create(&t[i], NULL, writer, (void *)(size_t)i);
  for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
  ts_log_set_fd(2);
  fseek(f, 0, SEEK_END);
  char *s = slurp(f);
  int lines = 0;
  for (char *p = s, *nl; (nl = strchr(p, '\n')); p = nl + 1) {
    *nl = 0;
    /* Each line is one whole object with one thread's padding only. */
    assert_int_equal(p[0], '{');
    assert_int_equal(nl[-1], '}');
    const char *pad = strstr(p, "\"pad\":\"");
    assert_non_null(pad);
    char c = pad[7];
    for (int k = 0; k < 299; k++) assert_int_equal(pad[7 + k], c);
    lines++;
  }
  assert_int_equal(lines, THREADS * LINES);
  free(s);
  fclose(f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_format_fields),
      cmocka_unit_test(test_escaping),
      cmocka_unit_test(test_overlong_utf8_rejected),
      cmocka_unit_test(test_long_value_cut),
      cmocka_unit_test(test_line_limit),
      cmocka_unit_test(test_small_buffer),
      cmocka_unit_test(test_levels),
      cmocka_unit_test(test_write_and_threshold),
      cmocka_unit_test(test_concurrent_lines_whole),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
