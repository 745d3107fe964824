/*
 * treeserve error codes and the error-detail struct every fallible call fills.
 *
 * Functions return 0 on success or a negative TS_E* code. When they take a
 * `ts_error *err` (which may be NULL), they also write a human-readable message
 * naming what is wrong and where (file, line, column, feature).
 */
#ifndef TREESERVE_ERROR_H
#define TREESERVE_ERROR_H

#include <stddef.h>

/* X-macro table: name, value, description. One place defines them all. */
#define TS_ERRNO_MAP(X)                                                     \
  X(TS_EINVAL, -1, "invalid argument")                                      \
  X(TS_ENOMEM, -2, "out of memory")                                         \
  X(TS_EIO, -3, "input/output error")                                       \
  X(TS_EPARSE, -4, "parse error")                                           \
  X(TS_ELIMIT, -5, "limit exceeded")                                        \
  X(TS_ENOTFOUND, -6, "not found")                                          \
  X(TS_EUNSUPPORTED, -7, "not supported")                                   \
  X(TS_ESHAPE, -8, "wrong shape or type")                                   \
  X(TS_EBUSY, -9, "busy")                                                   \
  X(TS_EINTERNAL, -10, "internal error")

enum {
#define TS__ERR_ENUM(name, val, desc) name = (val),
  TS_ERRNO_MAP(TS__ERR_ENUM)
#undef TS__ERR_ENUM
};

/* Longest message kept; longer messages are truncated, never overflowed. */
#define TS_ERROR_MSG_MAX 512

/* Error detail. `msg` is always NUL-terminated after any ts_error_set(). */
typedef struct ts_error {
  int code;                   /* the TS_E* code, 0 if none */
  char msg[TS_ERROR_MSG_MAX]; /* "file:line: message" or plain message */
} ts_error;

/* Returns a static description of a TS_E* code ("unknown error" otherwise). */
const char *ts_strerror(int code);

/* Formats a message into `err` (if non-NULL) and returns `code`, so callers can
 * write `return ts_error_set(err, TS_EPARSE, "%s:%d: bad value", f, l);`. */
int ts_error_set(ts_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Clears `err` (if non-NULL). */
void ts_error_clear(ts_error *err);

#endif
