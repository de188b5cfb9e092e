/* Helpers shared by the C examples: reading a file, printing an Arrow C stream. */
#ifndef CAAS_EXAMPLE_PRINT_H
#define CAAS_EXAMPLE_PRINT_H

#include <stdio.h>

#include "caas.h"

/* Reads a whole file into a NUL-terminated buffer that the caller frees, or NULL. */
char *read_text_file(const char *path);

/* Prints the status's last error to stderr and returns 1 (for `return fail(...)`). */
int fail(const char *what);

/* Writes `text` to the file `path`. Returns 0, or -1 (with errno set). */
int write_text_file(const char *path, const char *text);

/* Prints one line per kind of data-quality finding that some rows have, from the JSON of
 * caas_result_data_quality_json, and returns how many lines it printed. */
int print_data_quality(const char *json, FILE *out);

/* Prints every batch of `stream` to `out`: with `csv`, as CSV with a header; otherwise as
 * aligned columns. Then releases the stream. Returns 0, or -1 if the stream failed.
 * Columns of types other than integers, text, booleans, floats and dates print as `?`. */
int print_stream(struct ArrowArrayStream *stream, FILE *out, int csv);

#endif
