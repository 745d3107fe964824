/* Unit tests for the request deadlines of src/http on a live loopback server:
 * the read timeout runs from the request line to the last body byte (a body
 * that stalls, or trickles, is cut even though libmicrohttpd's inactivity
 * timeout is the longer idle timeout), it stops once the request is in (a
 * slow handler is not cut), and between requests only the idle timeout
 * applies. Each case waits at most a few seconds. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "http/http.h"

static void h_echo(void *ctx, ts_http_req *req, ts_http_resp *resp) {
  (void)ctx;
  char buf[64];
  snprintf(buf, sizeof buf, "{\"len\":%zu}", req->body_len);
  ts_jw_lit(resp->body, buf);
}

/* A handler slower than the read timeout of the servers below. */
static void h_slow(void *ctx, ts_http_req *req, ts_http_resp *resp) {
  (void)ctx;
  (void)req;
  struct timespec ts = {1, 600 * 1000 * 1000};
  nanosleep(&ts, NULL);
  ts_jw_lit(resp->body, "{\"slow\":true}");
}

static const ts_http_route routes[] = {
    {TS_HTTP_POST | TS_HTTP_GET, "/echo", h_echo, NULL},
    {TS_HTTP_GET, "/slow", h_slow, NULL},
};

static ts_http_server *start(unsigned read_s, unsigned idle_s) {
  ts_http_config c;
  ts_http_config_default(&c);
  c.host = "127.0.0.1";
  c.port = 0;
  c.threads = 2;
  c.read_timeout_s = read_s;
  c.idle_timeout_s = idle_s;
  ts_http_server *s = NULL;
  ts_error e;
  if (ts_http_server_start(&c, routes, 2, NULL, &s, &e)) fail_msg("start: %s", e.msg);
  return s;
}

static int dial(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  struct timeval tv = {8, 0}; /* bounds every read below */
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (connect(fd, (struct sockaddr *)&a, sizeof a)) {
    close(fd);
    return -1;
  }
  return fd;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void send_all(int fd, const char *p) {
  size_t n = strlen(p);
  assert_int_equal(send(fd, p, n, MSG_NOSIGNAL), (ssize_t)n);
}

/* Reads one response and returns its status (-2: the server closed). */
static int read_resp(int fd) {
  char buf[4096];
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
    if (got >= (size_t)(hend + 4 - buf) + blen) return atoi(buf + 9);
  }
}

/* Waits until the server closes fd; returns the seconds waited, or -1 when
 * it answered something or the read timed out instead. */
static double wait_closed(int fd, double t0) {
  char buf[256];
  ssize_t n = read(fd, buf, sizeof buf);
  if (n > 0 || (n < 0 && errno != ECONNRESET)) return -1;
  return now_s() - t0;
}

/* A body that stops arriving is cut by the read timeout (1 s), well before
 * the idle timeout (5 s), and gets no answer. */
static void test_stalled_body_cut(void **state) {
  (void)state;
  ts_http_server *s = start(1, 5);
  int fd = dial(ts_http_server_port(s));
  double t0 = now_s();
  send_all(fd, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly part of it");
  double waited = wait_closed(fd, t0);
  close(fd);
  assert_true(waited >= 0.7 && waited < 3.5);
  ts_http_server_stop(s);
}

/* A body trickled byte by byte keeps the connection active but is still cut
 * once the read timeout has passed since the request line. */
static void test_trickled_body_cut(void **state) {
  (void)state;
  ts_http_server *s = start(1, 5);
  int fd = dial(ts_http_server_port(s));
  double t0 = now_s();
  send_all(fd, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n");
  bool cut = false;
  for (int i = 0; i < 40 && !cut; i++) {
    if (send(fd, "z", 1, MSG_NOSIGNAL) != 1) cut = true;
    struct timespec ts = {0, 100 * 1000 * 1000};
    nanosleep(&ts, NULL);
    char b;
    if (recv(fd, &b, 1, MSG_DONTWAIT) == 0) cut = true;
  }
  double waited = now_s() - t0;
  close(fd);
  assert_true(cut);
  assert_true(waited >= 0.7 && waited < 3.5);
  ts_http_server_stop(s);
}

/* Once the request is in, the read timeout no longer applies: a handler
 * slower than it answers, and the keep-alive connection then serves another
 * request although the read timeout has long passed since the first one. */
static void test_slow_handler_and_keepalive(void **state) {
  (void)state;
  ts_http_server *s = start(1, 5);
  int fd = dial(ts_http_server_port(s));
  send_all(fd, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
  assert_int_equal(read_resp(fd), 200);
  struct timespec ts = {1, 300 * 1000 * 1000};
  nanosleep(&ts, NULL); /* idle, longer than the read timeout */
  send_all(fd, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc");
  assert_int_equal(read_resp(fd), 200);
  close(fd);
  ts_http_server_stop(s);
}

/* Idle timeout 0 (no limit) with a read timeout: idle connections stay open,
 * a stalled body is still cut. */
static void test_no_idle_limit(void **state) {
  (void)state;
  ts_http_server *s = start(1, 0);
  int fd = dial(ts_http_server_port(s));
  struct timespec ts = {1, 500 * 1000 * 1000};
  nanosleep(&ts, NULL);
  send_all(fd, "GET /echo HTTP/1.1\r\nHost: x\r\n\r\n");
  assert_int_equal(read_resp(fd), 200);
  nanosleep(&ts, NULL);
  double t0 = now_s();
  send_all(fd, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nab");
  double waited = wait_closed(fd, t0);
  close(fd);
  assert_true(waited >= 0.7 && waited < 3.5);
  ts_http_server_stop(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_stalled_body_cut),
      cmocka_unit_test(test_trickled_body_cut),
      cmocka_unit_test(test_slow_handler_and_keepalive),
      cmocka_unit_test(test_no_idle_limit),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
