/* Table-driven option parsing for the subcommands (see cli_opts.h). */
#include "cli/cli_opts.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"

/* Options per command are few; this bounds the "given twice" bookkeeping. */
#define TS_CLI_MAX_OPTS 32

static void usage_line(const ts_cli_spec *spec, FILE *f) {
  fprintf(f, "usage: treeserve %s", spec->cmd);
  for (const ts_cli_opt *o = spec->opts; o->name; o++) {
    const char *l = o->required ? "" : "[", *r = o->required ? "" : "]";
    if (o->kind == TS_OPT_FLAG) {
      fprintf(f, " %s--%s%s", l, o->name, r);
    } else if (o->kind == TS_OPT_CHOICE) {
      fprintf(f, " %s--%s ", l, o->name);
      for (const char *const *c = o->choices; *c; c++) fprintf(f, "%s%s", c == o->choices ? "" : "|", *c);
      fprintf(f, "%s", r);
    } else {
      fprintf(f, " %s--%s %s%s", l, o->name, o->metavar ? o->metavar : "VALUE", r);
    }
  }
  fprintf(f, "\n");
}

void ts_cli_help(const ts_cli_spec *spec, FILE *f) {
  usage_line(spec, f);
  fprintf(f, "\n%s\n\noptions:\n", spec->summary);
  for (const ts_cli_opt *o = spec->opts; o->name; o++) {
    char left[64];
    if (o->kind == TS_OPT_FLAG)
      snprintf(left, sizeof left, "--%s", o->name);
    else
      snprintf(left, sizeof left, "--%s %s", o->name,
               o->kind == TS_OPT_CHOICE ? "TYPE" : (o->metavar ? o->metavar : "VALUE"));
    fprintf(f, "  %-24s %s%s\n", left, o->help, o->required ? " (required)" : "");
  }
  fprintf(f, "  %-24s %s\n", "--help, -h", "print this help and exit");
  if (spec->details) fprintf(f, "\n%s\n", spec->details);
}

static int usage_error(const ts_cli_spec *spec, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int usage_error(const ts_cli_spec *spec, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "treeserve %s: ", spec->cmd);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, "\n");
  usage_line(spec, stderr);
  fprintf(stderr, "Try 'treeserve %s --help' for more information.\n", spec->cmd);
  return TS_EXIT_USAGE;
}

static int set_value(const ts_cli_spec *spec, const ts_cli_opt *o, const char *v) {
  char *end = NULL;
  switch (o->kind) {
  case TS_OPT_STR:
    if (!*v) return usage_error(spec, "--%s needs a non-empty value", o->name);
    *(const char **)o->dest = v;
    return -1;
  case TS_OPT_INT: {
    errno = 0;
    long x = strtol(v, &end, 10);
    if (!*v || *end || errno || x < o->imin || x > o->imax) {
      char range[96];
      snprintf(range, sizeof range, "an integer from %ld to %ld", o->imin, o->imax);
      fprintf(stderr, "treeserve %s: bad value '%s' for --%s (expected %s)\n", spec->cmd, v,
              o->name, range);
      usage_line(spec, stderr);
      return TS_EXIT_USAGE;
    }
    *(long *)o->dest = x;
    return -1;
  }
  case TS_OPT_DOUBLE: {
    errno = 0;
    double x = strtod(v, &end);
    if (!*v || *end || errno || !isfinite(x) || x < o->dmin || x > o->dmax) {
      fprintf(stderr, "treeserve %s: bad value '%s' for --%s (expected a number from %g to %g)\n",
              spec->cmd, v, o->name, o->dmin, o->dmax);
      usage_line(spec, stderr);
      return TS_EXIT_USAGE;
    }
    *(double *)o->dest = x;
    return -1;
  }
  case TS_OPT_CHOICE:
    for (int i = 0; o->choices[i]; i++)
      if (!strcmp(o->choices[i], v)) {
        *(int *)o->dest = i;
        return -1;
      }
    {
      char list[128] = "";
      size_t k = 0;
      for (int i = 0; o->choices[i] && k < sizeof list; i++)
        k += (size_t)snprintf(list + k, sizeof list - k, "%s%s", i ? ", " : "", o->choices[i]);
      fprintf(stderr, "treeserve %s: bad value '%s' for --%s (expected one of: %s)\n", spec->cmd,
              v, o->name, list);
      usage_line(spec, stderr);
      return TS_EXIT_USAGE;
    }
  case TS_OPT_FLAG:
    *(bool *)o->dest = true;
    return -1;
  }
  return -1;
}

int ts_cli_parse(const ts_cli_spec *spec, int argc, char **argv) {
  bool seen[TS_CLI_MAX_OPTS] = {false};
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      ts_cli_help(spec, stdout);
      return TS_EXIT_OK;
    }
  }
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strncmp(a, "--", 2) != 0 || a[2] == '\0')
      return usage_error(spec, "unexpected argument '%s'", a);
    const char *name = a + 2;
    const char *eq = strchr(name, '=');
    size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
    int idx = 0;
    const ts_cli_opt *o = spec->opts;
    for (; o->name; o++, idx++)
      if (strlen(o->name) == nlen && !strncmp(o->name, name, nlen)) break;
    if (!o->name) return usage_error(spec, "unknown option '%s'", a);
    if (idx < TS_CLI_MAX_OPTS) {
      if (seen[idx]) return usage_error(spec, "option --%s given more than once", o->name);
      seen[idx] = true;
    }
    const char *v;
    if (o->kind == TS_OPT_FLAG) {
      if (eq) return usage_error(spec, "option --%s takes no value", o->name);
      v = "";
    } else if (eq) {
      v = eq + 1;
    } else {
      if (i + 1 >= argc) return usage_error(spec, "option --%s needs a value", o->name);
      v = argv[++i];
    }
    int rc = set_value(spec, o, v);
    if (rc >= 0) return rc;
  }
  int idx = 0;
  for (const ts_cli_opt *o = spec->opts; o->name; o++, idx++)
    if (o->required && idx < TS_CLI_MAX_OPTS && !seen[idx])
      return usage_error(spec, "missing required option --%s", o->name);
  return -1;
}
