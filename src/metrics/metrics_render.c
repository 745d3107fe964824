/*
 * Prometheus text exposition (format 0.0.4) of the merged metrics: HELP and
 * TYPE lines for each family, label values escaped, histogram buckets made
 * cumulative, and the standard process_* metrics read from /proc.
 */
#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "metrics/metrics_internal.h"

void ts__metrics_printf(ts__metrics_buf *b, const char *fmt, ...) {
  va_list ap;
  if (b->failed) return;
  for (;;) {
    size_t room = b->cap - b->len;
    va_start(ap, fmt);
    int n = vsnprintf(b->data ? b->data + b->len : NULL, b->data ? room : 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
      b->failed = true;
      return;
    }
    if (b->data && (size_t)n < room) {
      b->len += (size_t)n;
      return;
    }
    size_t need = b->len + (size_t)n + 1;
    if (need > b->limit) {
      b->failed = b->too_big = true;
      return;
    }
    size_t cap = b->cap ? b->cap : 16384;
    while (cap < need) cap *= 2;
    if (cap > b->limit) cap = b->limit;
    char *p = realloc(b->data, cap);
    if (!p) {
      b->failed = true;
      return;
    }
    b->data = p;
    b->cap = cap;
  }
}

/* Escapes a label value for the text format: backslash, double quote and
 * newline are escaped; other control bytes and non-ASCII bytes become '_' so
 * the output is always valid UTF-8 whatever a model file contained. */
static const char *esc(char *dst, size_t cap, const char *s) {
  size_t o = 0;
  for (; *s && o + 3 < cap; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '\\' || c == '"') {
      dst[o++] = '\\';
      dst[o++] = (char)c;
    } else if (c == '\n') {
      dst[o++] = '\\';
      dst[o++] = 'n';
    } else if (c < 0x20 || c >= 0x7F) {
      dst[o++] = '_';
    } else {
      dst[o++] = (char)c;
    }
  }
  dst[o] = '\0';
  return dst;
}

#define LBL (2 * TS_METRICS_MAX_LABEL + 8)

static void family(ts__metrics_buf *b, const char *name, const char *type, const char *help) {
  ts__metrics_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One histogram series: `labels` is the rendered label list without braces
 * (may be empty); h holds NB+1 non-cumulative buckets then the sum in ns. */
static void histogram(ts__metrics_buf *b, const char *name, const char *labels, const uint64_t *h,
                      const char *const *bounds_txt) {
  uint64_t cum = 0;
  const char *sep = labels[0] ? "," : "";
  for (int i = 0; i <= NB; i++) {
    cum += h[i];
    ts__metrics_printf(b, "%s_bucket{%s%sle=\"%s\"} %llu\n", name, labels, sep,
                       i < NB ? bounds_txt[i] : "+Inf", (unsigned long long)cum);
  }
  ts__metrics_printf(b, "%s_sum{%s} %.9f\n%s_count{%s} %llu\n", name, labels,
                     (double)h[HIST_SUM] / 1e9, name, labels, (unsigned long long)cum);
}

static uint64_t hist_count(const uint64_t *h) {
  uint64_t c = 0;
  for (int i = 0; i <= NB; i++) c += h[i];
  return c;
}

/* Folds counters of ids that were never interned (a caller bug) into id 0, so
 * no two series ever carry the same label set. */
static void fold_unknown_ids(const ts_metrics *m, uint64_t *w) {
  for (int id = m->nmodels; id < TS_METRICS_MAX_MODELS; id++) {
    for (int ep = 0; ep < TS_METRICS_EP__COUNT; ep++) {
      uint64_t *src = w + cell_off(id, ep), *dst = w + cell_off(0, ep);
      for (int k = 0; k < CELL_SIZE; k++) dst[k] += src[k], src[k] = 0;
    }
    uint64_t *src = w + mcell_off(id), *dst = w + mcell_off(0);
    for (int k = 0; k < MCELL_SIZE; k++) dst[k] += src[k], src[k] = 0;
  }
}

void ts__metrics_render_requests(ts__metrics_buf *b, const ts_metrics *m, uint64_t *merged,
                                 const char *const *bounds_txt) {
  char ml[LBL], vl[LBL], lab[3 * LBL];
  uint64_t *w = merged; /* the caller's private copy, folded in place */
  fold_unknown_ids(m, w);

  family(b, "treeserve_requests_total", "counter",
         "HTTP requests by model, version, endpoint and status code.");
  for (int id = 0; id < m->nmodels; id++) {
    esc(ml, sizeof ml, m->model_label[id]);
    esc(vl, sizeof vl, m->version_label[id]);
    for (int ep = 0; ep < TS_METRICS_EP__COUNT; ep++) {
      const uint64_t *c = w + cell_off(id, ep);
      for (int s = 0; s < NSTATUS; s++) {
        if (!c[CELL_STATUS + s]) continue;
        char st[16];
        int code = ts__metrics_status_code(s);
        if (code)
          snprintf(st, sizeof st, "%d", code);
        else
          strcpy(st, "other");
        ts__metrics_printf(b,
                           "treeserve_requests_total{model=\"%s\",version=\"%s\",endpoint=\"%s\","
                           "status=\"%s\"} %llu\n",
                           ml, vl, ts_metrics_endpoint_name((ts_metrics_endpoint)ep), st,
                           (unsigned long long)c[CELL_STATUS + s]);
      }
    }
  }

  family(b, "treeserve_request_duration_seconds", "histogram",
         "Whole request time from the first byte read to the response queued.");
  for (int id = 0; id < m->nmodels; id++) {
    for (int ep = 0; ep < TS_METRICS_EP__COUNT; ep++) {
      const uint64_t *h = w + cell_off(id, ep) + CELL_HIST;
      if (!hist_count(h)) continue;
      snprintf(lab, sizeof lab, "model=\"%s\",version=\"%s\",endpoint=\"%s\"",
               esc(ml, sizeof ml, m->model_label[id]), esc(vl, sizeof vl, m->version_label[id]),
               ts_metrics_endpoint_name((ts_metrics_endpoint)ep));
      histogram(b, "treeserve_request_duration_seconds", lab, h, bounds_txt);
    }
  }

  static const struct {
    const char *name, *help;
    int off;
  } stages[] = {
      {"treeserve_request_parse_duration_seconds", "Time spent parsing request bodies.",
       MCELL_PARSE},
      {"treeserve_request_predict_duration_seconds", "Time spent computing predictions.",
       MCELL_PREDICT},
      {"treeserve_request_write_duration_seconds", "Time spent writing response bodies.",
       MCELL_WRITE},
  };
  for (size_t st = 0; st < sizeof stages / sizeof stages[0]; st++) {
    family(b, stages[st].name, "histogram", stages[st].help);
    for (int id = 0; id < m->nmodels; id++) {
      const uint64_t *h = w + mcell_off(id) + stages[st].off;
      if (!hist_count(h)) continue;
      snprintf(lab, sizeof lab, "model=\"%s\",version=\"%s\"",
               esc(ml, sizeof ml, m->model_label[id]), esc(vl, sizeof vl, m->version_label[id]));
      histogram(b, stages[st].name, lab, h, bounds_txt);
    }
  }

  family(b, "treeserve_predicted_rows_total", "counter", "Rows predicted.");
  for (int id = 0; id < m->nmodels; id++) {
    uint64_t rows = w[mcell_off(id) + MCELL_ROWS];
    if (!rows) continue;
    ts__metrics_printf(b, "treeserve_predicted_rows_total{model=\"%s\",version=\"%s\"} %llu\n",
                       esc(ml, sizeof ml, m->model_label[id]),
                       esc(vl, sizeof vl, m->version_label[id]), (unsigned long long)rows);
  }

  static const struct {
    const char *name, *help;
    int off;
  } bytes[] = {
      {"treeserve_request_bytes_total", "Request body bytes received.", CELL_REQ_BYTES},
      {"treeserve_response_bytes_total", "Response body bytes sent.", CELL_RESP_BYTES},
  };
  for (size_t k = 0; k < sizeof bytes / sizeof bytes[0]; k++) {
    family(b, bytes[k].name, "counter", bytes[k].help);
    for (int id = 0; id < m->nmodels; id++) {
      for (int ep = 0; ep < TS_METRICS_EP__COUNT; ep++) {
        uint64_t v = w[cell_off(id, ep) + bytes[k].off];
        if (!v) continue;
        ts__metrics_printf(b, "%s{model=\"%s\",version=\"%s\",endpoint=\"%s\"} %llu\n",
                           bytes[k].name, esc(ml, sizeof ml, m->model_label[id]),
                           esc(vl, sizeof vl, m->version_label[id]),
                           ts_metrics_endpoint_name((ts_metrics_endpoint)ep),
                           (unsigned long long)v);
      }
    }
  }

  family(b, "treeserve_inflight_requests", "gauge", "Requests being served now.");
  uint64_t begun = w[OFF_BEGUN], ended = w[OFF_ENDED];
  ts__metrics_printf(b, "treeserve_inflight_requests %llu\n",
                     (unsigned long long)(begun > ended ? begun - ended : 0));
}

void ts__metrics_render_lifecycle(ts__metrics_buf *b, const ts_metrics *m,
                                  const char *const *bounds_txt) {
  static const char *const trigger_names[TS_METRICS_TRIGGER__COUNT] = {"startup", "signal",
                                                                       "poll", "api"};
  char a[LBL], v[LBL], lab[3 * LBL];
  int nrows = m->nloads;
  const ts__metrics_load_row *rows[TS_METRICS_MAX_MODELS];
  for (int i = 0; i < nrows; i++) rows[i] = &m->loads[i];
  if (m->loads_other_used) rows[nrows++] = &m->loads[TS_METRICS_MAX_MODELS - 1];

  family(b, "treeserve_model_load_duration_seconds", "histogram",
         "Time to load, validate and compile one model version.");
  for (int i = 0; i < nrows; i++) {
    snprintf(lab, sizeof lab, "model=\"%s\"", esc(a, sizeof a, rows[i]->name));
    histogram(b, "treeserve_model_load_duration_seconds", lab, rows[i]->hist, bounds_txt);
  }
  family(b, "treeserve_model_loads_total", "counter",
         "Model version load attempts (startup, reload and API) by result.");
  for (int i = 0; i < nrows; i++) {
    esc(a, sizeof a, rows[i]->name);
    ts__metrics_printf(b,
                       "treeserve_model_loads_total{model=\"%s\",result=\"success\"} %llu\n"
                       "treeserve_model_loads_total{model=\"%s\",result=\"failure\"} %llu\n",
                       a, (unsigned long long)rows[i]->ok, a, (unsigned long long)rows[i]->failed);
  }
  family(b, "treeserve_repository_reloads_total", "counter",
         "Repository reload passes by trigger and result (failure: some model failed).");
  for (int t = 0; t < TS_METRICS_TRIGGER__COUNT; t++)
    ts__metrics_printf(b,
                       "treeserve_repository_reloads_total{trigger=\"%s\",result=\"success\"} %llu\n"
                       "treeserve_repository_reloads_total{trigger=\"%s\",result=\"failure\"} %llu\n",
                       trigger_names[t], (unsigned long long)m->reloads[t][0], trigger_names[t],
                       (unsigned long long)m->reloads[t][1]);

  family(b, "treeserve_model_info", "gauge", "Loaded model versions (value is always 1).");
  for (int id = 2; id < m->nmodels; id++) {
    const ts__metrics_info *in = &m->info[id];
    if (!in->set) continue;
    ts__metrics_printf(b,
                       "treeserve_model_info{model=\"%s\",version=\"%s\",objective=\"%s\","
                       "num_trees=\"%ld\",num_features=\"%ld\",num_class=\"%ld\"} 1\n",
                       esc(a, sizeof a, m->model_label[id]), esc(v, sizeof v, m->version_label[id]),
                       esc(lab, sizeof lab, in->objective), in->num_trees, in->num_features,
                       in->num_class);
  }
  family(b, "treeserve_models_ready", "gauge", "Model versions ready to serve.");
  ts__metrics_printf(b, "treeserve_models_ready %ld\n", m->models_ready);
  family(b, "treeserve_build_info", "gauge", "Build information (value is always 1).");
  ts__metrics_printf(b, "treeserve_build_info{version=\"%s\"} 1\n",
                     esc(a, sizeof a, m->build_version));
}

/* Seconds since the epoch at boot, from /proc/stat's btime line; 0 if unknown. */
static double boot_time(void) {
  char line[256];
  double bt = 0;
  FILE *f = fopen("/proc/stat", "r");
  if (!f) return 0;
  while (fgets(line, sizeof line, f)) {
    unsigned long long v;
    if (sscanf(line, "btime %llu", &v) == 1) {
      bt = (double)v;
      break;
    }
  }
  fclose(f);
  return bt;
}

void ts__metrics_render_process(ts__metrics_buf *b, double fallback_start_time) {
  char buf[1024];
  long ticks = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
  unsigned long long utime = 0, stime = 0, start = 0, vsize = 0;
  long long rss = 0;
  bool have_stat = false;
  FILE *f = fopen("/proc/self/stat", "r");
  if (f) {
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* The command name (field 2) may hold spaces and parentheses: fields after
     * it are counted from the last ')'. */
    char *p = strrchr(buf, ')');
    if (p && ticks > 0 &&
        sscanf(p + 2,
               "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d %*d %*d "
               "%llu %llu %lld",
               &utime, &stime, &start, &vsize, &rss) == 5)
      have_stat = true;
  }
  if (have_stat) {
    family(b, "process_cpu_seconds_total", "counter",
           "Total user and system CPU time spent in seconds.");
    ts__metrics_printf(b, "process_cpu_seconds_total %.2f\n",
                       (double)(utime + stime) / (double)ticks);
    family(b, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
    ts__metrics_printf(b, "process_resident_memory_bytes %lld\n", rss * (long long)page);
    family(b, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.");
    ts__metrics_printf(b, "process_virtual_memory_bytes %llu\n", vsize);
  }
  double bt = boot_time();
  double st = have_stat && bt > 0 ? bt + (double)start / (double)ticks : fallback_start_time;
  family(b, "process_start_time_seconds", "gauge",
         "Start time of the process since unix epoch in seconds.");
  ts__metrics_printf(b, "process_start_time_seconds %.2f\n", st);

  DIR *d = opendir("/proc/self/fd");
  if (d) {
    long nfd = 0;
    struct dirent *de;
    while ((de = readdir(d)))
      if (de->d_name[0] != '.') nfd++;
    closedir(d);
    family(b, "process_open_fds", "gauge", "Number of open file descriptors.");
    ts__metrics_printf(b, "process_open_fds %ld\n", nfd - 1); /* minus the one listing */
  }
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
    family(b, "process_max_fds", "gauge", "Maximum number of open file descriptors.");
    ts__metrics_printf(b, "process_max_fds %llu\n", (unsigned long long)rl.rlim_cur);
  }
}
