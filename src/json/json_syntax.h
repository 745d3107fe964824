/*
 * Strict JSON syntax check (RFC 8259), to run before jsmn tokenizes a
 * document: jsmn on its own accepts some malformed text (doubled or trailing
 * commas, a missing comma between values, a key without a value in some
 * positions), which callers must reject rather than guess at.
 *
 * A pushdown automaton over the bytes with a bounded stack: O(n), no
 * recursion, no allocation. Pure and thread-safe.
 */
#ifndef TS_JSON_SYNTAX_H
#define TS_JSON_SYNTAX_H

#include <stddef.h>

/* Largest max_depth accepted (the stack lives on the C stack). */
#define TS_JSON_SYNTAX_MAX_DEPTH 1024

/* Checks that s[0..n) is exactly one JSON value (any type), surrounded only
 * by whitespace, nested at most max_depth deep (clamped to
 * TS_JSON_SYNTAX_MAX_DEPTH). Returns 0, TS_EPARSE or TS_ELIMIT (too deep).
 * On failure *off is the byte offset of the problem and *why (a static
 * string) says what was expected, e.g. "expected ',' or ']'". Numbers follow
 * JSON's grammar (no NaN, Infinity, leading zeros, "1." or "+1"); strings may
 * not hold raw control characters and escapes must be valid (\u + 4 hex).
 * Bytes >= 0x80 inside strings are not checked here (see _utf8 below). */
int ts_json_syntax_check(const char *s, size_t n, int max_depth, size_t *off, const char **why);

/* The same check, and every string (keys included) must also be valid UTF-8
 * (base/utf8.h); an invalid sequence fails with TS_EPARSE, *why "invalid
 * UTF-8 in a string" and *off the offset of its first byte. ts_json_parse
 * uses this one, so a document is read in one pass over its bytes. */
int ts_json_syntax_check_utf8(const char *s, size_t n, int max_depth, size_t *off, const char **why);

#endif
