/*
 * Small helpers shared by the predict / inspect / bench subcommands: clocks,
 * core count, peak RSS, loading a model into a forest with timings, and
 * writing JSON values to a stdio stream. Only src/cli uses this (it prints).
 */
#ifndef TS_CLI_UTIL_H
#define TS_CLI_UTIL_H

#include <stddef.h>
#include <stdio.h>

#include "treeserve/predict.h"

/* Monotonic wall clock in seconds. */
double ts_cli_now(void);

/* Online CPU cores (at least 1). */
int ts_cli_cores(void);

/* Peak resident set size of this process in bytes (getrusage), 0 if unknown. */
size_t ts_cli_peak_rss(void);

/* Loads `path` and compiles it. On success returns 0 with *out the forest
 * (free with ts_forest_free) and the wall times of the load and the build.
 * On failure prints "treeserve CMD: message" to stderr and returns
 * TS_EXIT_ERROR. */
int ts_cli_load_forest(const char *cmd, const char *path, ts_forest **out, double *load_s,
                       double *build_s);

/* JSON output: a string with escapes (invalid UTF-8 bytes become U+FFFD, so
 * the output is always valid JSON); a double in shortest round-trip form
 * (null when not finite, since JSON has no NaN/Infinity). */
void ts_cli_json_str(FILE *f, const char *s);
void ts_cli_json_double(FILE *f, double v);

#endif
