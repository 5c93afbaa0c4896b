/* Support shared by sim's test programs (test_sim*.c): the scenarios they run, runs on one
 * and three threads, the fault scenario, final models and file comparisons, and the scratch
 * directory of the group. Included first: it asks for fopencookie (a metrics stream that stops
 * the run). */
#ifndef RUMOR_TEST_SIM_SUPPORT_H
#define RUMOR_TEST_SIM_SUPPORT_H

#define _GNU_SOURCE /* fopencookie: a metrics stream that stops the run */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "rumor/compress.h"
#include "rumor/data.h"
#include "rumor/model.h"
#include "rumor/quant.h"
#include "rumor/sim.h"
#include "rumor/vec.h"
#include "support.h"

#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static inline void s_scenario(rumor_scenario_t *sc, const char *algo, const char *compressor,
                              double lambda, uint32_t rounds)
{
    char json[1024];
    snprintf(json, sizeof json,
             "{\"name\": \"t\", \"topology\": {\"generate\": \"ring\", \"n\": 8},"
             " \"data\": {\"name\": \"synthetic\", \"n\": 4000, \"test_n\": 1000, \"dim\": 20,"
             " \"classes\": 4, \"sep\": 4.0},"
             " \"algorithm\": {\"name\": \"%s\", \"lr\": 0.1, \"gamma\": 0.5, \"lambda\": %g,"
             " \"batch\": 16, \"rounds\": %u}, \"compressor\": \"%s\", \"seed\": 3,"
             " \"eval_every\": 50}",
             algo, lambda, rounds, compressor);
    rumor_errmsg_t em = {""};
    if (rumor_scenario_parse(json, "test", ".", sc, &em)) fail_msg("%s", em.msg);
}

/* Runs and returns the metrics file's content (malloc'd). */
static inline char *s_run(const rumor_scenario_t *sc, uint32_t threads, rumor_sim_result_t *res,
                          const char *models)
{
    FILE *mf = tmpfile();
    assert_non_null(mf);
    const rumor_sim_opts_t opts = {
        .threads = threads, .metrics = mf, .timing = 0, .models_out = models};
    rumor_errmsg_t em = {""};
    if (rumor_sim_run(sc, &opts, res, &em)) fail_msg("%s", em.msg);
    const long len = ftell(mf);
    rewind(mf);
    char *buf = calloc(1, (size_t)len + 1);
    assert_int_equal(fread(buf, 1, (size_t)len, mf), (size_t)len);
    fclose(mf);
    return buf;
}

/* Runs sc on 1 and on 3 threads, whose metrics must be identical; returns them, with the
 * result of the 1-thread run in res. */
static inline char *s_run_on_1_and_3(const rumor_scenario_t *sc, rumor_sim_result_t *res)
{
    rumor_sim_result_t r3;
    char *a = s_run(sc, 1, res, NULL);
    char *b = s_run(sc, 3, &r3, NULL);
    assert_string_equal(a, b);
    free(b);
    return a;
}

/* Every peer's final model of a run with models written to path (8 peers, d = 84); malloc'd. */
static inline float *s_models(const char *path)
{
    const size_t count = 8 * 84;
    float *x = malloc(count * sizeof *x);
    assert_non_null(x);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fread(x, sizeof *x, count, f), count);
    assert_int_equal(fgetc(f), EOF);
    fclose(f);
    unlink(path);
    return x;
}

static inline void s_add_fault(rumor_scenario_t *sc, rumor_fault_t f)
{
    sc->faults[sc->n_faults++] = f;
    rumor_scenario_rehash(sc);
}

/* The scenario of the fault tests: 8 peers, 600 rounds, no faults yet. */
static inline void s_fault_scenario(rumor_scenario_t *sc)
{
    s_scenario(sc, "malcom", "dither:8", 0.001, 600);
}

/* 1 when files a and b have the same bytes. */
static inline int s_same_file(const char *a, const char *b)
{
    char cmd[1100];
    snprintf(cmd, sizeof cmd, "cmp -s '%s' '%s'", a, b);
    return system(cmd) == 0;
}

static inline int s_setup(void **state)
{
    (void)state;
    return s_scratch_make("sim");
}

static inline int s_teardown(void **state)
{
    (void)state;
    return s_scratch_remove();
}

#endif
