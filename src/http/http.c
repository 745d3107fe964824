/*
 * treeserve HTTP server on libmicrohttpd (MHD). See http.h for the contract.
 *
 * How one request flows through MHD's access callback:
 *   1st call (headers complete): match the route, check the limits that the
 *       headers already decide (Content-Length over the body limit, connection
 *       over the soft limit).
 *   data calls: append the body to the connection's buffer (reused across
 *       keep-alive requests) or, once over the limit, discard it.
 *   last call (no more data): run the handler (or make the early error
 *       answer) and queue the response.
 * Errors found early are answered only after the body was read (up to a
 * discard cap), so the client reads a clean 413/404/503 instead of a
 * connection reset caused by closing a socket with unread data.
 */
#include "http/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Per-connection body buffers above this are freed after the request, so an
 * idle keep-alive connection never pins a large allocation. */
#define KEEP_BODY_BYTES ((size_t)64 << 10)
/* Output buffers above this are freed after the request, for the same reason. */
#define KEEP_OUT_BYTES ((size_t)1 << 20)
/* Base size of the per-thread arena block kept between requests. */
#define ARENA_BLOCK ((size_t)64 << 10)

typedef struct scratch {
  const ts_http_server *owner;
  ts_arena arena;
  ts_jw out;
  struct scratch *next;
} scratch;

typedef struct conn {
  ts_http_server *srv;
  bool over;                /* opened beyond the soft connection limit */
  /* current request */
  bool active;
  const ts_http_route *route;
  ts_http_slice params[TS_HTTP_MAX_PARAMS];
  int nparams;
  ts_http_method method;
  int early_status;         /* nonzero: answer this error after the body */
  char early_msg[160];
  double start;
  char *body;
  size_t body_len, body_cap;
  size_t received;          /* body bytes seen, including discarded ones */
  bool nul_in_target;       /* the raw request target holds %00 (see on_uri) */
  /* slow-client reaper (see reaper_main) */
  struct conn *prev, *next; /* in the server's list, under conn_lock */
  int fd;
  struct sockaddr_storage peer;
  socklen_t peer_len;
  atomic_llong deadline_ns; /* cut the connection if its request head is not
                               complete by then (0 = no deadline) */
  atomic_llong idle_ns;     /* since when the connection waits for a request
                               and has received nothing (0 = not idle) */
} conn;

struct ts_http_server {
  struct MHD_Daemon *daemon;
  ts_http_config cfg;
  const ts_http_route *routes;
  size_t nroutes;
  void *ctx;
  int listen_fd;
  bool listen_quiesced; /* quiesce handed the listening socket back to us */
  uint16_t port;
  atomic_uint inflight;
  atomic_uint connections;
  atomic_bool closing;
  bool switch_timeouts;      /* MHD's inactivity timeout is set per phase (see
                                ts_http_server_start) */
  pthread_mutex_t scratch_lock;
  scratch *scratches;
  pthread_mutex_t conn_lock; /* guards the conn list */
  conn *conns;
  pthread_t reaper;
  bool reaper_running;
  pthread_cond_t reaper_cond;
  bool reaper_stop;          /* under conn_lock */
};

static _Thread_local scratch *tl_scratch;

/* The clock of the connection deadlines (whole seconds): the coarse clock
 * (a few ms of resolution) costs a memory read where CLOCK_MONOTONIC costs
 * ~25 ns in the VDSO, and it is read several times per request. Same time
 * base as ts_http_now(), at most one tick behind it. */
static long long now_ns(void) {
  struct timespec ts;
#ifdef CLOCK_MONOTONIC_COARSE
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
#else
  clock_gettime(CLOCK_MONOTONIC, &ts);
#endif
  return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* The request head (request line and headers) must be complete within
 * read_timeout_s of its first line, and a connection between requests gets
 * idle_timeout_s to start the next one. libmicrohttpd's own timeout only
 * measures inactivity, so a client trickling one byte a second (slowloris)
 * would otherwise hold a connection for hours. */
static void set_deadline(conn *c, unsigned seconds) {
  atomic_store_explicit(&c->deadline_ns, seconds ? now_ns() + (long long)seconds * 1000000000LL : 0,
                        memory_order_relaxed);
}

static void set_idle(conn *c, bool idle) {
  atomic_store_explicit(&c->idle_ns, idle ? now_ns() : 0, memory_order_relaxed);
}

/* The connection now waits for its next request: idle since now, with the
 * idle deadline (one clock read for both). */
static void set_waiting(conn *c, unsigned idle_timeout_s) {
  long long now = now_ns();
  atomic_store_explicit(&c->idle_ns, now, memory_order_relaxed);
  atomic_store_explicit(&c->deadline_ns, idle_timeout_s ? now + (long long)idle_timeout_s * 1000000000LL : 0,
                        memory_order_relaxed);
}

/* The request's read deadline (see on_uri) has passed. */
static bool past_deadline(conn *c) {
  long long d = atomic_load_explicit(&c->deadline_ns, memory_order_relaxed);
  return d && now_ns() >= d;
}

/* With every connection slot taken, a connection idle for this long is shed
 * (keep-alive connections are cheap to reopen; waiting clients are not). */
#define SHED_IDLE_NS (1000LL * 1000 * 1000)

double ts_http_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void ts_http_config_default(ts_http_config *cfg) {
  memset(cfg, 0, sizeof(*cfg));
  cfg->port = 8080;
  cfg->max_body_bytes = TS_HTTP_DEFAULT_MAX_BODY_BYTES;
  cfg->max_header_bytes = TS_HTTP_DEFAULT_MAX_HEADER_BYTES;
  cfg->max_connections = TS_HTTP_DEFAULT_MAX_CONNECTIONS;
  cfg->idle_timeout_s = TS_HTTP_DEFAULT_IDLE_TIMEOUT_S;
  cfg->read_timeout_s = TS_HTTP_DEFAULT_READ_TIMEOUT_S;
  cfg->max_response_bytes = TS_HTTP_DEFAULT_MAX_RESPONSE_BYTES;
  cfg->max_request_memory = TS_HTTP_DEFAULT_MAX_REQUEST_MEMORY;
}

/* ---- routing ---- */

bool ts_http_match(const char *pattern, const char *path, ts_http_slice *params, int *nparams) {
  const char *p = pattern, *s = path;
  int n = 0;
  while (*p) {
    if (p[0] == '{' && p[1] == '}') {
      p += 2;
      /* The capture runs to the end of the segment, minus the literal that
       * follows in the pattern when that literal stays in the same segment. */
      const char *seg_end = s;
      while (*seg_end && *seg_end != '/') seg_end++;
      size_t lit = 0;
      while (p[lit] && p[lit] != '/' && p[lit] != '{') lit++;
      if ((size_t)(seg_end - s) <= lit) return false;
      const char *cap_end = seg_end - lit;
      if (lit && memcmp(cap_end, p, lit)) return false;
      if (n >= TS_HTTP_MAX_PARAMS) return false;
      params[n].ptr = s;
      params[n].len = (size_t)(cap_end - s);
      n++;
      s = seg_end;
      p += lit;
      continue;
    }
    if (*p != *s) return false;
    p++;
    s++;
  }
  if (*s) return false;
  *nparams = n;
  return true;
}

static ts_http_method parse_method(const char *m) {
  if (!strcmp(m, "GET")) return TS_HTTP_GET;
  if (!strcmp(m, "POST")) return TS_HTTP_POST;
  if (!strcmp(m, "HEAD")) return TS_HTTP_HEAD;
  return TS_HTTP_OTHER;
}

/* Finds the route; on a path match with the wrong method sets *allow. */
static const ts_http_route *match_route(const ts_http_route *routes, size_t nroutes, ts_http_method method,
                                        const char *path, ts_http_slice *params, int *nparams, unsigned *allow) {
  *allow = 0;
  unsigned want = method == TS_HTTP_HEAD ? (TS_HTTP_HEAD | TS_HTTP_GET) : method;
  for (size_t i = 0; i < nroutes; i++) {
    const ts_http_route *r = &routes[i];
    ts_http_slice tmp[TS_HTTP_MAX_PARAMS];
    int n = 0;
    if (!ts_http_match(r->pattern, path, tmp, &n)) continue;
    if (r->methods & want) {
      memcpy(params, tmp, sizeof(tmp));
      *nparams = n;
      return r;
    }
    *allow |= r->methods;
  }
  return NULL;
}

static const ts_http_route *route_find(const ts_http_server *s, conn *c, const char *path, unsigned *allow) {
  return match_route(s->routes, s->nroutes, c->method, path, c->params, &c->nparams, allow);
}

/* ---- responses ---- */

static scratch *get_scratch(ts_http_server *s) {
  scratch *sc = tl_scratch;
  if (sc && sc->owner == s) return sc;
  sc = calloc(1, sizeof(*sc));
  if (!sc) return NULL;
  sc->owner = s;
  ts_arena_init(&sc->arena, ARENA_BLOCK, s->cfg.max_request_memory);
  ts_jw_init(&sc->out, s->cfg.max_response_bytes);
  pthread_mutex_lock(&s->scratch_lock);
  sc->next = s->scratches;
  s->scratches = sc;
  pthread_mutex_unlock(&s->scratch_lock);
  tl_scratch = sc;
  return sc;
}

void ts_http_resp_error(ts_http_resp *resp, int status, const char *fmt, ...) {
  char msg[TS_ERROR_MSG_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  resp->status = status;
  resp->content_type = "application/json";
  resp->nheaders = 0;
  ts_jw_reset(resp->body);
  ts_jw_lit(resp->body, "{\"error\":");
  ts_jw_cstr(resp->body, msg);
  ts_jw_lit(resp->body, "}\n");
}

void ts_http_resp_header(ts_http_resp *resp, const char *name, const char *value) {
  if (resp->nheaders >= TS_HTTP_MAX_RESP_HEADERS) return;
  resp->headers[resp->nheaders].name = name;
  snprintf(resp->headers[resp->nheaders].value, sizeof(resp->headers[0].value), "%s", value);
  resp->nheaders++;
}

static void allow_header(ts_http_resp *resp, unsigned allow) {
  char v[32] = "";
  if (allow & TS_HTTP_GET) strcat(v, "GET, HEAD");
  if (allow & TS_HTTP_POST) strcat(v, v[0] ? ", POST" : "POST");
  ts_http_resp_header(resp, "Allow", v);
}

const char *ts_http_req_header(const ts_http_req *req, const char *name) {
  if (req->conn_) return MHD_lookup_connection_value(req->conn_, MHD_HEADER_KIND, name);
  for (size_t i = 0; i < req->nheaders_; i++)
    if (!strcasecmp(req->headers_[i].name, name)) return req->headers_[i].value;
  return NULL;
}

void ts_http_dispatch(const ts_http_route *routes, size_t nroutes, void *ctx, const char *method, const char *path,
                      const ts_http_header *headers, size_t nheaders, const char *body, size_t body_len,
                      ts_arena *arena, ts_http_resp *resp) {
  resp->status = 200;
  resp->content_type = "application/json";
  resp->done_data = NULL;
  resp->nheaders = 0;
  ts_http_req req = {.method = parse_method(method), .path = path, .body = body, .body_len = body_len,
                     .arena = arena, .start = ts_http_now(), .headers_ = headers, .nheaders_ = nheaders};
  unsigned allow = 0;
  const ts_http_route *r = match_route(routes, nroutes, req.method, path, req.params, &req.nparams, &allow);
  if (!r && allow) {
    ts_http_resp_error(resp, 405, "method %s not allowed for %s", method, path);
    allow_header(resp, allow);
  } else if (!r) {
    ts_http_resp_error(resp, 404, "no route for %s %s", method, path);
  } else {
    req.route_data = r->data;
    r->handler(ctx, &req, resp);
  }
  if (resp->body->failed) ts_http_resp_error(resp, 500, "response larger than the limit of %zu bytes", resp->body->max);
}


/* Queues resp on the connection; `close` forces "Connection: close". */
static enum MHD_Result send_resp(ts_http_server *s, struct MHD_Connection *mc, ts_http_resp *resp,
                                 bool close_conn) {
  if (resp->body->failed)
    ts_http_resp_error(resp, 500, "response larger than the limit of %zu bytes", s->cfg.max_response_bytes);
  if (resp->body->failed) { /* even the error did not fit: send it bare */
    ts_jw_reset(resp->body);
    resp->body->failed = false;
  }
  struct MHD_Response *r =
      MHD_create_response_from_buffer(resp->body->len, resp->body->buf, MHD_RESPMEM_MUST_COPY);
  if (!r) return MHD_NO;
  MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, resp->content_type);
  for (int i = 0; i < resp->nheaders; i++)
    MHD_add_response_header(r, resp->headers[i].name, resp->headers[i].value);
  if (close_conn || atomic_load_explicit(&s->closing, memory_order_relaxed))
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
  enum MHD_Result ret = MHD_queue_response(mc, (unsigned)resp->status, r);
  MHD_destroy_response(r);
  return ret;
}

/* Runs the handler (or the early error) and queues the answer. */
static enum MHD_Result finish(ts_http_server *s, conn *c, struct MHD_Connection *mc, const char *url,
                              bool close_conn) {
  set_deadline(c, 0); /* the request is in: no read deadline while it is answered */
  scratch *sc = get_scratch(s);
  if (!sc) return MHD_NO;
  ts_jw_reset(&sc->out);
  /* Field by field: the header array is not zeroed on every request. */
  ts_http_resp resp;
  resp.status = 200;
  resp.content_type = "application/json";
  resp.body = &sc->out;
  resp.done_data = NULL;
  resp.nheaders = 0;
  if (c->early_status) {
    ts_http_resp_error(&resp, c->early_status, "%s", c->early_msg);
    if (c->early_status == 405) {
      unsigned allow = 0;
      route_find(s, c, url, &allow);
      allow_header(&resp, allow);
    }
  } else {
    ts_http_req req = {
        .method = c->method,
        .path = url,
        .nparams = c->nparams,
        .body = c->body,
        .body_len = c->body_len,
        .arena = &sc->arena,
        .start = c->start,
        .route_data = c->route->data,
        .conn_ = mc,
    };
    memcpy(req.params, c->params, sizeof(req.params));
    c->route->handler(s->ctx, &req, &resp);
  }
  enum MHD_Result ret = send_resp(s, mc, &resp, close_conn);
  if (s->cfg.on_done)
    s->cfg.on_done(s->ctx, c->route, resp.status, c->received, sc->out.len,
                   ts_http_now() - c->start, resp.done_data);
  ts_arena_reset(&sc->arena);
  if (sc->out.cap > KEEP_OUT_BYTES) ts_jw_free(&sc->out);
  if (c->body_cap > KEEP_BODY_BYTES) {
    free(c->body);
    c->body = NULL;
    c->body_cap = 0;
  }
  c->body_len = 0;
  return ret;
}

/* ---- MHD callbacks ---- */

static void set_early(conn *c, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_early(conn *c, int status, const char *fmt, ...) {
  if (c->early_status) return; /* the first problem found is the one reported */
  c->early_status = status;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(c->early_msg, sizeof(c->early_msg), fmt, ap);
  va_end(ap);
}

/* Framing headers seen in one request, for the request-smuggling checks. */
typedef struct framing {
  int ncl, nte;
  const char *cl;     /* first Content-Length value */
  bool cl_differ;     /* another Content-Length with a different value */
  bool cl_bad;        /* a Content-Length that is not just digits (e.g. folded) */
  bool te_other;      /* a Transfer-Encoding other than "chunked" */
  bool bad_name;      /* whitespace before the colon */
} framing;

static enum MHD_Result framing_cb(void *cls, enum MHD_ValueKind kind, const char *key, const char *value) {
  (void)kind;
  framing *f = cls;
  size_t n = strlen(key);
  if (n && (key[n - 1] == ' ' || key[n - 1] == '\t')) f->bad_name = true;
  /* Every check below is about a name starting with c or t: skip the rest
   * (four case-insensitive compares) for all other headers. */
  char c0 = (char)(key[0] | 0x20);
  if (c0 != 'c' && c0 != 't') return MHD_YES;
  /* libmicrohttpd 0.9.75 turns an obs-fold continuation line into a suffix
   * of the header name ("Content-Length: 2\r\n 5" becomes
   * "Content-Length5: 2"), silently dropping the framing header. No real
   * header starts with these names, so such a name is refused. */
  if ((n > 14 && !strncasecmp(key, "content-length", 14)) || (n > 17 && !strncasecmp(key, "transfer-encoding", 17)))
    f->bad_name = true;
  if (!strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH)) {
    if (!value || !*value || value[strspn(value, "0123456789")]) f->cl_bad = true;
    if (f->ncl++ == 0) f->cl = value;
    else if (strcmp(f->cl, value ? value : "")) f->cl_differ = true;
  } else if (!strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING)) {
    f->nte++;
    if (!value || strcasecmp(value, "chunked")) f->te_other = true;
  }
  return MHD_YES;
}

/* RFC 9112 6.1, 6.3, 5.1: a request whose body length is ambiguous must be
 * refused and its connection closed, or a proxy in front of us and this
 * server could disagree on where the next request starts (smuggling).
 * libmicrohttpd 0.9.75 does not refuse these by itself. */
static const char *framing_error(struct MHD_Connection *mc, framing *out) {
  framing f = {0};
  MHD_get_connection_values(mc, MHD_HEADER_KIND, framing_cb, &f);
  *out = f;
  if (f.bad_name) return "a malformed framing header name (whitespace before the colon or a folded line)";
  if (f.nte && f.ncl) return "both Content-Length and Transfer-Encoding";
  if (f.cl_differ) return "several different Content-Length values";
  if (f.cl_bad) return "a Content-Length that is not a decimal number";
  if (f.nte > 1 || f.te_other) return "a Transfer-Encoding other than a single \"chunked\"";
  return NULL;
}

/* Body bytes we are willing to read and throw away to answer an error
 * cleanly; beyond this the answer goes out at once and the connection closes. */
static size_t discard_cap(const ts_http_server *s) {
  size_t m = s->cfg.max_body_bytes;
  return m > ((size_t)1 << 30) ? m : m * 4 + ((size_t)1 << 20);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *mc, const char *url,
                                  const char *method, const char *version, const char *data,
                                  size_t *data_size, void **req_cls) {
  (void)version;
  ts_http_server *s = cls;
  conn *c = *req_cls;
  if (!c) {
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    c = ci ? ci->socket_context : NULL;
    if (!c) return MHD_NO;
    *req_cls = c;
    atomic_fetch_add_explicit(&s->inflight, 1, memory_order_relaxed);
    /* The deadline set when the request line arrived stays: the body too
     * must arrive within read_timeout_s of it. finish() clears it. */
    set_idle(c, false);
    c->active = true;
    c->start = ts_http_now();
    c->route = NULL;
    c->nparams = 0;
    c->early_status = 0;
    c->body_len = 0;
    c->received = 0;
    c->method = parse_method(method);
    /* Slow clients: from now on the whole request must keep arriving within
     * the read timeout (the idle keep-alive timeout applies between requests). */
    if (s->switch_timeouts && s->cfg.read_timeout_s)
      MHD_set_connection_option(mc, MHD_CONNECTION_OPTION_TIMEOUT, s->cfg.read_timeout_s);
    unsigned allow = 0;
    c->route = route_find(s, c, url, &allow);
    if (c->over)
      set_early(c, 503, "server overloaded: more than %u open connections", s->cfg.max_connections);
    else if (!c->route && allow)
      set_early(c, 405, "method %s not allowed for %s", method, url);
    else if (!c->route)
      set_early(c, 404, "no route for %s %s", method, url);
    if (c->nul_in_target) {
      c->early_status = 0; /* whatever the cut path matched, the target is malformed */
      set_early(c, 400, "the request target contains an encoded NUL byte (%%00)");
    }
    /* One pass over the headers checks the framing and finds Content-Length. */
    framing fr;
    const char *bad_framing = framing_error(mc, &fr);
    if (bad_framing) {
      c->early_status = 0;
      set_early(c, 400, "ambiguous request framing: %s", bad_framing);
      return finish(s, c, mc, url, true);
    }
    unsigned long long declared = fr.cl ? strtoull(fr.cl, NULL, 10) : 0;
    if (declared > s->cfg.max_body_bytes) {
      set_early(c, 413, "request body of %llu bytes is larger than the limit of %zu bytes", declared,
                s->cfg.max_body_bytes);
      /* Too big even to discard politely, or a client waiting for
       * "100 Continue" before it sends the body: answer now (no body byte is
       * in flight, so no reset) and close. */
      const char *expect = MHD_lookup_connection_value(mc, MHD_HEADER_KIND, MHD_HTTP_HEADER_EXPECT);
      if (declared > discard_cap(s) || (expect && !strcasecmp(expect, "100-continue")))
        return finish(s, c, mc, url, true);
    }
    /* Even without a body the answer waits for the next call: MHD closes a
     * keep-alive connection whose response was queued before the request
     * was completely read. */
    return MHD_YES;
  }
  if (*data_size) {
    size_t n = *data_size;
    *data_size = 0;
    c->received += n;
    /* MHD cannot queue an answer while a body is still arriving, so the two
     * cases below (a client too slow to send its body, a body too large even
     * to discard) end the connection instead of answering. */
    if (past_deadline(c)) return MHD_NO;
    if (c->received > s->cfg.max_body_bytes) {
      set_early(c, 413, "request body larger than the limit of %zu bytes", s->cfg.max_body_bytes);
      if (c->received > discard_cap(s)) return MHD_NO;
      return MHD_YES;
    }
    if (c->early_status) return MHD_YES; /* discarding */
    if (c->body_len + n > c->body_cap) {
      size_t cap = c->body_cap ? c->body_cap : 4096;
      while (cap < c->body_len + n) cap *= 2;
      if (cap > s->cfg.max_body_bytes) cap = s->cfg.max_body_bytes;
      char *nb = realloc(c->body, cap);
      if (!nb) {
        set_early(c, 503, "out of memory reading the request body");
        return MHD_YES;
      }
      c->body = nb;
      c->body_cap = cap;
    }
    memcpy(c->body + c->body_len, data, n);
    c->body_len += n;
    return MHD_YES;
  }
  return finish(s, c, mc, url, false);
}

static void on_completed(void *cls, struct MHD_Connection *mc, void **req_cls,
                         enum MHD_RequestTerminationCode toe) {
  (void)toe;
  ts_http_server *s = cls;
  conn *c = *req_cls;
  if (!c || !c->active) return;
  c->active = false;
  *req_cls = NULL;
  /* Back from the read timeout to the idle one, also when that is 0 (none). */
  if (s->switch_timeouts && s->cfg.read_timeout_s)
    MHD_set_connection_option(mc, MHD_CONNECTION_OPTION_TIMEOUT, s->cfg.idle_timeout_s);
  set_waiting(c, s->cfg.idle_timeout_s);
  atomic_fetch_sub_explicit(&s->inflight, 1, memory_order_relaxed);
}

/* The request line arrived: the rest of the head has read_timeout_s. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *mc) {
  ts_http_server *s = cls;
  const union MHD_ConnectionInfo *ci = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
  conn *c = ci ? ci->socket_context : NULL;
  if (c) {
    /* This is the target before percent-decoding: libmicrohttpd decodes %00
     * into a NUL that would silently cut the path handed to the router. */
    c->nul_in_target = uri && strstr(uri, "%00") != NULL;
    set_deadline(c, s->cfg.read_timeout_s);
    set_idle(c, false);
  }
  return NULL; /* keeps *req_cls NULL for on_request's first call */
}

/* Every 250 ms: shut down connections past their deadline, and, while all
 * connection slots are taken, connections idle for more than a second. shutdown() (not
 * close) makes libmicrohttpd see the end of the stream on its own thread and
 * clean up as usual. The list lock is also taken by on_connection's close
 * notification, so a conn in the list still owns its socket; the peer
 * address is compared as well, as a guard against a reused descriptor. */
static void *reaper_main(void *arg) {
  ts_http_server *s = arg;
  pthread_mutex_lock(&s->conn_lock);
  while (!s->reaper_stop) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += 250 * 1000 * 1000;
    if (ts.tv_nsec >= 1000000000L) {
      ts.tv_sec++;
      ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&s->reaper_cond, &s->conn_lock, &ts);
    if (s->reaper_stop) break;
    long long now = now_ns();
    bool full = atomic_load_explicit(&s->connections, memory_order_relaxed) >= s->cfg.max_connections;
    for (conn *c = s->conns; c; c = c->next) {
      long long d = atomic_load_explicit(&c->deadline_ns, memory_order_relaxed);
      long long idle = atomic_load_explicit(&c->idle_ns, memory_order_relaxed);
      bool shed = full && idle && now - idle > SHED_IDLE_NS;
      if (c->fd < 0 || (!shed && (!d || now < d))) continue;
      struct sockaddr_storage peer;
      socklen_t pl = sizeof(peer);
      if (getpeername(c->fd, (struct sockaddr *)&peer, &pl) == 0 && pl == c->peer_len && !memcmp(&peer, &c->peer, pl))
        shutdown(c->fd, SHUT_RDWR);
      atomic_store_explicit(&c->deadline_ns, 0, memory_order_relaxed);
      atomic_store_explicit(&c->idle_ns, 0, memory_order_relaxed);
    }
  }
  pthread_mutex_unlock(&s->conn_lock);
  return NULL;
}

static void on_connection(void *cls, struct MHD_Connection *mc, void **socket_ctx,
                          enum MHD_ConnectionNotificationCode toe) {
  ts_http_server *s = cls;
  if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
    conn *c = calloc(1, sizeof(*c));
    unsigned n = atomic_fetch_add_explicit(&s->connections, 1, memory_order_relaxed) + 1;
    if (c) {
      c->srv = s;
      c->over = n > s->cfg.max_connections;
      const union MHD_ConnectionInfo *ci = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CONNECTION_FD);
      c->fd = ci ? ci->connect_fd : -1;
      c->peer_len = sizeof(c->peer);
      if (c->fd < 0 || getpeername(c->fd, (struct sockaddr *)&c->peer, &c->peer_len)) c->fd = -1;
      set_waiting(c, s->cfg.idle_timeout_s);
      pthread_mutex_lock(&s->conn_lock);
      c->next = s->conns;
      if (s->conns) s->conns->prev = c;
      s->conns = c;
      pthread_mutex_unlock(&s->conn_lock);
    }
    *socket_ctx = c;
  } else if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
    conn *c = *socket_ctx;
    if (c) {
      pthread_mutex_lock(&s->conn_lock);
      if (c->prev) c->prev->next = c->next;
      else s->conns = c->next;
      if (c->next) c->next->prev = c->prev;
      pthread_mutex_unlock(&s->conn_lock);
      free(c->body);
      free(c);
    }
    *socket_ctx = NULL;
    atomic_fetch_sub_explicit(&s->connections, 1, memory_order_relaxed);
  }
}

/* ---- lifecycle ---- */

static void destroy_locks(ts_http_server *s) {
  pthread_mutex_destroy(&s->scratch_lock);
  pthread_mutex_destroy(&s->conn_lock);
  pthread_cond_destroy(&s->reaper_cond);
}

static int bind_listener(const ts_http_config *cfg, int *fd_out, uint16_t *port_out, ts_error *err) {
  const char *host = cfg->host && *cfg->host ? cfg->host : "0.0.0.0";
  char port[8];
  snprintf(port, sizeof(port), "%u", (unsigned)cfg->port);
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
  struct addrinfo *res = NULL;
  int rc = getaddrinfo(host, port, &hints, &res);
  if (rc) return ts_error_set(err, TS_EIO, "cannot resolve listen address '%s': %s", host, gai_strerror(rc));
  int fd = -1, e = 0;
  for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
    if (fd < 0) {
      e = errno;
      continue;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, cfg->listen_backlog > 0 ? cfg->listen_backlog : 1024) == 0)
      break;
    e = errno;
    close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  if (fd < 0) return ts_error_set(err, TS_EIO, "cannot listen on %s:%u: %s", host, (unsigned)cfg->port, strerror(e));
  struct sockaddr_storage ss;
  socklen_t sl = sizeof(ss);
  getsockname(fd, (struct sockaddr *)&ss, &sl);
  *port_out = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                       : ntohs(((struct sockaddr_in *)&ss)->sin_port);
  *fd_out = fd;
  return 0;
}

int ts_http_server_start(const ts_http_config *cfg, const ts_http_route *routes, size_t n, void *ctx,
                         ts_http_server **out, ts_error *err) {
  *out = NULL;
  if (!cfg || !routes || !n) return ts_error_set(err, TS_EINVAL, "http: no routes");
  if (!cfg->max_body_bytes || !cfg->max_header_bytes || !cfg->max_connections || !cfg->max_response_bytes ||
      !cfg->max_request_memory)
    return ts_error_set(err, TS_EINVAL, "http: every limit must be positive");
  if (cfg->max_header_bytes < 1024)
    return ts_error_set(err, TS_EINVAL, "http: max header bytes must be at least 1024 (got %zu)", cfg->max_header_bytes);
  ts_http_server *s = calloc(1, sizeof(*s));
  if (!s) return ts_error_set(err, TS_ENOMEM, "http: out of memory");
  s->cfg = *cfg;
  if (s->cfg.threads <= 0) {
    long nc = sysconf(_SC_NPROCESSORS_ONLN);
    s->cfg.threads = nc > 0 ? (int)nc : 1;
  }
  s->routes = routes;
  s->nroutes = n;
  s->ctx = ctx;
  pthread_mutex_init(&s->scratch_lock, NULL);
  pthread_mutex_init(&s->conn_lock, NULL);
  pthread_cond_init(&s->reaper_cond, NULL);
  int rc = bind_listener(cfg, &s->listen_fd, &s->port, err);
  if (rc) {
    destroy_locks(s);
    free(s);
    return rc;
  }
  /* The hard limit leaves room above the soft one so that connections just
   * over it can still be told 503 (quickly) instead of being dropped. */
  unsigned hard = cfg->max_connections + cfg->max_connections / 8 + 16;
  /* MHD's own timeout measures inactivity only; the reaper enforces the read
   * deadline (request line to last body byte) and the idle deadline. With
   * both limits on, MHD's timeout stays fixed at the larger one, a backstop
   * for the answering phase too, so no request pays for switching it (each
   * switch takes a lock and moves the connection between MHD's timeout
   * lists). With one of them off (0 = no limit) it is switched per phase as
   * that phase's limit. */
  unsigned mhd_timeout = cfg->idle_timeout_s;
  s->switch_timeouts = !(cfg->idle_timeout_s && cfg->read_timeout_s);
  if (!s->switch_timeouts && cfg->read_timeout_s > mhd_timeout) mhd_timeout = cfg->read_timeout_s;
  unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_TURBO | MHD_USE_ITC | MHD_USE_SUPPRESS_DATE_NO_CLOCK;
  /* The connection memory pool holds the request line and headers (and the
   * read buffer), so its size is the header limit; MHD answers 431 beyond. */
  struct MHD_OptionItem opts[] = {
      {MHD_OPTION_LISTEN_SOCKET, s->listen_fd, NULL},
      {MHD_OPTION_CONNECTION_LIMIT, (intptr_t)hard, NULL},
      {MHD_OPTION_CONNECTION_TIMEOUT, (intptr_t)mhd_timeout, NULL},
      {MHD_OPTION_CONNECTION_MEMORY_LIMIT, (intptr_t)cfg->max_header_bytes, NULL},
      {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, s},
      {MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)on_connection, s},
      {MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)on_uri, s},
      {MHD_OPTION_THREAD_POOL_SIZE, s->cfg.threads > 1 ? s->cfg.threads : 0, NULL},
      {MHD_OPTION_END, 0, NULL},
  };
  s->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s, MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
  if (!s->daemon) {
    close(s->listen_fd);
    destroy_locks(s);
    free(s);
    return ts_error_set(err, TS_EINTERNAL, "http: libmicrohttpd failed to start (%d threads)", cfg->threads);
  }
  if (pthread_create(&s->reaper, NULL, reaper_main, s) == 0) {
    s->reaper_running = true;
  } else {
    ts_http_server_stop(s);
    return ts_error_set(err, TS_EINTERNAL, "http: cannot start the slow-client reaper thread");
  }
  *out = s;
  return 0;
}

uint16_t ts_http_server_port(const ts_http_server *s) { return s->port; }

unsigned ts_http_server_inflight(const ts_http_server *s) {
  return atomic_load_explicit(&((ts_http_server *)s)->inflight, memory_order_relaxed);
}

unsigned ts_http_server_connections(const ts_http_server *s) {
  return atomic_load_explicit(&((ts_http_server *)s)->connections, memory_order_relaxed);
}

void ts_http_server_quiesce(ts_http_server *s) {
  if (atomic_exchange(&s->closing, true)) return;
  MHD_socket fd = MHD_quiesce_daemon(s->daemon);
  if (fd != MHD_INVALID_SOCKET) {
    /* Connections the kernel already completed but MHD had not accepted yet
     * would be reset by close(): accept them here and hand them to MHD, so
     * every client that got a connection also gets its answer. */
    for (;;) {
      struct sockaddr_storage ss;
      socklen_t sl = sizeof(ss);
      int c = accept4(fd, (struct sockaddr *)&ss, &sl, SOCK_CLOEXEC | SOCK_NONBLOCK);
      if (c < 0) {
        if (errno == EINTR) continue;
        break;
      }
      if (MHD_add_connection(s->daemon, c, (struct sockaddr *)&ss, sl) != MHD_YES) close(c);
    }
    /* libmicrohttpd's worker threads may still hold the quiesced socket in
     * their epoll sets until MHD_stop_daemon (microhttpd.h: do not close it
     * before), and closing it here raced with them (seen by TSan). shutdown()
     * takes it out of LISTEN at once, so new connections are refused, while
     * the descriptor stays ours until ts_http_server_stop closes it. */
    shutdown(fd, SHUT_RDWR);
    s->listen_fd = fd;
    s->listen_quiesced = true;
  } else {
    s->listen_fd = -1;
  }
}

/* Idle keep-alive connections would otherwise hold shutdown until the
 * deadline: once nothing has been in flight for this long, the remaining
 * connections are closed by ts_http_server_stop. Clients were told
 * "Connection: close" on every answer since quiesce. */
#define IDLE_SETTLE_S 0.25

bool ts_http_server_wait_idle(ts_http_server *s, double deadline) {
  double quiet_since = -1;
  for (;;) {
    double now = ts_http_now();
    unsigned inflight = ts_http_server_inflight(s);
    if (inflight == 0 && ts_http_server_connections(s) == 0) return true;
    if (inflight) quiet_since = -1;
    else if (quiet_since < 0) quiet_since = now;
    else if (now - quiet_since >= IDLE_SETTLE_S) return true;
    if (now >= deadline) return inflight == 0;
    struct timespec ts = {0, 5 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
}

void ts_http_server_stop(ts_http_server *s) {
  if (!s) return;
  if (s->reaper_running) {
    pthread_mutex_lock(&s->conn_lock);
    s->reaper_stop = true;
    pthread_cond_signal(&s->reaper_cond);
    pthread_mutex_unlock(&s->conn_lock);
    pthread_join(s->reaper, NULL);
  }
  MHD_stop_daemon(s->daemon);
  /* Before quiesce the daemon owns the listening socket and MHD_stop_daemon
   * closes it; after quiesce it is ours to close, now that no thread uses it. */
  if (s->listen_quiesced && s->listen_fd >= 0) close(s->listen_fd);
  scratch *sc = s->scratches;
  while (sc) {
    scratch *next = sc->next;
    ts_arena_free(&sc->arena);
    ts_jw_free(&sc->out);
    free(sc);
    sc = next;
  }
  destroy_locks(s);
  free(s);
}
