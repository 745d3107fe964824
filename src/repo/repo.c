/*
 * Model repository: creation, the request-path lookups (acquire/release),
 * readiness, the Triton-style repository API (index, load, unload) and the
 * background reload thread. Scanning and loading live in repo_scan.c.
 */
#include "repo/repo.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "repo/repo_internal.h"

/* Wake-up bytes on the pipe. */
#define WAKE_RELOAD 'r'
#define WAKE_STOP 'q'

const char *ts_repo_state_name(ts_repo_state s) {
  return s == TS_REPO_READY ? "READY" : "UNAVAILABLE";
}

static char *dup_str(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d) memcpy(d, s, n);
  return d;
}

int ts_repo_create(const ts_repo_config *cfg, ts_repo **out, ts_error *err) {
  int rc = 0;
  *out = NULL;
  if (!cfg || (!cfg->dir && cfg->nsingles == 0))
    return ts_error_set(err, TS_EINVAL,
                        "no models: give a model repository directory or NAME=path models");
  for (size_t i = 0; i < cfg->nsingles; i++) {
    const char *n = cfg->singles[i].name, *p = cfg->singles[i].path;
    if (!n || !ts_repo_valid_model_name(n, strlen(n)))
      return ts_error_set(err, TS_EINVAL,
                          "model name '%.*s' is invalid: use 1-%d characters of A-Z a-z 0-9 . _ - "
                          "not starting with '.' and without '..'",
                          TS_REPO_MAX_NAME, n ? n : "", TS_REPO_MAX_NAME);
    if (!p || !p[0] || strlen(p) >= TS_REPO_MAX_PATH)
      return ts_error_set(err, TS_EINVAL, "model '%s': empty or too long path", n);
    for (size_t j = 0; j < i; j++)
      if (!strcmp(cfg->singles[j].name, n))
        return ts_error_set(err, TS_EINVAL, "model '%s' given twice", n);
  }
  if (cfg->dir) {
    struct stat st;
    if (strlen(cfg->dir) >= TS_REPO_MAX_PATH - TS_REPO_MAX_NAME - 64)
      return ts_error_set(err, TS_EINVAL, "model repository path is too long");
    if (stat(cfg->dir, &st) != 0)
      return ts_error_set(err, TS_EIO, "model repository %s: %s", cfg->dir, strerror(errno));
    if (!S_ISDIR(st.st_mode))
      return ts_error_set(err, TS_EIO, "model repository %s: not a directory", cfg->dir);
  }
  ts_repo *r = calloc(1, sizeof *r);
  if (!r) return ts_error_set(err, TS_ENOMEM, "repository: out of memory");
  r->pipe_r = r->pipe_w = -1;
  r->metrics = cfg->metrics;
  r->no_explainers = cfg->no_explainers;
  pthread_rwlockattr_t ra;
  pthread_rwlockattr_init(&ra);
  /* Requests take the read lock all the time; a reload must still get in. */
  pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
  pthread_rwlock_init(&r->lock, &ra);
  pthread_rwlockattr_destroy(&ra);
  pthread_mutex_init(&r->reload_lock, NULL);
  if (cfg->dir && !(r->dir = dup_str(cfg->dir))) goto nomem;
  if (cfg->nsingles) {
    r->singles = calloc(cfg->nsingles, sizeof *r->singles);
    if (!r->singles) goto nomem;
    r->nsingles = cfg->nsingles;
    for (size_t i = 0; i < cfg->nsingles; i++) {
      r->singles[i].name = dup_str(cfg->singles[i].name);
      r->singles[i].path = dup_str(cfg->singles[i].path);
      if (!r->singles[i].name || !r->singles[i].path) goto nomem;
    }
  }
  r->table = calloc(1, sizeof *r->table);
  if (!r->table) goto nomem;
  int p[2];
  if (pipe2(p, O_CLOEXEC | O_NONBLOCK) != 0) {
    rc = ts_error_set(err, TS_EIO, "repository: pipe: %s", strerror(errno));
    goto fail;
  }
  r->pipe_r = p[0];
  r->pipe_w = p[1];
  *out = r;
  return 0;
nomem:
  rc = ts_error_set(err, TS_ENOMEM, "repository: out of memory");
fail:
  ts_repo_free(r);
  return rc;
}

void ts_repo_free(ts_repo *r) {
  if (!r) return;
  ts_repo_stop(r);
  ts__repo_table_free(r->table);
  for (size_t i = 0; i < r->nsingles; i++) {
    free((char *)r->singles[i].name);
    free((char *)r->singles[i].path);
  }
  free(r->singles);
  free(r->dir);
  if (r->pipe_r >= 0) close(r->pipe_r);
  if (r->pipe_w >= 0) close(r->pipe_w);
  pthread_rwlock_destroy(&r->lock);
  pthread_mutex_destroy(&r->reload_lock);
  free(r);
}

int ts_repo_reload(ts_repo *r, ts_metrics_trigger trigger, ts_repo_reload_stats *stats,
                   ts_error *err) {
  pthread_mutex_lock(&r->reload_lock);
  int rc = ts__repo_reload_locked(r, trigger, NULL, 0, stats, err);
  pthread_mutex_unlock(&r->reload_lock);
  return rc;
}

/* --- background thread --- */

static double mono_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void background_reload(ts_repo *r, ts_metrics_trigger trigger) {
  ts_error err;
  if (ts_repo_reload(r, trigger, NULL, &err) != 0)
    TS_LOG(TS_LOG_ERROR, "repository reload failed", TS_LOG_S("error", err.msg));
}

static void *reload_thread(void *arg) {
  ts_repo *r = arg;
  double next = r->poll_seconds > 0 ? mono_now() + r->poll_seconds : 0;
  while (!atomic_load(&r->stopping)) {
    int timeout = -1;
    if (next > 0) {
      double left = next - mono_now();
      timeout = left <= 0 ? 0 : left > 86400 ? 86400000 : (int)(left * 1000) + 1;
    }
    struct pollfd pfd = {.fd = r->pipe_r, .events = POLLIN};
    int n = poll(&pfd, 1, timeout);
    if (atomic_load(&r->stopping)) break;
    if (n > 0) {
      char buf[64];
      bool reload = false;
      ssize_t k;
      /* Drain: several SIGHUPs in a row make one reload. */
      while ((k = read(r->pipe_r, buf, sizeof buf)) > 0)
        for (ssize_t i = 0; i < k; i++) reload |= buf[i] == WAKE_RELOAD;
      if (reload) background_reload(r, TS_METRICS_TRIGGER_SIGNAL);
    } else if (n == 0 && next > 0 && mono_now() >= next) {
      background_reload(r, TS_METRICS_TRIGGER_POLL);
      next = mono_now() + r->poll_seconds;
    }
  }
  return NULL;
}

int ts_repo_start(ts_repo *r, double poll_seconds, ts_error *err) {
  if (r->started) return ts_error_set(err, TS_EINVAL, "repository: reload thread already running");
  if (!(poll_seconds >= 0) || poll_seconds > 1e7)
    return ts_error_set(err, TS_EINVAL, "poll interval %g s: must be from 0 to 10000000",
                        poll_seconds);
  r->poll_seconds = poll_seconds;
  atomic_store(&r->stopping, false);
  int e = pthread_create(&r->thread, NULL, reload_thread, r);
  if (e) return ts_error_set(err, TS_EIO, "repository: cannot start reload thread: %s", strerror(e));
  r->started = true;
  return 0;
}

void ts_repo_request_reload(ts_repo *r) {
  int saved = errno;
  if (r && r->pipe_w >= 0) {
    /* A full pipe already holds a pending reload, so a failed write is fine. */
    ssize_t k = write(r->pipe_w, &(char){WAKE_RELOAD}, 1);
    (void)k;
  }
  errno = saved;
}

void ts_repo_stop(ts_repo *r) {
  if (!r || !r->started) return;
  atomic_store(&r->stopping, true);
  ssize_t k = write(r->pipe_w, &(char){WAKE_STOP}, 1); /* the flag is what counts */
  (void)k;
  pthread_join(r->thread, NULL);
  r->started = false;
  /* Later direct ts_repo_reload calls must load again (the flag only cuts a
   * background pass short). */
  atomic_store(&r->stopping, false);
}

/* --- request path --- */

bool ts_repo_ready(const ts_repo *r) { return r && atomic_load(&((ts_repo *)r)->ready); }

void ts_repo_retain(const ts_repo_entry *e) {
  if (e) atomic_fetch_add_explicit(&((ts__repo_entry_box *)e)->refs, 1, memory_order_relaxed);
}

void ts_repo_release(const ts_repo_entry *e) {
  ts__repo_entry_box *b = (ts__repo_entry_box *)e;
  if (b && atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) == 1)
    ts__repo_entry_free(b);
}

/* The entry a lookup should get, or an error naming why not. Read lock held. */
static int pick(const ts__repo_mrec *m, const char *vtext, size_t vlen, int64_t v,
                ts__repo_entry_box **out, ts_error *err) {
  if (m->unloaded)
    return ts_error_set(err, TS_EBUSY, "model '%s' is unloaded", m->name);
  if (!vlen && m->config.default_version) v = m->config.default_version;
  if (v) {
    for (size_t j = 0; j < m->nv; j++) {
      if (m->v[j].version != v) continue;
      if (!m->v[j].entry)
        return ts_error_set(err, TS_EBUSY, "model '%s' version %lld is not ready: %s", m->name,
                            (long long)v, m->v[j].reason[0] ? m->v[j].reason : "not loaded");
      *out = m->v[j].entry;
      return 0;
    }
    if (vlen)
      return ts_error_set(err, TS_ENOTFOUND, "model '%s' has no version %.*s", m->name, (int)vlen,
                          vtext);
    return ts_error_set(err, TS_EBUSY,
                        "model '%s': default_version %lld (config.json) has no version folder",
                        m->name, (long long)v);
  }
  for (size_t j = m->nv; j-- > 0;) {
    if (m->v[j].entry) {
      *out = m->v[j].entry;
      return 0;
    }
  }
  const char *why = m->reason[0] ? m->reason : m->nv ? m->v[m->nv - 1].reason : "";
  return ts_error_set(err, TS_EBUSY, "model '%s' has no ready version: %s", m->name,
                      why[0] ? why : "not loaded");
}

int ts_repo_acquire(ts_repo *r, const char *name, size_t name_len, const char *version,
                    size_t version_len, const ts_repo_entry **out, ts_error *err) {
  int64_t v = 0;
  *out = NULL;
  if (!name || !ts_repo_valid_model_name(name, name_len))
    return ts_error_set(err, TS_ENOTFOUND, "invalid model name (expected 1-%d characters of "
                                           "A-Z a-z 0-9 . _ -)",
                        TS_REPO_MAX_NAME);
  if (!version) version_len = 0;
  if (version_len && !ts_repo_valid_version(version, version_len, &v))
    return ts_error_set(err, TS_ENOTFOUND, "model '%.*s': invalid version (expected a positive "
                                           "integer)",
                        (int)name_len, name);
  ts__repo_entry_box *b = NULL;
  int rc;
  pthread_rwlock_rdlock(&r->lock);
  const ts__repo_mrec *m = ts__repo_find(r->table, name, name_len);
  if (!m)
    rc = ts_error_set(err, TS_ENOTFOUND, "model '%.*s' not found", (int)name_len, name);
  else
    rc = pick(m, version, version_len, v, &b, err);
  if (!rc) atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
  pthread_rwlock_unlock(&r->lock);
  if (!rc) *out = &b->pub;
  return rc;
}

/* --- repository API --- */

int ts_repo_index(ts_repo *r, ts_repo_index_item **items, size_t *n, ts_error *err) {
  int rc = 0;
  *items = NULL;
  *n = 0;
  pthread_rwlock_rdlock(&r->lock);
  const ts__repo_table *t = r->table;
  size_t count = 0;
  for (size_t i = 0; i < t->n; i++) count += t->m[i].nv ? t->m[i].nv : 1;
  ts_repo_index_item *it = count ? calloc(count, sizeof *it) : NULL;
  if (count && !it) {
    rc = ts_error_set(err, TS_ENOMEM, "repository index: out of memory");
    goto out;
  }
  size_t k = 0;
  for (size_t i = 0; i < t->n; i++) {
    const ts__repo_mrec *m = &t->m[i];
    if (!m->nv) {
      memcpy(it[k].name, m->name, sizeof it[k].name);
      it[k].state = TS_REPO_UNAVAILABLE;
      snprintf(it[k].reason, sizeof it[k].reason, "%s", m->unloaded ? "unloaded" : m->reason);
      k++;
      continue;
    }
    for (size_t j = 0; j < m->nv; j++, k++) {
      const ts__repo_vrec *v = &m->v[j];
      memcpy(it[k].name, m->name, sizeof it[k].name);
      memcpy(it[k].version, v->vstr, sizeof it[k].version);
      it[k].state = v->entry && !m->unloaded ? TS_REPO_READY : TS_REPO_UNAVAILABLE;
      const char *why = m->unloaded ? "unloaded" : v->reason[0] ? v->reason : m->reason;
      snprintf(it[k].reason, sizeof it[k].reason, "%s", why);
    }
  }
  *items = it;
  *n = k;
out:
  pthread_rwlock_unlock(&r->lock);
  return rc;
}

int ts_repo_load_model(ts_repo *r, const char *name, size_t name_len, ts_error *err) {
  ts_repo_reload_stats st;
  if (!name || !ts_repo_valid_model_name(name, name_len))
    return ts_error_set(err, TS_ENOTFOUND, "invalid model name");
  pthread_mutex_lock(&r->reload_lock);
  int rc = ts__repo_reload_locked(r, TS_METRICS_TRIGGER_API, name, name_len, &st, err);
  pthread_mutex_unlock(&r->reload_lock);
  if (rc) return rc;
  /* Success means something is serving; otherwise report the first reason. */
  const ts_repo_entry *e;
  ts_error why;
  if (ts_repo_acquire(r, name, name_len, NULL, 0, &e, &why) == 0) {
    ts_repo_release(e);
    return 0;
  }
  return ts_error_set(err, TS_EBUSY, "%s", why.msg);
}

int ts_repo_unload_model(ts_repo *r, const char *name, size_t name_len, ts_error *err) {
  char nm[TS_REPO_MAX_NAME + 1];
  if (!name || !ts_repo_valid_model_name(name, name_len))
    return ts_error_set(err, TS_ENOTFOUND, "invalid model name");
  memcpy(nm, name, name_len);
  nm[name_len] = '\0';
  pthread_mutex_lock(&r->reload_lock);
  int rc = ts__repo_unload_locked(r, nm, err);
  pthread_mutex_unlock(&r->reload_lock);
  return rc;
}
