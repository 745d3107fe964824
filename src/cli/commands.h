/*
 * The treeserve subcommands. Each takes argc/argv with argv[0] being the
 * subcommand name and returns the process exit code: 0 ok, 2 usage error,
 * 1 any other error. Subcommands print to stdout/stderr; nothing below src/cli does.
 */
#ifndef TS_CLI_COMMANDS_H
#define TS_CLI_COMMANDS_H

#define TS_EXIT_OK 0
#define TS_EXIT_ERROR 1
#define TS_EXIT_USAGE 2

typedef struct ts_command {
  const char *name;
  const char *summary;
  int (*run)(int argc, char **argv);
} ts_command;

/* The subcommands, one file each (src/cli/cmd_NAME.c). */
int ts_cmd_predict(int argc, char **argv);
int ts_cmd_inspect(int argc, char **argv);
int ts_cmd_bench(int argc, char **argv);
int ts_cmd_serve(int argc, char **argv);

/* The table of subcommands (main.c), terminated by a NULL name. */
extern const ts_command ts_commands[];

#endif
