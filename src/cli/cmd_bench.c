/*
 * treeserve bench: measures a model on an input file: load and compile time,
 * then rows/s and ns/row for single-row calls (ts_predict_rows with one row,
 * row after row), for a batch on one thread and a batch on all threads, and
 * the peak RSS (--type contrib measures SHAP explanations the same way).
 * Each phase runs for about --seconds of wall time (at least one call): the
 * batch phases cycle through the input in blocks of up to
 * TS_BENCH_BLOCK_ROWS rows, smaller when the single-row phase showed that a
 * block would not fit a quarter of the phase, so a slow model (SHAP on a big
 * forest) on a large input is not held to a whole pass. A benchmark prints
 * numbers; it never fails on speed. The rows every phase reached (a prefix of
 * the input) are compared bit for bit between the three modes, so a fast
 * wrong result cannot go unnoticed.
 */
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_opts.h"
#include "cli/cli_util.h"
#include "cli/commands.h"
#include "io/rows.h"
#include "treeserve/explain.h"
#include "treeserve/predict.h"

#define TS_BENCH_MAX_THREADS 1024
/* Single-row calls between two clock reads. */
#define TS_BENCH_CLOCK_EVERY 64
/* Most rows per call in the batch phases (whole input when smaller); slow
 * models get smaller blocks (see `block` in ts_cmd_bench). */
#define TS_BENCH_BLOCK_ROWS 4096

static const char *const k_types[] = {"value", "raw", "leaf", "contrib", NULL};
static const ts_predict_type k_type_values[] = {TS_PREDICT_VALUE, TS_PREDICT_RAW, TS_PREDICT_LEAF,
                                                TS_PREDICT_CONTRIB};

typedef struct phase {
  double rows_per_s;
  double ns_per_row;
  size_t rows_done;
  double seconds;
} phase;

static void phase_finish(phase *p, size_t rows, double secs) {
  p->rows_done = rows;
  p->seconds = secs;
  p->rows_per_s = secs > 0 ? (double)rows / secs : 0;
  p->ns_per_row = rows ? secs * 1e9 / (double)rows : 0;
}

/* Bitwise comparison that treats any two NaNs as equal. */
static bool same_outputs(const double *a, const double *b, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (memcmp(&a[i], &b[i], sizeof *a) != 0 && !(isnan(a[i]) && isnan(b[i]))) return false;
  return true;
}

/* One prediction call: nthreads == 0 means the single-threaded entry point
 * (ts_predict_rows / ts_explain_rows), otherwise the parallel one. */
static int run_batch(const ts_forest *f, const ts_explainer *e, const ts_predict_opts *po,
                     const double *X, size_t n, size_t stride, double *out, int nthreads,
                     ts_error *err) {
  if (e)
    return nthreads ? ts_explain_rows_parallel(e, po, X, n, stride, out, nthreads, err)
                    : ts_explain_rows(e, po, X, n, stride, out, err);
  return nthreads ? ts_predict_rows_parallel(f, po, X, n, stride, out, nthreads, err)
                  : ts_predict_rows(f, po, X, n, stride, out, err);
}

/* Runs blocks of the input, in order and cycling, until `seconds` have
 * passed (at least one block); *covered = rows of the input reached. */
static int run_blocks(const ts_forest *f, const ts_explainer *e, const ts_predict_opts *po,
                      const ts_rows *rows, size_t width, size_t block, double *out, int nthreads,
                      double seconds, phase *p, size_t *covered, ts_error *err) {
  size_t n = rows->nrows, stride = rows->ncols, done = 0, at = 0;
  double start = ts_cli_now(), now = start;
  *covered = 0;
  do {
    size_t k = n - at < block ? n - at : block;
    int rc = run_batch(f, e, po, rows->X + at * stride, k, stride, out + at * width, nthreads, err);
    if (rc) return rc;
    done += k;
    at += k;
    if (at > *covered) *covered = at;
    if (at == n) at = 0;
    now = ts_cli_now();
  } while (now - start < seconds);
  phase_finish(p, done, now - start);
  return 0;
}

static void json_phase(FILE *f, const char *name, const phase *p) {
  fprintf(f, ",\"%s_rows_per_s\":", name);
  ts_cli_json_double(f, p->rows_per_s);
  fprintf(f, ",\"%s_ns_per_row\":", name);
  ts_cli_json_double(f, p->ns_per_row);
}

int ts_cmd_bench(int argc, char **argv) {
  const char *model_path = NULL, *input_path = NULL;
  bool json = false;
  int type_idx = 0;
  long threads = 0;
  double seconds = 1.0;
  ts_cli_opt opts[] = {
      {"model", TS_OPT_STR, &model_path, "M.txt", "LightGBM model file (text format)", true},
      {"input", TS_OPT_STR, &input_path, "X.csv", "rows: .csv with a header row, .json or .jsonl",
       true},
      {"json", TS_OPT_FLAG, &json, NULL, "print one JSON object instead of a table"},
      {"type", TS_OPT_CHOICE, &type_idx, NULL, "value (default), raw, leaf or contrib (SHAP)",
       .choices = k_types},
      {"threads", TS_OPT_INT, &threads, "N", "threads of the all-threads batch; 0 = all cores",
       .imin = 0, .imax = TS_BENCH_MAX_THREADS},
      {"seconds", TS_OPT_DOUBLE, &seconds, "S", "wall time per measured phase (default 1)",
       .dmin = 0.001, .dmax = 3600},
      {NULL},
  };
  const ts_cli_spec spec = {
      "bench",
      "Measures model load time and prediction speed: single-row calls, a 1-thread batch and\n"
      "an all-threads batch over the input rows, and the peak RSS.",
      "--json keys: model, input, type, rows, features, threads, seconds_per_phase,\n"
      "load_seconds, build_seconds, input_seconds, single_row_rows_per_s,\n"
      "single_row_ns_per_row, batch_1thread_rows_per_s, batch_1thread_ns_per_row,\n"
      "batch_all_threads_rows_per_s, batch_all_threads_ns_per_row, peak_rss_bytes,\n"
      "model_memory_bytes, forest_memory_bytes, compared_rows, outputs_identical.\n\n"
      "example:\n"
      "  treeserve bench --model examples/models/binary/1/model.txt --input examples/binary.csv "
      "--json",
      opts,
  };
  int rc = ts_cli_parse(&spec, argc, argv);
  if (rc >= 0) return rc;

  ts_predict_opts po = {k_type_values[type_idx], 0, 0};
  int nthreads = threads > 0 ? (int)threads : ts_cli_cores();
  ts_forest *forest = NULL;
  ts_explainer *explainer = NULL;
  ts_rows rows = {0};
  double *out_single = NULL, *out_1 = NULL, *out_all = NULL;
  ts_error err = {0};
  int exit_code = TS_EXIT_ERROR;
  double load_s = 0, build_s = 0;

  ts_rows_format fmt;
  if (ts_rows_format_from_path(input_path, &fmt, &err) != 0) {
    fprintf(stderr, "treeserve bench: %s\n", err.msg);
    return TS_EXIT_USAGE;
  }
  if (ts_cli_load_forest("bench", model_path, &forest, &load_s, &build_s) != 0) goto out;
  double t0 = ts_cli_now();
  if (ts_rows_read_file(ts_forest_model(forest), input_path, NULL, &rows, &err) != 0) {
    fprintf(stderr, "treeserve bench: %s\n", err.msg);
    goto out;
  }
  double input_s = ts_cli_now() - t0;
  if (rows.nrows == 0) {
    fprintf(stderr, "treeserve bench: %s: no rows to predict\n", input_path);
    goto out;
  }
  if (po.type == TS_PREDICT_CONTRIB && ts_explainer_build(forest, &explainer, &err) != 0) {
    fprintf(stderr, "treeserve bench: %s: --type contrib: %s\n", model_path, err.msg);
    goto out;
  }
  long w = ts_predict_width(forest, &po);
  if (w < 0) {
    fprintf(stderr, "treeserve bench: %s: invalid prediction options (%s)\n", model_path,
            ts_strerror((int)w));
    goto out;
  }
  size_t width = (size_t)w, n = rows.nrows, stride = rows.ncols;
  size_t cells = n * (width ? width : 1);
  out_single = calloc(cells, sizeof *out_single);
  out_1 = calloc(cells, sizeof *out_1);
  out_all = calloc(cells, sizeof *out_all);
  if (!out_single || !out_1 || !out_all) {
    fprintf(stderr, "treeserve bench: out of memory for %zu outputs\n", cells);
    goto out;
  }

  /* Single-row calls: one row per call, cycling through the input. */
  phase single, batch1, batchn;
  size_t done = 0;
  double start = ts_cli_now(), now = start;
  do {
    for (int k = 0; k < TS_BENCH_CLOCK_EVERY; k++, done++) {
      size_t r = done % n;
      if (run_batch(forest, explainer, &po, rows.X + r * stride, 1, stride,
                    out_single + r * width, 0, &err) != 0) {
        fprintf(stderr, "treeserve bench: %s: row %zu: %s\n", input_path, r + 1, err.msg);
        goto out;
      }
    }
    now = ts_cli_now();
  } while (now - start < seconds);
  phase_finish(&single, done, now - start);
  size_t compared = done < n ? done : n, covered;
  /* A block should take at most a quarter of a phase at single-row speed
   * (batches are faster, so this only errs on the short side). */
  double fit = single.rows_per_s * seconds / 4;
  size_t block = fit >= TS_BENCH_BLOCK_ROWS ? TS_BENCH_BLOCK_ROWS : fit >= 1 ? (size_t)fit : 1;

  /* Batches on one thread, then over all threads. */
  if (run_blocks(forest, explainer, &po, &rows, width, block, out_1, 0, seconds, &batch1, &covered, &err)) {
    fprintf(stderr, "treeserve bench: %s: %s\n", input_path, err.msg);
    goto out;
  }
  if (covered < compared) compared = covered;
  if (run_blocks(forest, explainer, &po, &rows, width, block, out_all, nthreads, seconds, &batchn, &covered, &err)) {
    fprintf(stderr, "treeserve bench: %s: %s\n", input_path, err.msg);
    goto out;
  }
  if (covered < compared) compared = covered;

  bool identical = same_outputs(out_single, out_1, compared * width) &&
                   same_outputs(out_1, out_all, compared * width);
  const ts_model *m = ts_forest_model(forest);
  ts_model_stats st;
  ts_model_get_stats(m, &st);
  size_t rss = ts_cli_peak_rss();
  size_t forest_bytes = ts_forest_memory_bytes(forest);

  if (json) {
    FILE *f = stdout;
    fputs("{\"model\":", f);
    ts_cli_json_str(f, model_path);
    fputs(",\"input\":", f);
    ts_cli_json_str(f, input_path);
    fprintf(f, ",\"type\":\"%s\",\"rows\":%zu,\"features\":%zu,\"threads\":%d", k_types[type_idx],
            n, stride, nthreads);
    fputs(",\"seconds_per_phase\":", f);
    ts_cli_json_double(f, seconds);
    fputs(",\"load_seconds\":", f);
    ts_cli_json_double(f, load_s);
    fputs(",\"build_seconds\":", f);
    ts_cli_json_double(f, build_s);
    fputs(",\"input_seconds\":", f);
    ts_cli_json_double(f, input_s);
    json_phase(f, "single_row", &single);
    json_phase(f, "batch_1thread", &batch1);
    json_phase(f, "batch_all_threads", &batchn);
    fprintf(f, ",\"peak_rss_bytes\":%zu,\"model_memory_bytes\":%zu,\"forest_memory_bytes\":%zu",
            rss, st.memory_bytes, forest_bytes);
    fprintf(f, ",\"compared_rows\":%zu,\"outputs_identical\":%s}\n", compared, identical ? "true" : "false");
  } else {
    printf("model        %s (%d trees, num_class %d)\n", model_path, ts_model_num_trees(m),
           ts_model_num_class(m));
    printf("input        %s (%zu rows, %zu features)\n", input_path, n, stride);
    printf("load         %.4f s (+ %.4f s compile, %.4f s reading input)\n", load_s, build_s,
           input_s);
    printf("memory       %zu bytes model, %zu bytes forest, peak RSS %.1f MB\n", st.memory_bytes,
           forest_bytes, (double)rss / 1e6);
    char label[64];
    snprintf(label, sizeof label, "prediction (type %s)", k_types[type_idx]);
    printf("%-28s %14s %12s\n", label, "rows/s", "ns/row");
    printf("%-28s %14.0f %12.1f\n", "single-row calls", single.rows_per_s, single.ns_per_row);
    printf("%-28s %14.0f %12.1f\n", "batch, 1 thread", batch1.rows_per_s, batch1.ns_per_row);
    snprintf(label, sizeof label, "batch, %d threads", nthreads);
    printf("%-28s %14.0f %12.1f\n", label, batchn.rows_per_s, batchn.ns_per_row);
    printf("outputs      %s (first %zu of %zu rows compared)\n",
           identical ? "identical across the three modes" : "DIFFER between modes (bug)", compared, n);
  }
  if (fflush(stdout) != 0) {
    fprintf(stderr, "treeserve bench: error writing to stdout\n");
    goto out;
  }
  exit_code = identical ? TS_EXIT_OK : TS_EXIT_ERROR;
  if (!identical)
    fprintf(stderr, "treeserve bench: outputs differ between single-row and batch prediction\n");
out:
  free(out_single);
  free(out_1);
  free(out_all);
  ts_rows_free(&rows);
  ts_explainer_free(explainer); /* before the forest it borrows */
  ts_forest_free(forest);
  return exit_code;
}
