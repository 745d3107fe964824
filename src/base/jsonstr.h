/*
 * Decoding a JSON string's escapes: the one implementation shared by the
 * JSON reader (json/json.c), the CLI row reader (io/rows.c), the repository's
 * config.json reader (repo/repo_config.c) and the model loader's
 * pandas_categorical reader (model/model_pandas.c, which may depend only on
 * base/, hence this lives here). Pure function: thread-safe, no allocation.
 */
#ifndef TS_BASE_JSONSTR_H
#define TS_BASE_JSONSTR_H

#include <stddef.h>

/* Decodes the raw text s[0..n) of a JSON string (between its quotes, escapes
 * still in place) into out[0..cap): \" \\ \/ \b \f \n \r \t, and \uXXXX as
 * UTF-8 (a high surrogate must be followed by a \u low surrogate; the pair is
 * one code point). \u0000 decodes to a NUL byte: callers that need a C string
 * check for it. Other bytes are copied as they are (UTF-8 is not checked).
 *
 * Returns 0 with *out_len the decoded length and out[*out_len] = '\0';
 * TS_ELIMIT if the decoded text and its NUL do not fit in cap bytes (the
 * decoded text is never longer than n, so cap = n + 1 always suffices);
 * TS_EPARSE for an unknown escape, a backslash at the end, \u without four
 * hex digits, a lone or unpaired surrogate, or a raw control character
 * (< 0x20), with *out_len then the offset in s of the offending byte (the
 * backslash that starts a bad escape). out's contents are unspecified on
 * failure. */
int ts_json_unescape_raw(const char *s, size_t n, char *out, size_t cap, size_t *out_len);

#endif
