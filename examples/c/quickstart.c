/*
 * The quick start in C: a person table built in C and handed over as an Arrow C stream,
 * GP events registered from a file, the cohort of examples/definitions/quickstart.yaml,
 * then its attrition and members printed from the Arrow C streams the library returns.
 *
 * Usage: quickstart [REPO_ROOT]
 * REPO_ROOT is the folder holding examples/data and examples/definitions; by default the
 * repository the program was built from (CAAS_EXAMPLES_ROOT, which examples/c/Makefile
 * sets), so that it runs from any folder.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caas.h"
#include "print.h"

#ifndef CAAS_EXAMPLES_ROOT
#define CAAS_EXAMPLES_ROOT "../.." /* built without the Makefile: run from examples/c */
#endif

/* --- A person table as an Arrow C stream of one batch, built by hand ---------------- */

/* The five people of examples/data/persons.csv. Dates are days since 1970-01-01. */
#define PEOPLE 5
static const int64_t person_id[PEOPLE] = {1, 2, 3, 4, 5};
static const int32_t date_of_birth[PEOPLE] = {-7154, 7456, 5630, -10958, 14668}; /* 1950-06-01 ... 2010-02-28 */
static const char sex_data[] = "FMFMF";
static const int32_t sex_offsets[PEOPLE + 1] = {0, 1, 2, 3, 4, 5};
static const int32_t date_of_death[PEOPLE] = {0, 0, 0, 20058, 0}; /* person 4 died 2024-12-01 */
static const uint8_t death_validity = 0x08;                        /* only person 4's is set */

static const char *const names[] = {"person_id", "date_of_birth", "sex", "date_of_death"};
static const char *const formats[] = {"l", "tdD", "u", "tdD"};

/* The data is static: the release callbacks free only the structs. */
static void release_schema(struct ArrowSchema *schema) {
    int64_t i;
    for (i = 0; i < schema->n_children; i++) free(schema->children[i]);
    free(schema->children);
    schema->release = NULL;
}

static void release_child_schema(struct ArrowSchema *schema) { schema->release = NULL; }

static void release_array(struct ArrowArray *array) {
    int64_t i;
    for (i = 0; i < array->n_children; i++) {
        free((void *)array->children[i]->buffers);
        free(array->children[i]);
    }
    free(array->children);
    free((void *)array->buffers);
    array->release = NULL;
}

static void release_child_array(struct ArrowArray *array) { array->release = NULL; }

static int persons_get_schema(struct ArrowArrayStream *stream, struct ArrowSchema *out) {
    int i;
    (void)stream;
    memset(out, 0, sizeof *out);
    out->format = "+s";
    out->name = "";
    out->n_children = 4;
    out->children = calloc(4, sizeof(struct ArrowSchema *));
    out->release = release_schema;
    for (i = 0; i < 4; i++) {
        struct ArrowSchema *child = calloc(1, sizeof *child);
        child->format = formats[i];
        child->name = names[i];
        child->flags = i == 0 ? 0 : ARROW_FLAG_NULLABLE;
        child->release = release_child_schema;
        out->children[i] = child;
    }
    return 0;
}

static int persons_get_next(struct ArrowArrayStream *stream, struct ArrowArray *out) {
    int *sent = (int *)stream->private_data;
    const void *buffers[4][3] = {
        {NULL, person_id, NULL},
        {NULL, date_of_birth, NULL},
        {NULL, sex_offsets, sex_data},
        {&death_validity, date_of_death, NULL},
    };
    int i;
    memset(out, 0, sizeof *out);
    if (*sent) return 0; /* a released array: the end of the stream */
    *sent = 1;
    out->length = PEOPLE;
    out->n_buffers = 1;
    out->buffers = calloc(1, sizeof(void *));
    out->n_children = 4;
    out->children = calloc(4, sizeof(struct ArrowArray *));
    out->release = release_array;
    for (i = 0; i < 4; i++) {
        struct ArrowArray *child = calloc(1, sizeof *child);
        child->length = PEOPLE;
        child->null_count = i == 3 ? PEOPLE - 1 : 0;
        child->n_buffers = i == 2 ? 3 : 2;
        child->buffers = calloc(3, sizeof(void *));
        memcpy((void *)child->buffers, buffers[i], sizeof buffers[i]);
        child->release = release_child_array;
        out->children[i] = child;
    }
    return 0;
}

static const char *persons_get_last_error(struct ArrowArrayStream *stream) {
    (void)stream;
    return NULL;
}

static void persons_release(struct ArrowArrayStream *stream) {
    free(stream->private_data);
    stream->release = NULL;
}

static void persons_stream(struct ArrowArrayStream *stream) {
    stream->get_schema = persons_get_schema;
    stream->get_next = persons_get_next;
    stream->get_last_error = persons_get_last_error;
    stream->release = persons_release;
    stream->private_data = calloc(1, sizeof(int));
}

/* --- The cohort ------------------------------------------------------------------------ */

int main(int argc, char **argv) {
    const char *root = argc > 1 ? argv[1] : CAAS_EXAMPLES_ROOT;
    char events[1100], definition_path[1100], definitions[1024];
    char *definition;
    CaasEngine *engine = NULL;
    CaasCohort *cohort = NULL;
    CaasResult *result = NULL;
    struct ArrowArrayStream persons, attrition, members;
    uint64_t count = 0, population = 0;
    int status = 1;

    if (argc > 2 || (argc == 2 && argv[1][0] == '-')) {
        fprintf(stderr, "usage: %s [REPO_ROOT]   (default %s)\n", argv[0], CAAS_EXAMPLES_ROOT);
        return 2;
    }
    if (strlen(root) > 900) {
        fprintf(stderr, "the path %s is too long\n", root);
        return 2;
    }
    snprintf(events, sizeof events, "%s/examples/data/gp_events.csv", root);
    snprintf(definitions, sizeof definitions, "%s/examples/definitions", root);
    snprintf(definition_path, sizeof definition_path, "%s/quickstart.yaml", definitions);
    printf("caas %s (C ABI %u)\n", caas_version(), caas_abi_version());

    if (caas_engine_new(NULL, &engine) != CAAS_OK) return fail("caas_engine_new");

    /* The library takes the stream over and releases it, whatever the outcome. */
    persons_stream(&persons);
    if (caas_engine_register_stream(engine, "persons", &persons, "{\"role\": \"person\"}") != CAAS_OK) {
        fail("registering persons");
        goto done;
    }
    if (caas_engine_register_file(engine, "gp_events", events,
                                  "{\"role\": \"events\", \"code_system\": \"snomed_ct\"}") != CAAS_OK) {
        fail("registering gp_events");
        goto done;
    }

    definition = read_text_file(definition_path);
    if (!definition) {
        fprintf(stderr, "cannot read %s\n", definition_path);
        goto done;
    }
    status = caas_cohort_parse(definition, CAAS_FORMAT_YAML, definitions, &cohort);
    free(definition);
    if (status != CAAS_OK) {
        status = fail("reading the definition");
        goto done;
    }

    if (caas_engine_evaluate(engine, cohort, "{\"index_date\": \"2025-03-31\"}", &result) != CAAS_OK) {
        status = fail("evaluating");
        goto done;
    }
    caas_result_member_count(result, &count);
    caas_result_population(result, &population);

    printf("\nAttrition of `%s`:\n", caas_cohort_id(cohort));
    if (caas_result_attrition(result, &attrition) != CAAS_OK || print_stream(&attrition, stdout, 0) != 0) {
        status = fail("reading the attrition");
        goto done;
    }
    printf("\nMembers (%llu of %llu people):\n", (unsigned long long)count, (unsigned long long)population);
    if (caas_result_members(result, &members) != CAAS_OK || print_stream(&members, stdout, 0) != 0) {
        status = fail("reading the members");
        goto done;
    }
    status = 0;
done:
    caas_result_free(result);
    caas_cohort_free(cohort);
    caas_engine_free(engine);
    return status;
}
