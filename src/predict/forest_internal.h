/*
 * The compiled forest: every tree flattened into one array of 16-byte nodes
 * (no pointers), shared by predict/ modules only.
 *
 * Layout of one tree: its nodes in depth-first pre-order, leaves included.
 * The left child of an internal node is always the next node (i + 1); the
 * right child index is stored. So a 255-leaf tree takes 509 * 16 bytes = 8 KB,
 * contiguous, and a descent touches one cache line per level at most.
 *
 * A leaf is a node that points to itself: feature 0, threshold a quiet NaN
 * (x <= NaN is false for every x, and NAN_LEFT is clear, so the step goes
 * "right" = to itself), whose NaN payload holds the leaf index. This lets the
 * branch-free kernels step several (row, tree) lanes in lockstep until all
 * have reached their leaves, without a per-lane "is this a leaf" branch. The
 * leaf's output is forest->leaf_values[tree.leaf_base + leaf index].
 *
 * Decisions are pre-digested at build time so that the common numerical node
 * costs one compare plus a NaN test:
 *   go_left = x <= thr  ||  (x is NaN && NAN_LEFT)
 * where NAN_LEFT encodes LightGBM's rule for that node (missing type None:
 * NaN becomes 0.0, so NAN_LEFT = (0 <= thr); missing type NaN: NAN_LEFT =
 * default_left). Missing type Zero and categorical nodes take a slower path.
 * LightGBM's C API also turns every input with |x| <= kZeroThreshold into
 * 0.0; instead of touching the input, thresholds in (-kZT, kZT) are moved to
 * the value that gives the same decision (see compile_tree in forest.c).
 */
#ifndef TS_FOREST_INTERNAL_H
#define TS_FOREST_INTERNAL_H

#include <stdint.h>
#include <string.h>

#include "model/model_internal.h"
#include "treeserve/predict.h"

/* flags in the top byte of ts_fnode.ff; feature index in the low 24 bits */
#define TS_FN_LEAF 0x80000000u
#define TS_FN_CAT 0x40000000u
#define TS_FN_ZERO 0x20000000u     /* missing type Zero */
#define TS_FN_NAN_LEFT 0x10000000u /* NaN goes left (see above) */
#define TS_FN_DEFAULT_LEFT 0x08000000u
#define TS_FN_FEAT_MASK 0x00FFFFFFu

typedef struct ts_fnode {
  union {
    double thr;   /* numerical threshold (internal) or NaN with leaf index payload (leaf) */
    struct {
      uint32_t off, len; /* categorical: bitset words in forest->cat_words */
    } cat;
  } u;
  uint32_t ff;    /* flags | feature */
  int32_t right;  /* right child index within the tree; a leaf's own index */
} ts_fnode;

typedef struct ts_ftree {
  uint32_t first;     /* index of the root in forest->nodes */
  uint32_t nnodes;
  uint32_t leaf_base; /* index of leaf 0's value in forest->leaf_values */
  int32_t linear;     /* index into the model's trees if the tree is linear, else -1 */
  int32_t max_depth;
  bool simple;        /* only plain numerical nodes, not linear: the branch-free kernels apply */
} ts_ftree;

/* Leaf index stored in a leaf node's NaN payload. */
static inline uint32_t ts__fnode_leaf(const ts_fnode *nd) {
  uint64_t bits;
  memcpy(&bits, &nd->u.thr, sizeof bits);
  return (uint32_t)bits;
}

struct ts_forest {
  ts_model *model;
  int num_trees;
  int num_class; /* trees per iteration == output columns */
  int num_features;
  ts_transform transform;
  double sigmoid;
  bool average_output;
  ts_ftree *trees;
  ts_fnode *nodes;
  double *leaf_values;
  uint32_t *cat_words;
  size_t num_nodes, num_leaves, num_cat_words;
};

#endif
