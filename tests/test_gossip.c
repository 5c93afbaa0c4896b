/* Tests of gossip: CHOCO-style gossip alone drives every peer to the exact average; D-PSGD
 * mixing is W times the models; DCD and DeepSqueeze with the identity are D-PSGD, DCD keeps no
 * memory and DeepSqueeze's holds what compression dropped; down neighbours are left out; bad
 * input is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "rumor/gossip.h"
#include "rumor/topology.h"
#include "rumor/vec.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { D = 64 };

typedef struct {
    rumor_topology_t *topo;
    rumor_gossip_t **g;
    float *x; /* (n, D) */
    rumor_cmsg_t *msg;
} s_net_t;

/* n peers on a generated graph; BEER's trackers cover the coordinates from track_from on. */
static void s_net_new_tracking(s_net_t *net, const char *kind, uint32_t n, rumor_algo_t algo,
                               const char *compressor, float gamma, uint32_t track_from)
{
    rumor_topology_gen_t gen = {.n = n};
    assert_int_equal(rumor_topology_kind_parse(kind, &gen.kind, NULL), 0);
    assert_int_equal(rumor_topology_generate(&gen, &net->topo, NULL), 0);
    net->g = calloc(n, sizeof *net->g);
    net->x = calloc((size_t)n * D, sizeof *net->x);
    net->msg = calloc(n, sizeof *net->msg);
    float zero[D] = {0};
    rumor_rng_t r;
    rumor_rng_seed(&r, 1, 0, 0, RUMOR_RNG_TEST);
    for (size_t k = 0; k < (size_t)n * D; k++) net->x[k] = (float)rumor_rng_normal(&r);
    for (uint32_t i = 0; i < n; i++) {
        const uint32_t deg = rumor_topology_degree(net->topo, i);
        const uint32_t *nb = rumor_topology_neighbors(net->topo, i);
        double w[16];
        for (uint32_t s = 0; s < deg; s++) w[s] = net->topo->w[(size_t)i * n + nb[s]];
        rumor_gossip_cfg_t cfg = {.algo = algo,
                                  .d = D,
                                  .self = i,
                                  .degree = deg,
                                  .nbrs = nb,
                                  .w_nbrs = w,
                                  .gamma = gamma,
                                  .track_from = track_from};
        assert_int_equal(rumor_compress_parse(compressor, &cfg.compress, NULL), 0);
        net->g[i] = rumor_gossip_new(&cfg, zero);
        assert_non_null(net->g[i]);
        assert_int_equal(rumor_cmsg_init(&net->msg[i], D), 0);
    }
}

static void s_net_new(s_net_t *net, const char *kind, uint32_t n, rumor_algo_t algo,
                      const char *compressor, float gamma)
{
    s_net_new_tracking(net, kind, n, algo, compressor, gamma, 0);
}

static void s_net_free(s_net_t *net)
{
    for (uint32_t i = 0; i < net->topo->n; i++) {
        rumor_gossip_destroy(&net->g[i]);
        rumor_cmsg_free(&net->msg[i]);
    }
    free(net->g);
    free(net->x);
    free(net->msg);
    rumor_topology_destroy(&net->topo);
}

/* Every peer's v = x - eta g for pseudo-gradients g drawn for round t. */
static void s_steps(const s_net_t *net, uint32_t t, float eta, float *v)
{
    const size_t nd = (size_t)net->topo->n * D;
    rumor_rng_t r;
    rumor_rng_seed(&r, 3, 0, t, RUMOR_RNG_TEST);
    for (size_t k = 0; k < nd; k++) v[k] = net->x[k] - eta * (float)rumor_rng_normal(&r);
}

/* One round from v: produce, absorb every neighbour's message, mix into x. */
static void s_round_from(s_net_t *net, uint32_t t, const float *v)
{
    const uint32_t n = net->topo->n;
    for (uint32_t i = 0; i < n; i++) {
        rumor_rng_t r;
        rumor_rng_seed(&r, 2, i, t, RUMOR_RNG_COMPRESS);
        rumor_gossip_produce(net->g[i], v + (size_t)i * D, &r, &net->msg[i]);
    }
    for (uint32_t i = 0; i < n; i++) {
        const uint32_t deg = rumor_topology_degree(net->topo, i);
        const uint32_t *nb = rumor_topology_neighbors(net->topo, i);
        for (uint32_t s = 0; s < deg; s++)
            assert_int_equal(rumor_gossip_absorb(net->g[i], nb[s], &net->msg[nb[s]]), 0);
        rumor_gossip_mix(net->g[i], v + (size_t)i * D, net->x + (size_t)i * D);
    }
}

/* One gossip round with no gradient step: v = x. */
static void s_round(s_net_t *net, uint32_t t)
{
    s_round_from(net, t, net->x);
}

static void s_mean(const s_net_t *net, double *mean)
{
    const uint32_t n = net->topo->n;
    for (int k = 0; k < D; k++) {
        mean[k] = 0;
        for (uint32_t i = 0; i < n; i++) mean[k] += net->x[(size_t)i * D + k] / n;
    }
}

static void s_check_consensus(const char *kind, uint32_t n, rumor_algo_t algo,
                              const char *compressor, float gamma, uint32_t rounds)
{
    s_net_t net;
    s_net_new(&net, kind, n, algo, compressor, gamma);
    double before[D], after[D];
    s_mean(&net, before);
    for (uint32_t t = 0; t < rounds; t++) s_round(&net, t);
    s_mean(&net, after);
    double dev = 0;
    for (int k = 0; k < D; k++) {
        assert_true(fabs(after[k] - before[k]) < 1e-5);
        for (uint32_t i = 0; i < n; i++) {
            const double e = fabs(net.x[(size_t)i * D + k] - before[k]);
            if (e > dev) dev = e;
        }
    }
    if (dev >= 1e-5)
        fail_msg("%s %u %s %s: max deviation %g after %u rounds", kind, n, rumor_algo_name(algo),
                 compressor, dev, rounds);
    s_net_free(&net);
}

static void test_choco_reaches_exact_average(void **state)
{
    (void)state;
    s_check_consensus("ring", 8, RUMOR_ALGO_CHOCO, "identity", 1.0f, 400);
    s_check_consensus("ring", 8, RUMOR_ALGO_CHOCO, "dither:16:biased", 0.8f, 1500);
    s_check_consensus("ring", 8, RUMOR_ALGO_CHOCO, "topk:0.25", 0.4f, 1500);
    s_check_consensus("torus", 16, RUMOR_ALGO_CHOCO, "dither:16:biased", 0.8f, 1500);
    s_check_consensus("torus", 16, RUMOR_ALGO_MALCOM, "dither:8", 0.5f, 1500);
    s_check_consensus("torus", 16, RUMOR_ALGO_CHOCO, "sign", 0.2f, 3000);
    s_check_consensus("ring", 8, RUMOR_ALGO_CHOCO, "natural:biased", 0.8f, 1500);
    s_check_consensus("torus", 16, RUMOR_ALGO_CHOCO, "natural:6:inf:biased", 0.8f, 1500);
    s_check_consensus("ring", 8, RUMOR_ALGO_CHOCO, "topk:0.25+dither:8:biased", 0.4f, 1500);
    s_check_consensus("ring", 8, RUMOR_ALGO_CHOCO, "block:0.25", 0.4f, 1500);
}

static void test_dpsgd_mix_is_w_times_x(void **state)
{
    (void)state;
    s_net_t net;
    s_net_new(&net, "ring", 6, RUMOR_ALGO_DPSGD, "identity", 1.0f);
    const uint32_t n = 6;
    float *before = malloc(sizeof(float) * n * D);
    memcpy(before, net.x, sizeof(float) * n * D);
    s_round(&net, 0);
    for (uint32_t i = 0; i < n; i++)
        for (int k = 0; k < D; k++) {
            double want = 0;
            for (uint32_t j = 0; j < n; j++) want += net.topo->w[i * n + j] * before[j * D + k];
            assert_true(fabs(net.x[i * D + k] - want) < 1e-5);
        }
    free(before);
    s_net_free(&net);
}

static void test_down_neighbour_is_left_out(void **state)
{
    (void)state;
    s_net_t net;
    s_net_new(&net, "ring", 5, RUMOR_ALGO_DPSGD, "identity", 1.0f);
    const uint32_t n = 5;
    float *before = malloc(sizeof(float) * n * D);
    memcpy(before, net.x, sizeof(float) * n * D);
    /* Node 0 hears from 1 and 4; with 4 down, 4's weight stays on node 0 itself. */
    assert_int_equal(rumor_gossip_set_up(net.g[0], 4, 0), 0);
    assert_false(rumor_gossip_is_up(net.g[0], 4));
    assert_int_equal(rumor_gossip_set_up(net.g[0], 2, 0), RUMOR_EINVAL);
    s_round(&net, 0);
    const double w01 = net.topo->w[1], w04 = net.topo->w[4], w00 = net.topo->w[0];
    for (int k = 0; k < D; k++) {
        const double want = (w00 + w04) * before[k] + w01 * before[D + k];
        assert_true(fabs(net.x[k] - want) < 1e-5);
    }
    free(before);
    s_net_free(&net);
}

static void test_absorb_refuses_bad_input(void **state)
{
    (void)state;
    s_net_t net;
    s_net_new(&net, "ring", 6, RUMOR_ALGO_CHOCO, "dither:4", 0.5f);
    rumor_rng_t r;
    rumor_rng_seed(&r, 1, 0, 0, RUMOR_RNG_COMPRESS);
    rumor_gossip_produce(net.g[1], net.x + D, &r, &net.msg[1]);
    float copy[D];
    memcpy(copy, rumor_gossip_copy(net.g[0], 1), sizeof copy);
    assert_int_equal(rumor_gossip_absorb(net.g[0], 3, &net.msg[1]), RUMOR_EINVAL);
    assert_int_equal(rumor_gossip_absorb(net.g[0], 0, &net.msg[1]), RUMOR_EINVAL);
    net.msg[1].d = D - 1;
    assert_int_equal(rumor_gossip_absorb(net.g[0], 1, &net.msg[1]), RUMOR_EMISMATCH);
    net.msg[1].d = D;
    /* a diverged or hostile neighbour's NaN or infinite values never reach the copy */
    net.msg[1].scale = INFINITY;
    assert_int_equal(rumor_gossip_absorb(net.g[0], 1, &net.msg[1]), RUMOR_ENONFINITE);
    rumor_cmsg_t dense;
    assert_int_equal(rumor_cmsg_init(&dense, D), 0);
    dense.kind = RUMOR_CMSG_DENSE;
    dense.d = dense.nnz = D;
    for (uint32_t k = 0; k < D; k++) dense.val[k] = 1.0f;
    dense.val[D / 2] = NAN;
    assert_int_equal(rumor_gossip_absorb(net.g[0], 1, &dense), RUMOR_ENONFINITE);
    /* nor do finite messages whose sum overflows: the second is refused */
    for (uint32_t k = 0; k < D; k++) dense.val[k] = k == 2 ? 3e38f : 0.0f;
    assert_int_equal(rumor_gossip_absorb(net.g[0], 5, &dense), 0);
    const float before = rumor_gossip_copy(net.g[0], 5)[2];
    assert_int_equal(rumor_gossip_absorb(net.g[0], 5, &dense), RUMOR_ENONFINITE);
    assert_true(isfinite(before) && rumor_gossip_copy(net.g[0], 5)[2] == before);
    rumor_cmsg_free(&dense);
    assert_memory_equal(copy, rumor_gossip_copy(net.g[0], 1), sizeof copy);
    assert_null(rumor_gossip_copy(net.g[0], 3));
    assert_non_null(rumor_gossip_copy(net.g[0], 0));
    s_net_free(&net);
}

/* A neighbour's copy is an addend (a decoder may add its message there in place of absorb)
 * exactly when absorbing only adds the message to it: not for D-PSGD and DeepSqueeze, whose
 * copy is the message, nor BEER's pairs; never for a peer that is not a neighbour. Adding a
 * message into the addend is absorbing it. */
static void test_addend_is_what_absorb_adds_to(void **state)
{
    (void)state;
    for (int algo = RUMOR_ALGO_DPSGD; algo <= RUMOR_ALGO_BEER; algo++) {
        s_net_t net, twin;
        s_net_new(&net, "ring", 6, (rumor_algo_t)algo, "dither:4", 0.5f);
        s_net_new(&twin, "ring", 6, (rumor_algo_t)algo, "dither:4", 0.5f);
        const int adds =
            algo == RUMOR_ALGO_CHOCO || algo == RUMOR_ALGO_MALCOM || algo == RUMOR_ALGO_DCD;
        float *addend = rumor_gossip_addend(net.g[0], 1);
        assert_ptr_equal(addend, adds ? rumor_gossip_copy_mut(net.g[0], 1) : NULL);
        assert_null(rumor_gossip_addend(net.g[0], 3));
        if (adds) {
            rumor_rng_t r;
            rumor_rng_seed(&r, 1, 0, 0, RUMOR_RNG_COMPRESS);
            rumor_gossip_produce(net.g[1], net.x + D, &r, &net.msg[1]);
            rumor_cmsg_axpy(&net.msg[1], 1.0f, addend);
            assert_int_equal(rumor_gossip_absorb(twin.g[0], 1, &net.msg[1]), 0);
            assert_memory_equal(rumor_gossip_copy(net.g[0], 1), rumor_gossip_copy(twin.g[0], 1),
                                D * sizeof(float));
        }
        s_net_free(&net);
        s_net_free(&twin);
    }
}

/* DCD-PSGD with the identity and gamma 1 is D-PSGD as Lian et al. write it,
 * x <- W x - eta g: each model moves to the mix of last round's models plus its own step. */
static void test_dcd_with_identity_is_dpsgd(void **state)
{
    (void)state;
    enum { N = 6, T = 20 };
    s_net_t net;
    s_net_new(&net, "ring", N, RUMOR_ALGO_DCD, "identity", 1.0f);
    memset(net.x, 0, sizeof(float) * N * D); /* the models start at the copies' x0 */
    double want[N * D] = {0}, next[N * D];
    float v[N * D];
    for (uint32_t t = 0; t < T; t++) {
        s_steps(&net, t, 0.1f, v);
        for (uint32_t i = 0; i < N; i++)
            for (int k = 0; k < D; k++) {
                double m = (v[i * D + k] - net.x[i * D + k]); /* -eta g */
                for (uint32_t j = 0; j < N; j++) m += net.topo->w[i * N + j] * want[j * D + k];
                next[i * D + k] = m;
            }
        memcpy(want, next, sizeof want);
        s_round_from(&net, t, v);
    }
    for (int k = 0; k < N * D; k++)
        if (fabs(net.x[k] - want[k]) > 1e-4) fail_msg("x[%d] = %g, want %g", k, net.x[k], want[k]);
    s_net_free(&net);
}

/* DCD keeps no memory: with top-k each peer's model is exactly its public copy, and moves
 * only where the message did, so the coordinates top-k dropped are lost, not carried. */
static void test_dcd_model_is_its_copy(void **state)
{
    (void)state;
    s_net_t net;
    s_net_new(&net, "ring", 5, RUMOR_ALGO_DCD, "topk:0.25", 1.0f);
    memset(net.x, 0, sizeof(float) * 5 * D);
    float v[5 * D], before[D];
    for (uint32_t t = 0; t < 4; t++) {
        memcpy(before, net.x, sizeof before);
        s_steps(&net, t, 0.1f, v);
        s_round_from(&net, t, v);
        assert_memory_equal(net.x, rumor_gossip_copy(net.g[0], 0), sizeof before);
        assert_memory_equal(rumor_gossip_copy(net.g[0], 0), rumor_gossip_copy(net.g[1], 0),
                            sizeof before);
        int moved = 0;
        for (int k = 0; k < D; k++) moved += net.x[k] != before[k];
        assert_int_equal(moved, D / 4);
    }
    s_net_free(&net);
}

/* A carrier may deliver a round's messages before a peer's own step (a networked peer
 * absorbs what arrives while it is between rounds): every algorithm must end the round the
 * same. Here each peer's message reaches its neighbours as soon as it is produced, so later
 * peers absorb before they produce. */
static void test_early_messages_change_nothing(void **state)
{
    (void)state;
    enum { N = 6 };
    const rumor_algo_t algos[] = {RUMOR_ALGO_CHOCO, RUMOR_ALGO_DCD, RUMOR_ALGO_DEEPSQUEEZE};
    for (int a = 0; a < 3; a++) {
        s_net_t in_order, early;
        s_net_new(&in_order, "ring", N, algos[a], "topk:0.25", 0.5f);
        s_net_new(&early, "ring", N, algos[a], "topk:0.25", 0.5f);
        float v[N * D];
        for (uint32_t t = 0; t < 5; t++) {
            s_steps(&in_order, t, 0.1f, v);
            s_round_from(&in_order, t, v);
            s_steps(&early, t, 0.1f, v);
            for (uint32_t i = 0; i < N; i++) {
                rumor_rng_t r;
                rumor_rng_seed(&r, 2, i, t, RUMOR_RNG_COMPRESS);
                rumor_gossip_produce(early.g[i], v + (size_t)i * D, &r, &early.msg[i]);
                const uint32_t *nb = rumor_topology_neighbors(early.topo, i);
                for (uint32_t s = 0; s < rumor_topology_degree(early.topo, i); s++)
                    assert_int_equal(rumor_gossip_absorb(early.g[nb[s]], i, &early.msg[i]), 0);
            }
            for (uint32_t i = 0; i < N; i++)
                rumor_gossip_mix(early.g[i], v + (size_t)i * D, early.x + (size_t)i * D);
        }
        if (memcmp(in_order.x, early.x, sizeof v))
            fail_msg("%s: early messages changed the models", rumor_algo_name(algos[a]));
        s_net_free(&in_order);
        s_net_free(&early);
    }
}

/* DeepSqueeze's memory holds exactly what compression dropped: with top-k, a = e + v at the
 * coordinates top-k left out and 0 where it kept them; with a quantizer, e + q = a. The own
 * and the neighbours' copies are the message q. */
static void test_deepsqueeze_memory_holds_the_dropped_part(void **state)
{
    (void)state;
    const char *compressors[] = {"topk:0.25", "dither:4"};
    for (int c = 0; c < 2; c++) {
        s_net_t net;
        s_net_new(&net, "ring", 5, RUMOR_ALGO_DEEPSQUEEZE, compressors[c], 0.5f);
        float v[5 * D], a[D], q[D];
        for (uint32_t t = 0; t < 4; t++) {
            s_steps(&net, t, 0.1f, v);
            for (int k = 0; k < D; k++) a[k] = rumor_gossip_extra(net.g[0], NULL)[k] + v[k];
            s_round_from(&net, t, v);
            rumor_cmsg_to_dense(&net.msg[0], q);
            const float *e = rumor_gossip_extra(net.g[0], NULL);
            int kept = 0;
            for (int k = 0; k < D; k++) {
                if (c == 0) {
                    kept += q[k] != 0.0f;
                    assert_true(q[k] == 0.0f ? e[k] == a[k] : e[k] == 0.0f && q[k] == a[k]);
                } else {
                    assert_true(fabsf(e[k] + q[k] - a[k]) <= 1e-6f * (1.0f + fabsf(a[k])));
                }
            }
            if (c == 0) assert_int_equal(kept, D / 4);
            assert_memory_equal(rumor_gossip_copy(net.g[0], 0), q, sizeof q);
            assert_memory_equal(rumor_gossip_copy(net.g[1], 0), q, sizeof q);
        }
        s_net_free(&net);
    }
}

/* DeepSqueeze with the identity keeps no error and, at gamma 1, mixes as D-PSGD does:
 * x = W v. */
static void test_deepsqueeze_with_identity_is_dpsgd(void **state)
{
    (void)state;
    enum { N = 6 };
    s_net_t net;
    s_net_new(&net, "ring", N, RUMOR_ALGO_DEEPSQUEEZE, "identity", 1.0f);
    float v[N * D];
    s_steps(&net, 0, 0.1f, v);
    s_round_from(&net, 0, v);
    for (uint32_t i = 0; i < N; i++)
        for (int k = 0; k < D; k++) {
            double want = 0;
            for (uint32_t j = 0; j < N; j++) want += net.topo->w[i * N + j] * v[j * D + k];
            assert_true(fabs(net.x[i * D + k] - want) < 1e-5);
            assert_true(rumor_gossip_extra(net.g[i], NULL)[k] == 0.0f);
        }
    s_net_free(&net);
}

/* A gamma set for the round (a schedule) is the one the mix uses, as if configured. */
/* One BEER round of gossip alone on net, the models x as they are (no step): produce both
 * parts, absorb every neighbour's pair, mix. */
static void s_beer_round(s_net_t *net, uint32_t t, rumor_cmsg_t *mt)
{
    const uint32_t n = net->topo->n;
    for (uint32_t i = 0; i < n; i++) {
        rumor_rng_t r;
        rumor_rng_seed(&r, 2, i, t, RUMOR_RNG_COMPRESS);
        rumor_gossip_produce(net->g[i], net->x + (size_t)i * D, &r, &net->msg[i]);
        rumor_gossip_produce_tracker(net->g[i], &r, &mt[i]);
    }
    for (uint32_t i = 0; i < n; i++) {
        const uint32_t deg = rumor_topology_degree(net->topo, i);
        const uint32_t *nb = rumor_topology_neighbors(net->topo, i);
        for (uint32_t s = 0; s < deg; s++)
            assert_int_equal(
                rumor_gossip_absorb_pair(net->g[i], nb[s], &net->msg[nb[s]], &mt[nb[s]]), 0);
        rumor_gossip_mix(net->g[i], net->x + (size_t)i * D, net->x + (size_t)i * D);
    }
}

/* A neighbour that sits the round out is left out of CHOCO's mix as a down one is, and takes
 * part again when marked so. */
static void test_quiet_neighbour_is_left_out(void **state)
{
    (void)state;
    s_net_t a, b;
    s_net_new(&a, "ring", 5, RUMOR_ALGO_CHOCO, "topk:0.5", 0.4f);
    s_net_new(&b, "ring", 5, RUMOR_ALGO_CHOCO, "topk:0.5", 0.4f);
    assert_int_equal(rumor_gossip_set_quiet(a.g[0], 4, 1), 0);
    assert_int_equal(rumor_gossip_set_up(b.g[0], 4, 0), 0);
    assert_int_equal(rumor_gossip_set_quiet(a.g[0], 2, 1), RUMOR_EINVAL);
    s_round(&a, 0);
    s_round(&b, 0);
    assert_memory_equal(a.x, b.x, sizeof(float) * D);
    assert_true(memcmp(a.x, b.x, sizeof(float) * 5 * D) == 0);
    assert_int_equal(rumor_gossip_set_quiet(a.g[0], 4, 0), 0);
    s_round(&a, 1);
    s_round(&b, 1);
    assert_true(memcmp(a.x, b.x, sizeof(float) * D) != 0);
    s_net_free(&a);
    s_net_free(&b);
}

/* BEER's trackers are gossiped like its models: with top-k copies the sum of the trackers
 * (the sum of the latest gradients) stays what it was, every tracker goes to its mean, and
 * the models reach their exact average as with CHOCO. */
static void test_beer_trackers_keep_their_sum(void **state)
{
    (void)state;
    const uint32_t n = 6;
    s_net_t net;
    s_net_new(&net, "ring", n, RUMOR_ALGO_BEER, "topk:0.25", 0.3f);
    assert_int_equal(rumor_gossip_public_dim(net.g[0]), 2 * D);
    assert_int_equal(rumor_gossip_extra_rows(net.g[0]), 2);
    rumor_cmsg_t mt[6];
    double ysum[D] = {0}, xmean[D];
    rumor_rng_t r;
    rumor_rng_seed(&r, 5, 0, 0, RUMOR_RNG_TEST);
    for (uint32_t i = 0; i < n; i++) {
        assert_int_equal(rumor_cmsg_init(&mt[i], D), 0);
        float *y = rumor_gossip_extra(net.g[i], NULL);
        for (int k = 0; k < D; k++) ysum[k] += y[k] = (float)rumor_rng_normal(&r);
    }
    s_mean(&net, xmean);
    for (uint32_t t = 0; t < 400; t++) s_beer_round(&net, t, mt);
    double dev = 0, xdev = 0;
    for (uint32_t i = 0; i < n; i++) {
        const float *y = rumor_gossip_extra(net.g[i], NULL);
        for (int k = 0; k < D; k++) {
            dev = fmax(dev, fabs(y[k] - ysum[k] / n));
            xdev = fmax(xdev, fabs(net.x[(size_t)i * D + k] - xmean[k]));
        }
    }
    if (dev >= 1e-4 || xdev >= 1e-4)
        fail_msg("trackers %g, models %g from their means after 400 rounds", dev, xdev);
    for (uint32_t i = 0; i < n; i++) rumor_cmsg_free(&mt[i]);
    s_net_free(&net);
}

/* A BEER tracker over the coordinates from track_from on (algorithm.track "last"): its part
 * of a message has d - track_from entries, the trackers go to their mean there and keep their
 * sum; below, the trackers are left as they are and their copies stay 0. A part of the wrong
 * length is refused, and so is a start past the model or, for a ":layer" compressor, inside a
 * tensor. */
static void test_beer_tracks_a_tail(void **state)
{
    (void)state;
    const uint32_t n = 6, from = 40;
    s_net_t net;
    s_net_new_tracking(&net, "ring", n, RUMOR_ALGO_BEER, "dither:4:biased", 0.3f, from);
    rumor_cmsg_t mt[6];
    float y0[6][D];
    double ysum[D] = {0};
    rumor_rng_t r;
    rumor_rng_seed(&r, 5, 0, 0, RUMOR_RNG_TEST);
    for (uint32_t i = 0; i < n; i++) {
        assert_int_equal(rumor_cmsg_init(&mt[i], D), 0);
        float *y = rumor_gossip_extra(net.g[i], NULL);
        for (int k = 0; k < D; k++) ysum[k] += y0[i][k] = y[k] = (float)rumor_rng_normal(&r);
    }
    for (uint32_t t = 0; t < 400; t++) s_beer_round(&net, t, mt);
    assert_int_equal(mt[0].d, D - from);
    double dev = 0;
    for (uint32_t i = 0; i < n; i++) {
        const float *y = rumor_gossip_extra(net.g[i], NULL);
        const float *u = rumor_gossip_copy(net.g[i], i) + D;
        assert_memory_equal(y, y0[i], from * sizeof *y);
        for (uint32_t k = 0; k < from; k++) assert_true(u[k] == 0.0f);
        for (uint32_t k = from; k < D; k++) dev = fmax(dev, fabs(y[k] - ysum[k] / n));
    }
    if (dev >= 1e-3) fail_msg("trackers %g from their means after 400 rounds", dev);
    mt[1].d = D;
    assert_int_equal(rumor_gossip_absorb_pair(net.g[0], 1, &net.msg[1], &mt[1]), RUMOR_EMISMATCH);
    for (uint32_t i = 0; i < n; i++) rumor_cmsg_free(&mt[i]);
    s_net_free(&net);

    const uint32_t nb[1] = {1}, tensors[2] = {30, D - 30};
    const double w[1] = {0.5};
    rumor_gossip_cfg_t cfg = {.algo = RUMOR_ALGO_BEER,
                              .d = D,
                              .degree = 1,
                              .nbrs = nb,
                              .w_nbrs = w,
                              .gamma = 0.5f,
                              .track_from = D};
    assert_int_equal(rumor_compress_parse("dither:4:layer", &cfg.compress, NULL), 0);
    const float zero[D] = {0};
    cfg.compress.tensors = tensors;
    cfg.compress.n_tensors = 2;
    rumor_gossip_t *g;
    assert_int_equal(rumor_gossip_create(&cfg, zero, &g), RUMOR_EINVAL);
    cfg.track_from = 20;
    assert_int_equal(rumor_gossip_create(&cfg, zero, &g), RUMOR_EINVAL);
    cfg.track_from = 30;
    assert_int_equal(rumor_gossip_create(&cfg, zero, &g), 0);
    rumor_gossip_destroy(&g);
}

/* A BEER message is applied whole or not at all, and comes in two parts. */
static void test_beer_absorbs_both_parts_or_neither(void **state)
{
    (void)state;
    s_net_t net;
    s_net_new(&net, "ring", 4, RUMOR_ALGO_BEER, "dither:4:biased", 0.5f);
    rumor_cmsg_t mt;
    assert_int_equal(rumor_cmsg_init(&mt, D), 0);
    rumor_gossip_extra(net.g[1], NULL)[3] = 2.0f;
    rumor_rng_t r;
    rumor_rng_seed(&r, 1, 1, 0, RUMOR_RNG_COMPRESS);
    rumor_gossip_produce(net.g[1], net.x + D, &r, &net.msg[1]);
    rumor_gossip_produce_tracker(net.g[1], &r, &mt);
    float copy[2 * D];
    memcpy(copy, rumor_gossip_copy(net.g[0], 1), sizeof copy);
    assert_int_equal(rumor_gossip_absorb(net.g[0], 1, &net.msg[1]), RUMOR_EINVAL);
    mt.scale = NAN;
    assert_int_equal(rumor_gossip_absorb_pair(net.g[0], 1, &net.msg[1], &mt), RUMOR_ENONFINITE);
    assert_memory_equal(copy, rumor_gossip_copy(net.g[0], 1), sizeof copy);
    mt.scale = 1.0f;
    assert_int_equal(rumor_gossip_absorb_pair(net.g[0], 1, &net.msg[1], &mt), 0);
    assert_true(memcmp(copy, rumor_gossip_copy(net.g[0], 1), sizeof copy));
    rumor_cmsg_free(&mt);
    s_net_free(&net);
}

/* In a full-sync round the residual goes exact: the own copy (and BEER's tracker copy) is
 * then the vector itself, whatever the compressor; the next round compresses again. */
static void test_sync_round_makes_copies_exact(void **state)
{
    (void)state;
    const rumor_algo_t algos[] = {RUMOR_ALGO_CHOCO, RUMOR_ALGO_BEER};
    for (int a = 0; a < 2; a++) {
        s_net_t net;
        s_net_new(&net, "ring", 4, algos[a], "topk:0.1", 0.5f);
        rumor_cmsg_t mt;
        assert_int_equal(rumor_cmsg_init(&mt, D), 0);
        float unused[D];
        float *y = algos[a] == RUMOR_ALGO_BEER ? rumor_gossip_extra(net.g[0], NULL) : unused;
        for (int k = 0; k < D; k++) y[k] = net.x[k] + 1.0f;
        for (int sync = 1; sync >= 0; sync--) {
            rumor_rng_t r;
            rumor_rng_seed(&r, 1, 0, 0, RUMOR_RNG_COMPRESS);
            rumor_gossip_set_sync(net.g[0], sync);
            rumor_gossip_produce(net.g[0], net.x, &r, &net.msg[0]);
            if (algos[a] == RUMOR_ALGO_BEER) rumor_gossip_produce_tracker(net.g[0], &r, &mt);
            const float *own = rumor_gossip_copy(net.g[0], 0);
            assert_int_equal(memcmp(own, net.x, sizeof(float) * D) == 0, sync);
            if (algos[a] == RUMOR_ALGO_BEER)
                assert_int_equal(memcmp(own + D, y, sizeof(float) * D) == 0, sync);
            for (int k = 0; k < D; k++) net.x[k] += 1.0f; /* a new residual */
            for (int k = 0; k < D; k++) y[k] += 1.0f;
        }
        rumor_cmsg_free(&mt);
        s_net_free(&net);
    }
}

static void test_set_gamma_takes_effect(void **state)
{
    (void)state;
    s_net_t a, b;
    s_net_new(&a, "ring", 6, RUMOR_ALGO_CHOCO, "dither:8:biased", 0.5f);
    s_net_new(&b, "ring", 6, RUMOR_ALGO_CHOCO, "dither:8:biased", 0.1f);
    for (uint32_t i = 0; i < 6; i++) rumor_gossip_set_gamma(b.g[i], 0.5f);
    for (uint32_t t = 0; t < 5; t++) {
        s_round(&a, t);
        s_round(&b, t);
    }
    assert_memory_equal(a.x, b.x, sizeof(float) * 6 * D);
    s_net_free(&a);
    s_net_free(&b);
}

/* The consensus watch fires once, at the third rise in a row that adds up to 4-fold growth:
 * not for a healthy run's falling distance, nor for rises that are too few or too small. */
static void test_consensus_watch(void **state)
{
    (void)state;
    static const struct {
        double dist[8];
        int fires_at;        /* index of the evaluation that warns, -1 for none */
        uint32_t from_round; /* where the rises it names began */
    } cases[] = {
        {{1.9, 1.2, 1.0, 0.8, 0.7, 0.5, 0.3, 0.1}, -1, 0},  /* falling */
        {{23, 81, 252, 809, 2730, 9070, 3e4, 1e5}, 3, 100}, /* the gamma 0.3 ring of 8 */
        {{1, 2, 3, 1, 2, 3, 3, 3}, -1, 0},                  /* never three rises in a row */
        {{1, 1.3, 1.6, 1.9, 2.2, 2.5, 4.5, 9}, 6, 100},     /* slow, then past 4-fold */
        {{5, 1, 1.5, 2.5, 4.1, 1, 1, 1}, 4, 200},           /* counted from the lowest point */
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        rumor_consensus_watch_t w = {0};
        int fired = -1;
        for (int e = 0; e < 8; e++) {
            if (!rumor_consensus_watch(&w, 100u * (e + 1), cases[c].dist[e])) continue;
            assert_int_equal(fired, -1); /* once */
            fired = e;
            assert_int_equal(w.from_round, cases[c].from_round);
        }
        if (fired != cases[c].fires_at)
            fail_msg("case %zu: fired at %d, want %d", c, fired, cases[c].fires_at);
    }
}

static void test_algo_names(void **state)
{
    (void)state;
    rumor_algo_t a;
    const struct {
        const char *name;
        rumor_algo_t algo;
    } cases[] = {{"dpsgd", RUMOR_ALGO_DPSGD},
                 {"choco", RUMOR_ALGO_CHOCO},
                 {"malcom", RUMOR_ALGO_MALCOM},
                 {"dcd", RUMOR_ALGO_DCD},
                 {"deepsqueeze", RUMOR_ALGO_DEEPSQUEEZE},
                 {"beer", RUMOR_ALGO_BEER}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(rumor_algo_parse(cases[i].name, &a), 0);
        assert_int_equal(a, cases[i].algo);
        assert_string_equal(rumor_algo_name(a), cases[i].name);
    }
    assert_int_equal(rumor_algo_parse("sgd", &a), RUMOR_EINVAL);
    assert_int_equal(a, RUMOR_ALGO_BEER); /* unchanged */
    assert_string_equal(rumor_algo_name((rumor_algo_t)(RUMOR_ALGO_BEER + 1)), "?");
}

/* Bad configurations give RUMOR_EINVAL, the compressor's own included, and no state. */
static void test_create_codes(void **state)
{
    (void)state;
    static const float x0[8];
    const uint32_t up[2] = {1, 2}, down[2] = {2, 1};
    const double w[2] = {0.25, 0.25};
    rumor_gossip_cfg_t cfg = {
        .algo = RUMOR_ALGO_CHOCO, .d = 8, .degree = 2, .nbrs = up, .w_nbrs = w, .gamma = 0.5f};
    assert_int_equal(rumor_compress_parse("dither:4:layer", &cfg.compress, NULL), 0);
    const uint32_t sizes[2] = {3, 5}, short_sizes[2] = {3, 4};
    cfg.compress.tensors = sizes;
    cfg.compress.n_tensors = 2;
    static char sentinel;
    rumor_gossip_t *g = (rumor_gossip_t *)(void *)&sentinel;
    assert_int_equal(rumor_gossip_create(&cfg, x0, &g), 0);
    assert_non_null(g);
    rumor_gossip_destroy(&g);

    rumor_gossip_cfg_t bad = cfg;
    bad.d = 0;
    g = (rumor_gossip_t *)(void *)&sentinel;
    assert_int_equal(rumor_gossip_create(&bad, x0, &g), RUMOR_EINVAL);
    assert_null(g);
    bad = cfg;
    bad.nbrs = down;
    g = (rumor_gossip_t *)(void *)&sentinel;
    assert_int_equal(rumor_gossip_create(&bad, x0, &g), RUMOR_EINVAL);
    assert_null(g);
    bad = cfg;
    bad.compress.tensors = short_sizes;
    g = (rumor_gossip_t *)(void *)&sentinel;
    assert_int_equal(rumor_gossip_create(&bad, x0, &g), RUMOR_EINVAL);
    assert_null(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_choco_reaches_exact_average),
        cmocka_unit_test(test_dpsgd_mix_is_w_times_x),
        cmocka_unit_test(test_down_neighbour_is_left_out),
        cmocka_unit_test(test_absorb_refuses_bad_input),
        cmocka_unit_test(test_addend_is_what_absorb_adds_to),
        cmocka_unit_test(test_dcd_with_identity_is_dpsgd),
        cmocka_unit_test(test_dcd_model_is_its_copy),
        cmocka_unit_test(test_early_messages_change_nothing),
        cmocka_unit_test(test_deepsqueeze_memory_holds_the_dropped_part),
        cmocka_unit_test(test_deepsqueeze_with_identity_is_dpsgd),
        cmocka_unit_test(test_quiet_neighbour_is_left_out),
        cmocka_unit_test(test_beer_trackers_keep_their_sum),
        cmocka_unit_test(test_beer_absorbs_both_parts_or_neither),
        cmocka_unit_test(test_beer_tracks_a_tail),
        cmocka_unit_test(test_sync_round_makes_copies_exact),
        cmocka_unit_test(test_set_gamma_takes_effect),
        cmocka_unit_test(test_consensus_watch),
        cmocka_unit_test(test_algo_names),
        cmocka_unit_test(test_create_codes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
