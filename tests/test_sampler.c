/* rumor — tests of the minibatch sampler: epochs without replacement, determinism, and its
 * position. */
#include "rumor/sampler.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define SHARD_N 37

static void s_shard(uint32_t shard[SHARD_N])
{
    for (uint32_t i = 0; i < SHARD_N; i++) shard[i] = 1000 + 3 * i;
}

/* Draws total indices in batches of b. */
static void s_draw(rumor_sampler_t *s, uint32_t b, uint32_t total, uint32_t *out)
{
    for (uint32_t k = 0; k < total; k += b)
        rumor_sampler_next(s, total - k < b ? total - k : b, out + k);
}

/* out[0..SHARD_N) is a permutation of the shard. */
static void s_check_epoch(const uint32_t *out, const uint32_t shard[SHARD_N])
{
    int seen[SHARD_N] = {0};
    for (uint32_t k = 0; k < SHARD_N; k++) {
        assert_true(out[k] >= 1000 && (out[k] - 1000) % 3 == 0);
        const uint32_t j = (out[k] - 1000) / 3;
        assert_true(j < SHARD_N);
        assert_int_equal(seen[j]++, 0);
    }
    (void)shard;
}

static void test_sampler_epochs(void **state)
{
    (void)state;
    uint32_t shard[SHARD_N];
    s_shard(shard);
    rumor_sampler_t *s = rumor_sampler_new(shard, SHARD_N, 77, 3);
    assert_non_null(s);
    uint32_t out[4 * SHARD_N];
    s_draw(s, 5, 4 * SHARD_N, out); /* batches straddle epoch boundaries */
    for (int e = 0; e < 4; e++) s_check_epoch(out + e * SHARD_N, shard);
    /* Each epoch has its own order, and none is the shard's own order. */
    assert_memory_not_equal(out, out + SHARD_N, SHARD_N * sizeof(uint32_t));
    assert_memory_not_equal(out, shard, SHARD_N * sizeof(uint32_t));
    uint64_t epoch;
    uint32_t off;
    rumor_sampler_get_pos(s, &epoch, &off);
    assert_int_equal(epoch, 4);
    assert_int_equal(off, 0);
    rumor_sampler_destroy(&s);
    assert_null(s);

    /* One batch larger than the shard runs on through several epochs. */
    s = rumor_sampler_new(shard, SHARD_N, 77, 3);
    uint32_t big[3 * SHARD_N];
    rumor_sampler_next(s, 3 * SHARD_N, big);
    assert_memory_equal(big, out, sizeof big);
    rumor_sampler_destroy(&s);

    assert_null(rumor_sampler_new(shard, 0, 1, 0));
    rumor_sampler_destroy(&s); /* NULL is fine */
}

static void test_sampler_create_codes(void **state)
{
    (void)state;
    uint32_t shard[SHARD_N];
    for (uint32_t i = 0; i < SHARD_N; i++) shard[i] = i;
    static char sentinel;
    rumor_sampler_t *s = (rumor_sampler_t *)(void *)&sentinel;
    assert_int_equal(rumor_sampler_create(shard, 0, 1, 0, &s), RUMOR_EINVAL);
    assert_null(s);
    s = (rumor_sampler_t *)(void *)&sentinel;
    assert_int_equal(rumor_sampler_create(NULL, SHARD_N, 1, 0, &s), RUMOR_EINVAL);
    assert_null(s);
    assert_int_equal(rumor_sampler_create(shard, SHARD_N, 1, 0, &s), 0);
    assert_non_null(s);
    rumor_sampler_destroy(&s);
}

static void test_sampler_determinism(void **state)
{
    (void)state;
    uint32_t shard[SHARD_N];
    s_shard(shard);
    rumor_sampler_t *a = rumor_sampler_new(shard, SHARD_N, 5, 0);
    rumor_sampler_t *b = rumor_sampler_new(shard, SHARD_N, 5, 0);
    rumor_sampler_t *peer = rumor_sampler_new(shard, SHARD_N, 5, 1);
    rumor_sampler_t *seed = rumor_sampler_new(shard, SHARD_N, 6, 0);
    uint32_t xa[100], xb[100], xp[100], xs[100];
    s_draw(a, 8, 100, xa);
    s_draw(b, 3, 100, xb); /* batch size does not change the stream */
    s_draw(peer, 8, 100, xp);
    s_draw(seed, 8, 100, xs);
    assert_memory_equal(xa, xb, sizeof xa);
    assert_memory_not_equal(xa, xp, sizeof xa);
    assert_memory_not_equal(xa, xs, sizeof xa);
    rumor_sampler_destroy(&a);
    rumor_sampler_destroy(&b);
    rumor_sampler_destroy(&peer);
    rumor_sampler_destroy(&seed);
}

static void test_sampler_pos(void **state)
{
    (void)state;
    uint32_t shard[SHARD_N];
    s_shard(shard);
    rumor_sampler_t *s = rumor_sampler_new(shard, SHARD_N, 21, 4);
    uint32_t head[50], ref[90], got[90];
    s_draw(s, 10, 50, head);
    uint64_t epoch;
    uint32_t off;
    rumor_sampler_get_pos(s, &epoch, &off);
    assert_int_equal(epoch, 1);
    assert_int_equal(off, 50 - SHARD_N);
    s_draw(s, 9, 90, ref);

    /* A fresh sampler restored to the checkpoint continues identically. */
    rumor_sampler_t *t = rumor_sampler_new(shard, SHARD_N, 21, 4);
    rumor_sampler_set_pos(t, epoch, off);
    s_draw(t, 9, 90, got);
    assert_memory_equal(ref, got, sizeof ref);
    /* Going back to the start replays the beginning. */
    rumor_sampler_set_pos(t, 0, 0);
    s_draw(t, 7, 50, got);
    assert_memory_equal(head, got, sizeof head);
    /* An offset past the end of an epoch counts on into the next. */
    rumor_sampler_set_pos(t, 0, off + SHARD_N);
    rumor_sampler_get_pos(t, &epoch, &off);
    assert_int_equal(epoch, 1);
    assert_int_equal(off, 50 - SHARD_N);
    s_draw(t, 90, 90, got);
    assert_memory_equal(ref, got, sizeof ref);
    rumor_sampler_destroy(&s);
    rumor_sampler_destroy(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sampler_epochs),
        cmocka_unit_test(test_sampler_create_codes),
        cmocka_unit_test(test_sampler_determinism),
        cmocka_unit_test(test_sampler_pos),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
