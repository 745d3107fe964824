/*
 * libFuzzer driver: the whole request path of the api without sockets
 * (routing, every route's handler, error answers, metrics), see
 * fuzz_common.h. Input format:
 *
 *   METHOD SP PATH LF            (PATH up to the first LF; no query string)
 *   Name: value LF               (any number of headers, up to an empty line)
 *   LF
 *   body bytes                   (the rest)
 *
 * The repository API is on (admin token "fuzz-token"), so the fuzzer also
 * reaches index/load/unload and the token check.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_FUZZ_HEADERS 16
#define MAX_LINE 4096

/* Copies the line starting at *p (up to LF or end) into a new string. */
static char *take_line(const uint8_t **p, const uint8_t *end) {
  const uint8_t *s = *p;
  const uint8_t *nl = memchr(s, '\n', (size_t)(end - s));
  const uint8_t *e = nl ? nl : end;
  size_t n = (size_t)(e - s);
  if (n > MAX_LINE) n = MAX_LINE;
  char *out = malloc(n + 1);
  FUZZ_CHECK(out != NULL);
  memcpy(out, s, n);
  out[n] = 0;
  *p = nl ? nl + 1 : end;
  return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const uint8_t *p = data, *end = data + size;
  char *first = take_line(&p, end);
  char *sp = strchr(first, ' ');
  const char *method = first, *path = "/";
  if (sp) {
    *sp = 0;
    path = sp + 1;
  }
  char *lines[MAX_FUZZ_HEADERS];
  fuzz_header hs[MAX_FUZZ_HEADERS];
  size_t nh = 0, nl = 0;
  while (p < end && *p != '\n' && nl < MAX_FUZZ_HEADERS) {
    char *ln = take_line(&p, end);
    lines[nl++] = ln;
    char *colon = strchr(ln, ':');
    if (!colon) continue;
    *colon = 0;
    char *v = colon + 1;
    while (*v == ' ') v++;
    hs[nh++] = (fuzz_header){ln, v};
  }
  if (p < end && *p == '\n') p++;
  fuzz_answer a = fuzz_api_call(method, path, hs, nh, (const char *)p, (size_t)(end - p));
  (void)a;
  for (size_t i = 0; i < nl; i++) free(lines[i]);
  free(first);
  return 0;
}
