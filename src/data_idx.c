/* rumor — the IDX reader (Fashion-MNIST's format; see rumor_data_load_idx in data.h).
 *
 * Workload: once per process, on files of up to a few hundred MB, read in 1 MiB pieces.
 * Labels are read first, so the smaller file vouches for the count before the large
 * allocation, and a chooser keeps only the chosen images' pixels.
 *
 * The cache: a gzip-compressed IDX file is decompressed once into the cache directory
 * (RUMOR_CACHE_DIR, else $XDG_CACHE_HOME/rumor, else ~/.cache/rumor), so that many
 * peers on one machine read plain bytes instead of each inflating the whole training file.
 * An entry is named after the source's path, size, modification time and inode, so a changed
 * source gets a new entry; beside it a ".sum" file holds the entry's size and CRC-32, checked
 * before every use, so a corrupt or cut entry is rebuilt. Entries are written to a temporary
 * name and renamed (the .sum last), and one process builds while the others wait on a lock
 * file. Any failure of the cache falls back to reading the source itself: the cache can make
 * a load faster, never fail it.
 */
#include "data_internal.h"

#include "rumor/bytes.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define S_IDX_IMAGES_MAGIC 0x00000803u
#define S_IDX_LABELS_MAGIC 0x00000801u
#define S_IDX_LABEL_LIMIT  10u        /* data.h: an IDX label >= 10 is an error */
#define S_IDX_MAX_PIXELS   (1u << 24) /* per image */
#define S_FIRST_ALLOC      (1u << 24) /* elements allocated before data proves more exist */
#define S_CHUNK            (1u << 20) /* bytes per read */

typedef struct {
    uint32_t count;
    uint32_t rows, cols; /* images only */
} s_idx_header_t;

static int s_idx_read_header(gzFile gz, const char *path, bool images, s_idx_header_t *h,
                             rumor_errmsg_t *em)
{
    const char *kind = images ? "image" : "label";
    const uint32_t expect = images ? S_IDX_IMAGES_MAGIC : S_IDX_LABELS_MAGIC;
    const uint32_t dims = images ? 3 : 1;
    const size_t hlen = 4 + 4 * (size_t)dims;
    uint8_t b[16];
    size_t got;
    int rc = rumor_data_gz_read(gz, path, b, hlen, &got, em);
    if (rc) return rc;
    if (got == 0) return rumor_errmsg_set(em, RUMOR_ETRUNC, "%s: empty file", path);
    if (got >= 4) {
        const uint32_t m = rumor_load32be(b);
        const uint32_t type = (m >> 8) & 0xff, ndim = m & 0xff;
        if (m != expect) {
            if ((m >> 16) != 0 || (type != 0x08 && type != 0x09 && (type < 0x0b || type > 0x0e)))
                return rumor_errmsg_set(em, RUMOR_EFORMAT,
                                        "%s: bad magic 0x%08x (expected 0x%08x for an IDX %s "
                                        "file)",
                                        path, m, expect, kind);
            if (type != 0x08)
                return rumor_errmsg_set(em, RUMOR_EFORMAT,
                                        "%s: IDX element type 0x%02x is not supported (expected "
                                        "0x08, unsigned bytes, for an IDX %s file)",
                                        path, type, kind);
            return rumor_errmsg_set(em, RUMOR_EFORMAT,
                                    "%s: IDX file has %u dimension%s (expected %u for an IDX %s "
                                    "file%s)",
                                    path, ndim, ndim == 1 ? "" : "s", dims, kind,
                                    images && ndim == 1    ? "; this looks like a label file"
                                    : !images && ndim == 3 ? "; this looks like an image file"
                                                           : "");
        }
    }
    if (got < hlen)
        return rumor_errmsg_set(em, RUMOR_ETRUNC,
                                "%s: truncated: the file ends inside the %zu-byte IDX header "
                                "(after %zu bytes)",
                                path, hlen, got);
    h->count = rumor_load32be(b + 4);
    h->rows = images ? rumor_load32be(b + 8) : 1;
    h->cols = images ? rumor_load32be(b + 12) : 1;
    if (h->count == 0)
        return rumor_errmsg_set(em, RUMOR_EFORMAT, "%s: the header declares 0 %ss", path, kind);
    if (h->rows == 0 || h->cols == 0)
        return rumor_errmsg_set(em, RUMOR_EFORMAT, "%s: images of %ux%u pixels", path, h->rows,
                                h->cols);
    if ((uint64_t)h->rows * h->cols > S_IDX_MAX_PIXELS)
        return rumor_errmsg_set(em, RUMOR_ERANGE,
                                "%s: images of %ux%u pixels (at most %u pixels supported)", path,
                                h->rows, h->cols, S_IDX_MAX_PIXELS);
    return 0;
}

/* After the declared payload the file must end: extra bytes mean the header and the data
 * disagree, which a silent load would hide. */
static int s_idx_expect_end(gzFile gz, const char *path, uint32_t count, const char *kind,
                            rumor_errmsg_t *em)
{
    uint8_t extra;
    size_t got;
    const int rc = rumor_data_gz_read(gz, path, &extra, 1, &got, em);
    if (rc) return rc;
    if (got)
        return rumor_errmsg_set(em, RUMOR_EFORMAT,
                                "%s: unexpected data after the %u %ss the header declares", path,
                                count, kind);
    return 0;
}

static void s_conv_pixels(const uint8_t *src, size_t n, void *dst)
{
    rumor_data_pixels(src, n, dst);
}

static void s_copy_pixels(const uint8_t *src, size_t n, void *dst)
{
    memcpy(dst, src, n);
}

static void s_conv_labels(const uint8_t *src, size_t n, void *dst)
{
    int32_t *y = dst;
    for (size_t i = 0; i < n; i++) y[i] = src[i];
}

/* Reads total payload bytes into *out (elements of elem bytes, one per payload byte),
 * growing it as data arrives. *done < total on return means the file ended early. */
static int s_idx_read_payload(gzFile gz, const char *path, size_t total, size_t elem,
                              void (*conv)(const uint8_t *, size_t, void *), uint8_t *chunk,
                              void **out, size_t *done, rumor_errmsg_t *em)
{
    size_t cap = 0;
    *done = 0;
    while (*done < total) {
        const size_t want = total - *done < S_CHUNK ? total - *done : S_CHUNK;
        void *grown = rumor_data_grow(*out, &cap, *done + want, S_FIRST_ALLOC, total, elem);
        if (!grown)
            return rumor_errmsg_set(em, RUMOR_ENOMEM, "%s: out of memory for %zu values", path,
                                    total);
        *out = grown;
        size_t got;
        const int rc = rumor_data_gz_read(gz, path, chunk, want, &got, em);
        if (rc) return rc;
        conv(chunk, got, (char *)*out + *done * elem);
        *done += got;
        if (got < want) break;
    }
    return 0;
}

static int s_idx_truncated(const char *ipath, const s_idx_header_t *hi, size_t images,
                           rumor_errmsg_t *em)
{
    return rumor_errmsg_set(em, RUMOR_ETRUNC,
                            "%s: truncated: the header declares %u images of %ux%u pixels but "
                            "the file ends inside image %zu",
                            ipath, hi->count, hi->rows, hi->cols, images);
}

/* Reads every image of the file and keeps the ones choose picks, in its order, as rows of
 * ds->x; ds->y and ds->n follow. The kept pixels are first collected as bytes in file order,
 * so memory grows only with data that is really there, and become floats at the end. */
static int s_idx_read_chosen(gzFile gi, const char *ipath, const s_idx_header_t *hi,
                             const rumor_data_chooser_t *choose, rumor_dataset_t *ds,
                             uint8_t *chunk, rumor_errmsg_t *em)
{
    const uint32_t n = ds->n, dim = ds->dim;
    const uint32_t *rows = NULL;
    uint32_t m = 0;
    int rc = choose->fn(ds, choose->arg, &rows, &m, em);
    if (rc) return rc;
    /* slot[i]: 1 + where sample i goes, 0 when it is not kept. */
    uint32_t *slot = calloc(n, sizeof *slot), *dest = malloc(((size_t)m + 1) * sizeof *dest);
    int32_t *y = malloc(((size_t)m + 1) * sizeof *y);
    uint8_t *kept = NULL;
    size_t cap = 0;
    if (!slot || !dest || !y) {
        rc = rumor_errmsg_set(em, RUMOR_ENOMEM, "%s: out of memory", ipath);
        goto done;
    }
    for (uint32_t k = 0; k < m; k++) {
        if (rows[k] >= n || slot[rows[k]]) {
            rc = rumor_errmsg_set(em, RUMOR_EINVAL,
                                  "%s: chosen sample %u is out of range or chosen twice", ipath,
                                  rows[k]);
            goto done;
        }
        slot[rows[k]] = k + 1;
        y[k] = ds->y[rows[k]];
    }
    const size_t total = (size_t)n * dim;
    size_t pos = 0; /* pixels read so far */
    uint32_t nkept = 0;
    while (pos < total) {
        const size_t want = total - pos < S_CHUNK ? total - pos : S_CHUNK;
        size_t got;
        rc = rumor_data_gz_read(gi, ipath, chunk, want, &got, em);
        if (rc) goto done;
        for (size_t at = 0; at < got;) { /* one piece of one image at a time */
            const uint32_t i = (uint32_t)(pos / dim), o = (uint32_t)(pos % dim);
            const size_t len = dim - o < got - at ? dim - o : got - at;
            if (slot[i]) {
                if (o == 0) { /* the first piece of a kept image */
                    uint8_t *grown = rumor_data_grow(kept, &cap, ((size_t)nkept + 1) * dim,
                                                     S_FIRST_ALLOC, (size_t)m * dim, 1);
                    if (!grown) {
                        rc = rumor_errmsg_set(em, RUMOR_ENOMEM, "%s: out of memory", ipath);
                        goto done;
                    }
                    kept = grown;
                    dest[nkept++] = slot[i] - 1;
                }
                memcpy(kept + (size_t)(nkept - 1) * dim + o, chunk + at, len);
            }
            at += len;
            pos += len;
        }
        if (got < want) {
            rc = s_idx_truncated(ipath, hi, pos / dim, em);
            goto done;
        }
    }
    float *x = malloc(((size_t)m * dim + 1) * sizeof *x);
    if (!x) {
        rc = rumor_errmsg_set(em, RUMOR_ENOMEM, "%s: out of memory", ipath);
        goto done;
    }
    for (uint32_t j = 0; j < nkept; j++)
        rumor_data_pixels(kept + (size_t)j * dim, dim, x + (size_t)dest[j] * dim);
    free(ds->y);
    ds->x = x;
    ds->y = y;
    ds->n = m;
    y = NULL;
done:
    free(slot);
    free(dest);
    free(y);
    free(kept);
    return rc;
}

/* buf's n bytes moved to memory advised for huge pages, when that can be had: a batch reads
 * random rows of the set, and with 4 KiB pages nearly every row costs a TLB miss. Returns the
 * memory that holds them (buf itself, or a new block with buf freed). */
static uint8_t *s_huge_pages(uint8_t *buf, size_t n)
{
#ifdef MADV_HUGEPAGE
    const size_t huge = (size_t)1 << 21, size = (n + huge - 1) / huge * huge;
    uint8_t *h = buf && n ? aligned_alloc(huge, size) : NULL;
    if (!h) return buf;
    (void)madvise(h, size, MADV_HUGEPAGE); /* advice: without it the pages are small */
    memcpy(h, buf, n);
    free(buf);
    return h;
#else
    (void)n;
    return buf;
#endif
}

/* compact: every image, its pixels kept as bytes in ds->px (choose is NULL). */
static int s_load_idx(const char *ipath, const char *lpath, gzFile gi, gzFile gl,
                      const rumor_data_chooser_t *choose, int compact, rumor_dataset_t *ds,
                      uint8_t *chunk, rumor_errmsg_t *em)
{
    s_idx_header_t hi, hl;
    int rc = s_idx_read_header(gi, ipath, true, &hi, em);
    if (rc) return rc;
    rc = s_idx_read_header(gl, lpath, false, &hl, em);
    if (rc) return rc;
    if (hi.count != hl.count)
        return rumor_errmsg_set(em, RUMOR_EFORMAT,
                                "%s: count mismatch: the header declares %u labels but %s "
                                "declares %u images",
                                lpath, hl.count, ipath, hi.count);
    const uint32_t n = hi.count, dim = hi.rows * hi.cols;
    if ((uint64_t)n * dim > SIZE_MAX / sizeof(float))
        return rumor_errmsg_set(em, RUMOR_ERANGE, "%s: %u images of %u pixels do not fit in memory",
                                ipath, n, dim);

    /* Labels first: the smaller file vouches for the count before the big allocation. */
    size_t done;
    void *buf = NULL;
    rc = s_idx_read_payload(gl, lpath, n, sizeof(int32_t), s_conv_labels, chunk, &buf, &done, em);
    ds->y = buf;
    if (rc) return rc;
    if (done < n)
        return rumor_errmsg_set(em, RUMOR_ETRUNC,
                                "%s: truncated: the header declares %u labels but the file holds "
                                "%zu",
                                lpath, n, done);
    rc = s_idx_expect_end(gl, lpath, n, "label", em);
    if (rc) return rc;
    int32_t maxlabel = 0;
    for (uint32_t i = 0; i < n; i++) {
        if ((uint32_t)ds->y[i] >= S_IDX_LABEL_LIMIT)
            return rumor_errmsg_set(em, RUMOR_ERANGE,
                                    "%s: label %d of sample %u is out of range (expected < %u)",
                                    lpath, (int)ds->y[i], i, S_IDX_LABEL_LIMIT);
        if (ds->y[i] > maxlabel) maxlabel = ds->y[i];
    }

    ds->n = n;
    ds->dim = dim;
    ds->classes = (uint32_t)maxlabel + 1;
    if (choose) {
        rc = s_idx_read_chosen(gi, ipath, &hi, choose, ds, chunk, em);
    } else {
        const size_t total = (size_t)n * dim;
        buf = NULL;
        rc = s_idx_read_payload(gi, ipath, total, compact ? 1 : sizeof(float),
                                compact ? s_copy_pixels : s_conv_pixels, chunk, &buf, &done, em);
        if (compact) /* the bytes read: a truncated file holds fewer than its header says */
            ds->px = s_huge_pages(buf, done);
        else
            ds->x = buf;
        if (!rc && done < total) rc = s_idx_truncated(ipath, &hi, done / dim, em);
    }
    if (rc) return rc;
    return s_idx_expect_end(gi, ipath, n, "image", em);
}

/* ---- the cache of decompressed files ------------------------------------------------- */

/* The cache directory into dir (created if missing); 0, or -1 when there is none (HOME and
 * XDG_CACHE_HOME unset, RUMOR_CACHE_DIR set but empty, or it cannot be created). */
static int s_cache_dir(char *dir, size_t cap)
{
    const char *own = getenv("RUMOR_CACHE_DIR"), *xdg = getenv("XDG_CACHE_HOME");
    const char *home = getenv("HOME");
    char parent[PATH_MAX] = "";
    int n;
    if (own) {
        if (!*own) return -1;
        n = snprintf(dir, cap, "%s", own);
    } else if (xdg && *xdg) {
        snprintf(parent, sizeof parent, "%s", xdg);
        n = snprintf(dir, cap, "%s/rumor", xdg);
    } else if (home && *home) {
        snprintf(parent, sizeof parent, "%s/.cache", home);
        n = snprintf(dir, cap, "%s/.cache/rumor", home);
    } else {
        return -1;
    }
    if (n < 0 || (size_t)n >= cap) return -1;
    if (*parent && mkdir(parent, 0700) != 0 && errno != EEXIST) return -1;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) return -1;
    return 0;
}

/* FNV-1a over n bytes, continuing from h. */
static uint64_t s_fnv(uint64_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * UINT64_C(0x100000001b3);
    return h;
}

/* The CRC-32 and size of the file at path, read through chunk (S_CHUNK bytes); 0 or -1. */
static int s_file_crc(const char *path, uint8_t *chunk, uint32_t *crc, uint64_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    uLong c = crc32(0L, Z_NULL, 0);
    uint64_t total = 0;
    size_t got;
    while ((got = fread(chunk, 1, S_CHUNK, f)) > 0) {
        c = crc32(c, chunk, (uInt)got);
        total += got;
    }
    const int bad = ferror(f);
    fclose(f);
    *crc = (uint32_t)c;
    *size = total;
    return bad ? -1 : 0;
}

/* 1 when the entry at path matches the size and CRC-32 its .sum file records. */
static int s_entry_valid(const char *path, const char *sum, uint8_t *chunk)
{
    FILE *f = fopen(sum, "r");
    if (!f) return 0;
    unsigned long long want_size;
    unsigned want_crc;
    const int ok = fscanf(f, "rumor-idx-cache 1 %llu %8x", &want_size, &want_crc) == 2;
    fclose(f);
    uint32_t crc;
    uint64_t size;
    return ok && s_file_crc(path, chunk, &crc, &size) == 0 && size == want_size && crc == want_crc;
}

/* Writes text[0..len) to path through a temporary file renamed into place; 0 or -1 (nothing
 * left behind). */
static int s_write_atomic(const char *path, const char *text, size_t len)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.XXXXXX", path) >= (int)sizeof tmp) return -1;
    const int fd = mkstemp(tmp);
    if (fd < 0) return -1;
    const int ok = write(fd, text, len) == (ssize_t)len;
    if (close(fd) != 0 || !ok || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* Decompresses src into the entry at path and records its size and CRC-32 in sum; 0 or -1. */
static int s_entry_build(const char *src, const char *path, const char *sum, uint8_t *chunk)
{
    gzFile gz;
    if (rumor_data_gz_open(src, &gz, NULL) != 0) return -1;
    char tmp[PATH_MAX];
    int rc = -1;
    if (snprintf(tmp, sizeof tmp, "%s.XXXXXX", path) >= (int)sizeof tmp) goto done;
    const int fd = mkstemp(tmp);
    if (fd < 0) goto done;
    uLong crc = crc32(0L, Z_NULL, 0);
    uint64_t total = 0;
    size_t got = 0;
    int ok;
    do {
        ok = rumor_data_gz_read(gz, src, chunk, S_CHUNK, &got, NULL) == 0 &&
             write(fd, chunk, got) == (ssize_t)got;
        if (ok) crc = crc32(crc, chunk, (uInt)got);
        total += got;
    } while (ok && got == S_CHUNK);
    /* a gzip stream that ends early is the reader's error to report, on the source */
    ok = ok && gzeof(gz) && !gzdirect(gz);
    if (close(fd) != 0 || !ok || rename(tmp, path) != 0) {
        unlink(tmp);
        goto done;
    }
    char text[64];
    const int n = snprintf(text, sizeof text, "rumor-idx-cache 1 %llu %08x\n",
                           (unsigned long long)total, (unsigned)crc);
    rc = s_write_atomic(sum, text, (size_t)n);
done:
    gzclose(gz);
    return rc;
}

/* The path of a valid cached, decompressed copy of the gzip file src into out (built when
 * missing, stale or corrupt); 0, or -1 when src is to be read itself (no cache directory, src
 * not gzip-compressed, or any failure of the cache). */
static int s_cached(const char *src, char *out, size_t cap, uint8_t *chunk)
{
    char dir[PATH_MAX], real[PATH_MAX], sum[PATH_MAX + 8], lock[PATH_MAX + 8];
    struct stat st;
    uint8_t magic[2];
    FILE *f = fopen(src, "rb");
    if (!f) return -1;
    const int gz = fread(magic, 1, 2, f) == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
    fclose(f);
    if (!gz || stat(src, &st) != 0 || !realpath(src, real) || s_cache_dir(dir, sizeof dir))
        return -1;
    uint64_t h = s_fnv(UINT64_C(0xcbf29ce484222325), real, strlen(real));
    const uint64_t id[4] = {(uint64_t)st.st_size, (uint64_t)st.st_mtim.tv_sec,
                            (uint64_t)st.st_mtim.tv_nsec, (uint64_t)st.st_ino};
    h = s_fnv(h, id, sizeof id);
    const char *base = strrchr(real, '/') ? strrchr(real, '/') + 1 : real;
    const size_t blen = strlen(base) > 3 && !strcmp(base + strlen(base) - 3, ".gz")
                            ? strlen(base) - 3
                            : strlen(base);
    const int n =
        snprintf(out, cap, "%s/%.*s.%016llx", dir, (int)blen, base, (unsigned long long)h);
    if (n < 0 || (size_t)n >= cap || (size_t)n + 8 > sizeof sum) return -1;
    snprintf(sum, sizeof sum, "%s.sum", out);
    snprintf(lock, sizeof lock, "%s.lock", out);
    if (s_entry_valid(out, sum, chunk)) return 0;
    const int fd = open(lock, O_RDWR | O_CREAT, 0600);
    if (fd < 0) return -1;
    int rc = -1;
    if (flock(fd, LOCK_EX) == 0) { /* another process may have built it meanwhile */
        rc = s_entry_valid(out, sum, chunk) ? 0 : s_entry_build(src, out, sum, chunk);
        flock(fd, LOCK_UN);
    }
    close(fd);
    return rc;
}

/* rumor_data_load_idx, compact (s_load_idx) or not. */
static int s_load_files(const char *images_path, const char *labels_path,
                        const rumor_data_chooser_t *choose, int compact, rumor_dataset_t **out,
                        rumor_errmsg_t *em)
{
    if (!out) return rumor_errmsg_set(em, RUMOR_EINVAL, "rumor_data_load_idx: out is NULL");
    *out = NULL;
    if (!images_path || !labels_path)
        return rumor_errmsg_set(em, RUMOR_EINVAL, "rumor_data_load_idx: path is NULL");
    gzFile gi = NULL, gl = NULL;
    rumor_dataset_t *ds = calloc(1, sizeof *ds);
    uint8_t *chunk = malloc(S_CHUNK);
    int rc = RUMOR_ENOMEM;
    if (!ds || !chunk) {
        rumor_errmsg_set(em, rc, "%s: out of memory", images_path);
        goto done;
    }
    /* Messages name the caller's files, whichever copy is read. */
    char icache[PATH_MAX], lcache[PATH_MAX];
    const int ic = s_cached(images_path, icache, sizeof icache, chunk) == 0;
    const int lc = s_cached(labels_path, lcache, sizeof lcache, chunk) == 0;
    rc = rumor_data_gz_open(ic ? icache : images_path, &gi, em);
    if (rc) goto done;
    rc = rumor_data_gz_open(lc ? lcache : labels_path, &gl, em);
    if (rc) goto done;
    rc = s_load_idx(images_path, labels_path, gi, gl, choose, compact, ds, chunk, em);
done:
    if (gi) gzclose(gi);
    if (gl) gzclose(gl);
    free(chunk);
    if (rc)
        rumor_dataset_destroy(&ds);
    else
        *out = ds;
    return rc;
}

int rumor_data_load_idx(const char *images_path, const char *labels_path,
                        const rumor_data_chooser_t *choose, rumor_dataset_t **out,
                        rumor_errmsg_t *em)
{
    return s_load_files(images_path, labels_path, choose, 0, out, em);
}

/* rumor_data_load_fashion, compact or not. */
static int s_load_fashion(const char *dir, const char *split, const rumor_data_chooser_t *choose,
                          int compact, rumor_dataset_t **out, rumor_errmsg_t *em)
{
    if (!out)
        return rumor_errmsg_set(em, RUMOR_EINVAL, "%s: out is NULL",
                                compact ? "rumor_data_load_fashion_compact"
                                        : "rumor_data_load_fashion");
    *out = NULL;
    if (!split || (strcmp(split, "train") != 0 && strcmp(split, "t10k") != 0))
        return rumor_errmsg_set(em, RUMOR_EINVAL,
                                "unknown Fashion-MNIST split '%s' (expected train or t10k)",
                                split ? split : "(null)");
    if (!dir) dir = RUMOR_FASHION_MNIST_DIR;
    char ipath[4096], lpath[4096];
    const int a = snprintf(ipath, sizeof ipath, "%s/%s-images-idx3-ubyte.gz", dir, split);
    const int b = snprintf(lpath, sizeof lpath, "%s/%s-labels-idx1-ubyte.gz", dir, split);
    if (a < 0 || b < 0 || (size_t)a >= sizeof ipath || (size_t)b >= sizeof lpath)
        return rumor_errmsg_set(em, RUMOR_EINVAL, "%s: directory name too long", dir);
    const int rc = s_load_files(ipath, lpath, choose, compact, out, em);
    if (rc == RUMOR_EIO && em) {
        const size_t used = strnlen(em->msg, sizeof em->msg - 1);
        const int w = snprintf(em->msg + used, sizeof em->msg - used,
                               " (Debian's dataset-fashion-mnist package installs it in %s)",
                               RUMOR_FASHION_MNIST_DIR);
        (void)w; /* a cut-off hint is harmless */
    }
    return rc;
}

int rumor_data_load_fashion(const char *dir, const char *split, const rumor_data_chooser_t *choose,
                            rumor_dataset_t **out, rumor_errmsg_t *em)
{
    return s_load_fashion(dir, split, choose, 0, out, em);
}

int rumor_data_load_fashion_compact(const char *dir, const char *split, rumor_dataset_t **out,
                                    rumor_errmsg_t *em)
{
    return s_load_fashion(dir, split, NULL, 1, out, em);
}
