/* rumor — tests of partition: IID shards cover every index once, and Dirichlet shards skew
 * the labels as their alpha says. */
#include "rumor/data.h"
#include "rumor/partition.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* Every index of [0, n) appears exactly once and every shard is nonempty. */
static void s_check_cover(const rumor_partition_t *p, uint32_t n)
{
    assert_int_equal(p->off[0], 0);
    assert_int_equal(p->off[p->peers], n);
    uint8_t *seen = calloc(n, 1);
    assert_non_null(seen);
    for (uint32_t k = 0; k < p->peers; k++) assert_true(p->off[k + 1] > p->off[k]);
    for (uint32_t i = 0; i < n; i++) {
        assert_true(p->idx[i] < n);
        assert_int_equal(seen[p->idx[i]]++, 0);
    }
    free(seen);
}

static void test_partition_iid(void **state)
{
    (void)state;
    rumor_dataset_t *ds = NULL;
    assert_int_equal(rumor_data_synthetic(1003, 2, 5, 1.0, 3, &ds), 0);
    rumor_partition_t *p = NULL, *q = NULL, *r = NULL;
    assert_int_equal(rumor_data_partition_iid(ds, 10, 1, &p), 0);
    assert_int_equal(rumor_data_partition_iid(ds, 10, 1, &q), 0);
    assert_int_equal(rumor_data_partition_iid(ds, 10, 2, &r), 0);
    s_check_cover(p, 1003);
    uint32_t lo = UINT32_MAX, hi = 0;
    for (uint32_t k = 0; k < 10; k++) {
        const uint32_t s = p->off[k + 1] - p->off[k];
        lo = s < lo ? s : lo;
        hi = s > hi ? s : hi;
    }
    assert_true(hi - lo <= 1);
    assert_memory_equal(p->idx, q->idx, 1003 * sizeof(uint32_t));
    assert_memory_not_equal(p->idx, r->idx, 1003 * sizeof(uint32_t));
    rumor_partition_destroy(&p);
    rumor_partition_destroy(&q);
    rumor_partition_destroy(&r);
    assert_null(p);
    /* One sample per peer is the limit. */
    assert_int_equal(rumor_data_partition_iid(ds, 1003, 1, &p), 0);
    s_check_cover(p, 1003);
    rumor_partition_destroy(&p);
    assert_int_equal(rumor_data_partition_iid(ds, 1004, 1, &p), RUMOR_EINVAL);
    assert_int_equal(rumor_data_partition_iid(ds, 0, 1, &p), RUMOR_EINVAL);
    assert_null(p);
    rumor_dataset_destroy(&ds);
}

/* Mean total-variation distance between each peer's label distribution and the global one:
 * 0 for perfectly IID shards, close to 1 - 1/classes when each peer holds one class. */
static double s_label_skew(const rumor_dataset_t *ds, const rumor_partition_t *p)
{
    double global[64] = {0}, tv = 0.0;
    RUMOR_ASSERT(ds->classes <= 64);
    for (uint32_t i = 0; i < ds->n; i++) global[ds->y[i]] += 1.0 / ds->n;
    for (uint32_t k = 0; k < p->peers; k++) {
        double local[64] = {0};
        const uint32_t m = p->off[k + 1] - p->off[k];
        for (uint32_t j = p->off[k]; j < p->off[k + 1]; j++) local[ds->y[p->idx[j]]] += 1.0 / m;
        double d = 0.0;
        for (uint32_t c = 0; c < ds->classes; c++) d += fabs(local[c] - global[c]);
        tv += 0.5 * d;
    }
    return tv / p->peers;
}

static void test_partition_dirichlet(void **state)
{
    (void)state;
    rumor_dataset_t *ds = NULL;
    assert_int_equal(rumor_data_synthetic(5000, 2, 10, 1.0, 5, &ds), 0);
    rumor_partition_t *skewed = NULL, *flat = NULL, *again = NULL, *iid = NULL;
    assert_int_equal(rumor_data_partition_dirichlet(ds, 10, 0.1, 11, &skewed), 0);
    assert_int_equal(rumor_data_partition_dirichlet(ds, 10, 100.0, 11, &flat), 0);
    assert_int_equal(rumor_data_partition_dirichlet(ds, 10, 0.1, 11, &again), 0);
    assert_int_equal(rumor_data_partition_iid(ds, 10, 11, &iid), 0);
    s_check_cover(skewed, 5000);
    s_check_cover(flat, 5000);
    assert_memory_equal(skewed->idx, again->idx, 5000 * sizeof(uint32_t));
    assert_memory_equal(skewed->off, again->off, 11 * sizeof(uint32_t));
    const double tv_skewed = s_label_skew(ds, skewed), tv_flat = s_label_skew(ds, flat),
                 tv_iid = s_label_skew(ds, iid);
    print_message("label skew (mean TV): alpha 0.1 %.3f, alpha 100 %.3f, iid %.3f\n", tv_skewed,
                  tv_flat, tv_iid);
    assert_true(tv_skewed > 0.5);
    assert_true(tv_flat < 0.15);
    assert_true(tv_iid < 0.15);
    rumor_partition_destroy(&skewed);
    rumor_partition_destroy(&flat);
    rumor_partition_destroy(&again);
    rumor_partition_destroy(&iid);

    /* Tiny alpha and barely enough samples: every peer still gets one. */
    rumor_dataset_t *few = NULL;
    assert_int_equal(rumor_data_synthetic(60, 2, 3, 1.0, 5, &few), 0);
    for (uint64_t seed = 0; seed < 20; seed++) {
        assert_int_equal(rumor_data_partition_dirichlet(few, 50, 0.001, seed, &skewed), 0);
        s_check_cover(skewed, 60);
        rumor_partition_destroy(&skewed);
    }
    assert_int_equal(rumor_data_partition_dirichlet(few, 60, 0.5, 1, &skewed), 0);
    s_check_cover(skewed, 60);
    rumor_partition_destroy(&skewed);
    assert_int_equal(rumor_data_partition_dirichlet(few, 61, 0.5, 1, &skewed), RUMOR_EINVAL);
    assert_int_equal(rumor_data_partition_dirichlet(few, 5, 0.0, 1, &skewed), RUMOR_EINVAL);
    assert_int_equal(rumor_data_partition_dirichlet(few, 5, NAN, 1, &skewed), RUMOR_EINVAL);
    assert_null(skewed);
    rumor_dataset_destroy(&few);
    rumor_dataset_destroy(&ds);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_partition_iid),
        cmocka_unit_test(test_partition_dirichlet),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
