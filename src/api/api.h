/*
 * treeserve API: the HTTP routes of the server (Open Inference Protocol v2
 * REST with Triton's binary tensor extension, the records API, health,
 * metadata, metrics, OpenAPI document, repository admin API).
 *
 * This is the only module that knows HTTP, JSON and the model at once. It
 * registers a route table into the generic http/ layer and answers from the
 * model repository (repo/) and the metrics registry (metrics/).
 *
 * Thread-safety: after ts_api_create the api is read-only except for the
 * draining flag (atomic); handlers run on any number of worker threads.
 */
#ifndef TS_API_API_H
#define TS_API_API_H

#include <stdbool.h>
#include <stddef.h>

#include "http/http.h"
#include "metrics/metrics.h"
#include "repo/repo.h"
#include "treeserve/error.h"

typedef struct ts_api ts_api;

/* Defaults of the request limits the api enforces (the http layer enforces
 * bytes, connections and timeouts). */
#define TS_API_DEFAULT_MAX_ROWS 100000
#define TS_API_DEFAULT_MAX_DEPTH 16
#define TS_API_DEFAULT_MAX_TOKENS 4000000
/* Rows per :explain request: SHAP costs O(trees * leaves * depth^2) per row,
 * hundreds of times a prediction, so explanations get their own lower limit. */
#define TS_API_DEFAULT_MAX_EXPLAIN_ROWS 1000

typedef struct ts_api_config {
  ts_repo *repo;           /* borrowed; must outlive the api */
  ts_metrics *metrics;     /* borrowed; may be NULL */
  const char *admin_token; /* copied; NULL or "" = repository API off */
  const char *version;     /* server version for GET /v2; copied */
  long max_rows;           /* rows per request (413 beyond); <= 0 = default */
  long max_explain_rows;   /* rows per :explain request (413 beyond); <= 0 = default */
  int max_depth;           /* JSON nesting depth (400 beyond); <= 0 = default */
  long max_tokens;         /* JSON tokens per request (413 beyond); <= 0 = default */
  bool no_explainers;      /* contrib output unavailable */
  double access_log_sample; /* fraction of requests logged (0 = access log off,
                               1 = every request); never logs bodies */
} ts_api_config;

/* Creates the api. Errors: TS_ENOMEM, TS_EINVAL (no repo). */
int ts_api_create(const ts_api_config *cfg, ts_api **out, ts_error *err);
void ts_api_free(ts_api *api);

/* The route table to pass to ts_http_server_start (static storage), with
 * the api as its ctx. */
const ts_http_route *ts_api_routes(size_t *n);

/* The http on_done callback (metrics per request); ctx is the api. */
void ts_api_on_done(void *ctx, const ts_http_route *route, int status, size_t req_bytes,
                    size_t resp_bytes, double seconds, void *done_data);

/* Shutdown has begun: readiness answers 503 from now on. Thread-safe. */
void ts_api_set_draining(ts_api *api);

#endif
