/* rumor — tests of the data module: IDX and LIBSVM readers (real Fashion-MNIST, golden files
 * in tests/data/data_*, and corrupt files written to a temp directory), synthetic data,
 * partitions, the minibatch sampler and gather. */
#include "rumor/data.h"
#include "rumor/partition.h"
#include "rumor/sampler.h"

#include <dirent.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include <cmocka.h>

#define GOLDEN(name) RUMOR_SOURCE_DIR "/tests/data/" name

typedef struct {
    char dir[256];
} s_tmp_t;

static int s_setup(void **state)
{
    s_tmp_t *t = calloc(1, sizeof *t);
    if (!t) return -1;
    snprintf(t->dir, sizeof t->dir, "/tmp/rumor_test_data_XXXXXX");
    if (!mkdtemp(t->dir)) {
        free(t);
        return -1;
    }
    *state = t;
    return 0;
}

static int s_teardown(void **state)
{
    s_tmp_t *t = *state;
    DIR *d = opendir(t->dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            char p[600];
            snprintf(p, sizeof p, "%s/%s", t->dir, e->d_name);
            unlink(p);
        }
        closedir(d);
    }
    rmdir(t->dir);
    free(t);
    return 0;
}

/* Writes bytes to dir/name, gzip-compressed when gz; returns the path in out. */
static void s_write(const s_tmp_t *t, const char *name, const void *bytes, size_t len, int gz,
                    char out[512])
{
    snprintf(out, 512, "%s/%s", t->dir, name);
    if (gz) {
        gzFile f = gzopen(out, "wb");
        assert_non_null(f);
        if (len) assert_int_equal(gzwrite(f, bytes, (unsigned)len), (int)len);
        assert_int_equal(gzclose(f), Z_OK);
    } else {
        FILE *f = fopen(out, "wb");
        assert_non_null(f);
        if (len) assert_int_equal(fwrite(bytes, 1, len, f), len);
        assert_int_equal(fclose(f), 0);
    }
}

/* Rewrites dir/name (at most 8 KiB, at least 100 bytes) with its first half only. */
static void s_cut_in_half(const s_tmp_t *t, const char *name, char path[512])
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    uint8_t z[8192];
    const size_t zn = fread(z, 1, sizeof z, f);
    fclose(f);
    assert_true(zn > 100 && zn < sizeof z);
    s_write(t, name, z, zn / 2, 0, path);
}

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

/* ---------------------------------------------------------------------------------------- */

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

/* ---------------------------------------------------------------------------------------- */

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
    /* no cache of decompressed files (test_idx_cache sets one) */
    if (setenv("RUMOR_CACHE_DIR", "", 1) != 0) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fashion_train),      cmocka_unit_test(test_fashion_t10k),
        cmocka_unit_test(test_fashion_errors),     cmocka_unit_test(test_idx_roundtrip),
        cmocka_unit_test(test_idx_cache),          cmocka_unit_test(test_idx_golden),
        cmocka_unit_test(test_idx_chosen_samples), cmocka_unit_test(test_idx_truncated),
        cmocka_unit_test(test_idx_bad_magic),      cmocka_unit_test(test_idx_count_mismatch),
        cmocka_unit_test(test_idx_bad_content),    cmocka_unit_test(test_idx_missing),
        cmocka_unit_test(test_libsvm_parse),       cmocka_unit_test(test_libsvm_errors),
        cmocka_unit_test(test_synthetic),          cmocka_unit_test(test_gather),
        cmocka_unit_test(test_partition_iid),      cmocka_unit_test(test_partition_dirichlet),
        cmocka_unit_test(test_sampler_epochs),     cmocka_unit_test(test_sampler_determinism),
        cmocka_unit_test(test_sampler_pos),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
