/*
 * treeserve API: the route table and the small handlers (health, metadata,
 * metrics, OpenAPI, repository admin), plus the helpers shared with infer.c
 * and records.c. See api.h.
 */
#include "api/api_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/dtoa.h"
#include "base/log.h"

/* ---- shared helpers ---- */

static const struct {
  const char *name;
  int size;
} dtypes[TS__DT__COUNT] = {
    [TS__DT_BOOL] = {"BOOL", 1},     [TS__DT_UINT8] = {"UINT8", 1}, [TS__DT_UINT16] = {"UINT16", 2},
    [TS__DT_UINT32] = {"UINT32", 4}, [TS__DT_UINT64] = {"UINT64", 8}, [TS__DT_INT8] = {"INT8", 1},
    [TS__DT_INT16] = {"INT16", 2},   [TS__DT_INT32] = {"INT32", 4}, [TS__DT_INT64] = {"INT64", 8},
    [TS__DT_FP32] = {"FP32", 4},     [TS__DT_FP64] = {"FP64", 8},   [TS__DT_BYTES] = {"BYTES", 0},
};

int ts__api_dtype(const ts_json_doc *doc, int tok) {
  for (int i = 0; i < TS__DT__COUNT; i++)
    if (ts_json_str_eq(doc, tok, dtypes[i].name)) return i;
  return -1;
}

int ts__api_dtype_size(int dt) { return dt >= 0 && dt < TS__DT__COUNT ? dtypes[dt].size : 0; }
const char *ts__api_dtype_name(int dt) { return dt >= 0 && dt < TS__DT__COUNT ? dtypes[dt].name : "?"; }

/* Integer ranges per datatype (exact in double up to 2^53; wider values are
 * accepted as the double they round to, as numpy would convert them). */
static bool int_range(int dt, double v) {
  switch (dt) {
    case TS__DT_UINT8: return v >= 0 && v <= 255;
    case TS__DT_UINT16: return v >= 0 && v <= 65535;
    case TS__DT_UINT32: return v >= 0 && v <= 4294967295.0;
    case TS__DT_UINT64: return v >= 0 && v <= 18446744073709551615.0;
    case TS__DT_INT8: return v >= -128 && v <= 127;
    case TS__DT_INT16: return v >= -32768 && v <= 32767;
    case TS__DT_INT32: return v >= -2147483648.0 && v <= 2147483647.0;
    case TS__DT_INT64: return v >= -9223372036854775808.0 && v <= 9223372036854775807.0;
    default: return true;
  }
}

const char *ts__api_cell(const ts_model *m, int feature, const ts_json_doc *doc, int tok, int dtype,
                         ts_arena *arena, double *out) {
  const ts_json_tok *t = &doc->toks[tok];
  if (t->type == TS_JSON_STRING) {
    size_t n;
    const char *s = ts_json_raw(doc, tok, &n);
    if (memchr(s, '\\', n)) {
      char *u = ts_arena_alloc(arena, n + 1);
      if (!u || ts_json_unescape(doc, tok, u, n + 1, &n)) return "bad escape in string";
      s = u;
    }
    const char *const *names;
    if (ts_model_pandas_categories(m, feature, &names) >= 0) {
      *out = ts_model_pandas_code(m, feature, s, n);
      return NULL;
    }
    if (dtype != TS__DT_BYTES) return "expected a number, got a string";
    if (ts_parse_double(s, n, out)) return "string is neither a number nor a category of a pandas categorical feature";
    if (isinf(*out)) return "number out of the range of a double";
    return NULL;
  }
  if (t->type != TS_JSON_PRIMITIVE) return "expected a number";
  if (ts_json_is_null(doc, tok)) {
    *out = NAN;
    return NULL;
  }
  bool b;
  if (ts_json_is_bool(doc, tok, &b)) {
    if (dtype != TS__DT_BOOL) return "expected a number, got a boolean";
    *out = b ? 1.0 : 0.0;
    return NULL;
  }
  double v;
  if (ts_json_number(doc, tok, &v)) return "expected a number";
  /* JSON has no infinity: a literal like 1e400 overflowed, it is not a value. */
  if (isinf(v)) return "number out of the range of a double";
  switch (dtype) {
    case TS__DT_FP64: *out = v; return NULL;
    case TS__DT_FP32:
      /* 2^128 - 2^103 is the first value that rounds to infinity in float:
       * past it the number is not an FP32 value (and the cast would be
       * undefined in C), so it must not reach the model as inf. */
      if (fabs(v) >= 0x1.ffffffp+127) return "number out of the range of FP32";
      *out = (double)(float)v;
      return NULL;
    case TS__DT_BOOL: return "expected true or false";
    case TS__DT_BYTES: *out = v; return NULL; /* a number in a BYTES column: take it as is */
    default:
      if (v != floor(v)) return "expected an integer for an integer datatype";
      if (!int_range(dtype, v)) return "integer out of range of the datatype";
      *out = v;
      return NULL;
  }
}

int ts__api_known_keys(const ts_json_doc *doc, int obj, const char *const *known, const char *where, int idx,
                       const char *suffix, ts_http_resp *resp) {
  if (obj < 0 || doc->toks[obj].type != TS_JSON_OBJECT) return 0;
  int k = obj + 1;
  for (int i = 0; i < doc->toks[obj].size; i++, k = ts_json_skip(doc, k)) {
    bool found = false;
    for (const char *const *q = known; *q && !found; q++) found = ts_json_str_eq(doc, k, *q);
    if (found) continue;
    char list[256] = "";
    size_t used = 0;
    for (const char *const *q = known; *q; q++) {
      int w = snprintf(list + used, sizeof(list) - used, "%s%s", used ? ", " : "", *q);
      if (w < 0 || (size_t)w >= sizeof(list) - used) break;
      used += (size_t)w;
    }
    size_t n;
    const char *name = ts_json_raw(doc, k, &n);
    /* The object's name ("inputs[3].parameters") is built only here, on the
     * error path: the success path of every request goes through this. */
    char wname[64];
    if (idx >= 0) snprintf(wname, sizeof(wname), "%s[%d]%s", where, idx, suffix ? suffix : "");
    else snprintf(wname, sizeof(wname), "%s", where);
    ts_http_resp_error(resp, 422, "unknown key '%.*s' in %s (known: %s)", (int)(n > 64 ? 64 : n), name, wname, list);
    return -1;
  }
  return 0;
}

int ts__api_output_type(const char *s, size_t n) {
  static const struct {
    const char *name;
    ts_predict_type type;
  } outs[] = {{"predict", TS_PREDICT_VALUE}, {"value", TS_PREDICT_VALUE}, {"raw", TS_PREDICT_RAW},
              {"leaf", TS_PREDICT_LEAF},     {"contrib", TS_PREDICT_CONTRIB}};
  for (size_t i = 0; i < sizeof(outs) / sizeof(outs[0]); i++)
    if (strlen(outs[i].name) == n && !memcmp(outs[i].name, s, n)) return (int)outs[i].type;
  return -1;
}

const char *ts__api_output_name(ts_predict_type t) {
  switch (t) {
    case TS_PREDICT_RAW: return "raw";
    case TS_PREDICT_LEAF: return "leaf";
    case TS_PREDICT_CONTRIB: return "contrib";
    default: return "predict";
  }
}

void ts__api_no_explainer(ts_http_resp *resp, const ts_repo_entry *e, const char *what) {
  ts_http_resp_error(resp, 422,
                     "%s not available for model '%s' version %s: it has no SHAP explainer (linear trees, "
                     "\"explain\": false in its config.json, the server runs with --no-explain, or the explainer "
                     "could not be built: see the log line 'SHAP explainer not built')",
                     what, e->name, e->version_str);
}

/* The handlers validate a request completely before predicting, so an engine
 * failure is the server's, not the client's: 503 when memory ran out (the
 * explainer's scratch under load; retrying may work), else 500. */
static int engine_status(int rc) { return rc == TS_ENOMEM ? 503 : 500; }

int ts__api_predict(const ts_repo_entry *e, const ts_predict_opts *opts, const double *X, size_t N, size_t F,
                    double *out, ts_http_resp *resp) {
  ts_error err;
  if (opts->type == TS_PREDICT_CONTRIB) {
    if (!e->explainer) {
      ts__api_no_explainer(resp, e, "output 'contrib' is");
      return -1;
    }
    int rc = N ? ts_explain_rows(e->explainer, opts, X, N, F, out, &err) : 0;
    if (rc) {
      ts_http_resp_error(resp, engine_status(rc), "explanation failed: %s", err.msg);
      return -1;
    }
    return 0;
  }
  int rc = N ? ts_predict_rows(e->forest, opts, X, N, F, out, &err) : 0;
  if (rc) {
    ts_http_resp_error(resp, engine_status(rc), "prediction failed: %s", err.msg);
    return -1;
  }
  return 0;
}

int ts__api_iter_params(const ts_json_doc *doc, int obj, ts_predict_opts *opts, ts_http_resp *resp) {
  if (obj < 0) return 0;
  int si = ts_json_obj_get(doc, obj, "start_iteration");
  int ni = ts_json_obj_get(doc, obj, "num_iteration");
  int64_t v;
  if (si >= 0) {
    if (ts_json_int(doc, si, 0, INT32_MAX, &v)) {
      ts_http_resp_error(resp, 422, "parameters.start_iteration must be an integer >= 0");
      return -1;
    }
    opts->start_iteration = (int)v;
  }
  if (ni >= 0) {
    if (ts_json_int(doc, ni, INT32_MIN, INT32_MAX, &v)) {
      ts_http_resp_error(resp, 422, "parameters.num_iteration must be an integer (<= 0 means all)");
      return -1;
    }
    opts->num_iteration = (int)v;
  }
  return 0;
}

long ts__api_max_rows(const ts_api *api, const ts_repo_entry *e) {
  long lim = api->max_rows;
  if (e->config && e->config->max_rows > 0 && e->config->max_rows < lim) lim = e->config->max_rows;
  return lim;
}

int ts__api_parse_json(ts_api *api, ts_http_req *req, ts_http_resp *resp, const char *src, size_t len,
                       ts_json_doc *doc) {
  if (len == 0) {
    ts_http_resp_error(resp, 400, "empty request body: a JSON object is expected");
    return -1;
  }
  size_t need = ts_json_max_tokens_for(len);
  if (need > (size_t)api->max_tokens) need = (size_t)api->max_tokens;
  ts_json_tok *toks = ts_arena_alloc_array(req->arena, need, sizeof(ts_json_tok));
  if (!toks) {
    ts_http_resp_error(resp, 413, "request needs more memory than the per-request limit");
    return -1;
  }
  ts_error err;
  int rc = ts_json_parse(doc, src, len, toks, (int)need, api->max_depth, &err);
  if (rc) {
    ts_http_resp_error(resp, rc == TS_ELIMIT && strstr(err.msg, "tokens") ? 413 : 400, "%s", err.msg);
    return -1;
  }
  return 0;
}

static _Thread_local ts__api_done fallback_done; /* only when the arena is exhausted; metrics fields are approximate then */

ts__api_done *ts__api_begin(ts_api *api, ts_http_req *req, ts_http_resp *resp) {
  ts__api_done *d = ts_arena_alloc(req->arena, sizeof(*d));
  if (!d) d = &fallback_done;
  *d = (ts__api_done){.model = TS_METRICS_MODEL_NONE, .parse_s = -1, .predict_s = -1, .write_s = -1};
  ts_metrics_request_begin(api->metrics);
  resp->done_data = d;
  return d;
}

const ts_repo_entry *ts__api_acquire(ts_api *api, ts_http_req *req, ts_http_resp *resp, ts__api_done *done) {
  const ts_repo_entry *e = NULL;
  ts_error err;
  const char *ver = req->nparams > 1 ? req->params[1].ptr : NULL;
  size_t vlen = req->nparams > 1 ? req->params[1].len : 0;
  int rc = ts_repo_acquire(api->repo, req->params[0].ptr, req->params[0].len, ver, vlen, &e, &err);
  if (rc == 0) {
    done->model = e->metrics_id;
    return e;
  }
  ts_http_resp_error(resp, rc == TS_EBUSY ? 503 : 404, "%s", err.msg);
  return NULL;
}

/* ---- small handlers ---- */

static void h_server_meta(void *ctx, ts_http_req *req, ts_http_resp *resp) {
  ts_api *api = ctx;
  ts__api_begin(api, req, resp);
  ts_jw *w = resp->body;
  ts_jw_lit(w, "{\"name\":\"treeserve\",\"version\":");
  ts_jw_cstr(w, api->version);
  ts_jw_lit(w, api->admin_token ? ",\"extensions\":[\"binary_tensor_data\",\"model_repository\",\"records_api\"]}"
                                : ",\"extensions\":[\"binary_tensor_data\",\"records_api\"]}");
}

static void h_live(void *ctx, ts_http_req *req, ts_http_resp *resp) {
  ts__api_begin(ctx, req, resp);
  ts_jw_lit(resp->body, "{\"live\":true}");
}

static void h_ready(void *ctx, ts_http_req *req, ts_http_resp *resp) {
  ts_api *api = ctx;
  ts__api_begin(api, req, resp);
  if (atomic_load_explicit(&api->draining, memory_order_relaxed)) {
    ts_http_resp_error(resp, 503, "shutting down");
    return;
  }
  if (!ts_repo_ready(api->repo)) {
    ts_http_resp_error(resp, 503, "models are still loading");
    return;
  }
  ts_jw_lit(resp->body, "{\"ready\":true}");
}

static void h_model_ready(void *ctx, ts_http_req *req, ts_http_resp *resp) {
  ts_api *api = ctx;
  const ts_repo_entry *e = ts__api_acquire(api, req, resp, ts__api_begin(api, req, resp));
  if (!e) return;
  ts_jw_lit(resp->body, "{\"name\":");
  ts_jw_cstr(resp->body, e->name);
  ts_jw_lit(resp->body, ",\"version\":");
  ts_jw_cstr(resp->body, e->version_str);
  ts_jw_lit(resp->body, ",\"ready\":true}");
  ts_repo_release(e);
}

static void h_model_meta(void *ctx, ts_http_req *req, ts_http_resp *resp) {
  ts_api *api = ctx;
  const ts_repo_entry *e = ts__api_acquire(api, req, resp, ts__api_begin(api, req, resp));
  if (!e) return;
  const ts_model *m = ts_forest_model(e->forest);
  int F = ts_model_num_features(m), K = ts_model_num_class(m);
  ts_jw *w = resp->body;
  ts_jw_lit(w, "{\"name\":");
  ts_jw_cstr(w, e->name);
  ts_jw_lit(w, ",\"versions\":[");
  ts_repo_index_item *items = NULL;
  size_t n = 0;
  bool first = true;
  if (ts_repo_index(api->repo, &items, &n, NULL) == 0) {
    for (size_t i = 0; i < n; i++) {
      if (strcmp(items[i].name, e->name) || !items[i].version[0] || items[i].state != TS_REPO_READY) continue;
      if (!first) ts_jw_char(w, ',');
      first = false;
      ts_jw_cstr(w, items[i].version);
    }
    free(items);
  }
  if (first) ts_jw_cstr(w, e->version_str);
  ts_jw_lit(w, "],\"platform\":\"lightgbm\",\"inputs\":[");
  for (int f = 0; f < F; f++) {
    if (f) ts_jw_char(w, ',');
    const char *const *names;
    bool pandas = ts_model_pandas_categories(m, f, &names) >= 0;
    ts_jw_lit(w, "{\"name\":");
    ts_jw_cstr(w, ts_model_feature_name(m, f));
    ts_jw_lit(w, pandas ? ",\"datatype\":\"BYTES\",\"shape\":[-1]}" : ",\"datatype\":\"FP64\",\"shape\":[-1]}");
  }
  ts_jw_lit(w, "],\"outputs\":[");
  const char *shape = K > 1 ? "[-1," : "[-1]";
  ts_jw_lit(w, "{\"name\":\"predict\",\"datatype\":\"FP64\",\"shape\":");
  ts_jw_lit(w, shape);
  if (K > 1) { ts_jw_int(w, K); ts_jw_char(w, ']'); }
  ts_jw_lit(w, "},{\"name\":\"raw\",\"datatype\":\"FP64\",\"shape\":");
  ts_jw_lit(w, shape);
  if (K > 1) { ts_jw_int(w, K); ts_jw_char(w, ']'); }
  ts_jw_lit(w, "},{\"name\":\"leaf\",\"datatype\":\"INT32\",\"shape\":[-1,-1]}],\"parameters\":{\"version\":");
  ts_jw_cstr(w, e->version_str);
  ts_jw_lit(w, ",\"objective\":");
  ts_jw_cstr(w, ts_model_objective(m));
  ts_jw_lit(w, ",\"num_features\":");
  ts_jw_int(w, F);
  ts_jw_lit(w, ",\"num_class\":");
  ts_jw_int(w, K);
  ts_jw_lit(w, ",\"num_trees\":");
  ts_jw_int(w, ts_model_num_trees(m));
  ts_jw_lit(w, ",\"num_iterations\":");
  ts_jw_int(w, ts_model_num_iterations(m));
  ts_jw_lit(w, ",\"matrix_input_shape\":[-1,");
  ts_jw_int(w, F);
  ts_jw_lit(w, "],\"description\":");
  ts_jw_cstr(w, e->config ? e->config->description : "");
  ts_jw_lit(w, "}}");
  ts_repo_release(e);
}

static void h_metrics(void *ctx, ts_http_req *req, ts_http_resp *resp) {
  ts_api *api = ctx;
  ts__api_begin(api, req, resp);
  char *buf = NULL;
  size_t len = 0;
  ts_error err;
  if (!api->metrics) {
    ts_http_resp_error(resp, 404, "metrics are disabled");
    return;
  }
  if (ts_metrics_render(api->metrics, &buf, &len, &err)) {
    ts_http_resp_error(resp, 500, "%s", err.msg);
    return;
  }
  resp->content_type = TS_METRICS_CONTENT_TYPE;
  ts_jw_raw(resp->body, buf, len);
  free(buf);
}

static void h_openapi(void *ctx, ts_http_req *req, ts_http_resp *resp) {
  ts__api_begin(ctx, req, resp);
  ts_jw_lit(resp->body, ts__api_openapi_json);
}

/* The repository API is off without a token; with one, every call needs
 * "Authorization: Bearer <token>". Compared in constant time. */
static bool admin_ok(ts_api *api, ts_http_req *req, ts_http_resp *resp) {
  if (!api->admin_token) {
    ts_http_resp_error(resp, 404, "the repository API is disabled (start the server with --admin-token)");
    return false;
  }
  const char *h = ts_http_req_header(req, "Authorization");
  bool bearer = h && !strncmp(h, "Bearer ", 7);
  const char *given = bearer ? h + 7 : "";
  size_t tl = strlen(api->admin_token), gl = strlen(given);
  /* The loop always runs over the whole token, whatever was sent, so the
   * time taken says nothing about how much of the token (or its length)
   * a guess got right. */
  unsigned diff = (unsigned)(!bearer) | (unsigned)(gl != tl);
  for (size_t i = 0; i < tl; i++) diff |= (unsigned char)(given[i < gl ? i : 0] ^ api->admin_token[i]);
  if (diff) {
    ts_http_resp_error(resp, 401, "missing or wrong 'Authorization: Bearer' token for the repository API");
    ts_http_resp_header(resp, "WWW-Authenticate", "Bearer");
    return false;
  }
  return true;
}

static void h_repo_index(void *ctx, ts_http_req *req, ts_http_resp *resp) {
  ts_api *api = ctx;
  ts__api_begin(api, req, resp);
  if (!admin_ok(api, req, resp)) return;
  ts_repo_index_item *items = NULL;
  size_t n = 0;
  ts_error err;
  if (ts_repo_index(api->repo, &items, &n, &err)) {
    ts_http_resp_error(resp, 500, "%s", err.msg);
    return;
  }
  ts_jw *w = resp->body;
  ts_jw_char(w, '[');
  for (size_t i = 0; i < n; i++) {
    if (i) ts_jw_char(w, ',');
    ts_jw_lit(w, "{\"name\":");
    ts_jw_cstr(w, items[i].name);
    ts_jw_lit(w, ",\"version\":");
    ts_jw_cstr(w, items[i].version);
    ts_jw_lit(w, ",\"state\":");
    ts_jw_cstr(w, ts_repo_state_name(items[i].state));
    ts_jw_lit(w, ",\"reason\":");
    ts_jw_cstr(w, items[i].reason);
    ts_jw_char(w, '}');
  }
  ts_jw_char(w, ']');
  free(items);
}

static void repo_action(void *ctx, ts_http_req *req, ts_http_resp *resp, bool load) {
  ts_api *api = ctx;
  ts__api_begin(api, req, resp);
  if (!admin_ok(api, req, resp)) return;
  ts_error err;
  int rc = load ? ts_repo_load_model(api->repo, req->params[0].ptr, req->params[0].len, &err)
                : ts_repo_unload_model(api->repo, req->params[0].ptr, req->params[0].len, &err);
  if (rc) {
    ts_http_resp_error(resp, rc == TS_ENOTFOUND ? 404 : 422, "%s", err.msg);
    return;
  }
  ts_jw_lit(resp->body, "{}");
}

static void h_repo_load(void *ctx, ts_http_req *req, ts_http_resp *resp) { repo_action(ctx, req, resp, true); }
static void h_repo_unload(void *ctx, ts_http_req *req, ts_http_resp *resp) { repo_action(ctx, req, resp, false); }

/* ---- route table ---- */

static const ts_metrics_endpoint EP[TS_METRICS_EP__COUNT] = {
    TS_METRICS_EP_INFER,  TS_METRICS_EP_PREDICT,    TS_METRICS_EP_EXPLAIN,    TS_METRICS_EP_MODEL_META,
    TS_METRICS_EP_SERVER_META,
    TS_METRICS_EP_HEALTH, TS_METRICS_EP_REPOSITORY, TS_METRICS_EP_METRICS,    TS_METRICS_EP_OPENAPI,
    TS_METRICS_EP_OTHER};
#define G TS_HTTP_GET
#define P TS_HTTP_POST

static const ts_http_route routes[] = {
    {P, "/v2/models/{}/infer", ts__api_infer, &EP[TS_METRICS_EP_INFER]},
    {P, "/v2/models/{}/versions/{}/infer", ts__api_infer, &EP[TS_METRICS_EP_INFER]},
    {P, "/v1/models/{}:predict", ts__api_records, &EP[TS_METRICS_EP_PREDICT]},
    {P, "/v1/models/{}:explain", ts__api_explain, &EP[TS_METRICS_EP_EXPLAIN]},
    {G, "/v2/health/live", h_live, &EP[TS_METRICS_EP_HEALTH]},
    {G, "/v2/health/ready", h_ready, &EP[TS_METRICS_EP_HEALTH]},
    {G, "/healthz", h_live, &EP[TS_METRICS_EP_HEALTH]},
    {G, "/readyz", h_ready, &EP[TS_METRICS_EP_HEALTH]},
    {G, "/v2", h_server_meta, &EP[TS_METRICS_EP_SERVER_META]},
    {G, "/v2/models/{}", h_model_meta, &EP[TS_METRICS_EP_MODEL_META]},
    {G, "/v2/models/{}/versions/{}", h_model_meta, &EP[TS_METRICS_EP_MODEL_META]},
    {G, "/v2/models/{}/ready", h_model_ready, &EP[TS_METRICS_EP_MODEL_META]},
    {G, "/v2/models/{}/versions/{}/ready", h_model_ready, &EP[TS_METRICS_EP_MODEL_META]},
    {G, "/metrics", h_metrics, &EP[TS_METRICS_EP_METRICS]},
    {G, "/openapi.json", h_openapi, &EP[TS_METRICS_EP_OPENAPI]},
    {P, "/v2/repository/index", h_repo_index, &EP[TS_METRICS_EP_REPOSITORY]},
    {P, "/v2/repository/models/{}/load", h_repo_load, &EP[TS_METRICS_EP_REPOSITORY]},
    {P, "/v2/repository/models/{}/unload", h_repo_unload, &EP[TS_METRICS_EP_REPOSITORY]},
};

const ts_http_route *ts_api_routes(size_t *n) {
  *n = sizeof(routes) / sizeof(routes[0]);
  return routes;
}

void ts_api_on_done(void *ctx, const ts_http_route *route, int status, size_t req_bytes, size_t resp_bytes,
                    double seconds, void *done_data) {
  ts_api *api = ctx;
  ts__api_done *d = done_data;
  /* Answers the http layer made itself (404, 413, 503, ...) never passed
   * through a handler, so they were not counted in flight yet. */
  if (!d) ts_metrics_request_begin(api->metrics);
  ts_metrics_request r = {
      .model = d ? d->model : TS_METRICS_MODEL_NONE,
      .endpoint = route ? *(const ts_metrics_endpoint *)route->data : TS_METRICS_EP_OTHER,
      .status = status,
      .total_seconds = seconds,
      .parse_seconds = d ? d->parse_s : -1,
      .predict_seconds = d ? d->predict_s : -1,
      .write_seconds = d ? d->write_s : -1,
      .rows = d ? d->rows : 0,
      .request_bytes = req_bytes,
      .response_bytes = resp_bytes,
  };
  ts_metrics_request_end(api->metrics, &r);
  if (api->access_log_every) {
    /* Sampling by a per-thread count: no shared state on the request path. */
    static _Thread_local unsigned count;
    if (++count >= api->access_log_every) {
      count = 0;
      TS_LOG(TS_LOG_INFO, "request", TS_LOG_S("route", route ? route->pattern : "(none)"), TS_LOG_I("status", status),
             TS_LOG_U("request_bytes", req_bytes), TS_LOG_U("response_bytes", resp_bytes),
             TS_LOG_D("seconds", seconds), TS_LOG_U("rows", d ? d->rows : 0));
    }
  }
}

void ts_api_set_draining(ts_api *api) { atomic_store(&api->draining, true); }

static char *dupstr(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d) memcpy(d, s, n);
  return d;
}

int ts_api_create(const ts_api_config *cfg, ts_api **out, ts_error *err) {
  *out = NULL;
  if (!cfg || !cfg->repo) return ts_error_set(err, TS_EINVAL, "api: no model repository");
  ts_api *api = calloc(1, sizeof(*api));
  if (!api) return ts_error_set(err, TS_ENOMEM, "api: out of memory");
  api->repo = cfg->repo;
  api->metrics = cfg->metrics;
  api->max_rows = cfg->max_rows > 0 ? cfg->max_rows : TS_API_DEFAULT_MAX_ROWS;
  api->max_explain_rows = cfg->max_explain_rows > 0 ? cfg->max_explain_rows : TS_API_DEFAULT_MAX_EXPLAIN_ROWS;
  api->max_depth = cfg->max_depth > 0 ? cfg->max_depth : TS_API_DEFAULT_MAX_DEPTH;
  api->max_tokens = cfg->max_tokens > 0 ? cfg->max_tokens : TS_API_DEFAULT_MAX_TOKENS;
  if (api->max_tokens > 0x7fffffffL) api->max_tokens = 0x7fffffffL;
  api->no_explainers = cfg->no_explainers;
  if (cfg->access_log_sample > 0)
    api->access_log_every = cfg->access_log_sample >= 1 ? 1 : (unsigned)(1.0 / cfg->access_log_sample + 0.5);
  api->version = dupstr(cfg->version ? cfg->version : "unknown");
  if (cfg->admin_token && cfg->admin_token[0]) api->admin_token = dupstr(cfg->admin_token);
  if (!api->version || (cfg->admin_token && cfg->admin_token[0] && !api->admin_token)) {
    ts_api_free(api);
    return ts_error_set(err, TS_ENOMEM, "api: out of memory");
  }
  atomic_init(&api->draining, false);
  *out = api;
  return 0;
}

void ts_api_free(ts_api *api) {
  if (!api) return;
  free(api->admin_token);
  free(api->version);
  free(api);
}
