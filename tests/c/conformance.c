/*
 * Runs the conformance cases through the C API (format: tests/conformance/README.md).
 *
 * Usage: conformance CASES_OUT_DIR [CASE_NAME...]
 *
 * CASES_OUT_DIR is what tests/c/convert_cases.py wrote: index.txt and one folder per case
 * with case.txt. For each case the tables are registered from their CSV files, the other
 * cohorts and the definition are parsed from their text, the definition is evaluated with
 * the parameters and options, and the members (read from their Arrow C stream), the
 * attrition, the data-quality findings, the explanations of the people listed and the
 * provenance (read from their JSON), or the error (status, code, message, line and column),
 * are compared with the expectation, by the README's rules. Prints one line per case and a
 * summary; exits 1 if any case fails.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caas.h"
#include "json_value.h"
#include "table_text.h"

#define MAX_LINES 256
#define MAX_FIELDS 6

typedef struct Line {
    size_t n;
    char *field[MAX_FIELDS];
} Line;

/* Splits `text` (modified in place) into tab-separated lines. */
static size_t split_lines(char *text, Line *lines, size_t max) {
    size_t n = 0;
    char *p = text;
    while (*p && n < max) {
        char *end = strchr(p, '\n');
        Line *line = &lines[n++];
        if (end) *end = '\0';
        line->n = 0;
        for (;;) {
            char *tab = strchr(p, '\t');
            if (line->n < MAX_FIELDS) line->field[line->n++] = p;
            if (!tab) break;
            *tab = '\0';
            p = tab + 1;
        }
        if (!end) break;
        p = end + 1;
    }
    return n;
}

static const char *value(const Line *lines, size_t n, const char *key, size_t field) {
    size_t i;
    for (i = 0; i < n; i++)
        if (strcmp(lines[i].field[0], key) == 0 && lines[i].n > field) return lines[i].field[field];
    return NULL;
}

static int cells_equal(const char *actual, const char *expected, int numeric) {
    if (numeric && *actual && *expected) {
        char *end_a, *end_e;
        double a = strtod(actual, &end_a), e = strtod(expected, &end_e);
        if (*end_a == '\0' && *end_e == '\0') return (a > e ? a - e : e - a) < 1e-9;
    }
    return strcmp(actual, expected) == 0;
}

static void append(char *out, size_t size, const char *text) {
    size_t used = strlen(out);
    if (used + 1 < size) snprintf(out + used, size - used, "%s", text);
}

static void render_rows(const TextTable *t, const long *columns, size_t n, char *out, size_t size) {
    size_t r, c;
    out[0] = '\0';
    for (r = 0; r < t->n_rows; r++) {
        append(out, size, r ? "; " : "");
        for (c = 0; c < n; c++) {
            append(out, size, c ? "," : "");
            append(out, size, table_cell(t, r, (size_t)columns[c]));
        }
    }
}

/* Compares an actual table with an expected CSV: the expected columns (all of them, in
 * order, for members) and then every row. */
static int compare(const char *what, const TextTable *actual, const char *expected_path, int all_columns,
                   char *error, size_t size) {
    TextTable expected;
    char *text = read_file(expected_path);
    long columns[64];
    long all[64];
    size_t c, r;
    int same = 1;
    if (!text) {
        snprintf(error, size, "cannot read %s", expected_path);
        return -1;
    }
    if (table_from_csv(text, &expected, error, size) != 0) {
        free(text);
        return -1;
    }
    free(text);
    if (expected.n_columns > 64 || actual->n_columns > 64) {
        snprintf(error, size, "%s: too many columns", what);
        table_free(&expected);
        return -1;
    }
    for (c = 0; c < expected.n_columns; c++) {
        columns[c] = table_column(actual, expected.names[c]);
        if (columns[c] < 0) {
            snprintf(error, size, "%s: no column `%s`", what, expected.names[c]);
            table_free(&expected);
            return -1;
        }
    }
    if (all_columns) {
        int same_names = actual->n_columns == expected.n_columns;
        for (c = 0; same_names && c < actual->n_columns; c++)
            same_names = strcmp(actual->names[c], expected.names[c]) == 0;
        if (!same_names) {
            snprintf(error, size, "%s: the columns differ from the expected ones", what);
            table_free(&expected);
            return -1;
        }
    }
    same = actual->n_rows == expected.n_rows;
    for (r = 0; same && r < actual->n_rows; r++)
        for (c = 0; same && c < expected.n_columns; c++)
            same = cells_equal(table_cell(actual, r, (size_t)columns[c]), table_cell(&expected, r, c),
                               actual->numeric[columns[c]]);
    if (!same) {
        char expected_rows[1024], actual_rows[1024];
        for (c = 0; c < expected.n_columns; c++) all[c] = (long)c;
        render_rows(&expected, all, expected.n_columns, expected_rows, sizeof expected_rows);
        render_rows(actual, columns, expected.n_columns, actual_rows, sizeof actual_rows);
        snprintf(error, size, "%s differ\n    expected: %s\n    actual:   %s", what, expected_rows, actual_rows);
    }
    table_free(&expected);
    return same ? 0 : -1;
}

static int read_stream_table(const CaasResult *result, int members, TextTable *table, char *error, size_t size) {
    struct ArrowArrayStream stream;
    CaasStatus status = members ? caas_result_members(result, &stream) : caas_result_attrition(result, &stream);
    if (status != CAAS_OK) {
        snprintf(error, size, "reading the %s failed: %s", members ? "members" : "attrition",
                 caas_last_error_message());
        return -1;
    }
    return table_from_stream(&stream, table, error, size);
}

/* Checks a failed call against the expected error. */
static int check_error(CaasStatus status, const Line *lines, size_t n, char *error, size_t size) {
    const char *code = value(lines, n, "error_code", 1);
    const char *actual_code = caas_last_error_code();
    const char *message = caas_last_error_message();
    const char *line = value(lines, n, "error_line", 1);
    const char *column = value(lines, n, "error_column", 1);
    size_t i;
    if (!code) {
        snprintf(error, size, "unexpected error `%s`: %s", actual_code, message);
        return -1;
    }
    if (strcmp(actual_code, code) != 0) {
        snprintf(error, size, "expected a `%s` error, got `%s`: %s", code, actual_code, message);
        return -1;
    }
    /* The library's own mapping from codes to statuses: the one the engine decides. */
    if (status != caas_error_code_status(code) || caas_last_error_status() != status) {
        snprintf(error, size, "a `%s` error came with status %d", code, (int)status);
        return -1;
    }
    for (i = 0; i < n; i++)
        if (strcmp(lines[i].field[0], "error_contains") == 0 && lines[i].n > 1 &&
            !strstr(message, lines[i].field[1])) {
            snprintf(error, size, "error message lacks \"%s\": %s", lines[i].field[1], message);
            return -1;
        }
    if (line && (size_t)atol(line) != caas_last_error_line()) {
        snprintf(error, size, "expected line %s, got %zu: %s", line, caas_last_error_line(), message);
        return -1;
    }
    if (column && (size_t)atol(column) != caas_last_error_column()) {
        snprintf(error, size, "expected column %s, got %zu: %s", column, caas_last_error_column(), message);
        return -1;
    }
    return 0;
}

/* Whether `name` is one of the comma-separated `names`. */
static int listed(const char *names, const char *name) {
    size_t len = strlen(name);
    const char *p = names;
    while (p && *p) {
        const char *comma = strchr(p, ',');
        size_t part = comma ? (size_t)(comma - p) : strlen(p);
        if (part == len && strncmp(p, name, len) == 0) return 1;
        p = comma ? comma + 1 : NULL;
    }
    return 0;
}

/* The text of `field` of each item of `array`, comma-separated, into `out`. */
static void join_field(const JsonValue *array, const char *field, char *out, size_t size) {
    size_t i;
    out[0] = '\0';
    for (i = 0; array && array->type == JSON_ARRAY && i < array->n; i++) {
        const char *text = json_text(json_get(&array->items[i], field));
        append(out, size, i ? "," : "");
        append(out, size, text ? text : "?");
    }
}

/* Reads a JSON text the library handed out (freed here) into `out`; 0 on success. The
 * call that hands it out must be made before this one: the order in which a function's
 * arguments are evaluated is unspecified. */
static int read_json(CaasStatus status, char *text, const char *what, JsonValue *out, char *error, size_t size) {
    int parsed = status == CAAS_OK ? json_parse(text, out) : -1;
    if (status != CAAS_OK)
        snprintf(error, size, "reading the %s failed: `%s`: %s", what, caas_last_error_code(),
                 caas_last_error_message());
    else if (parsed != 0)
        snprintf(error, size, "the %s is not JSON", what);
    caas_string_free(text);
    return status == CAAS_OK && parsed == 0 ? 0 : -1;
}

/* Compares the scalar `actual` of a JSON text with `expected` (numbers within 1e-9). */
static int same_scalar(const JsonValue *actual, const char *expected) {
    const char *text = json_text(actual);
    return text && cells_equal(text, expected, actual->type == JSON_NUMBER);
}

/* The data-quality expectations: the tables read, rows, findings, and no rows of a kind
 * not listed. */
static int check_data_quality(const CaasResult *result, const Line *lines, size_t n, char *error, size_t size) {
    const char *tables = value(lines, n, "dq_tables", 1);
    CaasStatus status;
    JsonValue quality;
    char *json = NULL;
    char names[1024];
    size_t i, f;
    int failed = 0;
    if (!tables) return 0;
    status = caas_result_data_quality_json(result, &json);
    if (read_json(status, json, "data quality", &quality, error, size) != 0) return -1;
    join_field(json_get(&quality, "tables"), "table", names, sizeof names);
    if (strcmp(names, tables) != 0) {
        snprintf(error, size, "data quality: tables %s were read, expected %s", names, tables);
        failed = 1;
    }
    for (i = 0; i < n && !failed; i++) {
        const Line *l = &lines[i];
        const JsonValue *table = json_find(json_get(&quality, "tables"), "table", l->n > 1 ? l->field[1] : "");
        const JsonValue *findings = json_get(table, "findings");
        if (strcmp(l->field[0], "dq_table") == 0 && l->n == 4) {
            if (!same_scalar(json_get(table, l->field[2]), l->field[3])) {
                snprintf(error, size, "data quality of `%s`: %s is not %s", l->field[1], l->field[2], l->field[3]);
                failed = 1;
            }
        } else if (strcmp(l->field[0], "dq_finding") == 0 && l->n == 5) {
            const JsonValue *finding = json_find(findings, "kind", l->field[2]);
            if (!same_scalar(json_get(finding, l->field[3]), l->field[4])) {
                snprintf(error, size, "data quality of `%s`, `%s`: %s is %s, expected %s", l->field[1], l->field[2],
                         l->field[3], finding ? json_text(json_get(finding, l->field[3])) : "(not checked)",
                         l->field[4]);
                failed = 1;
            }
        } else if (strcmp(l->field[0], "dq_listed") == 0 && l->n >= 2) {
            const char *kinds = l->n > 2 ? l->field[2] : "";
            for (f = 0; findings && f < findings->n && !failed; f++) {
                const char *kind = json_text(json_get(&findings->items[f], "kind"));
                if (kind && !listed(kinds, kind) && !same_scalar(json_get(&findings->items[f], "count"), "0")) {
                    snprintf(error, size, "data quality of `%s`: `%s` has rows, expected none", l->field[1], kind);
                    failed = 1;
                }
            }
        }
    }
    json_free(&quality);
    return failed ? -1 : 0;
}

/* The name of an arithmetic finding: its variable's, or its rule's. */
static const char *arithmetic_name(const JsonValue *finding) {
    const JsonValue *variable = json_get(finding, "variable");
    return variable && variable->type == JSON_STRING ? variable->text : json_text(json_get(finding, "rule"));
}

/* The arithmetic expectations: each variable or rule listed has its count of people whose
 * value arithmetic left missing, and one not listed has none. */
static int check_arithmetic(const CaasResult *result, const Line *lines, size_t n, char *error, size_t size) {
    const char *names = value(lines, n, "ar_listed", 1);
    const JsonValue *found;
    CaasStatus status;
    JsonValue quality;
    char *json = NULL;
    size_t i, f;
    int failed = 0;
    if (!names) return 0;
    status = caas_result_data_quality_json(result, &json);
    if (read_json(status, json, "data quality", &quality, error, size) != 0) return -1;
    found = json_get(&quality, "arithmetic");
    for (i = 0; i < n && !failed; i++) {
        const Line *l = &lines[i];
        const JsonValue *finding = NULL;
        if (strcmp(l->field[0], "ar_count") != 0 || l->n != 3) continue;
        for (f = 0; found && f < found->n && !finding; f++) {
            const char *name = arithmetic_name(&found->items[f]);
            if (name && strcmp(name, l->field[1]) == 0) finding = &found->items[f];
        }
        if (!same_scalar(json_get(finding, "count"), l->field[2])) {
            snprintf(error, size, "arithmetic of `%s`: %s people, expected %s", l->field[1],
                     finding ? json_text(json_get(finding, "count")) : "(not checked)", l->field[2]);
            failed = 1;
        }
    }
    for (f = 0; found && f < found->n && !failed; f++) {
        const char *name = arithmetic_name(&found->items[f]);
        if (name && !listed(names, name) && !same_scalar(json_get(&found->items[f], "count"), "0")) {
            snprintf(error, size, "arithmetic of `%s` left values missing, expected none", name);
            failed = 1;
        }
    }
    json_free(&quality);
    return failed ? -1 : 0;
}

/* Checks the expectations of one person's explanation (every `explain` line naming them). */
static int check_person(const CaasResult *result, const char *person, const Line *lines, size_t n, char *error,
                        size_t size) {
    const char *expected_error = NULL;
    JsonValue why;
    char *json = NULL;
    char outcomes[1024];
    size_t i;
    int failed = 0;
    CaasStatus status;
    for (i = 0; i < n; i++)
        if (strcmp(lines[i].field[0], "explain") == 0 && lines[i].n == 4 && strcmp(lines[i].field[1], person) == 0 &&
            strcmp(lines[i].field[2], "error") == 0)
            expected_error = lines[i].field[3];
    status = caas_result_explain_json(result, person, &json);
    if (expected_error) {
        caas_string_free(json);
        if (status == CAAS_OK || strcmp(caas_last_error_code(), expected_error) != 0) {
            snprintf(error, size, "explaining %s: expected a `%s` error, got `%s`", person, expected_error,
                     status == CAAS_OK ? "no error" : caas_last_error_code());
            return -1;
        }
        return 0;
    }
    if (read_json(status, json, "explanation", &why, error, size) != 0) return -1;
    for (i = 0; i < n && !failed; i++) {
        const Line *l = &lines[i];
        if (strcmp(l->field[0], "explain") != 0 || l->n < 4 || strcmp(l->field[1], person) != 0) continue;
        if (strcmp(l->field[2], "outcomes") == 0) {
            join_field(json_get(&why, "rules"), "outcome", outcomes, sizeof outcomes);
            failed = strcmp(outcomes, l->field[3]) != 0;
        } else if (strcmp(l->field[2], "value") == 0) {
            const JsonValue *variable = json_find(json_get(&why, "variables"), "name", l->field[3]);
            failed = !variable || !same_scalar(json_get(variable, "value"), l->n > 4 ? l->field[4] : "");
        } else {
            failed = !same_scalar(json_get(json_get(&why, "verdict"), l->field[2]), l->field[3]);
        }
        if (failed)
            snprintf(error, size, "explaining %s: %s %s is not as expected", person, l->field[2], l->field[3]);
    }
    json_free(&why);
    return failed ? -1 : 0;
}

/* The explanations of the people listed, each once. */
static int check_explanations(const CaasResult *result, const Line *lines, size_t n, char *error, size_t size) {
    size_t i, j;
    for (i = 0; i < n; i++) {
        int seen = 0;
        if (strcmp(lines[i].field[0], "explain") != 0 || lines[i].n < 2) continue;
        for (j = 0; j < i && !seen; j++)
            seen = strcmp(lines[j].field[0], "explain") == 0 && strcmp(lines[j].field[1], lines[i].field[1]) == 0;
        if (!seen && check_person(result, lines[i].field[1], lines, n, error, size) != 0) return -1;
    }
    return 0;
}

/* The provenance expectations: hashes, purpose and counts. */
static int check_provenance(const CaasResult *result, const Line *lines, size_t n, char *error, size_t size) {
    CaasStatus status;
    JsonValue manifest;
    char *json = NULL;
    char names[1024];
    size_t i;
    int failed = 0;
    if (!value(lines, n, "provenance", 1)) return 0;
    status = caas_result_provenance_json(result, &json);
    if (read_json(status, json, "provenance", &manifest, error, size) != 0) return -1;
    for (i = 0; i < n && !failed; i++) {
        const Line *l = &lines[i];
        if (strcmp(l->field[0], "provenance") != 0 || l->n < 3) continue;
        if (strcmp(l->field[1], "codelists") == 0 || strcmp(l->field[1], "member_of") == 0) {
            int codelists = strcmp(l->field[1], "codelists") == 0;
            join_field(json_get(&manifest, l->field[1]), codelists ? "name" : "id", names, sizeof names);
            failed = strcmp(names, l->field[2]) != 0;
        } else if ((strcmp(l->field[1], "codelist") == 0 || strcmp(l->field[1], "member_of_hash") == 0) && l->n == 4) {
            int codelists = strcmp(l->field[1], "codelist") == 0;
            const JsonValue *item = json_find(json_get(&manifest, codelists ? "codelists" : "member_of"),
                                              codelists ? "name" : "id", l->field[2]);
            failed = !same_scalar(json_get(item, codelists ? "sha256" : "definition_sha256"), l->field[3]);
        } else {
            failed = !same_scalar(json_get(&manifest, l->field[1]), l->field[2]);
        }
        if (failed) snprintf(error, size, "provenance: %s %s is not as expected", l->field[1], l->field[2]);
    }
    json_free(&manifest);
    return failed ? -1 : 0;
}

static char *path_in(const char *dir, const char *file) {
    size_t len = strlen(dir) + strlen(file) + 2;
    char *path = malloc(len);
    if (path) snprintf(path, len, "%s/%s", dir, file);
    return path;
}

/* Reads the text of `file` in `dir` (to free), or NULL. */
static char *text_in(const char *dir, const char *file) {
    char *path = path_in(dir, file);
    char *text = path ? read_file(path) : NULL;
    free(path);
    return text;
}

/* What the progress callback saw of one evaluation. */
typedef struct {
    size_t calls;
    int bad;
} Watch;

/* Every case is evaluated with this progress callback, so that the suite also checks that
 * counting the rows read changes no result. Each report names a table and reads no more
 * rows than expected. */
static bool on_progress(const char *table, uint64_t rows_read, uint64_t rows_expected, void *user_data) {
    Watch *watch = user_data;
    watch->calls++;
    if (!table || !*table || (rows_expected != CAAS_ROWS_UNKNOWN && rows_read > rows_expected)) watch->bad = 1;
    return true;
}

/* The body of one case, up to the evaluation: registration, cohorts, definition. */
static CaasStatus prepare_and_evaluate(CaasEngine *engine, const char *dir, const Line *lines, size_t n,
                                       CaasResult **result, char *error, size_t size) {
    const char *base_dir = value(lines, n, "base_dir", 1);
    const char *definition = value(lines, n, "definition", 1);
    const char *format = value(lines, n, "definition", 2);
    const char *parameters_file = value(lines, n, "parameters", 1);
    const char *options_file = value(lines, n, "options", 1);
    CaasCohort *cohort = NULL;
    CaasStatus status = CAAS_OK;
    char *text, *parameters = NULL, *options = NULL;
    Watch watch = {0, 0};
    size_t i;
    for (i = 0; i < n && status == CAAS_OK; i++) {
        if (strcmp(lines[i].field[0], "table") == 0 && lines[i].n == 4) {
            char *path = path_in(dir, lines[i].field[2]);
            status = caas_engine_register_file(engine, lines[i].field[1], path, lines[i].field[3]);
            free(path);
        } else if (strcmp(lines[i].field[0], "cohort") == 0 && lines[i].n == 2) {
            CaasCohort *other = NULL;
            text = text_in(dir, lines[i].field[1]);
            status = caas_cohort_parse(text, CAAS_FORMAT_YAML, base_dir, &other);
            if (status == CAAS_OK) status = caas_engine_register_cohort(engine, other);
            caas_cohort_free(other);
            free(text);
        }
    }
    if (status != CAAS_OK) return status;
    if (!definition || !format) {
        snprintf(error, size, "case.txt has no definition");
        return CAAS_ERR_INVALID_ARGUMENT;
    }
    text = text_in(dir, definition);
    if (!text) {
        snprintf(error, size, "cannot read %s", definition);
        return CAAS_ERR_INVALID_ARGUMENT;
    }
    status = caas_cohort_parse(text, strcmp(format, "json") == 0 ? CAAS_FORMAT_JSON : CAAS_FORMAT_YAML, base_dir,
                               &cohort);
    free(text);
    if (status != CAAS_OK) return status;
    if (parameters_file) parameters = text_in(dir, parameters_file);
    if (options_file) options = text_in(dir, options_file);
    status = caas_engine_evaluate_with_progress(engine, cohort, parameters, options, on_progress, &watch, result);
    if (status == CAAS_OK && (watch.calls == 0 || watch.bad)) {
        snprintf(error, size, "progress: %zu reports, %s", watch.calls, watch.bad ? "one of them wrong" : "none");
        status = CAAS_ERR_INTERNAL;
    }
    free(parameters);
    free(options);
    caas_cohort_free(cohort);
    return status;
}

static int run_case(const char *root, const char *name, char *error, size_t size) {
    Line lines[MAX_LINES];
    size_t n;
    char *dir = path_in(root, name);
    char *manifest = dir ? text_in(dir, "case.txt") : NULL;
    CaasEngine *engine = NULL;
    CaasResult *result = NULL;
    CaasStatus status;
    int outcome = -1;
    error[0] = '\0';
    if (!manifest) {
        snprintf(error, size, "cannot read %s/case.txt", name);
        free(dir);
        return -1;
    }
    n = split_lines(manifest, lines, MAX_LINES);
    if (caas_engine_new(NULL, &engine) != CAAS_OK) {
        snprintf(error, size, "cannot create an engine: %s", caas_last_error_message());
        goto done;
    }
    status = prepare_and_evaluate(engine, dir, lines, n, &result, error, size);
    if (error[0]) goto done;
    if (status != CAAS_OK) {
        if (result) {
            snprintf(error, size, "a failed evaluation left a result");
            goto done;
        }
        outcome = check_error(status, lines, n, error, size);
        goto done;
    }
    if (value(lines, n, "error_code", 1)) {
        snprintf(error, size, "expected a `%s` error, but evaluation succeeded", value(lines, n, "error_code", 1));
        goto done;
    }
    if (!value(lines, n, "members", 1) && !value(lines, n, "attrition", 1)) {
        snprintf(error, size, "the case expects nothing");
        goto done;
    }
    if (value(lines, n, "members", 1)) {
        TextTable members;
        uint64_t count = 0;
        char *expected = path_in(dir, value(lines, n, "members", 1));
        int compared;
        if (read_stream_table(result, 1, &members, error, size) != 0) {
            free(expected);
            goto done;
        }
        compared = compare("members", &members, expected, 1, error, size);
        free(expected);
        if (compared == 0 && (caas_result_member_count(result, &count) != CAAS_OK || count != members.n_rows)) {
            snprintf(error, size, "member count %llu, but %zu rows", (unsigned long long)count, members.n_rows);
            compared = -1;
        }
        table_free(&members);
        if (compared != 0) goto done;
    }
    if (value(lines, n, "attrition", 1)) {
        TextTable attrition;
        char *expected = path_in(dir, value(lines, n, "attrition", 1));
        int compared;
        if (read_stream_table(result, 0, &attrition, error, size) != 0) {
            free(expected);
            goto done;
        }
        compared = compare("attrition", &attrition, expected, 0, error, size);
        free(expected);
        table_free(&attrition);
        if (compared != 0) goto done;
    }
    if (check_data_quality(result, lines, n, error, size) != 0 || check_arithmetic(result, lines, n, error, size) != 0 ||
        check_explanations(result, lines, n, error, size) != 0 || check_provenance(result, lines, n, error, size) != 0)
        goto done;
    outcome = 0;
done:
    caas_result_free(result);
    caas_engine_free(engine);
    free(manifest);
    free(dir);
    return outcome;
}

int main(int argc, char **argv) {
    char *index;
    Line names[1024];
    size_t n, i, run = 0, failed = 0;
    char error[4096];
    if (argc < 2) {
        fprintf(stderr, "usage: %s CASES_OUT_DIR [CASE_NAME...]\n", argv[0]);
        return 2;
    }
    index = text_in(argv[1], "index.txt");
    if (!index) {
        fprintf(stderr, "cannot read %s/index.txt\n", argv[1]);
        return 2;
    }
    n = split_lines(index, names, 1024);
    for (i = 0; i < n; i++) {
        const char *name = names[i].field[0];
        int selected = argc == 2, a;
        for (a = 2; a < argc; a++) selected |= strcmp(argv[a], name) == 0;
        if (!selected || !*name) continue;
        run++;
        if (run_case(argv[1], name, error, sizeof error) == 0) {
            printf("PASS %s\n", name);
        } else {
            failed++;
            printf("FAIL %s: %s\n", name, error);
        }
    }
    printf("conformance through C: %zu cases, %zu passed, %zu failed\n", run, run - failed, failed);
    free(index);
    return failed == 0 && run > 0 ? 0 : 1;
}
