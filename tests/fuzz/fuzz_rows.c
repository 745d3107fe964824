/*
 * libFuzzer driver: the rows reader (CSV / JSON / JSON Lines -> feature
 * matrix, src/io/rows.h) against the fuzz model (10 features, three pandas
 * categorical columns). The first byte picks the format and small limits;
 * the rest is the input. On success the matrix must have the model's width;
 * on failure it must be empty and the error must have a message.
 */
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_common.h"
#include "io/rows.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  const ts_model *m = fuzz_model();
  uint8_t sel = data[0];
  ts_rows_format fmt = (ts_rows_format)(sel % 3);
  ts_rows_limits lim = {0};
  if (sel & 0x10) lim.max_rows = 1 + (sel >> 5);
  if (sel & 0x08) lim.max_cells = 10 * (1 + (sel >> 5));
  if ((sel & 0x0c) == 0x0c) lim.max_input_bytes = 64;
  /* exact-size copy: a read past the end is an ASan report */
  size_t len = size - 1;
  char *buf = malloc(len ? len : 1);
  FUZZ_CHECK(buf != NULL);
  for (size_t i = 0; i < len; i++) buf[i] = (char)data[i + 1];
  ts_rows rows;
  ts_error err;
  err.msg[0] = 0;
  int rc = ts_rows_parse(m, fmt, buf, len, "fuzz", &lim, &rows, &err);
  if (rc) {
    FUZZ_CHECK(rc < 0 && rows.X == NULL && rows.nrows == 0 && err.msg[0] != 0);
  } else {
    FUZZ_CHECK(rows.ncols == (size_t)ts_model_num_features(m));
    FUZZ_CHECK(lim.max_rows == 0 || rows.nrows <= lim.max_rows);
    FUZZ_CHECK(rows.nrows == 0 || rows.X != NULL);
    volatile double acc = 0;
    for (size_t i = 0; i < rows.nrows * rows.ncols; i++) acc += rows.X[i];
    (void)acc;
  }
  ts_rows_free(&rows);
  free(buf);
  return 0;
}
