/*
 * Internals shared by metrics.c (registry, recording) and metrics_render.c
 * (Prometheus text). Not part of the public contract.
 */
#ifndef TS_METRICS_INTERNAL_H
#define TS_METRICS_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "metrics/metrics.h"

/* Finite histogram bounds; bucket NB is +Inf, then the sum in nanoseconds. */
#define NB 17
#define HIST_SUM (NB + 1)
#define HIST_SIZE (NB + 2)

/* Status label values: the known codes plus "other" (the last index). */
#define NSTATUS 20

/* Layout of a slot's flat counter array. A "cell" is one (model, endpoint)
 * pair; an "mcell" is one model (stage histograms and rows). */
#define CELL_STATUS 0
#define CELL_HIST NSTATUS
#define CELL_REQ_BYTES (CELL_HIST + HIST_SIZE)
#define CELL_RESP_BYTES (CELL_REQ_BYTES + 1)
#define CELL_SIZE (CELL_RESP_BYTES + 1)

#define MCELL_PARSE 0
#define MCELL_PREDICT HIST_SIZE
#define MCELL_WRITE (2 * HIST_SIZE)
#define MCELL_ROWS (3 * HIST_SIZE)
#define MCELL_SIZE (MCELL_ROWS + 1)

#define OFF_BEGUN 0
#define OFF_ENDED 1
#define OFF_CELLS 2
#define OFF_MCELLS (OFF_CELLS + (size_t)TS_METRICS_MAX_MODELS * TS_METRICS_EP__COUNT * CELL_SIZE)
#define SLOT_WORDS (OFF_MCELLS + (size_t)TS_METRICS_MAX_MODELS * MCELL_SIZE)
/* Counters of one id: its cells (contiguous, one per endpoint), then its mcell. */
#define ID_CELL_WORDS ((size_t)TS_METRICS_EP__COUNT * CELL_SIZE)
#define ID_WORDS (ID_CELL_WORDS + MCELL_SIZE)

static inline size_t cell_off(int model, int ep) {
  return OFF_CELLS + ((size_t)model * TS_METRICS_EP__COUNT + (size_t)ep) * CELL_SIZE;
}
static inline size_t mcell_off(int model) { return OFF_MCELLS + (size_t)model * MCELL_SIZE; }

typedef struct ts__metrics_slot {
  _Atomic uint64_t w[SLOT_WORDS];
  bool shared; /* the overflow slot: several writers, atomic adds */
  bool owned;  /* a live thread writes here (guarded by the registry mutex) */
} ts__metrics_slot;

typedef struct ts__metrics_load_row {
  char name[TS_METRICS_MAX_LABEL + 1];
  uint64_t ok, failed;
  uint64_t hist[HIST_SIZE];
} ts__metrics_load_row;

typedef struct ts__metrics_info {
  bool set;
  char objective[TS_METRICS_MAX_LABEL + 1];
  long num_trees, num_features, num_class;
} ts__metrics_info;

struct ts_metrics {
  uint64_t id; /* unique per registry, keys the thread-local slot caches */
  pthread_mutex_t lock; /* slot registration, labels, lifecycle data, render */
  _Atomic(ts__metrics_slot *) slots[TS_METRICS_MAX_SLOTS];
  _Atomic int nslots;
  ts__metrics_slot *shared;
  int nmodels; /* interned label pairs, ids 0 (none) and 1 (other) included */
  char model_label[TS_METRICS_MAX_MODELS][TS_METRICS_MAX_LABEL + 1];
  char version_label[TS_METRICS_MAX_MODELS][TS_METRICS_MAX_LABEL + 1];
  ts__metrics_info info[TS_METRICS_MAX_MODELS];
  /* Retired ids (ts_metrics_retire): hidden from the exposition; retired_at is
   * CLOCK_MONOTONIC seconds. baseline[id] (ID_WORDS, allocated on the first
   * reuse of id) holds the id's merged counts when another pair took it: the
   * exposition shows counts minus baseline, so reuse never writes to a slot
   * (slots belong to their threads). */
  bool retired[TS_METRICS_MAX_MODELS];
  double retired_at[TS_METRICS_MAX_MODELS];
  uint64_t *baseline[TS_METRICS_MAX_MODELS];
  double reclaim_seconds;
  ts__metrics_load_row loads[TS_METRICS_MAX_MODELS]; /* last row: "_other" */
  int nloads;
  bool loads_other_used;
  uint64_t reloads[TS_METRICS_TRIGGER__COUNT][2]; /* [trigger][0 ok, 1 failed] */
  long models_ready;
  char build_version[TS_METRICS_MAX_LABEL + 1];
  double start_time; /* CLOCK_REALTIME seconds at create (fallback for /proc) */
  size_t max_render_bytes;
};

/* Growable text buffer capped at `limit` bytes (NUL included). After a failure
 * further appends do nothing and `failed` stays set. */
typedef struct ts__metrics_buf {
  char *data;
  size_t len, cap, limit;
  bool failed, too_big;
} ts__metrics_buf;

void ts__metrics_printf(ts__metrics_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The status code of label index idx, 0 for the "other" index. */
int ts__metrics_status_code(int idx);

/* Renderers (metrics_render.c). `merged` is the sum of all slots. Called with
 * the registry mutex held, except the process one. */
void ts__metrics_render_requests(ts__metrics_buf *b, const ts_metrics *m, uint64_t *merged,
                                 const char *const *bounds_txt);
void ts__metrics_render_lifecycle(ts__metrics_buf *b, const ts_metrics *m,
                                  const char *const *bounds_txt);
void ts__metrics_render_process(ts__metrics_buf *b, double fallback_start_time);

#endif
