/*
 * Exact conversions between doubles and decimal text.
 *
 * ts_dtoa writes the shortest decimal string that parses back (with any
 * correctly rounding parser: strtod, Python float(), ts_parse_double) to the
 * very same double. ts_parse_double parses a decimal number with correct
 * rounding, independent of the process locale.
 *
 * Both functions are pure, allocate nothing and are thread-safe.
 */
#ifndef TS_BASE_DTOA_H
#define TS_BASE_DTOA_H

#include <stddef.h>

/* A buffer of this many bytes always holds ts_dtoa's output and its NUL
 * (the longest output, e.g. "-2.2250738585072014e-308", is 24 characters). */
#define TS_DTOA_BUFSIZE 32

/* Longest text ts_parse_double accepts; longer input is TS_ELIMIT (a double
 * never needs more than 17 significant digits, so this only rejects absurd
 * input such as thousands of leading zeros). */
#define TS_PARSE_DOUBLE_MAX_LEN 512

/* Writes `x` into buf[0..cap) as the shortest round-trip decimal, NUL-terminated,
 * and returns its length (without the NUL).
 *
 * Format (like C's %g and Python's repr, minus repr's ".0" on integers):
 *   - digits: the fewest significant digits (at most 17) that round-trip; when
 *     several strings of that length do, the one nearest to x;
 *   - fixed notation when the decimal exponent X of the first digit satisfies
 *     -4 <= X < 16 ("0.0001", "123.25", "1234567890123456"), otherwise
 *     scientific with a signed exponent of at least two digits ("1e+16",
 *     "2.5e-05", "-1.7976931348623157e+308");
 *   - zero is "0" or "-0"; NaN is "nan" (sign ignored); infinities are "inf"
 *     and "-inf". Note these three are not valid JSON numbers: JSON writers must
 *     handle non-finite values themselves before calling this.
 * If cap < TS_DTOA_BUFSIZE and the text does not fit, writes "" (when cap > 0)
 * and returns 0; with cap >= TS_DTOA_BUFSIZE it always succeeds. */
size_t ts_dtoa(double x, char *buf, size_t cap);

/* Parses exactly the `len` bytes at `s` (need not be NUL-terminated) as a
 * decimal number and stores the correctly rounded double in *out.
 *
 * Accepted: [+-]? (digits [. digits?] | . digits) ([eE] [+-]? digits)?, and,
 * case-insensitively with an optional sign, "nan", "inf", "infinity".
 * Rejected (TS_EPARSE, *out untouched): empty input, whitespace anywhere,
 * hexadecimal, any trailing or leading garbage. Longer than
 * TS_PARSE_DOUBLE_MAX_LEN: TS_ELIMIT. Values beyond the double range become
 * +-inf and tiny ones +-0 or subnormals, as strtod does (not an error).
 *
 * Up to 19 significant digits whose integer fits in 2^53 with a decimal
 * exponent within +-22 take an exact fast path (one correctly rounded IEEE
 * multiplication or division); everything else goes to strtod_l in the "C"
 * locale. Returns 0 or a negative TS_E* code. */
int ts_parse_double(const char *s, size_t len, double *out);

#endif
