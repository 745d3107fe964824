/* Unit tests for src/io/rows.c: CSV / JSON / JSONL inputs matched to real
 * models from tests/golden (feature order, missing markers, pandas
 * categories, every error naming its place, limits). Run from the repository
 * root, or with TREESERVE_SRC pointing at it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/rows.h"
#include "treeserve/model.h"

static ts_model *g_binary, *g_pandas;

static ts_model *load(const char *rel) {
  const char *root = getenv("TREESERVE_SRC");
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", root && *root ? root : ".", rel);
  ts_model *m = NULL;
  ts_error err = {0};
  if (ts_model_load_file(path, &m, &err) != 0) fail_msg("cannot load %s: %s", path, err.msg);
  return m;
}

static int setup(void **state) {
  (void)state;
  g_binary = load("tests/golden/binary/model.txt");
  g_pandas = load("tests/golden/pandas_categorical/model.txt");
  return 0;
}

static int teardown(void **state) {
  (void)state;
  ts_model_free(g_binary);
  ts_model_free(g_pandas);
  return 0;
}

/* The 28 binary features, in reverse order, plus an extra "label" column. */
static size_t binary_header(char *buf, size_t cap) {
  size_t k = 0;
  for (int j = 27; j >= 0; j--) k += (size_t)snprintf(buf + k, cap - k, "Column_%d,", j);
  k += (size_t)snprintf(buf + k, cap - k, "label");
  return k;
}

/* A row for binary_header(): feature j gets j + 0.5, except `special`
 * feature gets `text`. */
static size_t binary_row(char *buf, size_t cap, int special, const char *text) {
  size_t k = 0;
  for (int j = 27; j >= 0; j--) {
    if (j == special)
      k += (size_t)snprintf(buf + k, cap - k, "%s,", text);
    else
      k += (size_t)snprintf(buf + k, cap - k, "%d.5,", j);
  }
  k += (size_t)snprintf(buf + k, cap - k, "1");
  return k;
}

static int parse(const ts_model *m, ts_rows_format fmt, const char *text, ts_rows *out,
                 ts_error *err) {
  return ts_rows_parse(m, fmt, text, strlen(text), "t.csv", NULL, out, err);
}

static void expect_err(const ts_model *m, ts_rows_format fmt, const char *text, int code,
                       const char *msg) {
  ts_rows rows;
  ts_error err = {0};
  int rc = ts_rows_parse(m, fmt, text, strlen(text), "t.csv", NULL, &rows, &err);
  if (rc != code) fail_msg("got %d (%s), want %d", rc, err.msg, code);
  if (!strstr(err.msg, msg)) fail_msg("message \"%s\" lacks \"%s\"", err.msg, msg);
  assert_null(rows.X);
  assert_int_equal(rows.nrows, 0);
}

static void test_csv_order_and_values(void **state) {
  (void)state;
  char text[8192];
  size_t k = binary_header(text, sizeof text);
  text[k++] = '\n';
  k += binary_row(text + k, sizeof text - k, 3, "\" 7.25 \"");
  text[k++] = '\n';
  k += binary_row(text + k, sizeof text - k, 0, "-1e-3");
  text[k] = '\0';
  ts_rows rows;
  ts_error err = {0};
  assert_int_equal(parse(g_binary, TS_ROWS_CSV, text, &rows, &err), 0);
  assert_int_equal(rows.nrows, 2);
  assert_int_equal(rows.ncols, 28);
  for (int j = 0; j < 28; j++) {
    double want0 = j == 3 ? 7.25 : j + 0.5, want1 = j == 0 ? -1e-3 : j + 0.5;
    assert_true(rows.X[j] == want0);
    assert_true(rows.X[28 + j] == want1);
  }
  ts_rows_free(&rows);
  assert_null(rows.X);
}

static void test_csv_missing_markers(void **state) {
  (void)state;
  const char *marks[] = {"", "nan", "NaN", "NA", "null", "None", "N/A", "\"\"", " nan "};
  for (size_t i = 0; i < sizeof marks / sizeof *marks; i++) {
    char text[8192];
    size_t k = binary_header(text, sizeof text);
    text[k++] = '\n';
    k += binary_row(text + k, sizeof text - k, 5, marks[i]);
    text[k] = '\0';
    ts_rows rows;
    ts_error err = {0};
    assert_int_equal(parse(g_binary, TS_ROWS_CSV, text, &rows, &err), 0);
    if (!isnan(rows.X[5])) fail_msg("'%s' is not missing", marks[i]);
    assert_true(rows.X[4] == 4.5);
    ts_rows_free(&rows);
  }
}

static void test_csv_dialect(void **state) {
  (void)state;
  /* BOM, CRLF, no trailing newline, blank lines, quoted header names */
  char text[8192];
  size_t k = (size_t)snprintf(text, sizeof text, "\xEF\xBB\xBF");
  k += binary_header(text + k, sizeof text - k);
  k += (size_t)snprintf(text + k, sizeof text - k, "\r\n\r\n");
  k += binary_row(text + k, sizeof text - k, 1, "\"2\"");
  k += (size_t)snprintf(text + k, sizeof text - k, "\r\n");
  k += binary_row(text + k, sizeof text - k, -1, "");
  text[k] = '\0';
  ts_rows rows;
  ts_error err = {0};
  int rc = parse(g_binary, TS_ROWS_CSV, text, &rows, &err);
  if (rc) fail_msg("%s", err.msg);
  assert_int_equal(rows.nrows, 2);
  assert_true(rows.X[1] == 2.0);
  assert_true(rows.X[28 + 27] == 27.5);
  ts_rows_free(&rows);
  /* header only: zero rows */
  k = binary_header(text, sizeof text);
  text[k] = '\0';
  assert_int_equal(parse(g_binary, TS_ROWS_CSV, text, &rows, &err), 0);
  assert_int_equal(rows.nrows, 0);
  ts_rows_free(&rows);
}

static void test_csv_errors(void **state) {
  (void)state;
  char text[8192];
  size_t k = binary_header(text, sizeof text);
  text[k++] = '\n';
  k += binary_row(text + k, sizeof text - k, -1, "");
  k += (size_t)snprintf(text + k, sizeof text - k, "\n1,2,3\n");
  expect_err(g_binary, TS_ROWS_CSV, text, TS_ESHAPE, "t.csv:3: expected 29 fields, found 3");

  k = binary_header(text, sizeof text);
  text[k++] = '\n';
  k += binary_row(text + k, sizeof text - k, 4, "abc");
  text[k] = '\0';
  expect_err(g_binary, TS_ROWS_CSV, text, TS_EPARSE,
             "t.csv:2: column 24 (feature 'Column_4'): not a number: \"abc\"");

  expect_err(g_binary, TS_ROWS_CSV, "Column_0,Column_1\n1,2\n", TS_ENOTFOUND,
             "t.csv:1: no column for feature 'Column_2' in the header (and 25 more)");
  expect_err(g_binary, TS_ROWS_CSV, "", TS_EPARSE, "t.csv:1: empty input");

  k = binary_header(text, sizeof text);
  k += (size_t)snprintf(text + k, sizeof text - k, ",Column_7\n");
  expect_err(g_binary, TS_ROWS_CSV, text, TS_ESHAPE, "columns 21 and 30 (\"Column_7\") both name feature 'Column_7'");

  k = binary_header(text, sizeof text);
  k += (size_t)snprintf(text + k, sizeof text - k, "\n\"unterminated\n");
  expect_err(g_binary, TS_ROWS_CSV, text, TS_EPARSE, "t.csv:2: quoted field not closed");
}

/* pandas categorical: labels map to codes, unseen ones and missing to NaN,
 * names with spaces match; X.csv and records.json give the same matrix. */
static void test_pandas_csv_equals_json(void **state) {
  (void)state;
  ts_rows a, b;
  ts_error err = {0};
  const char *root = getenv("TREESERVE_SRC");
  char path[1024];
  snprintf(path, sizeof path, "%s/tests/golden/pandas_categorical/X.csv", root && *root ? root : ".");
  assert_int_equal(ts_rows_read_file(g_pandas, path, NULL, &a, &err), 0);
  snprintf(path, sizeof path, "%s/tests/golden/pandas_categorical/records.json",
           root && *root ? root : ".");
  int rc = ts_rows_read_file(g_pandas, path, NULL, &b, &err);
  if (rc) fail_msg("%s", err.msg);
  assert_int_equal(a.nrows, 500);
  assert_int_equal(b.nrows, 500);
  assert_int_equal(a.ncols, 10);
  for (size_t i = 0; i < 500 * 10; i++)
    if (!(a.X[i] == b.X[i] || (isnan(a.X[i]) && isnan(b.X[i]))))
      fail_msg("cell %zu: csv %g json %g", i, a.X[i], b.X[i]);
  /* row 0: region "" -> NaN, jet1 btag "tight" -> 2, jet2 btag "none" -> 1 */
  int region = ts_model_find_feature(g_pandas, "region", 6);
  int j1 = ts_model_find_feature(g_pandas, "jet1 btag", 9);
  int j2 = ts_model_find_feature(g_pandas, "jet2 btag", 9);
  assert_true(region >= 0 && j1 >= 0 && j2 >= 0);
  assert_true(isnan(a.X[region]));
  assert_true(a.X[j1] == 2.0);
  assert_true(a.X[j2] == 1.0);
  /* row 2: jet1 btag "ultra" is unseen -> NaN */
  assert_true(isnan(a.X[2 * 10 + j1]));
  ts_rows_free(&a);
  ts_rows_free(&b);
}

static const char *k_pandas_obj =
    "{\"lepton pT\": 1, \"lepton eta\": 2, \"region\": \"central\", \"missing energy\": null, "
    "\"jet1 btag\": \"loose\", \"jet2 btag\": \"tight\", \"m_jj\": true, \"m_jjj\": false, "
    "\"m_bb\": \"3.5\", \"m_wwbb\": -4e1, \"extra\": {\"ignored\": [1, 2]}}";

static void test_jsonl(void **state) {
  (void)state;
  char text[2048];
  snprintf(text, sizeof text, "%s\r\n\n   \n%s", k_pandas_obj, k_pandas_obj);
  ts_rows rows;
  ts_error err = {0};
  int rc = parse(g_pandas, TS_ROWS_JSONL, text, &rows, &err);
  if (rc) fail_msg("%s", err.msg);
  assert_int_equal(rows.nrows, 2);
  const double want[10] = {1, 2, 0, NAN, 0, 2, 1, 0, 3.5, -40};
  for (int r = 0; r < 2; r++)
    for (int j = 0; j < 10; j++) {
      double got = rows.X[r * 10 + j];
      if (!(got == want[j] || (isnan(got) && isnan(want[j])))) fail_msg("row %d feature %d: %g", r, j, got);
    }
  ts_rows_free(&rows);
}

static void test_json_escapes(void **state) {
  (void)state;
  /* keys and labels with escapes: "lepton\u0020pT", "jet1 btag": "t\u0069ght" */
  const char *text =
      "[{\"lepton\\u0020pT\": 1, \"lepton eta\": 2, \"region\": \"forward\\u002b\", \"missing "
      "energy\": 0, \"jet1 btag\": \"t\\u0069ght\", \"jet2 btag\": null, \"m_jj\": 0, \"m_jjj\": "
      "0, \"m_bb\": 0, \"m_wwbb\": 0, \"\\ud83d\\ude00\": \"x\"}]";
  ts_rows rows;
  ts_error err = {0};
  int rc = parse(g_pandas, TS_ROWS_JSON, text, &rows, &err);
  if (rc) fail_msg("%s", err.msg);
  assert_true(rows.X[0] == 1.0);
  assert_true(rows.X[2] == 1.0); /* forward+ */
  assert_true(rows.X[4] == 2.0); /* tight */
  ts_rows_free(&rows);
}

static void test_json_errors(void **state) {
  (void)state;
  expect_err(g_pandas, TS_ROWS_JSON, "{\"a\": 1}", TS_ESHAPE, "t.csv:1: expected a JSON array");
  expect_err(g_pandas, TS_ROWS_JSON, "[\n{\"a\": x}]", TS_EPARSE, "t.csv:2: invalid JSON");
  expect_err(g_pandas, TS_ROWS_JSON, "[{\"a\": 1}", TS_EPARSE, "invalid JSON");
  expect_err(g_pandas, TS_ROWS_JSON, "", TS_EPARSE, "t.csv:1: empty input");
  expect_err(g_pandas, TS_ROWS_JSON, "[1]", TS_ESHAPE, "t.csv:1: row 1: expected an object");
  expect_err(g_pandas, TS_ROWS_JSON, "[]\n[]", TS_EPARSE, "t.csv:2: invalid JSON: unexpected data after the JSON value");
  /* malformed text jsmn alone would accept */
  expect_err(g_pandas, TS_ROWS_JSON, "[{\"a\": 1,, \"b\": 2}]", TS_EPARSE, "t.csv:1: invalid JSON: expected a string key");
  expect_err(g_pandas, TS_ROWS_JSON, "[{\"a\": 1,}]", TS_EPARSE, "invalid JSON: expected a string key");
  expect_err(g_pandas, TS_ROWS_JSON, "[{\"a\": 1}\n {\"a\": 2}]", TS_EPARSE, "t.csv:2: invalid JSON: expected ',' or ']'");
  expect_err(g_pandas, TS_ROWS_JSON, "[{\"a\" 1}]", TS_EPARSE, "invalid JSON: expected ':'");
  expect_err(g_pandas, TS_ROWS_JSON, "[{\"a\": }]", TS_EPARSE, "invalid JSON: expected a value");
  expect_err(g_pandas, TS_ROWS_JSON, "[{\"a\": NaN}]", TS_EPARSE, "invalid JSON: expected a value");
  expect_err(g_pandas, TS_ROWS_JSON, "[{\"a\": 01}]", TS_EPARSE, "invalid JSON: expected ',' or '}'");
  expect_err(g_pandas, TS_ROWS_JSON, "[{\"a\": 1.}]", TS_EPARSE, "invalid JSON: bad number");
  expect_err(g_pandas, TS_ROWS_JSON, "[{\"a\": \"x\ty\"}]", TS_EPARSE, "invalid JSON: bad string");
  expect_err(g_pandas, TS_ROWS_JSON, "[{\"a\": 1]}", TS_EPARSE, "invalid JSON: expected ',' or '}'");
  expect_err(g_pandas, TS_ROWS_JSON, "[{\"lepton pT\": 1}]", TS_ENOTFOUND,
             "row 1: no value for feature 'lepton_eta' (use null for missing)");
  char text[2048];
  snprintf(text, sizeof text, "[%s,\n%s]", k_pandas_obj, k_pandas_obj);
  char *p = strstr(strstr(text, "\"m_wwbb\": -4e1") + 1, "\"m_wwbb\": -4e1"); /* 2nd row */
  memcpy(p, "\"m_wwbb\": \"x\" ", 14);
  expect_err(g_pandas, TS_ROWS_JSON, text, TS_EPARSE,
             "t.csv:2: row 2, feature 'm_wwbb': not a number: \"x\"");
  snprintf(text, sizeof text, "[%s]", k_pandas_obj);
  p = strstr(text, "\"m_jj\": true");
  memcpy(p, "\"m_jj\": [1] ", 12);
  expect_err(g_pandas, TS_ROWS_JSON, text, TS_ESHAPE, "feature 'm_jj': expected a number, string or null, found an array");
  snprintf(text, sizeof text, "[%s]", k_pandas_obj);
  p = strstr(text, "\"m_jj\"");
  memcpy(p, "\"m_bb\"", 6);
  expect_err(g_pandas, TS_ROWS_JSON, text, TS_ESHAPE, "row 1: feature 'm_bb' given twice");
  snprintf(text, sizeof text, "[%s]", k_pandas_obj);
  p = strstr(text, "\"central\"");
  memcpy(p, "\"\\q\"", 4);
  expect_err(g_pandas, TS_ROWS_JSON, text, TS_EPARSE, "invalid JSON");
  /* JSONL: one object per line, errors name the line */
  snprintf(text, sizeof text, "%s\n[1]\n", k_pandas_obj);
  expect_err(g_pandas, TS_ROWS_JSONL, text, TS_ESHAPE, "t.csv:2: row 2: expected an object");
  snprintf(text, sizeof text, "%s\n\n%s %s\n", k_pandas_obj, k_pandas_obj, k_pandas_obj);
  expect_err(g_pandas, TS_ROWS_JSONL, text, TS_EPARSE, "t.csv:3: invalid JSON: unexpected data after the JSON value");
  expect_err(g_pandas, TS_ROWS_JSONL, "\"just a string\"\n", TS_ESHAPE, "t.csv:1: row 1: expected an object");
  expect_err(g_pandas, TS_ROWS_JSONL, "\n{\"a\":", TS_EPARSE, "t.csv:2: invalid JSON");
}

/* Nesting up to TS_ROWS_MAX_JSON_DEPTH is fine (under an ignored key), one more
 * level is TS_ELIMIT. */
static void test_json_depth_limit(void **state) {
  (void)state;
  for (int extra = 0; extra <= 1; extra++) {
    int nest = TS_ROWS_MAX_JSON_DEPTH - 2 + extra; /* the array and the row take 2 */
    char text[4096];
    size_t k = 0;
    /* a complete pandas row, plus "deep": [[[...]]] */
    k += (size_t)snprintf(text + k, sizeof text - k, "[%.*s, \"deep\": ", (int)strlen(k_pandas_obj) - 1, k_pandas_obj);
    for (int i = 0; i < nest; i++) text[k++] = '[';
    for (int i = 0; i < nest; i++) text[k++] = ']';
    k += (size_t)snprintf(text + k, sizeof text - k, "}]");
    ts_rows rows;
    ts_error err = {0};
    int rc = ts_rows_parse(g_pandas, TS_ROWS_JSON, text, k, "d.json", NULL, &rows, &err);
    if (extra == 0) {
      if (rc) fail_msg("depth %d: %s", nest + 2, err.msg);
      assert_int_equal(rows.nrows, 1);
      ts_rows_free(&rows);
    } else {
      assert_int_equal(rc, TS_ELIMIT);
      assert_non_null(strstr(err.msg, "d.json:1: invalid JSON: nested deeper than the limit"));
    }
  }
}

static void test_limits(void **state) {
  (void)state;
  char text[8192];
  size_t k = binary_header(text, sizeof text);
  for (int r = 0; r < 3; r++) {
    text[k++] = '\n';
    k += binary_row(text + k, sizeof text - k, -1, "");
  }
  text[k] = '\0';
  ts_rows rows;
  ts_error err = {0};
  ts_rows_limits lim = {.max_rows = 3};
  assert_int_equal(ts_rows_parse(g_binary, TS_ROWS_CSV, text, k, "t.csv", &lim, &rows, &err), 0);
  ts_rows_free(&rows);
  lim.max_rows = 2;
  assert_int_equal(ts_rows_parse(g_binary, TS_ROWS_CSV, text, k, "t.csv", &lim, &rows, &err),
                   TS_ELIMIT);
  assert_string_equal(err.msg, "t.csv:4: more than 2 rows (limit)");
  ts_rows_limits cells = {.max_cells = 28 * 2};
  assert_int_equal(ts_rows_parse(g_binary, TS_ROWS_CSV, text, k, "t.csv", &cells, &rows, &err),
                   TS_ELIMIT);
  ts_rows_limits bytes = {.max_input_bytes = k - 1};
  assert_int_equal(ts_rows_parse(g_binary, TS_ROWS_CSV, text, k, "t.csv", &bytes, &rows, &err),
                   TS_ELIMIT);
  /* a file above the byte limit */
  const char *root = getenv("TREESERVE_SRC");
  char path[1024];
  snprintf(path, sizeof path, "%s/tests/golden/binary/X.csv", root && *root ? root : ".");
  ts_rows_limits small = {.max_input_bytes = 1000};
  assert_int_equal(ts_rows_read_file(g_binary, path, &small, &rows, &err), TS_ELIMIT);
  assert_non_null(strstr(err.msg, "larger than the input limit of 1000 bytes"));
  assert_int_equal(ts_rows_read_file(g_binary, path, NULL, &rows, &err), 0);
  assert_int_equal(rows.nrows, 500);
  ts_rows_free(&rows);
}

static void test_paths(void **state) {
  (void)state;
  ts_rows_format f;
  ts_error err = {0};
  assert_int_equal(ts_rows_format_from_path("a/X.CSV", &f, &err), 0);
  assert_int_equal(f, TS_ROWS_CSV);
  assert_int_equal(ts_rows_format_from_path("r.json", &f, &err), 0);
  assert_int_equal(f, TS_ROWS_JSON);
  assert_int_equal(ts_rows_format_from_path("r.jsonl", &f, &err), 0);
  assert_int_equal(f, TS_ROWS_JSONL);
  assert_int_equal(ts_rows_format_from_path("r.ndjson", &f, &err), 0);
  assert_int_equal(f, TS_ROWS_JSONL);
  assert_int_equal(ts_rows_format_from_path("r.txt", &f, &err), TS_EINVAL);
  assert_non_null(strstr(err.msg, "r.txt: unknown input format"));
  ts_rows rows;
  assert_int_equal(ts_rows_read_file(g_binary, "/nonexistent/X.csv", NULL, &rows, &err), TS_EIO);
  assert_non_null(strstr(err.msg, "/nonexistent/X.csv: cannot open"));
  char dir[] = "/tmp/ts-rows-XXXXXX";
  assert_non_null(mkdtemp(dir));
  char sub[64];
  snprintf(sub, sizeof sub, "%s/d.csv", dir);
  assert_int_equal(mkdir(sub, 0700), 0);
  assert_int_equal(ts_rows_read_file(g_binary, sub, NULL, &rows, &err), TS_EIO);
  assert_non_null(strstr(err.msg, "is a directory"));
  rmdir(sub);
  rmdir(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_csv_order_and_values),
      cmocka_unit_test(test_csv_missing_markers),
      cmocka_unit_test(test_csv_dialect),
      cmocka_unit_test(test_csv_errors),
      cmocka_unit_test(test_pandas_csv_equals_json),
      cmocka_unit_test(test_jsonl),
      cmocka_unit_test(test_json_escapes),
      cmocka_unit_test(test_json_errors),
      cmocka_unit_test(test_json_depth_limit),
      cmocka_unit_test(test_limits),
      cmocka_unit_test(test_paths),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
