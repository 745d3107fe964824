/* UTF-8 validation; see utf8.h. */
#include "base/utf8.h"

size_t ts_utf8_seq(const unsigned char *p, size_t n) {
  unsigned char c = p[0];
  if (c < 0x80) return 1;
  /* The lead byte fixes the length and the allowed range of the second byte;
   * narrowing that range is what excludes overlong forms (E0, F0), surrogates
   * (ED) and code points above U+10FFFF (F4). */
  size_t len;
  unsigned lo = 0x80, hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) len = 2;
  else if (c == 0xE0) len = 3, lo = 0xA0;
  else if (c == 0xED) len = 3, hi = 0x9F;
  else if (c >= 0xE1 && c <= 0xEF) len = 3;
  else if (c == 0xF0) len = 4, lo = 0x90;
  else if (c >= 0xF1 && c <= 0xF3) len = 4;
  else if (c == 0xF4) len = 4, hi = 0x8F;
  else return 0;
  if (n < len || p[1] < lo || p[1] > hi) return 0;
  for (size_t k = 2; k < len; k++)
    if ((p[k] & 0xC0) != 0x80) return 0;
  return len;
}

size_t ts_utf8_valid_prefix(const unsigned char *p, size_t n) {
  size_t i = 0;
  while (i < n) {
    if (p[i] < 0x80) {
      i++;
      continue;
    }
    size_t k = ts_utf8_seq(p + i, n - i);
    if (!k) return i;
    i += k;
  }
  return n;
}
