/* Support shared by the data module's test programs (test_data*.c): a temporary directory per
 * group, files (gzip-compressed or not) written into it, and a file cut in half. */
#ifndef RUMOR_TEST_DATA_SUPPORT_H
#define RUMOR_TEST_DATA_SUPPORT_H

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

static inline int s_setup(void **state)
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

static inline int s_teardown(void **state)
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
static inline void s_write(const s_tmp_t *t, const char *name, const void *bytes, size_t len,
                           int gz, char out[512])
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
static inline void s_cut_in_half(const s_tmp_t *t, const char *name, char path[512])
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    uint8_t z[8192];
    const size_t zn = fread(z, 1, sizeof z, f);
    fclose(f);
    assert_true(zn > 100 && zn < sizeof z);
    s_write(t, name, z, zn / 2, 0, path);
}

#endif
