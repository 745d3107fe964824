/* JSON string unescaping; see jsonstr.h. */
#include "base/jsonstr.h"

#include "treeserve/error.h"

/* Value of the four hex digits at p (the caller checked 4 bytes remain), or -1. */
static long hex4(const char *p) {
  long v = 0;
  for (int k = 0; k < 4; k++) {
    char c = p[k];
    v <<= 4;
    if (c >= '0' && c <= '9') v |= c - '0';
    else if (c >= 'a' && c <= 'f') v |= c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') v |= c - 'A' + 10;
    else return -1;
  }
  return v;
}

/* Writes the UTF-8 encoding of cp (<= 0x10FFFF, not a surrogate) to o. */
static size_t put_utf8(char *o, unsigned long cp) {
  if (cp < 0x80) {
    o[0] = (char)cp;
    return 1;
  }
  if (cp < 0x800) {
    o[0] = (char)(0xC0 | (cp >> 6));
    o[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    o[0] = (char)(0xE0 | (cp >> 12));
    o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
  }
  o[0] = (char)(0xF0 | (cp >> 18));
  o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
  o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
  o[3] = (char)(0x80 | (cp & 0x3F));
  return 4;
}

int ts_json_unescape_raw(const char *s, size_t n, char *out, size_t cap, size_t *out_len) {
  size_t o = 0, i = 0;
  while (i < n) {
    unsigned char c = (unsigned char)s[i];
    if (c != '\\') {
      if (c < 0x20) {
        *out_len = i;
        return TS_EPARSE;
      }
      if (o + 1 >= cap) return TS_ELIMIT; /* the byte and the final NUL */
      out[o++] = (char)c;
      i++;
      continue;
    }
    char buf[4];
    size_t k = 1, start = i;
    if (i + 1 >= n) goto bad;
    switch (s[i + 1]) {
    case '"': buf[0] = '"'; break;
    case '\\': buf[0] = '\\'; break;
    case '/': buf[0] = '/'; break;
    case 'b': buf[0] = '\b'; break;
    case 'f': buf[0] = '\f'; break;
    case 'n': buf[0] = '\n'; break;
    case 'r': buf[0] = '\r'; break;
    case 't': buf[0] = '\t'; break;
    case 'u': {
      long cp = n - i >= 6 ? hex4(s + i + 2) : -1;
      if (cp < 0) goto bad;
      if (cp >= 0xD800 && cp <= 0xDBFF) { /* a high surrogate: its low half must follow */
        long lo = n - i >= 12 && s[i + 6] == '\\' && s[i + 7] == 'u' ? hex4(s + i + 8) : -1;
        if (lo < 0xDC00 || lo > 0xDFFF) goto bad;
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        i += 6;
      } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
        goto bad;
      }
      /* Never longer than the 6 or 12 escaped bytes it replaces. */
      k = put_utf8(buf, (unsigned long)cp);
      i += 4;
      break;
    }
    default: goto bad;
    }
    i += 2;
    if (o + k >= cap) return TS_ELIMIT;
    for (size_t q = 0; q < k; q++) out[o++] = buf[q];
    continue;
  bad:
    *out_len = start;
    return TS_EPARSE;
  }
  if (o >= cap) return TS_ELIMIT; /* cap == 0 */
  out[o] = '\0';
  *out_len = o;
  return 0;
}
