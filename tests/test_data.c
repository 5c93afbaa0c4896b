/* rumor — tests of the data module: the Fashion-MNIST reader on the real files, the LIBSVM
 * reader (golden files in tests/data/data_*, and corrupt files written to a temp directory),
 * synthetic data and gather. The IDX reader is in test_data_idx.c, partitions in
 * test_partition.c and the minibatch sampler in test_sampler.c. */
#include "data_support.h"

/* ---------------------------------------------------------------------------------------- */

static void s_check_fashion(const char *split, uint32_t n, uint32_t per_class,
                            const int32_t first[4], uint32_t first_sum, double mean_pixel)
{
    rumor_dataset_t *ds = NULL;
    rumor_errmsg_t em = {{0}};
    const int rc = rumor_data_load_fashion(NULL, split, NULL, &ds, &em);
    if (rc) fail_msg("%s: %s", rumor_strerror(rc), em.msg);
    assert_int_equal(ds->n, n);
    assert_int_equal(ds->dim, 784);
    assert_int_equal(ds->classes, 10);
    uint32_t hist[10] = {0};
    for (uint32_t i = 0; i < n; i++) {
        assert_in_range(ds->y[i], 0, 9);
        hist[ds->y[i]]++;
    }
    for (int c = 0; c < 10; c++) assert_int_equal(hist[c], per_class);
    for (int i = 0; i < 4; i++) assert_int_equal(ds->y[i], first[i]);
    float lo = 1.0f, hi = 0.0f;
    double sum = 0.0, sum0 = 0.0;
    for (size_t k = 0; k < (size_t)n * 784; k++) {
        const float v = ds->x[k];
        if (v < lo) lo = v;
        if (v > hi) hi = v;
        sum += v;
    }
    for (int k = 0; k < 784; k++) sum0 += ds->x[k];
    assert_true(lo == 0.0f);
    assert_true(hi == 1.0f);
    /* Golden figures computed independently from the raw bytes. */
    assert_float_equal(sum0, first_sum / 255.0, 1e-3);
    assert_float_equal(sum / ((double)n * 784), mean_pixel, 1e-5);
    rumor_dataset_destroy(&ds);
    assert_null(ds);
}

static void test_fashion_train(void **state)
{
    (void)state;
    const int32_t first[4] = {9, 0, 0, 3};
    s_check_fashion("train", 60000, 6000, first, 76247, 3431114169.0 / (47040000.0 * 255.0));
}

static void test_fashion_t10k(void **state)
{
    (void)state;
    const int32_t first[4] = {9, 2, 1, 1};
    s_check_fashion("t10k", 10000, 1000, first, 33456, 573469082.0 / (7840000.0 * 255.0));
}

/* A compact load holds the pixel bytes, and gathering or copying its rows gives exactly the
 * floats of the plain load. */
static void test_fashion_compact(void **state)
{
    (void)state;
    rumor_dataset_t *ds = NULL, *px = NULL;
    rumor_errmsg_t em = {{0}};
    assert_int_equal(rumor_data_load_fashion(NULL, "t10k", NULL, &ds, &em), 0);
    assert_int_equal(rumor_data_load_fashion_compact(NULL, "t10k", &px, &em), 0);
    assert_null(px->x);
    assert_non_null(px->px);
    assert_null(ds->px);
    assert_int_equal(px->n, ds->n);
    assert_int_equal(px->dim, ds->dim);
    assert_int_equal(px->classes, ds->classes);
    const size_t dim = ds->dim;
    enum { B = 64 };
    uint32_t idx[B];
    for (uint32_t k = 0; k < B; k++) idx[k] = (k * 7919u + 13u) % ds->n; /* scattered rows */
    float *x = malloc(B * dim * sizeof *x);
    int32_t y[B];
    assert_non_null(x);
    rumor_data_gather(px, idx, B, x, y);
    for (uint32_t k = 0; k < B; k++) {
        assert_memory_equal(x + k * dim, ds->x + idx[k] * dim, dim * sizeof *x);
        assert_int_equal(y[k], ds->y[idx[k]]);
    }
    rumor_dataset_t *all = rumor_data_subset(px, NULL, px->n);
    assert_non_null(all);
    assert_null(all->px);
    assert_memory_equal(all->x, ds->x, (size_t)ds->n * dim * sizeof *x);
    assert_memory_equal(all->y, ds->y, ds->n * sizeof *ds->y);
    free(x);
    rumor_dataset_destroy(&all);
    rumor_dataset_destroy(&px);
    rumor_dataset_destroy(&ds);
}

/* rumor_data_pixels is the division by 255, rounded the same, for every byte. */
static void test_pixels(void **state)
{
    (void)state;
    uint8_t px[256];
    float x[256];
    for (int u = 0; u < 256; u++) px[u] = (uint8_t)u;
    rumor_data_pixels(px, 256, x);
    for (int u = 0; u < 256; u++) {
        const float want = (float)u / 255.0f;
        assert_memory_equal(&x[u], &want, sizeof want);
    }
}

static void test_fashion_errors(void **state)
{
    s_tmp_t *t = *state;
    rumor_dataset_t *ds = NULL;
    rumor_errmsg_t em = {{0}};
    assert_int_equal(rumor_data_load_fashion(NULL, "validation", NULL, &ds, &em), RUMOR_EINVAL);
    assert_non_null(strstr(em.msg, "validation"));
    assert_null(ds);
    assert_int_equal(rumor_data_load_fashion(t->dir, "train", NULL, &ds, &em), RUMOR_EIO);
    assert_null(ds);
    assert_non_null(strstr(em.msg, t->dir));
    assert_non_null(strstr(em.msg, "train-images-idx3-ubyte.gz"));
    assert_non_null(strstr(em.msg, "dataset-fashion-mnist"));
}

/* ---------------------------------------------------------------------------------------- */

static void s_check_tiny_svm(const rumor_dataset_t *ds, uint32_t dim)
{
    assert_int_equal(ds->n, 4);
    assert_int_equal(ds->dim, dim);
    assert_int_equal(ds->classes, 2);
    const int32_t y[4] = {1, 0, 1, 0}; /* -1 -> 0, +1 -> 1 */
    for (int i = 0; i < 4; i++) assert_int_equal(ds->y[i], y[i]);
    float want[4][7] = {{0.5f, 0, -2.0f, 0, 0, 0, 0.1f},
                        {0, 1.0f, 0, 0, 0, 0, 0},
                        {1.0f, 2.0f, 3.0f, 0, 0, 0, 0},
                        {0}};
    for (uint32_t i = 0; i < 4; i++)
        for (uint32_t k = 0; k < dim; k++)
            assert_true(ds->x[i * dim + k] == (k < 7 ? want[i][k] : 0.0f));
}

static void test_libsvm_parse(void **state)
{
    const s_tmp_t *t = *state;
    rumor_dataset_t *ds = NULL;
    rumor_errmsg_t em = {{0}};
    int rc = rumor_data_load_libsvm(GOLDEN("data_tiny.svm"), 0, &ds, &em);
    if (rc) fail_msg("%s: %s", rumor_strerror(rc), em.msg);
    s_check_tiny_svm(ds, 7);
    rumor_dataset_destroy(&ds);
    rc = rumor_data_load_libsvm(GOLDEN("data_tiny.svm"), 10, &ds, &em);
    assert_int_equal(rc, 0);
    s_check_tiny_svm(ds, 10);
    rumor_dataset_destroy(&ds);
    /* A hint below the largest index does not shrink the data. */
    assert_int_equal(rumor_data_load_libsvm(GOLDEN("data_tiny.svm"), 3, &ds, &em), 0);
    assert_int_equal(ds->dim, 7);
    rumor_dataset_destroy(&ds);

    /* Multi-class labels map in ascending numeric order, gzip is read transparently, and a
     * last line without a newline counts. */
    const char *text = "3 1:1\n1.0 2:1\n2.5 1:2\n3 2:4\n-7e0 1:0x1p-1";
    char path[512];
    s_write(t, "multi.svm.gz", text, strlen(text), 1, path);
    rc = rumor_data_load_libsvm(path, 0, &ds, &em);
    if (rc) fail_msg("%s: %s", rumor_strerror(rc), em.msg);
    assert_int_equal(ds->n, 5);
    assert_int_equal(ds->classes, 4);
    const int32_t y[5] = {3, 1, 2, 3, 0};
    for (int i = 0; i < 5; i++) assert_int_equal(ds->y[i], y[i]);
    assert_true(ds->x[4 * 2] == 0.5f);
    rumor_dataset_destroy(&ds);
}

static void s_expect_svm_error(const s_tmp_t *t, const char *text, int code, const char *where,
                               const char *what)
{
    char path[512], want[600];
    s_write(t, "bad.svm", text, strlen(text), 0, path);
    rumor_dataset_t *ds = (rumor_dataset_t *)1;
    rumor_errmsg_t em = {{0}};
    const int rc = rumor_data_load_libsvm(path, 0, &ds, &em);
    if (rc != code)
        fail_msg("'%s': expected %s, got %s: %s", text, rumor_strerror(code), rumor_strerror(rc),
                 em.msg);
    assert_null(ds);
    snprintf(want, sizeof want, "%s%s", path, where);
    if (strncmp(em.msg, want, strlen(want)) != 0)
        fail_msg("message '%s' does not start with '%s'", em.msg, want);
    if (!strstr(em.msg, what)) fail_msg("message '%s' lacks '%s'", em.msg, what);
}

static void test_libsvm_errors(void **state)
{
    const s_tmp_t *t = *state;
    char text[1024] = "";
    for (int i = 0; i < 11; i++) strcat(text, "+1 1:0.5 4:1\n");
    strcat(text, "-1 0:1\n");
    s_expect_svm_error(t, text, RUMOR_EFORMAT, ":12:4:", "feature index 0");
    s_expect_svm_error(t, text, RUMOR_EFORMAT, ":12:", "(indices start at 1)");
    s_expect_svm_error(t, "1 1:1\n\n1 3:1 2:1\n", RUMOR_EFORMAT, ":3:7:", "after 3");
    s_expect_svm_error(t, "1 3:1 3:2\n", RUMOR_EFORMAT, ":1:7:", "ascend");
    s_expect_svm_error(t, "abc 1:1\n", RUMOR_EFORMAT, ":1:1:", "label");
    s_expect_svm_error(t, "1:1 2:3\n", RUMOR_EFORMAT, ":1:1:", "label");
    s_expect_svm_error(t, "nan 2:3\n", RUMOR_EFORMAT, ":1:1:", "label");
    s_expect_svm_error(t, "1 1:abc\n", RUMOR_EFORMAT, ":1:5:", "value");
    s_expect_svm_error(t, "1 1:\n", RUMOR_EFORMAT, ":1:5:", "value");
    s_expect_svm_error(t, "1 1:inf\n", RUMOR_EFORMAT, ":1:5:", "value");
    s_expect_svm_error(t, "1 1:1e39\n", RUMOR_ERANGE, ":1:5:", "overflows a float");
    s_expect_svm_error(t, "1  5\n", RUMOR_EFORMAT, ":1:4:", "index:value");
    s_expect_svm_error(t, "1 -2:1\n", RUMOR_EFORMAT, ":1:3:", "feature index");
    s_expect_svm_error(t, "1 99999999999:1\n", RUMOR_ERANGE, ":1:3:", "too large");
    s_expect_svm_error(t, "1 qid:3 1:1\n", RUMOR_EFORMAT, ":1:3:", "qid");
    s_expect_svm_error(t, "1 1:1 x\n", RUMOR_EFORMAT, ":1:7:", "'x'");
    s_expect_svm_error(t, "# only a comment\n\n", RUMOR_EFORMAT, ":", "no samples");
    s_expect_svm_error(t, "1\n-1\n", RUMOR_EFORMAT, ":", "no features");
    /* A NUL byte inside a line. */
    char nul[8] = "1 1:2";
    nul[3] = '\0';
    char path[512];
    s_write(t, "nul.svm", nul, 5, 0, path);
    rumor_dataset_t *ds = NULL;
    rumor_errmsg_t em = {{0}};
    assert_int_equal(rumor_data_load_libsvm(path, 0, &ds, &em), RUMOR_EFORMAT);
    assert_null(ds);
    snprintf(path, sizeof path, "%s/absent.svm", t->dir);
    assert_int_equal(rumor_data_load_libsvm(path, 0, &ds, &em), RUMOR_EIO);
    assert_non_null(strstr(em.msg, "absent.svm"));

    /* A gzip stream cut in the middle is a truncation, not a shorter file. */
    char big[8192] = "";
    for (uint32_t i = 0, at = 0; i < 300 && at + 40 < sizeof big; i++)
        at += (uint32_t)snprintf(big + at, sizeof big - at, "%u 1:%u 2:%u\n", i % 3,
                                 i * 2654435761u >> 7, i * 40503u);
    s_write(t, "cut.svm.gz", big, strlen(big), 1, path);
    s_cut_in_half(t, "cut.svm.gz", path);
    assert_int_equal(rumor_data_load_libsvm(path, 0, &ds, &em), RUMOR_ETRUNC);
    assert_null(ds);
    assert_non_null(strstr(em.msg, "cut.svm.gz: truncated: the gzip stream ends early"));
}

/* ---------------------------------------------------------------------------------------- */

/* Accuracy of the nearest class centroid (centroids estimated from the data itself). */
static double s_centroid_accuracy(const rumor_dataset_t *ds)
{
    const uint32_t C = ds->classes, d = ds->dim;
    double *mu = calloc((size_t)C * d, sizeof *mu);
    uint32_t *cnt = calloc(C, sizeof *cnt);
    assert_non_null(mu);
    assert_non_null(cnt);
    for (uint32_t i = 0; i < ds->n; i++) {
        cnt[ds->y[i]]++;
        for (uint32_t k = 0; k < d; k++) mu[(size_t)ds->y[i] * d + k] += ds->x[(size_t)i * d + k];
    }
    for (uint32_t c = 0; c < C; c++)
        for (uint32_t k = 0; k < d; k++) mu[(size_t)c * d + k] /= cnt[c];
    uint32_t right = 0;
    for (uint32_t i = 0; i < ds->n; i++) {
        uint32_t best = 0;
        double bestd = INFINITY;
        for (uint32_t c = 0; c < C; c++) {
            double s = 0;
            for (uint32_t k = 0; k < d; k++) {
                const double e = ds->x[(size_t)i * d + k] - mu[(size_t)c * d + k];
                s += e * e;
            }
            if (s < bestd) bestd = s, best = c;
        }
        right += (int32_t)best == ds->y[i];
    }
    free(mu);
    free(cnt);
    return (double)right / ds->n;
}

static void test_synthetic(void **state)
{
    (void)state;
    rumor_dataset_t *a = NULL, *b = NULL, *c = NULL, *small = NULL;
    assert_int_equal(rumor_data_synthetic(400, 16, 4, 3.0, 42, &a), 0);
    assert_int_equal(rumor_data_synthetic(400, 16, 4, 3.0, 42, &b), 0);
    assert_int_equal(rumor_data_synthetic(400, 16, 4, 3.0, 43, &c), 0);
    assert_int_equal(rumor_data_synthetic(100, 16, 4, 3.0, 42, &small), 0);
    assert_int_equal(a->n, 400);
    assert_int_equal(a->dim, 16);
    assert_int_equal(a->classes, 4);
    assert_memory_equal(a->x, b->x, 400 * 16 * sizeof(float));
    assert_memory_equal(a->y, b->y, 400 * sizeof(int32_t));
    assert_memory_not_equal(a->x, c->x, 400 * 16 * sizeof(float));
    /* A smaller draw is a prefix of a larger one with the same seed. */
    assert_memory_equal(a->x, small->x, 100 * 16 * sizeof(float));
    uint32_t hist[4] = {0};
    for (uint32_t i = 0; i < a->n; i++) hist[a->y[i]]++;
    for (int k = 0; k < 4; k++) assert_int_equal(hist[k], 100);
    rumor_dataset_destroy(&a);
    rumor_dataset_destroy(&b);
    rumor_dataset_destroy(&c);
    rumor_dataset_destroy(&small);

    /* sep controls how separable the classes are. */
    assert_int_equal(rumor_data_synthetic(2000, 20, 4, 8.0, 7, &a), 0);
    assert_int_equal(rumor_data_synthetic(2000, 20, 4, 0.0, 7, &b), 0);
    const double acc_far = s_centroid_accuracy(a), acc_none = s_centroid_accuracy(b);
    assert_true(acc_far > 0.99);
    assert_true(acc_none < 0.40);
    rumor_dataset_destroy(&a);
    rumor_dataset_destroy(&b);

    assert_int_equal(rumor_data_synthetic(0, 4, 2, 1.0, 1, &a), RUMOR_EINVAL);
    assert_int_equal(rumor_data_synthetic(4, 0, 2, 1.0, 1, &a), RUMOR_EINVAL);
    assert_int_equal(rumor_data_synthetic(4, 4, 0, 1.0, 1, &a), RUMOR_EINVAL);
    assert_int_equal(rumor_data_synthetic(4, 4, 2, -1.0, 1, &a), RUMOR_EINVAL);
    assert_int_equal(rumor_data_synthetic(4, 4, 2, NAN, 1, &a), RUMOR_EINVAL);
    assert_null(a);
}

static void test_gather(void **state)
{
    (void)state;
    rumor_dataset_t *ds = NULL;
    assert_int_equal(rumor_data_synthetic(10, 5, 3, 1.0, 9, &ds), 0);
    const uint32_t idx[3] = {7, 0, 7};
    float x[15];
    int32_t y[3];
    rumor_data_gather(ds, idx, 3, x, y);
    for (int k = 0; k < 3; k++) {
        assert_memory_equal(x + 5 * k, ds->x + 5 * idx[k], 5 * sizeof(float));
        assert_int_equal(y[k], ds->y[idx[k]]);
    }
    rumor_dataset_destroy(&ds);
}

int main(void)
{
    /* no cache of decompressed files (test_idx_cache sets one) */
    if (setenv("RUMOR_CACHE_DIR", "", 1) != 0) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fashion_train),  cmocka_unit_test(test_fashion_t10k),
        cmocka_unit_test(test_fashion_errors), cmocka_unit_test(test_libsvm_parse),
        cmocka_unit_test(test_libsvm_errors),  cmocka_unit_test(test_synthetic),
        cmocka_unit_test(test_gather),         cmocka_unit_test(test_fashion_compact),
        cmocka_unit_test(test_pixels),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
