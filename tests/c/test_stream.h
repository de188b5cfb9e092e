/*
 * A producer of Arrow C streams for the tests: one batch built from C arrays, with ways to
 * fail (get_schema or get_next errors, with or without a message; text that is not UTF-8;
 * missing callbacks) and a count of how often the stream was released.
 */
#ifndef CAAS_TEST_STREAM_H
#define CAAS_TEST_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "caas.h"

/* One column: `format` is "l" (values: int64_t[]), "tdD" (int32_t[] days since
 * 1970-01-01) or "u" (const char *[], NULL for null). `valid` (0/1 per row, or NULL for
 * all valid) marks nulls of "l" and "tdD" columns. */
typedef struct TestColumn {
    const char *name;
    const char *format;
    const void *values;
    const uint8_t *valid;
} TestColumn;

typedef struct TestStreamOptions {
    int fail_get_schema;       /* get_schema returns EIO */
    int fail_get_next;         /* get_next returns EIO */
    const char *error_message; /* what get_last_error says after a failure (NULL: nothing) */
    int corrupt_text;          /* text columns hold a byte that is not UTF-8 */
    int *releases;             /* incremented by each call of the stream's release */
} TestStreamOptions;

/* Initialises `out` as a stream of one batch of `rows` rows. `columns` and the arrays they
 * point to must outlive the stream. */
void test_stream_init(struct ArrowArrayStream *out, const TestColumn *columns, size_t n_columns, int64_t rows,
                      const TestStreamOptions *options);

#endif
