/*
 * Shortest round-trip double formatting and exact decimal parsing.
 *
 * Formatting: the C library's "%.16e" gives the correctly rounded 17-digit
 * decimal, which always round-trips. Shorter candidates (15 and 16 digits) are
 * derived from those 17 digits by decimal rounding, which is exact unless the
 * dropped digits are exactly a half (then the 17-digit string may itself have
 * been rounded, and we ask the C library for that precision directly). A
 * candidate is kept when parsing it gives back the same double. Why 15 is the
 * first candidate: any decimal of <= 15 significant digits survives
 * decimal -> double -> 15-digit decimal unchanged (DBL_DIG), so if some
 * <= 15-digit string round-trips, the 15-digit rounding of x is that string
 * padded with zeros, which we strip. (Subnormals, with less precision, try
 * every length from 1.)
 *
 * Parsing: Clinger's fast path (an exact integer mantissa times or divided by
 * an exact power of ten is one correctly rounded IEEE operation), else
 * strtod_l in the "C" locale, which glibc rounds correctly.
 */
#include "base/dtoa.h"

#include <float.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "treeserve/error.h"

/* The fast path is exact only when double expressions are evaluated in double
 * precision (not x87 extended precision). */
#if defined(FLT_EVAL_METHOD) && FLT_EVAL_METHOD == 0
#define TS_DTOA_FAST_PATH 1
#else
#define TS_DTOA_FAST_PATH 0
#endif

/* 10^0 .. 10^22 are exactly representable as doubles. */
static const double k_pow10[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                   1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                   1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

#define TS_TWO_POW_53 ((uint64_t)1 << 53)

/* ------------------------------------------------------------------------ */
/* Parsing                                                                   */

static pthread_once_t g_c_locale_once = PTHREAD_ONCE_INIT;
static locale_t g_c_locale; /* written once under pthread_once, then read-only */

static void make_c_locale(void) { g_c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0); }

static bool word_eq(const char *s, size_t len, const char *word) {
  size_t n = strlen(word);
  if (len != n) return false;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
    if (c != word[i]) return false;
  }
  return true;
}

static int parse_slow(const char *s, size_t len, double *out) {
  char buf[TS_PARSE_DOUBLE_MAX_LEN + 1];
  memcpy(buf, s, len);
  buf[len] = '\0';
  pthread_once(&g_c_locale_once, make_c_locale);
  if (g_c_locale == (locale_t)0) return TS_ENOMEM;
  char *end = NULL;
  double v = strtod_l(buf, &end, g_c_locale);
  /* The syntax was validated already, so strtod must consume everything. */
  if (end != buf + len) return TS_EINTERNAL;
  *out = v;
  return 0;
}

int ts_parse_double(const char *s, size_t len, double *out) {
  if (!s || len == 0) return TS_EPARSE;
  if (len > TS_PARSE_DOUBLE_MAX_LEN) return TS_ELIMIT;
  size_t i = 0;
  bool neg = false;
  if (s[0] == '+' || s[0] == '-') {
    neg = s[0] == '-';
    i = 1;
  }
  if (i < len && !(s[i] >= '0' && s[i] <= '9') && s[i] != '.') {
    const char *w = s + i;
    size_t wl = len - i;
    if (word_eq(w, wl, "nan")) {
      *out = neg ? -NAN : NAN;
      return 0;
    }
    if (word_eq(w, wl, "inf") || word_eq(w, wl, "infinity")) {
      *out = neg ? -INFINITY : INFINITY;
      return 0;
    }
    return TS_EPARSE;
  }

  uint64_t mant = 0;
  int nsig = 0;          /* significant digits kept in mant (at most 19) */
  bool dropped = false;  /* a nonzero digit did not fit in mant */
  long exp10 = 0;        /* value = mant * 10^exp10 (before the exponent part) */
  int ndigits = 0;
  for (; i < len && s[i] >= '0' && s[i] <= '9'; i++, ndigits++) {
    int d = s[i] - '0';
    if (nsig < 19) {
      if (nsig > 0 || d != 0) {
        mant = mant * 10 + (uint64_t)d;
        nsig++;
      }
    } else {
      exp10++;
      if (d) dropped = true;
    }
  }
  if (i < len && s[i] == '.') {
    i++;
    for (; i < len && s[i] >= '0' && s[i] <= '9'; i++, ndigits++) {
      int d = s[i] - '0';
      if (nsig < 19) {
        if (nsig > 0 || d != 0) {
          mant = mant * 10 + (uint64_t)d;
          nsig++;
        }
        exp10--;
      } else if (d) {
        dropped = true;
      }
    }
  }
  if (ndigits == 0) return TS_EPARSE;
  if (i < len && (s[i] == 'e' || s[i] == 'E')) {
    i++;
    bool eneg = false;
    if (i < len && (s[i] == '+' || s[i] == '-')) {
      eneg = s[i] == '-';
      i++;
    }
    if (i >= len || !(s[i] >= '0' && s[i] <= '9')) return TS_EPARSE;
    long e = 0;
    for (; i < len && s[i] >= '0' && s[i] <= '9'; i++)
      if (e < 100000) e = e * 10 + (s[i] - '0'); /* saturate: far beyond any double */
    exp10 += eneg ? -e : e;
  }
  if (i != len) return TS_EPARSE;

  if (mant == 0 && !dropped) {
    *out = neg ? -0.0 : 0.0;
    return 0;
  }
#if TS_DTOA_FAST_PATH
  if (!dropped && mant <= TS_TWO_POW_53) {
    /* Move surplus positive exponent into the mantissa while it stays exact. */
    while (exp10 > 22 && mant * 10 <= TS_TWO_POW_53) {
      mant *= 10;
      exp10--;
    }
    if (exp10 >= -22 && exp10 <= 22) {
      double v = (double)mant; /* exact: mant <= 2^53 */
      v = exp10 >= 0 ? v * k_pow10[exp10] : v / k_pow10[-exp10];
      *out = neg ? -v : v;
      return 0;
    }
  }
#endif
  return parse_slow(s, len, out);
}

/* ------------------------------------------------------------------------ */
/* Formatting                                                                */

/* Extracts the digits and decimal exponent from "%.Ne" output ("-d.ddde+XX").
 * Returns the number of digits. */
static int split_sci(const char *t, char *digits, int *exp10) {
  const char *p = t;
  int n = 0;
  if (*p == '-') p++;
  digits[n++] = *p++;
  if (*p == '.') {
    p++;
    while (*p >= '0' && *p <= '9') digits[n++] = *p++;
  }
  /* *p == 'e' */
  *exp10 = atoi(p + 1);
  return n;
}

/* Rounds the 17 digits d17 to n digits into out. Returns false when the
 * dropped digits are exactly a half, where the 17-digit rounding could hide
 * which way the true value lies. *exp10 is bumped on a carry out (999 -> 1000). */
static bool round_digits(const char *d17, int n, char *out, int *exp10) {
  memcpy(out, d17, (size_t)n);
  bool up;
  if (d17[n] > '5') {
    up = true;
  } else if (d17[n] < '5') {
    up = false;
  } else {
    up = false;
    for (int k = n + 1; k < 17; k++)
      if (d17[k] != '0') up = true;
    if (!up) return false;
  }
  if (up) {
    int k = n - 1;
    while (k >= 0 && out[k] == '9') out[k--] = '0';
    if (k >= 0) {
      out[k]++;
    } else {
      out[0] = '1'; /* all nines: 9.99..e+X becomes 1.00..e+(X+1) */
      (*exp10)++;
    }
  }
  return true;
}

/* Writes sign, digits (trailing zeros already stripped) and exponent in the
 * documented fixed/scientific layout. Returns the length. */
static size_t format_digits(bool neg, const char *dig, int nd, int x, char *o) {
  size_t n = 0;
  if (neg) o[n++] = '-';
  if (x >= -4 && x < 16) {
    if (x >= 0) {
      for (int k = 0; k <= x; k++) o[n++] = k < nd ? dig[k] : '0';
      if (nd > x + 1) {
        o[n++] = '.';
        for (int k = x + 1; k < nd; k++) o[n++] = dig[k];
      }
    } else {
      o[n++] = '0';
      o[n++] = '.';
      for (int k = 0; k < -x - 1; k++) o[n++] = '0';
      for (int k = 0; k < nd; k++) o[n++] = dig[k];
    }
  } else {
    o[n++] = dig[0];
    if (nd > 1) {
      o[n++] = '.';
      for (int k = 1; k < nd; k++) o[n++] = dig[k];
    }
    o[n++] = 'e';
    o[n++] = x < 0 ? '-' : '+';
    int ax = x < 0 ? -x : x;
    if (ax >= 100) o[n++] = (char)('0' + ax / 100);
    o[n++] = (char)('0' + ax / 10 % 10);
    o[n++] = (char)('0' + ax % 10);
  }
  o[n] = '\0';
  return n;
}

/* True when the n-digit decimal dig * 10^(x - n + 1) parses back to x_bits. */
static bool round_trips(bool neg, const char *dig, int n, int x, double v) {
  char t[48];
  size_t k = 0;
  if (neg) t[k++] = '-';
  memcpy(t + k, dig, (size_t)n);
  k += (size_t)n;
  k += (size_t)snprintf(t + k, sizeof t - k, "e%d", x - n + 1);
  double back;
  if (ts_parse_double(t, k, &back) != 0) return false;
  return memcmp(&back, &v, sizeof v) == 0;
}

static size_t dtoa_unbounded(double v, char *o) {
  if (isnan(v)) {
    memcpy(o, "nan", 4);
    return 3;
  }
  bool neg = signbit(v) != 0;
  if (isinf(v)) {
    if (neg) {
      memcpy(o, "-inf", 5);
      return 4;
    }
    memcpy(o, "inf", 4);
    return 3;
  }
  if (v == 0) {
    if (neg) {
      memcpy(o, "-0", 3);
      return 2;
    }
    memcpy(o, "0", 2);
    return 1;
  }
  double a = fabs(v);
  /* Integers below 10^15: their own digits are the shortest form. */
  if (a < 1e15 && a == (double)(int64_t)a) {
    char rev[24];
    int nr = 0;
    int64_t iv = (int64_t)a;
    while (iv > 0) {
      rev[nr++] = (char)('0' + iv % 10);
      iv /= 10;
    }
    size_t n = 0;
    if (neg) o[n++] = '-';
    while (nr > 0) o[n++] = rev[--nr];
    o[n] = '\0';
    return n;
  }

  char t[48];
  char d17[20];
  int x17;
  snprintf(t, sizeof t, "%.16e", v);
  split_sci(t, d17, &x17);

  char dig[20];
  int nd = 17, x = x17;
  /* Subnormals have fewer than 53 bits of precision, so the DBL_DIG argument
   * does not hold for them: try every length (rare, so speed does not matter). */
  int first = a < DBL_MIN ? 1 : 15;
  for (int n = first; n <= 16; n++) {
    char cand[20];
    int xc = x17;
    if (!round_digits(d17, n, cand, &xc)) {
      char t2[48];
      snprintf(t2, sizeof t2, "%.*e", n - 1, v);
      split_sci(t2, cand, &xc);
    }
    if (round_trips(neg, cand, n, xc, v)) {
      memcpy(dig, cand, (size_t)n);
      nd = n;
      x = xc;
      goto strip;
    }
  }
  memcpy(dig, d17, 17);
strip:
  while (nd > 1 && dig[nd - 1] == '0') nd--;
  return format_digits(neg, dig, nd, x, o);
}

size_t ts_dtoa(double x, char *buf, size_t cap) {
  if (!buf || cap == 0) return 0;
  if (cap >= TS_DTOA_BUFSIZE) return dtoa_unbounded(x, buf);
  char t[TS_DTOA_BUFSIZE];
  size_t n = dtoa_unbounded(x, t);
  if (n + 1 > cap) {
    buf[0] = '\0';
    return 0;
  }
  memcpy(buf, t, n + 1);
  return n;
}
