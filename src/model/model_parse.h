/*
 * Shared pieces of the model loader (src/model/ only): the line lexer over the
 * file buffer, error helpers, and the per-part parsers implemented in
 * model_tree.c, model_objective.c and model_pandas.c.
 */
#ifndef TS_MODEL_PARSE_H
#define TS_MODEL_PARSE_H

#include <stdbool.h>
#include <stddef.h>

#include "model/model_internal.h"
#include "treeserve/error.h"

/* A cursor over the model text. Lines end in "\n" or "\r\n"; trailing spaces,
 * tabs and '\r' are not part of a line. */
typedef struct ts__lex {
  const char *name; /* file name used in messages */
  const char *p;    /* start of the next line */
  const char *end;
  int line;         /* 1-based number of the line last returned */
} ts__lex;

/* A slice of the buffer. */
typedef struct ts__span {
  const char *s, *e;
} ts__span;

/* Returns the next line in *out, or false at the end of the buffer. */
bool ts__lex_line(ts__lex *lx, ts__span *out);

/* True if the span starts with the NUL-terminated prefix. */
bool ts__span_starts(ts__span sp, const char *prefix);

/* True if the span equals the NUL-terminated string. */
bool ts__span_eq(ts__span sp, const char *str);

/* Next whitespace-separated token of *sp (advancing it); false when none. */
bool ts__next_token(ts__span *sp, ts__span *tok);

/* Parses one tree block whose "Tree=" header is on line `tree_line`; lines are
 * taken from lx up to the blank line (or end) that ends the block.
 * On error fills err ("name:line: msg") and returns a TS_E* code; the tree may
 * be partly filled and is freed by ts__tree_free. */
int ts__tree_parse(ts__lex *lx, int num_features, ts_tree *t, ts_error *err);

/* Frees the arrays of one tree (not the struct). */
void ts__tree_free(ts_tree *t);

/* Builds m->name_slots from m->feature_names (model_names.c); replaces an
 * earlier index. Errors: TS_ENOMEM. */
int ts__names_index_build(ts_model *m, ts_error *err);

/* Parses the objective line (everything after "objective="), fills
 * m->objective_name, transform, sigmoid. Checks num_class consistency. */
int ts__objective_parse(ts_model *m, ts__span line, int lineno, const char *name, ts_error *err);

/* Sets up a model with no objective line (custom objective). */
void ts__objective_custom(ts_model *m);

/* Parses the JSON after "pandas_categorical:" and attaches the columns to the
 * model's categorical features. `cat_param` is the value of the
 * "[categorical_feature: ...]" parameter, if any (NULL span otherwise). */
int ts__pandas_parse(ts_model *m, ts__span json, ts__span cat_param, int lineno, const char *name,
                     ts_error *err);

#endif
