/* Tests of robust: a clip whose radius is never reached mixes exactly as the plain mix; a far
 * outlier moves the result by at most gamma w tau, clip:auto without its fade clips it to the
 * second largest distance, and with it fades it to nothing from R tau on; the trimmed mean
 * ignores F arbitrary values;
 * the auto radius on a hand example; the clip counts; +shift's running means, and a copy of
 * the state that takes them; rule names and Byzantine faults parsed and refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "rumor/gossip.h"
#include "rumor/robust.h"
#include "rumor/scenario.h"
#include "rumor/sim.h"
#include "rumor/vec.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { D = 48, DEG = 4, SELF = 7 };

static const uint32_t s_nbrs[DEG] = {1, 3, 8, 12};
static const double s_w[DEG] = {0.2, 0.15, 0.2, 0.25};

/* A peer of degree DEG whose copies are random around 0 at spread 1 (own copy included). */
static rumor_gossip_t *s_peer(rumor_algo_t algo, const char *robust, float gamma)
{
    rumor_gossip_cfg_t cfg = {.algo = algo,
                              .d = D,
                              .self = SELF,
                              .degree = DEG,
                              .nbrs = s_nbrs,
                              .w_nbrs = s_w,
                              .gamma = gamma};
    assert_int_equal(rumor_compress_parse("identity", &cfg.compress, NULL), 0);
    assert_int_equal(rumor_robust_parse(robust, &cfg.robust), 0);
    float x0[D] = {0};
    rumor_gossip_t *g = rumor_gossip_new(&cfg, x0);
    assert_non_null(g);
    rumor_rng_t r;
    rumor_rng_seed(&r, 5, 0, 0, RUMOR_RNG_TEST);
    for (uint32_t s = 0; s < DEG; s++) {
        float *c = rumor_gossip_copy_mut(g, s_nbrs[s]);
        for (int k = 0; k < D; k++) c[k] = (float)rumor_rng_normal(&r);
    }
    float *own = rumor_gossip_copy_mut(g, SELF);
    for (int k = 0; k < D; k++) own[k] = (float)rumor_rng_normal(&r);
    return g;
}

static void s_point(float *v, uint64_t seed)
{
    rumor_rng_t r;
    rumor_rng_seed(&r, seed, 0, 0, RUMOR_RNG_TEST);
    for (int k = 0; k < D; k++) v[k] = (float)rumor_rng_normal(&r);
}

/* Copies hold distances of a few units: a radius of 1e6 never clips, and the mix is the plain
 * one bit for bit, for every algorithm. */
static void test_clip_unreached_is_plain_mix(void **state)
{
    (void)state;
    const rumor_algo_t algos[] = {RUMOR_ALGO_DPSGD, RUMOR_ALGO_CHOCO, RUMOR_ALGO_DCD,
                                  RUMOR_ALGO_DEEPSQUEEZE};
    for (size_t a = 0; a < sizeof algos / sizeof *algos; a++) {
        rumor_gossip_t *plain = s_peer(algos[a], "none", 0.4f);
        rumor_gossip_t *clip = s_peer(algos[a], "clip:1e6", 0.4f);
        float v[D], x1[D], x2[D];
        s_point(v, 9);
        rumor_gossip_mix(plain, v, x1);
        rumor_gossip_mix(clip, v, x2);
        assert_memory_equal(x1, x2, sizeof x1);
        const rumor_robust_stats_t st = rumor_gossip_robust_stats(clip);
        for (int s = 0; s < DEG; s++) {
            assert_int_equal(st.mixed[s], 1);
            assert_int_equal(st.clipped[s], 0);
        }
        assert_null(rumor_gossip_robust_stats(plain).mixed);
        rumor_gossip_destroy(&plain);
        rumor_gossip_destroy(&clip);
    }
}

/* A neighbour whose copy sits 1e6 away moves the mix by at most gamma w tau from the mix in
 * which its term is zero (its copy at the own copy). */
static void test_outlier_moves_at_most_w_tau(void **state)
{
    (void)state;
    const float gamma = 0.5f, tau = 0.3f;
    rumor_gossip_t *g = s_peer(RUMOR_ALGO_CHOCO, "clip:0.3", gamma);
    float v[D], x_far[D], x_zero[D];
    s_point(v, 11);
    float *c = rumor_gossip_copy_mut(g, s_nbrs[2]);
    const float *own = rumor_gossip_copy(g, SELF);
    for (int i = 0; i < D; i++) c[i] = own[i];
    rumor_gossip_mix(g, v, x_zero);
    for (int i = 0; i < D; i++) c[i] = own[i] + (i % 2 ? 1e6f : -3e5f);
    rumor_gossip_mix(g, v, x_far);
    const double moved = rumor_vec_nrm2_diff(x_far, x_zero, D);
    assert_true(moved <= gamma * s_w[2] * tau * (1 + 1e-5));
    /* clipped to the radius, not dropped */
    assert_true(moved >= gamma * s_w[2] * tau * (1 - 1e-3));
    assert_int_equal(rumor_gossip_robust_stats(g).clipped[2], 1);
    rumor_gossip_destroy(&g);
}

/* The distance of the farthest neighbour but slot's from the own copy: clip:auto's tau when
 * slot is the farthest. */
static double s_farthest_other(const rumor_gossip_t *g, int slot)
{
    double far = 0;
    for (int s = 0; s < DEG; s++) {
        const double dist =
            rumor_vec_nrm2_diff(rumor_gossip_copy(g, s_nbrs[s]), rumor_gossip_copy(g, SELF), D);
        if (s != slot && dist > far) far = dist;
    }
    return far;
}

/* Puts neighbour slot's copy at distance dist from the own copy, in direction dir. */
static void s_put(rumor_gossip_t *g, int slot, double dist, const float *dir)
{
    float *c = rumor_gossip_copy_mut(g, s_nbrs[slot]);
    const float *own = rumor_gossip_copy(g, SELF);
    const double scale = dist / rumor_vec_nrm2(dir, D);
    for (int i = 0; i < D; i++) c[i] = own[i] + (float)scale * dir[i];
}

/* Puts the neighbours of a and of b alike at the distances dist from their own copies: slot 3
 * straight down every coordinate, slot s along +1 with -1 at every `period`-th coordinate from
 * the (period - s)-th. */
static void s_put_both(rumor_gossip_t *a, rumor_gossip_t *b, const double *dist, int period)
{
    float dir[D];
    for (int s = 0; s < DEG; s++) {
        for (int i = 0; i < D; i++) dir[i] = s == 3 ? -1.0f : (i + s) % period ? 1.0f : -1.0f;
        s_put(a, s, dist[s], dir);
        s_put(b, s, dist[s], dir);
    }
}

/* clip:auto without the fade (R inf): the far neighbour mixes as if its copy sat at the
 * distance of the farthest of the others (the second largest distance), in its own direction. */
static void test_auto_clips_to_second_distance(void **state)
{
    (void)state;
    const float gamma = 0.5f;
    rumor_gossip_t *g = s_peer(RUMOR_ALGO_CHOCO, "clip:auto:1:inf", gamma);
    float v[D], x_far[D], x_at[D], dir[D];
    s_point(v, 13);
    const double tau = s_farthest_other(g, 2);
    for (int i = 0; i < D; i++) dir[i] = i % 2 ? 1.0f : -0.3f;
    s_put(g, 2, tau * 0.999999, dir);
    rumor_gossip_mix(g, v, x_at); /* (the farthest other is clipped to 0.999999 tau) */
    const rumor_robust_stats_t st = rumor_gossip_robust_stats(g);
    uint64_t before[DEG];
    memcpy(before, st.clipped, sizeof before);
    assert_int_equal(before[2], 0);
    s_put(g, 2, 1e6, dir);
    rumor_gossip_mix(g, v, x_far);
    for (int s = 0; s < DEG; s++) assert_int_equal(st.clipped[s], before[s] + (s == 2));
    assert_true(rumor_vec_nrm2_diff(x_far, x_at, D) < 1e-5);
    rumor_gossip_destroy(&g);
}

/* clip:auto fades a term beyond tau: with R = 1.5, a neighbour at 1.25 tau pulls by half of
 * gamma w tau, and one at 1.5 tau or beyond not at all, wherever it sits (the others, and so
 * tau, unchanged). */
static void test_auto_fades_far_terms(void **state)
{
    (void)state;
    const float gamma = 0.5f;
    rumor_gossip_t *g = s_peer(RUMOR_ALGO_CHOCO, "clip:auto", gamma);
    float v[D], x_gone[D], x_far[D], x_half[D], dir[D], far[D];
    s_point(v, 17);
    const double tau = s_farthest_other(g, 1);
    for (int i = 0; i < D; i++) dir[i] = i % 3 ? 0.5f : -1.0f;
    s_put(g, 1, 1.5001 * tau, dir);
    rumor_gossip_mix(g, v, x_gone);
    for (int i = 0; i < D; i++) far[i] = i % 2 ? -3e5f : -1e6f;
    s_put(g, 1, rumor_vec_nrm2(far, D), far);
    rumor_gossip_mix(g, v, x_far);
    assert_memory_equal(x_gone, x_far, sizeof x_far);
    s_put(g, 1, 1.25 * tau, dir);
    rumor_gossip_mix(g, v, x_half);
    const double moved = rumor_vec_nrm2_diff(x_half, x_gone, D);
    assert_float_equal(moved, gamma * s_w[1] * tau * 0.5, 1e-4 * moved);
    const rumor_robust_stats_t st = rumor_gossip_robust_stats(g);
    assert_int_equal(st.clipped[1], 3); /* counted as clipped, the fade aside */
    assert_float_equal(st.cut[1], 1.0 + 1.0 + (1.0 - 0.5 / 1.25), 1e-4);
    rumor_gossip_destroy(&g);
}

/* clip:auto with a margin M leaves a term within M tau alone (tau the second largest distance):
 * with M = 1.3 a neighbour at 1.25 tau mixes as in the plain mix, bit for bit, unclipped; beyond
 * M tau the term is clipped to M tau and fades, half of it at 1.25 M tau, none from 1.5 M tau. */
static void test_auto_margin_leaves_near_terms(void **state)
{
    (void)state;
    const float gamma = 0.5f;
    const double m = 1.3;
    rumor_gossip_t *g = s_peer(RUMOR_ALGO_CHOCO, "clip:auto:1:1.5:1.3", gamma);
    rumor_gossip_t *plain = s_peer(RUMOR_ALGO_CHOCO, "none", gamma);
    float v[D], x[D], x_plain[D], x_gone[D], x_half[D], dir[D];
    s_point(v, 19);
    const double tau = s_farthest_other(g, 3);
    for (int i = 0; i < D; i++) dir[i] = i % 4 ? -0.25f : 1.0f;
    s_put(g, 3, 1.25 * tau, dir);
    s_put(plain, 3, 1.25 * tau, dir);
    rumor_gossip_mix(g, v, x);
    rumor_gossip_mix(plain, v, x_plain);
    assert_memory_equal(x, x_plain, sizeof x);
    const rumor_robust_stats_t st = rumor_gossip_robust_stats(g);
    assert_int_equal(st.clipped[3], 0);
    s_put(g, 3, 1.5001 * m * tau, dir);
    rumor_gossip_mix(g, v, x_gone);
    s_put(g, 3, 1.25 * m * tau, dir);
    rumor_gossip_mix(g, v, x_half);
    const double moved = rumor_vec_nrm2_diff(x_half, x_gone, D);
    assert_float_equal(moved, gamma * s_w[3] * m * tau * 0.5, 1e-4 * moved);
    assert_int_equal(st.clipped[3], 2);
    rumor_gossip_destroy(&g);
    rumor_gossip_destroy(&plain);
}

/* deg = 2F + 1 with F + 1 equal honest values: the trimmed mean is that value exactly,
 * whatever the F others are; with F of 5 arbitrary it stays within the honest range. */
static void test_trim_ignores_f_values(void **state)
{
    (void)state;
    enum { N = 5, F = 2, K = 8 };
    float y[N * K], ref[K], out[K], scratch[N];
    for (int k = 0; k < K; k++) ref[k] = 0.5f * (float)k;
    const float junk[F] = {1e30f, -7e20f};
    for (int s = 0; s < N; s++)
        for (int k = 0; k < K; k++)
            y[s * K + k] = s < F ? (k % 2 ? junk[s] : -junk[s]) : ref[k] + 2.0f;
    rumor_robust_trimmed_mean(y, NULL, N, ref, K, F, scratch, out);
    for (int k = 0; k < K; k++) assert_true(out[k] == 2.0f);
    /* honest values spread: the result stays inside them */
    for (int s = F; s < N; s++)
        for (int k = 0; k < K; k++) y[s * K + k] = ref[k] + (float)(s - F) - 0.25f * (float)k;
    rumor_robust_trimmed_mean(y, NULL, N, ref, K, F, scratch, out);
    for (int k = 0; k < K; k++) {
        assert_true(out[k] >= -0.25f * (float)k - 1e-6f);
        assert_true(out[k] <= 2.0f - 0.25f * (float)k + 1e-6f);
    }
    /* a neighbour down: 4 up, so F drops to 1 per side: one junk value and one honest value
     * go, the two others are averaged */
    const uint8_t up[N] = {1, 0, 1, 1, 1};
    rumor_robust_trimmed_mean(y, up, N, ref, K, F, scratch, out);
    for (int k = 0; k < K; k++)
        assert_float_equal(out[k], (k % 2 ? 1.5f : 0.5f) - 0.25f * (float)k, 1e-6);
}

/* Distances 3, 1, 5, 2: tau is 3 with B = 1, 2 with B = 2, and 2 with B = 1 when the
 * neighbour at 5 is down; the weights of those beyond tau scale by tau / dist, and with the
 * fade also by (R - dist / tau) / (R - 1). */
static void test_auto_tau_hand_example(void **state)
{
    (void)state;
    const double dist[4] = {3, 1, 5, 2}, w[4] = {0.25, 0.25, 0.2, 0.1};
    double scratch[4], out[4];
    assert_true(rumor_robust_auto_tau(dist, NULL, 4, 1, scratch) == 3.0);
    assert_true(rumor_robust_auto_tau(dist, NULL, 4, 2, scratch) == 2.0);
    const uint8_t up[4] = {1, 1, 0, 1};
    assert_true(rumor_robust_auto_tau(dist, up, 4, 1, scratch) == 2.0);
    assert_true(rumor_robust_auto_tau(dist, up, 4, 3, scratch) == 0.0);
    assert_int_equal(rumor_robust_clip_weights(w, dist, NULL, 4, 3.0, INFINITY, out), 1);
    assert_true(out[0] == 0.25 && out[1] == 0.25 && out[3] == 0.1);
    assert_float_equal(out[2], 0.2 * 3.0 / 5.0, 1e-15);
    assert_int_equal(rumor_robust_clip_weights(w, dist, up, 4, 2.0, INFINITY, out),
                     1); /* 5 is down */
    /* faded with R = 1.5: 5 is beyond 1.5 x 3 and weighs 0; at tau = 2.5, 3 sits at 1.2 tau
     * and keeps (2.5 / 3) (1.5 - 1.2) / 0.5 of its weight, 5 (2 tau) none */
    assert_int_equal(rumor_robust_clip_weights(w, dist, NULL, 4, 3.0, 1.5, out), 1);
    assert_true(out[0] == 0.25 && out[1] == 0.25 && out[2] == 0.0 && out[3] == 0.1);
    assert_int_equal(rumor_robust_clip_weights(w, dist, NULL, 4, 2.5, 1.5, out), 2);
    assert_float_equal(out[0], 0.25 * (2.5 / 3.0) * 0.6, 1e-15);
    assert_true(out[1] == 0.25 && out[2] == 0.0 && out[3] == 0.1);
}

/* A running-mean fade over the weights 0.1, 0.2, 0.3, 0.4 whose means avg put the second slot
 * halfway, the third beyond the end and the others before the start: the second keeps half its
 * weight, the third none, the others all; a slot that is down is left alone. */
static void s_check_fade(uint32_t (*fade)(const double *, const uint8_t *, uint32_t, double *),
                         const double *avg)
{
    const double w[4] = {0.1, 0.2, 0.3, 0.4};
    double out[4];
    memcpy(out, w, sizeof out);
    assert_int_equal(fade(avg, NULL, 4, out), 2);
    assert_true(out[0] == 0.1 && out[2] == 0.0 && out[3] == 0.4);
    assert_float_equal(out[1], 0.1, 1e-12);
    const uint8_t up[4] = {1, 1, 0, 1};
    memcpy(out, w, sizeof out);
    assert_int_equal(fade(avg, up, 4, out), 1);
    assert_true(out[2] == 0.3);
}

/* The shift of a few hand vectors: all up 1, balanced 0, one coordinate of four -1/2, none 0;
 * the fade of running means 0.1, -0.35, 0.45, 0.3: the second keeps half its weight, the third
 * none, the others all; a slot that is down is left alone. */
static void test_shift_hand_example(void **state)
{
    (void)state;
    const float ref[4] = {1.0f, -2.0f, 0.5f, 0.0f};
    const float up1[4] = {2.0f, -1.0f, 1.5f, 1.0f}, bal[4] = {2.0f, -3.0f, 1.5f, -1.0f};
    const float one[4] = {-1.0f, -2.0f, 0.5f, 0.0f};
    assert_float_equal(rumor_robust_shift(up1, ref, 4), 1.0, 1e-12);
    assert_true(rumor_robust_shift(bal, ref, 4) == 0.0);
    assert_float_equal(rumor_robust_shift(one, ref, 4), -0.5, 1e-12);
    assert_true(rumor_robust_shift(ref, ref, 4) == 0.0);
    const double avg[4] = {0.1, -0.35, 0.45, 0.3};
    s_check_fade(rumor_robust_shift_fade, avg);
}

/* The distances of the terms of the shift tests. */
static const double s_shift_dist[DEG] = {1.0, 2.0, 2.2, 1.5};

/* Puts slot s's term at its s_shift_dist, of shift 0 (signs balanced, in a pattern of its
 * own) or, when coherent, of shift -1 (every coordinate down). */
static void s_put_shift(rumor_gossip_t *g, int s, int coherent)
{
    float dir[D];
    for (int i = 0; i < D; i++) dir[i] = coherent ? -1.0f : (i + s) % 2 ? 1.0f : -1.0f;
    s_put(g, s, s_shift_dist[s], dir);
}

/* clip:auto+shift: three neighbours' terms of shift 0 (signs balanced), at 1, 2 and 2.2, and
 * one, at 1.5, that moves every coordinate down (shift -1, as ALIE's does): that one is left
 * out and, as one of the B = 1 expected Byzantine neighbours, out of the radius's order, so
 * the radius is the farthest of the other three (2.2) and they mix as without a rule (clip:auto
 * alone clips the one at 2.2 to 2); it counts as clipped. Moved to a balanced term of the same
 * length, it stays out while its running mean (0.9^n) is above 0.4, fades back between 0.4
 * and 0.3, and after 12 such rounds (0.9^12 < 0.3) mixes as clip:auto's again. */
static void test_shift_fades_a_coherent_term(void **state)
{
    (void)state;
    const float gamma = 0.5f;
    rumor_gossip_t *sh = s_peer(RUMOR_ALGO_CHOCO, "clip:auto+shift", gamma);
    rumor_gossip_t *plain = s_peer(RUMOR_ALGO_CHOCO, "clip:auto", gamma);
    rumor_gossip_t *none = s_peer(RUMOR_ALGO_CHOCO, "none", gamma);
    float v[D], x_sh[D], x_plain[D], x_none[D];
    s_point(v, 19);
    for (int s = 0; s < DEG; s++) {
        s_put_shift(sh, s, s == 3);
        s_put_shift(plain, s, s == 3);
        s_put_shift(none, s, s == 3);
    }
    rumor_gossip_mix(sh, v, x_sh);
    rumor_gossip_mix(none, v, x_none);
    const float *c = rumor_gossip_copy(sh, s_nbrs[3]), *own = rumor_gossip_copy(sh, SELF);
    for (int i = 0; i < D; i++)
        assert_float_equal(x_sh[i], x_none[i] - gamma * (float)s_w[3] * (c[i] - own[i]), 1e-5);
    const rumor_robust_stats_t st = rumor_gossip_robust_stats(sh);
    assert_int_equal(st.clipped[2], 0);
    assert_int_equal(st.clipped[3], 1);
    assert_true(st.cut[3] == 1.0);
    s_put_shift(sh, 3, 0);
    s_put_shift(plain, 3, 0);
    s_put_shift(none, 3, 0);
    rumor_gossip_mix(plain, v, x_plain);
    rumor_gossip_mix(none, v, x_none);
    for (int n = 1; n <= 12; n++) {
        rumor_gossip_mix(sh, v, x_sh);
        const double mean = pow(0.9, n), left = mean > 0.4 ? 0.0 : (0.4 - mean) / 0.1;
        if (mean < 0.3) {
            assert_memory_equal(x_sh, x_plain, sizeof x_sh);
            continue;
        }
        const float *c3 = rumor_gossip_copy(sh, s_nbrs[3]);
        for (int i = 0; i < D; i++)
            assert_float_equal(
                x_sh[i], x_none[i] - gamma * (float)(s_w[3] * (1.0 - left)) * (c3[i] - own[i]),
                1e-5);
    }
    rumor_gossip_destroy(&sh);
    rumor_gossip_destroy(&plain);
    rumor_gossip_destroy(&none);
}

/* clip:auto:2+shift with the coherent term farthest (2.5) and balanced ones at 1, 2 and 2.2:
 * it is left out and counts as one of the B = 2, so the radius is the second largest distance
 * of the other three (2), not of all four (2.2): the term at 2.2 is clipped to 2 and faded to
 * (1.5 - 1.1) / 0.5 = 0.8 of that, the others mix as they are. */
static void test_shift_leaves_the_radius(void **state)
{
    (void)state;
    const float gamma = 0.5f;
    rumor_gossip_t *sh = s_peer(RUMOR_ALGO_CHOCO, "clip:auto:2+shift", gamma);
    rumor_gossip_t *none = s_peer(RUMOR_ALGO_CHOCO, "none", gamma);
    const double dist[DEG] = {1.0, 2.0, 2.2, 2.5};
    float v[D], x_sh[D], x_none[D];
    s_point(v, 23);
    s_put_both(sh, none, dist, 2);
    rumor_gossip_mix(sh, v, x_sh);
    rumor_gossip_mix(none, v, x_none);
    const float *own = rumor_gossip_copy(sh, SELF), *c2 = rumor_gossip_copy(sh, s_nbrs[2]);
    const float *c3 = rumor_gossip_copy(sh, s_nbrs[3]);
    const double kept2 = (2.0 / 2.2) * ((1.5 - 2.2 / 2.0) / 0.5);
    for (int i = 0; i < D; i++)
        assert_float_equal(x_sh[i],
                           x_none[i] - gamma * (float)s_w[3] * (c3[i] - own[i]) -
                               gamma * (float)(s_w[2] * (1.0 - kept2)) * (c2[i] - own[i]),
                           1e-5);
    const rumor_robust_stats_t st = rumor_gossip_robust_stats(sh);
    assert_true(st.clipped[0] == 0 && st.clipped[1] == 0 && st.clipped[2] == 1 &&
                st.clipped[3] == 1);
    rumor_gossip_destroy(&sh);
    rumor_gossip_destroy(&none);
}

/* The origin cosine of hand vectors from x0: along the peer's way 1, against it -1, square to
 * it 0, and 0 at x0; the fade of running means 0.2, -0.1, -0.2, -0.05: the second keeps half
 * its weight, the third none, the others all; a slot that is down is left alone. */
static void test_origin_hand_example(void **state)
{
    (void)state;
    const float x0[4] = {1.0f, 1.0f, 0.0f, 0.0f}, ref[4] = {2.0f, 1.0f, 0.0f, 0.0f};
    const float along[4] = {4.0f, 1.0f, 0.0f, 0.0f}, against[4] = {0.0f, 1.0f, 0.0f, 0.0f};
    const float square[4] = {1.0f, 3.0f, 1.0f, 0.0f};
    assert_float_equal(rumor_robust_origin(along, ref, x0, 4), 1.0, 1e-12);
    assert_float_equal(rumor_robust_origin(against, ref, x0, 4), -1.0, 1e-12);
    assert_true(rumor_robust_origin(square, ref, x0, 4) == 0.0);
    assert_true(rumor_robust_origin(x0, ref, x0, 4) == 0.0);
    const double avg[4] = {0.2, -0.1, -0.2, -0.05};
    s_check_fade(rumor_robust_origin_fade, avg);
}

/* clip:auto:1:2:2+origin on a peer 0.5 from x0 (= 0) along every coordinate: three neighbours
 * further along its way (1, 2 and 2.2 from it, square to it) and one at the mirror point, -own
 * (origin cosine -1, at twice |own| = 6.93, within R M = 4 times the second distance 2.2): it is
 * left out, so the mix is the plain one less its term, where clip:auto:1:2:2 alone mixes it at
 * (4.4 / 6.93) (2 - 6.93 / 4.4) of its weight. The copy of the state takes the running means: the
 * neighbour moved back along the peer's way stays out of the copy's mix too. */
static void test_origin_fades_a_mirrored_neighbour(void **state)
{
    (void)state;
    const float gamma = 0.5f;
    rumor_gossip_t *g[3] = {s_peer(RUMOR_ALGO_CHOCO, "clip:auto:1:2:2+origin", gamma),
                            s_peer(RUMOR_ALGO_CHOCO, "none", gamma),
                            s_peer(RUMOR_ALGO_CHOCO, "clip:auto:1:2:2", gamma)};
    const double dist[DEG] = {1.0, 2.0, 2.2, 0.0};
    float v[D], x[3][D], dir[D];
    s_point(v, 29);
    for (int k = 0; k < 3; k++) {
        float *own = rumor_gossip_copy_mut(g[k], SELF);
        for (int i = 0; i < D; i++) own[i] = 0.5f;
        for (int s = 0; s < 3; s++) {
            for (int i = 0; i < D; i++) dir[i] = (i + s) % 2 ? 1.0f : -1.0f;
            s_put(g[k], s, dist[s], dir);
        }
        float *c3 = rumor_gossip_copy_mut(g[k], s_nbrs[3]);
        for (int i = 0; i < D; i++) c3[i] = -0.5f;
        rumor_gossip_mix(g[k], v, x[k]);
    }
    const float *own = rumor_gossip_copy(g[0], SELF), *c3 = rumor_gossip_copy(g[0], s_nbrs[3]);
    const double far = 2.0 * 0.5 * sqrt((double)D), tau = 2.0 * 2.2;
    const double kept = (tau / far) * (2.0 - far / tau);
    assert_true(kept > 0.05);
    for (int i = 0; i < D; i++) {
        assert_float_equal(x[0][i], x[1][i] - gamma * (float)s_w[3] * (c3[i] - own[i]), 1e-5);
        assert_float_equal(
            x[2][i], x[1][i] - gamma * (float)(s_w[3] * (1.0 - kept)) * (c3[i] - own[i]), 1e-5);
    }
    assert_int_equal(rumor_gossip_robust_stats(g[0]).clipped[3], 1);
    rumor_gossip_t *b = s_peer(RUMOR_ALGO_CHOCO, "clip:auto:1:2:2+origin", gamma);
    rumor_gossip_copy_copies(b, g[0]);
    const rumor_robust_state_t sa = rumor_robust_state(rumor_gossip_robust(g[0]));
    const rumor_robust_state_t sb = rumor_robust_state(rumor_gossip_robust(b));
    assert_true(sa.shift == NULL && sa.origin[3] == -1.0);
    assert_memory_equal(sa.origin, sb.origin, DEG * sizeof *sa.origin);
    float *m0 = rumor_gossip_copy_mut(g[0], s_nbrs[3]), *m1 = rumor_gossip_copy_mut(b, s_nbrs[3]);
    for (int i = 0; i < D; i++) m0[i] = m1[i] = 0.6f;
    float xb[D];
    rumor_gossip_mix(g[0], v, x[0]);
    rumor_gossip_mix(b, v, xb);
    assert_memory_equal(x[0], xb, sizeof xb);
    for (int k = 0; k < 3; k++) rumor_gossip_destroy(&g[k]);
    rumor_gossip_destroy(&b);
}

/* Puts g's own copy at `at` on every coordinate (x0 is 0) and its neighbours at the distances
 * dist from it (slots 0 to 2 in mixed directions, slot 3 straight back towards x0, and past it
 * beyond at sqrt(D)), mixes, and returns how far the mix is from "none"'s with every neighbour's
 * term but slot 3's (*without: 0 when slot 3 was left out) and from "none"'s (*with: 0 when it
 * was mixed in full). */
static void s_jump_round(rumor_gossip_t *g, rumor_gossip_t *none, const double *dist, float at,
                         double *without, double *with)
{
    const float gamma = 0.5f;
    float v[D], x[D], x_none[D];
    s_point(v, 31);
    for (int k = 0; k < 2; k++) {
        float *own = rumor_gossip_copy_mut(k ? none : g, SELF);
        for (int i = 0; i < D; i++) own[i] = at;
    }
    s_put_both(g, none, dist, 3);
    rumor_gossip_mix(g, v, x);
    rumor_gossip_mix(none, v, x_none);
    const float *own = rumor_gossip_copy(g, SELF), *c3 = rumor_gossip_copy(g, s_nbrs[3]);
    *without = *with = 0.0;
    for (int i = 0; i < D; i++) {
        const double out = x_none[i] - gamma * s_w[3] * (c3[i] - own[i]);
        *without = fmax(*without, fabs(x[i] - out));
        *with = fmax(*with, fabs((double)x[i] - x_none[i]));
    }
}

/* clip:auto:1:1.5:1000+jump (the margin keeps the distances from fading anyone): slot 3 stands
 * at 0.75 of the radius (the second distance, 2) for 220 rounds, then jumps to 4 (1.82 of the
 * new radius 2.2), past x0, so that its origin cosine falls from 1 to -1: it is mixed in full
 * in the first 2 rounds of the jump (its fast mean not yet 1.35 times its slow one), left out
 * from the 10th (its running mean origin cosine by then 0.08 below the best) and stays out for
 * 200 rounds (its slow mean holds still). A copy of the state (a restart) keeps it out as the
 * original does. The same jump after 50 rounds (the means armed at 200, by when the slow one
 * has taken it in), a drift of 0.1% a round from 0.75 to 2 of the radius, a jump to 3 (short
 * of x0: its origin cosine stays 1) and a jump within the radius mix it in full throughout. */
static void test_jump_fades_a_neighbour_that_jumps(void **state)
{
    (void)state;
    const char *rule = "clip:auto:1:1.5:1000+jump";
    double dist[DEG] = {1.0, 2.0, 2.2, 1.5}, without, with;
    rumor_gossip_t *g = s_peer(RUMOR_ALGO_CHOCO, rule, 0.5f);
    rumor_gossip_t *none = s_peer(RUMOR_ALGO_CHOCO, "none", 0.5f);
    for (int t = 0; t < 220; t++) {
        s_jump_round(g, none, dist, 0.5f, &without, &with);
        assert_true(with < 1e-6);
    }
    dist[3] = 4.0;
    for (int t = 0; t < 210; t++) {
        s_jump_round(g, none, dist, 0.5f, &without, &with);
        if (t < 2) assert_true(with < 1e-6);
        if (t >= 9) assert_true(without < 1e-5);
    }
    rumor_gossip_t *b = s_peer(RUMOR_ALGO_CHOCO, rule, 0.5f);
    rumor_gossip_copy_copies(b, g);
    const rumor_robust_state_t sa = rumor_robust_state(rumor_gossip_robust(g));
    assert_true(sa.seen[3] == 430 && sa.fast[3] > 1.35 * sa.slow[3] && sa.origin[3] < -0.9);
    s_jump_round(b, none, dist, 0.5f, &without, &with);
    assert_true(without < 1e-5);
    rumor_gossip_destroy(&b);
    rumor_gossip_destroy(&g);
    /* not armed */
    dist[3] = 1.5;
    g = s_peer(RUMOR_ALGO_CHOCO, rule, 0.5f);
    for (int t = 0; t < 400; t++) {
        if (t == 50) dist[3] = 4.0;
        s_jump_round(g, none, dist, 0.5f, &without, &with);
        assert_true(with < 1e-6);
    }
    rumor_gossip_destroy(&g);
    /* a slow drift */
    dist[3] = 1.5;
    g = s_peer(RUMOR_ALGO_CHOCO, rule, 0.5f);
    for (int t = 0; t < 1300; t++) {
        if (t >= 100) dist[3] = fmin(4.4, dist[3] * 1.001);
        s_jump_round(g, none, dist, 0.5f, &without, &with);
        assert_true(with < 1e-6);
    }
    rumor_gossip_destroy(&g);
    /* a jump that keeps the origin cosine (to 3, short of x0), and one within the radius (the
     * others at 4 and 4.4, slot 3 from 1 to 3.6, past x0) */
    for (int k = 0; k < 2; k++) {
        double far[DEG] = {1.0, k ? 4.0 : 2.0, k ? 4.4 : 2.2, k ? 1.0 : 1.5};
        g = s_peer(RUMOR_ALGO_CHOCO, rule, 0.5f);
        for (int t = 0; t < 500; t++) {
            if (t == 220) far[3] = k ? 3.6 : 3.0;
            s_jump_round(g, none, far, 0.5f, &without, &with);
            assert_true(with < 1e-6);
        }
        rumor_gossip_destroy(&g);
    }
    rumor_gossip_destroy(&none);
}

/* +jump holds: the own copy at 0.25 a coordinate, so that slot 3 stands past x0 (its origin
 * cosine -1) throughout. It stands at 0.9 of the radius (1.8 against 2) for 220 rounds, jumps
 * to 4 (1.82 of the radius 2.2) and is left out; moved back to 2.4 (1.09 of the radius, 1.21
 * times its slow mean: short of the 1.3 that starts a jump, beyond the 1.1 that ends one) it
 * stays out, in a copy of the state too; at 1.9 (within the radius) it is mixed in full
 * again. */
static void test_jump_holds_until_it_comes_back(void **state)
{
    (void)state;
    double dist[DEG] = {1.0, 2.0, 2.2, 1.8}, without, with;
    rumor_gossip_t *g = s_peer(RUMOR_ALGO_CHOCO, "clip:auto:1:1.5:1000+jump", 0.5f);
    rumor_gossip_t *none = s_peer(RUMOR_ALGO_CHOCO, "none", 0.5f);
    const struct {
        double at;
        int rounds, out;
    } steps[] = {{1.8, 220, 0}, {4.0, 30, 1}, {2.4, 100, 1}, {1.9, 30, 0}};
    for (size_t k = 0; k < sizeof steps / sizeof *steps; k++) {
        dist[3] = steps[k].at;
        for (int t = 0; t < steps[k].rounds; t++) {
            s_jump_round(g, none, dist, 0.25f, &without, &with);
            if (t < 10) continue; /* the fast mean on its way */
            assert_true(steps[k].out ? without < 1e-5 : with < 1e-6);
        }
        if (k != 2) continue;
        /* a copy of the state (a restart) holds it out too */
        rumor_gossip_t *b = s_peer(RUMOR_ALGO_CHOCO, "clip:auto:1:1.5:1000+jump", 0.5f);
        rumor_gossip_copy_copies(b, g);
        s_jump_round(b, none, dist, 0.25f, &without, &with);
        assert_true(without < 1e-5);
        rumor_gossip_destroy(&b);
    }
    rumor_gossip_destroy(&g);
    rumor_gossip_destroy(&none);
}

/* A copy of a peer's state (what a simulated crash restarts from) takes +shift's running
 * means, not the clip counts: the coherent neighbour of the test above, moved to a balanced
 * term, stays out of the copy's mix as it does of the original's (a mean started afresh would
 * take it in). */
static void test_copy_takes_the_running_means(void **state)
{
    (void)state;
    rumor_gossip_t *a = s_peer(RUMOR_ALGO_CHOCO, "clip:auto+shift", 0.5f);
    rumor_gossip_t *b = s_peer(RUMOR_ALGO_CHOCO, "clip:auto+shift", 0.5f);
    float v[D], xa[D], xb[D];
    s_point(v, 19);
    for (int s = 0; s < DEG; s++) s_put_shift(a, s, s == 3);
    rumor_gossip_mix(a, v, xa);
    rumor_gossip_copy_copies(b, a);
    const rumor_robust_state_t sa = rumor_robust_state(rumor_gossip_robust(a));
    const rumor_robust_state_t sb = rumor_robust_state(rumor_gossip_robust(b));
    assert_memory_equal(sa.shift, sb.shift, DEG * sizeof *sa.shift);
    assert_true(sa.shift[3] < -0.99 && sa.mixed[3] == 1 && sb.mixed[3] == 0);
    s_put_shift(a, 3, 0);
    s_put_shift(b, 3, 0);
    rumor_gossip_mix(a, v, xa);
    rumor_gossip_mix(b, v, xb);
    assert_memory_equal(xa, xb, sizeof xa);
    rumor_gossip_destroy(&a);
    rumor_gossip_destroy(&b);
}

/* One ALIE peer (z = 1, from round 0) on a torus of 16 with synthetic data: clip:auto never
 * sees it (it clips under a fifth of its terms), clip:auto+shift fades it in nearly every
 * round, and the run is the same on 1 and 3 threads. */
static void s_alie_torus(const char *robust, uint32_t threads, rumor_sim_result_t *res)
{
    char json[1024];
    snprintf(
        json, sizeof json,
        "{\"name\": \"t\", \"topology\": {\"generate\": \"torus\", \"n\": 16},"
        " \"data\": {\"name\": \"synthetic\", \"n\": 4000, \"test_n\": 1000, \"dim\": 20,"
        " \"classes\": 4, \"sep\": 4.0},"
        " \"algorithm\": {\"name\": \"malcom\", \"lr\": 0.1, \"gamma\": 0.5, \"lambda\": 0.001,"
        " \"batch\": 16, \"rounds\": 300, \"robust\": \"%s\"},"
        " \"compressor\": \"dither:8:biased\", \"seed\": 7, \"eval_every\": 100,"
        " \"faults\": [{\"byzantine\": \"alie\", \"nodes\": [5]}]}",
        robust);
    rumor_scenario_t sc;
    rumor_errmsg_t em = {""};
    if (rumor_scenario_parse(json, "test", ".", &sc, &em)) fail_msg("%s", em.msg);
    const rumor_sim_opts_t opts = {.threads = threads};
    if (rumor_sim_run(&sc, &opts, res, &em)) fail_msg("%s", em.msg);
}

static void test_shift_sees_alie_in_a_run(void **state)
{
    (void)state;
    rumor_sim_result_t plain, shift, shift3;
    s_alie_torus("clip:auto", 1, &plain);
    s_alie_torus("clip:auto+shift", 1, &shift);
    s_alie_torus("clip:auto+shift", 3, &shift3);
    assert_true(plain.clipped_frac_byz < 0.2);
    assert_true(shift.clipped_frac_byz > 0.95);
    assert_true(shift.clipped_frac_honest < 0.3);
    assert_true(shift.acc_min_honest > 0.95);
    assert_true(shift.acc_min_honest == shift3.acc_min_honest &&
                shift.acc_mean_honest == shift3.acc_mean_honest &&
                shift.clipped_frac == shift3.clipped_frac && shift.loss == shift3.loss);
}

static void test_parse(void **state)
{
    (void)state;
    rumor_robust_cfg_t c;
    char buf[64];
    assert_int_equal(rumor_robust_parse("none", &c), 0);
    assert_int_equal(c.kind, RUMOR_ROBUST_NONE);
    assert_int_equal(rumor_robust_parse("clip:0.25", &c), 0);
    assert_int_equal(c.kind, RUMOR_ROBUST_CLIP);
    assert_true(c.tau == 0.25);
    assert_int_equal(rumor_robust_parse("clip:auto", &c), 0);
    assert_int_equal(c.kind, RUMOR_ROBUST_CLIP_AUTO);
    assert_int_equal(c.f, 1);
    rumor_robust_describe(&c, buf, sizeof buf);
    assert_string_equal(buf, "clip:auto:1");
    assert_true(c.reject == RUMOR_ROBUST_REJECT);
    assert_int_equal(rumor_robust_parse("clip:auto:2", &c), 0);
    assert_int_equal(rumor_robust_min_degree(&c), 3);
    assert_int_equal(rumor_robust_parse("clip:auto:2:1.8", &c), 0);
    assert_true(c.f == 2 && c.reject == 1.8);
    rumor_robust_describe(&c, buf, sizeof buf);
    assert_string_equal(buf, "clip:auto:2:1.8");
    assert_int_equal(rumor_robust_parse("clip:auto:2:1.8:1.25", &c), 0);
    assert_true(c.f == 2 && c.reject == 1.8 && c.margin == 1.25);
    rumor_robust_describe(&c, buf, sizeof buf);
    assert_string_equal(buf, "clip:auto:2:1.8:1.25");
    assert_int_equal(rumor_robust_parse("clip:auto:1:inf", &c), 0);
    rumor_robust_describe(&c, buf, sizeof buf);
    assert_string_equal(buf, "clip:auto:1:inf");
    assert_int_equal(rumor_robust_parse("clip:auto:3:1.5", &c), 0);
    rumor_robust_describe(&c, buf, sizeof buf);
    assert_string_equal(buf, "clip:auto:3");
    assert_int_equal(rumor_robust_parse("trim:2", &c), 0);
    assert_int_equal(rumor_robust_min_degree(&c), 5);
    assert_false(c.shift);
    assert_int_equal(rumor_robust_parse("clip:auto+shift", &c), 0);
    assert_true(c.kind == RUMOR_ROBUST_CLIP_AUTO && c.f == 1 && c.shift);
    rumor_robust_describe(&c, buf, sizeof buf);
    assert_string_equal(buf, "clip:auto:1+shift");
    assert_int_equal(rumor_robust_parse("clip:auto:2:inf+shift", &c), 0);
    assert_true(c.f == 2 && isinf(c.reject) && c.shift);
    rumor_robust_describe(&c, buf, sizeof buf);
    assert_string_equal(buf, "clip:auto:2:inf+shift");
    assert_false(c.origin);
    assert_int_equal(rumor_robust_parse("clip:auto:1:1.5:2+origin", &c), 0);
    assert_true(c.margin == 2.0 && c.origin && !c.shift);
    rumor_robust_describe(&c, buf, sizeof buf);
    assert_string_equal(buf, "clip:auto:1:1.5:2+origin");
    assert_int_equal(rumor_robust_parse("clip:auto+origin+shift", &c), 0);
    assert_true(c.origin && c.shift);
    rumor_robust_describe(&c, buf, sizeof buf);
    assert_string_equal(buf, "clip:auto:1+shift+origin");
    assert_int_equal(rumor_robust_parse("clip:auto+shift+origin", &c), 0);
    assert_true(c.origin && c.shift && !c.jump);
    assert_int_equal(rumor_robust_parse("clip:auto:1:1.5:2+jump+shift+origin", &c), 0);
    assert_true(c.origin && c.shift && c.jump && c.margin == 2.0);
    rumor_robust_describe(&c, buf, sizeof buf);
    assert_string_equal(buf, "clip:auto:1:1.5:2+shift+origin+jump");
    assert_int_equal(rumor_robust_parse("clip:auto+jump", &c), 0);
    assert_true(c.jump && !c.origin && !c.shift);
    rumor_robust_describe(&c, buf, sizeof buf);
    assert_string_equal(buf, "clip:auto:1+jump");
    const char *bad[] = {"clip",
                         "clip:",
                         "clip:0",
                         "clip:-1",
                         "clip:inf",
                         "clip:1x",
                         "clip:auto:0",
                         "clip:autox",
                         "clip:auto:1:1",
                         "clip:auto:1:1.5:0.9",
                         "clip:auto:1:1.5:",
                         "clip:auto:1:1.5:inf",
                         "clip:auto:1:1.5:1.2x",
                         "clip:auto:1:0.5",
                         "clip:auto:1:",
                         "clip:auto::2",
                         "clip:auto:1:2x",
                         "clip:auto:1:nan",
                         "clip:auto:1:2:1.2:1",
                         "trim:0",
                         "trim:",
                         "trim:1.5",
                         "median",
                         "+shift",
                         "clip:0.5+shift",
                         "trim:1+shift",
                         "none+shift",
                         "clip:auto+sh",
                         "clip:auto+shift+shift",
                         "+origin",
                         "clip:0.5+origin",
                         "none+origin",
                         "clip:auto+origin+origin",
                         "clip:auto+jump+jump",
                         "clip:auto+jum",
                         "clip:auto+jump+",
                         "trim:1+jump",
                         "clip:auto+origin+shift+origin"};
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++)
        assert_int_equal(rumor_robust_parse(bad[k], &c), RUMOR_EINVAL);
}

/* algorithm.robust: parsed, hashed only when not none, refused by name when wrong. */
static void test_scenario_key(void **state)
{
    (void)state;
    rumor_scenario_t a, b;
    rumor_errmsg_t em = {""};
    assert_int_equal(rumor_scenario_parse("{}", "a.json", "", &a, &em), 0);
    assert_int_equal(
        rumor_scenario_parse("{\"algorithm\": {\"robust\": \"none\"}}", "b.json", "", &b, &em), 0);
    assert_memory_equal(a.hash, b.hash, sizeof a.hash);
    assert_int_equal(
        rumor_scenario_parse("{\"algorithm\": {\"robust\": \"trim:1\"}}", "b.json", "", &b, &em),
        0);
    assert_int_equal(b.robust.kind, RUMOR_ROBUST_TRIM);
    assert_memory_not_equal(a.hash, b.hash, sizeof a.hash);
    /* clip:auto's default R is not in the hash; another R is */
    rumor_scenario_t c;
    assert_int_equal(
        rumor_scenario_parse("{\"algorithm\": {\"robust\": \"clip:auto\"}}", "c.json", "", &b, &em),
        0);
    assert_int_equal(rumor_scenario_parse("{\"algorithm\": {\"robust\": \"clip:auto:1:1.5\"}}",
                                          "c.json", "", &c, &em),
                     0);
    assert_memory_equal(b.hash, c.hash, sizeof b.hash);
    assert_int_equal(rumor_scenario_parse("{\"algorithm\": {\"robust\": \"clip:auto:1:inf\"}}",
                                          "c.json", "", &c, &em),
                     0);
    assert_memory_not_equal(b.hash, c.hash, sizeof b.hash);
    assert_int_equal(
        rumor_scenario_parse("{\"algorithm\": {\"robust\": \"clip:x\"}}", "c.json", "", &b, &em),
        RUMOR_EINVAL);
    assert_non_null(strstr(em.msg, "c.json: algorithm.robust: expected"));
}

/* A scenario whose one fault is `fault` is refused with a message holding `msg`. */
static void s_fault_refused(const char *fault, const char *msg)
{
    char json[256];
    snprintf(json, sizeof json, "{\"faults\": [%s]}", fault);
    rumor_scenario_t sc;
    rumor_errmsg_t em = {""};
    assert_int_equal(rumor_scenario_parse(json, "f.json", "", &sc, &em), RUMOR_EINVAL);
    assert_non_null(strstr(em.msg, msg));
}

/* A BYZANTINE fault: its parameter by its own key, wrong keys and kinds named; and the
 * KIND[:PARAM] form of rumor peer --byzantine. */
static void test_byzantine_fault_parse(void **state)
{
    (void)state;
    rumor_scenario_t sc;
    rumor_errmsg_t em = {""};
    assert_int_equal(rumor_scenario_parse("{\"faults\": [{\"byzantine\": \"alie\", \"nodes\": "
                                          "[2, 4], \"from\": 9, \"z\": 1.5}]}",
                                          "f.json", "", &sc, &em),
                     0);
    assert_int_equal(sc.faults[0].kind, RUMOR_FAULT_BYZANTINE);
    assert_int_equal(sc.faults[0].byz.kind, RUMOR_BYZ_ALIE);
    assert_true(sc.faults[0].byz.param == 1.5);
    assert_int_equal(sc.faults[0].byz.from, 9);
    assert_null(rumor_scenario_byzantine(&sc, 3));
    assert_ptr_equal(rumor_scenario_byzantine(&sc, 4), &sc.faults[0].byz);
    assert_int_equal(rumor_scenario_check_faults(&sc, 4, &em), RUMOR_EINVAL);
    assert_non_null(strstr(em.msg, "faults[0].nodes[1]: 4 is not a node"));
    s_fault_refused("{\"byzantine\": \"alie\", \"nodes\": [2], \"s\": 2}",
                    "f.json: faults[0].s: not a parameter of alie (it takes z)");
    s_fault_refused("{\"byzantine\": \"flip\", \"nodes\": [2]}",
                    "faults[0].byzantine: expected none, signflip");
    s_fault_refused("{\"byzantine\": \"noise\", \"nodes\": []}",
                    "faults[0].nodes: expected an array");
    rumor_byzantine_t b;
    assert_int_equal(rumor_byzantine_parse("signflip", &b), 0);
    assert_true(b.kind == RUMOR_BYZ_SIGNFLIP && b.param == 1.0);
    assert_int_equal(rumor_byzantine_parse("scale:-3.5", &b), 0);
    assert_true(b.kind == RUMOR_BYZ_SCALE && b.param == -3.5);
    assert_int_equal(rumor_byzantine_parse("scale:", &b), RUMOR_EINVAL);
    assert_int_equal(rumor_byzantine_parse("none:1", &b), RUMOR_EINVAL);
    assert_int_equal(rumor_byzantine_parse("signflipx", &b), RUMOR_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clip_unreached_is_plain_mix),
        cmocka_unit_test(test_outlier_moves_at_most_w_tau),
        cmocka_unit_test(test_auto_clips_to_second_distance),
        cmocka_unit_test(test_auto_fades_far_terms),
        cmocka_unit_test(test_auto_margin_leaves_near_terms),
        cmocka_unit_test(test_trim_ignores_f_values),
        cmocka_unit_test(test_auto_tau_hand_example),
        cmocka_unit_test(test_shift_hand_example),
        cmocka_unit_test(test_shift_fades_a_coherent_term),
        cmocka_unit_test(test_shift_leaves_the_radius),
        cmocka_unit_test(test_origin_hand_example),
        cmocka_unit_test(test_jump_fades_a_neighbour_that_jumps),
        cmocka_unit_test(test_jump_holds_until_it_comes_back),
        cmocka_unit_test(test_origin_fades_a_mirrored_neighbour),
        cmocka_unit_test(test_copy_takes_the_running_means),
        cmocka_unit_test(test_shift_sees_alie_in_a_run),
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_scenario_key),
        cmocka_unit_test(test_byzantine_fault_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
