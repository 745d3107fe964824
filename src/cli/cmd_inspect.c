/*
 * treeserve inspect: describes a model file: objective and output transform,
 * classes, trees and leaves, depth statistics, the features with their kind
 * (and the categories of pandas categorical ones), memory and load time.
 * Plain text for people, or one JSON object with --json for tools.
 */
#include <stdbool.h>
#include <stdio.h>

#include "cli/cli_opts.h"
#include "cli/cli_util.h"
#include "cli/commands.h"
#include "treeserve/predict.h"

typedef struct inspect_info {
  const char *path;
  const ts_model *m;
  ts_model_stats st;
  size_t forest_bytes;
  double load_s, build_s;
} inspect_info;

static const char *feature_kind(const ts_model *m, int i) {
  return ts_model_feature_is_categorical(m, i) ? "categorical" : "numerical";
}

static void print_text(const inspect_info *in) {
  const ts_model *m = in->m;
  const ts_model_stats *st = &in->st;
  int nf = ts_model_num_features(m);
  printf("model              %s\n", in->path);
  printf("version            %s\n", ts_model_version(m));
  printf("objective          %s (%s)\n",
         ts_model_objective(m)[0] ? ts_model_objective(m) : "none: custom objective",
         ts_model_objective_name(m));
  printf("transform          %s", ts_model_transform_name(ts_model_transform(m)));
  ts_transform t = ts_model_transform(m);
  if (t == TS_TRANSFORM_SIGMOID || t == TS_TRANSFORM_SIGMOID_OVA)
    printf(" (sigmoid %g)", ts_model_sigmoid(m));
  printf("\n");
  printf("classes            %d (%d trees per iteration)\n", ts_model_num_class(m),
         ts_model_trees_per_iteration(m));
  printf("iterations         %d%s\n", ts_model_num_iterations(m),
         ts_model_average_output(m) ? " (average_output: random forest, outputs are averaged)" : "");
  printf("trees              %d (%d with a single leaf)%s\n", ts_model_num_trees(m),
         st->num_single_leaf_trees, ts_model_has_linear_trees(m) ? ", linear trees" : "");
  printf("leaves             %zu in total, at most %d in a tree\n", st->total_leaves,
         st->max_leaves);
  printf("leaf depth         min %d, mean %.2f, max %d\n", st->min_depth, st->mean_depth,
         st->max_depth);
  printf("categorical splits %d\n", st->num_categorical_splits);
  printf("memory             %zu bytes parsed model, %zu bytes compiled forest\n",
         st->memory_bytes, in->forest_bytes);
  printf("load time          %.6f s (+ %.6f s to compile)\n", in->load_s, in->build_s);
  printf("features           %d\n", nf);
  for (int i = 0; i < nf; i++) {
    printf("  %5d  %-24s %s", i, ts_model_feature_name(m, i), feature_kind(m, i));
    const char *const *cats;
    int nc = ts_model_pandas_categories(m, i, &cats);
    if (nc >= 0) {
      printf(" (pandas, %d categories:", nc);
      for (int c = 0; c < nc; c++) printf("%s %s", c ? "," : "", cats[c]);
      printf(")");
    }
    printf("\n");
  }
}

static void print_json(const inspect_info *in) {
  const ts_model *m = in->m;
  const ts_model_stats *st = &in->st;
  FILE *f = stdout;
  fputs("{\"model\":", f);
  ts_cli_json_str(f, in->path);
  fputs(",\"version\":", f);
  ts_cli_json_str(f, ts_model_version(m));
  fputs(",\"objective\":", f);
  ts_cli_json_str(f, ts_model_objective(m));
  fputs(",\"objective_name\":", f);
  ts_cli_json_str(f, ts_model_objective_name(m));
  fputs(",\"transform\":", f);
  ts_cli_json_str(f, ts_model_transform_name(ts_model_transform(m)));
  fputs(",\"sigmoid\":", f);
  ts_cli_json_double(f, ts_model_sigmoid(m));
  fprintf(f, ",\"num_class\":%d,\"trees_per_iteration\":%d,\"num_iterations\":%d",
          ts_model_num_class(m), ts_model_trees_per_iteration(m), ts_model_num_iterations(m));
  fprintf(f, ",\"num_trees\":%d,\"num_single_leaf_trees\":%d,\"total_leaves\":%zu,\"max_leaves\":%d",
          ts_model_num_trees(m), st->num_single_leaf_trees, st->total_leaves, st->max_leaves);
  fprintf(f, ",\"depth\":{\"min\":%d,\"mean\":", st->min_depth);
  ts_cli_json_double(f, st->mean_depth);
  fprintf(f, ",\"max\":%d}", st->max_depth);
  fprintf(f, ",\"num_categorical_splits\":%d,\"average_output\":%s,\"linear_trees\":%s",
          st->num_categorical_splits, ts_model_average_output(m) ? "true" : "false",
          ts_model_has_linear_trees(m) ? "true" : "false");
  fprintf(f, ",\"model_memory_bytes\":%zu,\"forest_memory_bytes\":%zu", st->memory_bytes,
          in->forest_bytes);
  fputs(",\"load_seconds\":", f);
  ts_cli_json_double(f, in->load_s);
  fputs(",\"build_seconds\":", f);
  ts_cli_json_double(f, in->build_s);
  int nf = ts_model_num_features(m);
  fprintf(f, ",\"num_features\":%d,\"features\":[", nf);
  for (int i = 0; i < nf; i++) {
    fprintf(f, "%s{\"index\":%d,\"name\":", i ? "," : "", i);
    ts_cli_json_str(f, ts_model_feature_name(m, i));
    fprintf(f, ",\"kind\":\"%s\"", feature_kind(m, i));
    const char *const *cats;
    int nc = ts_model_pandas_categories(m, i, &cats);
    if (nc >= 0) {
      fputs(",\"pandas_categories\":[", f);
      for (int c = 0; c < nc; c++) {
        if (c) fputc(',', f);
        ts_cli_json_str(f, cats[c]);
      }
      fputc(']', f);
    }
    fputc('}', f);
  }
  fputs("]}\n", f);
}

int ts_cmd_inspect(int argc, char **argv) {
  const char *model_path = NULL;
  bool json = false;
  ts_cli_opt opts[] = {
      {"model", TS_OPT_STR, &model_path, "M.txt", "LightGBM model file (text format)", true},
      {"json", TS_OPT_FLAG, &json, NULL, "print one JSON object instead of text"},
      {NULL},
  };
  const ts_cli_spec spec = {
      "inspect",
      "Describes a LightGBM model: objective and transform, classes, trees and leaves, depth\n"
      "statistics, features (numerical / categorical, pandas categories), memory, load time.",
      "example:\n  treeserve inspect --model examples/models/pandas_categorical/1/model.txt --json",
      opts,
  };
  int rc = ts_cli_parse(&spec, argc, argv);
  if (rc >= 0) return rc;

  inspect_info in = {.path = model_path};
  ts_forest *forest = NULL;
  if (ts_cli_load_forest("inspect", model_path, &forest, &in.load_s, &in.build_s) != 0)
    return TS_EXIT_ERROR;
  in.m = ts_forest_model(forest);
  ts_model_get_stats(in.m, &in.st);
  in.forest_bytes = ts_forest_memory_bytes(forest);
  if (json)
    print_json(&in);
  else
    print_text(&in);
  int ok = fflush(stdout) == 0 && !ferror(stdout);
  ts_forest_free(forest);
  if (!ok) {
    fprintf(stderr, "treeserve inspect: error writing to stdout\n");
    return TS_EXIT_ERROR;
  }
  return TS_EXIT_OK;
}
