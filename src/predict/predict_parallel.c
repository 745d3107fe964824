/*
 * Batch prediction over several threads: the rows are cut into one contiguous
 * range per thread and each range goes through ts_predict_rows, so the output
 * is identical to a single-threaded call (rows are independent).
 */
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "predict/forest_internal.h"

/* Upper bound on threads for one call. */
#define TS_PREDICT_MAX_THREADS 256
/* Below this many rows per thread, threads cost more than they save. */
#define TS_PREDICT_MIN_ROWS_PER_THREAD 16

typedef struct job {
  const ts_forest *f;
  const ts_predict_opts *opts;
  const double *X;
  size_t nrows, stride;
  double *out;
  int rc;
  ts_error err;
} job;

static void *run_job(void *arg) {
  job *j = arg;
  j->rc = ts_predict_rows(j->f, j->opts, j->X, j->nrows, j->stride, j->out, &j->err);
  return NULL;
}

int ts_predict_rows_parallel(const ts_forest *f, const ts_predict_opts *opts, const double *X,
                             size_t nrows, size_t row_stride, double *out, int nthreads,
                             ts_error *err) {
  long width = ts_predict_width(f, opts);
  if (width < 0) return ts_predict_rows(f, opts, X, nrows, row_stride, out, err);
  if (nthreads <= 0) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    nthreads = n > 0 ? (int)n : 1;
  }
  if (nthreads > TS_PREDICT_MAX_THREADS) nthreads = TS_PREDICT_MAX_THREADS;
  size_t maxt = nrows / TS_PREDICT_MIN_ROWS_PER_THREAD;
  if ((size_t)nthreads > maxt) nthreads = maxt > 0 ? (int)maxt : 1;
  if (nthreads <= 1) return ts_predict_rows(f, opts, X, nrows, row_stride, out, err);

  job *jobs = calloc((size_t)nthreads, sizeof *jobs);
  pthread_t *tids = calloc((size_t)nthreads, sizeof *tids);
  int rc = 0;
  if (!jobs || !tids) {
    rc = ts_error_set(err, TS_ENOMEM, "predict: out of memory for %d threads", nthreads);
    goto out;
  }
  size_t per = nrows / (size_t)nthreads, extra = nrows % (size_t)nthreads, r0 = 0;
  int started = 0;
  for (int i = 0; i < nthreads; i++) {
    size_t n = per + ((size_t)i < extra ? 1 : 0);
    jobs[i] = (job){f, opts, X + r0 * row_stride, n, row_stride, out + r0 * (size_t)width, 0, {0}};
    r0 += n;
  }
  /* Thread 0's share runs on the calling thread. */
  for (int i = 1; i < nthreads; i++) {
    if (pthread_create(&tids[i], NULL, run_job, &jobs[i]) != 0) {
      run_job(&jobs[i]); /* could not start a thread: do the work here */
      tids[i] = 0;
      continue;
    }
    started++;
  }
  run_job(&jobs[0]);
  for (int i = 1; i < nthreads; i++)
    if (tids[i]) pthread_join(tids[i], NULL);
  (void)started;
  for (int i = 0; i < nthreads; i++) {
    if (jobs[i].rc) {
      rc = jobs[i].rc;
      if (err) *err = jobs[i].err;
      break;
    }
  }
out:
  free(jobs);
  free(tids);
  return rc;
}
