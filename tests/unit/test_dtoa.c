/* Unit tests for src/base/dtoa.c: shortest round-trip formatting and exact
 * decimal parsing, checked against the C library's strtod. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <float.h>
#include <locale.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/dtoa.h"
#include "treeserve/error.h"

/* xorshift64*: deterministic, so a failure reproduces. */
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rng(void) {
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return rng_state * 0x2545F4914F6CDD1Dull;
}

static double from_bits(uint64_t b) {
  double d;
  memcpy(&d, &b, sizeof d);
  return d;
}
static uint64_t to_bits(double d) {
  uint64_t b;
  memcpy(&b, &d, sizeof b);
  return b;
}

static void check_fmt(double v, const char *want) {
  char buf[TS_DTOA_BUFSIZE];
  size_t n = ts_dtoa(v, buf, sizeof buf);
  if (strcmp(buf, want) != 0) fail_msg("ts_dtoa(%.17g) = \"%s\", want \"%s\"", v, buf, want);
  assert_int_equal(n, strlen(want));
}

/* Expected strings are Python 3 repr() (without its ".0" on integers). */
static void test_format_known(void **state) {
  (void)state;
  check_fmt(0.1, "0.1");
  check_fmt(1.0 / 3, "0.3333333333333333");
  check_fmt(1e16, "1e+16");
  check_fmt(1e15, "1000000000000000");
  check_fmt(123.0, "123");
  check_fmt(-123.0, "-123");
  check_fmt(5e-324, "5e-324");
  check_fmt(3 * 5e-324, "1.5e-323");
  check_fmt(DBL_MAX, "1.7976931348623157e+308");
  check_fmt(-DBL_MAX, "-1.7976931348623157e+308");
  check_fmt(DBL_MIN, "2.2250738585072014e-308");
  check_fmt(0.0001, "0.0001");
  check_fmt(0.00001, "1e-05");
  check_fmt(1e23, "1e+23");
  check_fmt(1e22, "1e+22");
  check_fmt(123456.789e-10, "1.23456789e-05");
  check_fmt(9007199254740993.0, "9007199254740992");
  check_fmt(0.1 + 0.2, "0.30000000000000004");
  check_fmt(ldexp(1, 60), "1.152921504606847e+18");
  check_fmt(1.5e300, "1.5e+300");
  check_fmt(1234567890123456.7, "1234567890123456.8");
  check_fmt(0.9184416332337939, "0.9184416332337939");
  check_fmt(-2.5, "-2.5");
  check_fmt(1e100, "1e+100");
  check_fmt(0.0, "0");
  check_fmt(-0.0, "-0");
  check_fmt(NAN, "nan");
  check_fmt(-NAN, "nan");
  check_fmt(INFINITY, "inf");
  check_fmt(-INFINITY, "-inf");
  check_fmt(999999999999999.9, "999999999999999.9");
  check_fmt(9.999999999999999e22, "1e+23"); /* the same double as 1e23 */
  check_fmt(9.999999999999997e22, "9.999999999999997e+22");
  /* typical prediction values (the exact integer path) */
  check_fmt(0.7310585786300049, "0.7310585786300049");
  check_fmt(-0.7310585786300049, "-0.7310585786300049");
  check_fmt(0.0029296875, "0.0029296875");
  check_fmt(1.0 / 3 * 1e-5, "3.3333333333333333e-06");
  check_fmt(123456789012345678.0, "1.2345678901234568e+17");
  check_fmt(1e17, "1e+17");
  check_fmt(ldexp(1, 70), "1.1805916207174113e+21");
  check_fmt(ldexp(1, 122), "5.316911983139664e+36");
  check_fmt(ldexp(1, -20), "9.5367431640625e-07");
  /* A power of two whose gap below is half the gap above: the correctly
   * rounded 16 digits (...901e+26) fall outside the rounding interval, the
   * other 16-digit neighbour is inside, so 16 digits suffice (Python agrees). */
  check_fmt(ldexp(1, 89), "6.189700196426902e+26");
}

static void test_format_bounded(void **state) {
  (void)state;
  char small[8];
  memset(small, 'x', sizeof small);
  assert_int_equal(ts_dtoa(-DBL_MAX, small, sizeof small), 0);
  assert_string_equal(small, "");
  assert_int_equal(ts_dtoa(0.5, small, sizeof small), 3);
  assert_string_equal(small, "0.5");
  assert_int_equal(ts_dtoa(0.5, small, 3), 0); /* "0.5" + NUL needs 4 */
  assert_int_equal(ts_dtoa(0.5, small, 4), 3);
  assert_int_equal(ts_dtoa(1.0, NULL, 10), 0);
  /* The documented worst cases fit TS_DTOA_BUFSIZE. */
  char buf[TS_DTOA_BUFSIZE];
  assert_true(ts_dtoa(-2.2250738585072014e-308, buf, sizeof buf) < TS_DTOA_BUFSIZE);
  assert_true(ts_dtoa(-1.2345678901234567e-5, buf, sizeof buf) < TS_DTOA_BUFSIZE);
}

/* Does the n-significant-digit rounding of v (C library) parse back to v? */
static int c_round_trips(double v, int n) {
  char t[64];
  snprintf(t, sizeof t, "%.*e", n - 1, v);
  return to_bits(strtod(t, NULL)) == to_bits(v);
}

static int count_sig_digits(const char *s) {
  int n = 0, started = 0;
  for (const char *p = s; *p && *p != 'e'; p++) {
    if (*p >= '1' && *p <= '9') started = 1;
    if (started && *p >= '0' && *p <= '9') n++;
  }
  /* trailing zeros of integers ("1000") are not significant */
  if (!strchr(s, '.') && !strchr(s, 'e'))
    for (const char *p = s + strlen(s) - 1; p > s && *p == '0'; p--) n--;
  return n;
}

static void check_round_trip(double v) {
  char buf[TS_DTOA_BUFSIZE];
  size_t n = ts_dtoa(v, buf, sizeof buf);
  assert_true(n > 0 && n < TS_DTOA_BUFSIZE);
  double back = strtod(buf, NULL);
  if (to_bits(back) != to_bits(v)) fail_msg("%a -> \"%s\" -> %a", v, buf, back);
  double back2 = 0;
  assert_int_equal(ts_parse_double(buf, n, &back2), 0);
  if (to_bits(back2) != to_bits(v)) fail_msg("%a -> \"%s\" -> ts_parse_double %a", v, buf, back2);
  int nd = count_sig_digits(buf);
  assert_true(nd <= 17);
  assert_true(nd >= 1 || v == 0);
  /* Shortest: one digit fewer must not round-trip. */
  if (nd > 1 && c_round_trips(v, nd - 1)) fail_msg("%a -> \"%s\" is not shortest", v, buf);
}

static void test_round_trip_random_bits(void **state) {
  (void)state;
  for (int i = 0; i < 300000; i++) {
    double v = from_bits(rng());
    if (isnan(v)) continue;
    check_round_trip(v);
  }
}

/* Splits ts_dtoa output into an integer mantissa without trailing zeros and
 * the power of ten it is scaled by (value = mant * 10^exp). */
static void decimal_of(const char *s, uint64_t *mant, int *exp) {
  uint64_t m = 0;
  int e = 0, frac = 0;
  const char *p = s;
  if (*p == '-') p++;
  for (; *p && *p != 'e'; p++) {
    if (*p == '.') {
      frac = 1;
      continue;
    }
    m = m * 10 + (uint64_t)(*p - '0');
    if (frac) e--;
  }
  if (*p == 'e') e += atoi(p + 1);
  while (m != 0 && m % 10 == 0) m /= 10, e++;
  *mant = m;
  *exp = e;
}

/* Does mant * 10^exp (with v's sign) parse back to v? */
static int decimal_round_trips(double v, uint64_t mant, int exp) {
  char t[64];
  snprintf(t, sizeof t, "%s%llue%d", signbit(v) ? "-" : "", (unsigned long long)mant, exp);
  return to_bits(strtod(t, NULL)) == to_bits(v);
}

/* The n-digit decimals nearest to v: the C library's correct rounding r and
 * r's two neighbours at that length (r is first). */
static void c_candidates(double v, int n, uint64_t cand[3], int *exp) {
  char t[64];
  snprintf(t, sizeof t, "%.*e", n - 1, fabs(v));
  uint64_t m = 0;
  const char *p = t;
  for (; *p != 'e'; p++)
    if (*p != '.') m = m * 10 + (uint64_t)(*p - '0');
  *exp = atoi(p + 1) - (n - 1);
  cand[0] = m;
  cand[1] = m + 1;
  cand[2] = m - 1;
}

/* Stronger than check_round_trip: no decimal with one digit fewer round-trips
 * (including the neighbours of the correct rounding, which matter at powers of
 * two where the rounding interval is lopsided), and at ts_dtoa's length its
 * digits are the correct rounding when that round-trips, else the neighbour
 * that does. */
static void check_against_reference(double v) {
  if (!isfinite(v) || v == 0) return; /* fixed spellings, checked in test_format_known */
  char buf[TS_DTOA_BUFSIZE];
  ts_dtoa(v, buf, sizeof buf);
  check_round_trip(v);
  uint64_t mant;
  int exp;
  decimal_of(buf, &mant, &exp);
  int nd = 0;
  for (uint64_t m = mant; m; m /= 10) nd++;
  uint64_t cand[3];
  int ce;
  if (nd > 1) {
    c_candidates(v, nd - 1, cand, &ce);
    for (int k = 0; k < 3; k++)
      if (decimal_round_trips(v, cand[k], ce))
        fail_msg("%a -> \"%s\", but %llue%d (%d digits) round-trips", v, buf,
                 (unsigned long long)cand[k], ce, nd - 1);
  }
  c_candidates(v, nd, cand, &ce);
  for (int k = 0; k < 3; k++) {
    if (!decimal_round_trips(v, cand[k], ce)) continue;
    uint64_t wm = cand[k];
    int we = ce;
    while (wm != 0 && wm % 10 == 0) wm /= 10, we++;
    if (wm != mant || we != exp)
      fail_msg("%a -> \"%s\", want %llue%d", v, buf, (unsigned long long)cand[k], ce);
    return;
  }
  fail_msg("%a -> \"%s\": no %d-digit reference candidate round-trips", v, buf, nd);
}

static double random_unit(void) { return (double)(rng() >> 11) / 9007199254740992.0; }

static void test_shortest_reference(void **state) {
  (void)state;
  for (int i = 0; i < 40000; i++) {
    check_against_reference(from_bits(rng() & ~(UINT64_C(1) << 63))); /* any exponent */
    check_against_reference(random_unit());                         /* probabilities */
    check_against_reference(-1 / (1 + exp(8 * random_unit() - 4)));  /* sigmoid outputs */
    /* every binary exponent of the exact path's range and a little beyond it */
    check_against_reference(ldexp(1 + random_unit(), (int)(rng() % 220) - 100));
    check_against_reference(ldexp(1 + random_unit(), (int)(rng() % 50) + 100));
    check_against_reference((double)(rng() % 10000000) / (double)(1 + rng() % 1000000));
  }
  /* powers of two and their neighbours across the whole range */
  for (int e = -1074; e <= 1023; e++) {
    check_against_reference(ldexp(1, e));
    check_against_reference(nextafter(ldexp(1, e), 0));
    check_against_reference(nextafter(ldexp(1, e), INFINITY));
  }
  /* around powers of ten, where the first digit's exponent changes */
  for (int k = -30; k <= 40; k++) {
    double p = pow(10, k);
    check_against_reference(p);
    check_against_reference(nextafter(p, 0));
    check_against_reference(nextafter(p, INFINITY));
    check_against_reference(nextafter(nextafter(p, 0), 0));
  }
}

static void test_round_trip_special_ranges(void **state) {
  (void)state;
  /* subnormals, powers of two (asymmetric rounding intervals), integers
   * around 2^53, values with few digits */
  for (int e = -1074; e <= 1023; e++) {
    check_round_trip(ldexp(1, e));
    check_round_trip(-ldexp(1, e));
    check_round_trip(nextafter(ldexp(1, e), 0));
    check_round_trip(nextafter(ldexp(1, e), INFINITY));
  }
  for (int i = 0; i < 100000; i++) {
    check_round_trip(from_bits(rng() & 0x000FFFFFFFFFFFFFull)); /* subnormal */
    check_round_trip((double)(int64_t)(rng() >> (rng() % 64)));
    check_round_trip((double)(rng() % 100000) / 1000.0);
    check_round_trip((double)(rng() % 1000000) * 1e-9);
  }
  check_round_trip(nextafter(DBL_MAX, 0));
  check_round_trip(DBL_TRUE_MIN);
}

static void check_parse(const char *s) {
  double got = -12345.0;
  int rc = ts_parse_double(s, strlen(s), &got);
  if (rc != 0) fail_msg("ts_parse_double(\"%s\") failed: %d", s, rc);
  double want = strtod(s, NULL);
  if (to_bits(got) != to_bits(want) && !(isnan(got) && isnan(want)))
    fail_msg("ts_parse_double(\"%s\") = %a, strtod %a", s, got, want);
}

static void test_parse_tricky(void **state) {
  (void)state;
  static const char *cases[] = {
      "0", "-0", "+0", "0.0", "-0.0", "1", "-1", "0.1", ".5", "5.", "-.5", "1E5", "1e+5",
      "2.5e-3", "00012.5000", "0.000000000000000000000000000001", "123456789012345678901234567890",
      "100000000000000000000000", "1e23", "8.988465674311579e307", "1.7976931348623157e308",
      "1.7976931348623158e308", "1.7976931348623159e308", "1e400", "-1e400", "1e-400",
      "2.2250738585072011e-308", "2.2250738585072012e-308", "4.9406564584124654e-324",
      "2.4703282292062327e-324", "2.4703282292062328e-324", "9007199254740992",
      "9007199254740993", "9007199254740994", "9007199254740995", "90071992547409930",
      "1.00000000000000011102230246251565404236316680908203125",
      "1.00000000000000011102230246251565404236316680908203124",
      "1.00000000000000011102230246251565404236316680908203126",
      "0.1000000000000000055511151231257827021181583404541015625", "1e22", "1e-22", "1e23",
      "1e-23", "123456789012345e10", "123456789012345e-22", "1234567890123456789e-3",
      "12345678901234567890e-3", "0.9184416332337939", "3.0000000000000004", "1e0",
      "1e-0", "1e+0000000000000000000000000001", "1e-99999999999999999999", "7e22", "7e23",
      "4503599627370496.5", "4503599627370497.5", "1.5e-323", "nan", "NaN", "-nan", "inf",
      "-inf", "Infinity", "-INFINITY", "+inf",
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) check_parse(cases[i]);
}

static void test_parse_random_decimals(void **state) {
  (void)state;
  char s[96];
  for (int i = 0; i < 300000; i++) {
    size_t k = 0;
    if (rng() & 1) s[k++] = '-';
    int nd = 1 + (int)(rng() % 25);
    int dot = (int)(rng() % (uint64_t)(nd + 1));
    for (int d = 0; d < nd; d++) {
      if (d == dot && (rng() & 1)) s[k++] = '.';
      s[k++] = (char)('0' + rng() % 10);
    }
    int mode = (int)(rng() % 3);
    if (mode == 1) k += (size_t)snprintf(s + k, sizeof s - k, "e%d", (int)(rng() % 50) - 25);
    if (mode == 2) k += (size_t)snprintf(s + k, sizeof s - k, "e%d", (int)(rng() % 700) - 350);
    s[k] = '\0';
    check_parse(s);
  }
}

static void test_parse_rejects_garbage(void **state) {
  (void)state;
  static const char *bad[] = {"",   "-",     "+",    ".",     "e5",   "1e",   "1e+", "1.2.3",
                              " 1", "1 ",    "0x10", "1,5",   "nanx", "in",   "--1", "1e5x",
                              "1_000", "+-1", "1e--5", "abc",  "inff", ".e1",  "-.",  "1..",
                              "1e5.5", "\t1", "1\n", "nan(1)", "0x1p3"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    double v = 42.0;
    int rc = ts_parse_double(bad[i], strlen(bad[i]), &v);
    if (rc != TS_EPARSE) fail_msg("\"%s\" gave %d, want TS_EPARSE", bad[i], rc);
    assert_true(v == 42.0); /* untouched */
  }
  /* Only `len` bytes count: the same text is valid or not depending on len. */
  double v;
  assert_int_equal(ts_parse_double("12x", 2, &v), 0);
  assert_true(v == 12.0);
  assert_int_equal(ts_parse_double("12x", 3, &v), TS_EPARSE);
  assert_int_equal(ts_parse_double(NULL, 0, &v), TS_EPARSE);
}

static void test_parse_limit(void **state) {
  (void)state;
  char s[TS_PARSE_DOUBLE_MAX_LEN + 2];
  s[0] = '0';
  s[1] = '.';
  memset(s + 2, '0', sizeof s - 2);
  s[TS_PARSE_DOUBLE_MAX_LEN - 1] = '5';
  double v;
  /* exactly at the limit: parsed (slow path, many leading zeros) */
  assert_int_equal(ts_parse_double(s, TS_PARSE_DOUBLE_MAX_LEN, &v), 0);
  char z[TS_PARSE_DOUBLE_MAX_LEN + 1];
  memcpy(z, s, TS_PARSE_DOUBLE_MAX_LEN);
  z[TS_PARSE_DOUBLE_MAX_LEN] = '\0';
  assert_true(to_bits(v) == to_bits(strtod(z, NULL)));
  /* one byte over: TS_ELIMIT */
  assert_int_equal(ts_parse_double(s, TS_PARSE_DOUBLE_MAX_LEN + 1, &v), TS_ELIMIT);
}

/* The parse must not depend on the process locale (decimal comma locales). */
static void test_parse_locale_independent(void **state) {
  (void)state;
  const char *locs[] = {"de_DE.UTF-8", "fr_FR.UTF-8", "de_DE", "C.UTF-8"};
  int changed = 0;
  for (size_t i = 0; i < sizeof locs / sizeof *locs && !changed; i++)
    changed = setlocale(LC_NUMERIC, locs[i]) != NULL;
  double v;
  assert_int_equal(ts_parse_double("0.5", 3, &v), 0);
  assert_true(v == 0.5);
  /* 25 digits: slow path through strtod_l */
  const char *s = "0.1234567890123456789012345";
  assert_int_equal(ts_parse_double(s, strlen(s), &v), 0);
  assert_true(v > 0.1234 && v < 0.1235);
  assert_int_equal(ts_parse_double("0,5", 3, &v), TS_EPARSE);
  char buf[TS_DTOA_BUFSIZE];
  ts_dtoa(0.25, buf, sizeof buf);
  assert_string_equal(buf, "0.25");
  setlocale(LC_NUMERIC, "C");
  (void)changed;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_format_known),
      cmocka_unit_test(test_format_bounded),
      cmocka_unit_test(test_round_trip_random_bits),
      cmocka_unit_test(test_round_trip_special_ranges),
      cmocka_unit_test(test_shortest_reference),
      cmocka_unit_test(test_parse_tricky),
      cmocka_unit_test(test_parse_random_decimals),
      cmocka_unit_test(test_parse_rejects_garbage),
      cmocka_unit_test(test_parse_limit),
      cmocka_unit_test(test_parse_locale_independent),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
