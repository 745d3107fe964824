/*
 * treeserve explanations (include/treeserve/explain.h): SHAP contributions for
 * whole rows over a forest, laid out as LightGBM's predict(pred_contrib=True).
 *
 * Build precomputes per-tree data (shap_tree.h) and a pool of per-thread
 * scratch buffers sized from the deepest tree, so explaining a row allocates
 * nothing: a call takes a free scratch from the pool with one atomic exchange
 * (and only if more threads than pool slots explain at once does it allocate a
 * temporary one for the duration of the call).
 */
#include "treeserve/explain.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "explain/explain_internal.h"
#include "explain/shap_tree.h"
#include "model/model_internal.h"

/* Scratch buffers kept ready; more concurrent callers fall back to a
 * temporary allocation. */
#define EXPLAIN_POOL_MIN 4
#define EXPLAIN_POOL_MAX 64
/* Threads ts_explain_rows_parallel starts at most. */
#define EXPLAIN_MAX_THREADS 256

struct ts_explainer {
  const ts_forest *forest; /* borrowed, may be NULL when built from a model */
  const ts_model *model;   /* borrowed */
  int num_features;
  int num_tree_per_iteration;
  int num_iterations;
  int num_trees;
  ts__shap_tree *trees;    /* [num_trees] */
  int max_depth, max_points;
  ts__gauss_rule *rules;   /* [max_points + 1], rule n at index n (n = 0 unused) */
  int pool_size;
  ts__shap_scratch *pool;  /* [pool_size] */
  atomic_int *busy;        /* [pool_size] */
  int algorithm;           /* TS__EXPLAIN_FAST or TS__EXPLAIN_PATH */
};

/* Quadrature points that integrate the degree < depth polynomials exactly:
 * ceil(depth / 2), rounded up to even for the two-lane loops of shap_tree.c
 * (more points than needed stay exact). */
static int points_for_depth(int depth) {
  const int n = depth <= 1 ? 1 : (depth + 1) / 2;
  return n + (n & 1);
}

void ts_explainer_free(ts_explainer *e) {
  if (!e) return;
  if (e->trees) {
    for (int i = 0; i < e->num_trees; i++) ts__shap_tree_free(&e->trees[i]);
  }
  if (e->rules) {
    for (int n = 0; n <= e->max_points; n++) ts__gauss_rule_free(&e->rules[n]);
  }
  if (e->pool) {
    for (int i = 0; i < e->pool_size; i++) ts__shap_scratch_free(&e->pool[i]);
  }
  free(e->trees);
  free(e->rules);
  free(e->pool);
  free(e->busy);
  free(e);
}

int ts__explainer_build_model(const ts_model *m, ts_explainer **out, ts_error *err) {
  int rc = 0;
  ts_explainer *e = NULL;
  if (!out) return ts_error_set(err, TS_EINVAL, "ts_explainer_build: out is NULL");
  *out = NULL;
  if (!m) return ts_error_set(err, TS_EINVAL, "ts_explainer_build: model is NULL");
  if (m->num_features < 1 || m->num_tree_per_iteration < 1 || m->num_trees < 0 ||
      m->num_trees % m->num_tree_per_iteration != 0) {
    return ts_error_set(err, TS_EINVAL,
                        "ts_explainer_build: model has %d features, %d trees, %d trees per "
                        "iteration",
                        m->num_features, m->num_trees, m->num_tree_per_iteration);
  }
  e = calloc(1, sizeof *e);
  if (!e) return ts_error_set(err, TS_ENOMEM, "ts_explainer_build: out of memory");
  e->model = m;
  e->num_features = m->num_features;
  e->num_tree_per_iteration = m->num_tree_per_iteration;
  e->num_trees = m->num_trees;
  e->num_iterations = m->num_trees / m->num_tree_per_iteration;
  e->algorithm = TS__EXPLAIN_FAST;
  e->trees = calloc(m->num_trees > 0 ? (size_t)m->num_trees : 1, sizeof *e->trees);
  if (!e->trees) {
    rc = ts_error_set(err, TS_ENOMEM, "ts_explainer_build: out of memory for %d trees",
                      m->num_trees);
    goto out;
  }
  for (int i = 0; i < m->num_trees; i++) {
    rc = ts__shap_tree_init(&e->trees[i], &m->trees[i], i, err);
    if (rc) goto out;
    if (e->trees[i].depth > e->max_depth) e->max_depth = e->trees[i].depth;
  }
  e->max_points = points_for_depth(e->max_depth);
  e->rules = calloc((size_t)e->max_points + 1, sizeof *e->rules);
  if (!e->rules) {
    rc = ts_error_set(err, TS_ENOMEM, "ts_explainer_build: out of memory");
    goto out;
  }
  /* One rule per distinct depth class, shared by the trees that need it. */
  for (int i = 0; i < m->num_trees; i++) {
    ts__shap_tree *st = &e->trees[i];
    if (st->tree->num_leaves <= 1) continue;
    /* A leaf's integrand has degree (distinct features on its path) - 1. */
    const int n = points_for_depth(st->unique_depth);
    if (e->rules[n].n == 0) {
      rc = ts__gauss_rule_init(&e->rules[n], n, err);
      if (rc) goto out;
    }
    st->rule = &e->rules[n];
  }
  long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
  if (ncpu < EXPLAIN_POOL_MIN) ncpu = EXPLAIN_POOL_MIN;
  if (ncpu > EXPLAIN_POOL_MAX) ncpu = EXPLAIN_POOL_MAX;
  e->pool_size = (int)ncpu;
  e->pool = calloc((size_t)e->pool_size, sizeof *e->pool);
  e->busy = calloc((size_t)e->pool_size, sizeof *e->busy);
  if (!e->pool || !e->busy) {
    rc = ts_error_set(err, TS_ENOMEM, "ts_explainer_build: out of memory");
    goto out;
  }
  for (int i = 0; i < e->pool_size; i++) {
    atomic_init(&e->busy[i], 0);
    rc = ts__shap_scratch_init(&e->pool[i], e->num_features, e->max_depth, e->max_points, err);
    if (rc) goto out;
  }
out:
  if (rc) {
    ts_explainer_free(e);
    return rc;
  }
  *out = e;
  return 0;
}

int ts_explainer_build(const ts_forest *forest, ts_explainer **out, ts_error *err) {
  if (out) *out = NULL;
  if (!forest) return ts_error_set(err, TS_EINVAL, "ts_explainer_build: forest is NULL");
  ts_explainer *e = NULL;
  int rc = ts__explainer_build_model(ts_forest_model(forest), &e, err);
  if (rc) return rc;
  e->forest = forest;
  *out = e;
  return 0;
}

size_t ts_explainer_memory_bytes(const ts_explainer *e) {
  if (!e) return 0;
  size_t b = sizeof *e + sizeof(ts__shap_tree) * (size_t)e->num_trees;
  for (int i = 0; i < e->num_trees; i++) {
    const int nl = e->trees[i].tree->num_leaves;
    if (nl > 1) b += sizeof(ts__shap_node) * (size_t)(nl - 1);
  }
  b += sizeof(ts__gauss_rule) * ((size_t)e->max_points + 1);
  for (int n = 1; n <= e->max_points; n++) {
    if (e->rules[n].n) b += 4 * sizeof(double) * (size_t)n;
  }
  b += (sizeof(ts__shap_scratch) + sizeof(atomic_int)) * (size_t)e->pool_size;
  for (int i = 0; i < e->pool_size; i++) b += ts__shap_scratch_bytes(&e->pool[i]);
  return b;
}

void ts__explainer_set_algorithm(ts_explainer *e, int algorithm) {
  if (e && (algorithm == TS__EXPLAIN_FAST || algorithm == TS__EXPLAIN_PATH)) {
    e->algorithm = algorithm;
  }
}

int ts__explainer_max_depth(const ts_explainer *e) { return e ? e->max_depth : 0; }

/* Resolves opts into the iteration range [*first, *first + *count). */
static int iteration_range(const ts_explainer *e, const ts_predict_opts *opts, int *first,
                           int *count, ts_error *err) {
  if (opts->type != TS_PREDICT_CONTRIB) {
    return ts_error_set(err, TS_EINVAL,
                        "ts_explain_rows: opts->type must be TS_PREDICT_CONTRIB (got %d)",
                        (int)opts->type);
  }
  int start = opts->start_iteration;
  if (start < 0) start = 0;
  if (start > e->num_iterations) start = e->num_iterations;
  int num = e->num_iterations - start;
  if (opts->num_iteration > 0 && opts->num_iteration < num) num = opts->num_iteration;
  *first = start;
  *count = num;
  return 0;
}

static int check_args(const ts_explainer *e, const ts_predict_opts *opts, const double *X,
                      size_t nrows, size_t row_stride, const double *out, ts_error *err) {
  if (!e || !opts) {
    return ts_error_set(err, TS_EINVAL, "ts_explain_rows: %s is NULL", e ? "opts" : "explainer");
  }
  if (nrows > 0 && (!X || !out)) {
    return ts_error_set(err, TS_EINVAL, "ts_explain_rows: %s is NULL with %zu rows",
                        X ? "out" : "X", nrows);
  }
  if (row_stride < (size_t)e->num_features) {
    return ts_error_set(err, TS_ESHAPE,
                        "ts_explain_rows: row_stride %zu is less than the model's %d features",
                        row_stride, e->num_features);
  }
  const size_t width = ((size_t)e->num_features + 1) * (size_t)e->num_tree_per_iteration;
  if (nrows > 0 && (nrows > SIZE_MAX / width / sizeof(double) ||
                    (nrows - 1) > (SIZE_MAX - (size_t)e->num_features) / row_stride)) {
    return ts_error_set(err, TS_ELIMIT, "ts_explain_rows: %zu rows overflow the output size",
                        nrows);
  }
  return 0;
}

static int acquire_scratch(ts_explainer *e, ts__shap_scratch *tmp, ts__shap_scratch **s,
                           ts_error *err) {
  for (int i = 0; i < e->pool_size; i++) {
    if (atomic_load_explicit(&e->busy[i], memory_order_relaxed) == 0 &&
        atomic_exchange_explicit(&e->busy[i], 1, memory_order_acquire) == 0) {
      *s = &e->pool[i];
      return 0;
    }
  }
  int rc = ts__shap_scratch_init(tmp, e->num_features, e->max_depth, e->max_points, err);
  if (rc) return rc;
  *s = tmp;
  return 0;
}

static void release_scratch(ts_explainer *e, ts__shap_scratch *tmp, ts__shap_scratch *s) {
  if (s == tmp) {
    ts__shap_scratch_free(tmp);
    return;
  }
  atomic_store_explicit(&e->busy[s - e->pool], 0, memory_order_release);
}

int ts_explain_rows(const ts_explainer *ce, const ts_predict_opts *opts, const double *X,
                    size_t nrows, size_t row_stride, double *out, ts_error *err) {
  int rc = check_args(ce, opts, X, nrows, row_stride, out, err);
  if (rc) return rc;
  int first = 0, count = 0;
  rc = iteration_range(ce, opts, &first, &count, err);
  if (rc || nrows == 0) return rc;
  /* The pool's busy flags are the only thing a call changes; they are atomic,
   * and the explainer is otherwise read-only, hence const in the API. */
  ts_explainer *e = (ts_explainer *)ce;
  ts__shap_scratch tmp, *s = NULL;
  rc = acquire_scratch(e, &tmp, &s, err);
  if (rc) return rc;
  const int nf = e->num_features;
  const int K = e->num_tree_per_iteration;
  const size_t width = ((size_t)nf + 1) * (size_t)K;
  const int t0 = first * K, t1 = (first + count) * K;
  for (size_t r = 0; r < nrows; r++) {
    double *o = out + r * width;
    memset(o, 0, sizeof(double) * width);
    ts__shap_load_row(s, X + r * row_stride);
    /* Tree order as LightGBM: iteration-major, class k writes block k. rf
     * models (average_output) are not averaged here: LightGBM 4.6's
     * GBDT::PredictContrib sums the trees of every model, and the golden rf
     * cases agree. */
    for (int t = t0; t < t1; t++) {
      double *phi = o + (size_t)(t % K) * ((size_t)nf + 1);
      if (e->algorithm == TS__EXPLAIN_PATH) {
        ts__shap_tree_path(&e->trees[t], s, phi);
      } else {
        ts__shap_tree_fast(&e->trees[t], s, phi);
      }
    }
  }
  release_scratch(e, &tmp, s);
  return 0;
}

/* ------------------------------------------------------------ parallel rows */

typedef struct par_job {
  const ts_explainer *e;
  const ts_predict_opts *opts;
  const double *X;
  size_t nrows, row_stride;
  double *out;
  int rc;
  ts_error err;
} par_job;

static void *par_run(void *arg) {
  par_job *j = arg;
  j->rc = ts_explain_rows(j->e, j->opts, j->X, j->nrows, j->row_stride, j->out, &j->err);
  return NULL;
}

int ts_explain_rows_parallel(const ts_explainer *e, const ts_predict_opts *opts, const double *X,
                             size_t nrows, size_t row_stride, double *out, int nthreads,
                             ts_error *err) {
  int rc = check_args(e, opts, X, nrows, row_stride, out, err);
  if (rc) return rc;
  int first = 0, count = 0;
  rc = iteration_range(e, opts, &first, &count, err);
  if (rc) return rc;
  if (nthreads <= 0) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    nthreads = n > 0 ? (int)n : 1;
  }
  if (nthreads > EXPLAIN_MAX_THREADS) nthreads = EXPLAIN_MAX_THREADS;
  if ((size_t)nthreads > nrows) nthreads = (int)nrows;
  if (nthreads <= 1) return ts_explain_rows(e, opts, X, nrows, row_stride, out, err);

  const size_t width = ((size_t)e->num_features + 1) * (size_t)e->num_tree_per_iteration;
  par_job jobs[EXPLAIN_MAX_THREADS];
  pthread_t tids[EXPLAIN_MAX_THREADS];
  bool started[EXPLAIN_MAX_THREADS];
  const size_t per = nrows / (size_t)nthreads, extra = nrows % (size_t)nthreads;
  size_t row = 0;
  for (int i = 0; i < nthreads; i++) {
    const size_t n = per + ((size_t)i < extra ? 1 : 0);
    jobs[i] = (par_job){.e = e, .opts = opts, .X = X + row * row_stride, .nrows = n,
                        .row_stride = row_stride, .out = out + row * width};
    row += n;
  }
  /* Job 0 runs on the calling thread; a job whose thread cannot start runs
   * here too, so a failed pthread_create only costs speed. */
  for (int i = 1; i < nthreads; i++) {
    started[i] = pthread_create(&tids[i], NULL, par_run, &jobs[i]) == 0;
  }
  par_run(&jobs[0]);
  for (int i = 1; i < nthreads; i++) {
    if (started[i]) {
      pthread_join(tids[i], NULL);
    } else {
      par_run(&jobs[i]);
    }
  }
  for (int i = 0; i < nthreads; i++) {
    if (jobs[i].rc) {
      if (err) *err = jobs[i].err;
      return jobs[i].rc;
    }
  }
  return 0;
}
