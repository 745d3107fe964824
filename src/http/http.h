/*
 * treeserve HTTP server: a generic HTTP/1.1 layer on libmicrohttpd that knows
 * nothing of models or JSON.
 *
 * The api/ module registers a table of routes (method + path pattern +
 * handler, like handlers in h2o); this layer owns everything about the
 * connection: accepting, keep-alive, reading the body into a per-connection
 * buffer, the limits (body bytes with a 413 answer, header bytes, open
 * connections with a quick 503 beyond the soft limit, idle keep-alive and
 * request read timeouts; a request still arriving after the read timeout, or
 * a body far beyond the limit, has its connection closed because MHD cannot
 * answer mid-body), routing (404/405), per-thread scratch memory, and
 * graceful shutdown (quiesce, drain in-flight requests, stop).
 *
 * Threading: libmicrohttpd runs `threads` worker threads, each with its own
 * epoll loop and listening on the same socket (MHD thread pool). A connection
 * stays on one thread for its whole life, and a handler runs to completion on
 * that thread; handlers must therefore be thread-safe and should not block.
 * Each worker thread has its own ts_http_scratch (arena + output buffer)
 * reused request after request, so the steady-state request path does no
 * malloc of its own.
 */
#ifndef TS_HTTP_HTTP_H
#define TS_HTTP_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http/arena.h"
#include "json/json.h"
#include "treeserve/error.h"

typedef struct ts_http_server ts_http_server;

/* Defaults for ts_http_config (each is a named, configurable limit). */
#define TS_HTTP_DEFAULT_MAX_BODY_BYTES ((size_t)16 << 20)   /* 16 MiB */
#define TS_HTTP_DEFAULT_MAX_HEADER_BYTES ((size_t)16 << 10) /* 16 KiB */
#define TS_HTTP_DEFAULT_MAX_CONNECTIONS 1024
#define TS_HTTP_DEFAULT_IDLE_TIMEOUT_S 60
#define TS_HTTP_DEFAULT_READ_TIMEOUT_S 30
#define TS_HTTP_DEFAULT_MAX_RESPONSE_BYTES ((size_t)256 << 20)
#define TS_HTTP_DEFAULT_MAX_REQUEST_MEMORY ((size_t)512 << 20)
/* Path parameters captured by "{}" in one route pattern. */
#define TS_HTTP_MAX_PARAMS 4
/* Extra response headers a handler may add. */
#define TS_HTTP_MAX_RESP_HEADERS 4

typedef enum ts_http_method {
  TS_HTTP_GET = 1,
  TS_HTTP_POST = 2,
  TS_HTTP_HEAD = 4, /* served by GET routes without a body */
  TS_HTTP_OTHER = 8
} ts_http_method;

typedef struct ts_http_slice {
  const char *ptr;
  size_t len;
} ts_http_slice;

/* A request header given to ts_http_dispatch. */
typedef struct ts_http_header {
  const char *name;
  const char *value;
} ts_http_header;

/* One request, valid during the handler call only. Everything points into
 * memory owned by the server. */
typedef struct ts_http_req {
  ts_http_method method;
  const char *path;       /* decoded path, NUL-terminated, without query */
  ts_http_slice params[TS_HTTP_MAX_PARAMS]; /* "{}" captures, in order */
  int nparams;
  const char *body;       /* may be NULL when body_len == 0 */
  size_t body_len;
  ts_arena *arena;        /* per-request memory, reset after the response */
  double start;           /* ts_http_now() when the headers arrived */
  const void *route_data; /* the matched route's `data` */
  struct MHD_Connection *conn_; /* internal: for ts_http_req_header() */
  const ts_http_header *headers_; /* internal: headers when conn_ is NULL */
  size_t nheaders_;
} ts_http_req;

/* A response under construction. The body is written into `body`, a bounded
 * writer owned by the worker thread (reused between requests) and copied
 * into libmicrohttpd's buffer when the handler returns. If body.failed is set
 * when the handler returns (the answer would cross max_response_bytes), the
 * layer answers 500 with an error naming the limit instead. */
typedef struct ts_http_resp {
  int status;                /* default 200 */
  const char *content_type;  /* static string; default "application/json" */
  ts_jw *body;
  void *done_data;           /* handed to on_done (e.g. per-stage timings);
                                may point into req->arena */
  struct {
    const char *name;        /* static string */
    char value[96];
  } headers[TS_HTTP_MAX_RESP_HEADERS];
  int nheaders;
} ts_http_resp;

/* A handler fills `resp`. `ctx` is the ctx given to ts_http_server_create. */
typedef void (*ts_http_handler)(void *ctx, ts_http_req *req, ts_http_resp *resp);

/* One route. `pattern` is a path where "{}" matches one or more bytes up to
 * the next '/' (or up to a literal suffix such as ":predict" that ends the
 * segment): "/v2/models/{}/versions/{}/infer", "/v1/models/{}:predict".
 * Routes are tried in order; the first whose pattern and method match wins.
 * A path that matches with another method gives 405 with an Allow header; no
 * match at all gives 404. */
typedef struct ts_http_route {
  unsigned methods;        /* TS_HTTP_GET | TS_HTTP_POST ... */
  const char *pattern;
  ts_http_handler handler;
  const void *data;        /* handed to the handler as req->route_data */
} ts_http_route;

/* Called once per finished request (after the response was queued), with the
 * route (NULL if none matched), status, body
 * sizes, seconds since the headers arrived and the handler's
 * resp->done_data. Runs on the worker thread; must be cheap. */
typedef void (*ts_http_done_fn)(void *ctx, const ts_http_route *route, int status, size_t req_bytes,
                                size_t resp_bytes, double seconds, void *done_data);

typedef struct ts_http_config {
  const char *host;          /* address to bind; NULL or "0.0.0.0" = any IPv4 */
  uint16_t port;             /* 0 = any free port (see ts_http_server_port) */
  int threads;               /* worker threads; <= 0 = number of cores */
  size_t max_body_bytes;     /* larger bodies get 413 */
  size_t max_header_bytes;   /* request line + headers; larger gets 431 */
  unsigned max_connections;  /* beyond: 503 then close; far beyond: refused */
  unsigned idle_timeout_s;   /* keep-alive connection with no request */
  unsigned read_timeout_s;   /* whole request (headers + body) must arrive within */
  size_t max_response_bytes; /* handler output cap */
  size_t max_request_memory; /* per-request arena cap */
  int listen_backlog;        /* 0 = 1024 */
  ts_http_done_fn on_done;   /* may be NULL */
} ts_http_config;

/* Fills `cfg` with the defaults above (host NULL, port 8080). */
void ts_http_config_default(ts_http_config *cfg);

/* Binds the listening socket and starts the worker threads. `routes` (n
 * entries) and `ctx` are borrowed and must outlive the server. On success
 * *out owns the running server. Errors: TS_EIO (bind/listen failed: the
 * message names the address and the reason), TS_EINVAL (bad config),
 * TS_ENOMEM, TS_EINTERNAL (libmicrohttpd refused to start). */
int ts_http_server_start(const ts_http_config *cfg, const ts_http_route *routes, size_t n,
                         void *ctx, ts_http_server **out, ts_error *err);

/* The port actually bound (useful with port 0). */
uint16_t ts_http_server_port(const ts_http_server *s);

/* Requests started and not yet finished, and open connections. Thread-safe. */
unsigned ts_http_server_inflight(const ts_http_server *s);
unsigned ts_http_server_connections(const ts_http_server *s);

/* Graceful shutdown, step 1: stop accepting (the listening socket is closed,
 * so new connections are refused); responses from now on carry
 * "Connection: close" so keep-alive clients move away after their current
 * request. Idempotent; thread-safe. */
void ts_http_server_quiesce(ts_http_server *s);

/* Step 2: waits until no request is in flight and either no connection is
 * open or none had a request in flight for 0.25 s (idle keep-alive
 * connections are then closed by stop), or until `deadline` (ts_http_now()
 * clock) passes. Returns true when nothing was in flight at the end. */
bool ts_http_server_wait_idle(ts_http_server *s, double deadline);

/* Stops the threads, closes every connection and frees the server (NULL is
 * fine). Requests still in flight are cut: quiesce and wait first. */
void ts_http_server_stop(ts_http_server *s);

/* Value of request header `name` (case-insensitive) or NULL. */
const char *ts_http_req_header(const ts_http_req *req, const char *name);

/* Sets status and a JSON body {"error": msg} (the error format of every
 * answer, including those the layer makes itself: 404, 405, 413, 503). */
void ts_http_resp_error(ts_http_resp *resp, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Adds a header; `name` must be a static string; value is copied (cut at 95). */
void ts_http_resp_header(ts_http_resp *resp, const char *name, const char *value);

/* Runs one request through routing (404, 405 with Allow, HEAD as GET) and
 * the handler, without sockets or limits: for fuzzing and tests. `headers`
 * (n entries) are what ts_http_req_header finds. resp->body must point to
 * the caller's writer (reset by the caller); arena is the request's memory
 * (reset by the caller afterwards). Fills resp like a served request. */
void ts_http_dispatch(const ts_http_route *routes, size_t nroutes, void *ctx, const char *method, const char *path,
                      const ts_http_header *headers, size_t nheaders, const char *body, size_t body_len,
                      ts_arena *arena, ts_http_resp *resp);

/* Matches `path` against a route pattern (see ts_http_route); on a match
 * fills params[0..*nparams) with slices of `path` and returns true. */
bool ts_http_match(const char *pattern, const char *path, ts_http_slice *params, int *nparams);

/* Monotonic clock in seconds. */
double ts_http_now(void);

#endif
