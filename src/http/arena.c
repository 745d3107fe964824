/* treeserve arena: see arena.h. */
#include "http/arena.h"

#include <stdint.h>
#include <stdlib.h>

#define ALIGN 16

struct ts_arena_block {
  ts_arena_block *next;
  size_t size; /* usable bytes in data[] */
  size_t used;
  _Alignas(16) unsigned char data[];
};

void ts_arena_init(ts_arena *a, size_t block_size, size_t max_bytes) {
  a->head = NULL;
  a->used_total = 0;
  a->max_bytes = max_bytes;
  a->block_size = block_size < 1024 ? 1024 : block_size;
}

static ts_arena_block *new_block(size_t size) {
  ts_arena_block *b = malloc(sizeof(*b) + size);
  if (!b) return NULL;
  b->next = NULL;
  b->size = size;
  b->used = 0;
  return b;
}

void *ts_arena_alloc(ts_arena *a, size_t n) {
  if (n == 0) n = 1;
  if (n > SIZE_MAX - ALIGN) return NULL;
  size_t need = (n + ALIGN - 1) & ~(size_t)(ALIGN - 1);
  if (need > a->max_bytes || a->used_total > a->max_bytes - need) return NULL;
  ts_arena_block *b = a->head;
  if (!b || b->size - b->used < need) {
    /* The first block has the kept size; later ones grow geometrically so a
     * big request needs only a few mallocs, and a huge allocation gets a block
     * of its own. */
    size_t size = a->block_size;
    if (b) size = b->size * 2;
    if (size < need) size = need;
    ts_arena_block *nb = new_block(size);
    if (!nb) return NULL;
    nb->next = b;
    a->head = b = nb;
  }
  void *p = b->data + b->used;
  b->used += need;
  a->used_total += need;
  return p;
}

void *ts_arena_alloc_array(ts_arena *a, size_t count, size_t size) {
  if (size && count > SIZE_MAX / size) return NULL;
  return ts_arena_alloc(a, count * size);
}

void ts_arena_reset(ts_arena *a) {
  ts_arena_block *b = a->head;
  /* Keep the oldest block (the last in the list) when it has the base size. */
  while (b && b->next) {
    ts_arena_block *next = b->next;
    free(b);
    b = next;
  }
  if (b && b->size != a->block_size) {
    free(b);
    b = NULL;
  }
  if (b) b->used = 0;
  a->head = b;
  a->used_total = 0;
}

void ts_arena_free(ts_arena *a) {
  ts_arena_block *b = a->head;
  while (b) {
    ts_arena_block *next = b->next;
    free(b);
    b = next;
  }
  a->head = NULL;
  a->used_total = 0;
}
