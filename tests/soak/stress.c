/*
 * Concurrency stress of the C library: threads × engines × registrations, for a set time,
 * over the example CSV files and the quickstart definition.
 *
 * Every thread, over and over, picks one of the shared engines and one of: evaluate the
 * shared cohort (the member count must be the first evaluation's); register the events
 * file again (results must not change, and evaluations running meanwhile keep the tables
 * they started with); register a table from an Arrow C stream under a name of its own;
 * or make an engine of its own, register, evaluate and free it. It fails on any
 * difference or error. (The C API has no cancellation yet, so none is stressed here.)
 * Not a test of CI: run by scripts/soak.sh.
 *
 * Usage: stress REPO_ROOT SECONDS THREADS ENGINES
 */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "caas.h"
#include "test_stream.h"

#define MAX_THREADS 64
#define MAX_ENGINES 16

static const char *PERSON = "{\"role\": \"person\"}";
static const char *EVENTS = "{\"role\": \"events\", \"code_system\": \"snomed_ct\"}";

static char persons_csv[1024], events_csv[1024];
static CaasEngine *engines[MAX_ENGINES];
static size_t n_engines;
static CaasCohort *cohort;
static uint64_t baseline;
static double deadline;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned long operations[4], failures;

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void record(int operation, int ok, const char *what) {
    pthread_mutex_lock(&lock);
    operations[operation]++;
    if (!ok) {
        if (failures < 20)
            fprintf(stderr, "stress: FAILED %s: %s: %s\n", what, caas_last_error_code(), caas_last_error_message());
        failures++;
    }
    pthread_mutex_unlock(&lock);
}

/* The member count of the cohort on `engine`, or UINT64_MAX when the evaluation fails. */
static uint64_t members(const CaasEngine *engine) {
    CaasResult *result = NULL;
    uint64_t count = UINT64_MAX;
    if (caas_engine_evaluate(engine, cohort, NULL, &result) == CAAS_OK && caas_result_member_count(result, &count) != CAAS_OK)
        count = UINT64_MAX;
    caas_result_free(result);
    return count;
}

static int register_both(CaasEngine *engine) {
    return caas_engine_register_file(engine, "persons", persons_csv, PERSON) == CAAS_OK &&
           caas_engine_register_file(engine, "gp_events", events_csv, EVENTS) == CAAS_OK;
}

/* A small events table of this thread's own, from an Arrow C stream. */
static int register_stream(CaasEngine *engine, unsigned thread) {
    static const int64_t ids[] = {1, 2, 3};
    static const int32_t days[] = {19000, 19100, 19200};
    static const char *codes[] = {"195967001", "44054006", "195967001"};
    static const TestColumn columns[] = {
        {"person_id", "l", ids, NULL},
        {"date", "tdD", days, NULL},
        {"code", "u", codes, NULL},
    };
    struct ArrowArrayStream stream;
    char name[32];
    snprintf(name, sizeof name, "extra_%u", thread);
    test_stream_init(&stream, columns, 3, 3, NULL);
    return caas_engine_register_stream(engine, name, &stream, EVENTS) == CAAS_OK;
}

static void *work(void *arg) {
    unsigned thread = (unsigned)(size_t)arg;
    unsigned seed = thread * 7919u + 1u;
    while (now() < deadline) {
        CaasEngine *engine = engines[(size_t)rand_r(&seed) % n_engines];
        switch (rand_r(&seed) % 5) {
        case 0:
        case 1:
            record(0, members(engine) == baseline, "evaluate");
            break;
        case 2:
            record(1, caas_engine_register_file(engine, "gp_events", events_csv, EVENTS) == CAAS_OK, "register a file");
            break;
        case 3:
            record(2, register_stream(engine, thread), "register a stream");
            break;
        default: {
            CaasEngine *own = NULL;
            int ok = caas_engine_new("{\"target_partitions\": 2}", &own) == CAAS_OK && register_both(own) &&
                     members(own) == baseline;
            caas_engine_free(own);
            record(3, ok, "an engine of its own");
        }
        }
    }
    return NULL;
}

static char *read_text(const char *path) {
    FILE *file = fopen(path, "rb");
    char *text = NULL;
    long size;
    if (!file) return NULL;
    if (fseek(file, 0, SEEK_END) == 0 && (size = ftell(file)) >= 0 && fseek(file, 0, SEEK_SET) == 0 &&
        (text = calloc((size_t)size + 1, 1)) != NULL && fread(text, 1, (size_t)size, file) != (size_t)size) {
        free(text);
        text = NULL;
    }
    fclose(file);
    return text;
}

int main(int argc, char **argv) {
    pthread_t threads[MAX_THREADS];
    size_t n_threads, i;
    char path[1024];
    char *definition;
    double seconds, started;
    if (argc != 5) {
        fprintf(stderr, "usage: %s REPO_ROOT SECONDS THREADS ENGINES\n", argv[0]);
        return 2;
    }
    seconds = atof(argv[2]);
    n_threads = (size_t)atoi(argv[3]);
    n_engines = (size_t)atoi(argv[4]);
    if (n_threads < 1 || n_threads > MAX_THREADS || n_engines < 1 || n_engines > MAX_ENGINES) {
        fprintf(stderr, "stress: 1 to %d threads and 1 to %d engines\n", MAX_THREADS, MAX_ENGINES);
        return 2;
    }
    snprintf(persons_csv, sizeof persons_csv, "%s/examples/data/persons.csv", argv[1]);
    snprintf(events_csv, sizeof events_csv, "%s/examples/data/gp_events.csv", argv[1]);
    snprintf(path, sizeof path, "%s/examples/definitions/quickstart.yaml", argv[1]);
    definition = read_text(path);
    if (!definition || caas_cohort_parse(definition, CAAS_FORMAT_YAML, NULL, &cohort) != CAAS_OK) {
        fprintf(stderr, "stress: cannot read %s: %s\n", path, caas_last_error_message());
        return 1;
    }
    free(definition);
    for (i = 0; i < n_engines; i++) {
        if (caas_engine_new("{\"target_partitions\": 2}", &engines[i]) != CAAS_OK || !register_both(engines[i])) {
            fprintf(stderr, "stress: cannot make engine %zu: %s\n", i, caas_last_error_message());
            return 1;
        }
    }
    baseline = members(engines[0]);
    if (baseline == UINT64_MAX) {
        fprintf(stderr, "stress: the first evaluation failed: %s\n", caas_last_error_message());
        return 1;
    }

    started = now();
    deadline = started + seconds;
    for (i = 0; i < n_threads; i++) pthread_create(&threads[i], NULL, work, (void *)i);
    for (i = 0; i < n_threads; i++) pthread_join(threads[i], NULL);
    printf("stress: %lu operations in %.0f s by %zu threads over %zu engines: evaluate %lu, register a file %lu, "
           "register a stream %lu, an engine of its own %lu; %lu failed\n",
           operations[0] + operations[1] + operations[2] + operations[3], now() - started, n_threads, n_engines,
           operations[0], operations[1], operations[2], operations[3], failures);
    for (i = 0; i < n_engines; i++) caas_engine_free(engines[i]);
    caas_cohort_free(cohort);
    return failures ? 1 : 0;
}
