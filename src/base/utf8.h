/*
 * UTF-8 validation (RFC 3629): no overlong forms, no surrogates (U+D800..
 * U+DFFF), nothing above U+10FFFF. One implementation shared by the JSON
 * reader (strings must be UTF-8), the JSON writer and the logger (both turn
 * invalid bytes into U+FFFD). Pure functions: thread-safe, no allocation.
 */
#ifndef TS_BASE_UTF8_H
#define TS_BASE_UTF8_H

#include <stddef.h>

/* Length (1..4) of the valid UTF-8 sequence starting at p[0], reading at most
 * n bytes (n >= 1); 0 if the bytes there are not a valid sequence (a stray
 * continuation byte, an overlong form, a surrogate, a code point above
 * U+10FFFF, or a sequence cut off by the end of the input). */
size_t ts_utf8_seq(const unsigned char *p, size_t n);

/* Length of the longest valid UTF-8 prefix of p[0..n): n when all of it is
 * valid, otherwise the offset of the first byte that starts no valid
 * sequence. */
size_t ts_utf8_valid_prefix(const unsigned char *p, size_t n);

#endif
