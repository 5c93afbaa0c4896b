/* rumor — libFuzzer target for the dataset readers (IDX, optionally gzip; LIBSVM text).
 *
 * The readers take paths, so each input is written to files in a private temp directory.
 * Input layout: byte 0 picks the reader and options; for IDX, bytes 1-2 (little-endian) give
 * the length of the image file and the rest is the label file. Bits of byte 0 can gzip either
 * IDX file so that the fuzzer reaches the payload checks behind valid gzip framing, bit 3
 * loads only the samples a chooser picks (every third, last first), as a networked peer does,
 * and bit 4 (without bit 3) loads the pair compact, as Fashion-MNIST's training split, the way
 * `rumor sim` holds it (pixels kept as bytes).
 *
 * Invariants checked on success: n, dim and classes positive, labels in [0, classes), IDX
 * pixels in [0, 1] (a compact dataset's as rumor_data_gather converts them), LIBSVM values
 * finite.
 *
 * Run: cmake -S . -B build-fuzz -DRUMOR_FUZZ=ON -DCMAKE_C_COMPILER=clang &&
 *      cmake --build build-fuzz --target fuzz_idx && build-fuzz/fuzz_idx -max_len=4096
 */
#include "rumor/data.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

enum { S_PATH = 256 };

typedef struct {
    char dir[64];
    char images[S_PATH], labels[S_PATH], svm[S_PATH];
    char fimages[S_PATH], flabels[S_PATH]; /* the names rumor_data_load_fashion_compact reads */
} s_paths_t;

/* The harness's one piece of process state: where its scratch files live. */
static s_paths_t s_paths;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void s_cleanup(void)
{
    unlink(s_paths.images);
    unlink(s_paths.labels);
    unlink(s_paths.svm);
    unlink(s_paths.fimages);
    unlink(s_paths.flabels);
    rmdir(s_paths.dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    snprintf(s_paths.dir, sizeof s_paths.dir, "/tmp/rumor_fuzz_idx_XXXXXX");
    if (!mkdtemp(s_paths.dir)) abort();
    snprintf(s_paths.images, S_PATH, "%s/images", s_paths.dir);
    snprintf(s_paths.labels, S_PATH, "%s/labels", s_paths.dir);
    snprintf(s_paths.svm, S_PATH, "%s/data.svm", s_paths.dir);
    snprintf(s_paths.fimages, S_PATH, "%s/train-images-idx3-ubyte.gz", s_paths.dir);
    snprintf(s_paths.flabels, S_PATH, "%s/train-labels-idx1-ubyte.gz", s_paths.dir);
    atexit(s_cleanup);
    return 0;
}

static void s_write(const char *path, const uint8_t *p, size_t n, int gz)
{
    if (gz) {
        gzFile f = gzopen(path, "wb");
        if (!f) abort();
        if (n && gzwrite(f, p, (unsigned)n) != (int)n) abort();
        if (gzclose(f) != Z_OK) abort();
        return;
    }
    FILE *f = fopen(path, "wb");
    if (!f) abort();
    if (n && fwrite(p, 1, n, f) != n) abort();
    if (fclose(f)) abort();
}

static void s_check_values(const float *x, size_t n, int pixels)
{
    for (size_t k = 0; k < n; k++)
        if (!isfinite(x[k]) || (pixels && (x[k] < 0.0f || x[k] > 1.0f))) abort();
}

static void s_check(const rumor_dataset_t *ds, int pixels)
{
    if (ds->n == 0 || ds->dim == 0 || ds->classes == 0) abort();
    for (uint32_t i = 0; i < ds->n; i++)
        if (ds->y[i] < 0 || (uint32_t)ds->y[i] >= ds->classes) abort();
    if (!ds->px) {
        s_check_values(ds->x, (size_t)ds->n * ds->dim, pixels);
        return;
    }
    /* compact: every row through the gather, which is how the simulator reads them */
    float *x = malloc((size_t)ds->dim * sizeof *x);
    if (!x) abort();
    for (uint32_t i = 0; i < ds->n; i++) {
        int32_t y;
        rumor_data_gather(ds, &i, 1, x, &y);
        if (y != ds->y[i]) abort();
        s_check_values(x, ds->dim, 1);
    }
    free(x);
}

/* A dense LIBSVM matrix is samples x largest index; keep indices to four digits so that one
 * input cannot ask for gigabytes (a resource bound of this harness, not of the reader). */
static int s_svm_small(const uint8_t *p, size_t n)
{
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] >= '0' && p[i] <= '9') {
            run++;
        } else {
            if (p[i] == ':' && run > 4) return 0;
            run = 0;
        }
    }
    return 1;
}

/* Picks every third sample, last first, into a list it leaves in *(uint32_t **)arg. */
static int s_choose(const rumor_dataset_t *labels, void *arg, const uint32_t **rows,
                    uint32_t *n_rows, rumor_errmsg_t *em)
{
    uint32_t *picked = malloc(((size_t)labels->n / 3 + 1) * sizeof *picked);
    if (!picked) return rumor_errmsg_set(em, RUMOR_ENOMEM, "out of memory");
    uint32_t m = 0;
    for (uint32_t i = labels->n; i-- > 0;)
        if (i % 3 == 0) picked[m++] = i;
    *(uint32_t **)arg = picked;
    *rows = picked;
    *n_rows = m;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    const uint8_t mode = data[0];
    data++;
    size--;
    rumor_dataset_t *ds = NULL;
    rumor_errmsg_t em;
    if (mode & 1) {
        if (!s_svm_small(data, size)) return 0;
        s_write(s_paths.svm, data, size, (mode & 2) != 0);
        if (rumor_data_load_libsvm(s_paths.svm, (mode >> 2) & 7, &ds, &em) == 0) s_check(ds, 0);
    } else {
        if (size < 2) return 0;
        size_t k = (size_t)data[0] | (size_t)data[1] << 8;
        data += 2;
        size -= 2;
        if (k > size) k = size;
        const int compact = (mode & 24) == 16;
        s_write(compact ? s_paths.fimages : s_paths.images, data, k, (mode & 2) != 0);
        s_write(compact ? s_paths.flabels : s_paths.labels, data + k, size - k, (mode & 4) != 0);
        uint32_t *picked = NULL;
        const rumor_data_chooser_t chooser = {s_choose, &picked};
        const int rc = compact ? rumor_data_load_fashion_compact(s_paths.dir, "train", &ds, &em)
                               : rumor_data_load_idx(s_paths.images, s_paths.labels,
                                                     (mode & 8) ? &chooser : NULL, &ds, &em);
        if (rc == 0) s_check(ds, 1);
        free(picked);
    }
    rumor_dataset_destroy(&ds);
    return 0;
}
