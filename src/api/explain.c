/*
 * POST /v1/models/{m}:explain: SHAP explanations per row, by feature name,
 * next to the prediction, for people who must say why a model decided as it
 * did.
 *
 *   request  {"instances": [[x0, x1, ...], ...]}              rows in feature order
 *            {"instances": [{"feature": value, ...}, ...]}    rows by feature name
 *            optional "parameters": {"start_iteration": i, "num_iteration": n}
 *            (same instances and parameters as :predict; no "output")
 *   response {"model_name": m, "model_version": v, "explanations": [
 *              {"prediction": p, "raw": r,
 *               "contributions": {"<feature>": c, ..., "bias": b}}, ...]}
 * For multiclass models "prediction" and "raw" are lists (one per class) and
 * "contributions" is a list with one object per class, in class order.
 *
 * Feature names are those the client knows: in object rows, the exact key the
 * client sent for a feature (say "lepton pT", which the model stores as
 * "lepton_pT"), echoed byte for byte; in array rows and for features an
 * object row left out, the model's stored name. Contributions are LightGBM's
 * pred_contrib from the entry's explainer; their sum per class is the raw
 * score.
 *
 * A feature named "bias" would collide with the bias key: such requests get
 * 422 and a pointer to the OIP contrib output.
 *
 * Rows are limited by the api's max_explain_rows (and the model's own row
 * limit if lower): TreeSHAP costs hundreds of predictions per row.
 */
#include <stdio.h>
#include <string.h>

#include "api/api_internal.h"

static const char *const KEYS[] = {"instances", "parameters", NULL};

/* Writes one value or, when width > 1, a list of `width` values. */
static void write_values(ts_jw *w, const double *v, long width) {
  if (width == 1) {
    ts_jw_double(w, v[0]);
    return;
  }
  ts_jw_char(w, '[');
  for (long c = 0; c < width; c++) {
    if (c) ts_jw_char(w, ',');
    ts_jw_double(w, v[c]);
  }
  ts_jw_char(w, ']');
}

/* Writes {"<name>": c, ..., "bias": b} for one class of one row. keys[f] is
 * the token of the client's key for feature f, or -1. */
static void write_contrib(ts_jw *w, const ts_model *m, const ts_json_doc *doc, const int *keys, int F,
                          const double *c) {
  ts_jw_char(w, '{');
  for (int f = 0; f < F; f++) {
    if (keys[f] >= 0) {
      /* The client's key as it was sent: already a valid JSON string body. */
      size_t n;
      const char *s = ts_json_raw(doc, keys[f], &n);
      ts_jw_char(w, '"');
      ts_jw_raw(w, s, n);
      ts_jw_char(w, '"');
    } else {
      ts_jw_cstr(w, ts_model_feature_name(m, f));
    }
    ts_jw_char(w, ':');
    ts_jw_double(w, c[f]);
    ts_jw_char(w, ',');
  }
  ts_jw_lit(w, "\"bias\":");
  ts_jw_double(w, c[F]);
  ts_jw_char(w, '}');
}

static long explain_rows_limit(const ts_api *api, const ts_repo_entry *e) {
  long lim = ts__api_max_rows(api, e);
  return api->max_explain_rows < lim ? api->max_explain_rows : lim;
}

void ts__api_explain(void *ctx, ts_http_req *req, ts_http_resp *resp) {
  ts_api *api = ctx;
  ts__api_done *done = ts__api_begin(api, req, resp);
  const ts_repo_entry *e = ts__api_acquire(api, req, resp, done);
  if (!e) return;
  double t0 = ts_http_now();
  const ts_model *m = ts_forest_model(e->forest);
  const int F = ts_model_num_features(m);
  ts_json_doc doc;
  int inst;
  ts_predict_opts opts = {TS_PREDICT_CONTRIB, 0, 0};
  if (ts__api_parse_instances(api, req, resp, KEYS, &doc, &inst, &opts)) goto out;
  if (!e->explainer) {
    ts__api_no_explainer(resp, e, "explanations are");
    goto out;
  }
  size_t N = (size_t)doc.toks[inst].size;
  long limit = explain_rows_limit(api, e);
  if ((long)N > limit) {
    ts_http_resp_error(resp, 413, "%zu instances is more than the limit of %ld rows per explain request", N, limit);
    goto out;
  }
  ts_predict_opts vopts = opts, ropts = opts;
  vopts.type = TS_PREDICT_VALUE;
  ropts.type = TS_PREDICT_RAW;
  long cw = ts_predict_width(e->forest, &opts);
  long vw = ts_predict_width(e->forest, &vopts);
  long rw = ts_predict_width(e->forest, &ropts);
  const long K = ts_model_num_class(m);
  if (cw != (F + 1) * K || vw <= 0 || rw != K) {
    ts_http_resp_error(resp, 422, "explanations are not available for model '%s' version %s", e->name, e->version_str);
    goto out;
  }
  /* N <= limit, so none of these sizes overflow. */
  double *X = ts_arena_alloc_array(req->arena, N ? N * (size_t)F : 1, sizeof(double));
  int *keys = ts_arena_alloc_array(req->arena, N ? N * (size_t)F : 1, sizeof(int));
  double *C = ts_arena_alloc_array(req->arena, N * (size_t)cw + 1, sizeof(double));
  double *V = ts_arena_alloc_array(req->arena, N * (size_t)vw + 1, sizeof(double));
  double *R = ts_arena_alloc_array(req->arena, N * (size_t)rw + 1, sizeof(double));
  if (!X || !keys || !C || !V || !R) {
    ts_http_resp_error(resp, 413, "%zu rows need more memory than the per-request limit", N);
    goto out;
  }
  int k = inst + 1;
  for (size_t r = 0; r < N; r++, k = ts_json_skip(&doc, k)) {
    if (ts__api_fill_record(resp, m, &doc, k, r, F, X, keys + r * (size_t)F, req->arena)) goto out;
  }
  /* A feature shown as "bias" would give two "bias" keys in one object, and
   * a client's JSON parser would silently keep one of them: refuse instead. */
  for (size_t r = 0; r < N; r++)
    for (int f = 0; f < F; f++) {
      int kt = keys[r * (size_t)F + (size_t)f];
      if (kt >= 0 ? ts_json_str_eq(&doc, kt, "bias") : !strcmp(ts_model_feature_name(m, f), "bias")) {
        ts_http_resp_error(resp, 422,
                           "instances[%zu]: feature %d is named \"bias\", which the explanation uses for the expected "
                           "value; use output \"contrib\" of /v2/models/%s/infer (columns in feature order)",
                           r, f, e->name);
        goto out;
      }
    }
  double t1 = ts_http_now();
  done->parse_s = t1 - t0;
  if (ts__api_predict(e, &opts, X, N, (size_t)F, C, resp) || ts__api_predict(e, &vopts, X, N, (size_t)F, V, resp) ||
      ts__api_predict(e, &ropts, X, N, (size_t)F, R, resp))
    goto out;
  double t2 = ts_http_now();
  done->predict_s = t2 - t1;
  done->rows = N;
  ts_jw *w = resp->body;
  ts_jw_lit(w, "{\"model_name\":");
  ts_jw_cstr(w, e->name);
  ts_jw_lit(w, ",\"model_version\":");
  ts_jw_cstr(w, e->version_str);
  ts_jw_lit(w, ",\"explanations\":[");
  for (size_t r = 0; r < N; r++) {
    if (r) ts_jw_char(w, ',');
    ts_jw_lit(w, "{\"prediction\":");
    write_values(w, V + r * (size_t)vw, vw);
    ts_jw_lit(w, ",\"raw\":");
    write_values(w, R + r * (size_t)rw, rw);
    ts_jw_lit(w, ",\"contributions\":");
    const int *rk = keys + r * (size_t)F; /* all -1 for array rows */
    const double *c = C + r * (size_t)cw;
    if (K > 1) ts_jw_char(w, '[');
    for (long cls = 0; cls < K; cls++) {
      if (cls) ts_jw_char(w, ',');
      write_contrib(w, m, &doc, rk, F, c + cls * (F + 1));
    }
    if (K > 1) ts_jw_char(w, ']');
    ts_jw_char(w, '}');
  }
  ts_jw_lit(w, "]}");
  done->write_s = ts_http_now() - t2;
out:
  ts_repo_release(e);
}
