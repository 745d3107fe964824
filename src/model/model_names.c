/*
 * Feature name index: an open-addressing hash table from feature name to
 * feature number, built once at load. Requests look names up per column
 * (OIP per-feature tensors, CSV headers) and per key of every row (records
 * API objects), and the loader per feature_importances line: a linear scan
 * made those O(features^2) per row or per file, seconds for a wide model.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_parse.h"

static bool is_space(char ch) {
  return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\v' || ch == '\f';
}

/* FNV-1a; `fold` maps whitespace to '_' as LightGBM does when it saves names. */
static uint64_t name_hash(const char *s, size_t len, bool fold) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < len; i++) {
    char ch = fold && is_space(s[i]) ? '_' : s[i];
    h = (h ^ (unsigned char)ch) * 0x100000001b3ull;
  }
  return h;
}

static bool name_equal(const char *stored, const char *s, size_t len, bool fold) {
  size_t k = 0;
  for (; k < len && stored[k]; k++) {
    char ch = fold && is_space(s[k]) ? '_' : s[k];
    if (ch != stored[k]) return false;
  }
  return k == len && stored[k] == 0;
}

int ts__names_index_build(ts_model *m, ts_error *err) {
  size_t cap = 16;
  while (cap < 2 * (size_t)m->num_features) cap *= 2;
  int32_t *slots = malloc(cap * sizeof *slots);
  if (!slots) return ts_error_set(err, TS_ENOMEM, "out of memory for the feature name index");
  memset(slots, 0xff, cap * sizeof *slots); /* -1: empty */
  for (int i = 0; i < m->num_features; i++) {
    const char *name = m->feature_names[i];
    size_t len = strlen(name);
    size_t at = (size_t)name_hash(name, len, false) & (cap - 1);
    for (; slots[at] >= 0; at = (at + 1) & (cap - 1))
      if (!strcmp(m->feature_names[slots[at]], name)) break; /* a repeated name: the first one wins */
    if (slots[at] < 0) slots[at] = i;
  }
  free(m->name_slots);
  m->name_slots = slots;
  m->name_mask = cap - 1;
  return 0;
}

static int lookup(const ts_model *m, const char *name, size_t len, bool fold) {
  size_t at = (size_t)name_hash(name, len, fold) & m->name_mask;
  for (; m->name_slots[at] >= 0; at = (at + 1) & m->name_mask)
    if (name_equal(m->feature_names[m->name_slots[at]], name, len, fold)) return m->name_slots[at];
  return -1;
}

int ts_model_find_feature(const ts_model *m, const char *name, size_t len) {
  if (!m->name_slots) return -1;
  /* The exact stored name first, then the name with whitespace read as '_'
   * (LightGBM saves "lepton pT" as "lepton_pT"). */
  int f = lookup(m, name, len, false);
  if (f >= 0) return f;
  for (size_t i = 0; i < len; i++)
    if (is_space(name[i])) return lookup(m, name, len, true);
  return -1;
}
