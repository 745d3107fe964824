/* Read-only accessors of a loaded model and ts_model_free. */
#include <stdlib.h>

#include "model/model_parse.h"

void ts_model_free(ts_model *m) {
  if (!m) return;
  for (int i = 0; i < m->num_trees; i++) ts__tree_free(&m->trees[i]);
  free(m->trees);
  for (int i = 0; m->feature_names && i < m->num_features; i++) free(m->feature_names[i]);
  for (int i = 0; m->feature_infos && i < m->num_features; i++) free(m->feature_infos[i]);
  free(m->feature_names);
  free(m->name_slots);
  free(m->feature_infos);
  free(m->feature_is_categorical);
  for (int i = 0; i < m->num_pandas_columns; i++) {
    for (int k = 0; k < m->pandas_columns[i].num_categories; k++)
      free(m->pandas_columns[i].categories[k]);
    free(m->pandas_columns[i].categories);
  }
  free(m->pandas_columns);
  free(m->pandas_of_feature);
  free(m->objective_line);
  free(m->parameters_text);
  free(m->feature_importance);
  free(m);
}

int ts_model_num_features(const ts_model *m) { return m->num_features; }
int ts_model_num_class(const ts_model *m) { return m->num_class; }
int ts_model_trees_per_iteration(const ts_model *m) { return m->num_tree_per_iteration; }
int ts_model_num_trees(const ts_model *m) { return m->num_trees; }
int ts_model_num_iterations(const ts_model *m) {
  return m->num_trees / m->num_tree_per_iteration;
}
bool ts_model_average_output(const ts_model *m) { return m->average_output; }
bool ts_model_has_linear_trees(const ts_model *m) {
  for (int i = 0; i < m->num_trees; i++)
    if (m->trees[i].is_linear) return true;
  return false;
}
const char *ts_model_objective(const ts_model *m) { return m->objective_line; }
const char *ts_model_objective_name(const ts_model *m) { return m->objective_name; }
ts_transform ts_model_transform(const ts_model *m) { return m->transform; }
double ts_model_sigmoid(const ts_model *m) { return m->sigmoid; }
const char *ts_model_version(const ts_model *m) { return m->version; }

const char *ts_model_feature_name(const ts_model *m, int i) {
  return (i >= 0 && i < m->num_features) ? m->feature_names[i] : NULL;
}

bool ts_model_feature_is_categorical(const ts_model *m, int i) {
  if (i < 0 || i >= m->num_features) return false;
  if (m->feature_is_categorical[i]) return true;
  return false;
}

void ts_model_get_stats(const ts_model *m, ts_model_stats *out) { *out = m->stats; }
