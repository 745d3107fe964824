/*
 * Shared pieces of the fuzz drivers: the fuzz model, and one HTTP request
 * through the api's routes without sockets (see fuzz_common.h).
 */
#include "fuzz_common.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/api.h"
#include "http/arena.h"
#include "http/http.h"
#include "json/json.h"
#include "metrics/metrics.h"
#include "repo/repo.h"

#ifndef TS_FUZZ_SRC
#define TS_FUZZ_SRC "."
#endif

/* Bounded so that one input cannot push the fuzzer past its RSS limit. */
#define FUZZ_ARENA_BLOCK ((size_t)64 << 10)
#define FUZZ_ARENA_MAX ((size_t)128 << 20)
#define FUZZ_RESPONSE_MAX ((size_t)32 << 20)
#define FUZZ_MAX_TOKENS 200000 /* keeps the token array small for big seeds */

void fuzz_fail(const char *file, int line, const char *what) {
  fprintf(stderr, "fuzz check failed at %s:%d: %s\n", file, line, what);
  abort();
}

const char *fuzz_model_path(void) {
  const char *p = getenv("TS_FUZZ_MODEL");
  return p && *p ? p : TS_FUZZ_SRC "/tests/fuzz/models/fuzz_model.txt";
}

const ts_model *fuzz_model(void) {
  static ts_model *m;
  if (!m) {
    ts_error err;
    if (ts_model_load_file(fuzz_model_path(), &m, &err)) {
      fprintf(stderr, "fuzz: cannot load the fuzz model: %s\n", err.msg);
      abort();
    }
  }
  return m;
}

/* ---- the api with one model ---- */

static struct {
  ts_metrics *metrics;
  ts_repo *repo;
  ts_api *api;
  const ts_http_route *routes;
  size_t nroutes;
  ts_arena arena;
  ts_jw out;
} H;

static void api_init(void) {
  ts_error err;
  if (ts_metrics_create(&(ts_metrics_config){.build_version = "fuzz"}, &H.metrics, &err)) goto fail;
  ts_repo_single single = {.name = "m", .path = fuzz_model_path()};
  if (ts_repo_create(&(ts_repo_config){.singles = &single, .nsingles = 1, .metrics = H.metrics}, &H.repo, &err))
    goto fail;
  if (ts_repo_reload(H.repo, TS_METRICS_TRIGGER_STARTUP, NULL, &err)) goto fail;
  if (!ts_repo_ready(H.repo)) {
    fprintf(stderr, "fuzz: the fuzz model did not load\n");
    abort();
  }
  if (ts_api_create(&(ts_api_config){.repo = H.repo, .metrics = H.metrics, .admin_token = "fuzz-token",
                                     .version = "fuzz", .max_tokens = FUZZ_MAX_TOKENS},
                    &H.api, &err))
    goto fail;
  H.routes = ts_api_routes(&H.nroutes);
  ts_arena_init(&H.arena, FUZZ_ARENA_BLOCK, FUZZ_ARENA_MAX);
  ts_jw_init(&H.out, FUZZ_RESPONSE_MAX);
  return;
fail:
  fprintf(stderr, "fuzz: api setup failed: %s\n", err.msg);
  abort();
}

/* True if s[0..n) is valid UTF-8 (RFC 3629: no overlong forms, no
 * surrogates, nothing above U+10FFFF). */
static bool utf8_valid(const unsigned char *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    unsigned c = s[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    size_t k;
    unsigned cp, min;
    if ((c & 0xE0) == 0xC0) k = 1, cp = c & 0x1F, min = 0x80;
    else if ((c & 0xF0) == 0xE0) k = 2, cp = c & 0x0F, min = 0x800;
    else if ((c & 0xF8) == 0xF0) k = 3, cp = c & 0x07, min = 0x10000;
    else return false;
    if (n - i <= k) return false;
    for (size_t j = 1; j <= k; j++) {
      if ((s[i + j] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (s[i + j] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += k + 1;
  }
  return true;
}

/* Checks that buf[0..len) is one JSON document in UTF-8. */
static void check_json(const char *buf, size_t len) {
#ifndef FUZZ_LAX_KNOWN_BUGS /* for long runs while a reported bug is open */
  if (!utf8_valid((const unsigned char *)buf, len))
    fprintf(stderr, "answer is not valid UTF-8: %.*s\n", (int)(len > 400 ? 400 : len), buf);
  FUZZ_CHECK(utf8_valid((const unsigned char *)buf, len));
#else
  if (!utf8_valid((const unsigned char *)buf, len)) return; /* the JSON reader refuses it too */
#endif
  size_t need = ts_json_max_tokens_for(len);
  ts_json_tok *toks = malloc(need * sizeof(*toks));
  FUZZ_CHECK(toks != NULL);
  ts_json_doc doc;
  ts_error err;
  int rc = ts_json_parse(&doc, buf, len, toks, (int)need, 64, &err);
  if (rc) fprintf(stderr, "invalid JSON answer (%s): %.*s\n", err.msg, (int)(len > 400 ? 400 : len), buf);
  FUZZ_CHECK(rc == 0);
  free(toks);
}

fuzz_answer fuzz_api_call(const char *method, const char *path, const fuzz_header *headers, size_t nheaders,
                          const char *body, size_t body_len) {
  if (!H.api) api_init();
  const ts_repo_entry *probe = NULL;
  ts_error err;
  if (ts_repo_acquire(H.repo, "m", 1, NULL, 0, &probe, &err) == 0) ts_repo_release(probe);
  else if (ts_repo_load_model(H.repo, "m", 1, &err)) {
    fprintf(stderr, "fuzz: reloading the model failed: %s\n", err.msg);
    abort();
  }

  /* The body in a buffer of its own exact size, so that ASan sees any read
   * past its end (or before its start). */
  char *own = NULL;
#ifdef FUZZ_LAX_KNOWN_BUGS /* long runs while the NULL-body report is open */
  static char empty_body[1];
  if (!body_len) own = empty_body;
#endif
  if (body_len) {
    own = malloc(body_len);
    FUZZ_CHECK(own != NULL);
    memcpy(own, body, body_len);
  }
  ts_jw_reset(&H.out);
  ts_http_resp resp = {.body = &H.out};
  double start = ts_http_now();
  ts_http_dispatch(H.routes, H.nroutes, H.api, method, path, headers, nheaders, own, body_len, &H.arena, &resp);
  /* the route for the metrics callback, as the server finds it */
  const ts_http_route *route = NULL;
  for (size_t i = 0; i < H.nroutes && !route; i++) {
    ts_http_slice params[TS_HTTP_MAX_PARAMS];
    int np = 0;
    if (ts_http_match(H.routes[i].pattern, path, params, &np)) {
      FUZZ_CHECK(np >= 0 && np <= TS_HTTP_MAX_PARAMS);
      for (int k = 0; k < np; k++) /* captures are non-empty slices of the path */
        FUZZ_CHECK(params[k].len > 0 && params[k].ptr >= path && params[k].ptr + params[k].len <= path + strlen(path));
      route = &H.routes[i];
    }
  }
  FUZZ_CHECK(resp.status >= 200 && resp.status <= 599);
  FUZZ_CHECK(resp.content_type != NULL);
  FUZZ_CHECK(resp.nheaders >= 0 && resp.nheaders <= TS_HTTP_MAX_RESP_HEADERS);
  size_t json_len = H.out.len;
  if (!strcmp(resp.content_type, "application/octet-stream")) {
    /* binary extension: the JSON header length is announced in a header */
    const char *hl = NULL;
    for (int i = 0; i < resp.nheaders; i++)
      if (!strcasecmp(resp.headers[i].name, "Inference-Header-Content-Length")) hl = resp.headers[i].value;
    FUZZ_CHECK(hl != NULL);
    char *end;
    unsigned long long v = strtoull(hl, &end, 10);
    FUZZ_CHECK(*end == 0 && v <= H.out.len);
    json_len = (size_t)v;
  }
  bool is_json = !strncmp(resp.content_type, "application/json", 16) || json_len != H.out.len;
  if (getenv("TS_FUZZ_VERBOSE")) /* for checking that seeds reach what they should */
    fprintf(stderr, "%s %s -> %d %.*s\n", method, path, resp.status, (int)(json_len > 300 ? 300 : json_len),
            H.out.buf ? H.out.buf : "");
  if (is_json && resp.status != 500) check_json(H.out.buf, json_len);
  ts_api_on_done(H.api, route, resp.status, body_len, H.out.len, ts_http_now() - start, resp.done_data);
  ts_arena_reset(&H.arena);
  if (body_len) free(own);
  return (fuzz_answer){resp.status, resp.content_type, H.out.len};
}
