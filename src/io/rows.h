/*
 * Input rows for prediction: a CSV file with a header row, a JSON array of
 * objects, or JSON Lines (one object per line), turned into a row-major matrix
 * of doubles in a model's feature order.
 *
 * Columns / keys are matched to features by name with ts_model_find_feature
 * (any order; extra columns and keys are ignored; a feature with no column is
 * an error naming it; two columns for one feature are an error). Values:
 *   - missing (NaN): an empty field and the pandas read_csv missing markers
 *     ("nan", "NaN", "NA", "null", "NULL", "None", "N/A", "n/a", "<NA>", ...);
 *     in JSON also the literal null;
 *   - numbers: exact decimal parsing (ts_parse_double), surrounding spaces
 *     allowed in CSV; JSON true/false are 1/0;
 *   - strings are allowed only in pandas categorical columns of the model,
 *     where every non-missing value is a category label mapped with
 *     ts_model_pandas_code (unseen labels become NaN, as in LightGBM's Python
 *     package). Anywhere else a non-number is an error naming the input, line,
 *     column (CSV) or row (JSON), the feature and the value.
 * JSON must be strictly valid (RFC 8259; NaN / Infinity literals are not JSON:
 * write null). Blank lines are skipped (CSV, as pandas does, and JSONL). A JSON record that
 * lacks a feature's key is an error naming the feature (write null for
 * missing values).
 *
 * Thread-safety: no shared state; the model is only read.
 */
#ifndef TS_IO_ROWS_H
#define TS_IO_ROWS_H

#include <stddef.h>

#include "treeserve/error.h"
#include "treeserve/model.h"

/* Default limits (see ts_rows_limits). jsmn token offsets are ints, which is
 * one reason input stays well below 2 GiB. */
#define TS_ROWS_MAX_INPUT_BYTES ((size_t)1 << 30) /* 1 GiB */
#define TS_ROWS_MAX_ROWS ((size_t)100000000)
#define TS_ROWS_MAX_CELLS ((size_t)1 << 28) /* rows * features: 2 GiB of doubles */
/* Deepest JSON nesting accepted (rows need 2 levels; the rest is room for
 * structured values under ignored keys). Deeper: TS_ELIMIT. */
#define TS_ROWS_MAX_JSON_DEPTH 64

typedef struct ts_rows_limits {
  size_t max_input_bytes;
  size_t max_rows;
  size_t max_cells;
} ts_rows_limits;

typedef enum ts_rows_format {
  TS_ROWS_CSV,  /* .csv: header row + records */
  TS_ROWS_JSON, /* .json: [ {"feature": value, ...}, ... ] */
  TS_ROWS_JSONL /* .jsonl / .ndjson: one object per line */
} ts_rows_format;

/* The parsed rows. X (owned, free with ts_rows_free) holds nrows * ncols
 * doubles, row r feature j at X[r * ncols + j]; ncols is the model's
 * number of features. X may be NULL when nrows is 0. */
typedef struct ts_rows {
  double *X;
  size_t nrows;
  size_t ncols;
} ts_rows;

/* Picks the format from the file name's extension (case-insensitive):
 * .csv, .json, .jsonl / .ndjson. Anything else: TS_EINVAL naming the path. */
int ts_rows_format_from_path(const char *path, ts_rows_format *fmt, ts_error *err);

/* Parses buf[0..len) (borrowed, need not be NUL-terminated) for model `m`.
 * `name` prefixes error messages ("name:line: ..."); `lim` may be NULL for the
 * defaults (a zero member also means its default). On success *out owns the
 * matrix; on failure *out is empty ({NULL, 0, ncols}) and err says what and
 * where: TS_EPARSE (malformed input or value), TS_ENOTFOUND (a feature with no
 * column/key), TS_ESHAPE (wrong field count, wrong JSON shape, duplicate
 * column), TS_ELIMIT, TS_ENOMEM. */
int ts_rows_parse(const ts_model *m, ts_rows_format fmt, const char *buf, size_t len,
                  const char *name, const ts_rows_limits *lim, ts_rows *out, ts_error *err);

/* Reads the whole file at `path` (format from its extension) and parses it.
 * Adds TS_EIO (cannot open/read, naming the path and the reason) and TS_ELIMIT
 * (file larger than max_input_bytes) to the errors above. */
int ts_rows_read_file(const ts_model *m, const char *path, const ts_rows_limits *lim,
                      ts_rows *out, ts_error *err);

/* Frees the matrix and empties *r (NULL or an empty ts_rows is fine). */
void ts_rows_free(ts_rows *r);

#endif
