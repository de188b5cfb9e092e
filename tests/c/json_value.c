#include "json_value.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static const char *skip_space(const char *p) {
    while (*p && isspace((unsigned char)*p)) p++;
    return p;
}

static char *copy(const char *start, size_t len) {
    char *out = malloc(len + 1);
    if (out) {
        memcpy(out, start, len);
        out[len] = '\0';
    }
    return out;
}

/* Parses a string starting at its opening quote; returns the text after the closing quote
 * and the unescaped content in `*out`, or NULL. */
static const char *parse_string(const char *p, char **out) {
    const char *start = ++p;
    char *o;
    size_t len = 0;
    while (*p && *p != '"') {
        if (*p == '\\' && p[1]) p++;
        p++;
        len++;
    }
    if (*p != '"') return NULL;
    *out = malloc(2 * len + 1);
    if (!*out) return NULL;
    o = *out;
    for (p = start; *p != '"'; p++) {
        if (*p != '\\') {
            *o++ = *p;
            continue;
        }
        p++;
        switch (*p) {
        case 'b': *o++ = '\b'; break;
        case 'f': *o++ = '\f'; break;
        case 'n': *o++ = '\n'; break;
        case 'r': *o++ = '\r'; break;
        case 't': *o++ = '\t'; break;
        case 'u': *o++ = '\\'; *o++ = 'u'; break;
        default: *o++ = *p; break;
        }
    }
    *o = '\0';
    return p + 1;
}

static const char *parse_value(const char *p, JsonValue *out, int depth);

/* Parses the items of an array or object after its opening bracket. */
static const char *parse_items(const char *p, JsonValue *out, int object, int depth) {
    char close = object ? '}' : ']';
    size_t capacity = 0;
    p = skip_space(p);
    if (*p == close) return p + 1;
    for (;;) {
        char *key = NULL;
        if (out->n == capacity) {
            size_t more = capacity ? 2 * capacity : 4;
            JsonValue *items = realloc(out->items, more * sizeof *items);
            char **keys = object ? realloc(out->keys, more * sizeof *keys) : NULL;
            if (items) out->items = items;
            if (keys) out->keys = keys;
            if (!items || (object && !keys)) return NULL;
            capacity = more;
        }
        p = skip_space(p);
        if (object) {
            if (*p != '"' || !(p = parse_string(p, &key))) return NULL;
            p = skip_space(p);
            if (*p != ':') {
                free(key);
                return NULL;
            }
            p++;
            out->keys[out->n] = key;
        }
        memset(&out->items[out->n], 0, sizeof out->items[out->n]);
        out->n++;
        p = parse_value(skip_space(p), &out->items[out->n - 1], depth + 1);
        if (!p) return NULL;
        p = skip_space(p);
        if (*p == close) return p + 1;
        if (*p != ',') return NULL;
        p++;
    }
}

static const char *parse_value(const char *p, JsonValue *out, int depth) {
    const char *start = p;
    memset(out, 0, sizeof *out);
    if (depth > 64) return NULL;
    switch (*p) {
    case '{':
        out->type = JSON_OBJECT;
        return parse_items(p + 1, out, 1, depth);
    case '[':
        out->type = JSON_ARRAY;
        return parse_items(p + 1, out, 0, depth);
    case '"':
        out->type = JSON_STRING;
        return parse_string(p, &out->text);
    case 'n':
        if (strncmp(p, "null", 4) != 0) return NULL;
        out->type = JSON_NULL;
        out->text = copy("", 0);
        return out->text ? p + 4 : NULL;
    case 't':
    case 'f': {
        size_t len = *p == 't' ? 4 : 5;
        if (strncmp(p, *p == 't' ? "true" : "false", len) != 0) return NULL;
        out->type = JSON_BOOL;
        out->text = copy(p, len);
        return out->text ? p + len : NULL;
    }
    default:
        while (*p && strchr("+-0123456789.eE", *p)) p++;
        if (p == start) return NULL;
        out->type = JSON_NUMBER;
        out->text = copy(start, (size_t)(p - start));
        return out->text ? p : NULL;
    }
}

int json_parse(const char *text, JsonValue *out) {
    const char *end = text ? parse_value(skip_space(text), out, 0) : NULL;
    if (!end || *skip_space(end) != '\0') {
        if (text) json_free(out);
        memset(out, 0, sizeof *out);
        return -1;
    }
    return 0;
}

const JsonValue *json_get(const JsonValue *object, const char *key) {
    size_t i;
    if (!object || object->type != JSON_OBJECT) return NULL;
    for (i = 0; i < object->n; i++)
        if (strcmp(object->keys[i], key) == 0) return &object->items[i];
    return NULL;
}

const JsonValue *json_find(const JsonValue *array, const char *key, const char *value) {
    size_t i;
    if (!array || array->type != JSON_ARRAY) return NULL;
    for (i = 0; i < array->n; i++) {
        const JsonValue *member = json_get(&array->items[i], key);
        if (member && member->type == JSON_STRING && strcmp(member->text, value) == 0) return &array->items[i];
    }
    return NULL;
}

const char *json_text(const JsonValue *value) {
    if (!value || value->type == JSON_ARRAY || value->type == JSON_OBJECT) return NULL;
    return value->text;
}

void json_free(JsonValue *value) {
    size_t i;
    if (!value) return;
    for (i = 0; i < value->n; i++) {
        if (value->keys) free(value->keys[i]);
        json_free(&value->items[i]);
    }
    free(value->keys);
    free(value->items);
    free(value->text);
    memset(value, 0, sizeof *value);
}
