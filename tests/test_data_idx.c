/* rumor — tests of the data module's IDX reader: round trips (gzip-compressed or not), the
 * cache of decompressed files, golden files in tests/data/data_*, chosen samples, and
 * truncated, mislabelled, mismatched, corrupt and missing files. */
#include "data_support.h"

static void s_put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* An IDX image file of n images of rows x cols with pixel (i, k) = (7 i + 3 k) mod 256, and a
 * label file with label i = i mod 10. buf must hold 16 + n rows cols bytes. */
static size_t s_idx_images(uint8_t *buf, uint32_t magic, uint32_t n, uint32_t rows, uint32_t cols)
{
    s_put_be32(buf, magic);
    s_put_be32(buf + 4, n);
    s_put_be32(buf + 8, rows);
    s_put_be32(buf + 12, cols);
    for (uint32_t i = 0; i < n; i++)
        for (uint32_t k = 0; k < rows * cols; k++)
            buf[16 + i * rows * cols + k] = (uint8_t)((7 * i + 3 * k) % 256);
    return 16 + (size_t)n * rows * cols;
}

static size_t s_idx_labels(uint8_t *buf, uint32_t magic, uint32_t n)
{
    s_put_be32(buf, magic);
    s_put_be32(buf + 4, n);
    for (uint32_t i = 0; i < n; i++) buf[8 + i] = (uint8_t)(i % 10);
    return 8 + (size_t)n;
}

/* A chooser that keeps the rows listed in arg (ending in UINT32_MAX), or,
 * with arg NULL, every other row from the last one down. */
static int s_choose(const rumor_dataset_t *labels, void *arg, const uint32_t **rows,
                    uint32_t *n_rows, rumor_errmsg_t *em)
{
    (void)em;
    assert_null(labels->x);
    static uint32_t picked[64];
    uint32_t m = 0;
    if (arg) {
        for (const uint32_t *r = arg; *r != UINT32_MAX; r++) picked[m++] = *r;
    } else {
        for (uint32_t i = labels->n; i-- > 0 && m < 64;)
            if (i % 2 == 0) picked[m++] = i;
    }
    *rows = picked;
    *n_rows = m;
    return 0;
}

/* Asserts that loading fails with code and a message that contains every given fragment,
 * whether the load keeps every sample or only some. */
static void s_expect_idx_error(const char *ipath, const char *lpath, int code, ...)
{
    const rumor_data_chooser_t some = {s_choose, NULL};
    for (int k = 0; k < 2; k++) {
        rumor_dataset_t *ds = (rumor_dataset_t *)1;
        rumor_errmsg_t em = {{0}};
        const int rc = rumor_data_load_idx(ipath, lpath, k ? &some : NULL, &ds, &em);
        if (rc != code)
            fail_msg("expected %s, got %s: %s", rumor_strerror(code), rumor_strerror(rc), em.msg);
        assert_null(ds);
        va_list ap;
        va_start(ap, code);
        for (const char *frag; (frag = va_arg(ap, const char *)) != NULL;)
            if (!strstr(em.msg, frag)) fail_msg("message '%s' lacks '%s'", em.msg, frag);
        va_end(ap);
    }
}

/* ---------------------------------------------------------------------------------------- */

static void s_check_roundtrip(const s_tmp_t *t, int gz_images, int gz_labels)
{
    uint8_t img[16 + 5 * 4 * 3], lab[8 + 5];
    const size_t ni = s_idx_images(img, 0x803, 5, 4, 3);
    const size_t nl = s_idx_labels(lab, 0x801, 5);
    img[16] = 255; /* the maximum must map to exactly 1 */
    char ipath[512], lpath[512];
    s_write(t, gz_images ? "rt-img.gz" : "rt-img", img, ni, gz_images, ipath);
    s_write(t, gz_labels ? "rt-lab.gz" : "rt-lab", lab, nl, gz_labels, lpath);
    rumor_dataset_t *ds = NULL;
    rumor_errmsg_t em = {{0}};
    const int rc = rumor_data_load_idx(ipath, lpath, NULL, &ds, &em);
    if (rc) fail_msg("%s: %s", rumor_strerror(rc), em.msg);
    assert_int_equal(ds->n, 5);
    assert_int_equal(ds->dim, 12);
    assert_int_equal(ds->classes, 5); /* max label 4, plus one */
    for (uint32_t i = 0; i < 5; i++) {
        assert_int_equal(ds->y[i], (int32_t)i);
        for (uint32_t k = 0; k < 12; k++)
            assert_true(ds->x[i * 12 + k] == img[16 + i * 12 + k] / 255.0f);
    }
    assert_true(ds->x[0] == 1.0f);
    rumor_dataset_destroy(&ds);
}

static void test_idx_roundtrip(void **state)
{
    const s_tmp_t *t = *state;
    s_check_roundtrip(t, 0, 0);
    s_check_roundtrip(t, 1, 1);
    s_check_roundtrip(t, 1, 0);
}

/* The entries of the cache in dir whose names begin with prefix (not the .sum and .lock
 * files); the path of the last one into path. */
static int s_cache_entries(const char *dir, const char *prefix, char path[600])
{
    int n = 0;
    DIR *d = opendir(dir);
    assert_non_null(d);
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        const char *dot = strrchr(e->d_name, '.');
        if (strncmp(e->d_name, prefix, strlen(prefix)) || !strcmp(dot, ".sum") ||
            !strcmp(dot, ".lock") || !strcmp(dot, ".gz"))
            continue;
        snprintf(path, 600, "%s/%s", dir, e->d_name);
        n++;
    }
    closedir(d);
    return n;
}

/* A gzip-compressed IDX pair is read through one decompressed copy in RUMOR_CACHE_DIR, the
 * same data as from the source; a corrupted copy is noticed by its checksum and rebuilt, and a
 * changed source gets a new copy. */
static void test_idx_cache(void **state)
{
    const s_tmp_t *t = *state;
    assert_int_equal(setenv("RUMOR_CACHE_DIR", t->dir, 1), 0);
    uint8_t img[16 + 5 * 4 * 3], lab[8 + 5];
    const size_t ni = s_idx_images(img, 0x803, 5, 4, 3);
    const size_t nl = s_idx_labels(lab, 0x801, 5);
    char ipath[512], lpath[512], entry[600];
    s_write(t, "c-img.gz", img, ni, 1, ipath);
    s_write(t, "c-lab.gz", lab, nl, 1, lpath);
    for (int pass = 0; pass < 3; pass++) {
        rumor_dataset_t *ds = NULL;
        rumor_errmsg_t em = {{0}};
        const int rc = rumor_data_load_idx(ipath, lpath, NULL, &ds, &em);
        if (rc) fail_msg("%s: %s", rumor_strerror(rc), em.msg);
        assert_int_equal(ds->n, 5);
        for (uint32_t k = 0; k < 5 * 12; k++) assert_true(ds->x[k] == img[16 + k] / 255.0f);
        for (uint32_t i = 0; i < 5; i++) assert_int_equal(ds->y[i], (int32_t)i);
        rumor_dataset_destroy(&ds);
        assert_int_equal(s_cache_entries(t->dir, "c-img.", entry), 1);
        assert_int_equal(s_cache_entries(t->dir, "c-lab.", entry), 1);
        /* the copy holds the decompressed file */
        FILE *f = fopen(entry, "rb");
        assert_non_null(f);
        uint8_t got[sizeof lab];
        assert_int_equal(fread(got, 1, sizeof got, f), nl);
        fclose(f);
        assert_memory_equal(got, lab, nl);
        if (pass == 0) { /* the same size, one pixel changed */
            s_cache_entries(t->dir, "c-img.", entry);
            f = fopen(entry, "r+b");
            assert_non_null(f);
            assert_int_equal(fseek(f, 20, SEEK_SET), 0);
            assert_int_equal(fputc(img[20] ^ 0x40, f), img[20] ^ 0x40);
            fclose(f);
        }
    }
    /* RUMOR_CACHE_DIR set but empty: no cache */
    assert_int_equal(setenv("RUMOR_CACHE_DIR", "", 1), 0);
    s_write(t, "n-img.gz", img, ni, 1, ipath);
    s_write(t, "n-lab.gz", lab, nl, 1, lpath);
    rumor_dataset_t *ds = NULL;
    assert_int_equal(rumor_data_load_idx(ipath, lpath, NULL, &ds, NULL), 0);
    rumor_dataset_destroy(&ds);
    assert_int_equal(s_cache_entries(t->dir, "n-", entry), 0);
}

static void test_idx_golden(void **state)
{
    (void)state;
    /* Plain image file and gzip label file committed under tests/data. */
    rumor_dataset_t *ds = NULL;
    rumor_errmsg_t em = {{0}};
    const int rc = rumor_data_load_idx(GOLDEN("data_tiny-images-idx3-ubyte"),
                                       GOLDEN("data_tiny-labels-idx1-ubyte.gz"), NULL, &ds, &em);
    if (rc) fail_msg("%s: %s", rumor_strerror(rc), em.msg);
    assert_int_equal(ds->n, 4);
    assert_int_equal(ds->dim, 6);
    assert_int_equal(ds->classes, 10);
    const int32_t y[4] = {3, 0, 9, 3};
    const uint8_t px[24] = {0,   255, 1,   254, 128, 127, 10, 20, 30, 40, 50, 60,
                            255, 255, 255, 255, 255, 255, 0,  0,  0,  0,  0,  7};
    for (int i = 0; i < 4; i++) assert_int_equal(ds->y[i], y[i]);
    for (int k = 0; k < 24; k++) assert_float_equal(ds->x[k], px[k] / 255.0, 1e-7);
    rumor_dataset_destroy(&ds);
}

/* Kept samples come in the chooser's order with their labels; the rest is read, checked and
 * dropped. */
static void test_idx_chosen_samples(void **state)
{
    (void)state;
    rumor_dataset_t *all = NULL, *ds = NULL;
    rumor_errmsg_t em = {{0}};
    const char *ipath = GOLDEN("data_tiny-images-idx3-ubyte");
    const char *lpath = GOLDEN("data_tiny-labels-idx1-ubyte.gz");
    assert_int_equal(rumor_data_load_idx(ipath, lpath, NULL, &all, &em), 0);
    const uint32_t rows[] = {2, 0, 3, UINT32_MAX};
    const rumor_data_chooser_t pick = {s_choose, (void *)rows};
    if (rumor_data_load_idx(ipath, lpath, &pick, &ds, &em)) fail_msg("%s", em.msg);
    assert_int_equal(ds->n, 3);
    assert_int_equal(ds->dim, all->dim);
    assert_int_equal(ds->classes, all->classes);
    for (uint32_t k = 0; k < 3; k++) {
        assert_int_equal(ds->y[k], all->y[rows[k]]);
        assert_memory_equal(ds->x + k * ds->dim, all->x + rows[k] * all->dim,
                            ds->dim * sizeof(float));
    }
    rumor_dataset_destroy(&ds);

    /* A choice out of range, or the same sample twice, fails the load. */
    const uint32_t far[] = {4, UINT32_MAX}, twice[] = {1, 1, UINT32_MAX};
    const rumor_data_chooser_t bad1 = {s_choose, (void *)far}, bad2 = {s_choose, (void *)twice};
    assert_int_equal(rumor_data_load_idx(ipath, lpath, &bad1, &ds, &em), RUMOR_EINVAL);
    assert_non_null(strstr(em.msg, "chosen sample 4"));
    assert_null(ds);
    assert_int_equal(rumor_data_load_idx(ipath, lpath, &bad2, &ds, &em), RUMOR_EINVAL);
    assert_null(ds);
    rumor_dataset_destroy(&all);
}

static void test_idx_truncated(void **state)
{
    const s_tmp_t *t = *state;
    uint8_t img[16 + 6 * 28], lab[8 + 6];
    const size_t ni = s_idx_images(img, 0x803, 6, 4, 7);
    const size_t nl = s_idx_labels(lab, 0x801, 6);
    char ipath[512], lpath[512], full[512];
    s_write(t, "lab", lab, nl, 0, lpath);
    s_write(t, "img-full", img, ni, 0, full);

    /* Payload cut inside image 3, plain and gzip. */
    s_write(t, "img-short", img, 16 + 3 * 28 + 5, 0, ipath);
    s_expect_idx_error(ipath, lpath, RUMOR_ETRUNC, ipath, "truncated", "inside image 3", NULL);
    s_write(t, "img-short.gz", img, 16 + 3 * 28 + 5, 1, ipath);
    s_expect_idx_error(ipath, lpath, RUMOR_ETRUNC, ipath, "truncated", NULL);

    /* Header cut short. */
    s_write(t, "img-hdr", img, 10, 0, ipath);
    s_expect_idx_error(ipath, lpath, RUMOR_ETRUNC, ipath, "header", NULL);

    /* Label payload short. */
    s_write(t, "lab-short", lab, nl - 2, 0, lpath);
    s_expect_idx_error(full, lpath, RUMOR_ETRUNC, lpath, "truncated", NULL);
    s_write(t, "lab", lab, nl, 0, lpath);

    /* A gzip stream cut in the middle (the file, not the content, is short). */
    uint8_t big[16 + 40 * 28];
    s_idx_images(big, 0x803, 40, 4, 7);
    for (size_t k = 16; k < sizeof big; k++) big[k] = (uint8_t)(k * 2654435761u >> 13);
    uint8_t lab40[8 + 40];
    char lpath40[512];
    s_write(t, "lab40", lab40, s_idx_labels(lab40, 0x801, 40), 0, lpath40);
    s_write(t, "img-cut.gz", big, sizeof big, 1, ipath);
    s_cut_in_half(t, "img-cut.gz", ipath);
    s_expect_idx_error(ipath, lpath40, RUMOR_ETRUNC, ipath, "truncated", NULL);

    /* An empty file. */
    s_write(t, "img-empty", img, 0, 0, ipath);
    s_expect_idx_error(ipath, lpath, RUMOR_ETRUNC, ipath, "empty", NULL);
}

/* A compact load of a split whose image file ends long before its header's count, which is
 * larger than what the reader allocates before the data proves it: a truncation error, and
 * only the bytes that were read are moved (AddressSanitizer sees an over-read). */
static void test_idx_compact_truncated(void **state)
{
    const s_tmp_t *t = *state;
    enum { N = 30000, HELD = 10, DIM = 28 * 28 }; /* 23.5 MB declared, 7.8 KB held */
    uint8_t *img = malloc(16 + HELD * DIM), *lab = malloc(8 + N);
    assert_non_null(img);
    assert_non_null(lab);
    const size_t ni = s_idx_images(img, 0x803, HELD, 28, 28);
    s_put_be32(img + 4, N);
    char ipath[512], lpath[512];
    s_write(t, "train-images-idx3-ubyte.gz", img, ni, 1, ipath);
    s_write(t, "train-labels-idx1-ubyte.gz", lab, s_idx_labels(lab, 0x801, N), 1, lpath);
    free(img);
    free(lab);
    assert_int_equal(setenv("RUMOR_CACHE_DIR", t->dir, 1), 0);
    rumor_dataset_t *ds = (rumor_dataset_t *)1;
    rumor_errmsg_t em = {{0}};
    const int rc = rumor_data_load_fashion_compact(t->dir, "train", &ds, &em);
    if (rc != RUMOR_ETRUNC)
        fail_msg("expected a truncation, got %s: %s", rumor_strerror(rc), em.msg);
    assert_null(ds);
    assert_non_null(strstr(em.msg, "inside image 10"));
}

static void test_idx_bad_magic(void **state)
{
    const s_tmp_t *t = *state;
    uint8_t img[16 + 2 * 4], lab[8 + 2];
    char ipath[512], lpath[512], good_i[512], good_l[512];
    s_write(t, "good-img", img, s_idx_images(img, 0x803, 2, 2, 2), 0, good_i);
    s_write(t, "good-lab", lab, s_idx_labels(lab, 0x801, 2), 1, good_l);

    s_write(t, "zero-magic.gz", img, s_idx_images(img, 0x00000000, 2, 2, 2), 1, ipath);
    s_expect_idx_error(ipath, good_l, RUMOR_EFORMAT, ipath,
                       "bad magic 0x00000000 (expected 0x00000803 for an IDX image file)", NULL);
    s_write(t, "text-lab", "hello world\n", 12, 0, lpath);
    s_expect_idx_error(good_i, lpath, RUMOR_EFORMAT, lpath, "bad magic 0x68656c6c",
                       "expected 0x00000801 for an IDX label file", NULL);
    /* Files passed the wrong way round: wrong dimension count. */
    s_expect_idx_error(good_l, good_i, RUMOR_EFORMAT, good_l, "1 dimension", "label file", NULL);
    s_write(t, "img-2d", img, s_idx_images(img, 0x802, 2, 2, 2), 0, ipath);
    s_expect_idx_error(ipath, good_l, RUMOR_EFORMAT, ipath, "2 dimensions", NULL);
    /* Float pixels are a valid IDX type but not ours. */
    s_write(t, "img-float", img, s_idx_images(img, 0xd03, 2, 2, 2), 0, ipath);
    s_expect_idx_error(ipath, good_l, RUMOR_EFORMAT, ipath, "element type 0x0d", NULL);
    /* Valid gzip framing around garbage deflate data. */
    const uint8_t junk[] = {0x1f, 0x8b, 8,    0,    0,    0,    0,    0,    0,    3,    0xff, 0xff,
                            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    s_write(t, "junk.gz", junk, sizeof junk, 0, ipath);
    s_expect_idx_error(ipath, good_l, RUMOR_EFORMAT, ipath, "gzip", NULL);
}

static void test_idx_count_mismatch(void **state)
{
    const s_tmp_t *t = *state;
    uint8_t img[16 + 3 * 4], lab[8 + 4];
    char ipath[512], lpath[512];
    s_write(t, "cm-img", img, s_idx_images(img, 0x803, 3, 2, 2), 0, ipath);
    s_write(t, "cm-lab", lab, s_idx_labels(lab, 0x801, 4), 0, lpath);
    s_expect_idx_error(ipath, lpath, RUMOR_EFORMAT, ipath, lpath, "mismatch", "4 labels",
                       "3 images", NULL);
}

static void test_idx_bad_content(void **state)
{
    const s_tmp_t *t = *state;
    uint8_t img[16 + 3 * 4 + 1], lab[8 + 3];
    char ipath[512], lpath[512], good_i[512], good_l[512];
    s_write(t, "bc-img", img, s_idx_images(img, 0x803, 3, 2, 2), 0, good_i);
    s_write(t, "bc-lab", lab, s_idx_labels(lab, 0x801, 3), 0, good_l);

    /* Zero images. */
    uint8_t hdr[16], lhdr[8];
    s_idx_images(hdr, 0x803, 0, 2, 2);
    s_idx_labels(lhdr, 0x801, 0);
    s_write(t, "zero-img", hdr, 16, 0, ipath);
    s_write(t, "zero-lab", lhdr, 8, 0, lpath);
    s_expect_idx_error(ipath, lpath, RUMOR_EFORMAT, ipath, "0 images", NULL);
    /* Zero-sized images. */
    s_idx_images(hdr, 0x803, 3, 0, 2);
    s_write(t, "zero-rows", hdr, 16, 0, ipath);
    s_expect_idx_error(ipath, good_l, RUMOR_EFORMAT, ipath, "0x2", NULL);
    /* A label >= 10. */
    s_idx_labels(lab, 0x801, 3);
    lab[8 + 2] = 12;
    s_write(t, "lab-12", lab, sizeof lab, 0, lpath);
    s_expect_idx_error(good_i, lpath, RUMOR_ERANGE, lpath, "label 12", NULL);
    /* Trailing bytes after the declared payload. */
    const size_t ni = s_idx_images(img, 0x803, 3, 2, 2);
    img[ni] = 0;
    s_write(t, "img-long", img, ni + 1, 0, ipath);
    s_expect_idx_error(ipath, good_l, RUMOR_EFORMAT, ipath, "after the 3 images", NULL);
    /* Headers that promise a huge data set the bytes do not back: an error, not a huge
     * allocation. */
    s_idx_images(hdr, 0x803, 0, 64, 64);
    s_put_be32(hdr + 4, 4000000000u);
    s_idx_labels(lhdr, 0x801, 0);
    s_put_be32(lhdr + 4, 4000000000u);
    s_write(t, "img-huge", hdr, 16, 0, ipath);
    s_write(t, "lab-huge", lhdr, 8, 0, lpath);
    s_expect_idx_error(ipath, lpath, RUMOR_ETRUNC, lpath, "4000000000 labels", NULL);
}

static void test_idx_missing(void **state)
{
    const s_tmp_t *t = *state;
    char ipath[512], lpath[512];
    snprintf(ipath, sizeof ipath, "%s/nope-images.gz", t->dir);
    uint8_t lab[8 + 3];
    s_write(t, "m-lab", lab, s_idx_labels(lab, 0x801, 3), 0, lpath);
    s_expect_idx_error(ipath, lpath, RUMOR_EIO, ipath, "No such file", NULL);
    /* A directory is not a file. */
    s_expect_idx_error(t->dir, lpath, RUMOR_EIO, t->dir, NULL);
    rumor_dataset_t *ds = NULL;
    assert_int_equal(rumor_data_load_idx(NULL, lpath, NULL, &ds, NULL), RUMOR_EINVAL);
}

int main(void)
{
    /* no cache of decompressed files (test_idx_cache sets one) */
    if (setenv("RUMOR_CACHE_DIR", "", 1) != 0) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_idx_roundtrip),   cmocka_unit_test(test_idx_cache),
        cmocka_unit_test(test_idx_golden),      cmocka_unit_test(test_idx_chosen_samples),
        cmocka_unit_test(test_idx_truncated),   cmocka_unit_test(test_idx_compact_truncated),
        cmocka_unit_test(test_idx_bad_magic),   cmocka_unit_test(test_idx_count_mismatch),
        cmocka_unit_test(test_idx_bad_content), cmocka_unit_test(test_idx_missing),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
