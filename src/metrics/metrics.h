/*
 * treeserve metrics: a registry of the server's counters and histograms,
 * rendered in the Prometheus text exposition format (version 0.0.4) for
 * GET /metrics. Output passes `promtool check metrics`.
 *
 * Request path cost: every thread that records gets its own slot (found
 * through a thread-local cache, registered on first use); an update is a
 * relaxed atomic load + store into memory only that thread writes. No locks,
 * no shared cache lines. Slots are merged when /metrics is scraped. Model
 * lifecycle events (loads, reloads, info) are rare and take a mutex.
 *
 * Label cardinality is bounded: endpoints and statuses are small enums; the
 * (model, version) label pairs are interned once per loaded model (when the
 * repository loads it, never from request input) into at most
 * TS_METRICS_MAX_MODELS ids; later pairs share the overflow id rendered as
 * model="_other",version="_other". Requests that name no known model use
 * TS_METRICS_MODEL_NONE (rendered model="",version="").
 *
 * Exposed metric families (all prefixed treeserve_ except process_*):
 *   treeserve_requests_total{model,version,endpoint,status}        counter
 *   treeserve_request_duration_seconds{model,version,endpoint}     histogram
 *   treeserve_request_parse_duration_seconds{model,version}        histogram
 *   treeserve_request_predict_duration_seconds{model,version}      histogram
 *   treeserve_request_write_duration_seconds{model,version}        histogram
 *   treeserve_predicted_rows_total{model,version}                  counter
 *   treeserve_request_bytes_total{model,version,endpoint}          counter
 *   treeserve_response_bytes_total{model,version,endpoint}         counter
 *   treeserve_inflight_requests                                    gauge
 *   treeserve_model_load_duration_seconds{model}                   histogram
 *   treeserve_model_loads_total{model,result="success|failure"}    counter
 *   treeserve_repository_reloads_total{trigger,result}             counter
 *   treeserve_model_info{model,version,objective,num_trees,num_features,num_class} gauge (1)
 *   treeserve_models_ready                                         gauge
 *   treeserve_build_info{version}                                  gauge (1)
 *   process_cpu_seconds_total, process_resident_memory_bytes,
 *   process_virtual_memory_bytes, process_open_fds, process_max_fds,
 *   process_start_time_seconds                                     (from /proc)
 * Series whose count is zero are not emitted (except the unlabelled gauges).
 */
#ifndef TS_METRICS_METRICS_H
#define TS_METRICS_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "treeserve/error.h"

typedef struct ts_metrics ts_metrics;

/* Interned (model, version) label pairs, overflow and "none" ids included. */
#define TS_METRICS_MAX_MODELS 64
/* Threads with their own slot; later threads share one slot (atomic adds). */
#define TS_METRICS_MAX_SLOTS 256
/* Longest label value kept (longer values are cut; names are validated shorter). */
#define TS_METRICS_MAX_LABEL 128
/* Largest exposition rendered; beyond it ts_metrics_render fails with TS_ELIMIT. */
#define TS_METRICS_MAX_RENDER_BYTES ((size_t)8 << 20)

/* Model label id for requests that did not resolve to a loaded model
 * (unknown model, health, metrics, ...). */
#define TS_METRICS_MODEL_NONE 0
/* Id shared by every (model, version) interned after the table is full. */
#define TS_METRICS_MODEL_OTHER 1

/* Endpoint label. Keep in step with ts_metrics_endpoint_name(). */
typedef enum ts_metrics_endpoint {
  TS_METRICS_EP_INFER = 0,    /* POST /v2/models/{m}[/versions/{v}]/infer  -> "infer" */
  TS_METRICS_EP_PREDICT,      /* POST /v1/models/{m}:predict               -> "predict" */
  TS_METRICS_EP_EXPLAIN,      /* POST /v1/models/{m}:explain               -> "explain" */
  TS_METRICS_EP_MODEL_META,   /* GET /v2/models/{m}[...] and .../ready      -> "model_metadata" */
  TS_METRICS_EP_SERVER_META,  /* GET /v2                                    -> "server_metadata" */
  TS_METRICS_EP_HEALTH,       /* /v2/health/{live,ready}, /healthz, /readyz -> "health" */
  TS_METRICS_EP_REPOSITORY,   /* /v2/repository/...                         -> "repository" */
  TS_METRICS_EP_METRICS,      /* GET /metrics                               -> "metrics" */
  TS_METRICS_EP_OPENAPI,      /* GET /openapi.json                          -> "openapi" */
  TS_METRICS_EP_OTHER,        /* anything else (unknown route, 404/405)     -> "other" */
  TS_METRICS_EP__COUNT
} ts_metrics_endpoint;

/* Reload triggers for treeserve_repository_reloads_total. */
typedef enum ts_metrics_trigger {
  TS_METRICS_TRIGGER_STARTUP = 0, /* "startup" */
  TS_METRICS_TRIGGER_SIGNAL,      /* "signal"  (SIGHUP) */
  TS_METRICS_TRIGGER_POLL,        /* "poll"    (--poll-interval) */
  TS_METRICS_TRIGGER_API,         /* "api"     (repository load/unload) */
  TS_METRICS_TRIGGER__COUNT
} ts_metrics_trigger;

/* Settings for ts_metrics_create. Strings are copied. */
typedef struct ts_metrics_config {
  const char *build_version; /* treeserve_build_info{version=...}; NULL -> "unknown" */
  size_t max_render_bytes;   /* 0 = TS_METRICS_MAX_RENDER_BYTES (tests set it small) */
  double reclaim_seconds;    /* 0 = TS_METRICS_RECLAIM_SECONDS: how long a retired id
                                waits before another pair may take it */
} ts_metrics_config;

/* A retired id is reused only after this long, so requests still finishing on
 * the retired version (they record after releasing their model) are never
 * counted under the labels of the pair that takes the id next. */
#define TS_METRICS_RECLAIM_SECONDS 60.0

/* One finished request, recorded with ts_metrics_request_end. */
typedef struct ts_metrics_request {
  int model;                      /* id from ts_metrics_intern (the repo entry's
                                     metrics_id) or TS_METRICS_MODEL_NONE */
  ts_metrics_endpoint endpoint;   /* out-of-range values count as OTHER */
  int status;                     /* HTTP status; codes outside the known set
                                     are rendered status="other" */
  double total_seconds;           /* whole request; < 0 = not measured */
  double parse_seconds;           /* < 0 = stage did not run (not observed) */
  double predict_seconds;         /* < 0 = stage did not run */
  double write_seconds;           /* < 0 = stage did not run */
  uint64_t rows;                  /* rows predicted (0 if none) */
  uint64_t request_bytes;         /* body bytes received */
  uint64_t response_bytes;        /* body bytes sent */
} ts_metrics_request;

/* Creates a registry. *out owns it; free with ts_metrics_free. Records the
 * process start time now. Errors: TS_ENOMEM. */
int ts_metrics_create(const ts_metrics_config *cfg, ts_metrics **out, ts_error *err);

/* Frees the registry and every slot (NULL is fine). Call only when no other
 * thread is recording into it or rendering it. Threads that recorded may
 * still be alive: their thread-local cache is keyed by a registry id that is
 * never reused, so a later registry at the same address is not confused. */
void ts_metrics_free(ts_metrics *m);

/* Interns a (model, version) label pair and returns its id (>= 2), the same id
 * for the same pair (a retired pair comes back with its counts). A new pair
 * takes, in this order: the id retired longest ago, if retired for at least
 * reclaim_seconds (its counts restart from zero under the new labels); a never
 * used id; TS_METRICS_MODEL_OTHER once all TS_METRICS_MAX_MODELS ids are taken.
 * Reusing retired ids keeps the exposition and the counter memory bounded by
 * the versions served, not by every version ever loaded. Values longer than
 * TS_METRICS_MAX_LABEL are cut. Thread-safe (mutex); call it when a model is
 * loaded, never per request. NULL m returns TS_METRICS_MODEL_NONE. */
int ts_metrics_intern(ts_metrics *m, const char *model, const char *version);

/* --- Request path: lock-free, any thread. m may be NULL (no-op). --- */

/* A request started: treeserve_inflight_requests + 1. */
void ts_metrics_request_begin(ts_metrics *m);
/* A request finished: inflight - 1 and everything in *r. Must pair with one
 * earlier ts_metrics_request_begin (it may have run on another thread). */
void ts_metrics_request_end(ts_metrics *m, const ts_metrics_request *r);

/* Optional: the calling thread is ending; its slot (with its counts, which
 * stay in the totals) may be adopted by a thread created later. Threads that
 * never call it simply keep their slot. */
void ts_metrics_thread_done(ts_metrics *m);

/* --- Model lifecycle: any thread, takes a mutex. m may be NULL (no-op). --- */

/* One model load attempt of `model` (any version) took `seconds`; ok != 0 for
 * success. Feeds treeserve_model_loads_total and, when seconds >= 0,
 * treeserve_model_load_duration_seconds (pass -1 for an attempt that failed
 * before reading the model, e.g. a bad config.json). Model names beyond the
 * table share "_other". */
void ts_metrics_model_load(ts_metrics *m, const char *model, double seconds, int ok);

/* One repository reload pass finished (ok != 0: no model failed). */
void ts_metrics_reload(ts_metrics *m, ts_metrics_trigger trigger, int ok);

/* Sets (replaces) the info series of interned id `id` (>= 2); `objective` is
 * copied (cut at TS_METRICS_MAX_LABEL). */
void ts_metrics_model_info_set(ts_metrics *m, int id, const char *objective, long num_trees,
                               long num_features, long num_class);
/* The (model, version) of id `id` (>= 2) stopped serving (unloaded or
 * removed): every series with its labels, info included, leaves the
 * exposition. ts_metrics_intern of the same pair brings them back; after
 * reclaim_seconds another pair may take the id (see ts_metrics_intern). */
void ts_metrics_retire(ts_metrics *m, int id);

/* treeserve_models_ready gauge: number of (model, version) entries serving. */
void ts_metrics_set_models_ready(ts_metrics *m, long n);

/* --- Scrape --- */

/* Renders the whole exposition into a new NUL-terminated buffer *out (length
 * in *len, NUL not counted); the caller frees it with free(). Content type:
 * "text/plain; version=0.0.4; charset=utf-8" (TS_METRICS_CONTENT_TYPE).
 * Thread-safe against recording threads (reads are relaxed atomic loads, so a
 * scrape sees each counter at some recent value). Errors: TS_ENOMEM,
 * TS_ELIMIT (over max_render_bytes). */
int ts_metrics_render(ts_metrics *m, char **out, size_t *len, ts_error *err);
#define TS_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Label text for an endpoint ("infer", ...); "other" when out of range. */
const char *ts_metrics_endpoint_name(ts_metrics_endpoint ep);

#endif
