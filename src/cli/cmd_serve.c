/*
 * treeserve serve: the prediction server.
 *
 * Wires the pieces together (repo -> metrics -> api -> http), then the main
 * thread only waits for signals:
 *   SIGHUP           reload the model repository (off the request path);
 *   SIGTERM, SIGINT  graceful shutdown: readiness turns false at once, the
 *                    listener keeps serving for --drain-seconds so load
 *                    balancers notice, then new connections are refused,
 *                    in-flight requests complete, and the process exits 0
 *                    within --grace-seconds of the signal.
 * Every flag has an environment variable (TREESERVE_<FLAG>); flags win.
 */
#include <errno.h>
#include <malloc.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api/api.h"
#include "base/log.h"
#include "cli/commands.h"
#include "http/http.h"
#include "json/json.h"
#include "metrics/metrics.h"
#include "repo/repo.h"

#ifndef TS_VERSION
#define TS_VERSION "0.1.0"
#endif

#define MAX_SINGLES 64

typedef struct opt_def {
  const char *name; /* long flag without "--" */
  const char *env;  /* environment variable */
  const char *def;  /* default shown by --help (NULL: none) */
  const char *help;
} opt_def;

/* One table for parsing, environment variables and --help. */
enum {
  O_REPO, O_MODEL, O_HOST, O_PORT, O_THREADS, O_POLL, O_DRAIN, O_GRACE, O_ADMIN, O_BODY, O_HEADER, O_ROWS,
  O_EXPLAIN_ROWS, O_DEPTH, O_TOKENS, O_CONNS, O_IDLE, O_READ, O_LOGLEVEL, O_ACCESS, O_NOEXPLAIN, O__COUNT
};
static const opt_def opts[O__COUNT] = {
    [O_REPO] = {"model-repository", "TREESERVE_MODEL_REPOSITORY", NULL, "DIR with DIR/<model>/<version>/model.txt"},
    [O_MODEL] = {"model", "TREESERVE_MODEL", NULL, "NAME=PATH, a single model as version 1 (repeatable; env: comma-separated)"},
    [O_HOST] = {"host", "TREESERVE_HOST", "0.0.0.0", "address to listen on"},
    [O_PORT] = {"port", "TREESERVE_PORT", "8080", "TCP port (0 = any free port, printed at startup)"},
    [O_THREADS] = {"threads", "TREESERVE_THREADS", "0", "HTTP worker threads (0 = number of cores)"},
    [O_POLL] = {"poll-interval", "TREESERVE_POLL_INTERVAL", "0", "seconds between repository scans (0 = only on SIGHUP)"},
    [O_DRAIN] = {"drain-seconds", "TREESERVE_DRAIN_SECONDS", "5", "after SIGTERM: keep serving (not ready) this long"},
    [O_GRACE] = {"grace-seconds", "TREESERVE_GRACE_SECONDS", "30", "after SIGTERM: exit within this many seconds"},
    [O_ADMIN] = {"admin-token", "TREESERVE_ADMIN_TOKEN", NULL, "enables /v2/repository/* with 'Authorization: Bearer TOKEN'"},
    [O_BODY] = {"max-body-bytes", "TREESERVE_MAX_BODY_BYTES", "16777216", "largest request body (413 beyond)"},
    [O_HEADER] = {"max-header-bytes", "TREESERVE_MAX_HEADER_BYTES", "16384", "request line + headers (431 beyond)"},
    [O_ROWS] = {"max-rows", "TREESERVE_MAX_ROWS", "100000", "rows per request (413 beyond)"},
    [O_EXPLAIN_ROWS] = {"max-explain-rows", "TREESERVE_MAX_EXPLAIN_ROWS", "1000", "rows per :explain request (413 beyond; SHAP costs far more than a prediction)"},
    [O_DEPTH] = {"max-json-depth", "TREESERVE_MAX_JSON_DEPTH", "16", "JSON nesting depth (400 beyond)"},
    [O_TOKENS] = {"max-json-tokens", "TREESERVE_MAX_JSON_TOKENS", "4000000", "JSON tokens per request (413 beyond)"},
    [O_CONNS] = {"max-connections", "TREESERVE_MAX_CONNECTIONS", "1024", "open connections (503 beyond, refused far beyond)"},
    [O_IDLE] = {"idle-timeout", "TREESERVE_IDLE_TIMEOUT", "60", "seconds an idle keep-alive connection stays open"},
    [O_READ] = {"read-timeout", "TREESERVE_READ_TIMEOUT", "30", "seconds a request may take to arrive (connection closed beyond)"},
    [O_LOGLEVEL] = {"log-level", "TREESERVE_LOG_LEVEL", "info", "debug, info, warn, error, off"},
    [O_ACCESS] = {"access-log-sample", "TREESERVE_ACCESS_LOG_SAMPLE", "0", "fraction of requests in the access log (0 = off, 1 = all)"},
    [O_NOEXPLAIN] = {"no-explain", "TREESERVE_NO_EXPLAIN", "0", "1: do not build SHAP explainers (less memory)"},
};

static void usage(FILE *f) {
  fprintf(f, "usage: treeserve serve (--model-repository DIR | --model NAME=PATH ...) [options]\n\n"
             "Serves LightGBM models over HTTP: Open Inference Protocol v2 (/v2/...), records API\n"
             "(/v1/models/NAME:predict, /v1/models/NAME:explain), /healthz, /readyz, /metrics, /openapi.json.\n\noptions (environment variable, default):\n");
  for (int i = 0; i < O__COUNT; i++)
    fprintf(f, "  --%-20s %s\n  %-22s (%s%s%s)\n", opts[i].name, opts[i].help, "", opts[i].env,
            opts[i].def ? ", default " : "", opts[i].def ? opts[i].def : "");
  fprintf(f, "  --%-20s %s\n\nsignals: SIGHUP reloads the repository; SIGTERM/SIGINT drain and exit 0.\n", "help",
          "this text");
}

static int parse_num(const char *flag, const char *s, double lo, double hi, double *out) {
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  /* strtod also reads hexadecimal ("0x1f"): not a way anyone writes a limit. */
  if (errno || end == s || *end || strpbrk(s, "xX") || v != v || v < lo || v > hi) {
    fprintf(stderr, "treeserve serve: --%s '%s': expected a number in [%g, %g]\n", flag, s, lo, hi);
    return -1;
  }
  *out = v;
  return 0;
}

/* An integer setting (port, counts, byte sizes, whole seconds): a fraction
 * is refused rather than truncated, so --port 8080.5 does not listen on 8080. */
static int parse_int(const char *flag, const char *s, double lo, double hi, double *out) {
  if (parse_num(flag, s, lo, hi, out)) return -1;
  if (*out != floor(*out)) {
    fprintf(stderr, "treeserve serve: --%s '%s': expected an integer in [%g, %g]\n", flag, s, lo, hi);
    return -1;
  }
  return 0;
}

typedef struct serve_cfg {
  const char *val[O__COUNT];
  ts_repo_single singles[MAX_SINGLES];
  char *single_names[MAX_SINGLES]; /* copies, so argv (and ps) stay intact */
  size_t nsingles;
  char *model_env; /* copy of TREESERVE_MODEL split in place */
} serve_cfg;

static int add_single(serve_cfg *c, const char *spec) {
  char *eq = strchr(spec, '=');
  if (!eq || eq == spec || !eq[1]) {
    fprintf(stderr, "treeserve serve: --model '%s': expected NAME=PATH\n", spec);
    return -1;
  }
  if (c->nsingles >= MAX_SINGLES) {
    fprintf(stderr, "treeserve serve: more than %d --model flags\n", MAX_SINGLES);
    return -1;
  }
  char *name = strndup(spec, (size_t)(eq - spec));
  if (!name) return -1;
  c->single_names[c->nsingles] = name;
  c->singles[c->nsingles++] = (ts_repo_single){.name = name, .path = eq + 1};
  return 0;
}

static int parse_args(int argc, char **argv, serve_cfg *c) {
  struct option lo[O__COUNT + 2];
  for (int i = 0; i < O__COUNT; i++) lo[i] = (struct option){opts[i].name, required_argument, NULL, i};
  lo[O__COUNT] = (struct option){"help", no_argument, NULL, 'h'};
  lo[O__COUNT + 1] = (struct option){NULL, 0, NULL, 0};
  for (int i = 0; i < O__COUNT; i++) {
    const char *e = getenv(opts[i].env);
    c->val[i] = e && *e ? e : opts[i].def;
  }
  bool model_flag = false;
  optind = 1;
  int ch;
  while ((ch = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
    if (ch == 'h') {
      usage(stdout);
      return 1;
    }
    if (ch < 0 || ch >= O__COUNT) {
      usage(stderr);
      return -1;
    }
    if (ch == O_MODEL) {
      model_flag = true;
      if (add_single(c, optarg)) return -1;
      continue;
    }
    c->val[ch] = optarg;
  }
  if (optind < argc) {
    fprintf(stderr, "treeserve serve: unexpected argument '%s'\n", argv[optind]);
    return -1;
  }
  const char *menv = getenv("TREESERVE_MODEL");
  if (!model_flag && menv && *menv) {
    c->model_env = strdup(menv);
    if (!c->model_env) return -1;
    for (char *tok = strtok(c->model_env, ","); tok; tok = strtok(NULL, ","))
      if (add_single(c, tok)) return -1;
  }
  if (!c->val[O_REPO] && !c->nsingles) {
    fprintf(stderr, "treeserve serve: give --model-repository DIR or --model NAME=PATH (see --help)\n");
    return -1;
  }
  return 0;
}

static void free_cfg(serve_cfg *c) {
  for (size_t i = 0; i < c->nsingles; i++) free(c->single_names[i]);
  free(c->model_env);
}

static void sleep_s(double s) {
  if (s <= 0) return;
  struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
  while (nanosleep(&ts, &ts) && errno == EINTR) {
  }
}

int ts_cmd_serve(int argc, char **argv) {
  /* Request bodies up to the body limit are large, short-lived buffers.
   * glibc raises its mmap threshold each time such a buffer is freed, after
   * which they come from the heap and fragment it, so a long-running server's
   * RSS creeps up (seen in scripts/soak.sh). A fixed threshold keeps them
   * mmapped and returned to the kernel on free. */
  mallopt(M_MMAP_THRESHOLD, 128 * 1024);
  serve_cfg c = {0};
  int rc = parse_args(argc, argv, &c);
  if (rc) {
    free_cfg(&c);
    return rc > 0 ? TS_EXIT_OK : TS_EXIT_USAGE;
  }
  double port, threads, poll, drain, grace, body, header, rows, xrows, depth, tokens, conns, idle, rd, sample, noexp;
  if (parse_int("port", c.val[O_PORT], 0, 65535, &port) || parse_int("threads", c.val[O_THREADS], 0, 1024, &threads) ||
      parse_num("poll-interval", c.val[O_POLL], 0, 86400, &poll) ||
      parse_num("drain-seconds", c.val[O_DRAIN], 0, 3600, &drain) ||
      parse_num("grace-seconds", c.val[O_GRACE], 0, 3600, &grace) ||
      parse_int("max-body-bytes", c.val[O_BODY], 1, 4294967295.0, &body) ||
      parse_int("max-header-bytes", c.val[O_HEADER], 1024, 16777216, &header) ||
      parse_int("max-rows", c.val[O_ROWS], 1, 1e9, &rows) ||
      parse_int("max-explain-rows", c.val[O_EXPLAIN_ROWS], 1, 1e9, &xrows) || parse_int("max-json-depth", c.val[O_DEPTH], 2, TS_JSON_MAX_DEPTH_LIMIT, &depth) ||
      parse_int("max-json-tokens", c.val[O_TOKENS], 16, 2147483647.0, &tokens) ||
      parse_int("max-connections", c.val[O_CONNS], 1, 1000000, &conns) ||
      parse_int("idle-timeout", c.val[O_IDLE], 1, 86400, &idle) ||
      parse_int("read-timeout", c.val[O_READ], 1, 86400, &rd) ||
      parse_num("access-log-sample", c.val[O_ACCESS], 0, 1, &sample) ||
      parse_int("no-explain", c.val[O_NOEXPLAIN], 0, 1, &noexp)) {
    free_cfg(&c);
    return TS_EXIT_USAGE;
  }
  ts_log_level level;
  if (ts_log_parse_level(c.val[O_LOGLEVEL], &level)) {
    fprintf(stderr, "treeserve serve: --log-level '%s': expected debug, info, warn, error or off\n", c.val[O_LOGLEVEL]);
    free_cfg(&c);
    return TS_EXIT_USAGE;
  }
  ts_log_set_level(level);

  /* Signals are taken synchronously by this thread (sigtimedwait); every
   * thread started below inherits the mask, so none is interrupted. SIGPIPE is
   * ignored: a client that goes away is an ordinary event. */
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, NULL);
  signal(SIGPIPE, SIG_IGN);

  int exit_code = TS_EXIT_ERROR;
  ts_error err = {0};
  ts_metrics *metrics = NULL;
  ts_repo *repo = NULL;
  ts_api *api = NULL;
  ts_http_server *srv = NULL;
  if (ts_metrics_create(&(ts_metrics_config){.build_version = TS_VERSION}, &metrics, &err)) goto fail;
  ts_repo_config rcfg = {.dir = c.val[O_REPO], .singles = c.singles, .nsingles = c.nsingles, .metrics = metrics,
                         .no_explainers = noexp != 0};
  if (ts_repo_create(&rcfg, &repo, &err)) goto fail;
  ts_repo_reload_stats st = {0};
  if (ts_repo_reload(repo, TS_METRICS_TRIGGER_STARTUP, &st, &err)) goto fail;
  TS_LOG(TS_LOG_INFO, "models loaded", TS_LOG_I("loaded", st.loaded), TS_LOG_I("failed", st.failed),
         TS_LOG_S("repository", c.val[O_REPO]), TS_LOG_U("single_models", c.nsingles));
  /* Models that fail to load are logged and counted by the repository and the
   * others are served; but when every model failed there is nothing to serve,
   * and starting anyway would only hide the mistake behind a failing readiness
   * probe. */
  if (st.loaded == 0 && st.failed > 0) {
    ts_error_set(&err, TS_EINVAL, "none of the %d model(s) could be loaded (see the log lines above)", st.failed);
    goto fail;
  }
  if (ts_repo_start(repo, poll, &err)) goto fail;
  ts_api_config acfg = {.repo = repo, .metrics = metrics, .admin_token = c.val[O_ADMIN], .version = TS_VERSION,
                        .max_rows = (long)rows, .max_explain_rows = (long)xrows, .max_depth = (int)depth, .max_tokens = (long)tokens,
                        .no_explainers = noexp != 0, .access_log_sample = sample};
  if (ts_api_create(&acfg, &api, &err)) goto fail;
  if (threads == 0) {
    long nc = sysconf(_SC_NPROCESSORS_ONLN);
    threads = nc > 0 ? (double)nc : 1;
  }
  ts_http_config hcfg;
  ts_http_config_default(&hcfg);
  hcfg.host = c.val[O_HOST];
  hcfg.port = (uint16_t)port;
  hcfg.threads = (int)threads;
  hcfg.max_body_bytes = (size_t)body;
  hcfg.max_header_bytes = (size_t)header;
  hcfg.max_connections = (unsigned)conns;
  hcfg.idle_timeout_s = (unsigned)idle;
  hcfg.read_timeout_s = (unsigned)rd;
  hcfg.on_done = ts_api_on_done;
  size_t nroutes;
  const ts_http_route *routes = ts_api_routes(&nroutes);
  if (ts_http_server_start(&hcfg, routes, nroutes, api, &srv, &err)) goto fail;
  TS_LOG(TS_LOG_INFO, "listening", TS_LOG_S("host", c.val[O_HOST]), TS_LOG_I("port", ts_http_server_port(srv)),
         TS_LOG_I("threads", (long)threads), TS_LOG_U("max_body_bytes", hcfg.max_body_bytes),
         TS_LOG_U("max_header_bytes", hcfg.max_header_bytes), TS_LOG_I("max_rows", (long)rows), TS_LOG_I("max_explain_rows", (long)xrows),
         TS_LOG_I("max_connections", (long)conns), TS_LOG_I("idle_timeout", (long)idle),
         TS_LOG_I("read_timeout", (long)rd), TS_LOG_D("poll_interval", poll), TS_LOG_D("drain_seconds", drain),
         TS_LOG_D("grace_seconds", grace), TS_LOG_B("repository_api", c.val[O_ADMIN] && *c.val[O_ADMIN]),
         TS_LOG_D("access_log_sample", sample), TS_LOG_S("version", TS_VERSION));

  int sig;
  for (;;) {
    /* Every 10 s without a signal, hand the heap memory freed since (request
     * buffers of closed connections, replaced models) back to the kernel:
     * glibc keeps it per arena otherwise, and a long-running server's RSS
     * would creep upward with fragmentation although nothing leaks. */
    struct timespec trim_every = {10, 0};
    sig = sigtimedwait(&set, NULL, &trim_every);
    if (sig < 0) {
      if (errno == EAGAIN) malloc_trim(0);
      continue;
    }
    if (sig == SIGHUP) {
      TS_LOG(TS_LOG_INFO, "reload requested", TS_LOG_S("signal", "SIGHUP"));
      ts_repo_request_reload(repo);
      continue;
    }
    if (sig == SIGTERM || sig == SIGINT) break;
  }
  double t0 = ts_http_now();
  ts_api_set_draining(api);
  TS_LOG(TS_LOG_INFO, "shutting down", TS_LOG_S("signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"),
         TS_LOG_D("drain_seconds", drain), TS_LOG_D("grace_seconds", grace));
  sleep_s(drain < grace ? drain : grace);
  ts_http_server_quiesce(srv);
  bool idle_ok = ts_http_server_wait_idle(srv, t0 + grace);
  TS_LOG(TS_LOG_INFO, "stopped", TS_LOG_B("drained", idle_ok), TS_LOG_U("inflight", ts_http_server_inflight(srv)),
         TS_LOG_D("seconds", ts_http_now() - t0));
  exit_code = TS_EXIT_OK;
  goto out;
fail:
  TS_LOG(TS_LOG_ERROR, "startup failed", TS_LOG_S("error", err.msg));
  fprintf(stderr, "treeserve serve: %s\n", err.msg);
out:
  ts_http_server_stop(srv);
  ts_repo_stop(repo);
  ts_api_free(api);
  ts_repo_free(repo);
  ts_metrics_free(metrics);
  free_cfg(&c);
  return exit_code;
}
