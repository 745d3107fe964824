/*
 * POST /v1/models/{m}:predict: the records API for clients that do not speak
 * the Open Inference Protocol.
 *
 *   {"instances": [[x0, x1, ...], ...]}                  rows in feature order
 *   {"instances": [{"feature": value, ...}, ...]}        rows by feature name
 *   optional "output": "value"|"predict"|"raw"|"leaf" and
 *   "parameters": {"start_iteration": i, "num_iteration": n}
 *   -> {"predictions": [p0, p1, ...]}  (a list per row when the output has
 *      several columns: multiclass, leaf)
 * null (or, in objects, an absent feature) is a missing value; strings are
 * categories of pandas categorical columns.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "api/api_internal.h"

int ts__api_fill_record(ts_http_resp *resp, const ts_model *m, const ts_json_doc *doc, int row, size_t r, int F,
                        double *X, int *keys, ts_arena *arena) {
  double *x = X + r * (size_t)F;
  for (int f = 0; f < F; f++) keys[f] = -1;
  const ts_json_tok *t = &doc->toks[row];
  if (t->type == TS_JSON_ARRAY) {
    if (t->size != F) {
      ts_http_resp_error(resp, 422, "instances[%zu] has %d values: the model has %d features", r, t->size, F);
      return -1;
    }
    int k = row + 1;
    for (int f = 0; f < F; f++, k = ts_json_skip(doc, k)) {
      const char *why = ts__api_cell(m, f, doc, k, TS__DT_FP64, arena, &x[f]);
      if (why) {
        ts_http_resp_error(resp, 422, "instances[%zu][%d] (feature '%s'): %s", r, f, ts_model_feature_name(m, f), why);
        return -1;
      }
    }
    return 0;
  }
  if (t->type != TS_JSON_OBJECT) {
    ts_http_resp_error(resp, 422, "instances[%zu] must be an array of values or an object of feature: value", r);
    return -1;
  }
  for (int f = 0; f < F; f++) x[f] = NAN;
  int k = row + 1;
  for (int i = 0; i < t->size; i++, k = ts_json_skip(doc, k)) {
    size_t n;
    const char *name = ts_json_raw(doc, k, &n);
    if (memchr(name, '\\', n)) {
      char *u = ts_arena_alloc(arena, n + 1);
      if (!u || ts_json_unescape(doc, k, u, n + 1, &n)) {
        ts_http_resp_error(resp, 400, "instances[%zu]: bad escape in a key", r);
        return -1;
      }
      name = u;
    }
    int f = ts_model_find_feature(m, name, n);
    if (f < 0) {
      ts_http_resp_error(resp, 422, "instances[%zu]: '%.*s' is not a feature of the model", r, (int)(n > 64 ? 64 : n),
                         name);
      return -1;
    }
    /* A repeated key, or two spellings of one name ("lepton pT" and
     * "lepton_pT"), would leave the value to whichever came last. */
    if (keys[f] >= 0) {
      size_t pn;
      const char *prev = ts_json_raw(doc, keys[f], &pn);
      ts_http_resp_error(resp, 422, "instances[%zu]: feature '%s' given twice (keys \"%.*s\" and \"%.*s\")", r,
                         ts_model_feature_name(m, f), (int)(pn > 64 ? 64 : pn), prev, (int)(n > 64 ? 64 : n), name);
      return -1;
    }
    keys[f] = k;
    const char *why = ts__api_cell(m, f, doc, k + 1, TS__DT_FP64, arena, &x[f]);
    if (why) {
      ts_http_resp_error(resp, 422, "instances[%zu] feature '%s': %s", r, ts_model_feature_name(m, f), why);
      return -1;
    }
  }
  return 0;
}

int ts__api_parse_instances(ts_api *api, ts_http_req *req, ts_http_resp *resp, const char *const *keys,
                            ts_json_doc *doc, int *inst, ts_predict_opts *opts) {
  static const char *const param_keys[] = {"start_iteration", "num_iteration", NULL};
  if (ts__api_parse_json(api, req, resp, req->body, req->body_len, doc)) return -1;
  *inst = ts_json_obj_get(doc, 0, "instances");
  if (doc->toks[0].type != TS_JSON_OBJECT || *inst < 0 || doc->toks[*inst].type != TS_JSON_ARRAY) {
    ts_http_resp_error(resp, 400, "the request must be an object with an \"instances\" array");
    return -1;
  }
  int params = ts_json_obj_get(doc, 0, "parameters");
  if (params >= 0 && doc->toks[params].type != TS_JSON_OBJECT) {
    ts_http_resp_error(resp, 400, "\"parameters\" must be an object");
    return -1;
  }
  if (ts__api_known_keys(doc, 0, keys, "the request", -1, NULL, resp) ||
      ts__api_known_keys(doc, params, param_keys, "parameters", -1, NULL, resp))
    return -1;
  return ts__api_iter_params(doc, params, opts, resp);
}

void ts__api_records(void *ctx, ts_http_req *req, ts_http_resp *resp) {
  ts_api *api = ctx;
  ts__api_done *done = ts__api_begin(api, req, resp);
  const ts_repo_entry *e = ts__api_acquire(api, req, resp, done);
  if (!e) return;
  double t0 = ts_http_now();
  const ts_model *m = ts_forest_model(e->forest);
  const int F = ts_model_num_features(m);
  ts_json_doc doc;
  int inst;
  ts_predict_opts opts = {e->config->default_output, 0, 0};
  static const char *const keys[] = {"instances", "output", "parameters", NULL};
  if (ts__api_parse_instances(api, req, resp, keys, &doc, &inst, &opts)) goto out;
  int outp = ts_json_obj_get(&doc, 0, "output");
  if (outp >= 0) {
    size_t n;
    const char *s = ts_json_raw(&doc, outp, &n);
    int type = doc.toks[outp].type == TS_JSON_STRING ? ts__api_output_type(s, n) : -1;
    if (type < 0) {
      ts_http_resp_error(resp, 422,
                         "\"output\" '%.*s': must be \"predict\" (or \"value\"), \"raw\", \"leaf\" or \"contrib\"",
                         (int)(n > 40 ? 40 : n), s);
      goto out;
    }
    opts.type = (ts_predict_type)type;
  }
  size_t N = (size_t)doc.toks[inst].size;
  long max_rows = ts__api_max_rows(api, e);
  if ((long)N > max_rows) {
    ts_http_resp_error(resp, 413, "%zu instances is more than the limit of %ld rows per request", N, max_rows);
    goto out;
  }
  double *X = ts_arena_alloc_array(req->arena, N ? N * (size_t)F : 1, sizeof(double));
  int *row_keys = ts_arena_alloc_array(req->arena, (size_t)F, sizeof(int)); /* reused for every row */
  long width = ts_predict_width(e->forest, &opts);
  double *Y = width > 0 ? ts_arena_alloc_array(req->arena, N * (size_t)width + 1, sizeof(double)) : NULL;
  if (width <= 0) {
    ts_http_resp_error(resp, 422, "this output is not available for the model");
    goto out;
  }
  if (!X || !Y || !row_keys) {
    ts_http_resp_error(resp, 413, "%zu rows need more memory than the per-request limit", N);
    goto out;
  }
  int k = inst + 1;
  for (size_t r = 0; r < N; r++, k = ts_json_skip(&doc, k))
    if (ts__api_fill_record(resp, m, &doc, k, r, F, X, row_keys, req->arena)) goto out;
  double t1 = ts_http_now();
  done->parse_s = t1 - t0;
  if (ts__api_predict(e, &opts, X, N, (size_t)F, Y, resp)) goto out;
  double t2 = ts_http_now();
  done->predict_s = t2 - t1;
  done->rows = N;
  ts_jw *w = resp->body;
  bool leaf = opts.type == TS_PREDICT_LEAF;
  bool lists = leaf || width > 1 || opts.type == TS_PREDICT_CONTRIB;
  ts_jw_lit(w, "{\"predictions\":[");
  for (size_t r = 0; r < N; r++) {
    if (r) ts_jw_char(w, ',');
    if (lists) ts_jw_char(w, '[');
    for (long c = 0; c < width; c++) {
      if (c) ts_jw_char(w, ',');
      double v = Y[r * (size_t)width + (size_t)c];
      if (leaf) ts_jw_int(w, (int64_t)v);
      else ts_jw_double(w, v);
    }
    if (lists) ts_jw_char(w, ']');
  }
  ts_jw_lit(w, "]}");
  done->write_s = ts_http_now() - t2;
out:
  ts_repo_release(e);
}
