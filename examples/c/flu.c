/*
 * The flagship example in C: the seasonal flu cohort of examples/flu/flu.yaml over a
 * synthetic population stored as Parquet files (as written by
 * `cargo run -p caas-core --example flu_demo -- --persons N --seed S --data DIR`).
 * Prints the member count and the attrition as CSV (the format of
 * examples/flu/golden/attrition-5000-seed7.csv) to stdout; the timing and a summary of the
 * data-quality findings to stderr; and, given a folder, writes the report there as
 * flu-report.md, flu-report.html and flu-funnel.svg.
 *
 * Usage: flu [POPULATION_DIR [FLU_YAML [REPORT_DIR]]]
 * By default the small population checked in at examples/data/flu-population and
 * examples/flu/flu.yaml, in the repository the program was built from (CAAS_EXAMPLES_ROOT,
 * which examples/c/Makefile sets), so that it runs from any folder.
 */
#define _POSIX_C_SOURCE 199309L /* clock_gettime */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "caas.h"
#include "print.h"

#ifndef CAAS_EXAMPLES_ROOT
#define CAAS_EXAMPLES_ROOT "../.." /* built without the Makefile: run from examples/c */
#endif

/* The tables of a synthetic population: name, folder of Parquet files, specification (as
 * caas_synth::table_specs gives them). The person id is the NHS number, checked for
 * data quality. Hospital episodes are read twice: for their ICD-10 diagnoses and their
 * OPCS-4 procedures. */
static const char *const tables[][3] = {
    {"persons", "persons", "{\"role\": \"person\", \"mapping\": {\"nhs_number\": \"person_id\"}}"},
    {"registrations", "registrations", "{\"role\": \"periods\"}"},
    {"gp_events", "gp_events", "{\"role\": \"events\", \"code_system\": \"snomed_ct\"}"},
    {"gp_medications", "gp_medications", "{\"role\": \"events\", \"code_system\": \"dmd\"}"},
    {"apc", "apc",
     "{\"role\": \"events\", \"code_system\": \"icd10\", \"mapping\": {\"date\": \"admidate\", \"end_date\": "
     "\"disdate\", \"codes\": [\"DIAG_4_01\", \"DIAG_4_02\", \"DIAG_4_03\", \"DIAG_4_04\", \"DIAG_4_05\", "
     "\"DIAG_4_06\", \"DIAG_4_07\", \"DIAG_4_08\", \"DIAG_4_09\", \"DIAG_4_10\", \"DIAG_4_11\", \"DIAG_4_12\", "
     "\"DIAG_4_13\", \"DIAG_4_14\", \"DIAG_4_15\", \"DIAG_4_16\", \"DIAG_4_17\", \"DIAG_4_18\", \"DIAG_4_19\", "
     "\"DIAG_4_20\"]}}"},
    {"apc_procedures", "apc",
     "{\"role\": \"events\", \"code_system\": \"opcs4\", \"mapping\": {\"date\": \"admidate\", \"end_date\": "
     "\"disdate\", \"codes\": [\"OPERTN_4_01\", \"OPERTN_4_02\", \"OPERTN_4_03\", \"OPERTN_4_04\", "
     "\"OPERTN_4_05\", \"OPERTN_4_06\", \"OPERTN_4_07\", \"OPERTN_4_08\", \"OPERTN_4_09\", \"OPERTN_4_10\", "
     "\"OPERTN_4_11\", \"OPERTN_4_12\"]}}"},
};

/* Writes the report of `result` into `dir`, in each of its formats. Returns 0 or 1. */
static int write_report(const CaasResult *result, const char *dir) {
    static const struct {
        CaasReportFormat format;
        const char *file;
    } parts[] = {
        {CAAS_REPORT_MARKDOWN, "flu-report.md"},
        {CAAS_REPORT_HTML, "flu-report.html"},
        {CAAS_REPORT_FUNNEL_SVG, "flu-funnel.svg"},
    };
    char path[1024];
    size_t i;
    for (i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        char *text = NULL;
        int written;
        /* NULL options: counts under disclosure control only if the purpose asks for it. */
        if (caas_result_report(result, NULL, parts[i].format, &text) != CAAS_OK) return fail("rendering the report");
        snprintf(path, sizeof path, "%s/%s", dir, parts[i].file);
        written = write_text_file(path, text);
        caas_string_free(text);
        if (written != 0) {
            fprintf(stderr, "cannot write %s: %s\n", path, strerror(errno));
            return 1;
        }
        fprintf(stderr, "report written to %s\n", path);
    }
    return 0;
}

static double seconds_since(const struct timespec *start) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - start->tv_sec) + (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

int main(int argc, char **argv) {
    static const char default_population[] = CAAS_EXAMPLES_ROOT "/examples/data/flu-population";
    static const char default_definition[] = CAAS_EXAMPLES_ROOT "/examples/flu/flu.yaml";
    const char *population = argc > 1 ? argv[1] : default_population;
    const char *definition_path = argc > 2 ? argv[2] : default_definition;
    char path[1024], base_dir[1024];
    char *definition, *slash;
    CaasEngine *engine = NULL;
    CaasCohort *cohort = NULL;
    CaasResult *result = NULL;
    struct ArrowArrayStream attrition;
    struct timespec start;
    uint64_t members = 0;
    size_t i;
    int status = 1;

    if (argc > 4 || (argc > 1 && argv[1][0] == '-')) {
        fprintf(stderr, "usage: %s [POPULATION_DIR [FLU_YAML [REPORT_DIR]]]\n(default %s and %s)\n", argv[0],
                default_population, default_definition);
        return 2;
    }
    if (caas_engine_new(NULL, &engine) != CAAS_OK) return fail("caas_engine_new");
    for (i = 0; i < sizeof tables / sizeof tables[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", population, tables[i][1]);
        if (caas_engine_register_file(engine, tables[i][0], path, tables[i][2]) != CAAS_OK) {
            fail(tables[i][0]);
            goto done;
        }
    }

    /* Codelist files are named relative to the definition's folder. */
    snprintf(base_dir, sizeof base_dir, "%s", definition_path);
    slash = strrchr(base_dir, '/');
    if (slash) *slash = '\0';
    else snprintf(base_dir, sizeof base_dir, ".");
    definition = read_text_file(definition_path);
    if (!definition) {
        fprintf(stderr, "cannot read %s\n", definition_path);
        goto done;
    }
    status = caas_cohort_parse(definition, CAAS_FORMAT_YAML, base_dir, &cohort);
    free(definition);
    if (status != CAAS_OK) {
        status = fail("reading the definition");
        goto done;
    }

    clock_gettime(CLOCK_MONOTONIC, &start);
    if (caas_engine_evaluate(engine, cohort, NULL, &result) != CAAS_OK) {
        status = fail("evaluating");
        goto done;
    }
    fprintf(stderr, "evaluated `%s` in %.2f s\n", caas_cohort_id(cohort), seconds_since(&start));

    caas_result_member_count(result, &members);
    printf("members,%llu\n", (unsigned long long)members);
    /* The attrition's columns are step, rule, action, before, after, removed; the golden
     * file has rule, before, after, removed. */
    if (caas_result_attrition(result, &attrition) != CAAS_OK) {
        status = fail("reading the attrition");
        goto done;
    }
    {
        struct ArrowSchema schema;
        struct ArrowArray batch;
        int64_t r;
        status = 1;
        if (attrition.get_schema(&attrition, &schema) == 0) {
            schema.release(&schema);
            while (attrition.get_next(&attrition, &batch) == 0 && batch.release != NULL) {
                const struct ArrowArray *rule = batch.children[1];
                const int32_t *offsets = (const int32_t *)rule->buffers[1];
                const char *text = (const char *)rule->buffers[2];
                if (status == 1) printf("rule,before,after,removed\n");
                for (r = 0; r < batch.length; r++) {
                    int64_t k = batch.offset + r, c;
                    printf("%.*s", (int)(offsets[rule->offset + k + 1] - offsets[rule->offset + k]),
                           text + offsets[rule->offset + k]);
                    for (c = 3; c <= 5; c++) {
                        const struct ArrowArray *column = batch.children[c];
                        printf(",%lld", (long long)((const int64_t *)column->buffers[1])[column->offset + k]);
                    }
                    printf("\n");
                }
                status = 0;
                batch.release(&batch);
            }
        }
        attrition.release(&attrition);
        if (status != 0) fprintf(stderr, "reading the attrition stream failed\n");
    }
    {
        char *quality = NULL;
        if (caas_result_data_quality_json(result, &quality) != CAAS_OK) {
            status = fail("reading the data-quality findings");
            goto done;
        }
        if (print_data_quality(quality, stderr) == 0) fprintf(stderr, "Data quality: no findings\n");
        caas_string_free(quality);
    }
    if (status == 0 && argc > 3) status = write_report(result, argv[3]);
done:
    caas_result_free(result);
    caas_cohort_free(cohort);
    caas_engine_free(engine);
    return status;
}
