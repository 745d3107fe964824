/*
 * Repository reload: scan the directory (and the --model files), decide what
 * changed, load and validate the changed versions on this thread, build a new
 * table and publish it atomically (see repo_internal.h).
 *
 * The caller holds reload_lock, so this file is the only writer: it reads the
 * current table without the read lock (nobody else can change it) and takes
 * the write lock only for the pointer swap.
 */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "base/log.h"
#include "repo/repo_internal.h"

/* One version folder found by the scan. */
typedef struct scan_version {
  int64_t version;
  char vstr[TS_REPO_MAX_VERSION_DIGITS + 1];
  char path[TS_REPO_MAX_PATH];
  ts__file_id id;
} scan_version;

/* One model found by the scan. */
typedef struct scan_model {
  char name[TS_REPO_MAX_NAME + 1];
  const char *single_path;
  char config_path[TS_REPO_MAX_PATH];
  ts__file_id config_id;
  scan_version *v;
  size_t nv;
  char reason[TS_REPO_MAX_REASON]; /* folder unreadable, too many versions, ... */
} scan_model;

static _Atomic long entries_alive;

/* snprintf that returns the would-be length; through vsnprintf so the
 * compiler does not warn about deliberate truncation of long names/reasons. */
__attribute__((format(printf, 3, 4))) static int fmt(char *dst, size_t cap, const char *f, ...) {
  va_list ap;
  va_start(ap, f);
  int n = vsnprintf(dst, cap, f, ap);
  va_end(ap);
  return n;
}

long ts__repo_entries_alive(void) { return atomic_load(&entries_alive); }

static double mono_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void file_identity(const char *path, ts__file_id *id) {
  struct stat st;
  memset(id, 0, sizeof *id);
  if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) return;
  id->exists = true;
  id->dev = st.st_dev;
  id->ino = st.st_ino;
  id->size = st.st_size;
  id->mtime = st.st_mtim;
}

static bool same_id(const ts__file_id *a, const ts__file_id *b) {
  if (a->exists != b->exists) return false;
  if (!a->exists) return true;
  return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
         a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec;
}

void ts__repo_entry_free(ts__repo_entry_box *b) {
  if (!b) return;
  ts_explainer_free(b->explainer);
  ts_forest_free(b->forest);
  free(b);
  atomic_fetch_sub(&entries_alive, 1);
}

static void entry_retain(ts__repo_entry_box *b) {
  if (b) atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
}

static void entry_release(ts__repo_entry_box *b) {
  /* acq_rel: the freeing thread must see every holder's last use. */
  if (b && atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) == 1)
    ts__repo_entry_free(b);
}

void ts__repo_table_free(ts__repo_table *t) {
  if (!t) return;
  for (size_t i = 0; i < t->n; i++) {
    for (size_t j = 0; j < t->m[i].nv; j++) entry_release(t->m[i].v[j].entry);
    free(t->m[i].v);
  }
  free(t->m);
  free(t);
}

ts__repo_mrec *ts__repo_find(const ts__repo_table *t, const char *name, size_t len) {
  size_t lo = 0, hi = t ? t->n : 0;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    const char *s = t->m[mid].name;
    int c = strncmp(s, name, len);
    if (c == 0) c = s[len] ? 1 : 0; /* s longer than name sorts after it */
    if (c == 0) return &t->m[mid];
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return NULL;
}

void ts__repo_publish(ts_repo *r, ts__repo_table *t) {
  pthread_rwlock_wrlock(&r->lock);
  ts__repo_table *old = r->table;
  r->table = t;
  pthread_rwlock_unlock(&r->lock);
  ts__repo_table_free(old); /* in-flight holders keep their entries alive */
}

/* --- scanning --- */

static int cmp_version(const void *a, const void *b) {
  int64_t x = ((const scan_version *)a)->version, y = ((const scan_version *)b)->version;
  return (x > y) - (x < y);
}

static int cmp_scan_model(const void *a, const void *b) {
  return strcmp(((const scan_model *)a)->name, ((const scan_model *)b)->name);
}

static int cmp_mrec(const void *a, const void *b) {
  return strcmp(((const ts__repo_mrec *)a)->name, ((const ts__repo_mrec *)b)->name);
}

static bool is_dir_at(int dfd, const char *name) {
  struct stat st;
  return fstatat(dfd, name, &st, 0) == 0 && S_ISDIR(st.st_mode);
}

/* Lists the version folders of a directory model into sm->v (highest
 * TS_REPO_MAX_VERSIONS kept). Problems go to sm->reason. */
static int scan_versions(const char *dir, scan_model *sm, ts_error *err) {
  char mdir[TS_REPO_MAX_PATH];
  if (fmt(mdir, sizeof mdir, "%s/%s", dir, sm->name) >= (int)sizeof mdir ||
      fmt(sm->config_path, sizeof sm->config_path, "%s/config.json", mdir) >=
          (int)sizeof sm->config_path) {
    fmt(sm->reason, sizeof sm->reason, "path of %s/%s longer than %d bytes", dir, sm->name,
             TS_REPO_MAX_PATH);
    return 0;
  }
  file_identity(sm->config_path, &sm->config_id);
  DIR *d = opendir(mdir);
  if (!d) {
    fmt(sm->reason, sizeof sm->reason, "cannot read folder %s: %s", mdir, strerror(errno));
    return 0;
  }
  size_t cap = 0, dropped = 0;
  struct dirent *de;
  while ((de = readdir(d))) {
    int64_t v;
    size_t len = strlen(de->d_name);
    if (!ts_repo_valid_version(de->d_name, len, &v) || !is_dir_at(dirfd(d), de->d_name)) continue;
    if (sm->nv == cap) {
      size_t ncap = cap ? cap * 2 : 8;
      scan_version *nv = realloc(sm->v, ncap * sizeof *nv);
      if (!nv) {
        closedir(d);
        return ts_error_set(err, TS_ENOMEM, "%s: out of memory listing versions", mdir);
      }
      sm->v = nv;
      cap = ncap;
    }
    scan_version *sv = &sm->v[sm->nv++];
    memset(sv, 0, sizeof *sv);
    sv->version = v;
    memcpy(sv->vstr, de->d_name, len + 1);
    if (fmt(sv->path, sizeof sv->path, "%s/%s/model.txt", mdir, de->d_name) >=
        (int)sizeof sv->path) {
      sm->nv--; /* cannot be longer than mdir + 30 bytes unless mdir is near the limit */
      continue;
    }
    file_identity(sv->path, &sv->id);
  }
  closedir(d);
  if (sm->nv) qsort(sm->v, sm->nv, sizeof *sm->v, cmp_version);
  if (sm->nv > TS_REPO_MAX_VERSIONS) { /* keep the highest versions */
    dropped = sm->nv - TS_REPO_MAX_VERSIONS;
    memmove(sm->v, sm->v + dropped, TS_REPO_MAX_VERSIONS * sizeof *sm->v);
    sm->nv = TS_REPO_MAX_VERSIONS;
    fmt(sm->reason, sizeof sm->reason,
             "%zu version folders beyond the limit of %d were ignored (lowest first)", dropped,
             TS_REPO_MAX_VERSIONS);
  }
  return 0;
}

static void free_scan(scan_model *s, size_t n) {
  for (size_t i = 0; i < n; i++) free(s[i].v);
  free(s);
}

static int cmp_name(const void *a, const void *b) { return strcmp(a, b); }

/* Sorted names of the model folders of `dir` (only `only` if given). At most
 * TS_REPO_MAX_SCAN_ENTRIES candidates are read: a bound on memory for a
 * directory that is not a model repository at all. */
static int list_model_dirs(const char *dir, const char *only, size_t only_len,
                           char (**out)[TS_REPO_MAX_NAME + 1], size_t *nout, ts_error *err) {
  char(*names)[TS_REPO_MAX_NAME + 1] = NULL;
  size_t n = 0, cap = 0;
  *out = NULL;
  *nout = 0;
  DIR *d = opendir(dir);
  if (!d) return ts_error_set(err, TS_EIO, "repository %s: cannot read: %s", dir, strerror(errno));
  struct dirent *de;
  while ((de = readdir(d))) {
    size_t len = strlen(de->d_name);
    if (!ts_repo_valid_model_name(de->d_name, len)) continue;
    if (only && (len != only_len || memcmp(de->d_name, only, len))) continue;
    if (!is_dir_at(dirfd(d), de->d_name)) continue;
    if (n == TS_REPO_MAX_SCAN_ENTRIES) break;
    if (n == cap) {
      size_t ncap = cap ? cap * 2 : 64;
      void *p = realloc(names, ncap * sizeof *names);
      if (!p) {
        free(names);
        closedir(d);
        return ts_error_set(err, TS_ENOMEM, "repository %s: out of memory listing models", dir);
      }
      names = p;
      cap = ncap;
    }
    memcpy(names[n++], de->d_name, len + 1);
  }
  closedir(d);
  if (n) qsort(names, n, sizeof *names, cmp_name);
  *out = names;
  *nout = n;
  return 0;
}

/* Builds the sorted list of models to consider. With `only`, just that one
 * (TS_ENOTFOUND if it exists neither as a folder nor as a --model entry). */
static int scan_all(ts_repo *r, const char *only, size_t only_len, scan_model **out, size_t *nout,
                    ts_error *err) {
  int rc = 0;
  size_t n = 0, cap = r->nsingles + 16;
  scan_model *s = calloc(cap, sizeof *s);
  *out = NULL;
  *nout = 0;
  if (!s) return ts_error_set(err, TS_ENOMEM, "repository: out of memory scanning");
  for (size_t i = 0; i < r->nsingles; i++) {
    if (only && (strlen(r->singles[i].name) != only_len ||
                 memcmp(r->singles[i].name, only, only_len)))
      continue;
    scan_model *sm = &s[n++];
    fmt(sm->name, sizeof sm->name, "%s", r->singles[i].name);
    sm->single_path = r->singles[i].path;
    sm->v = calloc(1, sizeof *sm->v);
    if (!sm->v) {
      rc = ts_error_set(err, TS_ENOMEM, "repository: out of memory scanning");
      goto out;
    }
    sm->nv = 1;
    sm->v[0].version = 1;
    strcpy(sm->v[0].vstr, "1");
    fmt(sm->v[0].path, sizeof sm->v[0].path, "%s", sm->single_path);
    file_identity(sm->v[0].path, &sm->v[0].id);
  }
  size_t nsingle = n;
  if (r->dir) {
    char(*names)[TS_REPO_MAX_NAME + 1] = NULL;
    size_t nnames = 0;
    rc = list_model_dirs(r->dir, only, only_len, &names, &nnames, err);
    if (rc) goto out;
    size_t ndir = 0, ignored = 0, shadowed = 0;
    const char *first_shadowed = NULL;
    /* names are sorted, so the models kept beyond the limit are always the
     * same ones (alphabetically first), whatever order readdir gave. */
    for (size_t k = 0; k < nnames; k++) {
      bool dup = false;
      for (size_t i = 0; i < nsingle; i++) dup |= !strcmp(s[i].name, names[k]);
      if (dup) {
        if (!shadowed++) first_shadowed = names[k];
        continue;
      }
      if (++ndir > TS_REPO_MAX_MODELS) {
        ignored++;
        continue;
      }
      if (n == cap) {
        scan_model *ns = realloc(s, cap * 2 * sizeof *s);
        if (!ns) {
          free(names);
          rc = ts_error_set(err, TS_ENOMEM, "repository: out of memory scanning");
          goto out;
        }
        memset(ns + cap, 0, cap * sizeof *s);
        s = ns;
        cap *= 2;
      }
      memcpy(s[n].name, names[k], sizeof s[n].name);
      n++;
    }
    /* Logged when the situation changes, not on every poll. */
    if (!only) {
      if (ignored && ignored != r->last_ignored)
        TS_LOG(TS_LOG_ERROR, "model folders ignored: too many models", TS_LOG_U("ignored", ignored),
               TS_LOG_I("limit", TS_REPO_MAX_MODELS), TS_LOG_S("repository", r->dir));
      if (shadowed && shadowed != r->last_shadowed)
        TS_LOG(TS_LOG_WARN, "model folders ignored: --model entries have the same names",
               TS_LOG_U("ignored", shadowed), TS_LOG_S("first", first_shadowed),
               TS_LOG_S("repository", r->dir));
      r->last_ignored = ignored;
      r->last_shadowed = shadowed;
    }
    free(names);
    for (size_t i = nsingle; i < n; i++) {
      rc = scan_versions(r->dir, &s[i], err);
      if (rc) goto out;
    }
  }
  if (only && n == 0) {
    rc = ts_error_set(err, TS_ENOTFOUND, "model '%.*s' is not in the repository", (int)only_len,
                      only);
    goto out;
  }
  if (n) qsort(s, n, sizeof *s, cmp_scan_model);
out:
  if (rc) {
    free_scan(s, n);
    return rc;
  }
  *out = s;
  *nout = n;
  return 0;
}

/* --- loading --- */

/* Loads one version. On failure *retry says the file changed during the load
 * (not the file's fault: try again on the next pass). */
static int load_version(ts_repo *r, const char *name, const scan_version *sv,
                        const ts_repo_model_config *cfg, ts__repo_entry_box **out, bool *retry,
                        ts_error *err) {
  ts_model *model = NULL;
  ts_forest *forest = NULL;
  ts_explainer *ex = NULL;
  ts__repo_entry_box *b = NULL;
  double t0 = mono_now();
  int rc;
  *out = NULL;
  *retry = false;
  if (!sv->id.exists) {
    rc = ts_error_set(err, TS_ENOTFOUND, "%s: no such file", sv->path);
    goto fail;
  }
  rc = ts_model_load_file(sv->path, &model, err);
  if (rc) goto fail;
  bool linear = ts_model_has_linear_trees(model);
  rc = ts_forest_build(model, &forest, err); /* takes the model in every case */
  model = NULL;
  if (rc) goto fail;
  if (cfg->explain && !r->no_explainers && !linear) {
    ts_error e2;
    if (ts_explainer_build(forest, &ex, &e2) != 0) {
      /* Predictions do not need SHAP: serve without it and say why. */
      TS_LOG(TS_LOG_WARN, "SHAP explainer not built", TS_LOG_S("model", name),
             TS_LOG_S("version", sv->vstr), TS_LOG_S("error", e2.msg));
      ex = NULL;
    }
  }
  ts__file_id after;
  file_identity(sv->path, &after);
  if (!same_id(&after, &sv->id)) {
    *retry = true;
    rc = ts_error_set(err, TS_EBUSY, "%s: file changed while it was being loaded; will retry",
                      sv->path);
    goto fail;
  }
  b = calloc(1, sizeof *b);
  if (!b) {
    rc = ts_error_set(err, TS_ENOMEM, "%s: out of memory", sv->path);
    goto fail;
  }
  atomic_fetch_add(&entries_alive, 1);
  atomic_init(&b->refs, 1);
  b->forest = forest;
  b->explainer = ex;
  b->config = *cfg;
  fmt(b->name, sizeof b->name, "%s", name);
  fmt(b->version_str, sizeof b->version_str, "%s", sv->vstr);
  fmt(b->path, sizeof b->path, "%s", sv->path);
  b->pub.name = b->name;
  b->pub.version = sv->version;
  b->pub.version_str = b->version_str;
  b->pub.forest = forest;
  b->pub.explainer = ex;
  b->pub.config = &b->config;
  b->pub.path = b->path;
  b->pub.metrics_id = ts_metrics_intern(r->metrics, name, sv->vstr);
  clock_gettime(CLOCK_REALTIME, &b->pub.loaded_at);
  b->pub.load_seconds = mono_now() - t0;
  b->pub.file_size = (uint64_t)sv->id.size;
  b->pub.file_mtime = sv->id.mtime;
  ts_metrics_model_load(r->metrics, name, b->pub.load_seconds, 1);
  const ts_model *m = ts_forest_model(forest);
  TS_LOG(TS_LOG_INFO, "model loaded", TS_LOG_S("model", name), TS_LOG_S("version", sv->vstr),
         TS_LOG_S("path", sv->path), TS_LOG_S("objective", ts_model_objective_name(m)),
         TS_LOG_I("trees", ts_model_num_trees(m)), TS_LOG_I("features", ts_model_num_features(m)),
         TS_LOG_B("shap", ex != NULL), TS_LOG_D("seconds", b->pub.load_seconds));
  *out = b;
  return 0;
fail:
  ts_explainer_free(ex);
  ts_forest_free(forest);
  ts_model_free(model);
  ts_metrics_model_load(r->metrics, name, mono_now() - t0, 0);
  TS_LOG(*retry ? TS_LOG_WARN : TS_LOG_ERROR, "model load failed", TS_LOG_S("model", name),
         TS_LOG_S("version", sv->vstr), TS_LOG_S("path", sv->path), TS_LOG_S("error", err->msg));
  return rc;
}

/* Copies a model record with its own version array; entries gain a reference. */
static int copy_mrec(ts__repo_mrec *dst, const ts__repo_mrec *src) {
  *dst = *src;
  dst->v = NULL;
  if (src->nv) {
    dst->v = malloc(src->nv * sizeof *dst->v);
    if (!dst->v) return TS_ENOMEM;
    memcpy(dst->v, src->v, src->nv * sizeof *dst->v);
    for (size_t j = 0; j < src->nv; j++) entry_retain(dst->v[j].entry);
  }
  return 0;
}

static const ts__repo_vrec *find_vrec(const ts__repo_mrec *m, int64_t version) {
  for (size_t j = 0; m && j < m->nv; j++)
    if (m->v[j].version == version) return &m->v[j];
  return NULL;
}

/* Builds the new record of one scanned model from its old record (may be
 * NULL), loading what changed. */
static int update_model(ts_repo *r, const scan_model *sm, const ts__repo_mrec *old, bool force,
                        ts__repo_mrec *nm, ts_repo_reload_stats *st) {
  ts_error err;
  memset(nm, 0, sizeof *nm);
  if (old) {
    *nm = *old;
    nm->v = NULL;
    nm->nv = 0;
  } else {
    fmt(nm->name, sizeof nm->name, "%s", sm->name);
    nm->startup = !r->initial_done || sm->single_path;
    ts__repo_config_default(&nm->config);
  }
  nm->single_path = sm->single_path;
  if (force) nm->unloaded = false;
  if (sm->nv) {
    nm->v = calloc(sm->nv, sizeof *nm->v);
    if (!nm->v) return TS_ENOMEM;
  }
  nm->nv = sm->nv;

  /* Which config applies to versions loaded in this pass. */
  bool cfg_ok = true, cfg_changed = false;
  ts_repo_model_config cfg = nm->config;
  if (!sm->config_id.exists) {
    if (nm->config_id.exists || nm->config_failed_pending) cfg_changed = true; /* deleted */
    ts__repo_config_default(&cfg);
    nm->config_failed_pending = false;
  } else if (!force && nm->config_failed_pending && same_id(&nm->config_failed_id, &sm->config_id)) {
    cfg_ok = false; /* the same bad file: already reported */
  } else if (force || !same_id(&nm->config_id, &sm->config_id)) {
    if (ts__repo_config_load(sm->config_path, &cfg, &err) == 0) {
      cfg_changed = true;
      nm->config_failed_pending = false;
    } else {
      cfg_ok = false;
      nm->config_failed_pending = true;
      nm->config_failed_id = sm->config_id;
      fmt(nm->reason, sizeof nm->reason, "%s", err.msg);
      st->failed++;
      ts_metrics_model_load(r->metrics, sm->name, -1, 0);
      TS_LOG(TS_LOG_ERROR, "model config invalid", TS_LOG_S("model", sm->name),
             TS_LOG_S("error", err.msg));
    }
  }
  if (cfg_ok) {
    nm->config = cfg;
    nm->config_id = sm->config_id;
    fmt(nm->reason, sizeof nm->reason, "%s", sm->reason);
  }
  if (sm->nv == 0 && !nm->reason[0])
    fmt(nm->reason, sizeof nm->reason,
             "no version folders (expected <model>/<version>/model.txt, version a positive "
             "integer)");

  for (size_t j = 0; j < sm->nv; j++) {
    const scan_version *sv = &sm->v[j];
    const ts__repo_vrec *ov = old ? find_vrec(old, sv->version) : NULL;
    ts__repo_vrec *nv = &nm->v[j];
    if (ov) {
      *nv = *ov;
      entry_retain(nv->entry);
    } else {
      nv->version = sv->version;
      memcpy(nv->vstr, sv->vstr, sizeof nv->vstr);
    }
    if (nm->unloaded) { /* stays unloaded until an explicit load */
      entry_release(nv->entry);
      nv->entry = NULL;
      continue;
    }
    if (!cfg_ok) {
      if (!nv->entry) fmt(nv->reason, sizeof nv->reason, "not loaded: config.json is invalid");
      continue;
    }
    bool need;
    if (force || cfg_changed || !ov)
      need = true;
    else if (ov->failed_pending && same_id(&ov->failed_id, &sv->id))
      need = false; /* the same file that failed: already reported, wait for a change */
    else if (ov->entry && same_id(&ov->loaded_id, &sv->id))
      need = false; /* unchanged */
    else
      need = true;
    if (!need) {
      st->unchanged += nv->entry != NULL;
      continue;
    }
    if (atomic_load(&r->stopping)) continue; /* shutting down: leave it as it was */
    ts__repo_entry_box *b;
    bool retry;
    if (load_version(r, sm->name, sv, &nm->config, &b, &retry, &err) == 0) {
      entry_release(nv->entry);
      nv->entry = b;
      nv->loaded_id = sv->id;
      nv->failed_pending = false;
      nv->reason[0] = '\0';
      nm->ever_loaded = true;
      st->loaded++;
    } else {
      st->failed++;
      fmt(nv->reason, sizeof nv->reason, "%s%s", nv->entry ? "still serving the previous file; " : "",
               err.msg);
      nv->failed_pending = !retry;
      nv->failed_id = sv->id;
    }
  }
  return 0;
}

/* After a publish: model info series and readiness. */
static void after_publish(ts_repo *r, const ts__repo_table *t) {
  long nready = 0;
  bool ready = r->initial_done;
  for (size_t i = 0; i < t->n; i++) {
    const ts__repo_mrec *m = &t->m[i];
    if (m->startup && !m->unloaded && !m->ever_loaded) ready = false;
    for (size_t j = 0; j < m->nv; j++) {
      const ts__repo_entry_box *b = m->v[j].entry;
      if (!b) continue;
      nready++;
      const ts_model *mo = ts_forest_model(b->forest);
      ts_metrics_model_info_set(r->metrics, b->pub.metrics_id, ts_model_objective_name(mo),
                                ts_model_num_trees(mo), ts_model_num_features(mo),
                                ts_model_num_class(mo));
    }
  }
  ts_metrics_set_models_ready(r->metrics, nready);
  atomic_store(&r->ready, ready);
}

/* Clears the info series of entries of `old` that `t` no longer serves. */
static int clear_dropped(ts_repo *r, const ts__repo_table *old, const ts__repo_table *t) {
  int removed = 0;
  for (size_t i = 0; old && i < old->n; i++) {
    const ts__repo_mrec *om = &old->m[i];
    const ts__repo_mrec *nm = ts__repo_find(t, om->name, strlen(om->name));
    for (size_t j = 0; j < om->nv; j++) {
      const ts__repo_vrec *ov = &om->v[j];
      const ts__repo_vrec *nv = find_vrec(nm, ov->version);
      if (!nv) {
        removed++;
        TS_LOG(TS_LOG_INFO, "model version removed", TS_LOG_S("model", om->name),
               TS_LOG_S("version", ov->vstr));
      }
      if (ov->entry && (!nv || !nv->entry))
        ts_metrics_retire(r->metrics, ov->entry->pub.metrics_id);
    }
  }
  return removed;
}

int ts__repo_reload_locked(ts_repo *r, ts_metrics_trigger trigger, const char *only,
                           size_t only_len, ts_repo_reload_stats *stats, ts_error *err) {
  ts_repo_reload_stats st = {0};
  scan_model *s = NULL;
  size_t ns = 0;
  ts__repo_table *t = NULL, *old = r->table;
  int rc = scan_all(r, only, only_len, &s, &ns, err);
  if (rc) goto out;
  /* The new table: every scanned model, plus (for a single-model load) every
   * other model as it was. */
  size_t cap = ns + (only && old ? old->n : 0);
  t = calloc(1, sizeof *t);
  if (!t || !(t->m = calloc(cap ? cap : 1, sizeof *t->m))) {
    rc = ts_error_set(err, TS_ENOMEM, "repository: out of memory building the model table");
    goto out;
  }
  for (size_t i = 0; i < ns; i++) {
    const ts__repo_mrec *om = ts__repo_find(old, s[i].name, strlen(s[i].name));
    rc = update_model(r, &s[i], om, only != NULL, &t->m[t->n], &st);
    t->n++; /* a partly built record is freed with the table */
    if (rc) {
      rc = ts_error_set(err, rc, "repository: out of memory loading '%s'", s[i].name);
      goto out;
    }
  }
  for (size_t i = 0; only && old && i < old->n; i++) {
    bool scanned = false;
    for (size_t k = 0; k < ns; k++) scanned |= !strcmp(s[k].name, old->m[i].name);
    if (scanned) continue;
    if (copy_mrec(&t->m[t->n++], &old->m[i])) {
      rc = ts_error_set(err, TS_ENOMEM, "repository: out of memory building the model table");
      goto out;
    }
  }
  if (t->n) qsort(t->m, t->n, sizeof *t->m, cmp_mrec);
  st.removed = clear_dropped(r, old, t);
  if (!only) r->initial_done = true;
  ts__repo_publish(r, t);
  after_publish(r, t);
  t = NULL;
  ts_metrics_reload(r->metrics, trigger, st.failed == 0);
  if (st.loaded || st.failed || st.removed)
    TS_LOG(st.failed ? TS_LOG_WARN : TS_LOG_INFO, "repository reloaded",
           TS_LOG_S("trigger", trigger == TS_METRICS_TRIGGER_STARTUP ? "startup"
                               : trigger == TS_METRICS_TRIGGER_SIGNAL ? "signal"
                               : trigger == TS_METRICS_TRIGGER_POLL   ? "poll"
                                                                      : "api"),
           TS_LOG_I("loaded", st.loaded), TS_LOG_I("failed", st.failed),
           TS_LOG_I("removed", st.removed), TS_LOG_I("unchanged", st.unchanged));
out:
  if (rc) ts_metrics_reload(r->metrics, trigger, 0);
  ts__repo_table_free(t);
  free_scan(s, ns);
  if (stats) *stats = st;
  return rc;
}

int ts__repo_unload_locked(ts_repo *r, const char *name, ts_error *err) {
  ts__repo_table *old = r->table;
  ts__repo_mrec *om = ts__repo_find(old, name, strlen(name));
  if (!om) return ts_error_set(err, TS_ENOTFOUND, "model '%s' is not in the repository", name);
  ts__repo_table *t = calloc(1, sizeof *t);
  if (!t || !(t->m = calloc(old->n, sizeof *t->m))) {
    free(t);
    return ts_error_set(err, TS_ENOMEM, "repository: out of memory unloading '%s'", name);
  }
  for (size_t i = 0; i < old->n; i++) {
    if (copy_mrec(&t->m[t->n++], &old->m[i])) {
      ts__repo_table_free(t);
      return ts_error_set(err, TS_ENOMEM, "repository: out of memory unloading '%s'", name);
    }
  }
  ts__repo_mrec *nm = ts__repo_find(t, name, strlen(name));
  nm->unloaded = true;
  for (size_t j = 0; j < nm->nv; j++) {
    entry_release(nm->v[j].entry);
    nm->v[j].entry = NULL;
  }
  clear_dropped(r, old, t);
  ts__repo_publish(r, t);
  after_publish(r, t);
  ts_metrics_reload(r->metrics, TS_METRICS_TRIGGER_API, 1);
  TS_LOG(TS_LOG_INFO, "model unloaded", TS_LOG_S("model", name));
  return 0;
}
