/*
 * POST /v2/models/{m}[/versions/{v}]/infer: the Open Inference Protocol v2
 * inference request, JSON or with Triton's binary tensor data extension.
 *
 * Input layouts (both produce one row-major double matrix X[N * F] in the
 * request arena, NaN = missing):
 *   A. one tensor of shape [N, F] (any name), numeric datatype, data flat or
 *      nested, or binary;
 *   B. one tensor per feature, named by the feature name, shape [N] (or
 *      [N, 1]); BYTES tensors carry pandas-categorical columns as strings.
 * Outputs: "predict" (alias "value"), "raw", "leaf"; default from the model's
 * config ("predict" unless set). Each may be returned as JSON data or, with
 * parameters.binary_data = true (or request parameter binary_data_output),
 * as raw little-endian bytes after the JSON header.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_internal.h"

#define MAX_INPUTS_EXTRA 16 /* inputs beyond the feature count are an error */
#define MAX_OUTPUTS 4

typedef struct in_tensor {
  int tok;           /* the input object */
  int name_tok;
  int dtype;
  int64_t shape[2];
  int rank;
  int data_tok;      /* -1 when binary */
  const unsigned char *bin; /* binary data (inside the request body) */
  size_t bin_len;
  int feature;       /* layout B: feature index */
} in_tensor;

typedef struct out_req {
  ts_predict_type type;
  const char *name;
  bool binary;
  double *values;
  long width;
} out_req;

/* Keys each object of the request may hold. "content_type" is what
 * MLServer's codecs add to requests and tensors; it needs no action here. */
static const char *const REQUEST_KEYS[] = {"id", "parameters", "inputs", "outputs", NULL};
static const char *const REQUEST_PARAMS[] = {"start_iteration", "num_iteration", "binary_data_output", "content_type",
                                             NULL};
static const char *const INPUT_KEYS[] = {"name", "shape", "datatype", "parameters", "data", NULL};
static const char *const INPUT_PARAMS[] = {"binary_data_size", "content_type", NULL};
static const char *const OUTPUT_KEYS[] = {"name", "parameters", NULL};
static const char *const OUTPUT_PARAMS[] = {"binary_data", "content_type", NULL};

static uint64_t rd_le(const unsigned char *p, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; i--) v = (v << 8) | p[i];
  return v;
}

/* Converts element k of a binary tensor. Returns NULL or a reason. */
static const char *bin_cell(int dt, const unsigned char *p, double *out) {
  switch (dt) {
    case TS__DT_BOOL: *out = p[0] ? 1.0 : 0.0; return NULL;
    case TS__DT_UINT8: *out = p[0]; return NULL;
    case TS__DT_UINT16: *out = (double)rd_le(p, 2); return NULL;
    case TS__DT_UINT32: *out = (double)rd_le(p, 4); return NULL;
    case TS__DT_UINT64: *out = (double)rd_le(p, 8); return NULL;
    case TS__DT_INT8: *out = (int8_t)p[0]; return NULL;
    case TS__DT_INT16: *out = (int16_t)rd_le(p, 2); return NULL;
    case TS__DT_INT32: *out = (int32_t)rd_le(p, 4); return NULL;
    case TS__DT_INT64: *out = (double)(int64_t)rd_le(p, 8); return NULL;
    case TS__DT_FP32: {
      uint32_t u = (uint32_t)rd_le(p, 4);
      float f;
      memcpy(&f, &u, 4);
      *out = f;
      return NULL;
    }
    case TS__DT_FP64: {
      uint64_t u = rd_le(p, 8);
      memcpy(out, &u, 8);
      return NULL;
    }
    default: return "unsupported binary datatype";
  }
}

/* Fills count values of tensor t into X: element k goes to
 * X[k * stride + offset] for layout B (stride F, offset = feature), or X[k]
 * for layout A (stride 1, feature = k % F). tname[0..tnl) is the tensor's
 * name as sent, for error messages. */
static int fill(ts_http_resp *resp, const ts_model *m, const ts_json_doc *doc, const in_tensor *t,
                const char *tname, int tnl, size_t count, int F, bool layout_a, double *X, ts_arena *arena) {
  size_t k = 0;
  if (t->data_tok < 0) {
    const unsigned char *p = t->bin, *e = t->bin + t->bin_len;
    /* Fixed-size elements: the size must match the shape exactly before a
     * single element is read (count <= max_rows * F, so no overflow). */
    int esz = ts__api_dtype_size(t->dtype);
    if (esz && t->bin_len != count * (size_t)esz) {
      ts_http_resp_error(resp, 400, "input '%.*s': binary_data_size %zu does not hold the %zu %s elements of its shape",
                         tnl, tname, t->bin_len, count, ts__api_dtype_name(t->dtype));
      return -1;
    }
    for (k = 0; k < count; k++) {
      int feature = layout_a ? (int)(k % (size_t)F) : t->feature;
      double *dst = layout_a ? &X[k] : &X[k * (size_t)F + (size_t)feature];
      if (t->dtype == TS__DT_BYTES) {
        if (e - p < 4) break;
        uint32_t n = (uint32_t)rd_le(p, 4);
        p += 4;
        if ((size_t)(e - p) < n) break;
        double code;
        if (ts_model_pandas_categories(m, feature, &(const char *const *){NULL}) >= 0) {
          code = ts_model_pandas_code(m, feature, (const char *)p, n);
        } else {
          ts_http_resp_error(resp, 422, "input '%.*s' element %zu: strings are only accepted for pandas categorical features, '%s' is not one",
                             tnl, tname, k, ts_model_feature_name(m, feature));
          return -1;
        }
        *dst = code;
        p += n;
      } else {
        int sz = ts__api_dtype_size(t->dtype);
        const char *why = bin_cell(t->dtype, p, dst);
        if (why) {
          ts_http_resp_error(resp, 422, "input '%.*s': %s", tnl, tname, why);
          return -1;
        }
        p += sz;
      }
    }
    if (k != count || p != e) {
      ts_http_resp_error(resp, 400, "input '%.*s': binary_data_size %zu does not hold the %zu %s elements of its shape",
                         tnl, tname, t->bin_len, count, ts__api_dtype_name(t->dtype));
      return -1;
    }
    return 0;
  }
  int end = ts_json_skip(doc, t->data_tok);
  const ts_json_tok *toks = doc->toks;
  if (toks[t->data_tok].type != TS_JSON_ARRAY) {
    ts_http_resp_error(resp, 400, "input '%.*s': \"data\" must be an array", tnl, tname);
    return -1;
  }
  for (int i = t->data_tok + 1; i < end; i++) {
    if (toks[i].type == TS_JSON_ARRAY) continue;
    if (toks[i].type == TS_JSON_OBJECT) {
      ts_http_resp_error(resp, 422, "input '%.*s' element %zu: objects are not tensor values", tnl, tname, k);
      return -1;
    }
    if (k >= count) {
      ts_http_resp_error(resp, 422, "input '%.*s': more data elements than its shape holds (%zu)", tnl, tname, count);
      return -1;
    }
    int feature = layout_a ? (int)(k % (size_t)F) : t->feature;
    double *dst = layout_a ? &X[k] : &X[k * (size_t)F + (size_t)feature];
    const char *why = ts__api_cell(m, feature, doc, i, t->dtype, arena, dst);
    if (why) {
      ts_http_resp_error(resp, 422, "input '%.*s' element %zu (feature '%s'): %s", tnl, tname, k,
                         ts_model_feature_name(m, feature), why);
      return -1;
    }
    k++;
  }
  if (k != count) {
    ts_http_resp_error(resp, 422, "input '%.*s': %zu data elements for shape of %zu", tnl, tname, k, count);
    return -1;
  }
  return 0;
}

/* Parses one input tensor object (name, shape, datatype, data or binary). */
static int parse_input(ts_http_resp *resp, const ts_json_doc *doc, int tok, in_tensor *t,
                       const unsigned char **bin, const unsigned char *bin_end, int idx) {
  memset(t, 0, sizeof(*t));
  t->tok = tok;
  t->feature = -1;
  if (doc->toks[tok].type != TS_JSON_OBJECT) {
    ts_http_resp_error(resp, 400, "inputs[%d] must be an object", idx);
    return -1;
  }
  t->name_tok = ts_json_obj_get(doc, tok, "name");
  int shape = ts_json_obj_get(doc, tok, "shape");
  int dtype = ts_json_obj_get(doc, tok, "datatype");
  if (t->name_tok < 0 || doc->toks[t->name_tok].type != TS_JSON_STRING || shape < 0 || dtype < 0) {
    ts_http_resp_error(resp, 400, "inputs[%d] needs \"name\" (string), \"shape\" and \"datatype\"", idx);
    return -1;
  }
  t->dtype = ts__api_dtype(doc, dtype);
  if (t->dtype < 0) {
    size_t n;
    const char *s = ts_json_raw(doc, dtype, &n);
    ts_http_resp_error(resp, 422, "inputs[%d]: unsupported datatype '%.*s' (BOOL, UINT8..64, INT8..64, FP32, FP64, BYTES)",
                       idx, (int)(n > 32 ? 32 : n), s);
    return -1;
  }
  if (doc->toks[shape].type != TS_JSON_ARRAY || doc->toks[shape].size < 1 || doc->toks[shape].size > 2) {
    ts_http_resp_error(resp, 422, "inputs[%d]: shape must be [N] or [N, num_features]", idx);
    return -1;
  }
  t->rank = doc->toks[shape].size;
  for (int d = 0; d < t->rank; d++) {
    int64_t v;
    double big;
    int rc = ts_json_int(doc, shape + 1 + d, 0, (int64_t)1 << 40, &v);
    if (rc == TS_ELIMIT && ts_json_number(doc, shape + 1 + d, &big) == 0 && big > 0) {
      /* An integer, just too large to hold: a row count is over the row
       * limit (413, as for any N above it), a feature count is wrong (422). */
      ts_http_resp_error(resp, d == 0 ? 413 : 422, "inputs[%d]: shape[%d] %.17g is %s", idx, d, big,
                         d == 0 ? "more rows than any request may hold" : "not the model's feature count");
      return -1;
    }
    if (rc) {
      ts_http_resp_error(resp, 422, "inputs[%d]: shape[%d] must be a non-negative integer", idx, d);
      return -1;
    }
    t->shape[d] = v;
  }
  t->data_tok = ts_json_obj_get(doc, tok, "data");
  int params = ts_json_obj_get(doc, tok, "parameters");
  if (ts__api_known_keys(doc, tok, INPUT_KEYS, "inputs", idx, NULL, resp) ||
      ts__api_known_keys(doc, params, INPUT_PARAMS, "inputs", idx, ".parameters", resp))
    return -1;
  int bds = params >= 0 ? ts_json_obj_get(doc, params, "binary_data_size") : -1;
  if (bds >= 0) {
    int64_t n;
    if (ts_json_int(doc, bds, 0, INT64_MAX / 2, &n)) {
      ts_http_resp_error(resp, 400, "inputs[%d]: binary_data_size must be a non-negative integer", idx);
      return -1;
    }
    if (!*bin || (int64_t)(bin_end - *bin) < n) {
      ts_http_resp_error(resp, 400, "inputs[%d]: binary_data_size %lld is beyond the end of the request body", idx,
                         (long long)n);
      return -1;
    }
    t->data_tok = -1;
    t->bin = *bin;
    t->bin_len = (size_t)n;
    *bin += n;
  } else if (t->data_tok < 0) {
    ts_http_resp_error(resp, 400, "inputs[%d] has neither \"data\" nor parameters.binary_data_size", idx);
    return -1;
  }
  return 0;
}

static int parse_outputs(ts_http_resp *resp, const ts_json_doc *doc, int outs, bool all_binary,
                         const ts_repo_entry *e, out_req *o, int *nout) {
  *nout = 0;
  if (outs < 0 || (doc->toks[outs].type == TS_JSON_ARRAY && doc->toks[outs].size == 0)) {
    ts_predict_type def = e->config->default_output;
    o[0] = (out_req){.type = def, .binary = all_binary, .name = ts__api_output_name(def)};
    *nout = 1;
    return 0;
  }
  if (doc->toks[outs].type != TS_JSON_ARRAY) {
    ts_http_resp_error(resp, 400, "\"outputs\" must be an array");
    return -1;
  }
  int k = outs + 1;
  for (int i = 0; i < doc->toks[outs].size; i++, k = ts_json_skip(doc, k)) {
    int name = doc->toks[k].type == TS_JSON_OBJECT ? ts_json_obj_get(doc, k, "name") : -1;
    if (name < 0 || doc->toks[name].type != TS_JSON_STRING) {
      ts_http_resp_error(resp, 400, "outputs[%d] needs a \"name\"", i);
      return -1;
    }
    size_t n;
    const char *s = ts_json_raw(doc, name, &n);
    int type = ts__api_output_type(s, n);
    if (type < 0) {
      ts_http_resp_error(resp, 422, "outputs[%d]: unknown output '%.*s' (predict, raw, leaf, contrib)", i,
                         (int)(n > 40 ? 40 : n), s);
      return -1;
    }
    for (int j = 0; j < *nout; j++)
      if (o[j].type == (ts_predict_type)type) {
        ts_http_resp_error(resp, 400, "outputs[%d]: output '%.*s' requested twice", i, (int)n, s);
        return -1;
      }
    bool bin = all_binary;
    int params = ts_json_obj_get(doc, k, "parameters");
    if (ts__api_known_keys(doc, k, OUTPUT_KEYS, "outputs", i, NULL, resp) ||
        ts__api_known_keys(doc, params, OUTPUT_PARAMS, "outputs", i, ".parameters", resp))
      return -1;
    int bd = params >= 0 ? ts_json_obj_get(doc, params, "binary_data") : -1;
    if (bd >= 0 && !ts_json_is_bool(doc, bd, &bin)) {
      ts_http_resp_error(resp, 400, "outputs[%d]: parameters.binary_data must be true or false", i);
      return -1;
    }
    o[*nout] = (out_req){.type = (ts_predict_type)type, .binary = bin, .name = ts__api_output_name((ts_predict_type)type)};
    (*nout)++;
  }
  return 0;
}

/* Writes the response: JSON header, then the binary outputs in order. */
static void write_response(ts_http_resp *resp, const ts_json_doc *doc, int id_tok, const ts_repo_entry *e,
                           out_req *o, int nout, size_t N) {
  ts_jw *w = resp->body;
  ts_jw_lit(w, "{");
  if (id_tok >= 0) {
    ts_jw_lit(w, "\"id\":");
    size_t n;
    const char *s = ts_json_raw(doc, id_tok, &n);
    ts_jw_char(w, '"');
    ts_jw_raw(w, s, n); /* already a valid escaped JSON string body */
    ts_jw_lit(w, "\",");
  }
  ts_jw_lit(w, "\"model_name\":");
  ts_jw_cstr(w, e->name);
  ts_jw_lit(w, ",\"model_version\":");
  ts_jw_cstr(w, e->version_str);
  ts_jw_lit(w, ",\"outputs\":[");
  bool any_binary = false;
  for (int i = 0; i < nout; i++) {
    const out_req *q = &o[i];
    bool leaf = q->type == TS_PREDICT_LEAF;
    size_t total = N * (size_t)q->width;
    if (i) ts_jw_char(w, ',');
    ts_jw_lit(w, "{\"name\":\"");
    ts_jw_lit(w, q->name);
    ts_jw_lit(w, leaf ? "\",\"datatype\":\"INT32\",\"shape\":[" : "\",\"datatype\":\"FP64\",\"shape\":[");
    ts_jw_int(w, (int64_t)N);
    if (leaf || q->width > 1 || q->type == TS_PREDICT_CONTRIB) {
      ts_jw_char(w, ',');
      ts_jw_int(w, q->width);
    }
    ts_jw_lit(w, "]");
    if (q->binary) {
      any_binary = true;
      ts_jw_lit(w, ",\"parameters\":{\"binary_data_size\":");
      ts_jw_int(w, (int64_t)(total * (leaf ? 4 : 8)));
      ts_jw_lit(w, "}}");
      continue;
    }
    ts_jw_lit(w, ",\"data\":[");
    for (size_t k = 0; k < total; k++) {
      if (k) ts_jw_char(w, ',');
      if (leaf) ts_jw_int(w, (int64_t)q->values[k]);
      else ts_jw_double(w, q->values[k]);
    }
    ts_jw_lit(w, "]}");
  }
  ts_jw_lit(w, "]}");
  if (!any_binary) return;
  char hl[32];
  snprintf(hl, sizeof(hl), "%zu", w->len);
  ts_http_resp_header(resp, "Inference-Header-Content-Length", hl);
  resp->content_type = "application/octet-stream";
  for (int i = 0; i < nout; i++) {
    const out_req *q = &o[i];
    if (!q->binary) continue;
    size_t total = N * (size_t)q->width;
    bool leaf = q->type == TS_PREDICT_LEAF;
    if (!ts_jw_reserve(w, total * (leaf ? 4 : 8))) return;
    unsigned char *p = (unsigned char *)w->buf + w->len;
    for (size_t k = 0; k < total; k++) {
      uint64_t u;
      int nb;
      if (leaf) {
        u = (uint32_t)(int32_t)q->values[k];
        nb = 4;
      } else {
        memcpy(&u, &q->values[k], 8);
        nb = 8;
      }
      for (int b = 0; b < nb; b++) *p++ = (unsigned char)(u >> (8 * b));
    }
    w->len = (size_t)((char *)p - w->buf);
  }
}

void ts__api_infer(void *ctx, ts_http_req *req, ts_http_resp *resp) {
  ts_api *api = ctx;
  ts__api_done *done = ts__api_begin(api, req, resp);
  const ts_repo_entry *e = ts__api_acquire(api, req, resp, done);
  if (!e) return;
  double t0 = ts_http_now();
  const ts_model *m = ts_forest_model(e->forest);
  const int F = ts_model_num_features(m);

  /* Binary extension: the JSON header is the first Inference-Header-Content-Length bytes. */
  size_t json_len = req->body_len;
  const unsigned char *bin = NULL, *bin_end = NULL;
  const char *hcl = ts_http_req_header(req, "Inference-Header-Content-Length");
  if (hcl) {
    char *endp;
    unsigned long long v = strtoull(hcl, &endp, 10);
    if (*hcl < '0' || *hcl > '9' || *endp || v > req->body_len) {
      ts_http_resp_error(resp, 400, "Inference-Header-Content-Length '%.20s' is not a length within the %zu-byte body",
                         hcl, req->body_len);
      goto out;
    }
    json_len = (size_t)v;
    if (req->body) { /* no body at all: keep bin/bin_end NULL (no offset on a NULL pointer) */
      bin = (const unsigned char *)req->body + json_len;
      bin_end = (const unsigned char *)req->body + req->body_len;
    }
  }
  ts_json_doc doc;
  if (ts__api_parse_json(api, req, resp, req->body, json_len, &doc)) goto out;
  if (doc.toks[0].type != TS_JSON_OBJECT) {
    ts_http_resp_error(resp, 400, "the request must be a JSON object");
    goto out;
  }
  int id_tok = ts_json_obj_get(&doc, 0, "id");
  if (id_tok >= 0 && doc.toks[id_tok].type != TS_JSON_STRING) {
    ts_http_resp_error(resp, 400, "\"id\" must be a string");
    goto out;
  }
  ts_predict_opts base = {TS_PREDICT_VALUE, 0, 0};
  int params = ts_json_obj_get(&doc, 0, "parameters");
  if (params >= 0 && doc.toks[params].type != TS_JSON_OBJECT) {
    ts_http_resp_error(resp, 400, "\"parameters\" must be an object");
    goto out;
  }
  if (ts__api_known_keys(&doc, 0, REQUEST_KEYS, "the request", -1, NULL, resp) ||
      ts__api_known_keys(&doc, params, REQUEST_PARAMS, "parameters", -1, NULL, resp))
    goto out;
  if (ts__api_iter_params(&doc, params, &base, resp)) goto out;
  bool all_binary = false;
  int bdo = params >= 0 ? ts_json_obj_get(&doc, params, "binary_data_output") : -1;
  if (bdo >= 0 && !ts_json_is_bool(&doc, bdo, &all_binary)) {
    ts_http_resp_error(resp, 400, "parameters.binary_data_output must be true or false");
    goto out;
  }
  int inputs = ts_json_obj_get(&doc, 0, "inputs");
  if (inputs < 0 || doc.toks[inputs].type != TS_JSON_ARRAY || doc.toks[inputs].size == 0) {
    ts_http_resp_error(resp, 400, "\"inputs\" must be a non-empty array of tensors");
    goto out;
  }
  int nin = doc.toks[inputs].size;
  if (nin > F + MAX_INPUTS_EXTRA) {
    ts_http_resp_error(resp, 422, "%d inputs for a model of %d features", nin, F);
    goto out;
  }
  in_tensor *ts = ts_arena_alloc_array(req->arena, (size_t)nin, sizeof(in_tensor));
  if (!ts) {
    ts_http_resp_error(resp, 413, "request needs more memory than the per-request limit");
    goto out;
  }
  int k = inputs + 1;
  for (int i = 0; i < nin; i++, k = ts_json_skip(&doc, k))
    if (parse_input(resp, &doc, k, &ts[i], &bin, bin_end, i)) goto out;
  if (bin && bin != bin_end) {
    ts_http_resp_error(resp, 400, "%zu bytes after the last binary input", (size_t)(bin_end - bin));
    goto out;
  }
  /* Layout A: one [N, F] tensor. Layout B: one [N] tensor per feature. */
  bool layout_a = nin == 1 && ts[0].rank == 2;
  int64_t N64;
  if (layout_a) {
    N64 = ts[0].shape[0];
    if (ts[0].shape[1] != F) {
      ts_http_resp_error(resp, 422, "input shape [%lld, %lld]: the model has %d features", (long long)N64,
                         (long long)ts[0].shape[1], F);
      goto out;
    }
  } else {
    N64 = ts[0].shape[0];
    bool *seen = ts_arena_alloc(req->arena, (size_t)F);
    if (!seen) {
      ts_http_resp_error(resp, 413, "request needs more memory than the per-request limit");
      goto out;
    }
    memset(seen, 0, (size_t)F);
    for (int i = 0; i < nin; i++) {
      size_t n;
      const char *s = ts_json_raw(&doc, ts[i].name_tok, &n);
      char *name = (char *)s;
      if (memchr(s, '\\', n)) {
        name = ts_arena_alloc(req->arena, n + 1);
        if (!name || ts_json_unescape(&doc, ts[i].name_tok, name, n + 1, &n)) {
          ts_http_resp_error(resp, 400, "inputs[%d]: bad escape in name", i);
          goto out;
        }
      }
      int f = ts_model_find_feature(m, name, n);
      if (f < 0) {
        ts_http_resp_error(resp, 422, "inputs[%d]: '%.*s' is not a feature of model '%s' (send one [N, %d] tensor or one [N] tensor per feature name)",
                           i, (int)(n > 64 ? 64 : n), name, e->name, F);
        goto out;
      }
      if (seen[f]) {
        ts_http_resp_error(resp, 422, "inputs[%d]: feature '%s' given twice", i, ts_model_feature_name(m, f));
        goto out;
      }
      seen[f] = true;
      ts[i].feature = f;
      if (ts[i].shape[0] != N64 || (ts[i].rank == 2 && ts[i].shape[1] != 1)) {
        ts_http_resp_error(resp, 422, "inputs[%d] ('%s'): shape must be [%lld] like the first input", i,
                           ts_model_feature_name(m, f), (long long)N64);
        goto out;
      }
    }
    for (int f = 0; f < F; f++)
      if (!seen[f]) {
        ts_http_resp_error(resp, 422, "no input for feature '%s' (%d of %d features given)", ts_model_feature_name(m, f),
                           nin, F);
        goto out;
      }
  }
  long max_rows = ts__api_max_rows(api, e);
  if (N64 > max_rows) {
    ts_http_resp_error(resp, 413, "%lld rows is more than the limit of %ld rows per request", (long long)N64, max_rows);
    goto out;
  }
  size_t N = (size_t)N64;
  double *X = ts_arena_alloc_array(req->arena, N ? N * (size_t)F : 1, sizeof(double));
  if (!X) {
    ts_http_resp_error(resp, 413, "%zu rows need more memory than the per-request limit", N);
    goto out;
  }
  for (int i = 0; i < nin; i++) {
    size_t n;
    const char *s = ts_json_raw(&doc, ts[i].name_tok, &n);
    /* The raw name (at most 64 bytes of it) goes to fill() as a slice: it is
     * only printed if an error is reported. */
    if (fill(resp, m, &doc, &ts[i], s, n > 64 ? 64 : (int)n, layout_a ? N * (size_t)F : N, F, layout_a, X, req->arena))
      goto out;
  }
  out_req o[MAX_OUTPUTS];
  int nout;
  if (parse_outputs(resp, &doc, ts_json_obj_get(&doc, 0, "outputs"), all_binary, e, o, &nout)) goto out;
  double t1 = ts_http_now();
  done->parse_s = t1 - t0;
  for (int i = 0; i < nout; i++) {
    ts_predict_opts opts = base;
    opts.type = o[i].type;
    o[i].width = ts_predict_width(e->forest, &opts);
    if (o[i].width < 0) {
      ts_http_resp_error(resp, 422, "output '%s' is not available for this model", o[i].name);
      goto out;
    }
    o[i].values = ts_arena_alloc_array(req->arena, N * (size_t)o[i].width + 1, sizeof(double));
    if (!o[i].values) {
      ts_http_resp_error(resp, 413, "output '%s' for %zu rows needs more memory than the per-request limit", o[i].name, N);
      goto out;
    }
    if (ts__api_predict(e, &opts, X, N, (size_t)F, o[i].values, resp)) goto out;
  }
  double t2 = ts_http_now();
  done->predict_s = t2 - t1;
  done->rows = N;
  write_response(resp, &doc, id_tok, e, o, nout, N);
  done->write_s = ts_http_now() - t2;
out:
  ts_repo_release(e);
}
