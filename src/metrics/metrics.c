/*
 * Metrics registry (see metrics.h): per-thread slots of counters, merged and
 * rendered in the Prometheus text format when scraped.
 *
 * A slot is one flat array of 64-bit counters. Its layout is computed by the
 * offsets below, so merging slots is a single loop adding arrays, and a
 * histogram is just NB+1 bucket counters (non-cumulative; made cumulative when
 * rendered) followed by a sum in nanoseconds (integers, so a thread-owned
 * slot never needs an atomic double).
 *
 * Writes into a slot owned by one thread are a relaxed load + relaxed store
 * (no read-modify-write, no lock prefix); the shared overflow slot, used only
 * when more than TS_METRICS_MAX_SLOTS threads record, uses atomic fetch_add.
 * The scraper reads with relaxed loads: every value is some recent value, which
 * is all a monotonic counter scrape needs.
 */
#include "metrics/metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "metrics/metrics_internal.h"

/* --- histogram buckets --- */

/* Request latency buckets: 50 us .. 10 s (nanoseconds and their label text). */
static const uint64_t lat_bounds_ns[NB] = {
    50000,     100000,    250000,    500000,     1000000,    2500000,    5000000,    10000000,   25000000,
    50000000,  100000000, 250000000, 500000000,  1000000000, 2500000000, 5000000000, 10000000000};
static const char *const lat_bounds_txt[NB] = {"5e-05", "0.0001", "0.00025", "0.0005", "0.001",
                                               "0.0025", "0.005",  "0.01",    "0.025",  "0.05",
                                               "0.1",   "0.25",   "0.5",     "1",      "2.5",
                                               "5",     "10"};
/* Model load buckets: 1 ms .. 120 s. */
static const uint64_t load_bounds_ns[NB] = {
    1000000,     2500000,     5000000,     10000000,    25000000,     50000000,
    100000000,   250000000,   500000000,   1000000000,  2500000000,   5000000000,
    10000000000, 20000000000, 30000000000, 60000000000, 120000000000};
static const char *const load_bounds_txt[NB] = {"0.001", "0.0025", "0.005", "0.01", "0.025", "0.05",
                                                "0.1",   "0.25",   "0.5",   "1",    "2.5",   "5",
                                                "10",    "20",     "30",    "60",   "120"};

/* --- status codes with their own label value --- */
static const int known_status[NSTATUS - 1] = {200, 201, 204, 400, 401, 403, 404, 405, 408,
                                              409, 413, 415, 422, 429, 431, 500, 501, 503, 504};

int ts__metrics_status_code(int idx) {
  return idx >= 0 && idx < NSTATUS - 1 ? known_status[idx] : 0;
}

static int status_index(int status) {
  for (int i = 0; i < NSTATUS - 1; i++)
    if (known_status[i] == status) return i;
  return NSTATUS - 1; /* "other" */
}

static const char *const endpoint_names[TS_METRICS_EP__COUNT] = {
    "infer", "predict", "explain", "model_metadata", "server_metadata", "health",
    "repository", "metrics", "openapi", "other"};

const char *ts_metrics_endpoint_name(ts_metrics_endpoint ep) {
  if ((int)ep < 0 || ep >= TS_METRICS_EP__COUNT) return "other";
  return endpoint_names[ep];
}

/* Registry ids are never reused, so a thread's cache entry for a freed
 * registry can never match a new one allocated at the same address. */
static _Atomic uint64_t next_registry_id = 1;

#define TL_CACHE 4
static _Thread_local struct {
  uint64_t reg;
  ts__metrics_slot *slot;
} tl_cache[TL_CACHE];
static _Thread_local unsigned tl_next;

static void copy_label(char *dst, const char *src) {
  size_t n = src ? strnlen(src, TS_METRICS_MAX_LABEL) : 0;
  if (n) memcpy(dst, src, n);
  dst[n] = '\0';
}

static double now_realtime(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int ts_metrics_create(const ts_metrics_config *cfg, ts_metrics **out, ts_error *err) {
  *out = NULL;
  ts_metrics *m = calloc(1, sizeof *m);
  if (!m) return ts_error_set(err, TS_ENOMEM, "metrics: out of memory for the registry");
  m->shared = calloc(1, sizeof *m->shared);
  if (!m->shared) {
    free(m);
    return ts_error_set(err, TS_ENOMEM, "metrics: out of memory for the shared slot");
  }
  m->shared->shared = true;
  pthread_mutex_init(&m->lock, NULL);
  m->id = atomic_fetch_add(&next_registry_id, 1);
  copy_label(m->build_version, cfg && cfg->build_version ? cfg->build_version : "unknown");
  /* Ids 0 and 1 are the fixed "no model" and "overflow" label pairs. */
  m->nmodels = 2;
  strcpy(m->model_label[TS_METRICS_MODEL_OTHER], "_other");
  strcpy(m->version_label[TS_METRICS_MODEL_OTHER], "_other");
  m->start_time = now_realtime();
  m->max_render_bytes =
      cfg && cfg->max_render_bytes ? cfg->max_render_bytes : TS_METRICS_MAX_RENDER_BYTES;
  m->reclaim_seconds =
      cfg && cfg->reclaim_seconds > 0 ? cfg->reclaim_seconds : TS_METRICS_RECLAIM_SECONDS;
  *out = m;
  return 0;
}

void ts_metrics_free(ts_metrics *m) {
  if (!m) return;
  int n = atomic_load(&m->nslots);
  for (int i = 0; i < n; i++) free(atomic_load(&m->slots[i]));
  for (int i = 0; i < TS_METRICS_MAX_MODELS; i++) free(m->baseline[i]);
  free(m->shared);
  pthread_mutex_destroy(&m->lock);
  free(m);
}

static double now_monotonic(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Visits the counters of `id` in a flat SLOT_WORDS array: its cells, then its
 * mcell, as one ID_WORDS sequence. */
static uint64_t *id_word(uint64_t *w, int id, size_t k) {
  return k < ID_CELL_WORDS ? w + cell_off(id, 0) + k : w + mcell_off(id) + (k - ID_CELL_WORDS);
}

static void merge_slots(ts_metrics *m, uint64_t *out);

/* The retired id waiting longest, if it has waited reclaim_seconds; -1 if
 * none. Lock held. */
static int reclaimable_id(const ts_metrics *m) {
  double now = now_monotonic();
  int best = -1;
  for (int i = 2; i < m->nmodels; i++) {
    if (!m->retired[i] || now - m->retired_at[i] < m->reclaim_seconds) continue;
    if (best < 0 || m->retired_at[i] < m->retired_at[best]) best = i;
  }
  return best;
}

/* Gives retired id `id` to a new pair: what its counters hold now becomes its
 * baseline. Returns false (id untouched) without memory for the baseline.
 * Lock held. */
static bool reuse_id(ts_metrics *m, int id) {
  if (!m->baseline[id]) m->baseline[id] = malloc(ID_WORDS * sizeof(uint64_t));
  uint64_t *sum = malloc(SLOT_WORDS * sizeof *sum);
  if (!m->baseline[id] || !sum) {
    free(sum);
    return false;
  }
  merge_slots(m, sum);
  for (size_t k = 0; k < ID_WORDS; k++) m->baseline[id][k] = *id_word(sum, id, k);
  free(sum);
  return true; /* its info series went when it was retired */
}

int ts_metrics_intern(ts_metrics *m, const char *model, const char *version) {
  char ml[TS_METRICS_MAX_LABEL + 1], vl[TS_METRICS_MAX_LABEL + 1];
  int id = TS_METRICS_MODEL_OTHER;
  if (!m) return TS_METRICS_MODEL_NONE;
  copy_label(ml, model);
  copy_label(vl, version);
  pthread_mutex_lock(&m->lock);
  for (int i = 2; i < m->nmodels; i++) {
    if (!strcmp(m->model_label[i], ml) && !strcmp(m->version_label[i], vl)) {
      id = i;
      m->retired[i] = false; /* a pair served again keeps its counts */
      goto out;
    }
  }
  int old = reclaimable_id(m);
  if (old >= 0 && reuse_id(m, old)) {
    id = old;
    m->retired[id] = false;
    strcpy(m->model_label[id], ml);
    strcpy(m->version_label[id], vl);
  } else if (m->nmodels < TS_METRICS_MAX_MODELS) {
    id = m->nmodels;
    strcpy(m->model_label[id], ml);
    strcpy(m->version_label[id], vl);
    m->nmodels++; /* the renderer reads labels under the same mutex */
  }
out:
  pthread_mutex_unlock(&m->lock);
  return id;
}

void ts_metrics_retire(ts_metrics *m, int id) {
  if (!m || id < 2 || id >= TS_METRICS_MAX_MODELS) return;
  pthread_mutex_lock(&m->lock);
  if (id < m->nmodels && !m->retired[id]) {
    m->retired[id] = true;
    m->retired_at[id] = now_monotonic();
    m->info[id].set = false;
  }
  pthread_mutex_unlock(&m->lock);
}

/* --- slots --- */

static ts__metrics_slot *register_slot(ts_metrics *m) {
  ts__metrics_slot *s = NULL;
  pthread_mutex_lock(&m->lock);
  int n = atomic_load_explicit(&m->nslots, memory_order_relaxed);
  for (int i = 0; i < n && !s; i++) { /* adopt a slot a finished thread gave back */
    ts__metrics_slot *c = atomic_load_explicit(&m->slots[i], memory_order_relaxed);
    if (!c->owned) s = c;
  }
  if (!s && n < TS_METRICS_MAX_SLOTS) {
    s = calloc(1, sizeof *s);
    if (s) {
      atomic_store_explicit(&m->slots[n], s, memory_order_release);
      atomic_store_explicit(&m->nslots, n + 1, memory_order_release);
    }
  }
  if (s)
    s->owned = true;
  else
    s = m->shared; /* table full or no memory: share one slot with atomic adds */
  pthread_mutex_unlock(&m->lock);
  return s;
}

static ts__metrics_slot *my_slot(ts_metrics *m) {
  for (int i = 0; i < TL_CACHE; i++)
    if (tl_cache[i].reg == m->id) return tl_cache[i].slot;
  ts__metrics_slot *s = register_slot(m);
  /* An evicted entry keeps its slot owned; the thread just registers again if
   * it comes back to that registry (only tests juggle several registries). */
  unsigned k = tl_next++ % TL_CACHE;
  tl_cache[k].reg = m->id;
  tl_cache[k].slot = s;
  return s;
}

void ts_metrics_thread_done(ts_metrics *m) {
  if (!m) return;
  for (int i = 0; i < TL_CACHE; i++) {
    if (tl_cache[i].reg != m->id) continue;
    ts__metrics_slot *s = tl_cache[i].slot;
    tl_cache[i].reg = 0;
    tl_cache[i].slot = NULL;
    if (s != m->shared) {
      pthread_mutex_lock(&m->lock);
      s->owned = false;
      pthread_mutex_unlock(&m->lock);
    }
  }
}

static inline void slot_add(ts__metrics_slot *s, size_t idx, uint64_t v) {
  if (s->shared) {
    atomic_fetch_add_explicit(&s->w[idx], v, memory_order_relaxed);
  } else {
    /* Only this thread writes here: a plain add, made of atomic halves so a
     * concurrent scrape reads a whole value (and TSan agrees). */
    uint64_t cur = atomic_load_explicit(&s->w[idx], memory_order_relaxed);
    atomic_store_explicit(&s->w[idx], cur + v, memory_order_relaxed);
  }
}

static uint64_t seconds_to_ns(double s) {
  if (!(s > 0)) return 0;
  if (s > 1e9) return (uint64_t)1e18; /* absurd durations saturate */
  return (uint64_t)(s * 1e9 + 0.5);
}

static void hist_observe(ts__metrics_slot *s, size_t base, const uint64_t *bounds, double seconds) {
  uint64_t ns = seconds_to_ns(seconds);
  int b = 0;
  while (b < NB && ns > bounds[b]) b++; /* Prometheus buckets are "<= le" */
  slot_add(s, base + (size_t)b, 1);
  slot_add(s, base + HIST_SUM, ns);
}

void ts_metrics_request_begin(ts_metrics *m) {
  if (!m) return;
  slot_add(my_slot(m), OFF_BEGUN, 1);
}

void ts_metrics_request_end(ts_metrics *m, const ts_metrics_request *r) {
  if (!m || !r) return;
  ts__metrics_slot *s = my_slot(m);
  int model = r->model;
  /* Ids only come from ts_metrics_intern; anything else is a caller bug that
   * must not index out of bounds, so it counts as "no model". */
  if (model < 0 || model >= TS_METRICS_MAX_MODELS) model = TS_METRICS_MODEL_NONE;
  int ep = (int)r->endpoint;
  if (ep < 0 || ep >= TS_METRICS_EP__COUNT) ep = TS_METRICS_EP_OTHER;
  size_t cell = cell_off(model, ep);
  slot_add(s, cell + CELL_STATUS + (size_t)status_index(r->status), 1);
  if (r->total_seconds >= 0) hist_observe(s, cell + CELL_HIST, lat_bounds_ns, r->total_seconds);
  if (r->request_bytes) slot_add(s, cell + CELL_REQ_BYTES, r->request_bytes);
  if (r->response_bytes) slot_add(s, cell + CELL_RESP_BYTES, r->response_bytes);
  size_t mc = mcell_off(model);
  if (r->parse_seconds >= 0) hist_observe(s, mc + MCELL_PARSE, lat_bounds_ns, r->parse_seconds);
  if (r->predict_seconds >= 0)
    hist_observe(s, mc + MCELL_PREDICT, lat_bounds_ns, r->predict_seconds);
  if (r->write_seconds >= 0) hist_observe(s, mc + MCELL_WRITE, lat_bounds_ns, r->write_seconds);
  if (r->rows) slot_add(s, mc + MCELL_ROWS, r->rows);
  slot_add(s, OFF_ENDED, 1);
}

/* --- lifecycle (mutex) --- */

void ts_metrics_model_load(ts_metrics *m, const char *model, double seconds, int ok) {
  char name[TS_METRICS_MAX_LABEL + 1];
  if (!m) return;
  copy_label(name, model);
  pthread_mutex_lock(&m->lock);
  int k = -1;
  for (int i = 0; i < m->nloads; i++)
    if (!strcmp(m->loads[i].name, name)) k = i;
  if (k < 0) {
    if (m->nloads < TS_METRICS_MAX_MODELS - 1) {
      k = m->nloads++;
      strcpy(m->loads[k].name, name);
    } else {
      k = TS_METRICS_MAX_MODELS - 1; /* the shared "_other" row */
      strcpy(m->loads[k].name, "_other");
      m->loads_other_used = true;
    }
  }
  ts__metrics_load_row *row = &m->loads[k];
  if (ok)
    row->ok++;
  else
    row->failed++;
  if (seconds >= 0) { /* < 0: an attempt that never reached the model file */
    uint64_t ns = seconds_to_ns(seconds);
    int b = 0;
    while (b < NB && ns > load_bounds_ns[b]) b++;
    row->hist[b]++;
    row->hist[HIST_SUM] += ns;
  }
  pthread_mutex_unlock(&m->lock);
}

void ts_metrics_reload(ts_metrics *m, ts_metrics_trigger trigger, int ok) {
  if (!m) return;
  if ((int)trigger < 0 || trigger >= TS_METRICS_TRIGGER__COUNT) trigger = TS_METRICS_TRIGGER_API;
  pthread_mutex_lock(&m->lock);
  m->reloads[trigger][ok ? 0 : 1]++;
  pthread_mutex_unlock(&m->lock);
}

void ts_metrics_model_info_set(ts_metrics *m, int id, const char *objective, long num_trees,
                               long num_features, long num_class) {
  if (!m || id < 2 || id >= TS_METRICS_MAX_MODELS) return;
  pthread_mutex_lock(&m->lock);
  ts__metrics_info *in = &m->info[id];
  in->set = true;
  copy_label(in->objective, objective);
  in->num_trees = num_trees;
  in->num_features = num_features;
  in->num_class = num_class;
  pthread_mutex_unlock(&m->lock);
}

void ts_metrics_set_models_ready(ts_metrics *m, long n) {
  if (!m) return;
  pthread_mutex_lock(&m->lock);
  m->models_ready = n;
  pthread_mutex_unlock(&m->lock);
}

/* --- scrape --- */

/* Sums every slot into `out` (SLOT_WORDS counters). Ended counts are read
 * before begun counts so that in-flight (begun - ended) is not negative for a
 * request that began and ended during the scrape. */
static void merge_slots(ts_metrics *m, uint64_t *out) {
  ts__metrics_slot *all[TS_METRICS_MAX_SLOTS + 1];
  int n = atomic_load_explicit(&m->nslots, memory_order_acquire);
  for (int i = 0; i < n; i++) all[i] = atomic_load_explicit(&m->slots[i], memory_order_acquire);
  all[n++] = m->shared;
  memset(out, 0, SLOT_WORDS * sizeof *out);
  for (int i = 0; i < n; i++)
    out[OFF_ENDED] += atomic_load_explicit(&all[i]->w[OFF_ENDED], memory_order_acquire);
  for (int i = 0; i < n; i++)
    out[OFF_BEGUN] += atomic_load_explicit(&all[i]->w[OFF_BEGUN], memory_order_acquire);
  for (int i = 0; i < n; i++)
    for (size_t k = OFF_CELLS; k < SLOT_WORDS; k++)
      out[k] += atomic_load_explicit(&all[i]->w[k], memory_order_relaxed);
}

/* Turns merged counters into what the exposition shows: retired ids read
 * zero (the renderers skip zero series) and reused ids count from their
 * baseline. A late add from the id's previous pair can only raise a counter,
 * so the difference never goes negative; it saturates anyway. Lock held. */
static void rebase_ids(const ts_metrics *m, uint64_t *w) {
  for (int id = 2; id < m->nmodels; id++) {
    if (!m->retired[id] && !m->baseline[id]) continue;
    for (size_t k = 0; k < ID_WORDS; k++) {
      uint64_t *v = id_word(w, id, k);
      uint64_t base = m->baseline[id] ? m->baseline[id][k] : 0;
      *v = m->retired[id] || *v < base ? 0 : *v - base;
    }
  }
}

int ts_metrics_render(ts_metrics *m, char **out, size_t *len, ts_error *err) {
  int rc = 0;
  *out = NULL;
  *len = 0;
  if (!m) return ts_error_set(err, TS_EINVAL, "metrics: no registry");
  uint64_t *sum = malloc(SLOT_WORDS * sizeof *sum);
  if (!sum) return ts_error_set(err, TS_ENOMEM, "metrics: out of memory merging slots");
  ts__metrics_buf b = {.limit = m->max_render_bytes};
  pthread_mutex_lock(&m->lock); /* baselines change under it */
  merge_slots(m, sum);
  rebase_ids(m, sum);
  ts__metrics_render_requests(&b, m, sum, lat_bounds_txt);
  ts__metrics_render_lifecycle(&b, m, load_bounds_txt);
  pthread_mutex_unlock(&m->lock);
  ts__metrics_render_process(&b, m->start_time);
  if (b.failed) {
    rc = b.too_big ? ts_error_set(err, TS_ELIMIT,
                                  "metrics: exposition larger than the %zu-byte limit",
                                  m->max_render_bytes)
                   : ts_error_set(err, TS_ENOMEM, "metrics: out of memory rendering");
    free(b.data);
    goto out;
  }
  *out = b.data;
  *len = b.len;
out:
  free(sum);
  return rc;
}
