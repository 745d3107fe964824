/*
 * treeserve predict: predicts the rows of a CSV / JSON / JSONL file with a
 * model and writes one CSV line per row (no header), doubles in shortest
 * round-trip form, leaf indices as integers: the layouts of LightGBM's
 * predict() as in tests/golden (pred.csv, raw.csv, leaf.csv, contrib.csv).
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/dtoa.h"
#include "cli/cli_opts.h"
#include "cli/cli_util.h"
#include "cli/commands.h"
#include "io/rows.h"
#include "treeserve/explain.h"
#include "treeserve/predict.h"

/* Rows predicted per step: bounds the output buffer and paces the progress
 * line. */
#define TS_PREDICT_CHUNK_ROWS 8192
/* Progress appears only on a terminal and only once a run takes this long. */
#define TS_PREDICT_PROGRESS_AFTER_S 1.0
#define TS_CLI_MAX_THREADS 1024

static const char *const k_types[] = {"value", "raw", "leaf", "contrib", NULL};
static const ts_predict_type k_type_values[] = {TS_PREDICT_VALUE, TS_PREDICT_RAW, TS_PREDICT_LEAF,
                                                TS_PREDICT_CONTRIB};

/* Output text is formatted into this much memory and written with one
 * fwrite per fill (unbuffered stdio underneath keeps the syscalls large). */
#define TS_PREDICT_OUT_BYTES (1u << 20)

/* Writes rows [0, n) of width w from `out` as CSV lines, staging text in
 * buf[0..TS_PREDICT_OUT_BYTES). Returns 0 or -1 on a write error (errno set). */
static int write_rows(FILE *f, char *buf, const double *out, size_t n, size_t w) {
  size_t len = 0;
  for (size_t r = 0; r < n; r++) {
    const double *v = out + r * w;
    for (size_t j = 0; j < w || (w == 0 && j == 0); j++) {
      if (len + TS_DTOA_BUFSIZE + 1 > TS_PREDICT_OUT_BYTES) {
        if (fwrite(buf, 1, len, f) != len) return -1;
        len = 0;
      }
      if (w) len += ts_dtoa(v[j], buf + len, TS_DTOA_BUFSIZE);
      buf[len++] = j + 1 < w ? ',' : '\n';
    }
  }
  if (len && fwrite(buf, 1, len, f) != len) return -1;
  return 0;
}

int ts_cmd_predict(int argc, char **argv) {
  const char *model_path = NULL, *input_path = NULL, *output_path = NULL;
  int type_idx = 0;
  long start_it = 0, num_it = 0, threads = 0;
  ts_cli_opt opts[] = {
      {"model", TS_OPT_STR, &model_path, "M.txt", "LightGBM model file (text format)", true},
      {"input", TS_OPT_STR, &input_path, "X.csv",
       "rows to predict: .csv with a header row, .json (array of objects) or .jsonl", true},
      {"output", TS_OPT_STR, &output_path, "OUT.csv", "write here instead of stdout"},
      {"type", TS_OPT_CHOICE, &type_idx, NULL,
       "value (default: objective's transform applied), raw (sum of trees), leaf (leaf index "
       "per tree), contrib (SHAP contributions)",
       .choices = k_types},
      {"start-iteration", TS_OPT_INT, &start_it, "N", "first iteration to use (default 0)",
       .imin = 0, .imax = INT_MAX},
      {"num-iteration", TS_OPT_INT, &num_it, "N",
       "number of iterations to use; <= 0 means all (default)", .imin = -INT_MAX, .imax = INT_MAX},
      {"threads", TS_OPT_INT, &threads, "N", "threads to use; 0 = all cores (default)", .imin = 0,
       .imax = TS_CLI_MAX_THREADS},
      {NULL},
  };
  const ts_cli_spec spec = {
      "predict",
      "Predicts every row of an input file with a LightGBM model, exactly as LightGBM 4.6 does.",
      "Input: CSV columns (JSON keys) are matched to the model's features by name, in any\n"
      "order; extra columns are ignored; a missing feature is an error. Empty fields, nan,\n"
      "NaN, NA, null (and pandas' other missing markers) are missing values. Strings are\n"
      "allowed in the model's pandas categorical columns.\n"
      "Output: CSV without header, one line per input row: num_class columns for value and\n"
      "raw, one integer column per used tree for leaf (iteration-major), and for contrib, per\n"
      "class, one column per feature then the expected value ((features + 1) * num_class).\n"
      "Doubles are written in the shortest form that parses back to the same double.\n\n"
      "example:\n"
      "  treeserve predict --model examples/models/binary/1/model.txt --input examples/binary.csv",
      opts,
  };
  int rc = ts_cli_parse(&spec, argc, argv);
  if (rc >= 0) return rc;

  ts_predict_opts po = {k_type_values[type_idx], (int)start_it, (int)num_it};
  ts_forest *forest = NULL;
  ts_explainer *explainer = NULL;
  ts_rows rows = {0};
  double *out = NULL;
  char *textbuf = NULL;
  FILE *f = NULL;
  ts_error err = {0};
  int exit_code = TS_EXIT_ERROR;

  /* The input format is checked before the (possibly slow) model load. */
  ts_rows_format fmt;
  if (ts_rows_format_from_path(input_path, &fmt, &err) != 0) {
    fprintf(stderr, "treeserve predict: %s\n", err.msg);
    return TS_EXIT_USAGE;
  }
  if (ts_cli_load_forest("predict", model_path, &forest, NULL, NULL) != 0) goto out;
  if (ts_rows_read_file(ts_forest_model(forest), input_path, NULL, &rows, &err) != 0) {
    fprintf(stderr, "treeserve predict: %s\n", err.msg);
    goto out;
  }
  if (po.type == TS_PREDICT_CONTRIB &&
      ts_explainer_build(forest, &explainer, &err) != 0) {
    fprintf(stderr, "treeserve predict: %s: --type contrib: %s\n", model_path, err.msg);
    goto out;
  }
  long width = ts_predict_width(forest, &po);
  if (width < 0) {
    fprintf(stderr, "treeserve predict: %s: invalid prediction options (%s)\n", model_path,
            ts_strerror((int)width));
    goto out;
  }
  size_t chunk = rows.nrows < TS_PREDICT_CHUNK_ROWS ? rows.nrows : TS_PREDICT_CHUNK_ROWS;
  out = malloc((chunk ? chunk : 1) * ((size_t)width ? (size_t)width : 1) * sizeof *out);
  if (!out) {
    fprintf(stderr, "treeserve predict: out of memory for the output of %zu rows\n", chunk);
    goto out;
  }
  if (output_path && strcmp(output_path, "-") != 0) {
    f = fopen(output_path, "w");
    if (!f) {
      fprintf(stderr, "treeserve predict: %s: cannot create: %s\n", output_path, strerror(errno));
      goto out;
    }
  } else {
    f = stdout;
  }
  textbuf = malloc(TS_PREDICT_OUT_BYTES);
  if (!textbuf) {
    fprintf(stderr, "treeserve predict: out of memory for the output buffer\n");
    goto out;
  }

  bool progress = isatty(STDERR_FILENO) != 0;
  bool shown = false;
  double t0 = ts_cli_now();
  for (size_t r0 = 0; r0 < rows.nrows; r0 += chunk) {
    size_t n = rows.nrows - r0 < chunk ? rows.nrows - r0 : chunk;
    const double *X = rows.X + r0 * rows.ncols;
    int prc = explainer ? ts_explain_rows_parallel(explainer, &po, X, n, rows.ncols, out,
                                                   (int)threads, &err)
                        : ts_predict_rows_parallel(forest, &po, X, n, rows.ncols, out,
                                                   (int)threads, &err);
    if (prc != 0) {
      fprintf(stderr, "treeserve predict: %s: rows %zu-%zu: %s\n", input_path, r0 + 1, r0 + n,
              err.msg);
      goto out;
    }
    if (write_rows(f, textbuf, out, n, (size_t)width) != 0) {
      fprintf(stderr, "treeserve predict: %s: write error: %s\n",
              f == stdout ? "<stdout>" : output_path, strerror(errno));
      goto out;
    }
    if (progress && ts_cli_now() - t0 > TS_PREDICT_PROGRESS_AFTER_S) {
      fprintf(stderr, "\rtreeserve predict: %zu / %zu rows (%.0f%%)", r0 + n, rows.nrows,
              100.0 * (double)(r0 + n) / (double)rows.nrows);
      shown = true;
    }
  }
  if (shown) fprintf(stderr, "\n");
  if (fflush(f) != 0 || ferror(f)) {
    fprintf(stderr, "treeserve predict: %s: write error: %s\n",
            f == stdout ? "<stdout>" : output_path, strerror(errno));
    goto out;
  }
  exit_code = TS_EXIT_OK;
out:
  if (f && f != stdout && fclose(f) != 0 && exit_code == TS_EXIT_OK) {
    fprintf(stderr, "treeserve predict: %s: write error: %s\n", output_path, strerror(errno));
    exit_code = TS_EXIT_ERROR;
  }
  free(out);
  free(textbuf);
  ts_rows_free(&rows);
  ts_explainer_free(explainer); /* before the forest it borrows */
  ts_forest_free(forest);
  return exit_code;
}
