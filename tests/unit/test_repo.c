/* Unit tests for src/repo: scanning and versions, config.json in use, failed
 * loads keeping the old model, the repository API (index/load/unload),
 * readiness, the background reload thread, and swapping while other threads
 * look up and predict (entries are freed once the last holder releases them).
 * Name rules and config parsing: test_repo_config.c.
 * `test_repo --bench [threads]` prints the lookup cost instead.
 *
 * Repositories are built in temp dirs from tests/golden/<case>/model.txt
 * (run from the repo root, or with TREESERVE_SRC set). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "metrics/metrics.h"
#include "repo/repo.h"
#include "repo/repo_internal.h"

/* --- file helpers --- */

static char tmpdir[64];
static FILE *logf_;

static const char *golden(const char *name) {
  static char p[4][512];
  static int k;
  const char *src = getenv("TREESERVE_SRC");
  char *out = p[k++ % 4];
  snprintf(out, 512, "%s/tests/golden/%s/model.txt", src && *src ? src : ".", name);
  return out;
}

static void write_file(const char *path, const char *data, size_t len) {
  char tmp[1100];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  FILE *f = fopen(tmp, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(data, 1, len, f), len);
  assert_int_equal(fclose(f), 0);
  assert_int_equal(rename(tmp, path), 0); /* atomic replace, as operators should */
}

static void write_str(const char *path, const char *s) { write_file(path, s, strlen(s)); }

static void copy_file(const char *from, const char *to) {
  FILE *f = fopen(from, "rb");
  if (!f) fail_msg("cannot open %s (run from the repo root or set TREESERVE_SRC)", from);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  rewind(f);
  char *buf = malloc((size_t)n);
  assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
  fclose(f);
  write_file(to, buf, (size_t)n);
  free(buf);
}

static const char *path_of(const char *fmt, ...) {
  static char p[8][1024];
  static int k;
  char rel[400];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(rel, sizeof rel, fmt, ap);
  va_end(ap);
  char *out = p[k++ % 8];
  snprintf(out, 1024, "%s/%s", tmpdir, rel);
  return out;
}

static void mkdirs(const char *rel) {
  char p[1024];
  snprintf(p, sizeof p, "%s/%s", tmpdir, rel);
  for (char *s = p + strlen(tmpdir) + 1; *s; s++) {
    if (*s != '/') continue;
    *s = 0;
    mkdir(p, 0755);
    *s = '/';
  }
  mkdir(p, 0755);
}

/* Puts golden model `gold` at DIR/model/version/model.txt. */
static void put_model(const char *model, const char *version, const char *gold) {
  char rel[300];
  snprintf(rel, sizeof rel, "%s/%s", model, version);
  mkdirs(rel);
  copy_file(golden(gold), path_of("%s/%s/model.txt", model, version));
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st, (void)flag, (void)ftw;
  return remove(p);
}
static void rm_rf(const char *p) { nftw(p, rm_one, 16, FTW_DEPTH | FTW_PHYS); }

static long alive_at_setup;

static int setup(void **state) {
  (void)state;
  alive_at_setup = ts__repo_entries_alive();
  snprintf(tmpdir, sizeof tmpdir, "/tmp/ts_repo_test_XXXXXX");
  assert_non_null(mkdtemp(tmpdir));
  /* Keep the log: some tests check what was logged. */
  logf_ = tmpfile();
  ts_log_set_fd(fileno(logf_));
  return 0;
}

static int teardown(void **state) {
  (void)state;
  ts_log_set_fd(2);
  fclose(logf_);
  rm_rf(tmpdir);
  /* Every entry the test made was freed (relative: a failed test that leaked
   * must not fail every later one too). */
  assert_int_equal(ts__repo_entries_alive(), alive_at_setup);
  return 0;
}

static char *log_text(void) {
  fflush(logf_);
  long end = lseek(fileno(logf_), 0, SEEK_END);
  char *s = calloc(1, (size_t)end + 1);
  assert_int_equal(pread(fileno(logf_), s, (size_t)end, 0), end);
  return s;
}

static ts_repo *open_dir(ts_metrics *m) {
  ts_repo *r = NULL;
  ts_error err;
  int rc = ts_repo_create(&(ts_repo_config){.dir = tmpdir, .metrics = m}, &r, &err);
  if (rc) fail_msg("ts_repo_create: %s", err.msg);
  return r;
}

static void reload(ts_repo *r, ts_repo_reload_stats *st) {
  ts_error err;
  int rc = ts_repo_reload(r, TS_METRICS_TRIGGER_STARTUP, st, &err);
  if (rc) fail_msg("ts_repo_reload: %s", err.msg);
}

static const ts_repo_entry *get(ts_repo *r, const char *name, const char *version, int want_rc,
                                ts_error *err) {
  const ts_repo_entry *e = NULL;
  int rc = ts_repo_acquire(r, name, strlen(name), version, version ? strlen(version) : 0, &e, err);
  if (rc != want_rc) fail_msg("acquire %s/%s: rc %d (%s), want %d", name, version ? version : "-", rc, err->msg, want_rc);
  return e;
}

static int64_t default_version(ts_repo *r, const char *name) {
  ts_error err;
  const ts_repo_entry *e = get(r, name, NULL, 0, &err);
  int64_t v = e->version;
  ts_repo_release(e);
  return v;
}

/* Predicts one row of zeros (value output). */
static double predict0(const ts_repo_entry *e) {
  double x[256] = {0}, out[16];
  ts_predict_opts o = {TS_PREDICT_VALUE, 0, 0};
  assert_true(ts_model_num_features(ts_forest_model(e->forest)) <= 256);
  assert_int_equal(ts_predict_rows(e->forest, &o, x, 1, 256, out, NULL), 0);
  return out[0];
}

static const ts_repo_index_item *find_item(const ts_repo_index_item *it, size_t n,
                                           const char *name, const char *version) {
  for (size_t i = 0; i < n; i++)
    if (!strcmp(it[i].name, name) && !strcmp(it[i].version, version)) return &it[i];
  return NULL;
}

/* --- names --- */


static void test_scan_versions_and_lookup(void **state) {
  (void)state;
  put_model("alpha", "1", "constant_model");
  put_model("alpha", "2", "boost_from_average_true_binary_init");
  put_model("alpha", "10", "max_depth_3");
  mkdirs("alpha/01"); /* leading zero: ignored */
  mkdirs("alpha/abc");
  mkdirs(".hidden/1");
  mkdirs("bad name/1");
  write_str(path_of("README.txt"), "not a model");
  put_model("beta", "3", "constant_model");
  ts_metrics *m;
  ts_error err;
  assert_int_equal(ts_metrics_create(NULL, &m, &err), 0);
  ts_repo *r = open_dir(m);
  assert_false(ts_repo_ready(r));
  ts_repo_reload_stats st;
  reload(r, &st);
  assert_int_equal(st.loaded, 4);
  assert_int_equal(st.failed, 0);
  assert_true(ts_repo_ready(r));
  assert_int_equal(default_version(r, "alpha"), 10); /* numeric order, not text */
  assert_int_equal(default_version(r, "beta"), 3);
  const ts_repo_entry *e = get(r, "alpha", "2", 0, &err);
  assert_string_equal(e->name, "alpha");
  assert_string_equal(e->version_str, "2");
  assert_non_null(strstr(e->path, "alpha/2/model.txt"));
  assert_true(e->file_size > 0);
  assert_true(e->metrics_id >= 2);
  assert_non_null(e->explainer);
  assert_int_equal(e->config->max_rows, 0);
  ts_repo_release(e);
  get(r, "alpha", "3", TS_ENOTFOUND, &err);
  assert_non_null(strstr(err.msg, "model 'alpha' has no version 3"));
  get(r, "alpha", "01", TS_ENOTFOUND, &err);
  get(r, "gamma", NULL, TS_ENOTFOUND, &err);
  assert_non_null(strstr(err.msg, "model 'gamma' not found"));
  get(r, "../alpha", NULL, TS_ENOTFOUND, &err);
  assert_non_null(strstr(err.msg, "invalid model name"));
  get(r, ".hidden", NULL, TS_ENOTFOUND, &err);
  get(r, "bad name", NULL, TS_ENOTFOUND, &err);
  /* Explicit lengths: "alphabet" cut to 5 bytes is "alpha". */
  const ts_repo_entry *e2 = NULL;
  assert_int_equal(ts_repo_acquire(r, "alphabet", 5, "22", 1, &e2, &err), 0);
  assert_int_equal(e2->version, 2);
  ts_repo_release(e2);

  ts_repo_index_item *it;
  size_t n;
  assert_int_equal(ts_repo_index(r, &it, &n, &err), 0);
  assert_int_equal(n, 4);
  assert_string_equal(it[0].name, "alpha");
  assert_string_equal(it[0].version, "1");
  assert_string_equal(it[2].version, "10");
  assert_string_equal(it[3].name, "beta");
  for (size_t i = 0; i < n; i++) {
    assert_int_equal(it[i].state, TS_REPO_READY);
    assert_string_equal(it[i].reason, "");
  }
  assert_string_equal(ts_repo_state_name(it[0].state), "READY");
  free(it);

  /* Metrics: info per version, models ready, load counts. */
  char *text;
  size_t len;
  assert_int_equal(ts_metrics_render(m, &text, &len, &err), 0);
  assert_non_null(strstr(text, "treeserve_model_info{model=\"alpha\",version=\"10\","));
  assert_non_null(strstr(text, "\ntreeserve_models_ready 4\n"));
  assert_non_null(strstr(text, "treeserve_model_loads_total{model=\"alpha\",result=\"success\"} 3\n"));
  assert_non_null(strstr(text, "treeserve_repository_reloads_total{trigger=\"startup\",result=\"success\"} 1\n"));
  free(text);

  /* A second pass with nothing changed loads nothing. */
  reload(r, &st);
  assert_int_equal(st.loaded, 0);
  assert_int_equal(st.unchanged, 4);
  ts_repo_free(r);
  ts_metrics_free(m);
}

static void test_versions_come_and_go(void **state) {
  (void)state;
  put_model("m", "1", "constant_model");
  ts_repo *r = open_dir(NULL);
  ts_repo_reload_stats st;
  ts_error err;
  reload(r, &st);
  const ts_repo_entry *held = get(r, "m", NULL, 0, &err);
  double before = predict0(held);
  /* A new version folder becomes the default. */
  put_model("m", "2", "boost_from_average_true_binary_init");
  reload(r, &st);
  assert_int_equal(st.loaded, 1);
  assert_int_equal(default_version(r, "m"), 2);
  /* Version 1 removed: gone from lookups, but the holder's entry stays usable. */
  rm_rf(path_of("m/1"));
  reload(r, &st);
  assert_int_equal(st.removed, 1);
  get(r, "m", "1", TS_ENOTFOUND, &err);
  assert_int_equal(held->version, 1);
  assert_true(predict0(held) == before);
  long alive = ts__repo_entries_alive();
  ts_repo_release(held); /* last reference: freed now */
  assert_int_equal(ts__repo_entries_alive(), alive - 1);
  /* Removing every version leaves the model with a reason. */
  rm_rf(path_of("m/2"));
  reload(r, &st);
  get(r, "m", NULL, TS_EBUSY, &err);
  assert_non_null(strstr(err.msg, "no version folders"));
  ts_repo_index_item *it;
  size_t n;
  assert_int_equal(ts_repo_index(r, &it, &n, &err), 0);
  assert_int_equal(n, 1);
  assert_string_equal(it[0].version, "");
  assert_int_equal(it[0].state, TS_REPO_UNAVAILABLE);
  assert_non_null(strstr(it[0].reason, "no version folders"));
  free(it);
  /* Removing the model folder removes the model. */
  rm_rf(path_of("m"));
  reload(r, &st);
  get(r, "m", NULL, TS_ENOTFOUND, &err);
  assert_int_equal(ts_repo_index(r, &it, &n, &err), 0);
  assert_int_equal(n, 0);
  free(it);
  ts_repo_free(r);
}

static void test_failure_keeps_old_model(void **state) {
  (void)state;
  put_model("m", "1", "constant_model");
  ts_metrics *m;
  ts_error err;
  assert_int_equal(ts_metrics_create(NULL, &m, &err), 0);
  ts_repo *r = open_dir(m);
  ts_repo_reload_stats st;
  reload(r, &st);
  const ts_repo_entry *e1 = get(r, "m", NULL, 0, &err);
  const ts_forest *f1 = e1->forest;
  ts_repo_release(e1);
  /* Overwrite with garbage: the old entry keeps serving. */
  write_str(path_of("m/1/model.txt"), "tree\nversion=v4\nthis is not a model\n");
  reload(r, &st);
  assert_int_equal(st.failed, 1);
  const ts_repo_entry *e2 = get(r, "m", "1", 0, &err);
  assert_ptr_equal(e2->forest, f1);
  ts_repo_release(e2);
  ts_repo_index_item *it;
  size_t n;
  assert_int_equal(ts_repo_index(r, &it, &n, &err), 0);
  assert_int_equal(it[0].state, TS_REPO_READY);
  assert_non_null(strstr(it[0].reason, "still serving the previous file"));
  assert_non_null(strstr(it[0].reason, "m/1/model.txt"));
  free(it);
  /* The same bad file is not retried on every pass. */
  reload(r, &st);
  assert_int_equal(st.failed, 0);
  assert_int_equal(st.loaded, 0);
  char *text;
  size_t len;
  assert_int_equal(ts_metrics_render(m, &text, &len, &err), 0);
  assert_non_null(strstr(text, "treeserve_model_loads_total{model=\"m\",result=\"failure\"} 1\n"));
  assert_non_null(strstr(text, "treeserve_repository_reloads_total{trigger=\"startup\",result=\"failure\"} 1\n"));
  free(text);
  char *log = log_text();
  assert_non_null(strstr(log, "\"msg\":\"model load failed\",\"model\":\"m\",\"version\":\"1\""));
  free(log);
  /* A good file again: a new entry replaces the old one. */
  copy_file(golden("boost_from_average_true_binary_init"), path_of("m/1/model.txt"));
  reload(r, &st);
  assert_int_equal(st.loaded, 1);
  const ts_repo_entry *e3 = get(r, "m", NULL, 0, &err);
  assert_ptr_not_equal(e3->forest, f1);
  ts_repo_release(e3);
  assert_int_equal(ts_repo_index(r, &it, &n, &err), 0);
  assert_string_equal(it[0].reason, "");
  free(it);
  ts_repo_free(r);
  ts_metrics_free(m);
}

static void test_bad_model_and_config(void **state) {
  (void)state;
  put_model("good", "1", "constant_model");
  mkdirs("broken/1");
  write_str(path_of("broken/1/model.txt"), "garbage");
  put_model("conf", "1", "constant_model");
  write_str(path_of("conf/config.json"), "{\"max_rows\": \"many\"}");
  mkdirs("nofile/4"); /* version folder without model.txt */
  ts_repo *r = open_dir(NULL);
  ts_repo_reload_stats st;
  ts_error err;
  reload(r, &st);
  assert_int_equal(st.loaded, 1);
  assert_int_equal(st.failed, 3);
  assert_false(ts_repo_ready(r)); /* models present at startup never loaded */
  ts_repo_release(get(r, "good", NULL, 0, &err));
  get(r, "broken", NULL, TS_EBUSY, &err);
  assert_non_null(strstr(err.msg, "broken/1/model.txt"));
  get(r, "broken", "1", TS_EBUSY, &err);
  assert_non_null(strstr(err.msg, "version 1 is not ready"));
  get(r, "conf", NULL, TS_EBUSY, &err);
  assert_non_null(strstr(err.msg, "config.json"));
  assert_non_null(strstr(err.msg, "\"max_rows\" must be an integer"));
  get(r, "nofile", NULL, TS_EBUSY, &err);
  assert_non_null(strstr(err.msg, "no such file"));
  ts_repo_index_item *it;
  size_t n;
  assert_int_equal(ts_repo_index(r, &it, &n, &err), 0);
  const ts_repo_index_item *c = find_item(it, n, "conf", "1");
  assert_non_null(c);
  assert_int_equal(c->state, TS_REPO_UNAVAILABLE);
  assert_non_null(strstr(c->reason, "config.json is invalid"));
  free(it);
  /* Fix everything: ready. */
  write_str(path_of("conf/config.json"),
            "{\"max_rows\": 7, \"default_output\": \"raw\", \"description\": \"d\"}");
  copy_file(golden("constant_model"), path_of("broken/1/model.txt"));
  copy_file(golden("constant_model"), path_of("nofile/4/model.txt"));
  reload(r, &st);
  assert_int_equal(st.loaded, 3);
  assert_true(ts_repo_ready(r));
  const ts_repo_entry *e = get(r, "conf", NULL, 0, &err);
  assert_int_equal(e->config->max_rows, 7);
  assert_int_equal(e->config->default_output, TS_PREDICT_RAW);
  assert_string_equal(e->config->description, "d");
  ts_repo_release(e);
  /* A config change reloads the model with the new settings... */
  write_str(path_of("conf/config.json"), "{\"max_rows\": 9}");
  reload(r, &st);
  assert_int_equal(st.loaded, 1);
  e = get(r, "conf", NULL, 0, &err);
  assert_int_equal(e->config->max_rows, 9);
  ts_repo_release(e);
  /* ...and a broken config keeps the previous entry and settings. */
  write_str(path_of("conf/config.json"), "{\"max_rows\": 9,}");
  reload(r, &st);
  assert_int_equal(st.failed, 1);
  e = get(r, "conf", NULL, 0, &err);
  assert_int_equal(e->config->max_rows, 9);
  ts_repo_release(e);
  /* Deleting config.json goes back to the defaults. */
  unlink(path_of("conf/config.json"));
  reload(r, &st);
  e = get(r, "conf", NULL, 0, &err);
  assert_int_equal(e->config->max_rows, 0);
  ts_repo_release(e);
  ts_repo_free(r);
}

static void test_default_version_pin_and_explain(void **state) {
  (void)state;
  put_model("p", "1", "constant_model");
  put_model("p", "2", "constant_model");
  write_str(path_of("p/config.json"), "{\"default_version\": 1, \"explain\": false}");
  put_model("lin", "1", "linear_tree");
  ts_repo *r = open_dir(NULL);
  ts_error err;
  reload(r, NULL);
  const ts_repo_entry *e = get(r, "p", NULL, 0, &err);
  assert_int_equal(e->version, 1);
  assert_null(e->explainer); /* "explain": false */
  ts_repo_release(e);
  e = get(r, "lin", NULL, 0, &err);
  assert_null(e->explainer); /* linear trees have no SHAP */
  ts_repo_release(e);
  write_str(path_of("p/config.json"), "{\"default_version\": 5}");
  reload(r, NULL);
  get(r, "p", NULL, TS_EBUSY, &err);
  assert_non_null(strstr(err.msg, "default_version 5"));
  ts_repo_release(get(r, "p", "2", 0, &err));
  ts_repo_free(r);
}

static void test_unload_load_api(void **state) {
  (void)state;
  put_model("a", "1", "constant_model");
  put_model("b", "1", "constant_model");
  ts_repo *r = open_dir(NULL);
  ts_error err;
  reload(r, NULL);
  assert_true(ts_repo_ready(r));
  const ts_repo_entry *held = get(r, "a", NULL, 0, &err);
  assert_int_equal(ts_repo_unload_model(r, "a", 1, &err), 0);
  get(r, "a", NULL, TS_EBUSY, &err);
  assert_non_null(strstr(err.msg, "unloaded"));
  assert_true(predict0(held) == predict0(held)); /* still usable */
  ts_repo_release(held);
  assert_true(ts_repo_ready(r)); /* unloaded models do not count */
  ts_repo_index_item *it;
  size_t n;
  assert_int_equal(ts_repo_index(r, &it, &n, &err), 0);
  assert_int_equal(find_item(it, n, "a", "1")->state, TS_REPO_UNAVAILABLE);
  assert_string_equal(find_item(it, n, "a", "1")->reason, "unloaded");
  free(it);
  reload(r, NULL); /* a scan does not bring it back */
  get(r, "a", NULL, TS_EBUSY, &err);
  assert_int_equal(ts_repo_unload_model(r, "zz", 2, &err), TS_ENOTFOUND);
  assert_int_equal(ts_repo_unload_model(r, "../a", 4, &err), TS_ENOTFOUND);
  assert_int_equal(ts_repo_load_model(r, "a", 1, &err), 0);
  ts_repo_release(get(r, "a", NULL, 0, &err));
  /* load picks up a model folder created after startup. */
  put_model("c", "1", "constant_model");
  assert_int_equal(ts_repo_load_model(r, "c", 1, &err), 0);
  ts_repo_release(get(r, "c", NULL, 0, &err));
  ts_repo_release(get(r, "b", NULL, 0, &err)); /* others untouched */
  assert_int_equal(ts_repo_load_model(r, "nope", 4, &err), TS_ENOTFOUND);
  mkdirs("d/1");
  write_str(path_of("d/1/model.txt"), "junk");
  assert_int_equal(ts_repo_load_model(r, "d", 1, &err), TS_EBUSY);
  assert_non_null(strstr(err.msg, "d/1/model.txt"));
  assert_true(ts_repo_ready(r)); /* d appeared after startup: not required */
  ts_repo_free(r);
}

static void test_single_models(void **state) {
  (void)state;
  mkdirs("files");
  copy_file(golden("constant_model"), path_of("files/one.txt"));
  ts_repo *r = NULL;
  ts_error err;
  ts_repo_single s[] = {{"one", path_of("files/one.txt")}, {"two", path_of("files/missing.txt")}};
  assert_int_equal(ts_repo_create(&(ts_repo_config){.singles = s, .nsingles = 2}, &r, &err), 0);
  reload(r, NULL);
  const ts_repo_entry *e = get(r, "one", "1", 0, &err);
  assert_int_equal(e->version, 1);
  ts_repo_release(e);
  get(r, "two", NULL, TS_EBUSY, &err);
  assert_non_null(strstr(err.msg, "missing.txt"));
  assert_false(ts_repo_ready(r));
  ts_repo_free(r);
  ts_repo_single dup[] = {{"x", "a"}, {"x", "b"}};
  assert_int_equal(ts_repo_create(&(ts_repo_config){.singles = dup, .nsingles = 2}, &r, &err), TS_EINVAL);
  assert_non_null(strstr(err.msg, "given twice"));
  ts_repo_single bad[] = {{"../x", "a"}};
  assert_int_equal(ts_repo_create(&(ts_repo_config){.singles = bad, .nsingles = 1}, &r, &err), TS_EINVAL);
  assert_non_null(strstr(err.msg, "invalid"));
  /* A folder with the name of a --model entry: the entry wins, logged once. */
  put_model("one", "7", "constant_model");
  ts_repo_single s1[] = {{"one", path_of("files/one.txt")}};
  assert_int_equal(
      ts_repo_create(&(ts_repo_config){.dir = tmpdir, .singles = s1, .nsingles = 1}, &r, &err), 0);
  reload(r, NULL);
  reload(r, NULL);
  e = get(r, "one", NULL, 0, &err);
  assert_int_equal(e->version, 1);
  assert_non_null(strstr(e->path, "files/one.txt"));
  ts_repo_release(e);
  get(r, "one", "7", TS_ENOTFOUND, &err);
  char *log = log_text();
  const char *w = strstr(log, "--model entries have the same names\",\"ignored\":1,\"first\":\"one\"");
  assert_non_null(w);
  assert_null(strstr(w + 1, "--model entries have the same names"));
  free(log);
  ts_repo_free(r);
  assert_int_equal(ts_repo_create(&(ts_repo_config){0}, &r, &err), TS_EINVAL);
  assert_int_equal(ts_repo_create(&(ts_repo_config){.dir = path_of("nowhere")}, &r, &err), TS_EIO);
  assert_int_equal(ts_repo_create(&(ts_repo_config){.dir = path_of("files/one.txt")}, &r, &err), TS_EIO);
  assert_non_null(strstr(err.msg, "not a directory"));
  char longdir[TS_REPO_MAX_PATH];
  memset(longdir, 'd', sizeof longdir - 1);
  longdir[sizeof longdir - 1] = 0;
  assert_int_equal(ts_repo_create(&(ts_repo_config){.dir = longdir}, &r, &err), TS_EINVAL);
  assert_non_null(strstr(err.msg, "too long"));
}

static void test_version_limit_and_missing_dir(void **state) {
  (void)state;
  for (int v = 1; v <= TS_REPO_MAX_VERSIONS + 2; v++) {
    char rel[64];
    snprintf(rel, sizeof rel, "many/%d", v);
    mkdirs(rel); /* empty folders: each a failed version, cheap to scan */
  }
  ts_repo *r = open_dir(NULL);
  ts_error err;
  ts_repo_reload_stats st;
  reload(r, &st);
  assert_int_equal(st.failed, TS_REPO_MAX_VERSIONS);
  ts_repo_index_item *it;
  size_t n;
  assert_int_equal(ts_repo_index(r, &it, &n, &err), 0);
  assert_int_equal(n, TS_REPO_MAX_VERSIONS);
  assert_string_equal(it[0].version, "3"); /* the lowest two were dropped */
  free(it);
  /* More model folders than TS_REPO_MAX_MODELS: the extra ones are ignored
   * (and logged), the rest still work. */
  for (int i = 0; i < TS_REPO_MAX_MODELS + 1; i++) {
    char rel[64];
    snprintf(rel, sizeof rel, "z%05d", i);
    mkdirs(rel);
  }
  reload(r, &st);
  assert_int_equal(ts_repo_index(r, &it, &n, &err), 0);
  assert_int_equal(n, TS_REPO_MAX_VERSIONS + TS_REPO_MAX_MODELS - 1); /* "many" took one slot */
  free(it);
  char *log = log_text();
  assert_non_null(strstr(log, "\"msg\":\"model folders ignored: too many models\",\"ignored\":2,"));
  free(log);
  /* The kept models are the alphabetically first: "many" and z00000..z01022. */
  get(r, "z01022", NULL, TS_EBUSY, &err); /* known (no versions) */
  get(r, "z01023", NULL, TS_ENOTFOUND, &err);
  /* The same situation on the next pass is not logged again. */
  reload(r, &st);
  log = log_text();
  const char *first = strstr(log, "too many models");
  assert_non_null(first);
  assert_null(strstr(first + 1, "too many models"));
  free(log);
  /* The repository folder disappears: the pass fails, nothing changes. */
  rm_rf(tmpdir);
  assert_int_equal(ts_repo_reload(r, TS_METRICS_TRIGGER_POLL, &st, &err), TS_EIO);
  assert_non_null(strstr(err.msg, "cannot read"));
  assert_int_equal(ts_repo_index(r, &it, &n, &err), 0);
  assert_int_equal(n, TS_REPO_MAX_VERSIONS + TS_REPO_MAX_MODELS - 1);
  free(it);
  mkdir(tmpdir, 0700);
  ts_repo_free(r);
}

/* --- background thread --- */

static bool wait_version(ts_repo *r, const char *name, int64_t want) {
  for (int i = 0; i < 1000; i++) { /* up to ~10 s: a deadline, not a speed check */
    const ts_repo_entry *e;
    if (ts_repo_acquire(r, name, strlen(name), NULL, 0, &e, NULL) == 0) {
      int64_t v = e->version;
      ts_repo_release(e);
      if (v == want) return true;
    }
    struct timespec ts = {0, 10 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  return false;
}

static void test_background_thread(void **state) {
  (void)state;
  put_model("m", "1", "constant_model");
  ts_repo *r = open_dir(NULL);
  ts_error err;
  reload(r, NULL);
  /* No timer: only explicit requests reload. */
  assert_int_equal(ts_repo_start(r, 0, &err), 0);
  assert_int_equal(ts_repo_start(r, 0, &err), TS_EINVAL);
  put_model("m", "2", "constant_model");
  ts_repo_request_reload(r);
  ts_repo_request_reload(r); /* coalesced */
  assert_true(wait_version(r, "m", 2));
  ts_repo_stop(r);
  ts_repo_stop(r); /* twice is fine */
  /* Polling picks up changes without any request. */
  assert_int_equal(ts_repo_start(r, -1, &err), TS_EINVAL);
  assert_int_equal(ts_repo_start(r, 0.02, &err), 0);
  put_model("m", "3", "constant_model");
  assert_true(wait_version(r, "m", 3));
  ts_repo_stop(r);
  /* After a stop, direct reloads still load. */
  put_model("m", "4", "constant_model");
  reload(r, NULL);
  assert_true(wait_version(r, "m", 4));
  /* A long interval does not delay stopping. */
  assert_int_equal(ts_repo_start(r, 100000, &err), 0);
  ts_repo_free(r); /* stops and joins */
}

/* --- swapping under concurrent lookups --- */

#define READERS 3

typedef struct {
  ts_repo *r;
  atomic_int *stop;
  long lookups, failures;
} reader_arg;

static void *reader(void *p) {
  reader_arg *a = p;
  while (!atomic_load(a->stop)) {
    const ts_repo_entry *e;
    ts_error err;
    if (ts_repo_acquire(a->r, "hot", 3, NULL, 0, &e, &err) != 0) {
      a->failures++;
      continue;
    }
    double v = predict0(e); /* use the forest while a reload may replace it */
    if (!isfinite(v)) a->failures++;
    ts_repo_retain(e); /* hand-off style double reference */
    ts_repo_release(e);
    ts_repo_release(e);
    a->lookups++;
  }
  return NULL;
}

static void test_concurrent_reload_swaps(void **state) {
  (void)state;
  put_model("hot", "1", "constant_model");
  ts_metrics *m;
  ts_error err;
  assert_int_equal(ts_metrics_create(NULL, &m, &err), 0);
  ts_repo *r = open_dir(m);
  reload(r, NULL);
  atomic_int stop = 0;
  reader_arg a[READERS];
  pthread_t t[READERS];
  for (int i = 0; i < READERS; i++) {
    a[i] = (reader_arg){r, &stop, 0, 0};
    pthread_create(&t[i], NULL, reader, &a[i]);
  }
  const char *golds[] = {"boost_from_average_true_binary_init", "constant_model"};
  for (int k = 0; k < 30; k++) {
    /* Replace the file (a new inode each time), sometimes add a version,
     * sometimes break the file: readers must never fail. */
    copy_file(golden(golds[k % 2]), path_of("hot/1/model.txt"));
    if (k % 5 == 4) put_model("hot", "2", golds[k % 2]);
    if (k % 5 == 0) rm_rf(path_of("hot/2"));
    ts_repo_reload_stats st;
    reload(r, &st);
    if (k % 7 == 3) {
      write_str(path_of("hot/1/model.txt"), "broken");
      reload(r, &st);
    }
  }
  atomic_store(&stop, 1);
  long total = 0;
  for (int i = 0; i < READERS; i++) {
    pthread_join(t[i], NULL);
    assert_int_equal(a[i].failures, 0);
    total += a[i].lookups;
  }
  assert_true(total > 0);
  /* Only the entries of the current table remain alive. */
  ts_repo_index_item *it;
  size_t n;
  assert_int_equal(ts_repo_index(r, &it, &n, &err), 0);
  long serving = 0;
  for (size_t i = 0; i < n; i++) serving += it[i].state == TS_REPO_READY;
  free(it);
  assert_int_equal(ts__repo_entries_alive(), serving);
  ts_repo_free(r);
  assert_int_equal(ts__repo_entries_alive(), 0);
  ts_metrics_free(m);
}

/* `test_repo --bench [threads]`: ns per ts_repo_acquire + ts_repo_release of
 * the default version with N threads looking up at once. Numbers only. */
#define BENCH_N 5000000

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *bench_reader(void *p) {
  ts_repo *r = p;
  double t0 = now_s();
  for (int i = 0; i < BENCH_N; i++) {
    const ts_repo_entry *e;
    if (ts_repo_acquire(r, "m", 1, NULL, 0, &e, NULL)) abort();
    ts_repo_release(e);
  }
  printf("  thread: %.1f ns per acquire + release\n", (now_s() - t0) / BENCH_N * 1e9);
  return NULL;
}

static int bench(int threads) {
  setup(NULL);
  put_model("m", "1", "constant_model");
  ts_repo *r = open_dir(NULL);
  reload(r, NULL);
  if (threads < 1 || threads > 64) threads = 1;
  printf("repo: %d thread(s) x %d lookups\n", threads, BENCH_N);
  pthread_t t[64];
  for (int i = 0; i < threads; i++) pthread_create(&t[i], NULL, bench_reader, r);
  for (int i = 0; i < threads; i++) pthread_join(t[i], NULL);
  ts_repo_free(r);
  teardown(NULL);
  return 0;
}

int main(int argc, char **argv) {
  if (argc > 1 && !strcmp(argv[1], "--bench")) return bench(argc > 2 ? atoi(argv[2]) : 1);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_scan_versions_and_lookup, setup, teardown),
      cmocka_unit_test_setup_teardown(test_versions_come_and_go, setup, teardown),
      cmocka_unit_test_setup_teardown(test_failure_keeps_old_model, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bad_model_and_config, setup, teardown),
      cmocka_unit_test_setup_teardown(test_default_version_pin_and_explain, setup, teardown),
      cmocka_unit_test_setup_teardown(test_unload_load_api, setup, teardown),
      cmocka_unit_test_setup_teardown(test_single_models, setup, teardown),
      cmocka_unit_test_setup_teardown(test_version_limit_and_missing_dir, setup, teardown),
      cmocka_unit_test_setup_teardown(test_background_thread, setup, teardown),
      cmocka_unit_test_setup_teardown(test_concurrent_reload_swaps, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
