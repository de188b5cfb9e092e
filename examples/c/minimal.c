/*
 * The smallest program: register a CSV file, read a definition from text, evaluate, count
 * the members. The C quick start of the README. Run from the repository root:
 *   examples/c/minimal   (after `make -C examples/c`)
 */
#include <stdio.h>
#include "caas.h"

static const char *DEFINITION =
    "id: older\n"
    "title: Aged 65 or over\n"
    "purpose: direct_care\n"
    "parameters: { index_date: 2025-03-31 }\n"
    "variables:\n"
    "  age: { kind: age, on: index_date }\n"
    "rules:\n"
    "  - { name: aged 65+, include: age >= 65 }\n"
    "output: { columns: [age] }\n";

int main(void) {
    CaasEngine *engine = NULL;
    CaasCohort *cohort = NULL;
    CaasResult *result = NULL;
    struct ArrowArrayStream members; /* Arrow C stream: read it with any Arrow library */
    uint64_t count = 0;
    int status = 1;

    if (caas_engine_new(NULL, &engine) == CAAS_OK
        && caas_engine_register_file(engine, "persons", "examples/data/persons.csv",
                                     "{\"role\": \"person\"}") == CAAS_OK
        && caas_cohort_parse(DEFINITION, CAAS_FORMAT_YAML, NULL, &cohort) == CAAS_OK
        && caas_engine_evaluate(engine, cohort, "{\"index_date\": \"2025-08-31\"}", &result) == CAAS_OK
        && caas_result_member_count(result, &count) == CAAS_OK
        && caas_result_members(result, &members) == CAAS_OK) {
        printf("%llu members\n", (unsigned long long)count);
        members.release(&members);   /* the caller owns the stream */
        status = 0;
    } else {
        fprintf(stderr, "error [%s] at line %zu, column %zu: %s\n", caas_last_error_code(),
                caas_last_error_line(), caas_last_error_column(), caas_last_error_message());
    }
    caas_result_free(result);        /* every free function accepts NULL */
    caas_cohort_free(cohort);
    caas_engine_free(engine);
    return status;
}
