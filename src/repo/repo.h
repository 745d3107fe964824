/*
 * treeserve model repository: which models are served, their versions, and hot
 * reload.
 *
 * Layout of a repository directory (--model-repository DIR):
 *
 *   DIR/<model name>/config.json          optional per-model settings
 *   DIR/<model name>/<version>/model.txt  LightGBM text model; version is a
 *                                         positive integer without leading zeros
 *
 * plus single models given as NAME=path (--model), served as version 1.
 * Entries of DIR and of a model folder that are not valid names (hidden files,
 * non-numeric version folders, plain files) are ignored.
 *
 * Names: model names are 1..TS_REPO_MAX_NAME characters of [A-Za-z0-9._-] and
 * do not start with '.' (so never "." or ".."), never contain "..", '/' or
 * control characters. Versions are 1..TS_REPO_MAX_VERSION_DIGITS digits with
 * no leading zero. No file path is ever built from request input: a request's
 * names are only compared with names found by scanning.
 *
 * config.json (all keys optional; unknown keys, wrong types and out-of-range
 * values are a load error for that model, naming the key):
 *   {"description": "text",                 <= TS_REPO_MAX_DESCRIPTION bytes
 *    "default_output": "predict"|"value"|"raw"|"leaf"|"contrib",
 *    "max_rows": 1000,                       1..TS_REPO_MAX_ROWS_LIMIT
 *    "default_version": 3,                   pins the default (else the highest ready)
 *    "explain": true}                        build a SHAP explainer (default true)
 *
 * Lifecycle: ts_repo_reload scans the directory, finds new and removed version
 * folders and changed files (mtime, size, inode of model.txt and config.json),
 * loads and validates changed models on the calling thread (never a request
 * thread: startup, the repo's background thread, or an admin API call), then
 * swaps each new entry in under a short write lock. A request holds the entry
 * it acquired until it releases it; the last release frees it. A failing load
 * leaves the previous entry serving, records the reason (index "reason"), logs
 * it and counts it in the metrics. A file whose identity did not change since a
 * failed attempt is not retried until it changes (or an explicit load).
 *
 * Thread-safety: ts_repo_acquire / ts_repo_release / ts_repo_ready /
 * ts_repo_index may run on any number of threads concurrently with a reload.
 * Reloads (scan, API load/unload, background thread) are serialized by an
 * internal mutex. The read path is a read lock held for a binary search and an
 * atomic increment.
 */
#ifndef TS_REPO_REPO_H
#define TS_REPO_REPO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "metrics/metrics.h"
#include "treeserve/error.h"
#include "treeserve/explain.h"
#include "treeserve/predict.h"

typedef struct ts_repo ts_repo;

#define TS_REPO_MAX_NAME 128              /* bytes in a model name */
#define TS_REPO_MAX_VERSION_DIGITS 18     /* versions fit in int64 */
#define TS_REPO_MAX_MODELS 1024           /* models in one repository (alphabetically first kept) */
#define TS_REPO_MAX_SCAN_ENTRIES 16384    /* model folder candidates read from the directory */
#define TS_REPO_MAX_VERSIONS 256          /* version folders per model */
#define TS_REPO_MAX_CONFIG_BYTES 65536    /* config.json size */
#define TS_REPO_MAX_DESCRIPTION 4096      /* config "description" bytes */
#define TS_REPO_MAX_ROWS_LIMIT 100000000  /* largest accepted "max_rows" */
#define TS_REPO_MAX_REASON 512            /* bytes kept of a failure reason */
#define TS_REPO_MAX_PATH 4096             /* longest file path built */

/* Per-model settings from config.json (defaults when there is none). */
typedef struct ts_repo_model_config {
  char description[TS_REPO_MAX_DESCRIPTION + 1]; /* "" if none */
  ts_predict_type default_output;  /* TS_PREDICT_VALUE unless set */
  long max_rows;                   /* 0 = no per-model limit (server's own applies) */
  int64_t default_version;         /* 0 = highest ready version */
  bool explain;                    /* build an explainer (default true) */
} ts_repo_model_config;

/* One loaded, immutable model version. Everything is read-only for holders and
 * valid until the holder's ts_repo_release. */
typedef struct ts_repo_entry {
  const char *name;                   /* model name, NUL-terminated */
  int64_t version;                    /* >= 1 */
  const char *version_str;            /* the version as text ("3") */
  const ts_forest *forest;            /* compiled model (ts_forest_model() for metadata) */
  const ts_explainer *explainer;      /* NULL if the model has none (linear trees,
                                         "explain": false, or SHAP not built) */
  const ts_repo_model_config *config; /* settings in force when it was loaded */
  const char *path;                   /* model file it was loaded from */
  int metrics_id;                     /* label id for ts_metrics_request.model */
  struct timespec loaded_at;          /* CLOCK_REALTIME when loaded */
  double load_seconds;                /* wall time spent loading + compiling */
  uint64_t file_size;                 /* model.txt size in bytes */
  struct timespec file_mtime;         /* model.txt mtime */
} ts_repo_entry;

/* A single model given on the command line (--model NAME=path). */
typedef struct ts_repo_single {
  const char *name; /* validated like directory names */
  const char *path; /* model file; copied */
} ts_repo_single;

typedef struct ts_repo_config {
  const char *dir;               /* repository directory, or NULL */
  const ts_repo_single *singles; /* --model entries (may be NULL if nsingles is 0) */
  size_t nsingles;
  ts_metrics *metrics;           /* borrowed, may be NULL; must outlive the repo */
  bool no_explainers;            /* true: never build SHAP explainers */
} ts_repo_config;

/* Result of one reload pass. */
typedef struct ts_repo_reload_stats {
  int loaded;    /* versions (re)loaded successfully */
  int failed;    /* versions or models whose load failed */
  int removed;   /* versions no longer present, dropped */
  int unchanged; /* versions already loaded and unchanged */
} ts_repo_reload_stats;

/* Creates a repository from cfg (strings copied). Checks that `dir` is a
 * readable directory, that single names are valid and unique; loads nothing.
 * Errors: TS_EINVAL (no dir and no singles, bad or duplicate name),
 * TS_EIO (dir unreadable), TS_ENOMEM. *out owns the repo: ts_repo_free. */
int ts_repo_create(const ts_repo_config *cfg, ts_repo **out, ts_error *err);

/* Stops the background thread if running, drops the repository's references
 * (entries still acquired elsewhere stay valid until released) and frees it.
 * NULL is fine. No other thread may use the repo during or after the call. */
void ts_repo_free(ts_repo *r);

/* One scan + load pass (the first call is the initial load). Runs on the
 * calling thread, serialized with other reloads. Returns 0 when the pass ran
 * (individual model failures are recorded, logged, counted and reported in
 * *stats, which may be NULL); TS_EIO if the repository directory itself
 * cannot be read, TS_ENOMEM; on error everything already loaded keeps
 * serving unchanged. */
int ts_repo_reload(ts_repo *r, ts_metrics_trigger trigger, ts_repo_reload_stats *stats,
                   ts_error *err);

/* Starts the background thread. It runs ts_repo_reload every poll_seconds
 * (0 = never on a timer) and whenever ts_repo_request_reload is called.
 * Errors: TS_EINVAL (already started, negative interval), TS_EIO (pipe/thread). */
int ts_repo_start(ts_repo *r, double poll_seconds, ts_error *err);

/* Asks the background thread for a reload (trigger "signal"). Async-signal-
 * safe: it only write()s one byte to a pipe and preserves errno, so a SIGHUP
 * handler may call it. No-op if the thread is not running. */
void ts_repo_request_reload(ts_repo *r);

/* Stops the background thread promptly (a reload in progress finishes first)
 * and joins it. Safe to call when not started, and twice. */
void ts_repo_stop(ts_repo *r);

/* Looks up a model: version NULL or "" means the default version (config
 * "default_version" if set, else the highest READY version). name/version are
 * request text with explicit lengths (need not be NUL-terminated). On success
 * *out holds one reference: call ts_repo_release exactly once.
 * Errors (message names the model and version, quoted only if valid):
 *   TS_ENOTFOUND  invalid name/version, unknown model, unknown version
 *   TS_EBUSY      model/version known but not loaded (failed, unloaded) ->
 *                 the message includes the reason.
 * Thread-safe, no allocation. */
int ts_repo_acquire(ts_repo *r, const char *name, size_t name_len, const char *version,
                    size_t version_len, const ts_repo_entry **out, ts_error *err);

/* Releases a reference from ts_repo_acquire (NULL is fine). The last release of
 * a replaced entry frees it on the releasing thread. Thread-safe. */
void ts_repo_release(const ts_repo_entry *e);

/* Takes one more reference on an entry already held (for handing it to
 * another thread). Thread-safe. */
void ts_repo_retain(const ts_repo_entry *e);

/* Readiness (/v2/health/ready): true once every configured model (each model
 * found by the first scan and each --model entry, minus models unloaded via
 * the API or since removed from disk) has loaded at least one version at
 * least once. Thread-safe, lock-free. */
bool ts_repo_ready(const ts_repo *r);

/* Model states in the index, as Triton names them. */
typedef enum ts_repo_state { TS_REPO_READY = 0, TS_REPO_UNAVAILABLE } ts_repo_state;
const char *ts_repo_state_name(ts_repo_state s); /* "READY", "UNAVAILABLE" */

typedef struct ts_repo_index_item {
  char name[TS_REPO_MAX_NAME + 1];
  char version[TS_REPO_MAX_VERSION_DIGITS + 1]; /* "" for a model with no version */
  ts_repo_state state;
  char reason[TS_REPO_MAX_REASON]; /* "" when READY and the last load succeeded;
                                      else why (failure message, "unloaded", ...) */
} ts_repo_index_item;

/* POST /v2/repository/index: every model and version, sorted by name then
 * version. A model without version folders appears once with version "" and
 * state UNAVAILABLE; a version that failed to load is UNAVAILABLE with the
 * reason; a READY version whose newer file failed keeps READY and the reason
 * says so.
 * *items is a new array of *n items (free with free()); may be NULL when *n is
 * 0. Errors: TS_ENOMEM. Thread-safe. */
int ts_repo_index(ts_repo *r, ts_repo_index_item **items, size_t *n, ts_error *err);

/* POST /v2/repository/models/{m}/load: (re)loads model `name` now on the
 * calling thread, even if its files did not change, and clears an earlier
 * unload. For a directory model the model folder is rescanned (it may be new).
 * Returns 0 when at least one version is serving afterwards.
 * Errors: TS_ENOTFOUND (invalid name, or no such model folder/--model entry),
 * TS_EBUSY (nothing serving after the attempt; the message has the load
 * error), TS_EIO/TS_ENOMEM (scan failed). Old entries, if any, keep serving.
 * Serialized with reloads. */
int ts_repo_load_model(ts_repo *r, const char *name, size_t name_len, ts_error *err);

/* POST /v2/repository/models/{m}/unload: stops serving every version of
 * `name` (in-flight requests finish on their entry). The model stays unloaded,
 * state UNAVAILABLE reason "unloaded", until ts_repo_load_model.
 * Errors: TS_ENOTFOUND. Serialized with reloads. */
int ts_repo_unload_model(ts_repo *r, const char *name, size_t name_len, ts_error *err);

/* Name checks used by the repository (exported for the server's routing and
 * the tests). Return true if valid as described above. */
bool ts_repo_valid_model_name(const char *s, size_t len);
bool ts_repo_valid_version(const char *s, size_t len, int64_t *out);

#endif
