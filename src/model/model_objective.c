/*
 * The objective table: every objective LightGBM 4.6 writes into a model's
 * "objective=" line, its output transform and the parameters it carries
 * ("sigmoid:k", "num_class:k", "sqrt"). An objective not in the table is a
 * load error: guessing a transform would give silently wrong predictions.
 * Names and parameter rules follow LightGBM's src/objective/ *.hpp
 * (constructors from strings, ToString, ConvertOutput).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "model/model_num.h"
#include "model/model_parse.h"

enum {
  P_SQRT = 1,          /* accepts "sqrt" (regression family: square transform) */
  P_SIGMOID = 2,       /* requires "sigmoid:k", k > 0 */
  P_NUM_CLASS = 4,     /* requires "num_class:k" equal to the header */
};

typedef struct objective_def {
  const char *name;
  ts_transform transform;
  int params;
} objective_def;

static const objective_def kObjectives[] = {
    {"regression", TS_TRANSFORM_IDENTITY, P_SQRT},
    {"regression_l1", TS_TRANSFORM_IDENTITY, P_SQRT},
    {"huber", TS_TRANSFORM_IDENTITY, P_SQRT},
    {"fair", TS_TRANSFORM_IDENTITY, P_SQRT},
    {"quantile", TS_TRANSFORM_IDENTITY, P_SQRT},
    {"mape", TS_TRANSFORM_IDENTITY, P_SQRT},
    {"poisson", TS_TRANSFORM_EXP, 0},
    {"gamma", TS_TRANSFORM_EXP, 0},
    {"tweedie", TS_TRANSFORM_EXP, 0},
    {"binary", TS_TRANSFORM_SIGMOID, P_SIGMOID},
    {"cross_entropy", TS_TRANSFORM_SIGMOID, 0},
    {"xentropy", TS_TRANSFORM_SIGMOID, 0},
    {"cross_entropy_lambda", TS_TRANSFORM_LOG1P_EXP, 0},
    {"xentlambda", TS_TRANSFORM_LOG1P_EXP, 0},
    {"multiclass", TS_TRANSFORM_SOFTMAX, P_NUM_CLASS},
    {"multiclassova", TS_TRANSFORM_SIGMOID_OVA, P_NUM_CLASS | P_SIGMOID},
    {"lambdarank", TS_TRANSFORM_IDENTITY, 0},
    {"rank_xendcg", TS_TRANSFORM_IDENTITY, 0},
    {"custom", TS_TRANSFORM_IDENTITY, 0},
};

void ts__objective_custom(ts_model *m) {
  snprintf(m->objective_name, sizeof m->objective_name, "custom");
  m->transform = TS_TRANSFORM_IDENTITY;
  m->sigmoid = 1.0;
}

int ts__objective_parse(ts_model *m, ts__span line, int lineno, const char *name, ts_error *err) {
  ts__span sp = line, tok;
  if (!ts__next_token(&sp, &tok))
    return ts_error_set(err, TS_EPARSE, "%s:%d: empty objective", name, lineno);
  const objective_def *def = NULL;
  for (size_t i = 0; i < sizeof kObjectives / sizeof kObjectives[0]; i++)
    if (ts__span_eq(tok, kObjectives[i].name)) def = &kObjectives[i];
  if (!def)
    return ts_error_set(err, TS_EUNSUPPORTED, "%s:%d: unknown objective '%.*s'", name, lineno,
                        (int)(tok.e - tok.s > 60 ? 60 : tok.e - tok.s), tok.s);
  snprintf(m->objective_name, sizeof m->objective_name, "%s", def->name);
  m->transform = def->transform;
  m->sigmoid = 1.0;
  bool have_sigmoid = false, have_nc = false, sqrt_ = false;
  long long nc = 0;
  while (ts__next_token(&sp, &tok)) {
    if (ts__span_starts(tok, "sigmoid:")) {
      double s;
      if (ts__parse_double(tok.s + 8, tok.e, &s) != 0 || !(s > 0) || !isfinite(s))
        return ts_error_set(err, TS_EPARSE, "%s:%d: objective: sigmoid must be a number > 0",
                            name, lineno);
      m->sigmoid = s;
      have_sigmoid = true;
    } else if (ts__span_starts(tok, "num_class:")) {
      if (ts__parse_long(tok.s + 10, tok.e, 1, TS_MODEL_MAX_CLASSES, &nc) != 0)
        return ts_error_set(err, TS_EPARSE, "%s:%d: objective: bad num_class", name, lineno);
      have_nc = true;
    } else if (ts__span_eq(tok, "sqrt")) {
      sqrt_ = true;
    }
    /* other tokens (future parameters) are ignored, as LightGBM does */
  }
  if ((def->params & P_SIGMOID) && !have_sigmoid)
    return ts_error_set(err, TS_EPARSE, "%s:%d: objective %s needs a sigmoid: parameter", name,
                        lineno, def->name);
  if (def->params & P_NUM_CLASS) {
    if (!have_nc)
      return ts_error_set(err, TS_EPARSE, "%s:%d: objective %s needs a num_class: parameter",
                          name, lineno, def->name);
    if (nc != m->num_class)
      return ts_error_set(err, TS_EPARSE,
                          "%s:%d: objective num_class:%lld differs from num_class=%d", name,
                          lineno, nc, m->num_class);
  } else if (m->num_class != 1 && def->transform != TS_TRANSFORM_IDENTITY) {
    return ts_error_set(err, TS_EPARSE, "%s:%d: objective %s with num_class=%d", name, lineno,
                        def->name, m->num_class);
  }
  if (sqrt_ && (def->params & P_SQRT)) m->transform = TS_TRANSFORM_SQUARE;
  return 0;
}

const char *ts_model_transform_name(ts_transform t) {
  switch (t) {
  case TS_TRANSFORM_IDENTITY:
    return "identity";
  case TS_TRANSFORM_EXP:
    return "exp";
  case TS_TRANSFORM_SQUARE:
    return "square";
  case TS_TRANSFORM_SIGMOID:
    return "sigmoid";
  case TS_TRANSFORM_LOG1P_EXP:
    return "log1p_exp";
  case TS_TRANSFORM_SOFTMAX:
    return "softmax";
  case TS_TRANSFORM_SIGMOID_OVA:
    return "sigmoid_ova";
  }
  return "unknown";
}
