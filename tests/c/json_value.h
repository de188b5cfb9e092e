/*
 * A small JSON reader for the tests: parses the library's JSON texts (explanations, data
 * quality, provenance) into a tree, so that the conformance runner compares fields rather
 * than fragments of text. Strings are unescaped for the escapes the library writes
 * (\" \\ \/ \b \f \n \r \t; \uXXXX is kept as written); numbers keep their text.
 */
#ifndef CAAS_TEST_JSON_VALUE_H
#define CAAS_TEST_JSON_VALUE_H

#include <stddef.h>

typedef enum JsonType { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT } JsonType;

typedef struct JsonValue {
    JsonType type;
    char *text;                /* scalars: the canonical text (null "", true/false, the number, the string) */
    size_t n;                  /* arrays and objects: the number of items */
    char **keys;               /* objects: the n keys */
    struct JsonValue *items;   /* arrays and objects: the n items */
} JsonValue;

/* Parses `text` into `out`. Returns 0, or -1 (with `out` empty) if it is not JSON. */
int json_parse(const char *text, JsonValue *out);

/* The member `key` of an object, or NULL. */
const JsonValue *json_get(const JsonValue *object, const char *key);

/* The first object of an array whose member `key` is the string `value`, or NULL. */
const JsonValue *json_find(const JsonValue *array, const char *key, const char *value);

/* The canonical text of a scalar (null is ""), or NULL for arrays, objects and NULL. */
const char *json_text(const JsonValue *value);

void json_free(JsonValue *value);

#endif
