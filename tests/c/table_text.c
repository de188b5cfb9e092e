/* See table_text.h. Plain C99; reads the Arrow C Data buffers directly. */
#include "table_text.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

__extension__ typedef __int128 int128;
__extension__ typedef unsigned __int128 uint128;

static void fail(char *error, size_t size, const char *fmt, ...) {
    va_list args;
    va_start(args, fmt);
    vsnprintf(error, size, fmt, args);
    va_end(args);
}

static char *copy(const char *text, size_t len) {
    char *out = malloc(len + 1);
    if (out) {
        memcpy(out, text, len);
        out[len] = '\0';
    }
    return out;
}

char *read_file(const char *path) {
    FILE *f = fopen(path, "rb");
    char *buffer = NULL;
    long size;
    if (!f) return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
        buffer = malloc((size_t)size + 1);
        if (buffer && fread(buffer, 1, (size_t)size, f) != (size_t)size) {
            free(buffer);
            buffer = NULL;
        }
        if (buffer) buffer[size] = '\0';
    }
    fclose(f);
    return buffer;
}

/* Days since 1970-01-01 to a civil date (H. Hinnant's algorithm). */
static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d) {
    int64_t era, yoe, doy, mp;
    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    yoe = z - era * 146097;
    yoe = (yoe - yoe / 1460 + yoe / 36524 - yoe / 146096) / 365;
    doy = (z - era * 146097) - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
    *m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static int is_valid(const struct ArrowArray *a, int64_t i) {
    const uint8_t *bits = (const uint8_t *)a->buffers[0];
    return a->null_count == 0 || bits == NULL || (bits[i / 8] >> (i % 8)) & 1;
}

static int64_t read_int(const char *format, const void *buffer, int64_t i) {
    switch (format[0]) {
    case 'c': return ((const int8_t *)buffer)[i];
    case 'C': return ((const uint8_t *)buffer)[i];
    case 's': return ((const int16_t *)buffer)[i];
    case 'S': return ((const uint16_t *)buffer)[i];
    case 'i': return ((const int32_t *)buffer)[i];
    case 'I': return ((const uint32_t *)buffer)[i];
    case 'l': return ((const int64_t *)buffer)[i];
    default: return (int64_t)((const uint64_t *)buffer)[i];
    }
}

static char *decimal_text(int128 value, int scale) {
    char digits[64];
    char out[80];
    size_t n = 0, o = 0, k;
    int negative = value < 0;
    uint128 magnitude = negative ? (uint128)(-(value + 1)) + 1 : (uint128)value;
    do {
        digits[n++] = (char)('0' + (int)(magnitude % 10));
        magnitude /= 10;
    } while (magnitude > 0);
    while ((int)n <= scale) digits[n++] = '0';
    if (negative) out[o++] = '-';
    for (k = n; k > 0; k--) {
        out[o++] = digits[k - 1];
        if (scale > 0 && (int)(k - 1) == scale) out[o++] = '.';
    }
    out[o] = '\0';
    return copy(out, o);
}

/* The canonical text of element i (already offset) of `a`, or NULL with a message. */
static char *cell_text(const struct ArrowSchema *s, const struct ArrowArray *a, int64_t i,
                       char *error, size_t size) {
    const char *f = s->format;
    char buffer[64];
    if (strcmp(f, "n") == 0 || !is_valid(a, i)) return copy("", 0);
    if (s->dictionary) {
        int64_t key = read_int(f, a->buffers[1], i);
        return cell_text(s->dictionary, a->dictionary, a->dictionary->offset + key, error, size);
    }
    if (strcmp(f, "b") == 0) {
        const uint8_t *bits = (const uint8_t *)a->buffers[1];
        return copy((bits[i / 8] >> (i % 8)) & 1 ? "true" : "false", (bits[i / 8] >> (i % 8)) & 1 ? 4 : 5);
    }
    if (strlen(f) == 1 && strchr("cCsSiIlL", f[0])) {
        if (f[0] == 'L')
            snprintf(buffer, sizeof buffer, "%llu",
                     (unsigned long long)((const uint64_t *)a->buffers[1])[i]);
        else
            snprintf(buffer, sizeof buffer, "%lld", (long long)read_int(f, a->buffers[1], i));
        return copy(buffer, strlen(buffer));
    }
    if (strcmp(f, "f") == 0 || strcmp(f, "g") == 0) {
        double v = f[0] == 'f' ? ((const float *)a->buffers[1])[i] : ((const double *)a->buffers[1])[i];
        snprintf(buffer, sizeof buffer, "%.17g", v);
        return copy(buffer, strlen(buffer));
    }
    if (strcmp(f, "u") == 0) {
        const int32_t *offsets = (const int32_t *)a->buffers[1];
        return copy((const char *)a->buffers[2] + offsets[i], (size_t)(offsets[i + 1] - offsets[i]));
    }
    if (strcmp(f, "U") == 0) {
        const int64_t *offsets = (const int64_t *)a->buffers[1];
        return copy((const char *)a->buffers[2] + offsets[i], (size_t)(offsets[i + 1] - offsets[i]));
    }
    if (strcmp(f, "vu") == 0) {
        const uint8_t *view = (const uint8_t *)a->buffers[1] + 16 * i;
        int32_t length, index, offset;
        memcpy(&length, view, 4);
        if (length <= 12) return copy((const char *)view + 4, (size_t)length);
        memcpy(&index, view + 8, 4);
        memcpy(&offset, view + 12, 4);
        return copy((const char *)a->buffers[2 + index] + offset, (size_t)length);
    }
    if (strcmp(f, "tdD") == 0 || strcmp(f, "tdm") == 0) {
        int64_t days = f[2] == 'D' ? ((const int32_t *)a->buffers[1])[i]
                                   : ((const int64_t *)a->buffers[1])[i] / 86400000;
        int64_t y;
        unsigned m, d;
        civil_from_days(days, &y, &m, &d);
        snprintf(buffer, sizeof buffer, "%04lld-%02u-%02u", (long long)y, m, d);
        return copy(buffer, strlen(buffer));
    }
    if (strncmp(f, "d:", 2) == 0) {
        int precision = 0, scale = 0, width = 128;
        int128 value;
        if (sscanf(f, "d:%d,%d,%d", &precision, &scale, &width) < 2 || width != 128) {
            fail(error, size, "unsupported decimal format `%s`", f);
            return NULL;
        }
        memcpy(&value, (const uint8_t *)a->buffers[1] + 16 * i, 16);
        return decimal_text(value, scale);
    }
    fail(error, size, "column `%s`: unsupported Arrow format `%s`", s->name ? s->name : "?", f);
    return NULL;
}

static int is_numeric(const struct ArrowSchema *s) {
    const char *f = s->dictionary ? s->dictionary->format : s->format;
    return strcmp(f, "e") == 0 || strcmp(f, "f") == 0 || strcmp(f, "g") == 0 || strncmp(f, "d:", 2) == 0;
}

/* Appends the rows of one struct array (a record batch) to the table. */
static int append_batch(TextTable *t, const struct ArrowSchema *schema, const struct ArrowArray *batch,
                        char *error, size_t size) {
    size_t c, rows = (size_t)batch->length;
    int64_t r;
    char **cells;
    if ((size_t)batch->n_children != t->n_columns) {
        fail(error, size, "a batch has %lld columns, the schema %zu", (long long)batch->n_children, t->n_columns);
        return -1;
    }
    cells = realloc(t->cells, (t->n_rows + rows) * t->n_columns * sizeof(char *) + 1);
    if (!cells) {
        fail(error, size, "out of memory");
        return -1;
    }
    t->cells = cells;
    for (r = 0; r < batch->length; r++) {
        for (c = 0; c < t->n_columns; c++) {
            const struct ArrowArray *child = batch->children[c];
            char *text = cell_text(schema->children[c], child, child->offset + batch->offset + r, error, size);
            if (!text) return -1;
            t->cells[t->n_rows * t->n_columns + c] = text;
        }
        t->n_rows++;
    }
    return 0;
}

int table_from_stream(struct ArrowArrayStream *stream, TextTable *t, char *error, size_t size) {
    struct ArrowSchema schema;
    int code, status = -1;
    size_t c;
    memset(t, 0, sizeof *t);
    schema.release = NULL;
    if ((code = stream->get_schema(stream, &schema)) != 0) {
        const char *message = stream->get_last_error(stream);
        fail(error, size, "get_schema failed (%d): %s", code, message ? message : "no message");
        goto done;
    }
    if (strcmp(schema.format, "+s") != 0) {
        fail(error, size, "the stream's schema is `%s`, not a struct", schema.format);
        goto done;
    }
    t->n_columns = (size_t)schema.n_children;
    t->names = calloc(t->n_columns + 1, sizeof(char *));
    t->numeric = calloc(t->n_columns + 1, sizeof(int));
    if (!t->names || !t->numeric) {
        fail(error, size, "out of memory");
        goto done;
    }
    for (c = 0; c < t->n_columns; c++) {
        const char *name = schema.children[c]->name ? schema.children[c]->name : "";
        t->names[c] = copy(name, strlen(name));
        t->numeric[c] = is_numeric(schema.children[c]);
    }
    for (;;) {
        struct ArrowArray batch;
        int appended;
        if ((code = stream->get_next(stream, &batch)) != 0) {
            const char *message = stream->get_last_error(stream);
            fail(error, size, "get_next failed (%d): %s", code, message ? message : "no message");
            goto done;
        }
        if (batch.release == NULL) break;
        appended = append_batch(t, &schema, &batch, error, size);
        batch.release(&batch);
        if (appended != 0) goto done;
    }
    status = 0;
done:
    if (schema.release) schema.release(&schema);
    stream->release(stream);
    return status;
}

/* Appends a field to a growing array of cells. */
static int push(char ***cells, size_t *count, size_t *capacity, char *text) {
    if (!text) return -1;
    if (*count == *capacity) {
        size_t grown = *capacity ? 2 * *capacity : 16;
        char **bigger = realloc(*cells, grown * sizeof(char *));
        if (!bigger) {
            free(text);
            return -1;
        }
        *cells = bigger;
        *capacity = grown;
    }
    (*cells)[(*count)++] = text;
    return 0;
}

static char *trimmed(const char *text, size_t len) {
    while (len > 0 && (*text == ' ' || *text == '\t')) text++, len--;
    while (len > 0 && (text[len - 1] == ' ' || text[len - 1] == '\t' || text[len - 1] == '\r')) len--;
    return copy(text, len);
}

/* One record from `*p`: its fields appended to `cells`; returns the number of fields, 0 at a
 * blank line, -1 at the end or on error. */
static long read_record(const char **p, char ***cells, size_t *count, size_t *capacity) {
    const char *s = *p;
    long fields = 0;
    if (*s == '\0') return -1;
    if (*s == '\n' || (*s == '\r' && s[1] == '\n')) {
        *p = s + (*s == '\r' ? 2 : 1);
        return 0;
    }
    for (;;) {
        const char *start;
        while (*s == ' ' || *s == '\t') s++;
        if (*s == '"') {
            /* Quoted: doubled quotes stand for one. */
            size_t len = 0;
            char *text = malloc(strlen(s) + 1);
            if (!text) return -1;
            for (s++; *s; s++) {
                if (*s == '"' && s[1] == '"') text[len++] = '"', s++;
                else if (*s == '"') break;
                else text[len++] = *s;
            }
            if (*s == '"') s++;
            text[len] = '\0';
            while (*s && *s != ',' && *s != '\n') s++;
            if (push(cells, count, capacity, trimmed(text, len)) != 0) {
                free(text);
                return -1;
            }
            free(text);
        } else {
            start = s;
            while (*s && *s != ',' && *s != '\n') s++;
            if (push(cells, count, capacity, trimmed(start, (size_t)(s - start))) != 0) return -1;
        }
        fields++;
        if (*s == ',') {
            s++;
            continue;
        }
        if (*s == '\n') s++;
        *p = s;
        return fields;
    }
}

int table_from_csv(const char *text, TextTable *t, char *error, size_t size) {
    const char *p = text;
    char **cells = NULL;
    size_t count = 0, capacity = 0, c;
    long fields;
    memset(t, 0, sizeof *t);
    while ((fields = read_record(&p, &cells, &count, &capacity)) == 0) {}
    if (fields < 0) {
        fail(error, size, "the CSV has no header");
        free(cells);
        return -1;
    }
    t->n_columns = (size_t)fields;
    t->names = calloc(t->n_columns + 1, sizeof(char *));
    t->numeric = calloc(t->n_columns + 1, sizeof(int));
    for (c = 0; c < t->n_columns; c++) t->names[c] = cells[c];
    count = 0;
    for (;;) {
        size_t before = count;
        fields = read_record(&p, &cells, &count, &capacity);
        if (fields < 0) break;
        if (fields == 0) continue;
        if ((size_t)fields != t->n_columns) {
            fail(error, size, "CSV row %zu has %ld fields, the header %zu", t->n_rows + 1, fields, t->n_columns);
            for (c = before; c < count; c++) free(cells[c]);
            for (c = 0; c < before; c++) free(cells[c]);
            free(cells);
            t->n_rows = 0;
            table_free(t);
            return -1;
        }
        t->n_rows++;
    }
    t->cells = cells;
    return 0;
}

const char *table_cell(const TextTable *t, size_t row, size_t column) {
    return t->cells[row * t->n_columns + column];
}

long table_column(const TextTable *t, const char *name) {
    size_t c;
    for (c = 0; c < t->n_columns; c++)
        if (strcmp(t->names[c], name) == 0) return (long)c;
    return -1;
}

void table_free(TextTable *t) {
    size_t i;
    if (t->names)
        for (i = 0; i < t->n_columns; i++) free(t->names[i]);
    if (t->cells)
        for (i = 0; i < t->n_rows * t->n_columns; i++) free(t->cells[i]);
    free(t->names);
    free(t->numeric);
    free(t->cells);
    memset(t, 0, sizeof *t);
}
