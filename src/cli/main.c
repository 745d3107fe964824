/* treeserve: entry point; dispatches to the subcommand table. */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"

#ifndef TS_VERSION
#define TS_VERSION "0.1.0"
#endif

const ts_command ts_commands[] = {
    {"serve", "serve models over HTTP (Open Inference Protocol v2, records API)", ts_cmd_serve},
    {"predict", "predict a CSV/JSON file of rows with a model", ts_cmd_predict},
    {"inspect", "describe a model file", ts_cmd_inspect},
    {"bench", "measure load time and prediction speed", ts_cmd_bench},
    {NULL, NULL, NULL},
};

static void usage(FILE *f) {
  fprintf(f, "treeserve %s: exact, fast LightGBM model serving\n\nusage: treeserve <command> [options]\n\ncommands:\n",
          TS_VERSION);
  for (const ts_command *c = ts_commands; c->name; c++) fprintf(f, "  %-10s %s\n", c->name, c->summary);
  fprintf(f, "\n'treeserve <command> --help' describes a command's options.\n");
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return TS_EXIT_USAGE;
  }
  if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
    usage(stdout);
    return TS_EXIT_OK;
  }
  if (!strcmp(argv[1], "--version")) {
    printf("treeserve %s\n", TS_VERSION);
    return TS_EXIT_OK;
  }
  for (const ts_command *c = ts_commands; c->name; c++)
    if (!strcmp(argv[1], c->name)) return c->run(argc - 1, argv + 1);
  fprintf(stderr, "treeserve: unknown command '%s'\n", argv[1]);
  usage(stderr);
  return TS_EXIT_USAGE;
}
