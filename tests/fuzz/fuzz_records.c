/*
 * libFuzzer driver: the records API decoder (POST /v1/models/m:predict) on
 * the fuzz model. The input is the request body; each answer must have a
 * valid status and a valid JSON body (see fuzz_common.h).
 */
#include <stdint.h>

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_answer a = fuzz_api_call("POST", "/v1/models/m:predict", NULL, 0, (const char *)data, size);
  FUZZ_CHECK(a.status != 500);
  return 0;
}
