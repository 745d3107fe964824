/*
 * A bounded CSV reader over a buffer in memory (RFC 4180).
 *
 * Records are returned as arrays of {ptr,len} slices. Unquoted fields and
 * quoted fields without "" escapes point straight into the caller's buffer;
 * only quoted fields containing "" are unescaped, into a scratch buffer owned
 * by the reader. Accepted: a UTF-8 byte-order mark at the start, LF, CRLF and
 * lone CR line ends, a missing newline after the last record, commas, quotes
 * and newlines inside quoted fields. Rejected with "name:line: message": an
 * unterminated quoted field, text after a closing quote, a quote inside an
 * unquoted field, and any record, field or column count above the limits.
 *
 * A reader is used by one thread at a time; different readers are independent.
 */
#ifndef TS_IO_CSV_H
#define TS_IO_CSV_H

#include <stdbool.h>
#include <stddef.h>

#include "treeserve/error.h"

/* Default limits (see ts_csv_limits). */
#define TS_CSV_MAX_COLUMNS 100000           /* fields per record */
#define TS_CSV_MAX_FIELD_BYTES (1u << 20)   /* bytes of one field, quotes included */
#define TS_CSV_MAX_RECORD_BYTES (64u << 20) /* bytes of one record (may span lines) */

typedef struct ts_csv_limits {
  size_t max_columns;
  size_t max_field_bytes;
  size_t max_record_bytes;
} ts_csv_limits;

/* One field of the current record. Valid until the next ts_csv_next call or
 * ts_csv_close; not NUL-terminated. `quoted` tells "" (an empty quoted string)
 * apart from an empty unquoted field. */
typedef struct ts_csv_field {
  const char *ptr;
  size_t len;
  bool quoted;
} ts_csv_field;

typedef struct ts_csv_reader ts_csv_reader;

/* Starts reading buf[0..len) (borrowed: it must outlive the reader and not
 * change). `name` (copied, may be NULL) prefixes error messages. `limits` may
 * be NULL for the TS_CSV_MAX_* defaults; a zero member also means its default.
 * Returns 0 and a new reader in *out, or TS_ENOMEM. */
int ts_csv_open(const char *buf, size_t len, const char *name, const ts_csv_limits *limits,
                ts_csv_reader **out, ts_error *err);

/* Frees the reader (NULL is fine). The caller's buffer is untouched. */
void ts_csv_close(ts_csv_reader *r);

/* Reads the next record. Returns 1 with *fields (an array owned by the reader)
 * and *nfields set, 0 at the end of the input, or a negative TS_E* code
 * (TS_EPARSE for malformed CSV, TS_ELIMIT for a limit, TS_ENOMEM) with err
 * naming "name:line". A line with no characters at all is returned as one
 * empty unquoted field; callers decide whether that is a blank line to skip.
 * After an error the reader must not be used further (except to close it). */
int ts_csv_next(ts_csv_reader *r, const ts_csv_field **fields, size_t *nfields, ts_error *err);

/* 1-based line number where the record last returned by ts_csv_next starts
 * (quoted newlines count as lines, so it matches what an editor shows). */
size_t ts_csv_line(const ts_csv_reader *r);

/* The name given to ts_csv_open ("<input>" when NULL). */
const char *ts_csv_name(const ts_csv_reader *r);

#endif
