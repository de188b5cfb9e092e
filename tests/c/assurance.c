/*
 * Clinical assurance and information governance through the C API, over a small case
 * computed by hand (the files of tests/c/assurance/):
 *
 *   person  born        NHS number  asthma codes in gp       age on 2025-03-31  verdict
 *   1       1950-06-01  valid       -                        74                 in (age)
 *   2       1990-06-01  valid       2022-01-08, 2024-10-04   34                 in (asthma within 5 years)
 *   3       1985-06-01  INVALID     2019-01-01               39                 out at 2 `eligible` (false)
 *   4       1940-01-01  valid       -                        85                 in (age)
 *   5       2015-01-01  valid       -                        10                 out at 1 `adult` (false)
 *   6       missing     valid       -                        unknown            out at 1 `adult` (unknown)
 *   and an asthma code of person 9, who is not in the person table.
 *
 * Attrition: `adult` 6 -> 4 (2 removed), `eligible` 4 -> 3 (1 removed); members 1, 2, 4.
 * Data quality: persons has 1 invalid NHS number (Modulus 11) and 1 missing date of birth;
 * gp has 1 event of an unknown person.
 *
 * The same case is conformance case 125 (and 126-129), which every front end runs: the
 * verdicts, rule outcomes and values of the people, the data-quality counts and policies,
 * the definition's hash (also as reformatted JSON) and the pseudonyms are checked there.
 * Checked here, about the C API itself: the explanation JSON of people 2 and 3 in full
 * (explain-2.json and explain-3.json, checked by hand against the table above); unknown
 * people (status, code, no id in the message) and an id that is not UTF-8; the provenance
 * manifest's JSON, its hash equal across two evaluations with byte-identical members; a
 * failing data-quality policy (status, no NHS number in the message) and options that do
 * not fit; pseudonyms from the options JSON against pseudonymised_members.csv, computed
 * independently with Python's hmac module (HMAC-SHA256 of each member's NHS number under
 * KEY, sorted) and cross-checked once with `openssl dgst -sha256 -mac HMAC -macopt
 * hexkey:KEY`, and that the key is in nothing the result says; the report's key sentences
 * in Markdown and HTML and that the HTML refers to nothing outside itself; the audit stream
 * (audit.csv); the members' characterisation (characterisation.csv); who joined and left against previous members given as a stream built here
 * and as a file (previous.csv: 1, 3, 7); the cohort as DuckDB SQL over another engine's
 * table names (its queries are run on the engines by tests/python/test_sql_backends.py);
 * NULL and invalid arguments to every function of
 * this part of the API. Every string the library hands out is freed (the program runs
 * under valgrind).
 *
 * Usage: assurance DATA_DIR   (tests/c/assurance)
 */
#include <ctype.h>
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

/* Checks the code of a failed call's error, its status (the one the library gives that code,
 * so that the tests keep no table of their own) and the thread's last error. */
static void expect_error(CaasStatus status, const char *code, const char *part, int line) {
    CaasStatus expected = caas_error_code_status(code);
    checks++;
    if (status != expected || caas_last_error_status() != expected || strcmp(caas_last_error_code(), code) != 0 ||
        (part && !strstr(caas_last_error_message(), part))) {
        failures++;
        fprintf(stderr, "FAIL line %d: expected status %d `%s` with \"%s\", got status %d `%s`: %s\n", line,
                (int)expected, code, part ? part : "", (int)status, caas_last_error_code(),
                caas_last_error_message());
    }
}

#define EXPECT_ERROR(call, code, part) expect_error((call), (code), (part), __LINE__)

/* Checks that `text` holds `part`, printing both when it does not. */
static void expect_contains(const char *text, const char *part, int line) {
    checks++;
    if (!text || !strstr(text, part)) {
        failures++;
        fprintf(stderr, "FAIL line %d: missing \"%s\" from:\n%s\n", line, part, text ? text : "(NULL)");
    }
}

#define EXPECT_CONTAINS(text, part) expect_contains((text), (part), __LINE__)

static char dir[1024];

static const char *PERSON = "{\"role\": \"person\"}";
static const char *GP = "{\"role\": \"events\", \"code_system\": \"snomed_ct\"}";
/* The reference date makes the data-quality findings the same on every day. */
static const char *OPTIONS = "{\"reference_date\": \"2026-01-31\"}";
static const char *KEY = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";
static const char *const NHS_NUMBERS[] = {"9434765919", "4010232137", "1234567890",
                                          "4505577104", "9876543210", "4857773457"};

static char *data_path(const char *name) {
    static char path[1200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return path;
}

static char *data_file(const char *name) {
    char *text = read_file(data_path(name));
    if (!text) {
        fprintf(stderr, "cannot read %s\n", data_path(name));
        exit(2);
    }
    return text;
}

/* JSON text without the whitespace between its tokens (kept inside strings), so that
 * expected fragments do not depend on the library's indentation. To free. */
static char *compact(const char *json) {
    char *out = malloc(strlen(json) + 1), *o = out;
    int in_string = 0, escaped = 0;
    for (; *json; json++) {
        char c = *json;
        if (in_string) {
            if (escaped) escaped = 0;
            else if (c == '\\') escaped = 1;
            else if (c == '"') in_string = 0;
        } else if (c == '"') {
            in_string = 1;
        } else if (isspace((unsigned char)c)) {
            continue;
        }
        *o++ = c;
    }
    *o = '\0';
    return out;
}

/* The text of a string field (`"name": "..."`, without escapes) of JSON text, into `out`. */
static void json_field(const char *json, const char *name, char *out, size_t size) {
    char key[64];
    const char *at, *end;
    snprintf(key, sizeof key, "\"%s\": \"", name);
    out[0] = '\0';
    at = strstr(json, key);
    if (!at) return;
    at += strlen(key);
    end = strchr(at, '"');
    if (end && (size_t)(end - at) < size) {
        memcpy(out, at, (size_t)(end - at));
        out[end - at] = '\0';
    }
}

static CaasEngine *engine_with_tables(void) {
    CaasEngine *engine = NULL;
    CHECK(caas_engine_new("{\"target_partitions\": 2}", &engine) == CAAS_OK, "engine");
    CHECK(caas_engine_register_file(engine, "persons", data_path("persons.csv"), PERSON) == CAAS_OK, "persons");
    CHECK(caas_engine_register_file(engine, "gp", data_path("gp.csv"), GP) == CAAS_OK, "gp");
    return engine;
}

static CaasCohort *cohort_from(const char *file, uint32_t format) {
    CaasCohort *cohort = NULL;
    char *text = data_file(file);
    CHECK(caas_cohort_parse(text, format, NULL, &cohort) == CAAS_OK, file);
    free(text);
    return cohort;
}

static CaasResult *evaluate(CaasEngine *engine, CaasCohort *cohort, const char *options) {
    CaasResult *result = NULL;
    CHECK(caas_engine_evaluate_with(engine, cohort, NULL, options, &result) == CAAS_OK, "evaluate with options");
    return result;
}

/* Reads a stream into `table`; 0 on success. */
static int read_stream(struct ArrowArrayStream *stream, TextTable *table) {
    char error[256];
    if (table_from_stream(stream, table, error, sizeof error) != 0) {
        CHECK(0, error);
        return -1;
    }
    return 0;
}

/* Checks that a stream holds exactly the table of the CSV text `expected`, names included. */
static void expect_table(struct ArrowArrayStream *stream, const char *expected, const char *what) {
    TextTable actual, wanted;
    char error[256];
    size_t r, c;
    int same;
    if (read_stream(stream, &actual) != 0) return;
    if (table_from_csv(expected, &wanted, error, sizeof error) != 0) {
        CHECK(0, error);
        table_free(&actual);
        return;
    }
    same = actual.n_rows == wanted.n_rows && actual.n_columns == wanted.n_columns;
    for (c = 0; same && c < wanted.n_columns; c++) same = strcmp(actual.names[c], wanted.names[c]) == 0;
    for (r = 0; same && r < wanted.n_rows; r++)
        for (c = 0; same && c < wanted.n_columns; c++)
            same = strcmp(table_cell(&actual, r, c), table_cell(&wanted, r, c)) == 0;
    if (!same) {
        fprintf(stderr, "%s: expected\n%s\ngot %zu rows:\n", what, expected, actual.n_rows);
        for (r = 0; r < actual.n_rows; r++) {
            for (c = 0; c < actual.n_columns; c++) fprintf(stderr, "%s%s", c ? "," : "", table_cell(&actual, r, c));
            fprintf(stderr, "\n");
        }
    }
    CHECK(same, what);
    table_free(&actual);
    table_free(&wanted);
}

/* The explanation of `person` as compact JSON (to free), or NULL. */
static char *explain(const CaasResult *result, const char *person) {
    char *json = NULL, *small;
    if (caas_result_explain_json(result, person, &json) != CAAS_OK) {
        CHECK(0, "explain");
        return NULL;
    }
    small = compact(json);
    caas_string_free(json);
    return small;
}

static void test_explanations(void) {
    CaasEngine *engine = engine_with_tables();
    CaasCohort *cohort = cohort_from("cohort.yaml", CAAS_FORMAT_YAML);
    CaasResult *result = evaluate(engine, cohort, OPTIONS);
    const char *people[] = {"2", "3"};
    char *json = (char *)&checks, *expected_file, *expected, *actual;
    size_t i;

    /* People 2 (in, by their asthma codes) and 3 (out at `eligible`) in full. */
    for (i = 0; i < 2; i++) {
        char name[32];
        snprintf(name, sizeof name, "explain-%s.json", people[i]);
        expected_file = data_file(name);
        expected = compact(expected_file);
        actual = explain(result, people[i]);
        CHECK(actual && strcmp(actual, expected) == 0, name);
        if (actual && strcmp(actual, expected) != 0) fprintf(stderr, "expected %s\ngot      %s\n", expected, actual);
        free(actual);
        free(expected);
        free(expected_file);
    }

    /* Person 2: the latest of two codes is the one behind `asthma_last`; both are counted. */
    actual = explain(result, "2");
    EXPECT_CONTAINS(actual, "\"verdict\":{\"verdict\":\"in\"}");
    EXPECT_CONTAINS(actual, "\"value\":\"2024-10-04\",\"selected\":2,\"events\":[{\"table\":\"gp\",\"date\":"
                            "\"2024-10-04\",\"code\":\"195967001\",\"value\":null}]}");
    EXPECT_CONTAINS(actual, "\"value\":2,\"selected\":2,\"events\":[{\"table\":\"gp\",\"date\":\"2022-01-08\","
                            "\"code\":\"195967001\",\"value\":null},{\"table\":\"gp\",\"date\":\"2024-10-04\","
                            "\"code\":\"195967001\",\"value\":null}]}");
    free(actual);

    /* Nobody with id 42; person 9 has an event but is not in the person table; a text that
     * is no integer matches no integer id. No message prints the id. */
    EXPECT_ERROR(caas_result_explain_json(result, "42", &json), "unknown_person",
                 "person table `persons` has no person with the given id");
    CHECK(json == NULL, "a failed explanation sets *out to NULL");
    CHECK(strstr(caas_last_error_message(), "42") == NULL, "the id is not in the message");
    EXPECT_ERROR(caas_result_explain_json(result, "9", &json), "unknown_person", NULL);
    CHECK(strstr(caas_last_error_message(), "9") == NULL, "the id is not in the message");
    EXPECT_ERROR(caas_result_explain_json(result, "Zebra", &json), "unknown_person",
                 NULL);
    CHECK(strstr(caas_last_error_message(), "Zebra") == NULL, "the id is not in the message");
    EXPECT_ERROR(caas_result_explain_json(result, "2\xff", &json), "invalid_argument",
                 "`person_id` is not valid UTF-8");

    /* The result is still usable after the errors. */
    actual = explain(result, "1");
    EXPECT_CONTAINS(actual, "\"person_id\":\"1\",\"verdict\":{\"verdict\":\"in\"}");
    free(actual);

    caas_result_free(result);
    caas_cohort_free(cohort);
    caas_engine_free(engine);
}

static void test_provenance(void) {
    CaasEngine *engine = engine_with_tables();
    CaasCohort *yaml = cohort_from("cohort.yaml", CAAS_FORMAT_YAML);
    CaasResult *results[2];
    char *manifests[2];
    char hashes[2][80], *small;
    struct ArrowArrayStream stream;
    TextTable members[2];
    size_t i, r, c;
    int same;

    results[0] = evaluate(engine, yaml, OPTIONS);
    results[1] = evaluate(engine, yaml, OPTIONS);
    for (i = 0; i < 2; i++) {
        manifests[i] = NULL;
        CHECK(caas_result_provenance_json(results[i], &manifests[i]) == CAAS_OK, "provenance");
        json_field(manifests[i] ? manifests[i] : "", "definition_sha256", hashes[i], sizeof hashes[i]);
    }
    CHECK(strlen(hashes[0]) == 64 && strspn(hashes[0], "0123456789abcdef") == 64, "a SHA-256 in hexadecimal");
    CHECK(strcmp(hashes[0], hashes[1]) == 0, "the same hash for two evaluations of the same inputs");

    small = compact(manifests[0] ? manifests[0] : "");
    EXPECT_CONTAINS(small, "\"format\":\"caas-provenance/1\",\"cohort\":{\"id\":\"assurance\",\"title\":\"Aged 65 or "
                           "over, or with recent asthma\"},\"purpose\":\"direct_care\"");
    EXPECT_CONTAINS(small, "{\"name\":\"asthma\",\"system\":\"snomed_ct\",\"description\":\"Asthma\",\"size\":1,");
    EXPECT_CONTAINS(small, "{\"name\":\"persons\",\"role\":\"person\",\"rows\":6,\"columns\":[{\"name\":"
                           "\"person_id\",\"data_type\":\"Utf8\",\"nullable\":true},{\"name\":\"nhs_number\"");
    EXPECT_CONTAINS(small, "{\"name\":\"gp\",\"role\":\"events\",\"code_system\":\"snomed_ct\",\"rows\":4,");
    EXPECT_CONTAINS(small, "\"parameters\":{\"index_date\":\"2025-03-31\"}");
    EXPECT_CONTAINS(small, "\"population\":6,\"members\":3,\"attrition\":[{\"step\":1,\"rule\":\"adult\","
                           "\"action\":\"include\",\"before\":6,\"after\":4,\"removed\":2},{\"step\":2,\"rule\":"
                           "\"eligible\",\"action\":\"include\",\"before\":4,\"after\":3,\"removed\":1}]");
    free(small);

    /* Byte-identical members from the two evaluations of the same inputs. */
    memset(members, 0, sizeof members);
    for (i = 0; i < 2; i++) {
        CHECK(caas_result_members(results[i], &stream) == CAAS_OK, "members");
        if (read_stream(&stream, &members[i]) != 0) memset(&members[i], 0, sizeof members[i]);
    }
    same = members[0].n_rows == 3 && members[1].n_rows == 3 && members[0].n_columns == members[1].n_columns;
    for (r = 0; same && r < members[0].n_rows; r++)
        for (c = 0; same && c < members[0].n_columns; c++)
            same = strcmp(table_cell(&members[0], r, c), table_cell(&members[1], r, c)) == 0;
    CHECK(same, "the same members from both evaluations");
    CHECK(same && strcmp(table_cell(&members[0], 0, 0), "1") == 0 && strcmp(table_cell(&members[0], 1, 0), "2") == 0 &&
              strcmp(table_cell(&members[0], 2, 0), "4") == 0 && strcmp(table_cell(&members[0], 2, 1), "85") == 0,
          "members 1, 2 and 4");
    for (i = 0; i < 2; i++) table_free(&members[i]);

    for (i = 0; i < 2; i++) {
        caas_string_free(manifests[i]);
        caas_result_free(results[i]);
    }
    caas_cohort_free(yaml);
    caas_engine_free(engine);
}

static void test_data_quality(void) {
    CaasEngine *engine = engine_with_tables();
    CaasCohort *cohort = cohort_from("cohort.yaml", CAAS_FORMAT_YAML);
    CaasResult *failed = (CaasResult *)&checks;
    size_t i;

    /* Fail (the findings, the policies and the messages are conformance cases 125-128): a
     * data error, no result, and no NHS number in the message. */
    EXPECT_ERROR(caas_engine_evaluate_with(engine, cohort, NULL,
                                           "{\"quality\": {\"invalid_nhs_number\": \"fail\", \"missing_date\": "
                                           "\"fail\"}}",
                                           &failed),
                 "data_quality", "(finding `");
    for (i = 0; i < sizeof NHS_NUMBERS / sizeof NHS_NUMBERS[0]; i++)
        CHECK(strstr(caas_last_error_message(), NHS_NUMBERS[i]) == NULL, "no NHS number in the message");

    /* Options that do not fit. */
    EXPECT_ERROR(caas_engine_evaluate_with(engine, cohort, NULL, "{\"quality\": {\"bad_smell\": \"keep\"}}", &failed),
                 "invalid_argument", "unknown field `bad_smell`");
    EXPECT_ERROR(caas_engine_evaluate_with(engine, cohort, NULL, "{\"quality\": {\"missing_date\": \"ignore\"}}",
                                           &failed),
                 "invalid_argument", "unknown variant `ignore`");
    EXPECT_ERROR(caas_engine_evaluate_with(engine, cohort, NULL, "{\"reference_date\": \"31/01/2026\"}", &failed),
                 "invalid_argument", "is not a date (YYYY-MM-DD)");
    EXPECT_ERROR(caas_engine_evaluate_with(engine, cohort, NULL, "{\n  \"quality\": [\n", &failed),
                 "invalid_argument", "`options_json`");
    CHECK(caas_last_error_line() == 3, "the line of the JSON error in the options");
    CHECK(failed == NULL, "no result");

    caas_cohort_free(cohort);
    caas_engine_free(engine);
}

static void test_pseudonyms(void) {
    CaasEngine *engine = engine_with_tables();
    CaasCohort *cohort = cohort_from("cohort.yaml", CAAS_FORMAT_YAML);
    CaasResult *result, *failed = NULL;
    char options[256], error[256], joined_csv[128], *expected = data_file("pseudonymised_members.csv");
    char *texts[4] = {NULL, NULL, NULL, NULL};
    char short_key[128];
    struct ArrowArrayStream stream, joined, left;
    TextTable table;
    const char *previous[3];
    TestColumn column = {"pseudonym", "u", NULL, NULL};
    int releases = 0;
    TestStreamOptions counted = {0, 0, NULL, 0, NULL};
    size_t i;

    snprintf(options, sizeof options, "{\"pseudonym_key\": \"%s\", \"reference_date\": \"2026-01-31\"}", KEY);
    result = evaluate(engine, cohort, options);
    CHECK(caas_result_members(result, &stream) == CAAS_OK, "members");
    expect_table(&stream, expected, "members identified by HMAC-SHA256 pseudonyms of their NHS numbers");

    /* The key is nowhere in what the result says about itself. */
    CHECK(caas_result_provenance_json(result, &texts[0]) == CAAS_OK, "provenance");
    CHECK(caas_result_data_quality_json(result, &texts[1]) == CAAS_OK, "data quality");
    CHECK(caas_result_report(result, NULL, CAAS_REPORT_MARKDOWN, &texts[2]) == CAAS_OK, "report");
    CHECK(caas_result_report(result, NULL, CAAS_REPORT_HTML, &texts[3]) == CAAS_OK, "report");
    for (i = 0; i < 4; i++) {
        CHECK(texts[i] && strstr(texts[i], KEY) == NULL && strstr(texts[i], "0f1e2d3c") == NULL, "no key");
        caas_string_free(texts[i]);
    }

    /* A later run with the same key gives the same pseudonyms: compared, on them, with an
     * earlier run's members given as a stream, one of whom has left. */
    if (table_from_csv(expected, &table, error, sizeof error) == 0 && table.n_rows == 3) {
        previous[0] = table_cell(&table, 0, 0);
        previous[1] = table_cell(&table, 2, 0);
        previous[2] = "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff";
        column.values = previous;
        counted.releases = &releases;
        test_stream_init(&stream, &column, 1, 3, &counted);
        CHECK(caas_result_diff(result, &stream, &joined, &left) == CAAS_OK, "diff of pseudonyms");
        CHECK(stream.release == NULL && releases == 1, "the previous members were released once");
        snprintf(joined_csv, sizeof joined_csv, "pseudonym\n%s\n", table_cell(&table, 1, 0));
        expect_table(&joined, joined_csv, "the member not in the earlier run joined");
        expect_table(&left, "pseudonym\nffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff\n",
                     "the earlier member not in this run left");
        /* Pseudonyms are compared only with pseudonyms. */
        column.name = "person_id";
        test_stream_init(&stream, &column, 1, 3, &counted);
        EXPECT_ERROR(caas_result_diff(result, &stream, &joined, &left), "missing_column",
                     "table `previous members` has no column `pseudonym`");
        CHECK(releases == 2 && joined.release == NULL && left.release == NULL, "all released");
        table_free(&table);
    } else {
        CHECK(0, error);
    }
    caas_result_free(result);

    /* A key that is too short or not hexadecimal is refused, without being quoted. */
    snprintf(short_key, sizeof short_key, "{\"pseudonym_key\": \"%.20s\"}", KEY);
    EXPECT_ERROR(caas_engine_evaluate_with(engine, cohort, NULL, short_key, &failed),
                 "invalid_argument", "evaluation option `pseudonym_key`: the key has 10 bytes");
    CHECK(strstr(caas_last_error_message(), "0f1e2d3c") == NULL, "the key is not in the message");
    EXPECT_ERROR(caas_engine_evaluate_with(engine, cohort, NULL, "{\"pseudonym_key\": \"not a key at all!!\"}",
                                           &failed),
                 "invalid_argument", "the key is not hexadecimal");
    CHECK(strstr(caas_last_error_message(), "not a key") == NULL, "the key is not in the message");
    CHECK(failed == NULL, "no result");

    free(expected);
    caas_cohort_free(cohort);
    caas_engine_free(engine);
}

static void test_report(void) {
    CaasEngine *engine = engine_with_tables();
    CaasCohort *cohort = cohort_from("cohort.yaml", CAAS_FORMAT_YAML);
    CaasResult *result = evaluate(engine, cohort, OPTIONS);
    char *markdown = NULL, *html = NULL, *svg = NULL, *controlled = NULL, *manifest = NULL, *lower, *out;
    char hash[80], line[200];
    const char *outside[] = {"http:", "https:", "src=", "href=", "<script", "<link", "url(", "@import", "<iframe", "<img"};
    size_t i;

    CHECK(caas_result_report(result, NULL, CAAS_REPORT_MARKDOWN, &markdown) == CAAS_OK, "Markdown");
    CHECK(caas_result_report(result, "{\"disclosure_control\": false}", CAAS_REPORT_HTML, &html) == CAAS_OK, "HTML");
    CHECK(caas_result_report(result, NULL, CAAS_REPORT_FUNNEL_SVG, &svg) == CAAS_OK, "SVG");
    CHECK(caas_result_provenance_json(result, &manifest) == CAAS_OK, "provenance");

    EXPECT_CONTAINS(markdown, "# Aged 65 or over, or with recent asthma\n");
    EXPECT_CONTAINS(markdown, "| People in the person table | 6 |");
    EXPECT_CONTAINS(markdown, "| People in the cohort | 3 |");
    EXPECT_CONTAINS(markdown, "- `age`: age in whole years on 31 March 2025.");
    EXPECT_CONTAINS(markdown, "- `asthma_last`: the date of the latest Asthma code (`asthma`) in `gp` between 31 "
                              "March 2020 and 31 March 2025.");
    EXPECT_CONTAINS(markdown, "- `asthma_count`: the number of Asthma codes (`asthma`) in `gp` on or before 31 "
                              "March 2025.");
    EXPECT_CONTAINS(markdown, "1. **adult** (include): keep only people for whom `age` is at least 18.");
    EXPECT_CONTAINS(markdown, "2. **eligible** (include): keep only people for whom `age` is at least 65 or "
                              "`asthma_last` is not missing.");
    EXPECT_CONTAINS(markdown, "| 1 | adult | include | 6 | 4 | 2 |");
    EXPECT_CONTAINS(markdown, "| 2 | eligible | include | 4 | 3 | 1 |");
    EXPECT_CONTAINS(markdown, "| `persons` | `nhs_number` | an invalid NHS number | 1 | kept |");
    EXPECT_CONTAINS(markdown, "| `persons` | `date_of_birth` | a missing date | 1 | kept |");
    EXPECT_CONTAINS(markdown, "| `gp` | `person_id` | a person id that is not in the person table | 1 | kept |");
    json_field(manifest ? manifest : "", "definition_sha256", hash, sizeof hash);
    snprintf(line, sizeof line, "| Definition SHA-256 | `%s` |", hash);
    EXPECT_CONTAINS(markdown, line);
    for (i = 0; i < sizeof NHS_NUMBERS / sizeof NHS_NUMBERS[0]; i++) {
        CHECK(markdown && strstr(markdown, NHS_NUMBERS[i]) == NULL, "no NHS number in the Markdown");
        CHECK(html && strstr(html, NHS_NUMBERS[i]) == NULL, "no NHS number in the HTML");
    }

    CHECK(html && strncmp(html, "<!DOCTYPE html>", 15) == 0, "an HTML page");
    EXPECT_CONTAINS(html, "<strong>adult</strong> (include): keep only people for whom <code>age</code> is at "
                          "least 18.");
    EXPECT_CONTAINS(html, "<svg class=\"funnel\"");
    lower = malloc(strlen(html ? html : "") + 1);
    for (i = 0; html && html[i]; i++) lower[i] = (char)tolower((unsigned char)html[i]);
    lower[i] = '\0';
    for (i = 0; i < sizeof outside / sizeof outside[0]; i++) {
        CHECK(strstr(lower, outside[i]) == NULL, "the HTML refers to nothing outside itself");
        if (strstr(lower, outside[i])) fprintf(stderr, "  found %s\n", outside[i]);
    }
    free(lower);
    CHECK(svg && strncmp(svg, "<svg xmlns=\"http://www.w3.org/2000/svg\"", 39) == 0, "a standalone SVG");

    /* Disclosure control on demand: 6, 4, 2, 3 and 1 are all between 1 and 7. */
    CHECK(caas_result_report(result, "{\"disclosure_control\": true}", CAAS_REPORT_MARKDOWN, &controlled) == CAAS_OK,
          "controlled");
    EXPECT_CONTAINS(controlled, "| 1 | adult | include | \\* | \\* | \\* |");
    EXPECT_CONTAINS(controlled, "| People in the cohort | \\* |");

    out = (char *)&checks;
    EXPECT_ERROR(caas_result_report(result, NULL, 3, &out), "invalid_argument",
                 "`format` is 3");
    CHECK(out == NULL, "a failed report sets *out to NULL");
    EXPECT_ERROR(caas_result_report(result, "{\"disclosure\": true}", CAAS_REPORT_HTML, &out),
                 "invalid_argument", "unknown field `disclosure`");
    EXPECT_ERROR(caas_result_report(result, "{\"disclosure_control\": \xff}", CAAS_REPORT_HTML, &out),
                 "invalid_argument", "`options_json` is not valid UTF-8");

    caas_string_free(markdown);
    caas_string_free(html);
    caas_string_free(svg);
    caas_string_free(controlled);
    caas_string_free(manifest);
    caas_result_free(result);
    caas_cohort_free(cohort);
    caas_engine_free(engine);
}

static void test_audit(void) {
    CaasEngine *engine = engine_with_tables();
    CaasCohort *cohort = cohort_from("cohort.yaml", CAAS_FORMAT_YAML);
    CaasResult *result = evaluate(engine, cohort, OPTIONS);
    char *expected = data_file("audit.csv");
    struct ArrowArrayStream stream;
    CHECK(caas_result_audit(result, &stream) == CAAS_OK, "audit");
    /* The stream owns its data: it outlives the result. */
    caas_result_free(result);
    expect_table(&stream, expected, "every person's rule outcomes");
    free(expected);
    caas_cohort_free(cohort);
    caas_engine_free(engine);
}

/* Checks that a stream holds the table of the CSV text `expected` in the columns it names
 * (by name, in any order among the stream's), row for row. */
static void expect_columns(struct ArrowArrayStream *stream, const char *expected, const char *what) {
    TextTable actual, wanted;
    char error[256];
    size_t r, c;
    long at;
    int same;
    if (read_stream(stream, &actual) != 0) return;
    if (table_from_csv(expected, &wanted, error, sizeof error) != 0) {
        CHECK(0, error);
        table_free(&actual);
        return;
    }
    same = actual.n_rows == wanted.n_rows;
    for (c = 0; same && c < wanted.n_columns; c++) {
        at = table_column(&actual, wanted.names[c]);
        same = at >= 0;
        for (r = 0; same && r < wanted.n_rows; r++)
            same = strcmp(table_cell(&actual, r, (size_t)at), table_cell(&wanted, r, c)) == 0;
        if (!same) fprintf(stderr, "%s: column %s differs (row %zu of %zu)\n", what, wanted.names[c], r, actual.n_rows);
    }
    CHECK(same, what);
    table_free(&actual);
    table_free(&wanted);
}

/* The members' characterisation: characterisation.csv, computed by hand from the table at
 * the top (ages 74, 34 and 85 on 2025-03-31; sexes F, M, M); under disclosure control every
 * count of 3 people or fewer is `*`. */
static void test_characterise(void) {
    CaasEngine *engine = engine_with_tables();
    CaasCohort *cohort = cohort_from("cohort.yaml", CAAS_FORMAT_YAML);
    CaasResult *result = evaluate(engine, cohort, OPTIONS);
    char *expected = data_file("characterisation.csv");
    struct ArrowArrayStream stream;
    TextTable table;

    CHECK(caas_result_characterise(result, NULL, &stream) == CAAS_OK, "characterise");
    expect_columns(&stream, expected, "the members' characterisation");
    free(expected);

    CHECK(caas_result_characterise(result, "{\"disclosure_control\": true, \"age_bands\": [0, 65]}", &stream) ==
              CAAS_OK,
          "characterise under control");
    if (read_stream(&stream, &table) == 0) {
        long shown = table_column(&table, "shown");
        CHECK(table.n_rows > 4 && shown >= 0, "a table with a `shown` column");
        if (table.n_rows > 4 && shown >= 0) {
            CHECK(strcmp(table_cell(&table, 0, (size_t)shown), "*") == 0, "3 members are *");
            CHECK(strcmp(table_cell(&table, 2, 2), "0-64") == 0, "the bands asked for");
            CHECK(strcmp(table_cell(&table, 4, 2), "65+") == 0, "the bands asked for");
        }
        table_free(&table);
    }

    EXPECT_ERROR(caas_result_characterise(result, "{\"age_bands\": [18]}", &stream), "invalid_input",
                 "the lower bounds of the bands start at 0");
    CHECK(stream.release == NULL, "a failed call leaves a released stream");
    EXPECT_ERROR(caas_result_characterise(result, "{\"bands\": [0]}", &stream), "invalid_argument",
                 "unknown field `bands`");
    EXPECT_ERROR(caas_result_characterise(NULL, NULL, &stream), "invalid_argument", "`result` is NULL");
    EXPECT_ERROR(caas_result_characterise(result, NULL, NULL), "invalid_argument", "`out` is NULL");

    caas_result_free(result);
    caas_cohort_free(cohort);
    caas_engine_free(engine);
}

/* What-if attrition, against the outcomes of audit.csv counted by hand. */
static void test_what_if(void) {
    CaasEngine *engine = engine_with_tables();
    CaasCohort *cohort = cohort_from("cohort.yaml", CAAS_FORMAT_YAML);
    CaasResult *result = evaluate(engine, cohort, OPTIONS);
    struct ArrowArrayStream stream;
    static const char *const HEADER = "step,rule,action,before,after,removed\n";
    char expected[256];

    /* Without `adult`, `eligible` alone keeps 1, 2 and 4 of the 6. */
    CHECK(caas_result_what_if(result, "{\"drop\": [\"adult\"]}", &stream) == CAAS_OK, "drop");
    snprintf(expected, sizeof expected, "%s1,eligible,include,6,3,3\n", HEADER);
    expect_table(&stream, expected, "what if without adult");

    /* Reordered, with a rule added over `age` (named by a rule, so held): 4 is 85. */
    CHECK(caas_result_what_if(result,
                              "{\"order\": [\"eligible\"], \"add\": [{\"name\": \"under 80\", "
                              "\"exclude\": \"age >= 80\"}]}",
                              &stream) == CAAS_OK,
          "order and add");
    snprintf(expected, sizeof expected,
             "%s1,eligible,include,6,3,3\n2,adult,include,3,3,0\n3,under 80,exclude,3,2,1\n", HEADER);
    expect_table(&stream, expected, "what if eligible first, under 80 added");

    /* `asthma_count` is a number no rule names: not held. */
    EXPECT_ERROR(caas_result_what_if(result, "{\"add\": [{\"name\": \"x\", \"include\": \"asthma_count > 1\"}]}",
                                     &stream),
                 "invalid_input", "the variable `asthma_count` is not held");
    CHECK(stream.release == NULL, "a released stream on failure");
    EXPECT_ERROR(caas_result_what_if(result, "{\"drop\": [\"adults\"]}", &stream), "invalid_input",
                 "`drop` names the rule `adults`, which is not one of `adult`, `eligible`");
    EXPECT_ERROR(caas_result_what_if(result, "{\"add\": [{\"name\": \"x\", \"include\": \"age\"}]}", &stream),
                 "type_mismatch", "rule 3 (`x`)");
    EXPECT_ERROR(caas_result_what_if(result, NULL, &stream), "invalid_argument", "`changes_json` is NULL");

    caas_result_free(result);
    caas_cohort_free(cohort);
    caas_engine_free(engine);
}

/* Text, as this run's ids: identifiers read from CSV are text. */
static const char *const previous_ids[] = {"1", "3", "7"};
static const TestColumn previous_column = {"person_id", "u", previous_ids, NULL};

static void test_diff(void) {
    CaasEngine *engine = engine_with_tables();
    CaasCohort *cohort = cohort_from("cohort.yaml", CAAS_FORMAT_YAML);
    CaasResult *result = evaluate(engine, cohort, OPTIONS);
    struct ArrowArrayStream previous, joined, left;
    int releases = 0;
    TestStreamOptions counted = {0, 0, NULL, 0, NULL};
    static const char *const one_missing[] = {"1", NULL, "7"};
    static const int64_t integer_ids[] = {1, 3, 7};
    TestColumn column;
    counted.releases = &releases;

    /* Members 1, 2, 4 against an earlier run's 1, 3, 7, built here. */
    test_stream_init(&previous, &previous_column, 1, 3, &counted);
    CHECK(caas_result_diff(result, &previous, &joined, &left) == CAAS_OK, "diff");
    CHECK(previous.release == NULL && releases == 1, "the previous members were taken over and released once");
    expect_table(&joined, "person_id\n2\n4\n", "joined: 2 and 4");
    expect_table(&left, "person_id\n3\n7\n", "left: 3 and 7");

    /* The same from a file, and with `previous` reused as an out-stream. */
    CHECK(caas_result_diff_path(result, data_path("previous.csv"), &joined, &left) == CAAS_OK, "diff from a file");
    expect_table(&joined, "person_id\n2\n4\n", "joined: 2 and 4, from a file");
    expect_table(&left, "person_id\n3\n7\n", "left: 3 and 7, from a file");
    test_stream_init(&previous, &previous_column, 1, 3, &counted);
    CHECK(caas_result_diff(result, &previous, &previous, &left) == CAAS_OK, "the previous stream as an out-stream");
    CHECK(releases == 2, "released once");
    expect_table(&previous, "person_id\n2\n4\n", "joined, into the previous stream's struct");
    expect_table(&left, "person_id\n3\n7\n", "left");

    /* Earlier members that do not fit: the stream is released, both outs are released
     * streams, and no message prints an id. */
    column.name = "person_id";
    column.format = "l";
    column.values = integer_ids;
    column.valid = NULL;
    test_stream_init(&previous, &column, 1, 3, &counted);
    memset(&joined, 0xAB, sizeof joined);
    memset(&left, 0xAB, sizeof left);
    EXPECT_ERROR(caas_result_diff(result, &previous, &joined, &left), "column_type",
                 "table `previous members`, column `person_id`: expected text");
    CHECK(releases == 3 && joined.release == NULL && left.release == NULL, "all released");

    column.name = "id";
    column.format = "u";
    column.values = previous_ids;
    test_stream_init(&previous, &column, 1, 3, &counted);
    EXPECT_ERROR(caas_result_diff(result, &previous, &joined, &left), "missing_column",
                 "table `previous members` has no column `person_id`");
    CHECK(releases == 4, "released");

    column.name = "person_id";
    column.values = one_missing;
    test_stream_init(&previous, &column, 1, 3, &counted);
    EXPECT_ERROR(caas_result_diff(result, &previous, &joined, &left), "invalid_input",
                 "previous members: 1 rows have no person_id");
    CHECK(releases == 5, "released");

    counted.fail_get_next = 1;
    counted.error_message = "the earlier run is on fire";
    test_stream_init(&previous, &previous_column, 1, 3, &counted);
    EXPECT_ERROR(caas_result_diff(result, &previous, &joined, &left), "registration",
                 "the earlier run is on fire");
    CHECK(releases == 6 && joined.release == NULL && left.release == NULL, "released");
    EXPECT_ERROR(caas_result_diff(result, &previous, &joined, &left),
                 "invalid_argument", "`previous` is released");
    CHECK(releases == 6, "a released stream is not released again");

    EXPECT_ERROR(caas_result_diff_path(result, data_path("audit.txt"), &joined, &left), "io",
                 "audit.txt");
    EXPECT_ERROR(caas_result_diff_path(result, data_path("cohort.yaml"), &joined, &left),
                 "invalid_input", "not a .parquet, .arrow, .ipc, .feather or .csv file");
    CHECK(joined.release == NULL && left.release == NULL, "released");

    caas_result_free(result);
    caas_cohort_free(cohort);
    caas_engine_free(engine);
}

/* The cohort as SQL for another engine: the JSON document with the runnable script, its
 * hash, the data-quality queries; the other engine's table names; a policy; bad options
 * and a bad dialect. */
static void test_sql(void) {
    CaasEngine *engine = engine_with_tables();
    CaasCohort *cohort = cohort_from("cohort.yaml", CAAS_FORMAT_YAML);
    char *json = NULL, *flat, hash[80];
    CHECK(caas_cohort_to_sql(engine, cohort, "duckdb", NULL, "{\"gp\": \"cdm.gp_events\"}", OPTIONS, &json) ==
              CAAS_OK,
          "to_sql");
    flat = compact(json);
    EXPECT_CONTAINS(flat, "\"dialect\":\"duckdb\"");
    EXPECT_CONTAINS(flat, "\"cohort\":\"assurance\"");
    EXPECT_CONTAINS(flat, "\"kind\":\"duplicate_person\"");
    /* The events are read from the other engine's table; the codelist travels as a table. */
    EXPECT_CONTAINS(json, "FROM \\\"cdm\\\".\\\"gp_events\\\"");
    EXPECT_CONTAINS(json, "CREATE TEMPORARY TABLE \\\"caas_codes_assurance_gp\\\"");
    EXPECT_CONTAINS(json, "VALUES ('195967001', 0), ('195967001', 1)");
    json_field(json, "sha256", hash, sizeof hash);
    CHECK(strlen(hash) == 64, "the script's SHA-256");
    free(flat);
    caas_string_free(json);

    json = (char *)1;
    EXPECT_ERROR(caas_cohort_to_sql(engine, cohort, "oracle", NULL, NULL, NULL, &json), "invalid_option", "oracle");
    CHECK(json == NULL, "no SQL for an unknown dialect");
    /* Rows that a policy excludes are left out of the cohort: it reads the rows kept. */
    CHECK(caas_cohort_to_sql(engine, cohort, "spark", NULL, NULL, "{\"quality\": {\"future_date\": \"exclude\"}}",
                             &json) == CAAS_OK,
          "to_sql with a policy");
    flat = compact(json);
    EXPECT_CONTAINS(flat, "\"kind\":\"future_date\",\"column\":\"date\",\"policy\":\"exclude\"");
    EXPECT_CONTAINS(json, "`gp_kept`");
    free(flat);
    caas_string_free(json);
    EXPECT_ERROR(caas_cohort_to_sql(engine, cohort, "spark", NULL, NULL, "{\"quality\": {\"future_date\": \"drop\"}}",
                                    &json),
                 "invalid_argument", "unknown variant `drop`");
    EXPECT_ERROR(caas_cohort_to_sql(engine, cohort, NULL, NULL, NULL, NULL, &json), "invalid_argument", "dialect");
    EXPECT_ERROR(caas_cohort_to_sql(engine, cohort, "spark", NULL, "[]", NULL, &json), "invalid_argument",
                 "tables_json");
    caas_cohort_free(cohort);
    caas_engine_free(engine);
}

static void test_null_arguments(void) {
    CaasEngine *engine = engine_with_tables();
    CaasCohort *cohort = cohort_from("cohort.yaml", CAAS_FORMAT_YAML);
    CaasResult *result = evaluate(engine, cohort, OPTIONS);
    CaasResult *no_result = (CaasResult *)&checks;
    char *text = (char *)&checks;
    struct ArrowArrayStream previous, joined, left;
    int releases = 0;
    TestStreamOptions counted = {0, 0, NULL, 0, NULL};
    counted.releases = &releases;

    EXPECT_ERROR(caas_engine_evaluate_with(NULL, cohort, NULL, OPTIONS, &no_result),
                 "invalid_argument", "`engine` is NULL");
    CHECK(no_result == NULL, "a failed evaluation sets *out to NULL");
    EXPECT_ERROR(caas_engine_evaluate_with(engine, NULL, NULL, OPTIONS, &no_result),
                 "invalid_argument", "`cohort` is NULL");
    EXPECT_ERROR(caas_engine_evaluate_with(engine, cohort, NULL, OPTIONS, NULL),
                 "invalid_argument", "`out` is NULL");
    EXPECT_ERROR(caas_engine_evaluate_with(engine, cohort, "{\"x\": \xc3\x28}", OPTIONS, &no_result),
                 "invalid_argument", "`parameters_json` is not valid UTF-8");
    EXPECT_ERROR(caas_engine_evaluate_with(engine, cohort, NULL, "{\"reference_date\": \"\xfe\"}", &no_result),
                 "invalid_argument", "`options_json` is not valid UTF-8");
    /* NULL options are the defaults: the same as caas_engine_evaluate. */
    CHECK(caas_engine_evaluate_with(engine, cohort, NULL, NULL, &no_result) == CAAS_OK, "default options");
    caas_result_free(no_result);

    EXPECT_ERROR(caas_result_explain_json(NULL, "1", &text), "invalid_argument",
                 "`result` is NULL");
    CHECK(text == NULL, "a failed call sets *out to NULL");
    EXPECT_ERROR(caas_result_explain_json(result, NULL, &text), "invalid_argument",
                 "`person_id` is NULL");
    EXPECT_ERROR(caas_result_explain_json(result, "1", NULL), "invalid_argument",
                 "`out` is NULL");

    text = (char *)&checks;
    EXPECT_ERROR(caas_result_provenance_json(NULL, &text), "invalid_argument",
                 "`result` is NULL");
    CHECK(text == NULL, "a failed call sets *out to NULL");
    EXPECT_ERROR(caas_result_provenance_json(result, NULL), "invalid_argument",
                 "`out` is NULL");

    text = (char *)&checks;
    EXPECT_ERROR(caas_result_data_quality_json(NULL, &text), "invalid_argument",
                 "`result` is NULL");
    CHECK(text == NULL, "a failed call sets *out to NULL");
    EXPECT_ERROR(caas_result_data_quality_json(result, NULL), "invalid_argument",
                 "`out` is NULL");

    text = (char *)&checks;
    EXPECT_ERROR(caas_result_report(NULL, NULL, CAAS_REPORT_HTML, &text),
                 "invalid_argument", "`result` is NULL");
    CHECK(text == NULL, "a failed call sets *out to NULL");
    EXPECT_ERROR(caas_result_report(result, NULL, CAAS_REPORT_HTML, NULL),
                 "invalid_argument", "`out` is NULL");

    memset(&joined, 0xAB, sizeof joined);
    EXPECT_ERROR(caas_result_audit(NULL, &joined), "invalid_argument",
                 "`result` is NULL");
    CHECK(joined.release == NULL, "a failed call leaves a released stream");
    EXPECT_ERROR(caas_result_audit(result, NULL), "invalid_argument", "`out` is NULL");

    /* The previous members are taken over on every path; the outs are released streams. */
    test_stream_init(&previous, &previous_column, 1, 3, &counted);
    memset(&joined, 0xAB, sizeof joined);
    memset(&left, 0xAB, sizeof left);
    EXPECT_ERROR(caas_result_diff(NULL, &previous, &joined, &left), "invalid_argument",
                 "`result` is NULL");
    CHECK(releases == 1 && joined.release == NULL && left.release == NULL, "all released");
    memset(&joined, 0xAB, sizeof joined);
    memset(&left, 0xAB, sizeof left);
    EXPECT_ERROR(caas_result_diff(result, NULL, &joined, &left), "invalid_argument",
                 "`previous` is NULL");
    CHECK(joined.release == NULL && left.release == NULL, "released outs");
    test_stream_init(&previous, &previous_column, 1, 3, &counted);
    EXPECT_ERROR(caas_result_diff(result, &previous, NULL, &left), "invalid_argument",
                 "`joined_out` is NULL");
    CHECK(releases == 2 && left.release == NULL, "released");
    test_stream_init(&previous, &previous_column, 1, 3, &counted);
    EXPECT_ERROR(caas_result_diff(result, &previous, &joined, NULL), "invalid_argument",
                 "`left_out` is NULL");
    CHECK(releases == 3 && joined.release == NULL, "released");
    test_stream_init(&previous, &previous_column, 1, 3, &counted);
    EXPECT_ERROR(caas_result_diff(result, &previous, &joined, &joined),
                 "invalid_argument", "`left_out` is the same stream as `joined_out`");
    CHECK(releases == 4 && joined.release == NULL, "released");

    memset(&joined, 0xAB, sizeof joined);
    memset(&left, 0xAB, sizeof left);
    EXPECT_ERROR(caas_result_diff_path(NULL, data_path("previous.csv"), &joined, &left),
                 "invalid_argument", "`result` is NULL");
    CHECK(joined.release == NULL && left.release == NULL, "released outs");
    EXPECT_ERROR(caas_result_diff_path(result, NULL, &joined, &left), "invalid_argument",
                 "`path` is NULL");
    EXPECT_ERROR(caas_result_diff_path(result, "previous\xff.csv", &joined, &left),
                 "invalid_argument", "`path` is not valid UTF-8");
    EXPECT_ERROR(caas_result_diff_path(result, data_path("previous.csv"), NULL, &left),
                 "invalid_argument", "`joined_out` is NULL");
    EXPECT_ERROR(caas_result_diff_path(result, data_path("previous.csv"), &joined, NULL),
                 "invalid_argument", "`left_out` is NULL");
    EXPECT_ERROR(caas_result_diff_path(result, data_path("previous.csv"), &left, &left),
                 "invalid_argument", "`left_out` is the same stream as `joined_out`");

    caas_string_free(NULL);

    caas_result_free(result);
    caas_cohort_free(cohort);
    caas_engine_free(engine);
}

/* The last report of each of the two tables, and how many reports came. */
typedef struct {
    uint64_t persons_read, gp_read, expected;
    int calls, cancel;
} Progress;

static bool on_progress(const char *table, uint64_t rows_read, uint64_t rows_expected, void *user_data) {
    Progress *seen = user_data;
    seen->calls++;
    if (strcmp(table, "persons") == 0) seen->persons_read = rows_read;
    if (strcmp(table, "gp") == 0) seen->gp_read = rows_read;
    seen->expected = rows_expected;
    return !seen->cancel;
}

static void test_progress(void) {
    CaasEngine *engine = engine_with_tables();
    CaasCohort *cohort = cohort_from("cohort.yaml", CAAS_FORMAT_YAML);
    CaasResult *result = NULL, *plain = evaluate(engine, cohort, OPTIONS);
    Progress seen = {0, 0, 0, 0, 0};
    uint64_t members = 0, plain_members = 0;
    CHECK(caas_engine_evaluate_with_progress(engine, cohort, NULL, OPTIONS, on_progress, &seen, &result) == CAAS_OK,
          "evaluate with progress");
    CHECK(caas_result_member_count(plain, &plain_members) == CAAS_OK && plain_members == 3, "three members");
    CHECK(result && caas_result_member_count(result, &members) == CAAS_OK && members == plain_members,
          "the same members");
    caas_result_free(plain);
    /* 6 people and 4 events, each read whole by the checks and by the cohort; a CSV file
     * cannot say beforehand how many rows it holds. */
    CHECK(seen.persons_read >= 6 && seen.persons_read % 6 == 0, "every person row read");
    CHECK(seen.gp_read >= 4 && seen.gp_read % 4 == 0, "every event row read");
    CHECK(seen.expected == CAAS_ROWS_UNKNOWN, "CSV rows unknown");
    caas_result_free(result);

    /* Returning false cancels: no result, the code `cancelled`, and no call after it. */
    memset(&seen, 0, sizeof seen);
    seen.cancel = 1;
    result = NULL;
    EXPECT_ERROR(caas_engine_evaluate_with_progress(engine, cohort, NULL, OPTIONS, on_progress, &seen, &result),
                 "cancelled", "cancelled");
    CHECK(result == NULL && seen.calls == 1, "cancelled after the first report");

    /* Without a callback it evaluates as caas_engine_evaluate_with. */
    CHECK(caas_engine_evaluate_with_progress(engine, cohort, NULL, OPTIONS, NULL, NULL, &result) == CAAS_OK,
          "no callback");
    caas_result_free(result);
    caas_cohort_free(cohort);
    caas_engine_free(engine);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s DATA_DIR   (tests/c/assurance)\n", argv[0]);
        return 2;
    }
    snprintf(dir, sizeof dir, "%s", argv[1]);

    test_explanations();
    test_provenance();
    test_data_quality();
    test_pseudonyms();
    test_report();
    test_audit();
    test_characterise();
    test_diff();
    test_what_if();
    test_sql();
    test_progress();
    test_null_arguments();

    printf("C assurance tests: %d checks, %d failed\n", checks, failures);
    return failures == 0 ? 0 : 1;
}
