/* Tests of coded: every shard is held by exactly R peers along the graph, a step's rows come
 * from the held shards and walk each of them epoch by epoch, and the coded gradient is
 * unbiased for the full objective over the straggling coin. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "rumor/coded.h"
#include "rumor/rng.h"
#include "rumor/scenario.h"
#include "rumor/vec.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { N = 6, DIM = 5, CLASSES = 3, ROWS = 600, BATCH = 12 };

static rumor_topology_t *s_graph(const char *kind, uint32_t n)
{
    rumor_topology_t *t = NULL;
    rumor_topology_gen_t g = {.n = n, .seed = 1};
    assert_int_equal(rumor_topology_kind_parse(kind, &g.kind, NULL), 0);
    assert_int_equal(rumor_topology_generate(&g, &t, NULL), 0);
    return t;
}

/* Ring distance between nodes a and b of a ring of n. */
static uint32_t s_ring_dist(uint32_t a, uint32_t b, uint32_t n)
{
    const uint32_t d = a > b ? a - b : b - a;
    return d < n - d ? d : n - d;
}

/* On rings and a torus, for every R: each node holds itself first and R - 1 other shards, each
 * shard is held by exactly R nodes, and every caller computes the same; on a ring the k-th
 * held shard is k hops away (the cycle follows the ring). */
static void test_every_shard_has_r_holders(void **state)
{
    (void)state;
    const struct {
        const char *kind;
        uint32_t n;
    } graphs[] = {{"ring", 8}, {"ring", 16}, {"torus", 16}, {"complete", 5}};
    for (size_t gi = 0; gi < sizeof graphs / sizeof *graphs; gi++) {
        rumor_topology_t *t = s_graph(graphs[gi].kind, graphs[gi].n);
        const uint32_t n = t->n;
        for (uint32_t r = 1; r <= 4; r++) {
            uint32_t count[16] = {0}, held[4], again[4];
            for (uint32_t i = 0; i < n; i++) {
                assert_int_equal(rumor_coded_holds(t, 7, r, i, held), 0);
                assert_int_equal(rumor_coded_holds(t, 7, r, i, again), 0);
                assert_memory_equal(held, again, r * sizeof *held);
                assert_int_equal(held[0], i);
                for (uint32_t k = 0; k < r; k++) {
                    count[held[k]]++;
                    for (uint32_t l = 0; l < k; l++) assert_int_not_equal(held[k], held[l]);
                    if (!strcmp(graphs[gi].kind, "ring"))
                        assert_int_equal(s_ring_dist(i, held[k], n), k);
                }
            }
            for (uint32_t j = 0; j < n; j++)
                if (count[j] != r)
                    fail_msg("%s%u, R = %u: shard %u held by %u", graphs[gi].kind, n, r, j,
                             count[j]);
        }
        uint32_t held[20];
        assert_int_equal(rumor_coded_holds(t, 7, 0, 0, held), RUMOR_EINVAL);
        assert_int_equal(rumor_coded_holds(t, 7, n + 1, 0, held), RUMOR_EINVAL);
        rumor_topology_destroy(&t);
    }
}

typedef struct {
    rumor_topology_t *topo;
    rumor_dataset_t *ds;
    rumor_partition_t *part;
    rumor_model_t *model;
    float *xb, *grad;
    int32_t *yb;
    uint32_t *ib;
} s_fixture_t;

static int s_setup(void **state)
{
    s_fixture_t *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->topo = s_graph("ring", N);
    assert_int_equal(rumor_data_synthetic(ROWS, DIM, CLASSES, 2.0, 3, &f->ds), 0);
    assert_int_equal(rumor_data_partition_dirichlet(f->ds, N, 0.5, 3, &f->part), 0);
    rumor_model_spec_t spec;
    assert_int_equal(rumor_model_spec_parse("softmax", DIM, CLASSES, &spec, NULL), 0);
    f->model = rumor_model_new(&spec, ROWS);
    f->xb = malloc((size_t)ROWS * DIM * sizeof *f->xb);
    f->grad = malloc(rumor_model_nparams(f->model) * sizeof *f->grad);
    f->yb = malloc(ROWS * sizeof *f->yb);
    f->ib = malloc(ROWS * sizeof *f->ib);
    assert_true(f->model && f->xb && f->grad && f->yb && f->ib);
    *state = f;
    return 0;
}

static int s_teardown(void **state)
{
    s_fixture_t *f = *state;
    rumor_topology_destroy(&f->topo);
    rumor_dataset_destroy(&f->ds);
    rumor_partition_destroy(&f->part);
    rumor_model_destroy(&f->model);
    free(f->xb);
    free(f->grad);
    free(f->yb);
    free(f->ib);
    free(f);
    return 0;
}

/* 1 when row is in shard j of part. */
static int s_in_shard(const rumor_partition_t *part, uint32_t j, uint32_t row)
{
    for (uint32_t k = part->off[j]; k < part->off[j + 1]; k++)
        if (part->idx[k] == row) return 1;
    return 0;
}

/* A step of R = 3 takes floor(12 / 3) = 4 rows from each held shard, in held order, and within
 * an epoch of a shard no row comes twice; the same step gives the same rows again. */
static void test_rows_walk_held_shards(void **state)
{
    s_fixture_t *f = *state;
    const uint32_t r = 3, self = 2, per = BATCH / r;
    uint32_t held[3];
    assert_int_equal(rumor_coded_holds(f->topo, 9, r, self, held), 0);
    rumor_coded_t *c = rumor_coded_new(f->topo, f->part, r, BATCH, 9, self, NULL);
    assert_non_null(c);
    assert_int_equal(rumor_coded_batch(c), r * per);
    float x[64] = {0};
    uint8_t *seen = calloc(ROWS, 1);
    assert_non_null(seen);
    for (uint32_t k = 0; k < r; k++) {
        const uint32_t nj = f->part->off[held[k] + 1] - f->part->off[held[k]];
        memset(seen, 0, ROWS);
        for (uint64_t s = 0; s < nj / per; s++) {
            (void)rumor_coded_grad(c, f->model, f->ds, x, s, 0.0, f->grad, f->xb, f->yb, f->ib);
            for (uint32_t q = 0; q < per; q++) {
                const uint32_t row = f->ib[k * per + q];
                assert_true(s_in_shard(f->part, held[k], row));
                assert_false(seen[row]);
                seen[row] = 1;
            }
        }
    }
    uint32_t first[BATCH];
    (void)rumor_coded_grad(c, f->model, f->ds, x, 5, 0.0, f->grad, f->xb, f->yb, f->ib);
    memcpy(first, f->ib, sizeof first);
    (void)rumor_coded_grad(c, f->model, f->ds, x, 77, 0.0, f->grad, f->xb, f->yb, f->ib);
    (void)rumor_coded_grad(c, f->model, f->ds, x, 5, 0.0, f->grad, f->xb, f->yb, f->ib);
    assert_memory_equal(first, f->ib, sizeof first);
    free(seen);
    rumor_coded_destroy(&c);
}

/* The coded gradient is unbiased over the straggling coin: for R = 1, 2, 3 and P = 0.3, the
 * network average of the peers' coded gradients (a straggler's zero) over 3000 draws of the
 * coin and the batches is within 5 of its standard errors of the full gradient
 * (1/n) sum_j grad f_j, in every coordinate. */
static void test_coded_gradient_unbiased(void **state)
{
    s_fixture_t *f = *state;
    const size_t d = rumor_model_nparams(f->model);
    float *x = malloc(d * sizeof *x), *full = calloc(d, sizeof *full);
    double *mean = malloc(d * sizeof *mean), *sq = malloc(d * sizeof *sq),
           *avg = malloc(d * sizeof *avg);
    assert_true(x && full && mean && sq && avg);
    rumor_rng_t rng;
    rumor_rng_seed(&rng, 1, 0, 0, RUMOR_RNG_TEST);
    rumor_model_init(f->model, x, &rng);
    for (size_t k = 0; k < d; k++) x[k] += 0.3f * (float)rumor_rng_normal(&rng);
    for (uint32_t j = 0; j < N; j++) {
        const uint32_t nj = f->part->off[j + 1] - f->part->off[j];
        rumor_data_gather(f->ds, f->part->idx + f->part->off[j], nj, f->xb, f->yb);
        (void)rumor_model_loss_grad(f->model, x, f->xb, f->yb, nj, f->grad);
        rumor_vec_axpy(full, 1.0f / N, f->grad, d);
    }
    const double p = 0.3;
    const int draws = 3000;
    for (uint32_t r = 1; r <= 3; r++) {
        rumor_coded_t *c[N];
        for (uint32_t i = 0; i < N; i++) {
            c[i] = rumor_coded_new(f->topo, f->part, r, BATCH, 4, i, NULL);
            assert_non_null(c[i]);
        }
        memset(mean, 0, d * sizeof *mean);
        memset(sq, 0, d * sizeof *sq);
        for (int t = 0; t < draws; t++) {
            memset(avg, 0, d * sizeof *avg);
            for (uint32_t i = 0; i < N; i++) {
                if (rumor_rng_uniform_d(&rng) < p) continue; /* a straggler: zero */
                (void)rumor_coded_grad(c[i], f->model, f->ds, x, (uint64_t)t, p, f->grad, f->xb,
                                       f->yb, f->ib);
                for (size_t k = 0; k < d; k++) avg[k] += f->grad[k] / (double)N;
            }
            for (size_t k = 0; k < d; k++) {
                mean[k] += avg[k] / draws;
                sq[k] += avg[k] * avg[k] / draws;
            }
        }
        double worst = 0;
        for (size_t k = 0; k < d; k++) {
            const double se = sqrt(fmax(sq[k] - mean[k] * mean[k], 0.0) / draws);
            const double z = fabs(mean[k] - full[k]) / (se + 1e-12);
            if (z > 5.0)
                fail_msg("R = %u, coordinate %zu: mean %g, full gradient %g, standard error %g", r,
                         k, mean[k], (double)full[k], se);
            worst = fmax(worst, z);
        }
        print_message("R = %u: largest deviation %.2f standard errors\n", r, worst);
        for (uint32_t i = 0; i < N; i++) rumor_coded_destroy(&c[i]);
    }
    free(x);
    free(full);
    free(mean);
    free(sq);
    free(avg);
}

/* Refusals name what is wrong: more copies than nodes or rows per batch, no partition, and a
 * held shard whose rows the peer does not have (a peer that loaded only its own). */
static void test_refusals(void **state)
{
    s_fixture_t *f = *state;
    rumor_errmsg_t em = {""};
    assert_null(rumor_coded_new(f->topo, f->part, N + 1, BATCH, 1, 0, &em));
    assert_non_null(strstr(em.msg, "data.redundancy 7: expected 1 to the 6 nodes"));
    assert_null(rumor_coded_new(f->topo, f->part, 3, 2, 1, 0, &em));
    assert_non_null(strstr(em.msg, "at most the batch 2"));
    assert_null(rumor_coded_new(f->topo, NULL, 2, BATCH, 1, 0, &em));
    assert_non_null(strstr(em.msg, "peer 0 has no partition"));
    uint32_t off[N + 1];
    for (uint32_t i = 0; i <= N; i++) off[i] = i == 0 ? 0 : f->part->off[1];
    const rumor_partition_t own = {.peers = N, .off = off, .idx = f->part->idx};
    uint32_t held[2];
    assert_int_equal(rumor_coded_holds(f->topo, 1, 2, 0, held), 0);
    assert_null(rumor_coded_new(f->topo, &own, 2, BATCH, 1, 0, &em));
    char want[96];
    snprintf(want, sizeof want, "peer 0 holds shard %u, whose rows it does not have", held[1]);
    assert_non_null(strstr(em.msg, want));
}

/* data.coded_scale: "unbiased" (the default, which leaves the run-config hash as it was) or
 * "none", which changes the hash; refused with R = 1, whose step is never scaled, and for any
 * other value. */
static void test_coded_scale_key(void **state)
{
    (void)state;
    static const char *const fmt = "{\"data\": {\"name\": \"synthetic\", \"redundancy\": %d%s}, "
                                   "\"faults\": [{\"straggle\": 0.3, \"late\": -1}]}";
    char json[256];
    rumor_scenario_t plain, unbiased, none;
    rumor_errmsg_t em = {""};
    snprintf(json, sizeof json, fmt, 2, "");
    assert_int_equal(rumor_scenario_parse(json, "a.json", "", &plain, &em), 0);
    snprintf(json, sizeof json, fmt, 2, ", \"coded_scale\": \"unbiased\"");
    assert_int_equal(rumor_scenario_parse(json, "b.json", "", &unbiased, &em), 0);
    snprintf(json, sizeof json, fmt, 2, ", \"coded_scale\": \"none\"");
    assert_int_equal(rumor_scenario_parse(json, "c.json", "", &none, &em), 0);
    assert_false(plain.coded_unscaled);
    assert_true(none.coded_unscaled);
    assert_memory_equal(plain.hash, unbiased.hash, sizeof plain.hash);
    assert_memory_not_equal(plain.hash, none.hash, sizeof plain.hash);
    snprintf(json, sizeof json, fmt, 1, ", \"coded_scale\": \"none\"");
    assert_int_equal(rumor_scenario_parse(json, "d.json", "", &none, &em), RUMOR_EINVAL);
    assert_non_null(strstr(em.msg, "d.json: data.coded_scale: none needs data.redundancy 2"));
    snprintf(json, sizeof json, fmt, 2, ", \"coded_scale\": \"half\"");
    assert_int_equal(rumor_scenario_parse(json, "e.json", "", &none, &em), RUMOR_EINVAL);
    assert_non_null(strstr(em.msg, "e.json: data.coded_scale: expected unbiased or none"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_shard_has_r_holders),
        cmocka_unit_test_setup_teardown(test_rows_walk_held_shards, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_coded_gradient_unbiased, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_refusals, s_setup, s_teardown),
        cmocka_unit_test(test_coded_scale_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
