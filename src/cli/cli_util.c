/* Helpers shared by the CLI subcommands (see cli_util.h). */
#include "cli/cli_util.h"

#include <math.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "base/dtoa.h"
#include "cli/commands.h"
#include "json/json.h"

double ts_cli_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int ts_cli_cores(void) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n < 1 ? 1 : (int)n;
}

size_t ts_cli_peak_rss(void) {
  struct rusage ru;
  if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
  return (size_t)ru.ru_maxrss * 1024; /* Linux reports kilobytes */
}

int ts_cli_load_forest(const char *cmd, const char *path, ts_forest **out, double *load_s,
                       double *build_s) {
  ts_error err = {0};
  ts_model *m = NULL;
  double t0 = ts_cli_now();
  if (ts_model_load_file(path, &m, &err) != 0) {
    fprintf(stderr, "treeserve %s: %s\n", cmd, err.msg);
    return TS_EXIT_ERROR;
  }
  double t1 = ts_cli_now();
  if (ts_forest_build(m, out, &err) != 0) { /* takes m in every case */
    fprintf(stderr, "treeserve %s: %s: %s\n", cmd, path, err.msg);
    return TS_EXIT_ERROR;
  }
  double t2 = ts_cli_now();
  if (load_s) *load_s = t1 - t0;
  if (build_s) *build_s = t2 - t1;
  return 0;
}

void ts_cli_json_str(FILE *f, const char *s) {
  /* The server's JSON writer: the same escapes, and invalid UTF-8 (a model
   * file's feature names are not checked) becomes U+FFFD, so --json output
   * always parses. Strings here are names and paths: the bound is generous. */
  ts_jw w;
  ts_jw_init(&w, (size_t)1 << 24);
  ts_jw_cstr(&w, s);
  if (w.failed)
    fputs("null", f);
  else
    fwrite(w.buf, 1, w.len, f);
  ts_jw_free(&w);
}

void ts_cli_json_double(FILE *f, double v) {
  if (!isfinite(v)) {
    fputs("null", f);
    return;
  }
  char buf[TS_DTOA_BUFSIZE];
  ts_dtoa(v, buf, sizeof buf);
  fputs(buf, f);
}
