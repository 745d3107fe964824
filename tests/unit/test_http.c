/* Unit tests for src/http: route patterns, the arena, and a live server on a
 * loopback port with test routes (status codes, limits, keep-alive,
 * overload, quiesce). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <cmocka.h>

#include "http/arena.h"
#include "http/http.h"

static void test_match(void **state) {
  (void)state;
  ts_http_slice p[TS_HTTP_MAX_PARAMS];
  int n = -1;
  assert_true(ts_http_match("/v2", "/v2", p, &n));
  assert_int_equal(n, 0);
  assert_false(ts_http_match("/v2", "/v2/", p, &n));
  assert_true(ts_http_match("/v2/models/{}/versions/{}/infer", "/v2/models/iris/versions/12/infer", p, &n));
  assert_int_equal(n, 2);
  assert_int_equal(p[0].len, 4);
  assert_memory_equal(p[0].ptr, "iris", 4);
  assert_int_equal(p[1].len, 2);
  assert_false(ts_http_match("/v2/models/{}/infer", "/v2/models//infer", p, &n));
  assert_false(ts_http_match("/v2/models/{}/infer", "/v2/models/a/b/infer", p, &n));
  assert_true(ts_http_match("/v1/models/{}:predict", "/v1/models/m1:predict", p, &n));
  assert_int_equal(p[0].len, 2);
  assert_false(ts_http_match("/v1/models/{}:predict", "/v1/models/:predict", p, &n));
  assert_false(ts_http_match("/v1/models/{}:predict", "/v1/models/m1:predictx", p, &n));
  assert_true(ts_http_match("/v2/models/{}", "/v2/models/ready", p, &n));
}

static void test_arena(void **state) {
  (void)state;
  ts_arena a;
  ts_arena_init(&a, 4096, 1 << 20);
  char *p = ts_arena_alloc(&a, 10);
  assert_non_null(p);
  assert_int_equal((uintptr_t)p % 16, 0);
  void *big = ts_arena_alloc(&a, 100000); /* its own block */
  assert_non_null(big);
  memset(big, 1, 100000);
  assert_null(ts_arena_alloc(&a, 2 << 20)); /* over the cap */
  assert_null(ts_arena_alloc_array(&a, SIZE_MAX / 2, 4)); /* overflow */
  ts_arena_reset(&a);
  assert_int_equal(a.used_total, 0);
  char *q = ts_arena_alloc(&a, 10);
  assert_ptr_equal(p, q); /* first block kept and reused */
  ts_arena_free(&a);
}

/* ---- live server ---- */

static void h_echo(void *ctx, ts_http_req *req, ts_http_resp *resp) {
  (void)ctx;
  char buf[64];
  snprintf(buf, sizeof buf, "{\"len\":%zu,\"p\":\"%.*s\"}", req->body_len, req->nparams ? (int)req->params[0].len : 0,
           req->nparams ? req->params[0].ptr : "");
  ts_jw_lit(resp->body, buf);
  void *mem = ts_arena_alloc(req->arena, 1000);
  if (!mem) ts_http_resp_error(resp, 500, "arena");
}

static void h_big(void *ctx, ts_http_req *req, ts_http_resp *resp) {
  (void)ctx;
  (void)req;
  for (int i = 0; i < 100000; i++) ts_jw_lit(resp->body, "xxxxxxxxxx");
}

static int done_count;
static void on_done(void *ctx, const ts_http_route *r, int status, size_t a, size_t b, double s, void *d) {
  (void)ctx, (void)r, (void)status, (void)a, (void)b, (void)s, (void)d;
  __atomic_add_fetch(&done_count, 1, __ATOMIC_RELAXED);
}

static const ts_http_route routes[] = {
    {TS_HTTP_POST | TS_HTTP_GET, "/echo/{}", h_echo, NULL},
    {TS_HTTP_GET, "/big", h_big, NULL},
};

static ts_http_server *start(unsigned max_conns) {
  ts_http_config c;
  ts_http_config_default(&c);
  c.host = "127.0.0.1";
  c.port = 0;
  c.threads = 2;
  c.max_body_bytes = 1000;
  c.max_header_bytes = 2048;
  c.max_connections = max_conns;
  c.max_response_bytes = 100000;
  c.on_done = on_done;
  ts_http_server *s = NULL;
  ts_error e;
  if (ts_http_server_start(&c, routes, 2, NULL, &s, &e)) fail_msg("start: %s", e.msg);
  return s;
}

static int dial(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  struct timeval tv = {5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (connect(fd, (struct sockaddr *)&a, sizeof a)) {
    close(fd);
    return -1;
  }
  return fd;
}

/* Sends `req` and reads one response; returns the status, body in `body`. */
static int roundtrip(int fd, const char *req, size_t len, char *body, size_t cap) {
  if (write(fd, req, len) != (ssize_t)len) return -1;
  static char buf[1 << 21];
  size_t got = 0;
  for (;;) {
    ssize_t n = read(fd, buf + got, sizeof buf - 1 - got);
    if (n <= 0) return -2;
    got += (size_t)n;
    buf[got] = 0;
    char *hend = strstr(buf, "\r\n\r\n");
    if (!hend) continue;
    const char *cl = strcasestr(buf, "Content-Length:");
    size_t blen = cl ? strtoul(cl + 15, NULL, 10) : 0;
    if (got < (size_t)(hend + 4 - buf) + blen) continue;
    int status = atoi(buf + 9);
    size_t copy = blen < cap - 1 ? blen : cap - 1;
    memcpy(body, hend + 4, copy);
    body[copy] = 0;
    return status;
  }
}

static int request(uint16_t port, const char *req, char *body, size_t cap) {
  int fd = dial(port);
  if (fd < 0) return -1;
  int st = roundtrip(fd, req, strlen(req), body, cap);
  close(fd);
  return st;
}

static void test_server_statuses(void **state) {
  (void)state;
  ts_http_server *s = start(64);
  uint16_t port = ts_http_server_port(s);
  assert_true(port > 0);
  char body[4096];
  assert_int_equal(request(port, "GET /echo/abc HTTP/1.1\r\nHost: x\r\n\r\n", body, sizeof body), 200);
  assert_string_equal(body, "{\"len\":0,\"p\":\"abc\"}");
  assert_int_equal(request(port, "POST /echo/q HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello", body, sizeof body), 200);
  assert_string_equal(body, "{\"len\":5,\"p\":\"q\"}");
  /* chunked body */
  assert_int_equal(request(port, "POST /echo/c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
                           body, sizeof body), 200);
  assert_string_equal(body, "{\"len\":5,\"p\":\"c\"}");
  assert_int_equal(request(port, "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n", body, sizeof body), 404);
  assert_non_null(strstr(body, "\"error\""));
  assert_int_equal(request(port, "POST /big HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nab", body, sizeof body), 405);
  assert_int_equal(request(port, "DELETE /big HTTP/1.1\r\nHost: x\r\n\r\n", body, sizeof body), 405);
  /* response over max_response_bytes -> 500 naming the limit */
  assert_int_equal(request(port, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n", body, sizeof body), 500);
  assert_non_null(strstr(body, "limit"));
  ts_http_server_quiesce(s);
  assert_true(ts_http_server_wait_idle(s, ts_http_now() + 5));
  ts_http_server_stop(s);
}

static void test_body_limit(void **state) {
  (void)state;
  ts_http_server *s = start(64);
  uint16_t port = ts_http_server_port(s);
  char body[4096];
  /* Over the limit, body sent: read and discarded, clean 413, connection kept. */
  static char req[8192];
  int hl = snprintf(req, sizeof req, "POST /echo/a HTTP/1.1\r\nHost: x\r\nContent-Length: 3000\r\n\r\n");
  memset(req + hl, 'z', 3000);
  int fd = dial(port);
  assert_int_equal(roundtrip(fd, req, (size_t)hl + 3000, body, sizeof body), 413);
  assert_non_null(strstr(body, "limit of 1000 bytes"));
  const char *again = "GET /echo/b HTTP/1.1\r\nHost: x\r\n\r\n";
  assert_int_equal(roundtrip(fd, again, strlen(again), body, sizeof body), 200); /* keep-alive survived */
  close(fd);
  /* chunked over the limit */
  fd = dial(port);
  hl = snprintf(req, sizeof req, "POST /echo/a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n800\r\n");
  memset(req + hl, 'y', 0x800);
  hl += 0x800;
  hl += snprintf(req + hl, sizeof req - (size_t)hl, "\r\n0\r\n\r\n");
  assert_int_equal(roundtrip(fd, req, (size_t)hl, body, sizeof body), 413);
  close(fd);
  /* A client that waits for 100-continue is told 413 instead of "go on". */
  assert_int_equal(request(port, "POST /echo/a HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5000\r\n\r\n",
                           body, sizeof body), 413);
  /* ... and a small body with Expect gets its 100 Continue and then 200. */
  fd = dial(port);
  const char *e1 = "POST /echo/e HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n";
  assert_int_equal(write(fd, e1, strlen(e1)), (ssize_t)strlen(e1));
  char cont[64] = "";
  ssize_t cn = read(fd, cont, sizeof cont - 1);
  assert_true(cn > 0 && !strncmp(cont, "HTTP/1.1 100", 12));
  assert_int_equal(roundtrip(fd, "abc", 3, body, sizeof body), 200);
  assert_string_equal(body, "{\"len\":3,\"p\":\"e\"}");
  close(fd);
  /* A huge declared length is answered at once, before any body byte. */
  assert_int_equal(request(port, "POST /echo/a HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999\r\n\r\n", body, sizeof body), 413);
  ts_http_server_stop(s);
}

static void test_header_limit(void **state) {
  (void)state;
  ts_http_server *s = start(64);
  uint16_t port = ts_http_server_port(s);
  static char req[8192];
  int n = snprintf(req, sizeof req, "GET /echo/a HTTP/1.1\r\nHost: x\r\nX-Big: ");
  memset(req + n, 'h', 4000);
  strcpy(req + n + 4000, "\r\n\r\n");
  char body[4096];
  int st = request(port, req, body, sizeof body);
  assert_true(st == 431 || st == 413 || st == 414);
  ts_http_server_stop(s);
}

static void test_overload_503(void **state) {
  (void)state;
  ts_http_server *s = start(2);
  uint16_t port = ts_http_server_port(s);
  char body[4096];
  int a = dial(port), b = dial(port);
  const char *g = "GET /echo/a HTTP/1.1\r\nHost: x\r\n\r\n";
  assert_int_equal(roundtrip(a, g, strlen(g), body, sizeof body), 200);
  assert_int_equal(roundtrip(b, g, strlen(g), body, sizeof body), 200);
  int c = dial(port);
  assert_int_equal(roundtrip(c, g, strlen(g), body, sizeof body), 503);
  assert_non_null(strstr(body, "overloaded"));
  close(c);
  close(a);
  close(b);
  ts_http_server_stop(s);
}

static void test_quiesce_refuses(void **state) {
  (void)state;
  ts_http_server *s = start(64);
  uint16_t port = ts_http_server_port(s);
  char body[256];
  int fd = dial(port);
  const char *g = "GET /echo/a HTTP/1.1\r\nHost: x\r\n\r\n";
  assert_int_equal(roundtrip(fd, g, strlen(g), body, sizeof body), 200); /* accepted */
  ts_http_server_quiesce(s);
  /* an existing connection is still served, told to close */
  assert_int_equal(roundtrip(fd, g, strlen(g), body, sizeof body), 200);
  close(fd);
  assert_int_equal(dial(port), -1); /* new connections refused */
  assert_true(ts_http_server_wait_idle(s, ts_http_now() + 5));
  assert_int_equal(ts_http_server_inflight(s), 0);
  ts_http_server_stop(s);
}

static void h_hdr(void *ctx, ts_http_req *req, ts_http_resp *resp) {
  (void)ctx;
  const char *v = ts_http_req_header(req, "x-thing");
  ts_jw_cstr(resp->body, v ? v : "(none)");
}

static void test_dispatch_without_sockets(void **state) {
  (void)state;
  static const ts_http_route r[] = {{TS_HTTP_POST, "/h/{}", h_hdr, NULL}, {TS_HTTP_GET, "/echo/{}", h_echo, NULL}};
  ts_jw w;
  ts_jw_init(&w, 1 << 16);
  ts_arena a;
  ts_arena_init(&a, 4096, 1 << 20);
  ts_http_resp resp = {.body = &w};
  ts_http_header hs[] = {{"X-Thing", "abc"}};
  ts_http_dispatch(r, 2, NULL, "POST", "/h/1", hs, 1, "", 0, &a, &resp);
  assert_int_equal(resp.status, 200);
  assert_int_equal(w.len, 5);
  assert_memory_equal(w.buf, "\"abc\"", 5);
  ts_jw_reset(&w);
  ts_http_dispatch(r, 2, NULL, "GET", "/h/1", NULL, 0, NULL, 0, &a, &resp);
  assert_int_equal(resp.status, 405);
  assert_int_equal(resp.nheaders, 1);
  assert_string_equal(resp.headers[0].value, "POST");
  ts_jw_reset(&w);
  ts_http_dispatch(r, 2, NULL, "HEAD", "/echo/zz", NULL, 0, NULL, 0, &a, &resp);
  assert_int_equal(resp.status, 200);
  ts_jw_reset(&w);
  ts_http_dispatch(r, 2, NULL, "GET", "/nope", NULL, 0, NULL, 0, &a, &resp);
  assert_int_equal(resp.status, 404);
  ts_arena_free(&a);
  ts_jw_free(&w);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_match),        cmocka_unit_test(test_arena),        cmocka_unit_test(test_server_statuses),
      cmocka_unit_test(test_body_limit),   cmocka_unit_test(test_header_limit), cmocka_unit_test(test_overload_503),
      cmocka_unit_test(test_quiesce_refuses), cmocka_unit_test(test_dispatch_without_sockets),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
