/*
 * Number parsing for the model loader: exact (correctly rounded) decimal to
 * double conversion that is independent of the process locale, and bounded
 * integer parsing. Internal to src/model/.
 *
 * All functions parse exactly one token [p, end) (no surrounding spaces) and
 * return 0 on success or -1 if the token is not a complete number of the kind
 * asked for. Thread-safe.
 */
#ifndef TS_MODEL_NUM_H
#define TS_MODEL_NUM_H

#include <stddef.h>
#include <stdint.h>

/* Longest number token accepted (LightGBM writes at most ~25 characters). */
#define TS_NUM_MAX_TOKEN 128

/* Decimal (or inf/nan) to double, correctly rounded as strtod in the "C" locale. */
int ts__parse_double(const char *p, const char *end, double *out);

/* Skips blanks (spaces, tabs) at *p and parses the next number, which must
 * end at `end` or a blank; advances *p past it. Returns 0, 1 when only blanks
 * remained, -1 on a malformed number. Same rounding as ts__parse_double. */
int ts__scan_double(const char **p, const char *end, double *out);

/* Decimal integer in [lo, hi]; no fraction, no exponent. */
int ts__parse_long(const char *p, const char *end, long long lo, long long hi, long long *out);

#endif
