/*
 * Internals shared by the repository's files: repo.c (lookups, index,
 * background thread), repo_scan.c (scan, load, swap) and repo_config.c
 * (config.json, names). Tests include it to check config parsing directly and
 * to count live entries; nothing else should.
 *
 * The served state is an immutable snapshot (`ts__repo_table`): every reload
 * builds a new table next to the old one (carrying over entries it keeps, with
 * one more reference each), publishes it under the write lock, then releases
 * the old table. Readers take the read lock only to find an entry in the
 * current table and bump its reference count.
 */
#ifndef TS_REPO_INTERNAL_H
#define TS_REPO_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "repo/repo.h"

/* Identity of a file as seen by stat(): a change in any field means the file
 * changed (replaced by rename, rewritten, touched). */
typedef struct ts__file_id {
  bool exists;
  dev_t dev;
  ino_t ino;
  off_t size;
  struct timespec mtime;
} ts__file_id;

/* An entry and what it owns. `pub` must stay the first member: the public
 * pointer handed out is &box->pub. */
typedef struct ts__repo_entry_box {
  ts_repo_entry pub;
  _Atomic long refs;
  ts_forest *forest;
  ts_explainer *explainer;
  ts_repo_model_config config;
  char name[TS_REPO_MAX_NAME + 1];
  char version_str[TS_REPO_MAX_VERSION_DIGITS + 1];
  char path[TS_REPO_MAX_PATH];
} ts__repo_entry_box;

/* One version of a model in a table. */
typedef struct ts__repo_vrec {
  int64_t version;
  char vstr[TS_REPO_MAX_VERSION_DIGITS + 1];
  ts__repo_entry_box *entry;  /* serving entry (one reference held), or NULL */
  ts__file_id loaded_id;      /* identity of the file `entry` came from */
  ts__file_id failed_id;      /* identity of the file whose load last failed */
  bool failed_pending;        /* that failure is current: do not retry until the file changes */
  char reason[TS_REPO_MAX_REASON]; /* last failure, "" if none */
} ts__repo_vrec;

/* One model in a table. */
typedef struct ts__repo_mrec {
  char name[TS_REPO_MAX_NAME + 1];
  const char *single_path;  /* --model file (owned by the repo), NULL for directory models */
  bool startup;             /* present at the first scan or given by --model: counts for readiness */
  bool ever_loaded;         /* some version has loaded at least once */
  bool unloaded;            /* unloaded through the API */
  ts_repo_model_config config; /* config in force (defaults if none or never valid) */
  ts__file_id config_id;       /* identity of the config.json `config` came from */
  ts__file_id config_failed_id;
  bool config_failed_pending;
  char reason[TS_REPO_MAX_REASON]; /* model-level problem (config, no versions), "" if none */
  ts__repo_vrec *v;         /* sorted by version, ascending */
  size_t nv;
} ts__repo_mrec;

typedef struct ts__repo_table {
  ts__repo_mrec *m; /* sorted by name */
  size_t n;
} ts__repo_table;

struct ts_repo {
  char *dir;                       /* NULL without --model-repository */
  ts_repo_single *singles;         /* copies of the --model entries */
  size_t nsingles;
  ts_metrics *metrics;
  bool no_explainers;

  pthread_rwlock_t lock;           /* guards `table` (the pointer, for readers) */
  ts__repo_table *table;
  pthread_mutex_t reload_lock;     /* one reload/load/unload at a time */
  bool initial_done;               /* the first scan has run (under reload_lock) */
  size_t last_ignored;             /* folders beyond TS_REPO_MAX_MODELS last pass (log on change) */
  size_t last_shadowed;            /* folders shadowed by --model names last pass (log on change) */
  _Atomic bool ready;

  int pipe_r, pipe_w;              /* wake-up pipe of the background thread */
  pthread_t thread;
  bool started;
  double poll_seconds;
  _Atomic bool stopping;
};

/* --- repo_config.c --- */

/* Defaults for a model without config.json. */
void ts__repo_config_default(ts_repo_model_config *c);

/* Parses config.json text (`len` bytes); `path` names it in messages.
 * Errors: TS_EPARSE (not JSON, not an object, trailing data), TS_EINVAL
 * (unknown or duplicate key, wrong type, out of range). */
int ts__repo_config_parse(const char *text, size_t len, const char *path,
                          ts_repo_model_config *out, ts_error *err);

/* Reads and parses a config file of at most TS_REPO_MAX_CONFIG_BYTES.
 * Errors: TS_EIO, TS_ELIMIT, and those of ts__repo_config_parse. */
int ts__repo_config_load(const char *path, ts_repo_model_config *out, ts_error *err);

/* --- repo_scan.c --- */

/* A reload pass (caller holds reload_lock). `only` (length only_len) limits
 * the pass to one model and forces its reload (API load); NULL for all. */
int ts__repo_reload_locked(ts_repo *r, ts_metrics_trigger trigger, const char *only,
                           size_t only_len, ts_repo_reload_stats *stats, ts_error *err);

/* Marks model `name` unloaded (caller holds reload_lock). TS_ENOTFOUND. */
int ts__repo_unload_locked(ts_repo *r, const char *name, ts_error *err);

/* Publishes `t` as the current table and releases the old one. */
void ts__repo_publish(ts_repo *r, ts__repo_table *t);

/* Frees a table, releasing its entry references. */
void ts__repo_table_free(ts__repo_table *t);

/* Finds a model in a table by name (binary search); NULL if absent. */
ts__repo_mrec *ts__repo_find(const ts__repo_table *t, const char *name, size_t len);

/* Live entries in the process (created minus freed): for tests. */
long ts__repo_entries_alive(void);
void ts__repo_entry_free(ts__repo_entry_box *b);

#endif
