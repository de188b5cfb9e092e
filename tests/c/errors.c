/*
 * The C API's error paths and contracts: NULL and invalid arguments to every function, bad
 * definitions (status, code, line and column), missing tables and wrong roles, bad JSON,
 * streams that fail, are corrupt or were already consumed, NULL-safe frees, use after a
 * failed evaluation, the guarded callbacks of the streams the library hands out, and the
 * thread-locality of the last error.
 *
 * Usage: errors REPO_ROOT   (reads the CSV files of examples/data)
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caas.h"
#include "table_text.h"
#include "test_stream.h"

static int checks, failures;

#define CHECK(cond, message)                                                                      \
    do {                                                                                          \
        checks++;                                                                                 \
        if (!(cond)) {                                                                            \
            failures++;                                                                           \
            fprintf(stderr, "FAIL %s:%d: %s [last error: %s: %s]\n", __FILE__, __LINE__, message, \
                    caas_last_error_code(), caas_last_error_message());                           \
        }                                                                                         \
    } while (0)

static char persons_csv[1024], gp_csv[1024];

static const char *PERSON = "{\"role\": \"person\"}";
static const char *GP = "{\"role\": \"events\", \"code_system\": \"snomed_ct\"}";

static const char *QUICKSTART =
    "id: quickstart\n"
    "title: Aged 65 or over, or with asthma or diabetes\n"
    "purpose: direct_care\n"
    "parameters:\n"
    "  index_date: 2025-03-31\n"
    "codelists:\n"
    "  asthma: { system: snomed_ct, codes: [\"195967001\"] }\n"
    "  diabetes: { system: snomed_ct, codes: [\"44054006\"] }\n"
    "variables:\n"
    "  age: { kind: age, on: index_date }\n"
    "  alive: { kind: alive, on: index_date }\n"
    "  asthma_recent: { kind: events, table: gp, codelists: [asthma], from: index_date - 12 months, to: "
    "index_date, returns: exists }\n"
    "  diabetes_last: { kind: events, table: gp, codelists: [diabetes], to: index_date, returns: last_date }\n"
    "rules:\n"
    "  - { name: alive, include: alive }\n"
    "  - { name: eligible, include: age >= 65 or asthma_recent or diabetes_last is not null }\n"
    "output:\n"
    "  columns: [age]\n";

/* Checks the code of a failed call's error, its status (the one the library gives that code,
 * so that the tests keep no table of their own) and the thread's last error. */
static void expect_error(CaasStatus status, const char *code, const char *part, int line) {
    CaasStatus expected = caas_error_code_status(code);
    char where[64];
    snprintf(where, sizeof where, "expectation at line %d", line);
    checks++;
    if (status != expected || caas_last_error_status() != expected || strcmp(caas_last_error_code(), code) != 0 ||
        (part && !strstr(caas_last_error_message(), part))) {
        failures++;
        fprintf(stderr, "FAIL %s: expected status %d `%s` with \"%s\", got status %d `%s`: %s\n", where,
                (int)expected, code, part ? part : "", (int)status, caas_last_error_code(),
                caas_last_error_message());
    }
}

#define EXPECT_ERROR(call, code, part) expect_error((call), (code), (part), __LINE__)

static CaasEngine *engine_with_tables(void) {
    CaasEngine *engine = NULL;
    CHECK(caas_engine_new("{\"target_partitions\": 2}", &engine) == CAAS_OK, "engine");
    CHECK(caas_engine_register_file(engine, "persons", persons_csv, PERSON) == CAAS_OK, "persons");
    CHECK(caas_engine_register_file(engine, "gp", gp_csv, GP) == CAAS_OK, "gp");
    return engine;
}

static CaasCohort *parse(const char *text) {
    CaasCohort *cohort = NULL;
    CHECK(caas_cohort_parse(text, CAAS_FORMAT_YAML, NULL, &cohort) == CAAS_OK, "parse");
    return cohort;
}

/* Person ids 1, 2, 3 born 1950, 1990, 1985; as in examples/data/persons.csv. */
static const int64_t ids[] = {1, 2, 3};
static const int32_t births[] = {-7154, 7456, 5630};
static const char *sexes[] = {"F", "M", NULL};
static const TestColumn person_columns[] = {
    {"person_id", "l", ids, NULL},
    {"date_of_birth", "tdD", births, NULL},
    {"sex", "u", sexes, NULL},
};

static void test_version(void) {
    const char *version = caas_version();
    CHECK(version != NULL && strchr(version, '.') != NULL, "a version like 0.1.0");
    CHECK(caas_abi_version() == CAAS_ABI_VERSION, "the ABI version of the header and the library agree");
}

static void test_last_error_is_cleared_by_success(void) {
    CaasEngine *engine = NULL;
    EXPECT_ERROR(caas_engine_new("{", &engine), "invalid_argument", "options_json");
    CHECK(caas_engine_new(NULL, &engine) == CAAS_OK, "engine");
    CHECK(caas_last_error_status() == CAAS_OK, "success clears the status");
    CHECK(strcmp(caas_last_error_message(), "") == 0, "success clears the message");
    CHECK(strcmp(caas_last_error_code(), "") == 0, "success clears the code");
    CHECK(caas_last_error_line() == 0 && caas_last_error_column() == 0, "success clears the location");
    caas_engine_free(engine);
}

static void test_status_of_a_code(void) {
    CaasCohort *cohort = NULL;
    CHECK(caas_cohort_parse("id: [", CAAS_FORMAT_YAML, NULL, &cohort) == CAAS_ERR_DEFINITION, "a syntax error");
    CHECK(caas_error_code_status(caas_last_error_code()) == caas_last_error_status(),
          "the status of the last error's code is the last error's status");
    CHECK(caas_error_code_status("invalid_argument") == CAAS_ERR_INVALID_ARGUMENT, "the library's own code");
    CHECK(caas_error_code_status("panic") == CAAS_ERR_PANIC, "a caught panic");
    CHECK(caas_error_code_status("internal") == CAAS_ERR_INTERNAL, "a broken invariant");
    CHECK(caas_error_code_status("") == CAAS_OK, "the code of no error");
    CHECK(caas_error_code_status(NULL) == CAAS_ERR_INVALID_ARGUMENT, "NULL");
    CHECK(caas_error_code_status("no_such_code") == CAAS_ERR_INVALID_ARGUMENT, "not a code");
    CHECK(caas_error_code_status("syntax\xff") == CAAS_ERR_INVALID_ARGUMENT, "not UTF-8");
    CHECK(strcmp(caas_last_error_code(), "syntax") == 0 && caas_last_error_status() == CAAS_ERR_DEFINITION,
          "asking about codes leaves the last error alone");
    CHECK(cohort == NULL, "no cohort");
    CHECK(caas_cohort_parse(QUICKSTART, CAAS_FORMAT_YAML, NULL, &cohort) == CAAS_OK, "parse");
    CHECK(caas_error_code_status(caas_last_error_code()) == CAAS_OK, "no error, no status");
    caas_cohort_free(cohort);
}

static void test_null_arguments(void) {
    CaasEngine *engine = engine_with_tables();
    CaasCohort *cohort = parse(QUICKSTART);
    CaasResult *result = NULL;
    CaasCohort *no_cohort = (CaasCohort *)&checks; /* not NULL: must be set to NULL */
    CaasResult *no_result = (CaasResult *)&checks;
    struct ArrowArrayStream stream;
    uint64_t count = 0;
    int releases = 0;
    TestStreamOptions counted = {0, 0, NULL, 0, NULL};
    counted.releases = &releases;

    EXPECT_ERROR(caas_engine_new(NULL, NULL), "invalid_argument", "`out` is NULL");

    EXPECT_ERROR(caas_engine_register_file(NULL, "t", gp_csv, GP), "invalid_argument",
                 "`engine` is NULL");
    EXPECT_ERROR(caas_engine_register_file(engine, NULL, gp_csv, GP), "invalid_argument",
                 "`name` is NULL");
    EXPECT_ERROR(caas_engine_register_file(engine, "t", NULL, GP), "invalid_argument",
                 "`path` is NULL");
    EXPECT_ERROR(caas_engine_register_file(engine, "t", gp_csv, NULL),
                 "invalid_argument", "`spec_json` is NULL");

    /* A stream given with a NULL argument is still taken over and released. */
    test_stream_init(&stream, person_columns, 3, 3, &counted);
    EXPECT_ERROR(caas_engine_register_stream(NULL, "p", &stream, PERSON),
                 "invalid_argument", "`engine` is NULL");
    CHECK(stream.release == NULL && releases == 1, "the stream was released once");
    test_stream_init(&stream, person_columns, 3, 3, &counted);
    EXPECT_ERROR(caas_engine_register_stream(engine, NULL, &stream, PERSON),
                 "invalid_argument", "`name` is NULL");
    CHECK(stream.release == NULL && releases == 2, "the stream was released once");
    test_stream_init(&stream, person_columns, 3, 3, &counted);
    EXPECT_ERROR(caas_engine_register_stream(engine, "p", &stream, NULL),
                 "invalid_argument", "`spec_json` is NULL");
    CHECK(stream.release == NULL && releases == 3, "the stream was released once");
    EXPECT_ERROR(caas_engine_register_stream(engine, "p", NULL, PERSON),
                 "invalid_argument", "`stream` is NULL");

    EXPECT_ERROR(caas_engine_register_cohort(NULL, cohort), "invalid_argument",
                 "`engine` is NULL");
    EXPECT_ERROR(caas_engine_register_cohort(engine, NULL), "invalid_argument",
                 "`cohort` is NULL");

    EXPECT_ERROR(caas_cohort_parse(NULL, CAAS_FORMAT_YAML, NULL, &no_cohort),
                 "invalid_argument", "`text` is NULL");
    CHECK(no_cohort == NULL, "a failed parse sets *out to NULL");
    EXPECT_ERROR(caas_cohort_parse(QUICKSTART, CAAS_FORMAT_YAML, NULL, NULL),
                 "invalid_argument", "`out` is NULL");
    CHECK(caas_cohort_id(NULL) == NULL, "no id for NULL");

    EXPECT_ERROR(caas_engine_evaluate(NULL, cohort, NULL, &no_result),
                 "invalid_argument", "`engine` is NULL");
    CHECK(no_result == NULL, "a failed evaluation sets *out to NULL");
    EXPECT_ERROR(caas_engine_evaluate(engine, NULL, NULL, &result), "invalid_argument",
                 "`cohort` is NULL");
    EXPECT_ERROR(caas_engine_evaluate(engine, cohort, NULL, NULL), "invalid_argument",
                 "`out` is NULL");

    memset(&stream, 0xAB, sizeof stream);
    EXPECT_ERROR(caas_result_members(NULL, &stream), "invalid_argument",
                 "`result` is NULL");
    CHECK(stream.release == NULL, "a failed call leaves a released stream");
    memset(&stream, 0xAB, sizeof stream);
    EXPECT_ERROR(caas_result_attrition(NULL, &stream), "invalid_argument",
                 "`result` is NULL");
    CHECK(stream.release == NULL, "a failed call leaves a released stream");
    EXPECT_ERROR(caas_result_member_count(NULL, &count), "invalid_argument",
                 "`result` is NULL");
    EXPECT_ERROR(caas_result_population(NULL, &count), "invalid_argument",
                 "`result` is NULL");

    CHECK(caas_engine_evaluate(engine, cohort, NULL, &result) == CAAS_OK, "evaluate");
    EXPECT_ERROR(caas_result_members(result, NULL), "invalid_argument",
                 "`out` is NULL");
    EXPECT_ERROR(caas_result_attrition(result, NULL), "invalid_argument",
                 "`out` is NULL");
    EXPECT_ERROR(caas_result_member_count(result, NULL), "invalid_argument",
                 "`out` is NULL");
    EXPECT_ERROR(caas_result_population(result, NULL), "invalid_argument",
                 "`out` is NULL");
    CHECK(caas_result_member_count(result, &count) == CAAS_OK && count == 3, "three members");
    CHECK(caas_result_population(result, &count) == CAAS_OK && count == 5, "five people");

    /* NULL-safe frees: freeing, forgetting and freeing again is harmless. */
    caas_result_free(result);
    result = NULL;
    caas_result_free(result);
    caas_cohort_free(cohort);
    cohort = NULL;
    caas_cohort_free(cohort);
    caas_engine_free(engine);
    engine = NULL;
    caas_engine_free(engine);
}

static void test_invalid_utf8(void) {
    CaasEngine *engine = engine_with_tables();
    CaasCohort *cohort = NULL;
    EXPECT_ERROR(caas_engine_register_file(engine, "bad\xff", gp_csv, GP),
                 "invalid_argument", "`name` is not valid UTF-8");
    EXPECT_ERROR(caas_cohort_parse("id: \xc3\x28", CAAS_FORMAT_YAML, NULL, &cohort),
                 "invalid_argument", "`text` is not valid UTF-8");
    EXPECT_ERROR(caas_cohort_parse(QUICKSTART, CAAS_FORMAT_YAML, "\xfe", &cohort),
                 "invalid_argument", "`base_dir` is not valid UTF-8");
    caas_engine_free(engine);
}

static void test_invalid_json(void) {
    CaasEngine *engine = NULL;
    CaasEngine *fresh = engine_with_tables();
    CaasCohort *cohort = parse(QUICKSTART);
    CaasResult *result = NULL;

    EXPECT_ERROR(caas_engine_new("{\"target_partitions\": ", &engine),
                 "invalid_argument", "`options_json`");
    CHECK(engine == NULL, "no engine");
    CHECK(caas_last_error_line() == 1 && caas_last_error_column() == 22, "JSON errors have a line and column");
    EXPECT_ERROR(caas_engine_new("{\"threads\": 2}", &engine), "invalid_argument",
                 "unknown field `threads`");

    EXPECT_ERROR(caas_engine_register_file(fresh, "t", gp_csv, "{\n  \"role\": \"events\",\n  oops\n}"),
                 "invalid_argument", "`spec_json`");
    CHECK(caas_last_error_line() == 3 && caas_last_error_column() == 3, "the line and column of the JSON error");
    EXPECT_ERROR(caas_engine_register_file(fresh, "t", gp_csv, "{\"role\": \"people\"}"),
                 "invalid_argument", "unknown variant `people`");

    EXPECT_ERROR(caas_engine_evaluate(fresh, cohort, "[1, 2]", &result),
                 "invalid_argument", "`parameters_json`");
    CHECK(result == NULL, "no result");
    EXPECT_ERROR(caas_engine_evaluate(fresh, cohort, "{\"start\": \"2025-01-01\"}", &result),
                 "unknown_parameter", "`start`");
    CHECK(result == NULL, "no result");
    caas_cohort_free(cohort);
    caas_engine_free(fresh);
}

static void test_bad_definitions(void) {
    CaasCohort *cohort = (CaasCohort *)&checks;
    EXPECT_ERROR(caas_cohort_parse("id: bad\ntitle: Bad\npurpose: direct_care\nvariables:\n  age: { kind: age, on: "
                                   "index_date\n",
                                   CAAS_FORMAT_YAML, NULL, &cohort),
                 "syntax", "YAML error at line 6");
    CHECK(cohort == NULL, "a failed parse sets *out to NULL");
    CHECK(caas_last_error_line() == 6 && caas_last_error_column() == 1, "the line and column of the YAML error");

    EXPECT_ERROR(caas_cohort_parse("id: bad\ntitle: Bad\npurpose: direct_care\nvariabels: {}\n", CAAS_FORMAT_YAML,
                                   NULL, &cohort),
                 "syntax", "unknown field `variabels`");
    CHECK(caas_last_error_line() == 4 && caas_last_error_column() == 1, "the line and column of the unknown field");

    EXPECT_ERROR(caas_cohort_parse("{\n  \"id\": \"bad\",\n  \"title\" \"Bad\"\n}", CAAS_FORMAT_JSON, NULL, &cohort),
                 "syntax", "JSON error at line 3");
    CHECK(caas_last_error_line() == 3 && caas_last_error_column() == 11, "the line and column of the JSON error");

    EXPECT_ERROR(caas_cohort_parse("id: bad\ntitle: Bad\npurpose: direct_care\nparameters: { index_date: 2025-01-01 "
                                   "}\nvariables:\n  age: { kind: age, on: index_date }\nrules:\n  - { name: "
                                   "adults, include: age >= and 18 }\noutput: { columns: [age] }\n",
                                   CAAS_FORMAT_YAML, NULL, &cohort),
                 "expression_syntax", "rule 1 (`adults`)");
    CHECK(caas_last_error_line() == 8 && caas_last_error_column() == 8,
          "an expression error has its line and the character position as its column");

    EXPECT_ERROR(caas_cohort_parse("id: bad\ntitle: Bad\npurpose: direct_care\nvariables: {}\nrules:\n  - { name: "
                                   "uses missing, include: missing_var }\noutput: { columns: [] }\n",
                                   CAAS_FORMAT_YAML, NULL, &cohort),
                 "unknown_reference", "rule 1 (`uses missing`): unknown variable");
    CHECK(caas_last_error_line() == 0 && caas_last_error_column() == 0, "no location for a checking error");

    EXPECT_ERROR(caas_cohort_parse(QUICKSTART, 7, NULL, &cohort), "invalid_argument",
                 "`format` is 7");
    CHECK(cohort == NULL, "no cohort");
}

/* Limits: a definition too deep for the limits it is read within, or for the engine that
 * evaluates it, is a definition error naming the limit; 10,000 nested brackets are refused
 * before anything walks them, on the caller's stack. */
static void test_limits(void) {
    static char brackets[20100];
    const char *deep = "id: deep\ntitle: Deep\npurpose: direct_care\nrules: [{include: not not not true}]\n";
    CaasCohort *cohort = NULL;
    CaasEngine *engine = NULL;
    EXPECT_ERROR(caas_cohort_parse_with_options(deep, CAAS_FORMAT_YAML, NULL, "{\"max_expression_depth\": 3}",
                                                &cohort),
                 "limit_exceeded", "`max_expression_depth` allows (3)");
    CHECK(cohort == NULL, "no cohort over a limit");
    EXPECT_ERROR(caas_cohort_parse_with_options(deep, CAAS_FORMAT_YAML, NULL, "{\"max_depth\": 3}", &cohort),
                 "invalid_argument", "unknown field `max_depth`");
    CHECK(caas_cohort_parse_with_options(deep, CAAS_FORMAT_YAML, NULL, NULL, &cohort) == CAAS_OK, "default limits");
    CHECK(caas_engine_new("{\"max_expression_depth\": 3}", &engine) == CAAS_OK, "engine with a limit");
    CHECK(caas_engine_register_file(engine, "persons", persons_csv, PERSON) == CAAS_OK,
          "register persons");
    CaasResult *result = NULL;
    EXPECT_ERROR(caas_engine_evaluate(engine, cohort, NULL, &result), "limit_exceeded", "rule 1");
    CHECK(result == NULL, "no result over the engine's limit");
    caas_engine_free(engine);
    caas_cohort_free(cohort);

    strcpy(brackets, "{id: deep, title: Deep, purpose: direct_care, rules: [{include: \"");
    size_t at = strlen(brackets);
    for (int i = 0; i < 10000; i++) brackets[at++] = '(';
    brackets[at] = '\0';
    strcat(brackets, "true\"}]}");
    EXPECT_ERROR(caas_cohort_parse(brackets, CAAS_FORMAT_YAML, NULL, &cohort), "limit_exceeded",
                 "max_expression_depth");
    /* The quickstart has four variables. */
    EXPECT_ERROR(caas_cohort_parse_with_options(QUICKSTART, CAAS_FORMAT_YAML, NULL, "{\"max_variables\": 3}",
                                                &cohort),
                 "limit_exceeded", "`max_variables` allows (3)");
}

static void test_missing_table_and_use_after_error(void) {
    CaasEngine *engine = NULL;
    CaasCohort *cohort = parse(QUICKSTART);
    CaasResult *result = (CaasResult *)&checks;
    struct ArrowArrayStream stream;
    uint64_t count = 0;
    CHECK(caas_engine_new(NULL, &engine) == CAAS_OK, "engine");
    CHECK(caas_engine_register_file(engine, "persons", persons_csv, PERSON) == CAAS_OK, "persons");

    EXPECT_ERROR(caas_engine_evaluate(engine, cohort, NULL, &result), "table",
                 "table `gp` is not registered");
    CHECK(result == NULL, "a failed evaluation leaves no result");
    /* Using the (NULL) result of the failed evaluation is reported, not a crash. */
    memset(&stream, 0xAB, sizeof stream);
    EXPECT_ERROR(caas_result_members(result, &stream), "invalid_argument",
                 "`result` is NULL");
    CHECK(stream.release == NULL, "released stream");
    EXPECT_ERROR(caas_result_member_count(result, &count), "invalid_argument",
                 "`result` is NULL");
    caas_result_free(result);

    /* The engine stays usable: register the table and evaluate again. */
    CHECK(caas_engine_register_file(engine, "gp", gp_csv, GP) == CAAS_OK, "gp");
    CHECK(caas_engine_evaluate(engine, cohort, NULL, &result) == CAAS_OK, "evaluation after an error");
    CHECK(caas_result_member_count(result, &count) == CAAS_OK && count == 3, "three members");
    caas_result_free(result);

    EXPECT_ERROR(caas_engine_register_file(engine, "missing", "no/such/file.parquet", GP), "io",
                 "no/such/file.parquet");
    EXPECT_ERROR(caas_engine_register_file(engine, "persons", persons_csv,
                                           "{\"role\": \"person\", \"mapping\": {\"date_of_birth\": \"dob\"}}"),
                 "missing_column", "`dob`");
    caas_cohort_free(cohort);
    caas_engine_free(engine);
}

static void test_wrong_role(void) {
    CaasEngine *engine = engine_with_tables();
    CaasCohort *cohort = parse("id: wrong\ntitle: Wrong role\npurpose: direct_care\ncodelists:\n  asthma: { system: "
                               "snomed_ct, codes: [\"195967001\"] }\nvariables:\n  asthma: { kind: events, table: "
                               "persons, codelists: [asthma], returns: exists }\nrules:\n  - { name: asthma, "
                               "include: asthma }\noutput: { columns: [] }\n");
    CaasResult *result = NULL;
    EXPECT_ERROR(caas_engine_evaluate(engine, cohort, NULL, &result), "table",
                 "table `persons` is a person table, not an event table");
    CHECK(result == NULL, "no result");
    EXPECT_ERROR(caas_engine_register_file(engine, "people", persons_csv, PERSON), "registration",
                 "`persons` is already the person table");
    EXPECT_ERROR(caas_engine_register_file(engine, "gp2", gp_csv, "{\"role\": \"events\"}"),
                 "registration", "code_system");
    caas_cohort_free(cohort);
    caas_engine_free(engine);
}

static void test_streams_in(void) {
    CaasEngine *engine = NULL;
    CaasCohort *cohort = parse("id: all\ntitle: All\npurpose: direct_care\nvariables:\n  sex: { kind: sex }\n"
                               "rules: []\noutput: { columns: [sex] }\n");
    CaasResult *result = NULL;
    struct ArrowArrayStream stream;
    int releases = 0;
    TestStreamOptions options = {0, 0, NULL, 0, NULL};
    TextTable members;
    char error[256];
    options.releases = &releases;
    CHECK(caas_engine_new(NULL, &engine) == CAAS_OK, "engine");

    test_stream_init(&stream, person_columns, 3, 3, &options);
    CHECK(caas_engine_register_stream(engine, "persons", &stream, PERSON) == CAAS_OK, "register a C stream");
    CHECK(stream.release == NULL && releases == 1, "the library released the consumed stream once");
    EXPECT_ERROR(caas_engine_register_stream(engine, "persons", &stream, PERSON),
                 "invalid_argument", "`stream` is released");
    CHECK(releases == 1, "a consumed stream is not released again");

    CHECK(caas_engine_evaluate(engine, cohort, NULL, &result) == CAAS_OK, "evaluate over the C stream");
    CHECK(caas_result_members(result, &stream) == CAAS_OK, "members");
    if (table_from_stream(&stream, &members, error, sizeof error) == 0) {
        CHECK(members.n_rows == 3 && members.n_columns == 2, "3 rows of person_id and sex");
        CHECK(members.n_rows == 3 && strcmp(table_cell(&members, 0, 1), "F") == 0 &&
                  strcmp(table_cell(&members, 2, 0), "3") == 0 && strcmp(table_cell(&members, 2, 1), "") == 0,
              "the values given in C come back");
        table_free(&members);
    } else {
        CHECK(0, error);
    }
    caas_result_free(result);

    options.fail_get_schema = 1;
    options.error_message = "the schema is on fire";
    test_stream_init(&stream, person_columns, 3, 3, &options);
    EXPECT_ERROR(caas_engine_register_stream(engine, "p2", &stream, PERSON), "registration",
                 "the schema is on fire");
    CHECK(stream.release == NULL && releases == 2, "released after a failed get_schema");

    options.fail_get_schema = 0;
    options.fail_get_next = 1;
    options.error_message = NULL; /* allowed by the specification: no description */
    test_stream_init(&stream, person_columns, 3, 3, &options);
    EXPECT_ERROR(caas_engine_register_stream(engine, "p2", &stream, PERSON), "registration",
                 "get_next failed with error 5");
    CHECK(stream.release == NULL && releases == 3, "released after a failed get_next");

    options.fail_get_next = 0;
    options.corrupt_text = 1;
    test_stream_init(&stream, person_columns, 3, 3, &options);
    EXPECT_ERROR(caas_engine_register_stream(engine, "p2", &stream, PERSON), "registration",
                 "batch 1 is invalid");
    CHECK(stream.release == NULL && releases == 4, "released after corrupt data");

    options.corrupt_text = 0;
    test_stream_init(&stream, person_columns, 3, 3, &options);
    stream.get_schema = NULL;
    EXPECT_ERROR(caas_engine_register_stream(engine, "p2", &stream, PERSON),
                 "invalid_argument", "NULL get_schema");
    CHECK(stream.release == NULL && releases == 5, "released even without callbacks");

    test_stream_init(&stream, person_columns, 3, 3, &options);
    EXPECT_ERROR(caas_engine_register_stream(engine, "p2", &stream, "{\"role\": \"person\", \"mapping\": "
                                                                    "{\"sex\": \"gender\"}}"),
                 "missing_column", "`gender`");
    CHECK(stream.release == NULL && releases == 6, "released after a bad specification");

    caas_cohort_free(cohort);
    caas_engine_free(engine);
}

static void test_streams_out(void) {
    CaasEngine *engine = engine_with_tables();
    CaasCohort *cohort = parse(QUICKSTART);
    CaasResult *result = NULL;
    struct ArrowArrayStream stream;
    struct ArrowSchema schema;
    struct ArrowArray array;
    TextTable attrition;
    char error[256];
    int (*get_schema)(struct ArrowArrayStream *, struct ArrowSchema *);
    int (*get_next)(struct ArrowArrayStream *, struct ArrowArray *);
    const char *(*get_last_error)(struct ArrowArrayStream *);

    CHECK(caas_engine_evaluate(engine, cohort, NULL, &result) == CAAS_OK, "evaluate");
    CHECK(caas_result_attrition(result, &stream) == CAAS_OK, "attrition");
    /* The stream owns its data: it outlives the result, the cohort and the engine. */
    caas_result_free(result);
    caas_cohort_free(cohort);
    caas_engine_free(engine);

    CHECK(stream.get_schema(&stream, NULL) == EINVAL, "get_schema into NULL");
    CHECK(stream.get_next(&stream, NULL) == EINVAL, "get_next into NULL");
    CHECK(stream.get_schema(&stream, &schema) == 0, "get_schema");
    CHECK(strcmp(schema.format, "+s") == 0 && schema.n_children == 6, "six attrition columns");
    schema.release(&schema);
    CHECK(stream.get_schema(&stream, &schema) == 0, "get_schema again");
    schema.release(&schema);

    get_schema = stream.get_schema;
    get_next = stream.get_next;
    get_last_error = stream.get_last_error;
    if (table_from_stream(&stream, &attrition, error, sizeof error) == 0) {
        CHECK(attrition.n_rows == 2, "two rules");
        CHECK(attrition.n_rows == 2 && strcmp(table_cell(&attrition, 0, 1), "alive") == 0 &&
                  strcmp(table_cell(&attrition, 0, 3), "5") == 0 && strcmp(table_cell(&attrition, 0, 4), "4") == 0 &&
                  strcmp(table_cell(&attrition, 1, 1), "eligible") == 0 &&
                  strcmp(table_cell(&attrition, 1, 4), "3") == 0 && strcmp(table_cell(&attrition, 1, 5), "1") == 0,
              "alive 5 -> 4, eligible 4 -> 3");
        table_free(&attrition);
    } else {
        CHECK(0, error);
    }
    /* table_from_stream released it; its callbacks, called anyway, refuse. */
    CHECK(stream.release == NULL, "released");
    CHECK(get_schema(&stream, &schema) == EINVAL, "get_schema on a released stream");
    CHECK(get_next(&stream, &array) == EINVAL, "get_next on a released stream");
    CHECK(get_last_error(&stream) == NULL, "no last error on a released stream");
    CHECK(get_schema(NULL, &schema) == EINVAL, "get_schema on NULL");
}

static void test_end_of_stream_repeats(void) {
    CaasEngine *engine = engine_with_tables();
    CaasCohort *cohort = parse(QUICKSTART);
    CaasResult *result = NULL;
    struct ArrowArrayStream stream;
    struct ArrowArray array;
    int batches = 0, i;
    CHECK(caas_engine_evaluate(engine, cohort, NULL, &result) == CAAS_OK, "evaluate");
    CHECK(caas_result_members(result, &stream) == CAAS_OK, "members");
    for (i = 0; i < 4; i++) {
        CHECK(stream.get_next(&stream, &array) == 0, "get_next");
        if (array.release) {
            batches++;
            CHECK(array.length == 3, "three members");
            array.release(&array);
        }
    }
    CHECK(batches == 1, "one batch, then the end, again and again");
    stream.release(&stream);
    caas_result_free(result);
    caas_cohort_free(cohort);
    caas_engine_free(engine);
}

static void test_member_of_with_freed_cohort(void) {
    CaasEngine *engine = engine_with_tables();
    CaasCohort *older = parse("id: older\ntitle: Older\npurpose: direct_care\nparameters: { index_date: 2025-03-31 "
                              "}\nvariables:\n  age: { kind: age, on: index_date }\nrules:\n  - { name: older, "
                              "include: age >= 65 }\noutput: { columns: [] }\n");
    CaasCohort *cohort;
    CaasResult *result = NULL;
    uint64_t count = 0;
    CHECK(older && strcmp(caas_cohort_id(older), "older") == 0, "the cohort's id");
    CHECK(caas_engine_register_cohort(engine, older) == CAAS_OK, "register a cohort");
    caas_cohort_free(older); /* the engine keeps its own copy */
    cohort = parse("id: in_older\ntitle: In older\npurpose: direct_care\nvariables:\n  o: { kind: member_of, "
                   "cohort: older }\nrules:\n  - { name: o, include: o }\noutput: { columns: [] }\n");
    CHECK(caas_engine_evaluate(engine, cohort, NULL, &result) == CAAS_OK, "evaluate member_of");
    /* Born 1950-06-01 and 1940-01-01 (the latter died, but member_of asks only about age). */
    CHECK(caas_result_member_count(result, &count) == CAAS_OK && count == 2, "two older people");
    caas_result_free(result);
    caas_cohort_free(cohort);
    caas_engine_free(engine);
}

typedef struct Work {
    CaasEngine *engine;
    CaasCohort *cohort;
    uint64_t count;
    CaasStatus status;
    char code[64];
} Work;

static void *evaluate_in_thread(void *arg) {
    Work *work = (Work *)arg;
    CaasResult *result = NULL;
    work->status = caas_engine_evaluate(work->engine, work->cohort, NULL, &result);
    if (work->status == CAAS_OK) caas_result_member_count(result, &work->count);
    caas_result_free(result);
    return NULL;
}

static void *fail_in_thread(void *arg) {
    Work *work = (Work *)arg;
    CaasEngine *engine = NULL;
    work->status = caas_engine_new("not json", &engine);
    snprintf(work->code, sizeof work->code, "%s", caas_last_error_code());
    return NULL;
}

static void test_threads(void) {
    CaasEngine *engine = engine_with_tables();
    CaasCohort *cohort = parse(QUICKSTART);
    CaasCohort *unused = NULL;
    pthread_t threads[4];
    Work work[4];
    int i;

    /* The last error is per thread: another thread's failure does not touch this one's. */
    EXPECT_ERROR(caas_cohort_parse("id: [", CAAS_FORMAT_YAML, NULL, &unused), "syntax", NULL);
    memset(&work[0], 0, sizeof work[0]);
    pthread_create(&threads[0], NULL, fail_in_thread, &work[0]);
    pthread_join(threads[0], NULL);
    CHECK(work[0].status == caas_error_code_status("invalid_argument") && strcmp(work[0].code, "invalid_argument") == 0,
          "the other thread saw its own error");
    CHECK(strcmp(caas_last_error_code(), "syntax") == 0, "this thread still sees its own error");

    /* One engine, one cohort, four threads evaluating at once. */
    for (i = 0; i < 4; i++) {
        memset(&work[i], 0, sizeof work[i]);
        work[i].engine = engine;
        work[i].cohort = cohort;
        pthread_create(&threads[i], NULL, evaluate_in_thread, &work[i]);
    }
    for (i = 0; i < 4; i++) {
        pthread_join(threads[i], NULL);
        CHECK(work[i].status == CAAS_OK && work[i].count == 3, "concurrent evaluation");
    }
    caas_cohort_free(cohort);
    caas_engine_free(engine);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s REPO_ROOT\n", argv[0]);
        return 2;
    }
    snprintf(persons_csv, sizeof persons_csv, "%s/examples/data/persons.csv", argv[1]);
    snprintf(gp_csv, sizeof gp_csv, "%s/examples/data/gp_events.csv", argv[1]);

    test_version();
    test_last_error_is_cleared_by_success();
    test_status_of_a_code();
    test_null_arguments();
    test_invalid_utf8();
    test_invalid_json();
    test_bad_definitions();
    test_limits();
    test_missing_table_and_use_after_error();
    test_wrong_role();
    test_streams_in();
    test_streams_out();
    test_end_of_stream_repeats();
    test_member_of_with_freed_cohort();
    test_threads();

    printf("C error-path tests: %d checks, %d failed\n", checks, failures);
    return failures == 0 ? 0 : 1;
}
