/* Tests of cmsg: value semantics of each shape and the structural check decoders rely on. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "rumor/cmsg.h"
#include "rumor/err.h"

static void test_shapes(void **state)
{
    (void)state;
    rumor_cmsg_t m;
    assert_int_equal(rumor_cmsg_init(&m, 5), 0);
    float y[5] = {1, 1, 1, 1, 1};

    m.kind = RUMOR_CMSG_INT;
    m.d = 5;
    m.scale = 0.5f;
    const int32_t q[5] = {0, 2, 0, -4, 0};
    for (int k = 0; k < 5; k++) m.q[k] = q[k];
    m.nnz = 2;
    assert_int_equal(rumor_cmsg_check(&m), 0);
    rumor_cmsg_axpy(&m, 2.0f, y);
    const float want_int[5] = {1, 3, 1, -3, 1};
    assert_memory_equal(y, want_int, sizeof y);

    m.kind = RUMOR_CMSG_SPARSE;
    m.nnz = 2;
    m.idx[0] = 1;
    m.idx[1] = 4;
    m.val[0] = 3.0f;
    m.val[1] = -1.0f;
    assert_int_equal(rumor_cmsg_check(&m), 0);
    rumor_cmsg_to_dense(&m, y);
    const float want_sp[5] = {0, 3, 0, 0, -1};
    assert_memory_equal(y, want_sp, sizeof y);

    m.kind = RUMOR_CMSG_DENSE;
    m.nnz = 5;
    for (int k = 0; k < 5; k++) m.val[k] = (float)k;
    assert_int_equal(rumor_cmsg_check(&m), 0);
    rumor_cmsg_to_dense(&m, y);
    const float want_dn[5] = {0, 1, 2, 3, 4};
    assert_memory_equal(y, want_dn, sizeof y);
    rumor_cmsg_free(&m);
}

static void test_check_catches_bad_structure(void **state)
{
    (void)state;
    rumor_cmsg_t m;
    assert_int_equal(rumor_cmsg_init(&m, 8), 0);
    m.kind = RUMOR_CMSG_SPARSE;
    m.d = 8;
    m.nnz = 2;
    m.idx[0] = 3;
    m.idx[1] = 3; /* not strictly ascending */
    assert_int_equal(rumor_cmsg_check(&m), RUMOR_EFORMAT);
    m.idx[1] = 8; /* out of range */
    assert_int_equal(rumor_cmsg_check(&m), RUMOR_EFORMAT);
    m.nnz = 9; /* more entries than d */
    assert_int_equal(rumor_cmsg_check(&m), RUMOR_EFORMAT);
    m.kind = RUMOR_CMSG_INT;
    m.nnz = 1; /* q is all zero */
    assert_int_equal(rumor_cmsg_check(&m), RUMOR_EFORMAT);
    m.kind = RUMOR_CMSG_DENSE;
    m.nnz = 8;
    m.d = 9; /* beyond capacity */
    assert_int_equal(rumor_cmsg_check(&m), RUMOR_EFORMAT);
    rumor_cmsg_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shapes),
        cmocka_unit_test(test_check_catches_bad_structure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
