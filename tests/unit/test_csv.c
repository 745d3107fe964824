/* Unit tests for src/io/csv.c: dialect (quotes, BOM, line ends), errors with
 * line numbers, and every limit crossed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/csv.h"

/* Reads all of `text` and renders it as "a|b|c\n" per record, fields in
 * brackets when quoted ("[a]"), into out. Returns the reader's final code. */
static int render(const char *text, size_t len, const ts_csv_limits *lim, char *out, size_t cap,
                  ts_error *err) {
  ts_csv_reader *r;
  assert_int_equal(ts_csv_open(text, len, "t.csv", lim, &r, err), 0);
  size_t k = 0;
  out[0] = '\0';
  int rc;
  const ts_csv_field *f;
  size_t n;
  while ((rc = ts_csv_next(r, &f, &n, err)) == 1) {
    k += (size_t)snprintf(out + k, cap - k, "%zu:", ts_csv_line(r));
    for (size_t i = 0; i < n; i++)
      k += (size_t)snprintf(out + k, cap - k, "%s%s%.*s%s", i ? "|" : "", f[i].quoted ? "[" : "",
                            (int)f[i].len, f[i].ptr, f[i].quoted ? "]" : "");
    k += (size_t)snprintf(out + k, cap - k, "\n");
  }
  ts_csv_close(r);
  return rc;
}

static void expect(const char *text, const char *want) {
  char out[4096];
  ts_error err = {0};
  int rc = render(text, strlen(text), NULL, out, sizeof out, &err);
  if (rc != 0) fail_msg("input %s: error %d: %s", text, rc, err.msg);
  if (strcmp(out, want) != 0) fail_msg("input:\n%s\ngot:\n%s\nwant:\n%s", text, out, want);
}

static void expect_error(const char *text, int code, const char *msg) {
  char out[4096];
  ts_error err = {0};
  int rc = render(text, strlen(text), NULL, out, sizeof out, &err);
  if (rc != code) fail_msg("input %s: got %d, want %d (%s)", text, rc, code, err.msg);
  if (!strstr(err.msg, msg)) fail_msg("message \"%s\" lacks \"%s\"", err.msg, msg);
}

static void test_plain(void **state) {
  (void)state;
  expect("a,b,c\n1,2,3\n", "1:a|b|c\n2:1|2|3\n");
  expect("a,b\n1,\n,2\n", "1:a|b\n2:1|\n3:|2\n");
  expect("", "");
  expect("x", "1:x\n");
}

static void test_line_ends(void **state) {
  (void)state;
  expect("a,b\r\n1,2\r\n", "1:a|b\n2:1|2\n");  /* CRLF */
  expect("a,b\n1,2", "1:a|b\n2:1|2\n");        /* no trailing newline */
  expect("a,b\r\n1,2", "1:a|b\n2:1|2\n");      /* CRLF, no trailing newline */
  expect("a,b\r1,2\r", "1:a|b\n2:1|2\n");      /* lone CR */
  expect("a\n\nb\n", "1:a\n2:\n3:b\n");        /* blank line = one empty field */
  expect("a,b\r\n1,\r\n", "1:a|b\n2:1|\n");    /* empty last field before CRLF */
}

static void test_bom(void **state) {
  (void)state;
  expect("\xEF\xBB\xBF" "a,b\n1,2\n", "1:a|b\n2:1|2\n");
  expect("\xEF\xBB\xBF", "");
  /* a BOM elsewhere is data */
  expect("a\n\xEF\xBB\xBF" "b\n", "1:a\n2:\xEF\xBB\xBF" "b\n");
}

static void test_quoted(void **state) {
  (void)state;
  expect("\"a,b\",c\n", "1:[a,b]|c\n");
  expect("\"say \"\"hi\"\"\",x\n", "1:[say \"hi\"]|x\n");
  expect("\"\",x\n", "1:[]|x\n");
  expect("\"\"\"\"\n", "1:[\"]\n");
  expect("\"line1\nline2\",x\n2,3\n", "1:[line1\nline2]|x\n3:2|3\n"); /* line numbers */
  expect("\"a\r\nb\",\"c\"\r\nd,e", "1:[a\r\nb]|[c]\n3:d|e\n");
  expect("x,\"q\"", "1:x|[q]\n");
  /* several escaped fields in one record: pointers stay valid after growth */
  char big[3000];
  size_t k = 0;
  for (int i = 0; i < 40; i++) k += (size_t)snprintf(big + k, sizeof big - k, "%s\"f%d\"\"%040d\"", i ? "," : "", i, i);
  big[k++] = '\n';
  big[k] = '\0';
  ts_csv_reader *r;
  ts_error err;
  assert_int_equal(ts_csv_open(big, k, "big.csv", NULL, &r, &err), 0);
  const ts_csv_field *f;
  size_t n;
  assert_int_equal(ts_csv_next(r, &f, &n, &err), 1);
  assert_int_equal(n, 40);
  for (int i = 0; i < 40; i++) {
    char want[64];
    snprintf(want, sizeof want, "f%d\"%040d", i, i);
    assert_int_equal(f[i].len, strlen(want));
    assert_memory_equal(f[i].ptr, want, f[i].len);
  }
  assert_int_equal(ts_csv_next(r, &f, &n, &err), 0);
  ts_csv_close(r);
}

static void test_zero_copy(void **state) {
  (void)state;
  const char *text = "abc,\"de\"\n";
  ts_csv_reader *r;
  ts_error err;
  assert_int_equal(ts_csv_open(text, strlen(text), NULL, NULL, &r, &err), 0);
  assert_string_equal(ts_csv_name(r), "<input>");
  const ts_csv_field *f;
  size_t n;
  assert_int_equal(ts_csv_next(r, &f, &n, &err), 1);
  assert_ptr_equal(f[0].ptr, text);
  assert_ptr_equal(f[1].ptr, text + 5);
  ts_csv_close(r);
}

static void test_errors(void **state) {
  (void)state;
  expect_error("a,b\n\"open,x\n1,2\n", TS_EPARSE, "t.csv:2: quoted field not closed");
  expect_error("a,b\n1,\"x\"y\n", TS_EPARSE, "t.csv:2: field 2: unexpected text after a closing quote");
  expect_error("a,b\n1,2\nx\"y,3\n", TS_EPARSE, "t.csv:3: field 1: quote inside an unquoted field");
  expect_error("\"a\nb\nc", TS_EPARSE, "t.csv:1:");
}

static void test_limits(void **state) {
  (void)state;
  char out[4096];
  ts_error err = {0};
  ts_csv_limits lim = {.max_columns = 3};
  assert_int_equal(render("a,b,c\n1,2,3\n", 12, &lim, out, sizeof out, &err), 0);
  assert_int_equal(render("a,b,c\n1,2,3,4\n", 14, &lim, out, sizeof out, &err), TS_ELIMIT);
  assert_string_equal(err.msg, "t.csv:2: more than 3 fields in a record (limit)");

  ts_csv_limits lf = {.max_field_bytes = 4};
  assert_int_equal(render("abcd,\"ab\"\n", 10, &lf, out, sizeof out, &err), 0);
  assert_int_equal(render("x\nabcde\n", 8, &lf, out, sizeof out, &err), TS_ELIMIT);
  assert_string_equal(err.msg, "t.csv:2: field 1 longer than 4 bytes (limit)");
  assert_int_equal(render("\"abc\"\n", 6, &lf, out, sizeof out, &err), TS_ELIMIT); /* 5 with quotes */

  ts_csv_limits lr = {.max_record_bytes = 8};
  assert_int_equal(render("ab,cd,ef\n", 9, &lr, out, sizeof out, &err), 0);
  assert_int_equal(render("ab,cd,efg\n", 10, &lr, out, sizeof out, &err), TS_ELIMIT);
  assert_string_equal(err.msg, "t.csv:1: record longer than 8 bytes (limit)");

  /* the default field limit, crossed for real */
  size_t len = TS_CSV_MAX_FIELD_BYTES + 10;
  char *big = malloc(len);
  assert_non_null(big);
  memset(big, 'x', len);
  ts_csv_reader *r;
  assert_int_equal(ts_csv_open(big, len, "big.csv", NULL, &r, &err), 0);
  const ts_csv_field *f;
  size_t n;
  assert_int_equal(ts_csv_next(r, &f, &n, &err), TS_ELIMIT);
  ts_csv_close(r);
  /* and the default column limit */
  size_t cols = TS_CSV_MAX_COLUMNS + 1;
  char *wide = malloc(cols * 2);
  assert_non_null(wide);
  for (size_t i = 0; i < cols; i++) {
    wide[2 * i] = '1';
    wide[2 * i + 1] = i + 1 < cols ? ',' : '\n';
  }
  assert_int_equal(ts_csv_open(wide, cols * 2, "wide.csv", NULL, &r, &err), 0);
  assert_int_equal(ts_csv_next(r, &f, &n, &err), TS_ELIMIT);
  ts_csv_close(r);
  assert_int_equal(ts_csv_open(wide, cols * 2 - 3, "wide.csv", NULL, &r, &err), 0);
  assert_int_equal(ts_csv_next(r, &f, &n, &err), 1);
  assert_int_equal(n, TS_CSV_MAX_COLUMNS);
  ts_csv_close(r);
  free(wide);
  free(big);
}

/* Regression (found by tests/fuzz/fuzz_csv): a comma as the very last byte of
 * the input made the reader look at the byte after the buffer. The input is
 * an exact-size heap copy so that ASan sees any read past its end. */
static void test_trailing_comma_at_end_of_input(void **state) {
  (void)state;
  static const char *const inputs[] = {"a,", "a,b,", "\"q\",", ","};
  static const size_t want_fields[] = {2, 3, 2, 2};
  for (size_t t = 0; t < sizeof(inputs) / sizeof(inputs[0]); t++) {
    size_t len = strlen(inputs[t]);
    char *buf = malloc(len);
    assert_non_null(buf);
    memcpy(buf, inputs[t], len);
    ts_csv_reader *r;
    ts_error err = {0};
    assert_int_equal(ts_csv_open(buf, len, "t.csv", NULL, &r, &err), 0);
    const ts_csv_field *f;
    size_t n;
    assert_int_equal(ts_csv_next(r, &f, &n, &err), 1);
    assert_int_equal(n, want_fields[t]);
    assert_int_equal(f[n - 1].len, 0); /* the empty last field */
    assert_false(f[n - 1].quoted);
    assert_int_equal(ts_csv_next(r, &f, &n, &err), 0);
    ts_csv_close(r);
    free(buf);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_plain),    cmocka_unit_test(test_line_ends),
      cmocka_unit_test(test_bom),      cmocka_unit_test(test_quoted),
      cmocka_unit_test(test_zero_copy), cmocka_unit_test(test_errors),
      cmocka_unit_test(test_limits),   cmocka_unit_test(test_trailing_comma_at_end_of_input),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
