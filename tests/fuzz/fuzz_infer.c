/*
 * libFuzzer driver: the Open Inference Protocol v2 JSON decoder
 * (POST /v2/models/m/infer and /v2/models/m/versions/1/infer) on the fuzz
 * model. The input is the request body. Each answer must have a valid status
 * and a valid JSON body (see fuzz_common.h); a 200 answer to a JSON request
 * must be JSON.
 */
#include <stdint.h>
#include <string.h>

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *path = (size & 1) ? "/v2/models/m/versions/1/infer" : "/v2/models/m/infer";
  fuzz_answer a = fuzz_api_call("POST", path, NULL, 0, (const char *)data, size);
  if (a.status == 200) FUZZ_CHECK(!strcmp(a.content_type, "application/json"));
  FUZZ_CHECK(a.status != 500);
  return 0;
}
