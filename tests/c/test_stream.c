/* See test_stream.h. */
#include "test_stream.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef struct Producer {
    const TestColumn *columns;
    size_t n_columns;
    int64_t rows;
    TestStreamOptions options;
    int sent;
} Producer;

static void release_schema(struct ArrowSchema *schema) {
    int64_t i;
    for (i = 0; i < schema->n_children; i++) {
        struct ArrowSchema *child = schema->children[i];
        if (child->release) child->release(child);
        free(child);
    }
    free(schema->children);
    schema->release = NULL;
}

static void init_schema(struct ArrowSchema *schema, const char *format, const char *name, int64_t flags) {
    memset(schema, 0, sizeof *schema);
    schema->format = format;
    schema->name = name;
    schema->flags = flags;
    schema->release = release_schema;
}

static int get_schema(struct ArrowArrayStream *stream, struct ArrowSchema *out) {
    Producer *p = (Producer *)stream->private_data;
    size_t i;
    if (p->options.fail_get_schema) return EIO;
    init_schema(out, "+s", "", 0);
    out->n_children = (int64_t)p->n_columns;
    out->children = calloc(p->n_columns, sizeof(struct ArrowSchema *));
    for (i = 0; i < p->n_columns; i++) {
        out->children[i] = malloc(sizeof(struct ArrowSchema));
        init_schema(out->children[i], p->columns[i].format, p->columns[i].name, ARROW_FLAG_NULLABLE);
    }
    return 0;
}

static void release_array(struct ArrowArray *array) {
    int64_t i;
    for (i = 0; i < array->n_buffers; i++) free((void *)array->buffers[i]);
    free(array->buffers);
    for (i = 0; i < array->n_children; i++) {
        struct ArrowArray *child = array->children[i];
        if (child->release) child->release(child);
        free(child);
    }
    free(array->children);
    array->release = NULL;
}

static void init_array(struct ArrowArray *array, int64_t length, int64_t n_buffers) {
    memset(array, 0, sizeof *array);
    array->length = length;
    array->n_buffers = n_buffers;
    array->buffers = calloc((size_t)n_buffers, sizeof(void *));
    array->release = release_array;
}

static uint8_t *bitmap(int64_t rows, int (*valid)(const TestColumn *, int64_t), const TestColumn *column,
                       int64_t *null_count) {
    uint8_t *bits = calloc((size_t)(rows / 8 + 1), 1);
    int64_t r;
    *null_count = 0;
    for (r = 0; r < rows; r++) {
        if (valid(column, r)) bits[r / 8] |= (uint8_t)(1u << (r % 8));
        else (*null_count)++;
    }
    return bits;
}

static int flag_valid(const TestColumn *column, int64_t r) {
    return column->valid == NULL || column->valid[r];
}

static int text_valid(const TestColumn *column, int64_t r) {
    return ((const char *const *)column->values)[r] != NULL;
}

static void fill_column(struct ArrowArray *array, const TestColumn *column, int64_t rows, int corrupt) {
    if (strcmp(column->format, "u") == 0) {
        const char *const *texts = (const char *const *)column->values;
        int32_t *offsets = malloc(sizeof(int32_t) * (size_t)(rows + 1));
        size_t total = 0;
        char *data;
        int64_t r;
        for (r = 0; r < rows; r++) total += texts[r] ? strlen(texts[r]) : 0;
        data = malloc(total + 1);
        offsets[0] = 0;
        for (r = 0; r < rows; r++) {
            size_t len = texts[r] ? strlen(texts[r]) : 0;
            if (len) memcpy(data + offsets[r], texts[r], len);
            offsets[r + 1] = offsets[r] + (int32_t)len;
        }
        /* Not UTF-8: a consumer can tell this from the buffers (unlike offsets that point
         * past the data, which no consumer of the C Data interface can check). */
        if (corrupt && total > 0) data[0] = (char)0xff;
        init_array(array, rows, 3);
        array->buffers[0] = bitmap(rows, text_valid, column, &array->null_count);
        array->buffers[1] = offsets;
        array->buffers[2] = data;
    } else {
        size_t width = strcmp(column->format, "l") == 0 ? 8 : 4;
        void *values = malloc(width * (size_t)rows + 1);
        memcpy(values, column->values, width * (size_t)rows);
        init_array(array, rows, 2);
        array->buffers[0] = bitmap(rows, flag_valid, column, &array->null_count);
        array->buffers[1] = values;
    }
}

static int get_next(struct ArrowArrayStream *stream, struct ArrowArray *out) {
    Producer *p = (Producer *)stream->private_data;
    size_t i;
    if (p->options.fail_get_next) return EIO;
    if (p->sent) {
        memset(out, 0, sizeof *out); /* released: the end */
        return 0;
    }
    p->sent = 1;
    init_array(out, p->rows, 1);
    out->n_children = (int64_t)p->n_columns;
    out->children = calloc(p->n_columns, sizeof(struct ArrowArray *));
    for (i = 0; i < p->n_columns; i++) {
        out->children[i] = malloc(sizeof(struct ArrowArray));
        fill_column(out->children[i], &p->columns[i], p->rows, p->options.corrupt_text);
    }
    return 0;
}

static const char *get_last_error(struct ArrowArrayStream *stream) {
    Producer *p = (Producer *)stream->private_data;
    return p->options.error_message;
}

static void release_stream(struct ArrowArrayStream *stream) {
    Producer *p = (Producer *)stream->private_data;
    if (p->options.releases) (*p->options.releases)++;
    free(p);
    stream->release = NULL;
}

void test_stream_init(struct ArrowArrayStream *out, const TestColumn *columns, size_t n_columns, int64_t rows,
                      const TestStreamOptions *options) {
    Producer *p = calloc(1, sizeof *p);
    p->columns = columns;
    p->n_columns = n_columns;
    p->rows = rows;
    if (options) p->options = *options;
    out->get_schema = get_schema;
    out->get_next = get_next;
    out->get_last_error = get_last_error;
    out->release = release_stream;
    out->private_data = p;
}
