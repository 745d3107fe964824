/*
 * TreeSHAP for one tree (see shap_tree.h for the contract).
 *
 * Notation. Walking from the root to a leaf, every feature f met on the way has
 * one "path element" (z_f, o_f): z_f is the product of cover ratios
 * count(child)/count(node) over the path's nodes that split on f, and o_f is 1
 * when the row itself would take every one of those turns, else 0. A leaf with
 * value v whose path holds the d elements j contributes to feature i
 *
 *     v * (o_i - z_i) * sum_{S subset of the others} |S|! (d-1-|S|)! / d!
 *                        * prod_{j in S} o_j * prod_{j not in S, j != i} z_j
 *
 * (path-dependent TreeSHAP, Lundberg et al. 2020; LightGBM's
 * Tree::TreeSHAP computes exactly this with its extend/unwind recursion).
 * Because k! (d-1-k)! / d! is the integral of t^k (1-t)^(d-1-k) over [0, 1],
 * the sum equals
 *
 *     integral_0^1 prod_{j != i} q_j(t) dt,   q_j(t) = z_j (1 - t) + o_j t,
 *
 * the integral of a polynomial of degree d-1 < depth, which a Gauss-Legendre
 * rule with ceil(depth/2) points integrates exactly. Writing
 * P_leaf(t) = prod_j q_j(t) and a_j(t) = (o_j - z_j) / q_j(t), the leaf's
 * contribution is integral v * P_leaf(t) * a_i(t) dt.
 *
 * A feature can be split on several times along a path; its element is then
 * updated at each such edge. The final a_i telescopes over those edges
 * (a_i = sum over edges of a_new - a_old, with a = 0 before the first), and the
 * quadrature is linear, so each edge u -> c that splits on f adds
 *
 *     sum_p w_p * S_c(t_p) * (a_new(t_p) - a_old(t_p)),  S_c = sum of v * P_leaf over leaves below c
 *
 * to phi_f. S is summed bottom-up, P is carried top-down (multiplying in q_new
 * and dividing out q_old), so a row costs O(leaves * points) per tree instead
 * of LightGBM's O(leaves * depth^2), with the same Shapley values up to rounding.
 * With o in {0, 1}: o = 0 gives a = -1 / (1 - t) whatever z is, and o = 1 gives
 * a = (1 - z) / q.
 */
#include "explain/shap_tree.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Node decisions use the model module's reference implementation of
 * LightGBM's Tree::Decision (ts__decision_left / ts__tree_next in
 * model/model_internal.h), the same rules the compiled forest is tested
 * against, so SHAP's "which way does the row go" cannot drift from predict's. */

/* ------------------------------------------------------------ Gauss-Legendre */

/* P_n(x) and its derivative by the three-term recurrence. */
static void legendre(int n, long double x, long double *p, long double *dp) {
  long double p0 = 1.0L, p1 = x;
  for (int k = 2; k <= n; k++) {
    const long double p2 = ((2.0L * k - 1.0L) * x * p1 - (k - 1.0L) * p0) / (long double)k;
    p0 = p1;
    p1 = p2;
  }
  if (n == 1) p0 = 1.0L;
  *p = p1;
  *dp = (long double)n * (x * p1 - p0) / (x * x - 1.0L);
}

int ts__gauss_rule_init(ts__gauss_rule *r, int n, ts_error *err) {
  memset(r, 0, sizeof *r);
  if (n < 1 || n > TS_EXPLAIN_MAX_DEPTH) {
    return ts_error_set(err, TS_EINVAL, "gauss rule: %d points out of [1, %d]", n,
                        TS_EXPLAIN_MAX_DEPTH);
  }
  r->n = n;
  r->t = calloc((size_t)n, sizeof(double));
  r->omt = calloc((size_t)n, sizeof(double));
  r->ninv = calloc((size_t)n, sizeof(double));
  r->w = calloc((size_t)n, sizeof(double));
  if (!r->t || !r->omt || !r->ninv || !r->w) {
    ts__gauss_rule_free(r);
    return ts_error_set(err, TS_ENOMEM, "gauss rule: out of memory for %d points", n);
  }
  /* Roots of the Legendre polynomial P_n on [-1, 1] by Newton's method in long
   * double (extra bits so that the rounded doubles are as exact as they can
   * be), then mapped to [0, 1]. */
  const long double pi = 3.141592653589793238462643383279502884L;
  for (int i = 0; i < n; i++) {
    long double x = cosl(pi * ((long double)i + 0.75L) / ((long double)n + 0.5L));
    long double p, dp;
    for (int iter = 0; iter < 100; iter++) {
      legendre(n, x, &p, &dp);
      const long double dx = p / dp;
      x -= dx;
      if (fabsl(dx) <= 1e-18L) break;
    }
    legendre(n, x, &p, &dp);
    const long double wx = 2.0L / ((1.0L - x * x) * dp * dp);
    r->t[i] = (double)((1.0L + x) / 2.0L);
    r->omt[i] = (double)((1.0L - x) / 2.0L);
    r->ninv[i] = (double)(-2.0L / (1.0L - x));
    r->w[i] = (double)(wx / 2.0L);
  }
  return 0;
}

void ts__gauss_rule_free(ts__gauss_rule *r) {
  if (!r) return;
  free(r->t);
  free(r->omt);
  free(r->ninv);
  free(r->w);
  memset(r, 0, sizeof *r);
}

/* ------------------------------------------------------------ per-tree data */

/* Most distinct features on a path below `node`, `seen` of them already met
 * above it. A feature is new at a node if no ancestor split on it; ancestors are
 * found by walking the recursion's own chain. Recursion depth is the tree's
 * depth, which the caller has already bounded by TS_EXPLAIN_MAX_DEPTH. */
typedef struct anc {
  const struct anc *up;
  int feature;
} anc;

static int unique_below(const ts_tree *t, int node, int seen, const anc *up) {
  if (node < 0) return seen;
  const int f = t->split_feature[node];
  int fresh = 1;
  for (const anc *a = up; a; a = a->up) {
    if (a->feature == f) {
      fresh = 0;
      break;
    }
  }
  const anc me = {up, f};
  const int l = unique_below(t, t->left_child[node], seen + fresh, &me);
  const int r = unique_below(t, t->right_child[node], seen + fresh, &me);
  return l > r ? l : r;
}

static int unique_depth(const ts_tree *t, int node, int seen) {
  return unique_below(t, node, seen, NULL);
}

int ts__shap_tree_init(ts__shap_tree *st, const ts_tree *tree, int index, ts_error *err) {
  memset(st, 0, sizeof *st);
  st->tree = tree;
  if (tree->is_linear) {
    return ts_error_set(err, TS_EUNSUPPORTED,
                        "tree %d is a linear tree: SHAP contributions are not defined for "
                        "linear trees (LightGBM refuses them too)",
                        index);
  }
  const int nl = tree->num_leaves;
  if (nl <= 1) {
    st->expected = tree->leaf_value[0];
    return 0;
  }
  if (!tree->internal_count || !tree->leaf_count) {
    return ts_error_set(err, TS_EPARSE,
                        "tree %d has no internal_count/leaf_count: SHAP needs the training "
                        "cover of every node",
                        index);
  }
  for (int u = 0; u < nl - 1; u++) {
    const double c = tree->internal_count[u];
    if (!(c > 0.0) || isinf(c)) {
      return ts_error_set(err, TS_EPARSE,
                          "tree %d: internal_count[%d] = %g, SHAP needs a positive finite count",
                          index, u, c);
    }
  }
  for (int l = 0; l < nl; l++) {
    const double c = tree->leaf_count[l];
    if (!(c >= 0.0) || isinf(c)) {
      return ts_error_set(err, TS_EPARSE,
                          "tree %d: leaf_count[%d] = %g, SHAP needs a finite count >= 0", index,
                          l, c);
    }
  }
  st->nodes = malloc(sizeof(ts__shap_node) * (size_t)(nl - 1));
  int *stack = malloc(sizeof(int) * 2 * (size_t)nl);
  if (!st->nodes || !stack) {
    free(stack);
    ts__shap_tree_free(st);
    return ts_error_set(err, TS_ENOMEM, "tree %d: out of memory", index);
  }
  /* Depth by an explicit stack (pairs node, depth): the loader guarantees a
   * proper binary tree, so at most num_leaves entries are ever pending. */
  int sp = 0, depth = 0;
  stack[sp++] = 0;
  stack[sp++] = 0;
  while (sp > 0) {
    const int d = stack[--sp];
    const int u = stack[--sp];
    if (u < 0) {
      if (d > depth) depth = d;
      continue;
    }
    const double w = tree->internal_count[u];
    const int lc = tree->left_child[u], rc = tree->right_child[u];
    ts__shap_node *nd = &st->nodes[u];
    nd->ratio[0] = (lc >= 0 ? tree->internal_count[lc] : tree->leaf_count[~lc]) / w;
    nd->ratio[1] = (rc >= 0 ? tree->internal_count[rc] : tree->leaf_count[~rc]) / w;
    nd->threshold = tree->threshold[u];
    nd->child[0] = lc;
    nd->child[1] = rc;
    nd->feature = tree->split_feature[u];
    nd->decision_type = tree->decision_type[u];
    stack[sp++] = lc;
    stack[sp++] = d + 1;
    stack[sp++] = rc;
    stack[sp++] = d + 1;
  }
  free(stack);
  st->depth = depth;
  if (depth > TS_EXPLAIN_MAX_DEPTH) {
    ts__shap_tree_free(st);
    return ts_error_set(err, TS_ELIMIT,
                        "tree %d is %d levels deep, more than TS_EXPLAIN_MAX_DEPTH (%d) "
                        "supported for SHAP",
                        index, depth, TS_EXPLAIN_MAX_DEPTH);
  }
  st->unique_depth = unique_depth(tree, 0, 0);
  /* LightGBM's Tree::ExpectedValue(): leaf-index order, count / root count. */
  const double total = tree->internal_count[0];
  double ev = 0.0;
  for (int l = 0; l < nl; l++) ev += (tree->leaf_count[l] / total) * tree->leaf_value[l];
  st->expected = ev;
  return 0;
}

void ts__shap_tree_free(ts__shap_tree *st) {
  if (!st) return;
  free(st->nodes);
  st->nodes = NULL;
}

/* ------------------------------------------------------------------ scratch */

int ts__shap_scratch_init(ts__shap_scratch *s, int num_features, int max_depth, int max_points,
                          ts_error *err) {
  memset(s, 0, sizeof *s);
  if (num_features < 1 || max_depth < 0 || max_depth > TS_EXPLAIN_MAX_DEPTH || max_points < 1) {
    return ts_error_set(err, TS_EINVAL, "shap scratch: bad sizes (%d features, depth %d)",
                        num_features, max_depth);
  }
  s->num_features = num_features;
  s->max_depth = max_depth;
  s->max_points = max_points;
  const size_t nf = (size_t)num_features;
  const size_t dl = (size_t)max_depth + 2;
  s->levels_len = dl * 4 * (size_t)max_points;
  s->path_len = dl * (dl + 1) / 2;
  s->x = malloc(nf * sizeof(double));
  s->ez = malloc(nf * sizeof(double));
  s->eo = malloc(nf);
  s->el = malloc(nf * sizeof(int32_t));
  s->levels = malloc(s->levels_len * sizeof(double));
  s->path = malloc(s->path_len * sizeof(ts__path_elem));
  if (!s->x || !s->ez || !s->eo || !s->el || !s->levels || !s->path) {
    ts__shap_scratch_free(s);
    return ts_error_set(err, TS_ENOMEM, "shap scratch: out of memory (%d features, depth %d)",
                        num_features, max_depth);
  }
  for (size_t i = 0; i < nf; i++) {
    s->ez[i] = 1.0;
    s->eo[i] = 1;
    s->el[i] = -1;
  }
  return 0;
}

void ts__shap_scratch_free(ts__shap_scratch *s) {
  if (!s) return;
  free(s->x);
  free(s->ez);
  free(s->eo);
  free(s->el);
  free(s->levels);
  free(s->path);
  memset(s, 0, sizeof *s);
}

size_t ts__shap_scratch_bytes(const ts__shap_scratch *s) {
  const size_t nf = (size_t)s->num_features;
  return nf * (2 * sizeof(double) + 1 + sizeof(int32_t)) + s->levels_len * sizeof(double) +
         s->path_len * sizeof(ts__path_elem);
}

void ts__shap_load_row(ts__shap_scratch *s, const double *x) {
  for (int j = 0; j < s->num_features; j++) {
    s->x[j] = ts__zero_clamp(x[j]);
  }
}

/* ------------------------------------------------------- fast (quadrature) */

typedef struct fast_ctx {
  const ts_tree *t;
  const ts__shap_node *nodes;
  int n;
  const double *tt, *omt, *ninv, *w;
  double *levels; /* level l: P at +0, 1/q at +n, a at +2n, S at +3n (stride 4n) */
  const double *x;
  double *ez;
  uint8_t *eo;
  int32_t *el;
  double *phi;
} fast_ctx;

/* Two doubles at a time (SSE2 on x86-64, NEON on arm64) through the GCC/clang
 * vector extension; every rule has an even number of points and every
 * per-level vector starts 16-byte aligned. memcpy keeps loads free of
 * alignment and aliasing assumptions; it compiles to one move. */
typedef double v2d __attribute__((vector_size(16)));
static inline v2d ld2(const double *p) {
  v2d v;
  memcpy(&v, p, sizeof v);
  return v;
}
static inline void st2(double *p, v2d v) { memcpy(p, &v, sizeof v); }
static inline v2d splat(double x) { return (v2d){x, x}; }

#define LV_P(c, l) ((c)->levels + (size_t)(l) * 4 * (size_t)(c)->n)
#define LV_Q(c, l) (LV_P(c, l) + (c)->n)
#define LV_A(c, l) (LV_P(c, l) + 2 * (c)->n)
#define LV_S(c, l) (LV_P(c, l) + 3 * (c)->n)

/* Computes S (at level l) of internal node u, whose P is at level l, and adds
 * the contributions of the edges below u to phi.
 *
 * Only what a row changes is computed here; the cases keep the work down:
 *  - a child whose element is cold (o = 0) has a = -1/(1-t) (the shared ninv
 *    vector) and needs no division;
 *  - below an element that is already cold, both children stay cold, a does not
 *    change (a_new - a_old = 0: no contribution) and P scales by z_new/z_old;
 *  - 1/q and a are stored per level only for hot children, the only ones a
 *    deeper split on the same feature reads back. */
static void fast_visit(const fast_ctx *c, int u, int l) {
  const ts_tree *t = c->t;
  const ts__shap_node *nd = &c->nodes[u];
  const int n = c->n; /* even: see points_for_depth in explain.c */
  const int f = nd->feature;
  const int hot_side = ts__decision_left(t, nd->decision_type, nd->threshold, c->x[f]) ? 0 : 1;
  const double zo = c->ez[f];
  const int oo = c->eo[f];
  const int lo = c->el[f];
  const double *P = LV_P(c, l);
  double *S = LV_S(c, l);
  double *Pc = LV_P(c, l + 1);
  const double *Qo = (lo >= 0 && oo) ? LV_Q(c, lo) : NULL;
  const double *Ao = (lo >= 0 && oo) ? LV_A(c, lo) : NULL;
  const int dead = (zo == 0.0 && oo == 0); /* q_old is identically 0: so is every P below */
  const double *omt = c->omt, *tt = c->tt, *w = c->w;
  v2d acc = splat(0.0);

  for (int side = 0; side < 2; side++) {
    const int ch = nd->child[side];
    const double zn = nd->ratio[side] * zo;
    const int on = (side == hot_side) ? oo : 0;
    const double *Ac = c->ninv;
    const v2d vzn = splat(zn);
    if (dead) {
      for (int p = 0; p < n; p += 2) st2(Pc + p, splat(0.0));
    } else if (on) {
      double *Qc = LV_Q(c, l + 1), *Aw = LV_A(c, l + 1);
      const v2d a1 = splat(1.0 - zn);
      for (int p = 0; p < n; p += 2) {
        const v2d qn = vzn * ld2(omt + p) + ld2(tt + p);
        const v2d qi = splat(1.0) / qn;
        st2(Qc + p, qi);
        st2(Aw + p, a1 * qi);
        st2(Pc + p, Qo ? ld2(P + p) * qn * ld2(Qo + p) : ld2(P + p) * qn);
      }
      Ac = Aw;
    } else if (oo) {
      /* the cold side of a fresh or hot element */
      for (int p = 0; p < n; p += 2) {
        const v2d qn = vzn * ld2(omt + p);
        st2(Pc + p, Qo ? ld2(P + p) * qn * ld2(Qo + p) : ld2(P + p) * qn);
      }
    } else {
      const v2d k = splat(zn / zo);
      for (int p = 0; p < n; p += 2) st2(Pc + p, ld2(P + p) * k);
    }
    const double *Sc;
    v2d v;
    if (ch < 0) {
      /* A leaf: S_c = v * P_c, folded into S and the sum below. */
      v = splat(t->leaf_value[~ch]);
      Sc = Pc;
    } else {
      c->ez[f] = zn;
      c->eo[f] = (uint8_t)on;
      c->el[f] = l + 1;
      fast_visit(c, ch, l + 1);
      c->ez[f] = zo;
      c->eo[f] = (uint8_t)oo;
      c->el[f] = lo;
      v = splat(1.0);
      Sc = LV_S(c, l + 1);
    }
    /* Level l + 1's a and 1/q are intact: the child's subtree only writes
     * deeper levels. A cold old element contributes nothing (see above). */
    if (side == 0) {
      for (int p = 0; p < n; p += 2) st2(S + p, v * ld2(Sc + p));
    } else {
      for (int p = 0; p < n; p += 2) st2(S + p, ld2(S + p) + v * ld2(Sc + p));
    }
    if (oo && Ao) {
      v2d part = splat(0.0);
      for (int p = 0; p < n; p += 2) {
        part += ld2(w + p) * ld2(Sc + p) * (ld2(Ac + p) - ld2(Ao + p));
      }
      acc += v * part;
    } else if (oo) {
      v2d part = splat(0.0);
      for (int p = 0; p < n; p += 2) part += ld2(w + p) * ld2(Sc + p) * ld2(Ac + p);
      acc += v * part;
    }
  }
  c->phi[f] += acc[0] + acc[1];
}

void ts__shap_tree_fast(const ts__shap_tree *st, ts__shap_scratch *s, double *phi) {
  const ts_tree *t = st->tree;
  phi[s->num_features] += st->expected;
  if (t->num_leaves <= 1) return;
  const ts__gauss_rule *r = st->rule;
  fast_ctx c = {.t = t,
                .nodes = st->nodes,
                .n = r->n,
                .tt = r->t,
                .omt = r->omt,
                .ninv = r->ninv,
                .w = r->w,
                .levels = s->levels,
                .x = s->x,
                .ez = s->ez,
                .eo = s->eo,
                .el = s->el,
                .phi = phi};
  double *P0 = LV_P(&c, 0);
  for (int p = 0; p < r->n; p++) P0[p] = 1.0;
  fast_visit(&c, 0, 0);
}

/* ------------------------------------------------- straight (LightGBM's way) */

/* These follow the order of floating-point operations of LightGBM's
 * Tree::ExtendPath / UnwindPath / UnwoundPathSum / TreeSHAP, so this path
 * reproduces its numbers to the last bit or nearly. */

static void path_extend(ts__path_elem *up, int ud, double zf, double of, int feature) {
  up[ud].feature = feature;
  up[ud].zero_fraction = zf;
  up[ud].one_fraction = of;
  up[ud].pweight = (ud == 0 ? 1.0 : 0.0);
  for (int i = ud - 1; i >= 0; i--) {
    up[i + 1].pweight += of * up[i].pweight * (i + 1) / (double)(ud + 1);
    up[i].pweight = zf * up[i].pweight * (ud - i) / (double)(ud + 1);
  }
}

static void path_unwind(ts__path_elem *up, int ud, int pi) {
  const double of = up[pi].one_fraction;
  const double zf = up[pi].zero_fraction;
  double next = up[ud].pweight;
  for (int i = ud - 1; i >= 0; i--) {
    if (of != 0) {
      const double tmp = up[i].pweight;
      up[i].pweight = next * (ud + 1) / (double)((i + 1) * of);
      next = tmp - up[i].pweight * zf * (ud - i) / (double)(ud + 1);
    } else {
      up[i].pweight = (up[i].pweight * (ud + 1)) / (double)(zf * (ud - i));
    }
  }
  for (int i = pi; i < ud; i++) {
    up[i].feature = up[i + 1].feature;
    up[i].zero_fraction = up[i + 1].zero_fraction;
    up[i].one_fraction = up[i + 1].one_fraction;
  }
}

static double path_unwound_sum(const ts__path_elem *up, int ud, int pi) {
  const double of = up[pi].one_fraction;
  const double zf = up[pi].zero_fraction;
  double next = up[ud].pweight;
  double total = 0;
  for (int i = ud - 1; i >= 0; i--) {
    if (of != 0) {
      const double tmp = next * (ud + 1) / (double)((i + 1) * of);
      total += tmp;
      next = up[i].pweight - tmp * zf * ((ud - i) / (double)(ud + 1));
    } else {
      total += (up[i].pweight / zf) / ((ud - i) / (double)(ud + 1));
    }
  }
  return total;
}

static double data_count(const ts_tree *t, int node) {
  return node >= 0 ? t->internal_count[node] : t->leaf_count[~node];
}

static void path_visit(const ts_tree *t, const double *x, double *phi, int node, int ud,
                       ts__path_elem *parent, double pz, double po, int pf) {
  /* Each level gets its own copy of the path, right after the parent's. */
  ts__path_elem *up = parent + ud;
  if (ud > 0) memcpy(up, parent, sizeof(ts__path_elem) * (size_t)ud);
  path_extend(up, ud, pz, po, pf);
  if (node < 0) {
    for (int i = 1; i <= ud; i++) {
      const double w = path_unwound_sum(up, ud, i);
      const ts__path_elem *el = &up[i];
      phi[el->feature] += w * (el->one_fraction - el->zero_fraction) * t->leaf_value[~node];
    }
    return;
  }
  const int f = t->split_feature[node];
  const int hot = ts__tree_next(t, node, x[f]);
  const int cold = (hot == t->left_child[node] ? t->right_child[node] : t->left_child[node]);
  const double w = data_count(t, node);
  const double hz = data_count(t, hot) / w;
  const double cz = data_count(t, cold) / w;
  double iz = 1, io = 1;
  int pi = 0;
  for (; pi <= ud; pi++) {
    if (up[pi].feature == f) break;
  }
  if (pi != ud + 1) {
    iz = up[pi].zero_fraction;
    io = up[pi].one_fraction;
    path_unwind(up, ud, pi);
    ud -= 1;
  }
  path_visit(t, x, phi, hot, ud + 1, up, hz * iz, io, f);
  path_visit(t, x, phi, cold, ud + 1, up, cz * iz, 0, f);
}

void ts__shap_tree_path(const ts__shap_tree *st, ts__shap_scratch *s, double *phi) {
  const ts_tree *t = st->tree;
  phi[s->num_features] += st->expected;
  if (t->num_leaves <= 1) return;
  path_visit(t, s->x, phi, 0, 0, s->path, 1, 1, -1);
}
