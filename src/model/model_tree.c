/*
 * One "Tree=" block of a LightGBM text model: key=value lines read into a
 * table (keys may come in any order, unknown keys are ignored for forward
 * compatibility), then each array parsed in place with its exact length
 * checked, then the tree's structure validated so that prediction and SHAP
 * code can walk it without any bounds checks:
 *   - every child index is in range, every node except the root has exactly
 *     one parent and everything is reachable from the root (no cycles);
 *   - split features are < num_features, numerical thresholds are finite,
 *     categorical thresholds index an existing category set, category sets
 *     lie inside cat_threshold; linear-leaf features are < num_features.
 * Semantics follow LightGBM's Tree::Tree(const char*) (src/io/tree.cpp).
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_num.h"
#include "model/model_parse.h"

enum tree_key {
  K_NUM_LEAVES,
  K_NUM_CAT,
  K_SPLIT_FEATURE,
  K_SPLIT_GAIN,
  K_THRESHOLD,
  K_DECISION_TYPE,
  K_LEFT_CHILD,
  K_RIGHT_CHILD,
  K_LEAF_VALUE,
  K_LEAF_WEIGHT,
  K_LEAF_COUNT,
  K_INTERNAL_VALUE,
  K_INTERNAL_WEIGHT,
  K_INTERNAL_COUNT,
  K_CAT_BOUNDARIES,
  K_CAT_THRESHOLD,
  K_IS_LINEAR,
  K_LEAF_CONST,
  K_NUM_FEATURES,
  K_LEAF_FEATURES,
  K_LEAF_COEFF,
  K_SHRINKAGE,
  K_COUNT
};

static const char *const kKeyNames[K_COUNT] = {
    "num_leaves",     "num_cat",         "split_feature",  "split_gain",     "threshold",
    "decision_type",  "left_child",      "right_child",    "leaf_value",     "leaf_weight",
    "leaf_count",     "internal_value",  "internal_weight", "internal_count", "cat_boundaries",
    "cat_threshold",  "is_linear",       "leaf_const",     "num_features",   "leaf_features",
    "leaf_coeff",     "shrinkage"};

/* Most lines a tree block may have before its blank line (LightGBM writes 22). */
#define TS_TREE_MAX_LINES 256

typedef struct tree_ctx {
  const char *name;
  ts_error *err;
  ts__span val[K_COUNT];
  int line[K_COUNT];
  bool have[K_COUNT];
} tree_ctx;

#define FAIL(code, ln, ...) fail_at(c, code, ln, __VA_ARGS__)

static int fail_at(tree_ctx *c, int code, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail_at(tree_ctx *c, int code, int line, const char *fmt, ...) {
  char msg[TS_ERROR_MSG_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return ts_error_set(c->err, code, "%s:%d: %s", c->name, line, msg);
}

/* Reads `n` doubles of key k into a new array (*out). n == 0 gives NULL. */
static int get_doubles(tree_ctx *c, int k, long n, bool finite, double **out) {
  *out = NULL;
  if (n == 0) return 0;
  double *a = malloc((size_t)n * sizeof *a);
  if (!a) return FAIL(TS_ENOMEM, c->line[k], "out of memory for %s", kKeyNames[k]);
  *out = a;
  const char *q = c->val[k].s, *e = c->val[k].e;
  long i = 0;
  for (;;) {
    double v;
    const char *tok = q;
    int r = ts__scan_double(&q, e, &v);
    if (r == 1) break;
    if (i == n)
      return FAIL(TS_EPARSE, c->line[k], "%s: more than the expected %ld values", kKeyNames[k], n);
    if (r != 0) {
      while (tok < e && (*tok == ' ' || *tok == '\t')) tok++;
      const char *te = tok;
      while (te < e && *te != ' ' && *te != '\t') te++;
      return FAIL(TS_EPARSE, c->line[k], "%s: value %ld is not a number: '%.*s'", kKeyNames[k],
                  i + 1, (int)(te - tok > 40 ? 40 : te - tok), tok);
    }
    if (finite && !isfinite(v))
      return FAIL(TS_EPARSE, c->line[k], "%s: value %ld is not finite", kKeyNames[k], i + 1);
    a[i++] = v;
  }
  if (i != n)
    return FAIL(TS_EPARSE, c->line[k], "%s: expected %ld values, found %ld", kKeyNames[k], n, i);
  return 0;
}

/* Reads `n` integers in [lo, hi] of key k. Stores as int32 (out32) or as
 * double (outd), whichever is non-NULL. */
static int get_ints(tree_ctx *c, int k, long n, long long lo, long long hi, int32_t **out32,
                    double **outd) {
  void *a = NULL;
  if (out32) *out32 = NULL;
  if (outd) *outd = NULL;
  if (n == 0) return 0;
  a = malloc((size_t)n * (out32 ? sizeof(int32_t) : sizeof(double)));
  if (!a) return FAIL(TS_ENOMEM, c->line[k], "out of memory for %s", kKeyNames[k]);
  if (out32)
    *out32 = a;
  else
    *outd = a;
  ts__span sp = c->val[k], tok;
  long i = 0;
  while (ts__next_token(&sp, &tok)) {
    long long v;
    if (i == n)
      return FAIL(TS_EPARSE, c->line[k], "%s: more than the expected %ld values", kKeyNames[k], n);
    if (ts__parse_long(tok.s, tok.e, lo, hi, &v) != 0)
      return FAIL(TS_EPARSE, c->line[k], "%s: value %ld ('%.*s') is not an integer in [%lld, %lld]",
                  kKeyNames[k], i + 1, (int)(tok.e - tok.s > 40 ? 40 : tok.e - tok.s), tok.s, lo,
                  hi);
    if (out32)
      ((int32_t *)a)[i] = (int32_t)v;
    else
      ((double *)a)[i] = (double)v;
    i++;
  }
  if (i != n)
    return FAIL(TS_EPARSE, c->line[k], "%s: expected %ld values, found %ld", kKeyNames[k], n, i);
  return 0;
}

static int get_scalar(tree_ctx *c, int k, long long lo, long long hi, long long *out) {
  ts__span sp = c->val[k], tok, extra;
  if (!ts__next_token(&sp, &tok) || ts__next_token(&sp, &extra) ||
      ts__parse_long(tok.s, tok.e, lo, hi, out) != 0)
    return FAIL(k == K_NUM_LEAVES ? TS_ELIMIT : TS_EPARSE, c->line[k],
                "%s must be an integer in [%lld, %lld]", kKeyNames[k], lo, hi);
  return 0;
}

static long count_tokens(ts__span sp) {
  ts__span tok;
  long n = 0;
  while (ts__next_token(&sp, &tok)) n++;
  return n;
}

static int require(tree_ctx *c, int k, int tree_line) {
  if (!c->have[k]) return FAIL(TS_EPARSE, tree_line, "tree has no %s line", kKeyNames[k]);
  return 0;
}

/* Checks the node graph: children in range, one parent each, all reachable.
 * Also computes max_depth. */
static int check_structure(tree_ctx *c, ts_tree *t, int tree_line) {
  int n = t->num_leaves, ni = n - 1;
  int rc = 0;
  /* seen[0..ni) internal nodes, seen[ni..ni+n) leaves */
  unsigned char *seen = calloc((size_t)(ni + n), 1);
  int32_t *stack = malloc((size_t)(ni + 1) * 2 * sizeof *stack);
  if (!seen || !stack) {
    rc = FAIL(TS_ENOMEM, tree_line, "out of memory");
    goto out;
  }
  for (int i = 0; i < ni; i++) {
    int32_t ch[2] = {t->left_child[i], t->right_child[i]};
    for (int s = 0; s < 2; s++) {
      int32_t v = ch[s];
      int k = s == 0 ? K_LEFT_CHILD : K_RIGHT_CHILD;
      if (v >= 0) {
        if (v >= ni) {
          rc = FAIL(TS_EPARSE, c->line[k], "%s of node %d is %d, out of range (%d internal nodes)",
                    kKeyNames[k], i, v, ni);
          goto out;
        }
        if (v == 0) {
          rc = FAIL(TS_EPARSE, c->line[k], "%s of node %d points to the root (cycle)",
                    kKeyNames[k], i);
          goto out;
        }
        if (seen[v]++) {
          rc = FAIL(TS_EPARSE, c->line[k], "node %d has more than one parent", v);
          goto out;
        }
      } else {
        int64_t leaf = ~(int64_t)v;
        if (leaf >= n) {
          rc = FAIL(TS_EPARSE, c->line[k], "%s of node %d is leaf %lld, out of range (%d leaves)",
                    kKeyNames[k], i, (long long)leaf, n);
          goto out;
        }
        if (seen[ni + leaf]++) {
          rc = FAIL(TS_EPARSE, c->line[k], "leaf %lld is reached from more than one node",
                    (long long)leaf);
          goto out;
        }
      }
    }
  }
  /* Every slot target is unique and in range; a walk from the root now reaches
   * everything unless some nodes form a cycle detached from the root. */
  memset(seen, 0, (size_t)(ni + n));
  int sp = 0, reached = 0, maxd = 0;
  stack[sp++] = 0;
  stack[sp++] = 0; /* node, depth pairs */
  while (sp > 0) {
    int d = stack[--sp], node = stack[--sp];
    if (node < 0) {
      if (d > maxd) maxd = d;
      reached++;
      continue;
    }
    if (seen[node]) break; /* cannot happen with unique parents; guard anyway */
    seen[node] = 1;
    reached++;
    stack[sp++] = t->left_child[node];
    stack[sp++] = d + 1;
    stack[sp++] = t->right_child[node];
    stack[sp++] = d + 1;
  }
  if (reached != ni + n) {
    rc = FAIL(TS_EPARSE, tree_line, "tree has unreachable nodes or a cycle (%d of %d reached)",
              reached, ni + n);
    goto out;
  }
  t->max_depth = maxd;
out:
  free(seen);
  free(stack);
  return rc;
}

int ts__tree_parse(ts__lex *lx, int num_features, ts_tree *t, ts_error *err) {
  tree_ctx cc;
  tree_ctx *c = &cc;
  memset(c, 0, sizeof *c);
  c->name = lx->name;
  c->err = err;
  int tree_line = lx->line;
  int rc = 0;
  memset(t, 0, sizeof *t);

  /* Collect key=value lines up to the blank line ending the block. The next
   * "Tree=" or "end of trees" also ends it (tolerates a missing blank line). */
  for (int nlines = 0;; nlines++) {
    ts__lex save = *lx;
    ts__span ln;
    if (!ts__lex_line(lx, &ln)) break;
    if (ln.s == ln.e) break;
    if (ts__span_starts(ln, "Tree=") || ts__span_eq(ln, "end of trees")) {
      *lx = save;
      break;
    }
    if (nlines >= TS_TREE_MAX_LINES)
      return FAIL(TS_ELIMIT, lx->line, "tree block longer than %d lines", TS_TREE_MAX_LINES);
    const char *eq = memchr(ln.s, '=', (size_t)(ln.e - ln.s));
    if (!eq) return FAIL(TS_EPARSE, lx->line, "expected key=value inside a tree block");
    ts__span key = {ln.s, eq};
    for (int k = 0; k < K_COUNT; k++) {
      if (ts__span_eq(key, kKeyNames[k])) {
        if (c->have[k]) return FAIL(TS_EPARSE, lx->line, "duplicate key %s", kKeyNames[k]);
        c->have[k] = true;
        c->val[k] = (ts__span){eq + 1, ln.e};
        c->line[k] = lx->line;
        break;
      }
    }
  }

  long long v;
  if ((rc = require(c, K_NUM_LEAVES, tree_line)) != 0) return rc;
  if ((rc = get_scalar(c, K_NUM_LEAVES, 1, TS_MODEL_MAX_LEAVES, &v)) != 0) return rc;
  t->num_leaves = (int)v;
  int n = t->num_leaves, ni = n - 1;
  if ((rc = require(c, K_NUM_CAT, tree_line)) != 0) return rc;
  if ((rc = get_scalar(c, K_NUM_CAT, 0, ni, &v)) != 0) return rc;
  t->num_cat = (int)v;
  t->shrinkage = 1.0;
  if (c->have[K_SHRINKAGE]) {
    ts__span sp = c->val[K_SHRINKAGE], tok;
    if (!ts__next_token(&sp, &tok) || ts__parse_double(tok.s, tok.e, &t->shrinkage) != 0)
      return FAIL(TS_EPARSE, c->line[K_SHRINKAGE], "shrinkage is not a number");
  }
  if (c->have[K_IS_LINEAR]) {
    if ((rc = get_scalar(c, K_IS_LINEAR, 0, 1, &v)) != 0) return rc;
    t->is_linear = v != 0;
  }
  if ((rc = require(c, K_LEAF_VALUE, tree_line)) != 0) return rc;
  if ((rc = get_doubles(c, K_LEAF_VALUE, n, true, &t->leaf_value)) != 0) return rc;

  /* Optional per-leaf statistics: zeros when absent, as in LightGBM. A
   * single-leaf tree is read like LightGBM reads it (only leaf_value counts;
   * LightGBM writes "leaf_weight=" empty for it). */
  if (n == 1 && !t->is_linear) {
    c->have[K_LEAF_WEIGHT] = c->have[K_LEAF_WEIGHT] && count_tokens(c->val[K_LEAF_WEIGHT]) == 1;
    c->have[K_LEAF_COUNT] = c->have[K_LEAF_COUNT] && count_tokens(c->val[K_LEAF_COUNT]) == 1;
  }
  if (c->have[K_LEAF_WEIGHT]) {
    if ((rc = get_doubles(c, K_LEAF_WEIGHT, n, false, &t->leaf_weight)) != 0) return rc;
  } else if (!(t->leaf_weight = calloc((size_t)n, sizeof(double)))) {
    return FAIL(TS_ENOMEM, tree_line, "out of memory");
  }
  if (c->have[K_LEAF_COUNT]) {
    if ((rc = get_ints(c, K_LEAF_COUNT, n, INT32_MIN, INT32_MAX, NULL, &t->leaf_count)) != 0)
      return rc;
  } else if (!(t->leaf_count = calloc((size_t)n, sizeof(double)))) {
    return FAIL(TS_ENOMEM, tree_line, "out of memory");
  }

  if (ni > 0) {
    static const int req[] = {K_LEFT_CHILD, K_RIGHT_CHILD, K_SPLIT_FEATURE, K_THRESHOLD};
    for (size_t i = 0; i < sizeof req / sizeof req[0]; i++)
      if ((rc = require(c, req[i], tree_line)) != 0) return rc;
    if ((rc = get_ints(c, K_LEFT_CHILD, ni, -(long long)n, ni - 1, &t->left_child, NULL)) != 0 ||
        (rc = get_ints(c, K_RIGHT_CHILD, ni, -(long long)n, ni - 1, &t->right_child, NULL)) != 0)
      return rc;
    if ((rc = get_ints(c, K_SPLIT_FEATURE, ni, 0, num_features - 1, &t->split_feature, NULL)) != 0)
      return rc;
    if ((rc = get_doubles(c, K_THRESHOLD, ni, false, &t->threshold)) != 0) return rc;
    if (!(t->decision_type = calloc((size_t)ni, 1)))
      return FAIL(TS_ENOMEM, tree_line, "out of memory");
    if (c->have[K_DECISION_TYPE]) {
      int32_t *dt = NULL;
      rc = get_ints(c, K_DECISION_TYPE, ni, 0, 15, &dt, NULL);
      if (rc == 0)
        for (int i = 0; i < ni; i++) t->decision_type[i] = (uint8_t)dt[i];
      free(dt);
      if (rc) return rc;
    }
    static const int opt[] = {K_SPLIT_GAIN, K_INTERNAL_VALUE, K_INTERNAL_WEIGHT};
    double **dst[] = {&t->split_gain, &t->internal_value, &t->internal_weight};
    for (size_t i = 0; i < 3; i++) {
      if (c->have[opt[i]]) {
        if ((rc = get_doubles(c, opt[i], ni, false, dst[i])) != 0) return rc;
      } else if (!(*dst[i] = calloc((size_t)ni, sizeof(double)))) {
        return FAIL(TS_ENOMEM, tree_line, "out of memory");
      }
    }
    if (c->have[K_INTERNAL_COUNT]) {
      if ((rc = get_ints(c, K_INTERNAL_COUNT, ni, INT32_MIN, INT32_MAX, NULL,
                         &t->internal_count)) != 0)
        return rc;
    } else if (!(t->internal_count = calloc((size_t)ni, sizeof(double)))) {
      return FAIL(TS_ENOMEM, tree_line, "out of memory");
    }
  }

  if (t->num_cat > 0) {
    if ((rc = require(c, K_CAT_BOUNDARIES, tree_line)) != 0 ||
        (rc = require(c, K_CAT_THRESHOLD, tree_line)) != 0)
      return rc;
    if ((rc = get_ints(c, K_CAT_BOUNDARIES, t->num_cat + 1, 0, TS_MODEL_MAX_CAT_WORDS,
                       &t->cat_boundaries, NULL)) != 0)
      return rc;
    if (t->cat_boundaries[0] != 0)
      return FAIL(TS_EPARSE, c->line[K_CAT_BOUNDARIES], "cat_boundaries must start at 0");
    for (int i = 0; i < t->num_cat; i++)
      if (t->cat_boundaries[i + 1] < t->cat_boundaries[i])
        return FAIL(TS_EPARSE, c->line[K_CAT_BOUNDARIES],
                    "cat_boundaries not monotonic at position %d", i + 1);
    long words = t->cat_boundaries[t->num_cat];
    if (words > 0 && !(t->cat_threshold = malloc((size_t)words * sizeof(uint32_t))))
      return FAIL(TS_ENOMEM, tree_line, "out of memory");
    ts__span sp = c->val[K_CAT_THRESHOLD], tok;
    long i = 0;
    while (ts__next_token(&sp, &tok)) {
      long long w;
      if (i == words)
        return FAIL(TS_EPARSE, c->line[K_CAT_THRESHOLD],
                    "cat_threshold: more than the %ld words cat_boundaries declares", words);
      if (ts__parse_long(tok.s, tok.e, 0, UINT32_MAX, &w) != 0)
        return FAIL(TS_EPARSE, c->line[K_CAT_THRESHOLD],
                    "cat_threshold: word %ld is not a 32-bit unsigned integer", i + 1);
      t->cat_threshold[i++] = (uint32_t)w;
    }
    if (i != words)
      return FAIL(TS_EPARSE, c->line[K_CAT_THRESHOLD],
                  "cat_threshold: expected %ld words (cat_boundaries), found %ld", words, i);
  } /* with num_cat == 0 LightGBM ignores cat_* lines; so do we */

  /* Per-node checks that depend on the decision type. */
  for (int i = 0; i < ni; i++) {
    uint8_t dt = t->decision_type[i];
    if (((dt >> TS_DT_MISSING_SHIFT) & TS_DT_MISSING_MASK) == 3)
      return FAIL(TS_EPARSE, c->line[K_DECISION_TYPE], "decision_type of node %d has invalid missing type 3", i);
    if (dt & TS_DT_CATEGORICAL) {
      double th = t->threshold[i];
      if (t->num_cat == 0)
        return FAIL(TS_EPARSE, c->line[K_DECISION_TYPE],
                    "node %d is categorical but the tree has num_cat=0", i);
      if (!(th >= 0 && th < t->num_cat) || th != floor(th))
        return FAIL(TS_EPARSE, c->line[K_THRESHOLD],
                    "categorical node %d: threshold %.17g is not a category set index < num_cat=%d",
                    i, th, t->num_cat);
    } else if (isnan(t->threshold[i])) {
      /* +-inf is legitimate: LightGBM writes "inf" for some NaN-missing splits. */
      return FAIL(TS_EPARSE, c->line[K_THRESHOLD], "threshold of node %d is NaN", i);
    }
  }

  if (t->is_linear) {
    if (c->have[K_LEAF_CONST]) {
      if ((rc = get_doubles(c, K_LEAF_CONST, n, true, &t->leaf_const)) != 0) return rc;
    } else if (!(t->leaf_const = calloc((size_t)n, sizeof(double)))) {
      return FAIL(TS_ENOMEM, tree_line, "out of memory");
    }
    if (!(t->leaf_feat_begin = calloc((size_t)n + 1, sizeof(int32_t))))
      return FAIL(TS_ENOMEM, tree_line, "out of memory");
    if (c->have[K_NUM_FEATURES]) {
      int32_t *nf = NULL;
      rc = get_ints(c, K_NUM_FEATURES, n, 0, num_features, &nf, NULL);
      long total = 0;
      for (int i = 0; rc == 0 && i < n; i++) {
        total += nf[i];
        if (total > TS_MODEL_MAX_CAT_WORDS) {
          rc = FAIL(TS_ELIMIT, c->line[K_NUM_FEATURES], "too many linear coefficients in tree");
          break;
        }
        t->leaf_feat_begin[i + 1] = (int32_t)total;
      }
      free(nf);
      if (rc) return rc;
      if (total > 0) {
        if ((rc = require(c, K_LEAF_FEATURES, tree_line)) != 0 ||
            (rc = require(c, K_LEAF_COEFF, tree_line)) != 0)
          return rc;
        if ((rc = get_ints(c, K_LEAF_FEATURES, total, 0, num_features - 1, &t->leaf_features,
                           NULL)) != 0 ||
            (rc = get_doubles(c, K_LEAF_COEFF, total, true, &t->leaf_coeff)) != 0)
          return rc;
      }
    }
  }

  if (ni > 0) return check_structure(c, t, tree_line);
  t->max_depth = 0;
  return 0;
}

void ts__tree_free(ts_tree *t) {
  free(t->split_feature);
  free(t->split_gain);
  free(t->threshold);
  free(t->decision_type);
  free(t->left_child);
  free(t->right_child);
  free(t->internal_value);
  free(t->internal_weight);
  free(t->internal_count);
  free(t->leaf_value);
  free(t->leaf_weight);
  free(t->leaf_count);
  free(t->cat_boundaries);
  free(t->cat_threshold);
  free(t->leaf_const);
  free(t->leaf_feat_begin);
  free(t->leaf_features);
  free(t->leaf_coeff);
  memset(t, 0, sizeof *t);
}
