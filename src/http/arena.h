/*
 * treeserve arena: a bump allocator for memory that lives exactly as long as
 * one request (parsed tokens, feature matrix, outputs).
 *
 * Allocation is a pointer bump in the current block; ts_arena_reset() makes
 * all of it free again at once while keeping the first block, so a thread that
 * serves request after request reaches a steady state with no malloc at all.
 * The total is capped (`max_bytes`): an allocation that would cross it returns
 * NULL, which callers turn into a "request too large" answer rather than
 * letting one request take the machine's memory.
 *
 * Thread-safety: none; an arena belongs to one thread at a time.
 */
#ifndef TS_HTTP_ARENA_H
#define TS_HTTP_ARENA_H

#include <stddef.h>

typedef struct ts_arena_block ts_arena_block;

typedef struct ts_arena {
  ts_arena_block *head;  /* current block (most recent first) */
  size_t used_total;     /* bytes handed out since the last reset, incl. padding */
  size_t max_bytes;      /* cap on used_total */
  size_t block_size;     /* size of the first (kept) block */
} ts_arena;

/* Initializes an empty arena; nothing is allocated until the first use.
 * block_size is the size kept across resets (e.g. 64 KiB). */
void ts_arena_init(ts_arena *a, size_t block_size, size_t max_bytes);

/* Returns `n` bytes aligned for any type (16 bytes), or NULL when the cap
 * would be crossed or malloc fails. Memory is uninitialized. */
void *ts_arena_alloc(ts_arena *a, size_t n);

/* Same, for `count` elements of `size` bytes, with overflow checked. */
void *ts_arena_alloc_array(ts_arena *a, size_t count, size_t size);

/* Frees every block but the first and makes all memory available again.
 * Pointers handed out before are invalid afterwards. */
void ts_arena_reset(ts_arena *a);

/* Frees everything. The arena may be initialized again. */
void ts_arena_free(ts_arena *a);

#endif
