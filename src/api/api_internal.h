/*
 * Internals shared by the api/ files (api.c: routes, health, metadata,
 * metrics, repository; infer.c: OIP infer; records.c: records API;
 * openapi.c: the OpenAPI document). Not a public interface.
 */
#ifndef TS_API_INTERNAL_H
#define TS_API_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "api/api.h"
#include "json/json.h"

struct ts_api {
  ts_repo *repo;
  ts_metrics *metrics;
  char *admin_token; /* NULL = repository API off */
  char *version;
  long max_rows;
  long max_explain_rows;
  int max_depth;
  long max_tokens;
  bool no_explainers;
  unsigned access_log_every; /* 0 = off, else log one request in this many */
  atomic_bool draining;
};

/* What a handler tells ts_api_on_done for the metrics (lives in the request
 * arena, which outlives on_done). */
typedef struct ts__api_done {
  int model;        /* metrics id or TS_METRICS_MODEL_NONE */
  double parse_s, predict_s, write_s; /* < 0: stage did not run */
  uint64_t rows;
} ts__api_done;

/* Starts metrics for a handled request: allocates the done record in the
 * arena, counts the request in flight, attaches it to resp. Never NULL (a
 * static fallback is used if the arena is exhausted). */
ts__api_done *ts__api_begin(ts_api *api, ts_http_req *req, ts_http_resp *resp);

/* Acquires the model named by req->params[0] (and version params[1] if the
 * route captured one) and labels the request's metrics (done->model) with it.
 * The caller releases it with ts_repo_release. On failure writes the 404/503
 * answer and returns NULL. */
const ts_repo_entry *ts__api_acquire(ts_api *api, ts_http_req *req, ts_http_resp *resp, ts__api_done *done);

/* Parses the request JSON (tokens from the arena, bounded by the api's token
 * and depth limits). On failure writes a 400/413 answer and returns -1. */
int ts__api_parse_json(ts_api *api, ts_http_req *req, ts_http_resp *resp, const char *src,
                       size_t len, ts_json_doc *doc);

/* Converts one JSON value for feature `feature` of model `m` to the double
 * LightGBM sees: numbers as they are (rounded through float for FP32), null
 * as NaN (missing), booleans as 0/1, strings via the pandas categories of a
 * categorical column or as a decimal number. `dtype_is_bytes`/`fp32` pick
 * what the tensor declared. Returns NULL on success or a static reason. */
const char *ts__api_cell(const ts_model *m, int feature, const ts_json_doc *doc, int tok, int dtype,
                         ts_arena *arena, double *out);

/* Datatypes of OIP tensors. */
enum {
  TS__DT_BOOL,
  TS__DT_UINT8,
  TS__DT_UINT16,
  TS__DT_UINT32,
  TS__DT_UINT64,
  TS__DT_INT8,
  TS__DT_INT16,
  TS__DT_INT32,
  TS__DT_INT64,
  TS__DT_FP32,
  TS__DT_FP64,
  TS__DT_BYTES,
  TS__DT__COUNT
};
/* Returns the datatype id of the name at token `tok`, or -1. */
int ts__api_dtype(const ts_json_doc *doc, int tok);
/* Bytes per element in the binary extension (0 for BYTES: length-prefixed). */
int ts__api_dtype_size(int dt);
const char *ts__api_dtype_name(int dt);

/* Reads iteration parameters (start_iteration, num_iteration) from a JSON
 * object token (may be -1). On failure writes 422 and returns -1. */
int ts__api_iter_params(const ts_json_doc *doc, int obj, ts_predict_opts *opts, ts_http_resp *resp);

/* Answers 422 and returns -1 if the object at token `obj` (may be -1) has a
 * key not in `known` (NULL-terminated): unknown parameters and fields are
 * mistakes the client should hear about. `where` names the object; with
 * idx >= 0 the name is where[idx] followed by `suffix` (may be NULL), e.g.
 * ("inputs", 2, ".parameters") -> "inputs[2].parameters", formatted only
 * when an error is reported. */
int ts__api_known_keys(const ts_json_doc *doc, int obj, const char *const *known, const char *where, int idx,
                       const char *suffix, ts_http_resp *resp);

/* Maps an output name ("predict"/"value", "raw", "leaf", "contrib") to a type;
 * -1 if unknown. */
int ts__api_output_type(const char *s, size_t n);

/* Name of an output type in responses ("predict", "raw", "leaf", "contrib"). */
const char *ts__api_output_name(ts_predict_type t);

/* Answers 422 for a model version without a SHAP explainer, listing the
 * possible causes; `what` starts the message ("output 'contrib' is"). */
void ts__api_no_explainer(ts_http_resp *resp, const ts_repo_entry *e, const char *what);

/* Predicts `opts->type` for N rows of X (row stride F) into out: the forest
 * for value/raw/leaf, the entry's explainer for contrib. On failure writes
 * the answer (422 when contrib is not available for the model; 500, or 503
 * for TS_ENOMEM, when the engine fails on the validated input) and returns
 * -1. */
int ts__api_predict(const ts_repo_entry *e, const ts_predict_opts *opts, const double *X, size_t N, size_t F,
                    double *out, ts_http_resp *resp);

/* Row limit for this entry (server limit, or the model's own if lower). */
long ts__api_max_rows(const ts_api *api, const ts_repo_entry *e);

/* Reads the body of a records-style request ({"instances": [...],
 * "parameters": {...}}, :predict and :explain): parses the JSON into *doc,
 * finds the instances array (*inst), refuses top-level keys not in `keys`
 * (NULL-terminated) and parameters other than start_iteration /
 * num_iteration, which it stores in *opts. On failure writes the 400/413/422
 * answer and returns -1. */
int ts__api_parse_instances(ts_api *api, ts_http_req *req, ts_http_resp *resp, const char *const *keys,
                            ts_json_doc *doc, int *inst, ts_predict_opts *opts);

/* Fills row r of X (row stride F) from the records-API instance at token
 * `row`: an array of F values in feature order, or an object of
 * feature name: value (absent features are missing; a feature under two keys
 * is a 422). `keys` (F ints, caller's scratch, required) receives for each
 * feature f the token of the object key the client used, or -1 (array rows,
 * absent features). On failure writes the 400/422 answer and returns -1. */
int ts__api_fill_record(ts_http_resp *resp, const ts_model *m, const ts_json_doc *doc, int row, size_t r, int F,
                        double *X, int *keys, ts_arena *arena);

/* Handlers. */
void ts__api_infer(void *ctx, ts_http_req *req, ts_http_resp *resp);
void ts__api_records(void *ctx, ts_http_req *req, ts_http_resp *resp);
void ts__api_explain(void *ctx, ts_http_req *req, ts_http_resp *resp);

/* The OpenAPI 3 document (NUL-terminated JSON). */
extern const char ts__api_openapi_json[];

#endif
