/*
 * Reading an Arrow C stream into a table of text cells, in the canonical form of the
 * conformance suite (tests/conformance/README.md): null is the empty string, booleans
 * true/false, dates YYYY-MM-DD, integers in plain decimal, decimals and floats as numbers.
 * And a small RFC 4180 CSV reader for the expected tables.
 */
#ifndef CAAS_TEST_TABLE_TEXT_H
#define CAAS_TEST_TABLE_TEXT_H

#include <stddef.h>

#include "caas.h"

/* A table of text cells. `numeric[c]` says whether column c is compared as numbers. */
typedef struct TextTable {
    size_t n_columns;
    size_t n_rows;
    char **names;   /* n_columns names */
    int *numeric;   /* n_columns flags (0 for tables read from CSV) */
    char **cells;   /* n_rows * n_columns cells, row by row */
} TextTable;

/* Reads `stream` to its end into `table` and releases the stream. Returns 0, or -1 with a
 * message in `error` (of `error_size` bytes); the stream is released in both cases. */
int table_from_stream(struct ArrowArrayStream *stream, TextTable *table, char *error,
                      size_t error_size);

/* Parses CSV text (a header, then rows; fields trimmed of surrounding whitespace; blank
 * lines skipped). Returns 0, or -1 with a message. */
int table_from_csv(const char *text, TextTable *table, char *error, size_t error_size);

/* The cell at (row, column). */
const char *table_cell(const TextTable *table, size_t row, size_t column);

/* Index of the column named `name`, or -1. */
long table_column(const TextTable *table, const char *name);

void table_free(TextTable *table);

/* Reads a whole file into a NUL-terminated buffer (to free), or NULL. */
char *read_file(const char *path);

#endif
