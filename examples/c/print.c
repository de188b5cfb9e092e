/* See print.h. Reads the Arrow C Data buffers directly, as a C program without an Arrow
 * library would. */
#include "print.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

char *read_text_file(const char *path) {
    FILE *f = fopen(path, "rb");
    char *text = NULL;
    long size;
    if (!f) return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (text = malloc((size_t)size + 1)) != NULL) {
        if (fread(text, 1, (size_t)size, f) == (size_t)size) {
            text[size] = '\0';
        } else {
            free(text);
            text = NULL;
        }
    }
    fclose(f);
    return text;
}

int write_text_file(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    size_t size = strlen(text);
    int written;
    if (!f) return -1;
    written = fwrite(text, 1, size, f) == size;
    return fclose(f) == 0 && written ? 0 : -1;
}

/* Finds `"key"` at or after `from` and reads its value (a string without escapes, or a bare
 * number) into `value`. Returns the position after the value, or NULL. */
static const char *json_value(const char *from, const char *key, char *value, size_t size) {
    char quoted[64];
    const char *at;
    size_t n = 0;
    snprintf(quoted, sizeof quoted, "\"%s\"", key);
    at = strstr(from, quoted);
    if (!at) return NULL;
    at += strlen(quoted);
    while (*at == ' ' || *at == ':' || *at == '\n' || *at == '\r' || *at == '\t') at++;
    if (*at == '"') {
        for (at++; *at && *at != '"'; at++)
            if (n + 1 < size) value[n++] = *at;
        if (*at) at++;
    } else {
        for (; *at && strchr(",}] \n\r\t", *at) == NULL; at++)
            if (n + 1 < size) value[n++] = *at;
    }
    value[n] = '\0';
    return at;
}

/* A program of its own would read the JSON with a JSON library; this example has none,
 * so it scans for the keys, relying only on the order of the keys of each finding (kind,
 * column, count, policy) that the header documents. */
int print_data_quality(const char *json, FILE *out) {
    char table[128] = "", kind[64], column[128], count[32], policy[16];
    const char *at = json;
    int lines = 0;
    for (;;) {
        const char *next_table = strstr(at, "\"table\"");
        const char *next_kind = strstr(at, "\"kind\"");
        if (!next_kind) break;
        if (next_table && next_table < next_kind) {
            at = json_value(next_table, "table", table, sizeof table);
            continue;
        }
        at = json_value(next_kind, "kind", kind, sizeof kind);
        if (at) at = json_value(at, "column", column, sizeof column);
        if (at) at = json_value(at, "count", count, sizeof count);
        if (at) at = json_value(at, "policy", policy, sizeof policy);
        if (!at) break;
        if (strcmp(count, "0") != 0) {
            fprintf(out, "Data quality: table `%s`, column `%s`: %s row(s) with `%s` (policy %s)\n", table, column,
                    count, kind, policy);
            lines++;
        }
    }
    return lines;
}

int fail(const char *what) {
    fprintf(stderr, "%s failed: [%s] %s\n", what, caas_last_error_code(), caas_last_error_message());
    return 1;
}

/* Writes the text of element i (the array's offset included) into `cell`. */
static void format_cell(const struct ArrowSchema *schema, const struct ArrowArray *array, int64_t i, char *cell,
                        size_t size) {
    const char *f = schema->format;
    const uint8_t *validity = (const uint8_t *)array->buffers[0];
    const void *values = array->n_buffers > 1 ? array->buffers[1] : NULL;
    if (validity && !((validity[i / 8] >> (i % 8)) & 1)) {
        snprintf(cell, size, "%s", "");
    } else if (strcmp(f, "l") == 0) {
        snprintf(cell, size, "%lld", (long long)((const int64_t *)values)[i]);
    } else if (strcmp(f, "i") == 0) {
        snprintf(cell, size, "%d", ((const int32_t *)values)[i]);
    } else if (strcmp(f, "g") == 0) {
        snprintf(cell, size, "%g", ((const double *)values)[i]);
    } else if (strcmp(f, "b") == 0) {
        snprintf(cell, size, "%s", (((const uint8_t *)values)[i / 8] >> (i % 8)) & 1 ? "true" : "false");
    } else if (strcmp(f, "u") == 0) {
        const int32_t *offsets = (const int32_t *)values;
        snprintf(cell, size, "%.*s", (int)(offsets[i + 1] - offsets[i]), (const char *)array->buffers[2] + offsets[i]);
    } else if (strcmp(f, "tdD") == 0) {
        /* Days since 1970-01-01 to a calendar date (H. Hinnant's civil_from_days). */
        int64_t z = ((const int32_t *)values)[i] + 719468;
        int64_t era = (z >= 0 ? z : z - 146096) / 146097, doe = z - era * 146097;
        int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
        int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
        int64_t day = doy - (153 * mp + 2) / 5 + 1, month = mp < 10 ? mp + 3 : mp - 9;
        snprintf(cell, size, "%04lld-%02lld-%02lld", (long long)(yoe + era * 400 + (month <= 2)), (long long)month,
                 (long long)day);
    } else {
        snprintf(cell, size, "?");
    }
}

/* Writes cell c of n: separated by commas (CSV) or padded to columns of 14 characters. */
static void put_cell(FILE *out, const char *text, int64_t c, int64_t n, int csv) {
    if (c > 0) fputc(csv ? ',' : ' ', out);
    fprintf(out, csv || c == n - 1 ? "%s" : "%-14s", text);
    if (c == n - 1) fputc('\n', out);
}

int print_stream(struct ArrowArrayStream *stream, FILE *out, int csv) {
    struct ArrowSchema schema;
    struct ArrowArray batch;
    int64_t c, r;
    int status = 0;
    char cell[256];
    if (stream->get_schema(stream, &schema) != 0) {
        const char *error = stream->get_last_error(stream);
        fprintf(stderr, "get_schema failed: %s\n", error ? error : "no message");
        stream->release(stream);
        return -1;
    }
    for (c = 0; c < schema.n_children; c++) put_cell(out, schema.children[c]->name, c, schema.n_children, csv);
    for (;;) {
        if (stream->get_next(stream, &batch) != 0) {
            const char *error = stream->get_last_error(stream);
            fprintf(stderr, "get_next failed: %s\n", error ? error : "no message");
            status = -1;
            break;
        }
        if (batch.release == NULL) break; /* the end of the stream */
        for (r = 0; r < batch.length; r++) {
            for (c = 0; c < batch.n_children; c++) {
                const struct ArrowArray *column = batch.children[c];
                format_cell(schema.children[c], column, column->offset + batch.offset + r, cell, sizeof cell);
                put_cell(out, cell, c, batch.n_children, csv);
            }
        }
        batch.release(&batch);
    }
    schema.release(&schema);
    stream->release(stream);
    return status;
}
