/*
 * Unit tests of api/ helpers that HTTP tests cannot reach: the status class
 * ts__api_predict gives when the engine itself fails. A failure after the
 * request was validated is the server's (500, or 503 when memory ran out),
 * never 422, which tells a client to change its request. And the name
 * ts__api_known_keys gives an object in its 422.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api/api_internal.h"
#include "model_fixture.h"
#include "treeserve/explain.h"

typedef struct fixture {
  ts_forest *forest;
  ts_explainer *explainer;
  ts_repo_model_config config;
  ts_repo_entry entry;
} fixture;

static int setup(void **state) {
  fixture *fx = calloc(1, sizeof *fx);
  ts_model *m = NULL;
  ts_error err;
  if (!fx || ts_model_load_buffer(kFixtureModel, strlen(kFixtureModel), "fixture", &m, &err) ||
      ts_forest_build(m, &fx->forest, &err) || ts_explainer_build(fx->forest, &fx->explainer, &err))
    return -1;
  fx->config.default_output = TS_PREDICT_VALUE;
  fx->entry = (ts_repo_entry){.name = "fx", .version = 1, .version_str = "1", .forest = fx->forest,
                              .explainer = fx->explainer, .config = &fx->config};
  *state = fx;
  return 0;
}

static int teardown(void **state) {
  fixture *fx = *state;
  ts_explainer_free(fx->explainer);
  ts_forest_free(fx->forest);
  free(fx);
  return 0;
}

/* Runs ts__api_predict and returns the status it set (200 when it succeeded). */
static int predict_status(const ts_repo_entry *e, ts_predict_type type, size_t F, char *msg, size_t cap) {
  ts_jw w;
  ts_jw_init(&w, 1 << 16);
  ts_http_resp resp = {.status = 200, .body = &w};
  double X[8] = {0.1, 0.2, 1, 0.3, 0.4, 2, 0, 0}, out[64];
  ts_predict_opts opts = {type, 0, 0};
  int rc = ts__api_predict(e, &opts, X, 2, F, out, &resp);
  snprintf(msg, cap, "%.*s", (int)w.len, w.buf ? w.buf : "");
  ts_jw_free(&w);
  assert_int_equal(rc == 0, resp.status == 200);
  return resp.status;
}

static void test_predict_ok(void **state) {
  fixture *fx = *state;
  char msg[512];
  int F = ts_model_num_features(ts_forest_model(fx->forest));
  assert_int_equal(predict_status(&fx->entry, TS_PREDICT_VALUE, (size_t)F, msg, sizeof msg), 200);
  assert_int_equal(predict_status(&fx->entry, TS_PREDICT_CONTRIB, (size_t)F, msg, sizeof msg), 200);
}

/* A row stride below the model's features is a caller bug inside the server
 * (the handlers always pass the model's own count): the engine refuses it,
 * and the answer must say the server failed. */
static void test_engine_failure_is_500(void **state) {
  fixture *fx = *state;
  char msg[512];
  int F = ts_model_num_features(ts_forest_model(fx->forest));
  const ts_predict_type types[] = {TS_PREDICT_VALUE, TS_PREDICT_RAW, TS_PREDICT_LEAF, TS_PREDICT_CONTRIB};
  for (size_t i = 0; i < sizeof types / sizeof *types; i++) {
    int st = predict_status(&fx->entry, types[i], (size_t)F - 1, msg, sizeof msg);
    if (st != 500) fail_msg("type %d: status %d (%s)", (int)types[i], st, msg);
    assert_non_null(strstr(msg, "stride"));
  }
}

/* Without an explainer, contrib is a property of the model the client can
 * act on (ask another output): 422. */
static void test_no_explainer_is_422(void **state) {
  fixture *fx = *state;
  char msg[512];
  ts_repo_entry e = fx->entry;
  e.explainer = NULL;
  int F = ts_model_num_features(ts_forest_model(fx->forest));
  assert_int_equal(predict_status(&e, TS_PREDICT_CONTRIB, (size_t)F, msg, sizeof msg), 422);
  assert_non_null(strstr(msg, "no SHAP explainer"));
}

/* ts__api_known_keys names the object only when it reports an unknown key:
 * "inputs[2].parameters" from ("inputs", 2, ".parameters"). */
static void check_known_keys(const char *js, const char *where, int idx, const char *suffix, const char *want) {
  static const char *const known[] = {"a", "b", NULL};
  ts_json_tok toks[32];
  ts_json_doc doc;
  ts_error err;
  assert_int_equal(ts_json_parse(&doc, js, strlen(js), toks, 32, 8, &err), 0);
  ts_jw w;
  ts_jw_init(&w, 1 << 12);
  ts_http_resp resp = {.status = 200, .body = &w};
  int rc = ts__api_known_keys(&doc, 0, known, where, idx, suffix, &resp);
  if (!want) {
    assert_int_equal(rc, 0);
    assert_int_equal(resp.status, 200);
  } else {
    assert_int_equal(rc, -1);
    assert_int_equal(resp.status, 422);
    if (!w.buf || !memmem(w.buf, w.len, want, strlen(want)))
      fail_msg("want '%s' in %.*s", want, (int)w.len, w.buf ? w.buf : "");
  }
  ts_jw_free(&w);
}

static void test_known_keys_names_the_object(void **state) {
  (void)state;
  check_known_keys("{\"a\":1,\"b\":2}", "inputs", 3, ".parameters", NULL);
  check_known_keys("{\"a\":1,\"zz\":2}", "inputs", 3, ".parameters",
                   "unknown key 'zz' in inputs[3].parameters (known: a, b)");
  check_known_keys("{\"zz\":2}", "outputs", 0, NULL, "unknown key 'zz' in outputs[0] (known: a, b)");
  check_known_keys("{\"zz\":2}", "the request", -1, NULL, "unknown key 'zz' in the request (known: a, b)");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_predict_ok, setup, teardown),
      cmocka_unit_test_setup_teardown(test_engine_failure_is_500, setup, teardown),
      cmocka_unit_test_setup_teardown(test_no_explainer_is_422, setup, teardown),
      cmocka_unit_test(test_known_keys_names_the_object),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
