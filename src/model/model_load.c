/*
 * LightGBM text model loader: reads the whole file, walks it line by line
 * (no copies, numbers parsed in place), fills the plain mirror in
 * model_internal.h and validates it. Layout of the file (LightGBM's
 * GBDT::SaveModelToString):
 *
 *   tree                       header: key=value lines, "average_output"
 *   version=v4 ... tree_sizes=
 *   Tree=0 ... (blank line)    one block per tree, see model_tree.c
 *   end of trees
 *   feature_importances: name=value lines
 *   parameters: [key: value] lines ... end of parameters
 *   pandas_categorical:<JSON or null>
 *
 * Every error names the file and line. Limits are the TS_MODEL_MAX_*
 * constants of model.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "model/model_num.h"
#include "model/model_parse.h"

/* ---- lexer ---------------------------------------------------------------- */

bool ts__lex_line(ts__lex *lx, ts__span *out) {
  if (lx->p >= lx->end) return false;
  const char *s = lx->p;
  const char *nl = memchr(s, '\n', (size_t)(lx->end - s));
  const char *e = nl ? nl : lx->end;
  lx->p = nl ? nl + 1 : lx->end;
  while (e > s && (e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t')) e--;
  lx->line++;
  out->s = s;
  out->e = e;
  return true;
}

bool ts__span_starts(ts__span sp, const char *prefix) {
  size_t n = strlen(prefix);
  return (size_t)(sp.e - sp.s) >= n && memcmp(sp.s, prefix, n) == 0;
}

bool ts__span_eq(ts__span sp, const char *str) {
  size_t n = strlen(str);
  return (size_t)(sp.e - sp.s) == n && memcmp(sp.s, str, n) == 0;
}

bool ts__next_token(ts__span *sp, ts__span *tok) {
  const char *s = sp->s;
  while (s < sp->e && (*s == ' ' || *s == '\t')) s++;
  if (s == sp->e) {
    sp->s = s;
    return false;
  }
  const char *t = s;
  while (t < sp->e && *t != ' ' && *t != '\t') t++;
  tok->s = s;
  tok->e = t;
  sp->s = t;
  return true;
}

/* ---- header ---------------------------------------------------------------- */

enum hdr_key {
  H_VERSION,
  H_NUM_CLASS,
  H_NUM_TREE_PER_ITERATION,
  H_LABEL_INDEX,
  H_MAX_FEATURE_IDX,
  H_OBJECTIVE,
  H_FEATURE_NAMES,
  H_FEATURE_INFOS,
  H_TREE_SIZES,
  H_COUNT
};
static const char *const kHdrNames[H_COUNT] = {
    "version",     "num_class",     "num_tree_per_iteration", "label_index", "max_feature_idx",
    "objective",   "feature_names", "feature_infos",          "tree_sizes"};

typedef struct load_ctx {
  const char *name;
  ts_error *err;
  ts__lex lx;
  ts_model *m;
  ts__span hv[H_COUNT];
  int hline[H_COUNT];
  bool have[H_COUNT];
  long num_tree_sizes; /* -1 if no tree_sizes line */
  ts__span cat_param;  /* value of [categorical_feature: ...] */
  ts__span pandas;     /* JSON after pandas_categorical: */
  int pandas_line;
  bool have_pandas;
} load_ctx;

static int failf(load_ctx *c, int code, int line, const char *msg, const char *arg) {
  if (arg)
    return ts_error_set(c->err, code, "%s:%d: %s%s", c->name, line, msg, arg);
  return ts_error_set(c->err, code, "%s:%d: %s", c->name, line, msg);
}

static int hdr_int(load_ctx *c, int k, long long lo, long long hi, int *out) {
  if (!c->have[k]) return failf(c, TS_EPARSE, c->lx.line, "header has no ", kHdrNames[k]);
  ts__span sp = c->hv[k], tok, extra;
  long long v;
  if (!ts__next_token(&sp, &tok) || ts__next_token(&sp, &extra) ||
      ts__parse_long(tok.s, tok.e, lo, hi, &v) != 0)
    return ts_error_set(c->err, TS_ELIMIT, "%s:%d: %s must be an integer in [%lld, %lld]", c->name,
                        c->hline[k], kHdrNames[k], lo, hi);
  *out = (int)v;
  return 0;
}

/* Splits a space-separated header list into `n` NUL-terminated strings. */
static int hdr_list(load_ctx *c, int k, int n, char ***out) {
  if (!c->have[k]) return failf(c, TS_EPARSE, c->lx.line, "header has no ", kHdrNames[k]);
  char **a = calloc((size_t)n, sizeof *a);
  if (!a) return failf(c, TS_ENOMEM, c->hline[k], "out of memory", NULL);
  *out = a;
  ts__span sp = c->hv[k], tok;
  int i = 0;
  while (ts__next_token(&sp, &tok)) {
    if (i == n) break;
    size_t len = (size_t)(tok.e - tok.s);
    if (!(a[i] = malloc(len + 1))) return failf(c, TS_ENOMEM, c->hline[k], "out of memory", NULL);
    memcpy(a[i], tok.s, len);
    a[i][len] = 0;
    i++;
  }
  if (i != n || ts__next_token(&sp, &tok))
    return ts_error_set(c->err, TS_EPARSE, "%s:%d: %s: expected %d entries (max_feature_idx + 1)",
                        c->name, c->hline[k], kHdrNames[k], n);
  return 0;
}

static int parse_header(load_ctx *c) {
  ts__span ln;
  c->num_tree_sizes = -1;
  if (!ts__lex_line(&c->lx, &ln) || !ts__span_eq(ln, "tree"))
    return failf(c, TS_EPARSE, c->lx.line ? c->lx.line : 1,
                 "not a LightGBM text model (first line must be 'tree')", NULL);
  ts_model *m = c->m;
  for (;;) {
    ts__lex save = c->lx;
    if (!ts__lex_line(&c->lx, &ln))
      return failf(c, TS_EPARSE, c->lx.line, "truncated: no trees and no 'end of trees'", NULL);
    if (ln.s == ln.e) continue;
    if (ts__span_starts(ln, "Tree=") || ts__span_eq(ln, "end of trees")) {
      c->lx = save;
      break;
    }
    if (ts__span_eq(ln, "average_output")) {
      m->average_output = true;
      continue;
    }
    const char *eq = memchr(ln.s, '=', (size_t)(ln.e - ln.s));
    if (!eq) return failf(c, TS_EPARSE, c->lx.line, "expected key=value in the header", NULL);
    ts__span key = {ln.s, eq};
    for (int k = 0; k < H_COUNT; k++) {
      if (ts__span_eq(key, kHdrNames[k])) {
        if (c->have[k]) return failf(c, TS_EPARSE, c->lx.line, "duplicate header key ", kHdrNames[k]);
        c->have[k] = true;
        c->hv[k] = (ts__span){eq + 1, ln.e};
        c->hline[k] = c->lx.line;
      }
    }
    /* unknown keys (monotone_constraints, future additions) are ignored */
  }
  int rc;
  if (c->have[H_VERSION]) {
    size_t n = (size_t)(c->hv[H_VERSION].e - c->hv[H_VERSION].s);
    if (n >= sizeof m->version) n = sizeof m->version - 1;
    memcpy(m->version, c->hv[H_VERSION].s, n);
    m->version[n] = 0;
  }
  if ((rc = hdr_int(c, H_NUM_CLASS, 1, TS_MODEL_MAX_CLASSES, &m->num_class)) != 0) return rc;
  if (c->have[H_NUM_TREE_PER_ITERATION]) {
    if ((rc = hdr_int(c, H_NUM_TREE_PER_ITERATION, 1, TS_MODEL_MAX_CLASSES,
                      &m->num_tree_per_iteration)) != 0)
      return rc;
  } else {
    m->num_tree_per_iteration = m->num_class; /* LightGBM's default */
  }
  if (m->num_tree_per_iteration != m->num_class)
    return ts_error_set(c->err, TS_EPARSE, "%s:%d: num_tree_per_iteration=%d differs from num_class=%d",
                        c->name, c->hline[H_NUM_TREE_PER_ITERATION], m->num_tree_per_iteration,
                        m->num_class);
  if ((rc = hdr_int(c, H_LABEL_INDEX, -1, TS_MODEL_MAX_FEATURES, &m->label_index)) != 0) return rc;
  if ((rc = hdr_int(c, H_MAX_FEATURE_IDX, 0, TS_MODEL_MAX_FEATURES - 1, &m->max_feature_idx)) != 0)
    return rc;
  m->num_features = m->max_feature_idx + 1;
  if ((rc = hdr_list(c, H_FEATURE_NAMES, m->num_features, &m->feature_names)) != 0) return rc;
  if (ts__names_index_build(m, c->err)) return failf(c, TS_ENOMEM, c->lx.line, "out of memory", NULL);
  if ((rc = hdr_list(c, H_FEATURE_INFOS, m->num_features, &m->feature_infos)) != 0) return rc;
  if (!(m->feature_is_categorical = calloc((size_t)m->num_features, sizeof(bool))) ||
      !(m->feature_importance = calloc((size_t)m->num_features, sizeof(double))))
    return failf(c, TS_ENOMEM, c->lx.line, "out of memory", NULL);
  for (int i = 0; i < m->num_features; i++) {
    const char *fi = m->feature_infos[i];
    /* numerical: "[min:max]" or "none"; categorical: "c1:c2:..." */
    if (fi[0] != '[' && strcmp(fi, "none") != 0) m->feature_is_categorical[i] = true;
  }
  if (c->have[H_OBJECTIVE]) {
    size_t n = (size_t)(c->hv[H_OBJECTIVE].e - c->hv[H_OBJECTIVE].s);
    if (!(m->objective_line = malloc(n + 1))) return failf(c, TS_ENOMEM, 0, "out of memory", NULL);
    memcpy(m->objective_line, c->hv[H_OBJECTIVE].s, n);
    m->objective_line[n] = 0;
    if ((rc = ts__objective_parse(m, c->hv[H_OBJECTIVE], c->hline[H_OBJECTIVE], c->name, c->err)) != 0)
      return rc;
  } else {
    if (!(m->objective_line = calloc(1, 1))) return failf(c, TS_ENOMEM, 0, "out of memory", NULL);
    ts__objective_custom(m);
  }
  if (c->have[H_TREE_SIZES]) {
    ts__span sp = c->hv[H_TREE_SIZES], tok;
    long n = 0;
    while (ts__next_token(&sp, &tok)) {
      long long v;
      if (ts__parse_long(tok.s, tok.e, 0, (long long)TS_MODEL_MAX_FILE_BYTES, &v) != 0)
        return failf(c, TS_EPARSE, c->hline[H_TREE_SIZES], "tree_sizes: bad entry", NULL);
      n++;
    }
    if (n > TS_MODEL_MAX_TREES)
      return ts_error_set(c->err, TS_ELIMIT, "%s:%d: more than %d trees (TS_MODEL_MAX_TREES)",
                          c->name, c->hline[H_TREE_SIZES], TS_MODEL_MAX_TREES);
    c->num_tree_sizes = n;
  }
  return 0;
}

/* ---- trees ----------------------------------------------------------------- */

static int parse_trees(load_ctx *c) {
  ts_model *m = c->m;
  long cap = c->num_tree_sizes > 0 ? c->num_tree_sizes : 16;
  if (!(m->trees = calloc((size_t)cap, sizeof(ts_tree))))
    return failf(c, TS_ENOMEM, c->lx.line, "out of memory", NULL);
  ts__span ln;
  for (;;) {
    if (!ts__lex_line(&c->lx, &ln))
      return failf(c, TS_EPARSE, c->lx.line, "truncated: missing 'end of trees'", NULL);
    if (ln.s == ln.e) continue;
    if (ts__span_eq(ln, "end of trees")) break;
    if (!ts__span_starts(ln, "Tree="))
      return failf(c, TS_EPARSE, c->lx.line, "expected 'Tree=' or 'end of trees'", NULL);
    long long idx;
    if (ts__parse_long(ln.s + 5, ln.e, 0, TS_MODEL_MAX_TREES, &idx) != 0 || idx != m->num_trees)
      return ts_error_set(c->err, TS_EPARSE, "%s:%d: expected Tree=%d", c->name, c->lx.line,
                          m->num_trees);
    if (m->num_trees >= TS_MODEL_MAX_TREES)
      return ts_error_set(c->err, TS_ELIMIT, "%s:%d: more than %d trees (TS_MODEL_MAX_TREES)",
                          c->name, c->lx.line, TS_MODEL_MAX_TREES);
    if (m->num_trees == cap) {
      long ncap = cap * 2 > TS_MODEL_MAX_TREES ? TS_MODEL_MAX_TREES : cap * 2;
      ts_tree *nt = realloc(m->trees, (size_t)ncap * sizeof(ts_tree));
      if (!nt) return failf(c, TS_ENOMEM, c->lx.line, "out of memory", NULL);
      memset(nt + cap, 0, (size_t)(ncap - cap) * sizeof(ts_tree));
      m->trees = nt;
      cap = ncap;
    }
    ts_tree *t = &m->trees[m->num_trees++];
    int rc = ts__tree_parse(&c->lx, m->num_features, t, c->err);
    if (rc) return rc;
  }
  if (c->num_tree_sizes >= 0 && c->num_tree_sizes != m->num_trees)
    return ts_error_set(c->err, TS_EPARSE, "%s:%d: tree_sizes lists %ld trees but the file has %d",
                        c->name, c->hline[H_TREE_SIZES], c->num_tree_sizes, m->num_trees);
  if (m->num_trees % m->num_tree_per_iteration != 0)
    return ts_error_set(c->err, TS_EPARSE,
                        "%s:%d: %d trees is not a multiple of num_tree_per_iteration=%d", c->name,
                        c->lx.line, m->num_trees, m->num_tree_per_iteration);
  return 0;
}

/* ---- after the trees --------------------------------------------------------- */

static int parse_trailer(load_ctx *c) {
  ts_model *m = c->m;
  ts__span ln;
  enum { NONE, IMPORTANCE, PARAMS } section = NONE;
  const char *params_start = NULL, *params_end = NULL;
  while (ts__lex_line(&c->lx, &ln)) {
    if (section == PARAMS) {
      if (ts__span_eq(ln, "end of parameters")) {
        params_end = ln.s;
        section = NONE;
      } else if (ts__span_starts(ln, "[categorical_feature:")) {
        c->cat_param = (ts__span){ln.s + 21, ln.e};
        if (c->cat_param.e > c->cat_param.s && c->cat_param.e[-1] == ']') c->cat_param.e--;
      }
      continue;
    }
    if (ln.s == ln.e) {
      section = NONE;
      continue;
    }
    if (ts__span_eq(ln, "feature_importances:")) {
      section = IMPORTANCE;
    } else if (ts__span_eq(ln, "parameters:")) {
      section = PARAMS;
      params_start = c->lx.p;
    } else if (ts__span_starts(ln, "pandas_categorical:")) {
      c->pandas = (ts__span){ln.s + 19, ln.e};
      c->pandas_line = c->lx.line;
      c->have_pandas = true;
    } else if (section == IMPORTANCE) {
      /* name=value; names are unique feature names. Unknown names ignored. */
      const char *eq = NULL;
      for (const char *q = ln.e; q > ln.s; q--)
        if (q[-1] == '=') {
          eq = q - 1;
          break;
        }
      double v;
      if (!eq || ts__parse_double(eq + 1, ln.e, &v) != 0)
        return failf(c, TS_EPARSE, c->lx.line, "feature_importances: expected name=value", NULL);
      int f = ts_model_find_feature(m, ln.s, (size_t)(eq - ln.s));
      if (f >= 0) m->feature_importance[f] = v;
    }
    /* anything else after the trees is ignored (forward compatibility) */
  }
  if (section == PARAMS)
    return failf(c, TS_EPARSE, c->lx.line, "truncated: 'parameters:' without 'end of parameters'",
                 NULL);
  if (params_start && params_end && params_end >= params_start) {
    size_t n = (size_t)(params_end - params_start);
    if (!(m->parameters_text = malloc(n + 1))) return failf(c, TS_ENOMEM, 0, "out of memory", NULL);
    memcpy(m->parameters_text, params_start, n);
    m->parameters_text[n] = 0;
  }
  if (c->have_pandas)
    return ts__pandas_parse(m, c->pandas, c->cat_param, c->pandas_line, c->name, c->err);
  return 0;
}

/* ---- statistics ---------------------------------------------------------- */

static void leaf_depths(const ts_tree *t, ts_model_stats *st, double *sum_depth) {
  /* Iterative walk; depth <= num_leaves. */
  int n = t->num_leaves;
  if (n == 1) {
    if (st->min_depth > 0) st->min_depth = 0;
    return;
  }
  int32_t stack_small[128];
  int32_t *stack = 2 * n <= 128 ? stack_small : malloc((size_t)n * 2 * sizeof(int32_t));
  if (!stack) return;
  int sp = 0;
  stack[sp++] = 0;
  stack[sp++] = 0;
  while (sp > 0) {
    int d = stack[--sp], node = stack[--sp];
    if (node < 0) {
      if (d < st->min_depth) st->min_depth = d;
      if (d > st->max_depth) st->max_depth = d;
      *sum_depth += d;
      continue;
    }
    if (t->decision_type[node] & TS_DT_CATEGORICAL) st->num_categorical_splits++;
    stack[sp++] = t->left_child[node];
    stack[sp++] = d + 1;
    stack[sp++] = t->right_child[node];
    stack[sp++] = d + 1;
  }
  if (stack != stack_small) free(stack);
}

static void compute_stats(ts_model *m) {
  ts_model_stats *st = &m->stats;
  double sum_depth = 0;
  size_t bytes = sizeof *m + (size_t)m->num_trees * sizeof(ts_tree);
  st->min_depth = m->num_trees > 0 ? 1 << 30 : 0;
  for (int i = 0; i < m->num_trees; i++) {
    const ts_tree *t = &m->trees[i];
    st->total_leaves += (size_t)t->num_leaves;
    if (t->num_leaves > st->max_leaves) st->max_leaves = t->num_leaves;
    if (t->num_leaves == 1) st->num_single_leaf_trees++;
    leaf_depths(t, st, &sum_depth);
    size_t ni = (size_t)(t->num_leaves - 1), nl = (size_t)t->num_leaves;
    bytes += ni * (4 + 8 * 5 + 1 + 8) + nl * 8 * 3;
    if (t->num_cat) bytes += (size_t)(t->num_cat + 1) * 4 + (size_t)t->cat_boundaries[t->num_cat] * 4;
    if (t->is_linear) bytes += nl * 12 + (size_t)t->leaf_feat_begin[nl] * 12;
  }
  st->mean_depth = st->total_leaves ? sum_depth / (double)st->total_leaves : 0;
  for (int i = 0; i < m->num_features; i++)
    bytes += strlen(m->feature_names[i]) + strlen(m->feature_infos[i]) + 2 + 8 + 16 + 1 + 8;
  st->memory_bytes = bytes;
}

/* ---- entry points ------------------------------------------------------------ */

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int ts_model_load_buffer(const char *buf, size_t len, const char *name, ts_model **out,
                         ts_error *err) {
  double t0 = now_seconds();
  *out = NULL;
  if (!name) name = "<buffer>";
  if (!buf || len == 0) return ts_error_set(err, TS_EPARSE, "%s:1: empty file", name);
  if (len > TS_MODEL_MAX_FILE_BYTES)
    return ts_error_set(err, TS_ELIMIT, "%s:1: file larger than %zu bytes (TS_MODEL_MAX_FILE_BYTES)",
                        name, TS_MODEL_MAX_FILE_BYTES);
  const char *nul = memchr(buf, 0, len);
  if (nul) {
    int line = 1;
    for (const char *q = buf; q < nul; q++) line += *q == '\n';
    return ts_error_set(err, TS_EPARSE, "%s:%d: NUL byte in model file (binary data?)", name, line);
  }
  load_ctx c;
  memset(&c, 0, sizeof c);
  c.name = name;
  c.err = err;
  c.lx = (ts__lex){name, buf, buf + len, 0};
  if (!(c.m = calloc(1, sizeof *c.m))) return ts_error_set(err, TS_ENOMEM, "%s: out of memory", name);
  int rc = parse_header(&c);
  if (!rc) rc = parse_trees(&c);
  if (!rc) rc = parse_trailer(&c);
  if (rc) {
    ts_model_free(c.m);
    return rc;
  }
  compute_stats(c.m);
  c.m->stats.load_seconds = now_seconds() - t0;
  *out = c.m;
  return 0;
}

int ts_model_load_file(const char *path, ts_model **out, ts_error *err) {
  *out = NULL;
  double t0 = now_seconds();
  FILE *f = fopen(path, "rb");
  if (!f) return ts_error_set(err, TS_EIO, "%s: cannot open: %s", path, strerror(errno));
  int rc = 0;
  char *buf = NULL;
  struct stat stt;
  if (fstat(fileno(f), &stt) != 0 || !S_ISREG(stt.st_mode)) {
    rc = ts_error_set(err, TS_EIO, "%s: not a regular file", path);
    goto out;
  }
  if ((unsigned long long)stt.st_size > TS_MODEL_MAX_FILE_BYTES) {
    rc = ts_error_set(err, TS_ELIMIT, "%s: file larger than %zu bytes (TS_MODEL_MAX_FILE_BYTES)",
                      path, TS_MODEL_MAX_FILE_BYTES);
    goto out;
  }
  size_t size = (size_t)stt.st_size;
  if (!(buf = malloc(size ? size : 1))) {
    rc = ts_error_set(err, TS_ENOMEM, "%s: out of memory reading %zu bytes", path, size);
    goto out;
  }
  if (size && fread(buf, 1, size, f) != size) {
    rc = ts_error_set(err, TS_EIO, "%s: read error", path);
    goto out;
  }
  rc = ts_model_load_buffer(buf, size, path, out, err);
  if (!rc) (*out)->stats.load_seconds = now_seconds() - t0;
out:
  free(buf);
  fclose(f);
  return rc;
}
