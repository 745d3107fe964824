/* Error codes (from the X-macro table in error.h) and bounded message formatting. */
#include "treeserve/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *ts_strerror(int code) {
  switch (code) {
  case 0:
    return "success";
#define TS__ERR_CASE(name, val, desc) \
  case name:                          \
    return desc;
    TS_ERRNO_MAP(TS__ERR_CASE)
#undef TS__ERR_CASE
  default:
    return "unknown error";
  }
}

int ts_error_set(ts_error *err, int code, const char *fmt, ...) {
  if (err) {
    va_list ap;
    va_start(ap, fmt);
    err->code = code;
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
  }
  return code;
}

void ts_error_clear(ts_error *err) {
  if (err) {
    err->code = 0;
    err->msg[0] = '\0';
  }
}
