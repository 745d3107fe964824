/*
 * Exact decimal -> double conversion for model files.
 *
 * Bit-exact predictions need thresholds and leaf values rounded exactly as
 * LightGBM rounds them (correct rounding). glibc's strtod is exact but slow
 * (~60 ns per number) and locale dependent, and a large model holds millions
 * of numbers, so the common case takes a fast exact path:
 *
 *   - up to 19 significant digits fit a uint64 M exactly, and 10^k for
 *     k <= 27 is exact in x87 long double (64-bit mantissa, 5^27 < 2^64), so
 *     M * 10^k or M / 10^k is ONE correctly rounded long double operation;
 *   - rounding that long double to double is then correct unless the long
 *     double landed exactly on a midpoint between two doubles (the only case
 *     where double rounding can differ); that rare case, and anything outside
 *     the fast path, goes to strtod_l with a "C" locale.
 *
 * On platforms whose long double is not wider than double the fast path is
 * compiled out and strtod_l is used for everything.
 */
#include "model/model_num.h"

#include <float.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;

static void c_locale_init(void) { c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0); }

/* The slow exact path: strtod in the C locale on a NUL-terminated copy. */
static int slow_parse(const char *p, const char *end, double *out) {
  char buf[TS_NUM_MAX_TOKEN + 1];
  size_t n = (size_t)(end - p);
  if (n == 0 || n > TS_NUM_MAX_TOKEN) return -1;
  memcpy(buf, p, n);
  buf[n] = 0;
  pthread_once(&c_locale_once, c_locale_init);
  char *stop = NULL;
  double v = c_locale ? strtod_l(buf, &stop, c_locale) : strtod(buf, &stop);
  if (stop != buf + n) return -1;
  *out = v;
  return 0;
}

static const double kPow10d[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                   1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                   1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

#if LDBL_MANT_DIG >= 64
#define TS_HAVE_WIDE_LDBL 1
static const long double kPow10l[28] = {
    1e0L,  1e1L,  1e2L,  1e3L,  1e4L,  1e5L,  1e6L,  1e7L,  1e8L,  1e9L,
    1e10L, 1e11L, 1e12L, 1e13L, 1e14L, 1e15L, 1e16L, 1e17L, 1e18L, 1e19L,
    1e20L, 1e21L, 1e22L, 1e23L, 1e24L, 1e25L, 1e26L, 1e27L};
#else
#define TS_HAVE_WIDE_LDBL 0
#endif

static bool is_blank(char c) { return c == ' ' || c == '\t'; }

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define TS_SWAR 1
/* If the 8 bytes at s are all ASCII digits, stores their value (SWAR: the
 * usual little-endian multiply-and-shift reduction, pairs -> quads -> 8). */
static inline bool eight_digits(const char *s, uint32_t *out) {
  uint64_t v;
  memcpy(&v, s, sizeof v);
  if ((((v & 0xF0F0F0F0F0F0F0F0ULL) | (((v + 0x0606060606060606ULL) & 0xF0F0F0F0F0F0F0F0ULL) >> 4)) !=
       0x3333333333333333ULL))
    return false;
  v -= 0x3030303030303030ULL;
  v = v * 10 + (v >> 8); /* each even byte: two digits */
  v = (((v & 0x000000FF000000FFULL) * (100 + (1000000ULL << 32))) +
       (((v >> 16) & 0x000000FF000000FFULL) * (1 + (10000ULL << 32)))) >>
      32;
  *out = (uint32_t)v;
  return true;
}
#else
#define TS_SWAR 0
#endif

/* Parses the number starting at p; it must end at `end` or a blank. *stop
 * receives the end of the token. */
static int parse_token(const char *p, const char *end, double *out, const char **stop) {
  const char *s = p;
  bool neg = false;
  if (s < end && (*s == '-' || *s == '+')) neg = (*s++ == '-');
  uint64_t m = 0;
  int ndig = 0;      /* significant digits kept in m */
  int exp10 = 0;     /* value = m * 10^exp10 */
  bool any = false;  /* at least one digit seen */
  bool lost = false; /* a nonzero digit did not fit in m */
  while (s < end && *s >= '0' && *s <= '9') {
    any = true;
    if (m == 0 && *s == '0') {
      s++;
      continue;
    }
    if (ndig < 19) {
      m = m * 10 + (uint64_t)(*s - '0');
      ndig++;
    } else {
      exp10++;
      if (*s != '0') lost = true;
    }
    s++;
  }
  if (s < end && *s == '.') {
    s++;
    while (s < end && *s >= '0' && *s <= '9') {
#if TS_SWAR
      /* 8 fraction digits at once once the significant digits have started */
      uint32_t d8;
      if (m != 0 && ndig + 8 <= 19 && end - s >= 8 && eight_digits(s, &d8)) {
        m = m * 100000000u + d8;
        ndig += 8;
        exp10 -= 8;
        s += 8;
        any = true;
        continue;
      }
#endif
      any = true;
      if (m == 0 && *s == '0') {
        exp10--;
      } else if (ndig < 19) {
        m = m * 10 + (uint64_t)(*s - '0');
        ndig++;
        exp10--;
      } else if (*s != '0') {
        lost = true;
      }
      s++;
    }
  }
  if (!any) { /* inf, nan, or garbage */
    const char *t = s;
    while (t < end && !is_blank(*t)) t++;
    *stop = t;
    return slow_parse(p, t, out);
  }
  if (s < end && (*s == 'e' || *s == 'E')) {
    s++;
    bool eneg = false;
    if (s < end && (*s == '-' || *s == '+')) eneg = (*s++ == '-');
    if (s == end || *s < '0' || *s > '9') return -1;
    int e = 0;
    while (s < end && *s >= '0' && *s <= '9') {
      if (e < 100000) e = e * 10 + (*s - '0');
      s++;
    }
    exp10 += eneg ? -e : e;
  }
  if (s != end && !is_blank(*s)) return -1;
  *stop = s;
  if (m == 0) {
    *out = neg ? -0.0 : 0.0;
    return 0;
  }
  if (lost) return slow_parse(p, s, out);
  double v;
  if (m <= ((uint64_t)1 << 53) && exp10 >= -22 && exp10 <= 22) {
    /* Clinger's fast path: both operands exact, one rounding. */
    v = (double)m;
    v = exp10 >= 0 ? v * kPow10d[exp10] : v / kPow10d[-exp10];
    *out = neg ? -v : v;
    return 0;
  }
#if TS_HAVE_WIDE_LDBL
  if (exp10 >= -27 && exp10 <= 27) {
    long double r = (long double)m;
    r = exp10 >= 0 ? r * kPow10l[exp10] : r / kPow10l[-exp10];
    v = (double)r;
    if ((long double)v != r) {
      double n = nextafter(v, r > (long double)v ? INFINITY : -INFINITY);
      long double mid = ((long double)v + (long double)n) / 2;
      if (r == mid) return slow_parse(p, s, out);
    }
    *out = neg ? -v : v;
    return 0;
  }
#endif
  return slow_parse(p, s, out);
}

int ts__parse_double(const char *p, const char *end, double *out) {
  const char *stop;
  if (parse_token(p, end, out, &stop) != 0 || stop != end) return -1;
  return 0;
}

int ts__scan_double(const char **p, const char *end, double *out) {
  const char *s = *p;
  while (s < end && is_blank(*s)) s++;
  if (s == end) {
    *p = s;
    return 1;
  }
  const char *stop;
  if (parse_token(s, end, out, &stop) != 0) return -1;
  *p = stop;
  return 0;
}

int ts__parse_long(const char *p, const char *end, long long lo, long long hi, long long *out) {
  const char *s = p;
  bool neg = false;
  if (s < end && (*s == '-' || *s == '+')) neg = (*s++ == '-');
  if (s == end) return -1;
  unsigned long long v = 0;
  while (s < end) {
    if (*s < '0' || *s > '9') return -1;
    if (v > 1000000000000000000ULL) return -1; /* far beyond any limit */
    v = v * 10 + (unsigned long long)(*s - '0');
    s++;
  }
  long long r = neg ? -(long long)v : (long long)v;
  if (r < lo || r > hi) return -1;
  *out = r;
  return 0;
}
