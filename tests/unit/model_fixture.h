/* A small valid model used by test_model.c and test_predict.c (header-only).
 *
 * Tree 0: node 0 splits feature a at 0.5 (missing None): left leaf 0 (0.1),
 *         right node 1: categorical on feature c_d, set {1, 2} -> leaf 1
 *         (0.2), else leaf 2 (0.3).
 * Tree 1: feature b <= 0.25, missing NaN, default left: leaf 0 (-1) / leaf 1 (1).
 */
#ifndef TS_TEST_MODEL_FIXTURE_H
#define TS_TEST_MODEL_FIXTURE_H

static const char kFixtureModel[] =
    "tree\n"
    "version=v4\n"
    "num_class=1\n"
    "num_tree_per_iteration=1\n"
    "label_index=0\n"
    "max_feature_idx=2\n"
    "objective=binary sigmoid:1\n"
    "feature_names=a b c_d\n"
    "feature_infos=[0:1] [0:1] 0:1:2\n"
    "tree_sizes=400 300\n"
    "\n"
    "Tree=0\n"
    "num_leaves=3\n"
    "num_cat=1\n"
    "split_feature=0 2\n"
    "split_gain=1 1\n"
    "threshold=0.5 0\n"
    "decision_type=0 1\n"
    "left_child=-1 -2\n"
    "right_child=1 -3\n"
    "leaf_value=0.1 0.2 0.3\n"
    "leaf_weight=1 1 1\n"
    "leaf_count=1 1 1\n"
    "internal_value=0 0\n"
    "internal_weight=0 0\n"
    "internal_count=3 2\n"
    "cat_boundaries=0 1\n"
    "cat_threshold=6\n"
    "is_linear=0\n"
    "shrinkage=1\n"
    "\n"
    "\n"
    "Tree=1\n"
    "num_leaves=2\n"
    "num_cat=0\n"
    "split_feature=1\n"
    "split_gain=1\n"
    "threshold=0.25\n"
    "decision_type=10\n"
    "left_child=-1\n"
    "right_child=-2\n"
    "leaf_value=-1 1\n"
    "leaf_weight=1 1\n"
    "leaf_count=1 1\n"
    "internal_value=0\n"
    "internal_weight=0\n"
    "internal_count=2\n"
    "is_linear=0\n"
    "shrinkage=0.1\n"
    "\n"
    "\n"
    "end of trees\n"
    "\n"
    "feature_importances:\n"
    "a=1\n"
    "\n"
    "parameters:\n"
    "[boosting: gbdt]\n"
    "[categorical_feature: 2]\n"
    "end of parameters\n"
    "\n"
    "pandas_categorical:[[\"x\", \"y\\u00e9\", \"z\"]]\n";

#include <stdlib.h>
#include <string.h>

/* Returns a new string: `base` with the first occurrence of `from` replaced by
 * `to` (the test fails if `from` is absent). */
static inline char *fixture_replace(const char *base, const char *from, const char *to) {
  const char *at = strstr(base, from);
  if (!at) return NULL;
  size_t n = strlen(base) - strlen(from) + strlen(to);
  char *s = malloc(n + 1);
  size_t pre = (size_t)(at - base);
  memcpy(s, base, pre);
  strcpy(s + pre, to);
  strcat(s, at + strlen(from));
  return s;
}

/* 1-based line number of the first line containing `needle` in `text`. */
static inline int fixture_line_of(const char *text, const char *needle) {
  const char *at = strstr(text, needle);
  int line = 1;
  for (const char *p = text; at && p < at; p++) line += *p == '\n';
  return at ? line : -1;
}

#endif
