/*
 * Command-line options shared by the subcommands: a table of options per
 * subcommand, parsed in one place so every command treats flags alike:
 *   --name VALUE and --name=VALUE; --help / -h prints the command's help;
 *   an unknown option, a missing value, a repeated option, a positional
 *   argument, a missing required option or a bad number is a usage error
 *   (exit code 2) with a message naming the option.
 * Only src/cli uses this (it prints).
 */
#ifndef TS_CLI_OPTS_H
#define TS_CLI_OPTS_H

#include <stdbool.h>
#include <stdio.h>

typedef enum ts_opt_kind {
  TS_OPT_STR,    /* dest: const char ** (points into argv) */
  TS_OPT_INT,    /* dest: long *, range [imin, imax] */
  TS_OPT_DOUBLE, /* dest: double *, range [dmin, dmax] */
  TS_OPT_FLAG,   /* dest: bool *, takes no value */
  TS_OPT_CHOICE  /* dest: int * (index into choices) */
} ts_opt_kind;

typedef struct ts_cli_opt {
  const char *name;    /* without the leading "--" */
  ts_opt_kind kind;
  void *dest;          /* written only when the option is given */
  const char *metavar; /* shown in help: "M.txt", "N" */
  const char *help;
  bool required;
  long imin, imax;
  double dmin, dmax;
  const char *const *choices; /* NULL-terminated, for TS_OPT_CHOICE */
} ts_cli_opt;

typedef struct ts_cli_spec {
  const char *cmd;         /* "predict" */
  const char *summary;     /* one line */
  const char *details;     /* paragraph(s) after the option list, may be NULL */
  ts_cli_opt *opts;        /* terminated by a NULL name */
} ts_cli_spec;

/* Parses argv[1..argc) (argv[0] is the subcommand). Returns -1 when the
 * command should run, otherwise the exit code to return right away: 0 after
 * printing --help to stdout, 2 after printing a usage error to stderr. */
int ts_cli_parse(const ts_cli_spec *spec, int argc, char **argv);

/* Prints the command's help (usage line, options, details) to f. */
void ts_cli_help(const ts_cli_spec *spec, FILE *f);

#endif
