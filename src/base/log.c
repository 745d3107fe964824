/*
 * JSON-lines logging (see log.h). Each line is built in a bounded stack buffer
 * and written with one write() under a mutex, so concurrent lines never mix and
 * a slow formatter never holds the lock.
 */
#include "base/log.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "base/dtoa.h"
#include "base/utf8.h"
#include "treeserve/error.h"

static _Atomic int g_level = TS_LOG_INFO;
static _Atomic int g_fd = 2;
static pthread_mutex_t g_write_lock = PTHREAD_MUTEX_INITIALIZER;

/* Space kept free for the closing `,"truncated":true}\n` and the NUL. */
#define LOG_TAIL_RESERVE 24

static const char *const level_names[] = {"debug", "info", "warn", "error", "off"};

const char *ts_log_level_name(ts_log_level level) {
  if ((int)level < 0 || level > TS_LOG_OFF) return "info";
  return level_names[level];
}

void ts_log_set_level(ts_log_level level) {
  if ((int)level < TS_LOG_DEBUG) level = TS_LOG_DEBUG;
  if (level > TS_LOG_OFF) level = TS_LOG_OFF;
  atomic_store_explicit(&g_level, (int)level, memory_order_relaxed);
}

ts_log_level ts_log_get_level(void) {
  return (ts_log_level)atomic_load_explicit(&g_level, memory_order_relaxed);
}

bool ts_log_enabled(ts_log_level level) {
  return level < TS_LOG_OFF && (int)level >= atomic_load_explicit(&g_level, memory_order_relaxed);
}

int ts_log_parse_level(const char *s, ts_log_level *out) {
  static const struct {
    const char *name;
    ts_log_level level;
  } table[] = {{"debug", TS_LOG_DEBUG}, {"info", TS_LOG_INFO},   {"warn", TS_LOG_WARN},
               {"warning", TS_LOG_WARN}, {"error", TS_LOG_ERROR}, {"off", TS_LOG_OFF}};
  if (!s || !out) return TS_EINVAL;
  for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
    if (!strcasecmp(s, table[i].name)) {
      *out = table[i].level;
      return 0;
    }
  }
  return TS_EINVAL;
}

void ts_log_set_fd(int fd) { atomic_store_explicit(&g_fd, fd, memory_order_relaxed); }

/* --- bounded line writer --- */

typedef struct line {
  char *buf;
  size_t len;
  size_t limit; /* content may not pass this (the tail reserve lies beyond) */
} line;

static bool put_raw(line *l, const char *s, size_t n) {
  if (l->len + n > l->limit) return false;
  memcpy(l->buf + l->len, s, n);
  l->len += n;
  return true;
}

static bool put_str(line *l, const char *s) { return put_raw(l, s, strlen(s)); }

/* Results of put_json_string / put_field. */
enum { PUT_NONE = 0, PUT_OK = 1, PUT_FULL = 2 };

/* Writes s as a JSON string, reading at most `maxin` bytes of it. If the input
 * is longer, or the line runs out of room, the string ends with "..." (the
 * output is still a valid string). Returns PUT_OK, PUT_FULL (written but cut
 * for lack of room: the caller stops adding fields) or PUT_NONE (no room even
 * to start; nothing written). */
static int put_json_string(line *l, const char *s, size_t maxin) {
  static const char hex[] = "0123456789abcdef";
  const unsigned char *p = (const unsigned char *)s;
  size_t n = strnlen(s, maxin + 1);
  bool cut = n > maxin, room = true;
  if (cut) n = maxin;
  /* Room for the opening quote, an ellipsis and the closing quote. */
  if (l->len + 5 > l->limit) return PUT_NONE;
  l->buf[l->len++] = '"';
  size_t i = 0;
  while (i < n) {
    char esc[8];
    size_t elen = 0, adv = 1;
    unsigned c = p[i];
    if (c == '"' || c == '\\') {
      esc[0] = '\\';
      esc[1] = (char)c;
      elen = 2;
    } else if (c == '\n') {
      memcpy(esc, "\\n", 2), elen = 2;
    } else if (c == '\t') {
      memcpy(esc, "\\t", 2), elen = 2;
    } else if (c == '\r') {
      memcpy(esc, "\\r", 2), elen = 2;
    } else if (c < 0x20 || c == 0x7F) {
      memcpy(esc, "\\u00", 4);
      esc[4] = hex[c >> 4];
      esc[5] = hex[c & 15];
      elen = 6;
    } else if (c < 0x80) {
      esc[0] = (char)c;
      elen = 1;
    } else {
      size_t k = ts_utf8_seq(p + i, n - i);
      if (k) {
        memcpy(esc, p + i, k);
        elen = adv = k;
      } else {
        memcpy(esc, "\\ufffd", 6);
        elen = 6;
      }
    }
    if (l->len + elen + 4 > l->limit) { /* keep room for `..."` */
      cut = true;
      room = false;
      break;
    }
    memcpy(l->buf + l->len, esc, elen);
    l->len += elen;
    i += adv;
  }
  if (cut) {
    memcpy(l->buf + l->len, "...", 3);
    l->len += 3;
  }
  l->buf[l->len++] = '"';
  return room ? PUT_OK : PUT_FULL;
}

/* Appends `,"key":value`. PUT_NONE: nothing usable written (the caller rolls
 * back); PUT_FULL: a complete field whose string value was cut to fit. */
static int put_field(line *l, const ts_log_field *f) {
  char num[64];
  int k;
  bool ok;
  if (!put_raw(l, ",", 1)) return PUT_NONE;
  if (put_json_string(l, f->key ? f->key : "", 64) != PUT_OK) return PUT_NONE;
  if (!put_raw(l, ":", 1)) return PUT_NONE;
  switch (f->kind) {
  case TS_LOG_KSTR:
    if (!f->v.s) {
      ok = put_str(l, "null");
      break;
    }
    return put_json_string(l, f->v.s, TS_LOG_VALUE_MAX);
  case TS_LOG_KINT:
    k = snprintf(num, sizeof num, "%lld", f->v.i);
    ok = put_raw(l, num, (size_t)k);
    break;
  case TS_LOG_KUINT:
    k = snprintf(num, sizeof num, "%llu", f->v.u);
    ok = put_raw(l, num, (size_t)k);
    break;
  case TS_LOG_KDBL:
    if (!isfinite(f->v.d)) {
      ok = put_str(l, "null"); /* JSON has no inf/nan */
      break;
    }
    /* Shortest text that round-trips: 0.001 rather than 0.0010000000000000000208. */
    ok = put_raw(l, num, ts_dtoa(f->v.d, num, sizeof num));
    break;
  case TS_LOG_KBOOL:
    ok = put_str(l, f->v.b ? "true" : "false");
    break;
  default:
    ok = put_str(l, "null");
    break;
  }
  return ok ? PUT_OK : PUT_NONE;
}

static void format_now(char *out, size_t cap) {
  struct timespec ts;
  struct tm tm;
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  size_t n = strftime(out, cap, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(out + n, cap - n, ".%03ldZ", ts.tv_nsec / 1000000L);
}

size_t ts_log_format(char *buf, size_t cap, const char *ts_text, ts_log_level level,
                     const char *msg, const ts_log_field *fields, size_t nfields) {
  char tsbuf[48];
  if (!buf || cap == 0) return 0;
  if (cap > TS_LOG_LINE_MAX) cap = TS_LOG_LINE_MAX;
  if (cap < 128) { /* too small for any useful line */
    buf[0] = '\0';
    return 0;
  }
  if (!ts_text) {
    format_now(tsbuf, sizeof tsbuf);
    ts_text = tsbuf;
  }
  line l = {buf, 0, cap - LOG_TAIL_RESERVE};
  /* The head always fits: cap >= 128 and the message is cut to the room left. */
  put_str(&l, "{\"ts\":");
  put_json_string(&l, ts_text, 40);
  put_str(&l, ",\"level\":");
  put_json_string(&l, ts_log_level_name(level), 8);
  put_str(&l, ",\"msg\":");
  bool ok = put_json_string(&l, msg ? msg : "", TS_LOG_VALUE_MAX) == PUT_OK;
  for (size_t i = 0; ok && fields && i < nfields; i++) {
    size_t mark = l.len;
    int r = put_field(&l, &fields[i]);
    if (r != PUT_OK) ok = false;
    if (r == PUT_NONE) l.len = mark; /* drop a field that did not fit at all */
  }
  /* The tail reserve always fits: the limit kept LOG_TAIL_RESERVE bytes free. */
  l.limit = cap - 1;
  if (!ok) put_str(&l, ",\"truncated\":true");
  put_str(&l, "}\n");
  buf[l.len] = '\0';
  return l.len;
}

void ts_log(ts_log_level level, const char *msg, const ts_log_field *fields, size_t nfields) {
  char buf[TS_LOG_LINE_MAX];
  if (!ts_log_enabled(level)) return;
  size_t n = ts_log_format(buf, sizeof buf, NULL, level, msg, fields, nfields);
  int saved = errno;
  int fd = atomic_load_explicit(&g_fd, memory_order_relaxed);
  pthread_mutex_lock(&g_write_lock);
  size_t off = 0;
  while (off < n) {
    ssize_t w = write(fd, buf + off, n - off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) break; /* nowhere to report a logging failure: drop the line */
    off += (size_t)w;
  }
  pthread_mutex_unlock(&g_write_lock);
  errno = saved;
}
