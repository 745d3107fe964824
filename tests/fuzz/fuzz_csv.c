/*
 * libFuzzer driver: the CSV reader (src/io/csv.h).
 *
 * The first byte picks small limits (so the limit paths are reached by short
 * inputs); the rest is the CSV text. Every field returned must lie inside the
 * input or be an unescaped copy no longer than the input; the reader ends
 * with 0 (end) or a negative code and a message.
 */
#include <stdint.h>
#include <string.h>

#include "fuzz_common.h"
#include "io/csv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  uint8_t sel = data[0];
  const char *buf = (const char *)data + 1;
  size_t len = size - 1;
  ts_csv_limits lim = {0};
  if (sel & 1) lim.max_columns = 1 + (sel >> 5);
  if (sel & 2) lim.max_field_bytes = 1 + ((sel >> 2) & 7) * 3;
  if (sel & 4) lim.max_record_bytes = 4 + (sel >> 4);
  ts_csv_reader *r = NULL;
  ts_error err;
  if (ts_csv_open(buf, len, (sel & 8) ? NULL : "fuzz.csv", &lim, &r, &err)) return 0;
  size_t records = 0, prev_line = 0;
  for (;;) {
    const ts_csv_field *fields;
    size_t n;
    err.msg[0] = 0;
    int rc = ts_csv_next(r, &fields, &n, &err);
    if (rc == 0) break;
    if (rc < 0) {
      FUZZ_CHECK(err.msg[0] != 0);
      break;
    }
    FUZZ_CHECK(rc == 1 && n >= 1);
    FUZZ_CHECK(lim.max_columns == 0 || n <= lim.max_columns);
    size_t line = ts_csv_line(r);
    FUZZ_CHECK(line > prev_line);
    prev_line = line;
    for (size_t i = 0; i < n; i++) {
      const ts_csv_field *f = &fields[i];
      FUZZ_CHECK(f->len <= len);
      FUZZ_CHECK(lim.max_field_bytes == 0 || f->len <= lim.max_field_bytes);
      if (f->len) {
        /* touch every byte so ASan checks the slice */
        volatile unsigned char x = 0;
        for (size_t k = 0; k < f->len; k++) x ^= (unsigned char)f->ptr[k];
        (void)x;
      }
    }
    FUZZ_CHECK(++records <= len + 1);
  }
  (void)ts_csv_name(r);
  ts_csv_close(r);
  return 0;
}
