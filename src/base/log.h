/*
 * treeserve logging: one JSON object per line on stderr (or a chosen fd).
 *
 *   {"ts":"2026-11-25T16:11:19.123Z","level":"info","msg":"model loaded","model":"iris","version":2}
 *
 * Library code logs events (model loads, reloads, failures) through this module
 * instead of printing; the CLI and the server use it for startup, shutdown and
 * access logs. Every value is JSON-escaped (control characters as \u00XX,
 * invalid UTF-8 replaced by U+FFFD); a line longer than TS_LOG_LINE_MAX is cut
 * at a field boundary and gets "truncated":true, so one line is always one
 * valid JSON object. Never log request bodies: callers pass only names, sizes,
 * statuses and timings.
 *
 * Thread-safety: every function may be called from any thread. A line is
 * formatted into a stack buffer and emitted with a single write() under a
 * mutex, so lines from different threads never interleave. The level check is
 * one relaxed atomic load, so a disabled level costs almost nothing.
 */
#ifndef TS_BASE_LOG_H
#define TS_BASE_LOG_H

#include <stdbool.h>
#include <stddef.h>

/* Longest line written, newline included. Longer lines are truncated as above. */
#define TS_LOG_LINE_MAX 4096
/* Longest single string value kept; longer values end with "..." (still valid JSON). */
#define TS_LOG_VALUE_MAX 1024

typedef enum ts_log_level {
  TS_LOG_DEBUG = 0,
  TS_LOG_INFO = 1,
  TS_LOG_WARN = 2,
  TS_LOG_ERROR = 3,
  TS_LOG_OFF = 4 /* only as a threshold: log nothing */
} ts_log_level;

typedef enum ts_log_kind { TS_LOG_KSTR, TS_LOG_KINT, TS_LOG_KUINT, TS_LOG_KDBL, TS_LOG_KBOOL } ts_log_kind;

/* One key/value pair. Keys should be short literal identifiers ([a-z_]); they
 * are escaped anyway. A NULL string value is written as JSON null; a non-finite
 * double as null. */
typedef struct ts_log_field {
  const char *key;
  ts_log_kind kind;
  union {
    const char *s;
    long long i;
    unsigned long long u;
    double d;
    bool b;
  } v;
} ts_log_field;

/* Field constructors, e.g. TS_LOG_S("model", name), TS_LOG_I("version", v). */
#define TS_LOG_S(k, val) ((ts_log_field){.key = (k), .kind = TS_LOG_KSTR, .v.s = (val)})
#define TS_LOG_I(k, val) ((ts_log_field){.key = (k), .kind = TS_LOG_KINT, .v.i = (long long)(val)})
#define TS_LOG_U(k, val) \
  ((ts_log_field){.key = (k), .kind = TS_LOG_KUINT, .v.u = (unsigned long long)(val)})
#define TS_LOG_D(k, val) ((ts_log_field){.key = (k), .kind = TS_LOG_KDBL, .v.d = (double)(val)})
#define TS_LOG_B(k, val) ((ts_log_field){.key = (k), .kind = TS_LOG_KBOOL, .v.b = (bool)(val)})

/* Writes one line if `level` is at or above the threshold. `fields` may be NULL
 * when `nfields` is 0. Never fails visibly (a failed write is dropped). */
void ts_log(ts_log_level level, const char *msg, const ts_log_field *fields, size_t nfields);

/* Convenience: TS_LOG(TS_LOG_INFO, "model loaded", TS_LOG_S("model", n), TS_LOG_I("version", v));
 * needs at least one field; use ts_log(level, msg, NULL, 0) for none. */
#define TS_LOG(level, msg, ...)                                                          \
  ts_log((level), (msg), (const ts_log_field[]){__VA_ARGS__},                            \
         sizeof((const ts_log_field[]){__VA_ARGS__}) / sizeof(ts_log_field))

/* Threshold (default TS_LOG_INFO). */
void ts_log_set_level(ts_log_level level);
ts_log_level ts_log_get_level(void);
/* True if a line at `level` would be written (to skip building expensive fields). */
bool ts_log_enabled(ts_log_level level);

/* Parses "debug", "info", "warn"/"warning", "error", "off" (case-insensitive).
 * Returns 0 and sets *out, or TS_EINVAL. */
int ts_log_parse_level(const char *s, ts_log_level *out);
/* "debug", "info", "warn", "error", "off". */
const char *ts_log_level_name(ts_log_level level);

/* Sends lines to `fd` instead of 2 (tests use a pipe or a temp file). The fd is
 * borrowed, never closed. Pass 2 to restore stderr. */
void ts_log_set_fd(int fd);

/* Formats a line exactly as ts_log would (without the threshold check and
 * without writing) into buf (bounded by `cap`, at most TS_LOG_LINE_MAX used,
 * always NUL-terminated, ends with '\n'). Returns the line length. Used by the
 * tests; `ts_text` replaces the timestamp when non-NULL. */
size_t ts_log_format(char *buf, size_t cap, const char *ts_text, ts_log_level level,
                     const char *msg, const ts_log_field *fields, size_t nfields);

#endif
