/*
 * Shared pieces of the libFuzzer drivers in tests/fuzz/ (linked into every
 * fuzz_*.c by the Makefile's `fuzz` target).
 *
 *  - fuzz_model(): the small model the rows and API fuzzers run against
 *    (tests/fuzz/models/fuzz_model.txt: 10 features, three of them pandas
 *    categorical columns), loaded once. The path comes from $TS_FUZZ_MODEL or
 *    the repository path compiled in (TS_FUZZ_SRC).
 *  - fuzz_api_call(): one HTTP request through ts_http_dispatch (the request
 *    path of src/http without sockets: routing, 404/405, HEAD as GET, the
 *    route's handler, the response-size limit) with the api's route table,
 *    then the api's metrics callback, a per-request arena and the bounded
 *    response writer. Every answer is checked: a status in 200..599, and a
 *    body that is valid UTF-8 JSON whenever the content type says JSON (for
 *    the binary extension: the JSON header).
 *
 * Each check that fails calls abort(), which libFuzzer reports as a crash.
 */
#ifndef TS_FUZZ_COMMON_H
#define TS_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "http/http.h"
#include "treeserve/model.h"

#define FUZZ_CHECK(cond)                                                                      \
  do {                                                                                        \
    if (!(cond)) fuzz_fail(__FILE__, __LINE__, #cond);                                        \
  } while (0)

void fuzz_fail(const char *file, int line, const char *what) __attribute__((noreturn));

/* The fuzz model (never NULL: aborts if it cannot be loaded). */
const ts_model *fuzz_model(void);

/* Path of the fuzz model file. */
const char *fuzz_model_path(void);

/* A request header (NUL-terminated name and value). */
typedef ts_http_header fuzz_header;

typedef struct fuzz_answer {
  int status;
  const char *content_type;
  size_t body_len;
} fuzz_answer;

/* Runs one request (see above) against a repository serving the fuzz model as
 * "m" (version 1), with admin token "fuzz-token". `path` must be
 * NUL-terminated. If a request unloaded the model, it is loaded again before
 * the next one so that every input starts from the same state. */
fuzz_answer fuzz_api_call(const char *method, const char *path, const fuzz_header *headers, size_t nheaders,
                          const char *body, size_t body_len);

#endif
