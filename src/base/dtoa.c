/*
 * Shortest round-trip double formatting and exact decimal parsing.
 *
 * Formatting, fast exact path (normal doubles with 1e-22 <= |x| < 2^123, which
 * covers predictions, probabilities and most raw scores): x = f * 2^e is
 * scaled by 10^q so that x * 10^q lies in [1e16, 1e17), and x together with
 * the two midpoints to its neighbouring doubles is written as an exact
 * fraction of 192-bit integers (Steele & White's / Dragon4's rounding
 * interval; the midpoints belong to the interval when f is even, because
 * round-half-even then sends them to x). Every decimal with at most 17
 * significant digits in that interval is an integer in this scale, so the
 * shortest digits are the largest power of ten t with a multiple of t in the
 * interval, and among those multiples we take the one nearest to x (ties to
 * an even digit, like printf). Everything is integer arithmetic: exact by
 * construction, no parsing back.
 *
 * Formatting, general path (tiny, huge and subnormal values): the C library's
 * "%.16e" gives the correctly rounded 17-digit decimal, which always
 * round-trips. Shorter candidates (15 and 16 digits) are derived from those 17
 * digits by decimal rounding, which is exact unless the dropped digits are
 * exactly a half (then the 17-digit string may itself have been rounded, and
 * we ask the C library for that precision directly). A candidate is kept when
 * parsing it gives back the same double. Why 15 is the first candidate: any
 * decimal of <= 15 significant digits survives decimal -> double -> 15-digit
 * decimal unchanged (DBL_DIG), so if some <= 15-digit string round-trips, the
 * 15-digit rounding of x is that string padded with zeros, which we strip.
 * (Subnormals, with less precision, try every length from 1.) At powers of
 * two the interval is lopsided (twice as wide above x), so there the next
 * decimal up is tried too when the nearest one falls out.
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

/* Adds one unit in the last of the n digits (999 -> 100 with *exp10 bumped).
 * Always succeeds; returns true so it can sit in a condition. */
static bool increment_digits(char *d, int n, int *exp10) {
  int k = n - 1;
  while (k >= 0 && d[k] == '9') d[k--] = '0';
  if (k >= 0) {
    d[k]++;
  } else {
    d[0] = '1';
    (*exp10)++;
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

/* unsigned __int128 is a GCC/Clang extension (both compilers we support have
 * it on 64-bit targets); __extension__ keeps -pedantic builds quiet. */
__extension__ typedef unsigned __int128 u128;

static const uint64_t k_pow10_u64[20] = {
    1ull,
    10ull,
    100ull,
    1000ull,
    10000ull,
    100000ull,
    1000000ull,
    10000000ull,
    100000000ull,
    1000000000ull,
    10000000000ull,
    100000000000ull,
    1000000000000ull,
    10000000000000ull,
    100000000000000ull,
    1000000000000000ull,
    10000000000000000ull,
    100000000000000000ull,
    1000000000000000000ull,
    10000000000000000000ull,
};

/* 10^k as a 128-bit integer, 0 <= k <= 38. */
static u128 pow10_u128(int k) {
  if (k < 20) return k_pow10_u64[k];
  return (u128)k_pow10_u64[19] * k_pow10_u64[k - 19];
}

/* Largest q the exact path scales by: 10^q must fit 128 bits (10^38 < 2^128),
 * and 4 * f * 10^q then fits the 192-bit numerators. */
#define TS_DTOA_EXACT_MAX_Q 38
/* Up to this q (10^q < 2^73) the numerators fit 128 bits. */
#define TS_DTOA_U128_MAX_Q 21
/* Largest binary exponent of the exact path for integers: 4 * f * 2^e + 2^(e+1)
 * < 2^128. */
#define TS_DTOA_EXACT_MAX_E 72

/* A 192-bit unsigned integer, least significant limb first. */
typedef struct u192 {
  uint64_t w[3];
} u192;

static u192 u192_of(u128 a) { return (u192){{(uint64_t)a, (uint64_t)(a >> 64), 0}}; }

/* f * p, exact. */
static u192 u192_mul(uint64_t f, u128 p) {
  u128 m0 = (u128)f * (uint64_t)p;
  u128 m1 = (u128)f * (uint64_t)(p >> 64);
  u128 mid = (m0 >> 64) + (uint64_t)m1;
  return (u192){{(uint64_t)m0, (uint64_t)mid, (uint64_t)(m1 >> 64) + (uint64_t)(mid >> 64)}};
}

static u192 u192_add(u192 a, u192 b) {
  u192 r;
  unsigned carry = 0;
  for (int i = 0; i < 3; i++) {
    uint64_t s = a.w[i] + b.w[i];
    unsigned c1 = s < a.w[i];
    r.w[i] = s + carry;
    carry = c1 | (r.w[i] < s);
  }
  return r;
}

static u192 u192_sub(u192 a, u192 b) { /* a >= b */
  u192 r;
  unsigned borrow = 0;
  for (int i = 0; i < 3; i++) {
    uint64_t d = a.w[i] - b.w[i];
    unsigned b1 = a.w[i] < b.w[i];
    r.w[i] = d - borrow;
    borrow = b1 | (d < borrow);
  }
  return r;
}

static u192 u192_shl(u192 a, int k) { /* 0 < k < 64 */
  return (u192){{a.w[0] << k, (a.w[1] << k) | (a.w[0] >> (64 - k)),
                 (a.w[2] << k) | (a.w[1] >> (64 - k))}};
}

/* The 64 bits of a starting at bit pos (0 <= pos < 192). */
static uint64_t u192_bits(u192 a, int pos) {
  int limb = pos / 64, off = pos % 64;
  uint64_t v = a.w[limb] >> off;
  if (off != 0 && limb < 2) v |= a.w[limb + 1] << (64 - off);
  return v;
}

/* True when a has a set bit below bit n (0 <= n <= 192). */
static bool u192_low_nonzero(u192 a, int n) {
  for (int i = 0; i < 3; i++) {
    int lo = i * 64;
    if (n >= lo + 64) {
      if (a.w[i]) return true;
    } else {
      if (n > lo && (a.w[i] & ((UINT64_C(1) << (n - lo)) - 1))) return true;
      break;
    }
  }
  return false;
}

/* One number of the rounding interval divided by the common denominator D:
 * the quotient (below 2^64 here) and where the remainder r lies. */
enum { REM_ZERO, REM_BELOW_HALF, REM_HALF, REM_ABOVE_HALF };
typedef struct qr {
  uint64_t q;
  int rem; /* REM_*: r == 0, 0 < r < D/2, r == D/2, r > D/2 */
} qr;

static qr divide_pow2(u192 num, int shift) { /* 1 <= shift < 128 */
  qr out;
  out.q = u192_bits(num, shift);
  bool half = (u192_bits(num, shift - 1) & 1) != 0;
  bool below = u192_low_nonzero(num, shift - 1);
  out.rem = half ? (below ? REM_ABOVE_HALF : REM_HALF) : (below ? REM_BELOW_HALF : REM_ZERO);
  return out;
}

/* Same for a 128-bit numerator (the common case, kept apart because it is
 * cheaper): 2 <= shift < 128. */
static qr divide_pow2_u128(u128 num, int shift) {
  qr out;
  out.q = (uint64_t)(num >> shift);
  u128 r = num & (((u128)1 << shift) - 1), half = (u128)1 << (shift - 1);
  out.rem = r == 0 ? REM_ZERO : r < half ? REM_BELOW_HALF : r == half ? REM_HALF : REM_ABOVE_HALF;
  return out;
}

static qr divide_u128(u128 num, u128 den) {
  qr out;
  out.q = (uint64_t)(num / den);
  u128 r = num % den, r2 = 2 * r; /* den < 2^80, so 2r cannot overflow */
  out.rem = r == 0 ? REM_ZERO : r2 < den ? REM_BELOW_HALF : r2 == den ? REM_HALF : REM_ABOVE_HALF;
  return out;
}

/* x * 10^q and its rounding interval: with x * 10^q = a / B and g = a / f,
 * the half gaps are 2g / (4B) above and 2g or g (at a power of two) / (4B)
 * below. Writes x and the midpoints divided by 4B. Returns false when q is
 * outside what 192/128-bit arithmetic covers for this exponent. */
static bool scaled_interval(uint64_t f, int e, bool asym, int q, qr *xv, qr *lo, qr *hi) {
  if (q > TS_DTOA_EXACT_MAX_Q) return false;
  if (e < 0) {
    /* B = 2^-e: the division is a shift. x < 2^53, so q > 0. */
    int shift = -e + 2;
    if (q < 0 || shift >= 128) return false;
    u128 p = pow10_u128(q);
    if (q <= TS_DTOA_U128_MAX_Q) { /* 4 * f * 10^q + 2 * 10^q < 2^128 */
      u128 v = 4 * ((u128)f * p);
      *xv = divide_pow2_u128(v, shift);
      *hi = divide_pow2_u128(v + 2 * p, shift);
      *lo = divide_pow2_u128(v - (asym ? p : 2 * p), shift);
      return true;
    }
    u192 g = u192_of(p);
    u192 v4 = u192_shl(u192_mul(f, p), 2);
    u192 g2 = u192_shl(g, 1);
    *xv = divide_pow2(v4, shift);
    *hi = divide_pow2(u192_add(v4, g2), shift);
    *lo = divide_pow2(u192_sub(v4, asym ? g : g2), shift);
    return true;
  }
  if (e > TS_DTOA_EXACT_MAX_E) return false;
  u128 g = (u128)1 << e, den;
  if (q >= 0) {
    /* x < 1e17 here, so e is tiny and q <= 1: no overflow */
    if (e > 8 || q > 1) return false;
    g *= pow10_u128(q);
    den = 4;
  } else {
    den = 4 * pow10_u128(-q);
  }
  u128 v4 = 4 * ((u128)f * g);
  *xv = divide_u128(v4, den);
  *hi = divide_u128(v4 + 2 * g, den);
  *lo = divide_u128(v4 - (asym ? g : 2 * g), den);
  return true;
}

/* Exact shortest digits for normal doubles in the documented range. On
 * success writes the significant digits (no trailing zeros) to dig, their
 * count to *nd and the decimal exponent of the first digit to *x10. Returns
 * false when x is outside the range (the caller uses the general path). */
static bool shortest_exact(double v, char *dig, int *nd, int *x10) {
  uint64_t bits;
  memcpy(&bits, &v, sizeof bits);
  int be = (int)((bits >> 52) & 0x7FF);
  uint64_t frac = bits & ((UINT64_C(1) << 52) - 1);
  if (be == 0 || be == 0x7FF) return false; /* subnormal, zero, inf, nan */
  uint64_t f = frac | (UINT64_C(1) << 52);
  int e = be - 1075;
  /* At a power of two the gap below is half the gap above (except at the
   * smallest normal exponent, where the subnormals continue evenly). */
  bool asym = frac == 0 && be > 1;
  bool even = (f & 1) == 0;

  /* floor(log10(2^e2)) for |x| in [2^e2, 2^(e2+1)); the first digit's
   * exponent is that or one more. 78913 / 2^18 ~ log10(2), exact enough for
   * |e2| < 1650. */
  int e2 = be - 1023;
  int X = e2 >= 0 ? (e2 * 78913) >> 18 : -((-e2 * 78913 + (1 << 18) - 1) >> 18);
  qr xv, l, h;
  for (int attempt = 0;; attempt++) {
    if (!scaled_interval(f, e, asym, 16 - X, &xv, &l, &h)) return false;
    if (xv.q < UINT64_C(10000000000000000)) return false; /* estimate too high: cannot happen */
    if (xv.q < UINT64_C(100000000000000000)) break;
    if (attempt > 0) return false;
    X++;
  }
  int q = 16 - X;
  uint64_t cmin = l.q + ((l.rem != REM_ZERO || !even) ? 1 : 0);
  uint64_t cmax = (h.rem != REM_ZERO || even) ? h.q : h.q - 1;

  /* Largest t = 10^j with a multiple of t in [cmin, cmax]. A multiple of 10t
   * is a multiple of t, so the first failure ends the search. */
  uint64_t t = 1;
  for (int j = 0; j < 17; j++) {
    uint64_t t10 = t * 10;
    uint64_t m = (cmin + t10 - 1) / t10 * t10;
    if (m > cmax) break;
    t = t10;
  }
  /* Nearest multiple of t to x = xv.q + xv.r / D. */
  uint64_t low = xv.q / t * t;
  uint64_t a = xv.q - low; /* x - low = a + r / D, with 0 <= a < t */
  int cmp;                 /* sign of (x - low) - t / 2 */
  if (t - 2 * a >= 2 && 2 * a <= t) {
    cmp = -1;
  } else if (2 * a > t) {
    cmp = 1;
  } else if (2 * a == t) {
    cmp = xv.rem != REM_ZERO ? 1 : 0;
  } else { /* t - 2a == 1, so t == 1 and a == 0: compare r / D with 1/2 */
    cmp = xv.rem == REM_HALF ? 0 : xv.rem == REM_ABOVE_HALF ? 1 : -1;
  }
  uint64_t c = low;
  if (cmp > 0 || (cmp == 0 && (low / t) % 2 == 1)) c = low + t;
  if (c < cmin) c += t;
  if (c > cmax) c -= t;

  char rev[20];
  int n = 0;
  while (c > 0) {
    rev[n++] = (char)('0' + c % 10);
    c /= 10;
  }
  /* c * 10^-q: its first digit has exponent (n - 1) - q */
  *x10 = n - 1 - q;
  int k = 0;
  while (k < n - 1 && rev[k] == '0') k++; /* trailing zeros */
  int m = 0;
  for (int i = n - 1; i >= k; i--) dig[m++] = rev[i];
  *nd = m;
  return true;
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

  {
    char dig[20];
    int nd, x;
    if (shortest_exact(v, dig, &nd, &x)) return format_digits(neg, dig, nd, x, o);
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
  int fexp;
  bool asym = a >= DBL_MIN && frexp(a, &fexp) == 0.5 && a > DBL_MIN;
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
    /* At a power of two the gap below x is half the gap above, so when the
     * nearest n digits fall just below the interval the next n-digit decimal
     * up may still be inside it. */
    if (asym && increment_digits(cand, n, &xc) && round_trips(neg, cand, n, xc, v)) {
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
