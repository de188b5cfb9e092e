/*
 * Runs the conformance cases through the C API (format: tests/conformance/README.md).
 *
 * Usage: conformance CASES_OUT_DIR [CASE_NAME...]
 *
 * CASES_OUT_DIR is what tests/c/convert_cases.py wrote: index.txt and one folder per case
 * with case.txt. For each case the tables are registered from their CSV files, the other
 * cohorts and the definition are parsed from their text, the definition is evaluated with
 * the parameters, and the members (read from their Arrow C stream), the attrition, or the
 * error (status, code, message, line and column) are compared with the expectation, by
 * the README's rules. Prints one line per case and a summary; exits 1 if any case fails.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caas.h"
#include "table_text.h"

#define MAX_LINES 64
#define MAX_FIELDS 4

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

/* The body of one case, up to the evaluation: registration, cohorts, definition. */
static CaasStatus prepare_and_evaluate(CaasEngine *engine, const char *dir, const Line *lines, size_t n,
                                       CaasResult **result, char *error, size_t size) {
    const char *base_dir = value(lines, n, "base_dir", 1);
    const char *definition = value(lines, n, "definition", 1);
    const char *format = value(lines, n, "definition", 2);
    const char *parameters_file = value(lines, n, "parameters", 1);
    CaasCohort *cohort = NULL;
    CaasStatus status = CAAS_OK;
    char *text, *parameters = NULL;
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
    status = caas_engine_evaluate(engine, cohort, parameters, result);
    free(parameters);
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
