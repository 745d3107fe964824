/* treeserve serve: placeholder until the subcommand lands (being written now). */
#include <stdio.h>

#include "cli/commands.h"


int ts_cmd_serve(int argc, char **argv) {
  (void)argc;
  (void)argv;
  fprintf(stderr, "treeserve serve: not available in this build yet\n");
  return TS_EXIT_ERROR;
}
