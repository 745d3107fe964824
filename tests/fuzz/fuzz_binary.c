/*
 * libFuzzer driver: Triton's binary tensor data extension of the infer route.
 * Input: two bytes (little-endian) giving Inference-Header-Content-Length,
 * then the request body (JSON header followed by the raw tensor bytes). The
 * announced length may be anything, including beyond the body. Each answer
 * must be well formed (see fuzz_common.h: for a binary answer, the announced
 * JSON header must be inside the body and parse).
 */
#include <stdint.h>
#include <stdio.h>

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2) return 0;
#ifdef FUZZ_LAX_KNOWN_BUGS /* long runs while the empty-body report is open */
  if (size == 2) return 0;
#endif
  unsigned hl = (unsigned)data[0] | (unsigned)data[1] << 8;
  char v[16];
  /* a few values of the header that are not plain numbers */
  if (hl == 0xffff) snprintf(v, sizeof(v), "-1");
  else if (hl == 0xfffe) snprintf(v, sizeof(v), "%u ", 10u);
  else if (hl == 0xfffd) snprintf(v, sizeof(v), "99999999999999999999");
  else snprintf(v, sizeof(v), "%u", hl);
  fuzz_header h = {"Inference-Header-Content-Length", v};
  fuzz_answer a = fuzz_api_call("POST", "/v2/models/m/infer", &h, 1, (const char *)data + 2, size - 2);
  FUZZ_CHECK(a.status != 500);
  return 0;
}
