/* rumor — datasets, partitions and minibatch sampling (see data.h).
 *
 * Workload: the readers run once per process on files up to a few hundred MB and allocate;
 * rumor_sampler_next and rumor_data_gather run every round and never allocate.
 *
 * Files are untrusted. The readers never size an allocation from a header alone: buffers
 * grow as bytes actually arrive, so a header that claims four billion images costs no more
 * memory than the file really holds. Every failure returns a RUMOR_E* code and, through the
 * optional rumor_errmsg_t, names the file and what was wrong with it.
 *
 * Error codes used by the readers:
 *   RUMOR_EIO      the file cannot be opened or read (missing, a directory, I/O error)
 *   RUMOR_EFORMAT  bad magic, wrong dimension count, corrupt gzip data, image/label count
 *                  mismatch, zero images, trailing bytes, malformed LIBSVM text
 *   RUMOR_ETRUNC   the file ends before the data its header declares
 *   RUMOR_ERANGE   a value beyond its bound (IDX label >= 10, image too large, LIBSVM index
 *                  or value overflow, a dense matrix too large to hold)
 *   RUMOR_ENOMEM   allocation failed
 */
#include "rumor/data.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define S_IDX_IMAGES_MAGIC 0x00000803u
#define S_IDX_LABELS_MAGIC 0x00000801u
#define S_IDX_LABEL_LIMIT  10u        /* data.h: an IDX label >= 10 is an error */
#define S_IDX_MAX_PIXELS   (1u << 24) /* per image */
#define S_CHUNK            (1u << 20) /* bytes per read */
#define S_FIRST_ALLOC      (1u << 24) /* elements allocated before data proves more exist */
#define S_MAX_FLOATS       ((uint64_t)1 << 31) /* dense matrix bound: 8 GiB of floats */
#define S_MAX_CLASSES      65536u              /* distinct LIBSVM labels */

/* --------------------------------------------------------------------------------------------
 * Reading files through zlib (plain files pass through gzread unchanged).
 */

static int s_gz_open(const char *path, gzFile *out, rumor_errmsg_t *em)
{
    errno = 0;
    gzFile gz = gzopen(path, "rb");
    if (!gz) {
        if (errno == 0 || errno == ENOMEM)
            return rumor_errmsg_set(em, RUMOR_ENOMEM, "%s: out of memory opening the file", path);
        return rumor_errmsg_set(em, RUMOR_EIO, "%s: cannot open: %s", path, strerror(errno));
    }
    (void)gzbuffer(gz, 1u << 17); /* larger reads than zlib's 8 KB default pay off here */
    *out = gz;
    return 0;
}

/* Reads up to len bytes. A short count means end of file, including the end of a gzip
 * stream that stops early (the caller reports that as truncation with its own context).
 * Returns 0 or an error for unreadable or corrupt input. */
static int s_gz_read(gzFile gz, const char *path, void *buf, size_t len, size_t *got,
                     rumor_errmsg_t *em)
{
    size_t done = 0;
    while (done < len) {
        const size_t want = len - done < (1u << 30) ? len - done : (1u << 30);
        errno = 0;
        const int r = gzread(gz, (char *)buf + done, (unsigned)want);
        if (r < 0) {
            const int sys_errno = errno;
            int zerr = Z_OK;
            const char *zmsg = gzerror(gz, &zerr);
            *got = done;
            if (zerr == Z_ERRNO)
                return rumor_errmsg_set(em, RUMOR_EIO, "%s: read failed: %s", path,
                                        strerror(sys_errno ? sys_errno : EIO));
            if (zerr == Z_MEM_ERROR)
                return rumor_errmsg_set(em, RUMOR_ENOMEM, "%s: out of memory decompressing", path);
            if (zerr == Z_BUF_ERROR) return 0; /* gzip stream cut short: a truncation */
            return rumor_errmsg_set(em, RUMOR_EFORMAT, "%s: corrupt gzip data: %s", path,
                                    zmsg ? zmsg : "unknown zlib error");
        }
        if (r == 0) break;
        done += (size_t)r;
    }
    *got = done;
    return 0;
}

/* Returns buf grown to hold at least need elements of elem bytes (capacity doubling from
 * first, never beyond limit), or NULL with buf untouched when that fails. */
static void *s_grow(void *buf, size_t *cap, size_t need, size_t first, size_t limit, size_t elem)
{
    if (need <= *cap) return buf;
    size_t ncap = *cap ? *cap : (first < limit ? first : limit);
    if (ncap == 0) ncap = 1;
    while (ncap < need) ncap = ncap > limit / 2 ? limit : ncap * 2;
    if (ncap < need || ncap > SIZE_MAX / elem) return NULL;
    void *p = realloc(buf, ncap * elem);
    if (p) *cap = ncap;
    return p;
}

/* --------------------------------------------------------------------------------------------
 * IDX
 */

static uint32_t s_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

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
    int rc = s_gz_read(gz, path, b, hlen, &got, em);
    if (rc) return rc;
    if (got == 0) return rumor_errmsg_set(em, RUMOR_ETRUNC, "%s: empty file", path);
    if (got >= 4) {
        const uint32_t m = s_be32(b);
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
    h->count = s_be32(b + 4);
    h->rows = images ? s_be32(b + 8) : 1;
    h->cols = images ? s_be32(b + 12) : 1;
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
    const int rc = s_gz_read(gz, path, &extra, 1, &got, em);
    if (rc) return rc;
    if (got)
        return rumor_errmsg_set(em, RUMOR_EFORMAT,
                                "%s: unexpected data after the %u %ss the header declares", path,
                                count, kind);
    return 0;
}

static void s_conv_pixels(const uint8_t *restrict src, size_t n, void *restrict dst)
{
    float *restrict x = dst;
    for (size_t i = 0; i < n; i++) x[i] = (float)src[i] / 255.0f;
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
        void *grown = s_grow(*out, &cap, *done + want, S_FIRST_ALLOC, total, elem);
        if (!grown)
            return rumor_errmsg_set(em, RUMOR_ENOMEM, "%s: out of memory for %zu values", path,
                                    total);
        *out = grown;
        size_t got;
        const int rc = s_gz_read(gz, path, chunk, want, &got, em);
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
        rc = s_gz_read(gi, ipath, chunk, want, &got, em);
        if (rc) goto done;
        for (size_t at = 0; at < got;) { /* one piece of one image at a time */
            const uint32_t i = (uint32_t)(pos / dim), o = (uint32_t)(pos % dim);
            const size_t len = dim - o < got - at ? dim - o : got - at;
            if (slot[i]) {
                if (o == 0) { /* the first piece of a kept image */
                    uint8_t *grown = s_grow(kept, &cap, ((size_t)nkept + 1) * dim, S_FIRST_ALLOC,
                                            (size_t)m * dim, 1);
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
        s_conv_pixels(kept + (size_t)j * dim, dim, x + (size_t)dest[j] * dim);
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

static int s_load_idx(const char *ipath, const char *lpath, gzFile gi, gzFile gl,
                      const rumor_data_chooser_t *choose, rumor_dataset_t *ds, uint8_t *chunk,
                      rumor_errmsg_t *em)
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
        rc = s_idx_read_payload(gi, ipath, total, sizeof(float), s_conv_pixels, chunk, &buf, &done,
                                em);
        ds->x = buf;
        if (!rc && done < total) rc = s_idx_truncated(ipath, &hi, done / dim, em);
    }
    if (rc) return rc;
    return s_idx_expect_end(gi, ipath, n, "image", em);
}

int rumor_data_load_idx(const char *images_path, const char *labels_path,
                        const rumor_data_chooser_t *choose, rumor_dataset_t **out,
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
    rc = s_gz_open(images_path, &gi, em);
    if (rc) goto done;
    rc = s_gz_open(labels_path, &gl, em);
    if (rc) goto done;
    rc = s_load_idx(images_path, labels_path, gi, gl, choose, ds, chunk, em);
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

int rumor_data_load_fashion(const char *dir, const char *split, const rumor_data_chooser_t *choose,
                            rumor_dataset_t **out, rumor_errmsg_t *em)
{
    if (!out) return rumor_errmsg_set(em, RUMOR_EINVAL, "rumor_data_load_fashion: out is NULL");
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
    const int rc = rumor_data_load_idx(ipath, lpath, choose, out, em);
    if (rc == RUMOR_EIO && em) {
        const size_t used = strnlen(em->msg, sizeof em->msg - 1);
        const int w = snprintf(em->msg + used, sizeof em->msg - used,
                               " (Debian's dataset-fashion-mnist package installs it in %s)",
                               RUMOR_FASHION_MNIST_DIR);
        (void)w; /* a cut-off hint is harmless */
    }
    return rc;
}

void rumor_dataset_destroy(rumor_dataset_t **ds_p)
{
    if (!ds_p || !*ds_p) return;
    free((*ds_p)->x);
    free((*ds_p)->y);
    free(*ds_p);
    *ds_p = NULL;
}

/* --------------------------------------------------------------------------------------------
 * LIBSVM
 */

typedef struct {
    uint32_t idx; /* 0-based */
    float val;
} s_entry_t;

typedef struct {
    const char *path;
    const char *line; /* start of the current line */
    size_t lineno;    /* 1-based */
    rumor_errmsg_t *em;
} s_svm_ctx_t;

static bool s_is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* Copies a token into out for an error message, with unprintable bytes shown as '?'. */
static const char *s_snippet(char *out, size_t cap, const char *tok, size_t len)
{
    size_t k = 0;
    for (; k < len && k + 4 < cap; k++) {
        const unsigned char c = (unsigned char)tok[k];
        out[k] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    if (k < len) {
        memcpy(out + k, "...", 3);
        k += 3;
    }
    out[k] = '\0';
    return out;
}

static int s_svm_err(const s_svm_ctx_t *c, int code, const char *at, const char *fmt,
                     const char *tok, size_t toklen)
{
    char snip[48], what[256];
    s_snippet(snip, sizeof snip, tok, toklen);
    snprintf(what, sizeof what, fmt, snip);
    return rumor_errmsg_set(c->em, code, "%s:%zu:%zu: %s", c->path, c->lineno,
                            (size_t)(at - c->line) + 1, what);
}

/* Parses a whole token [p, end) as a finite double; false if it is not one. The token is
 * followed by a blank, a newline, '#' or the buffer's terminating NUL, none of which strtod
 * accepts, so strtod cannot read past it. */
static bool s_parse_double(const char *p, const char *end, double *v)
{
    if (p == end || s_is_space(*p) || *p == '\n') return false;
    char *e;
    errno = 0;
    *v = strtod(p, &e);
    if (e != end) return false;
    return isfinite(*v) != 0;
}

static int s_cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef struct {
    s_entry_t *ent;
    size_t nent, cap_ent;
    size_t *row; /* row[i] = first entry of sample i; row[n] = nent */
    size_t cap_row;
    double *label;
    size_t cap_label;
    size_t n;
    uint32_t maxidx; /* largest 1-based index seen */
} s_svm_t;

/* Parses one line [p, end) that holds a sample (blank lines are skipped by the caller). */
static int s_svm_line(s_svm_t *s, s_svm_ctx_t *c, const char *p, const char *end)
{
    const char *tok = p;
    while (p < end && !s_is_space(*p)) p++;
    double label;
    if (!s_parse_double(tok, p, &label))
        return s_svm_err(c, RUMOR_EFORMAT, tok, "expected a numeric label, got '%s'", tok,
                         (size_t)(p - tok));
    if (s->n >= UINT32_MAX)
        return rumor_errmsg_set(c->em, RUMOR_ERANGE, "%s:%zu: more than %u samples", c->path,
                                c->lineno, UINT32_MAX);
    double *label_buf = s_grow(s->label, &s->cap_label, s->n + 1, 1024, SIZE_MAX, sizeof(double));
    if (label_buf) s->label = label_buf;
    size_t *row_buf = s_grow(s->row, &s->cap_row, s->n + 2, 1024, SIZE_MAX, sizeof(size_t));
    if (row_buf) s->row = row_buf;
    if (!label_buf || !row_buf)
        return rumor_errmsg_set(c->em, RUMOR_ENOMEM, "%s:%zu: out of memory", c->path, c->lineno);
    s->label[s->n] = label;
    s->row[s->n] = s->nent;

    uint32_t prev = 0;
    for (;;) {
        while (p < end && s_is_space(*p)) p++;
        if (p == end) break;
        tok = p;
        const char *colon = NULL;
        while (p < end && !s_is_space(*p)) {
            if (*p == ':' && !colon) colon = p;
            p++;
        }
        const size_t toklen = (size_t)(p - tok);
        if (!colon)
            return s_svm_err(c, RUMOR_EFORMAT, tok, "expected index:value, got '%s'", tok, toklen);
        if (colon - tok == 3 && memcmp(tok, "qid", 3) == 0)
            return s_svm_err(c, RUMOR_EFORMAT, tok,
                             "'%s': ranking files with qid are not supported", tok, toklen);
        uint64_t idx = 0;
        const char *q = tok;
        for (; q < colon && *q >= '0' && *q <= '9'; q++) {
            idx = idx * 10 + (uint64_t)(*q - '0');
            if (idx > UINT32_MAX)
                return s_svm_err(c, RUMOR_ERANGE, tok, "feature index in '%s' is too large", tok,
                                 toklen);
        }
        if (q == tok || q != colon)
            return s_svm_err(c, RUMOR_EFORMAT, tok,
                             "expected a feature index (a positive integer) in '%s'", tok, toklen);
        if (idx == 0)
            return s_svm_err(c, RUMOR_EFORMAT, tok, "feature index 0 in '%s' (indices start at 1)",
                             tok, toklen);
        if (idx <= prev) {
            char msg[96];
            snprintf(msg, sizeof msg, "feature index %u after %u in '%%s' (indices must ascend)",
                     (unsigned)idx, prev);
            return s_svm_err(c, RUMOR_EFORMAT, tok, msg, tok, toklen);
        }
        double v;
        if (!s_parse_double(colon + 1, p, &v))
            return s_svm_err(c, RUMOR_EFORMAT, colon + 1, "expected a finite value in '%s'", tok,
                             toklen);
        if (fabs(v) > FLT_MAX)
            return s_svm_err(c, RUMOR_ERANGE, colon + 1, "value in '%s' overflows a float", tok,
                             toklen);
        s_entry_t *ent =
            s_grow(s->ent, &s->cap_ent, s->nent + 1, 4096, SIZE_MAX, sizeof(s_entry_t));
        if (!ent)
            return rumor_errmsg_set(c->em, RUMOR_ENOMEM, "%s:%zu: out of memory", c->path,
                                    c->lineno);
        s->ent = ent;
        s->ent[s->nent++] = (s_entry_t){(uint32_t)idx - 1, (float)v};
        prev = (uint32_t)idx;
    }
    if (prev > s->maxidx) s->maxidx = prev;
    s->n++;
    s->row[s->n] = s->nent;
    return 0;
}

static int s_read_all(const char *path, char **out, size_t *len, rumor_errmsg_t *em)
{
    gzFile gz;
    int rc = s_gz_open(path, &gz, em);
    if (rc) return rc;
    char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        char *grown = s_grow(buf, &cap, n + S_CHUNK + 1, 2 * S_CHUNK, SIZE_MAX, 1);
        if (!grown) {
            rc = rumor_errmsg_set(em, RUMOR_ENOMEM, "%s: out of memory", path);
            break;
        }
        buf = grown;
        size_t got;
        rc = s_gz_read(gz, path, buf + n, S_CHUNK, &got, em);
        if (rc) break;
        n += got;
        if (got < S_CHUNK) break;
    }
    /* A gzip stream cut short is reported by zlib only as an early end; say so. */
    int zerr = Z_OK;
    (void)gzerror(gz, &zerr);
    if (!rc && zerr == Z_BUF_ERROR)
        rc = rumor_errmsg_set(em, RUMOR_ETRUNC, "%s: truncated: the gzip stream ends early", path);
    gzclose(gz);
    if (rc) {
        free(buf);
        return rc;
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}

static int s_load_libsvm(const char *path, uint32_t dim_hint, s_svm_t *s, rumor_dataset_t *ds,
                         rumor_errmsg_t *em)
{
    char *text;
    size_t len;
    int rc = s_read_all(path, &text, &len, em);
    if (rc) return rc;
    s_svm_ctx_t c = {.path = path, .line = text, .lineno = 0, .em = em};
    const char *p = text, *const stop = text + len;
    while (p < stop && !rc) {
        c.line = p;
        c.lineno++;
        const char *nl = memchr(p, '\n', (size_t)(stop - p));
        const char *eol = nl ? nl : stop;
        const char *hash = memchr(p, '#', (size_t)(eol - p));
        const char *end = hash ? hash : eol;
        const char *q = p;
        while (q < end && s_is_space(*q)) q++;
        if (q < end) rc = s_svm_line(s, &c, q, end);
        p = nl ? nl + 1 : stop;
    }
    free(text);
    if (rc) return rc;
    if (s->n == 0) return rumor_errmsg_set(em, RUMOR_EFORMAT, "%s: no samples", path);
    const uint32_t dim = dim_hint > s->maxidx ? dim_hint : s->maxidx;
    if (dim == 0)
        return rumor_errmsg_set(em, RUMOR_EFORMAT,
                                "%s: no features in any sample (and no dimension given)", path);
    if ((uint64_t)s->n * dim > S_MAX_FLOATS)
        return rumor_errmsg_set(em, RUMOR_ERANGE,
                                "%s: %zu samples x %u features would need %.1f GiB as dense "
                                "floats (at most %.0f GiB)",
                                path, s->n, dim, (double)s->n * dim * 4.0 / (1u << 30),
                                (double)S_MAX_FLOATS * 4.0 / (1u << 30));

    /* Distinct labels in ascending order become classes 0..k-1. */
    double *uniq = malloc(s->n * sizeof *uniq);
    if (!uniq) return rumor_errmsg_set(em, RUMOR_ENOMEM, "%s: out of memory", path);
    memcpy(uniq, s->label, s->n * sizeof *uniq);
    qsort(uniq, s->n, sizeof *uniq, s_cmp_double);
    size_t k = 0;
    for (size_t i = 0; i < s->n; i++)
        if (k == 0 || uniq[i] != uniq[k - 1]) uniq[k++] = uniq[i];
    if (k > S_MAX_CLASSES) {
        free(uniq);
        return rumor_errmsg_set(em, RUMOR_ERANGE,
                                "%s: %zu distinct labels (at most %u; is this a regression file?)",
                                path, k, S_MAX_CLASSES);
    }

    ds->x = calloc((size_t)s->n * dim, sizeof(float));
    ds->y = malloc(s->n * sizeof(int32_t));
    if (!ds->x || !ds->y) {
        free(uniq);
        return rumor_errmsg_set(em, RUMOR_ENOMEM, "%s: out of memory for %zu x %u floats", path,
                                s->n, dim);
    }
    for (size_t i = 0; i < s->n; i++) {
        const double *hit = bsearch(&s->label[i], uniq, k, sizeof *uniq, s_cmp_double);
        RUMOR_ASSERT(hit);
        ds->y[i] = (int32_t)(hit - uniq);
        float *row = ds->x + i * dim;
        for (size_t e = s->row[i]; e < s->row[i + 1]; e++) row[s->ent[e].idx] = s->ent[e].val;
    }
    free(uniq);
    ds->n = (uint32_t)s->n;
    ds->dim = dim;
    ds->classes = (uint32_t)k;
    return 0;
}

int rumor_data_load_libsvm(const char *path, uint32_t dim_hint, rumor_dataset_t **out,
                           rumor_errmsg_t *em)
{
    if (!out) return rumor_errmsg_set(em, RUMOR_EINVAL, "rumor_data_load_libsvm: out is NULL");
    *out = NULL;
    if (!path) return rumor_errmsg_set(em, RUMOR_EINVAL, "rumor_data_load_libsvm: path is NULL");
    rumor_dataset_t *ds = calloc(1, sizeof *ds);
    if (!ds) return rumor_errmsg_set(em, RUMOR_ENOMEM, "%s: out of memory", path);
    s_svm_t s = {0};
    const int rc = s_load_libsvm(path, dim_hint, &s, ds, em);
    free(s.ent);
    free(s.row);
    free(s.label);
    if (rc)
        rumor_dataset_destroy(&ds);
    else
        *out = ds;
    return rc;
}

/* --------------------------------------------------------------------------------------------
 * Synthetic data
 */

/* Class c's mean is sep * u_c with u_c uniform on the unit sphere, drawn in class order from
 * the stream (seed, 0, 0, DATA); in high dimension the directions are nearly orthogonal, so
 * means sit about sep * sqrt(2) apart against unit noise per coordinate. Sample i has label
 * i mod classes (exactly balanced) and its noise from its own stream (seed, 0, 1 + i, DATA),
 * so the first m samples are the same whatever n is: a larger draw extends a smaller one,
 * and a train/test pair can be cut from one draw. */
int rumor_data_synthetic(uint32_t n, uint32_t dim, uint32_t classes, double sep, uint64_t seed,
                         rumor_dataset_t **out)
{
    if (!out) return RUMOR_EINVAL;
    *out = NULL;
    if (n == 0 || dim == 0 || classes == 0 || !(sep >= 0.0) || !isfinite(sep)) return RUMOR_EINVAL;
    if ((uint64_t)n * dim > S_MAX_FLOATS || (uint64_t)classes * dim > S_MAX_FLOATS)
        return RUMOR_ERANGE;
    rumor_dataset_t *ds = calloc(1, sizeof *ds);
    float *mean = malloc((size_t)classes * dim * sizeof *mean);
    if (ds) {
        ds->x = malloc((size_t)n * dim * sizeof *ds->x);
        ds->y = malloc((size_t)n * sizeof *ds->y);
    }
    if (!ds || !mean || !ds->x || !ds->y) {
        free(mean);
        rumor_dataset_destroy(&ds);
        return RUMOR_ENOMEM;
    }
    rumor_rng_t r;
    rumor_rng_seed(&r, seed, 0, 0, RUMOR_RNG_DATA);
    for (uint32_t c = 0; c < classes; c++) {
        float *m = mean + (size_t)c * dim;
        double nrm2 = 0.0;
        for (uint32_t j = 0; j < dim; j++) {
            const double g = rumor_rng_normal(&r);
            m[j] = (float)g;
            nrm2 += g * g;
        }
        const double scale = nrm2 > 0.0 ? sep / sqrt(nrm2) : 0.0;
        for (uint32_t j = 0; j < dim; j++) m[j] = (float)(m[j] * scale);
    }
    for (uint32_t i = 0; i < n; i++) {
        const uint32_t c = i % classes;
        const float *m = mean + (size_t)c * dim;
        float *x = ds->x + (size_t)i * dim;
        rumor_rng_seed(&r, seed, 0, 1 + (uint64_t)i, RUMOR_RNG_DATA);
        for (uint32_t j = 0; j < dim; j++) x[j] = m[j] + (float)rumor_rng_normal(&r);
        ds->y[i] = (int32_t)c;
    }
    free(mean);
    ds->n = n;
    ds->dim = dim;
    ds->classes = classes;
    *out = ds;
    return 0;
}

void rumor_data_gather(const rumor_dataset_t *ds, const uint32_t *idx, uint32_t b, float *x,
                       int32_t *y)
{
    const size_t dim = ds->dim;
    for (uint32_t k = 0; k < b; k++) {
        const uint32_t i = idx[k];
        RUMOR_ASSERT(i < ds->n);
        memcpy(x + (size_t)k * dim, ds->x + (size_t)i * dim, dim * sizeof(float));
        if (y) y[k] = ds->y[i];
    }
}

rumor_dataset_t *rumor_data_subset(const rumor_dataset_t *ds, const uint32_t *idx, uint32_t n)
{
    RUMOR_ASSERT(idx || n <= ds->n);
    rumor_dataset_t *out = calloc(1, sizeof *out);
    if (!out) return NULL;
    *out = (rumor_dataset_t){.n = n, .dim = ds->dim, .classes = ds->classes};
    out->x = malloc((n ? (size_t)n * ds->dim : 1) * sizeof *out->x);
    out->y = malloc((n ? n : 1) * sizeof *out->y);
    if (!out->x || !out->y) {
        rumor_dataset_destroy(&out);
        return NULL;
    }
    if (idx) {
        rumor_data_gather(ds, idx, n, out->x, out->y);
    } else {
        memcpy(out->x, ds->x, (size_t)n * ds->dim * sizeof *out->x);
        memcpy(out->y, ds->y, (size_t)n * sizeof *out->y);
    }
    return out;
}

/* --------------------------------------------------------------------------------------------
 * Partitions
 */

static rumor_partition_t *s_partition_new(uint32_t peers, uint32_t n)
{
    rumor_partition_t *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->peers = peers;
    p->off = malloc(((size_t)peers + 1) * sizeof *p->off);
    p->idx = malloc((size_t)n * sizeof *p->idx);
    if (!p->off || !p->idx) rumor_partition_destroy(&p);
    return p;
}

void rumor_partition_destroy(rumor_partition_t **p_p)
{
    if (!p_p || !*p_p) return;
    free((*p_p)->off);
    free((*p_p)->idx);
    free(*p_p);
    *p_p = NULL;
}

int rumor_data_partition_iid(const rumor_dataset_t *ds, uint32_t peers, uint64_t seed,
                             rumor_partition_t **out)
{
    if (!out) return RUMOR_EINVAL;
    *out = NULL;
    if (!ds || peers == 0 || ds->n < peers) return RUMOR_EINVAL;
    rumor_partition_t *p = s_partition_new(peers, ds->n);
    if (!p) return RUMOR_ENOMEM;
    for (uint32_t i = 0; i < ds->n; i++) p->idx[i] = i;
    rumor_rng_t r;
    rumor_rng_seed(&r, seed, 0, 0, RUMOR_RNG_PARTITION);
    rumor_rng_shuffle(&r, p->idx, ds->n);
    /* floor(k n / peers): consecutive cuts differ by floor or ceil of n / peers. */
    for (uint32_t k = 0; k <= peers; k++) p->off[k] = (uint32_t)((uint64_t)k * ds->n / peers);
    *out = p;
    return 0;
}

/* For every class: shuffle its samples, draw peer proportions from Dirichlet(alpha) (as
 * normalised Gamma(alpha) draws) and cut the class at the rounded cumulative proportions.
 * Peers left empty then take one sample each from the currently largest peer (its most
 * frequent class), which disturbs the skew as little as possible. All draws come from the
 * stream (seed, 0, 0, PARTITION), in class order. */
int rumor_data_partition_dirichlet(const rumor_dataset_t *ds, uint32_t peers, double alpha,
                                   uint64_t seed, rumor_partition_t **out)
{
    if (!out) return RUMOR_EINVAL;
    *out = NULL;
    if (!ds || peers == 0 || ds->n < peers || ds->classes == 0 || !(alpha > 0.0) ||
        !isfinite(alpha))
        return RUMOR_EINVAL;
    const uint32_t n = ds->n, C = ds->classes;
    for (uint32_t i = 0; i < n; i++)
        if (ds->y[i] < 0 || (uint32_t)ds->y[i] >= C) return RUMOR_EINVAL;
    if ((uint64_t)C * peers > SIZE_MAX / sizeof(uint32_t)) return RUMOR_ERANGE;

    rumor_partition_t *p = s_partition_new(peers, n);
    uint32_t *cstart = calloc((size_t)C + 1, sizeof *cstart); /* class segments of byclass */
    uint32_t *byclass = malloc((size_t)n * sizeof *byclass);
    uint32_t *count = calloc((size_t)C * peers, sizeof *count); /* (C, peers) */
    uint32_t *size = calloc(peers, sizeof *size);
    double *w = malloc((size_t)peers * sizeof *w);
    int rc = RUMOR_ENOMEM;
    if (!p || !cstart || !byclass || !count || !size || !w) goto done;

    for (uint32_t i = 0; i < n; i++) cstart[ds->y[i] + 1]++;
    for (uint32_t c = 0; c < C; c++) cstart[c + 1] += cstart[c];
    for (uint32_t i = 0; i < n; i++) byclass[cstart[ds->y[i]]++] = i;
    for (uint32_t c = C; c > 0; c--) cstart[c] = cstart[c - 1];
    cstart[0] = 0;

    rumor_rng_t r;
    rumor_rng_seed(&r, seed, 0, 0, RUMOR_RNG_PARTITION);
    for (uint32_t c = 0; c < C; c++) {
        const uint32_t nc = cstart[c + 1] - cstart[c];
        rumor_rng_shuffle(&r, byclass + cstart[c], nc);
        double sum = 0.0;
        for (uint32_t k = 0; k < peers; k++) sum += w[k] = rumor_rng_gamma(&r, alpha);
        uint32_t *cnt = count + (size_t)c * peers;
        if (!(sum > 0.0)) {
            /* Every draw underflowed (alpha far below 1): the limit is one peer. */
            cnt[rumor_rng_below(&r, peers)] = nc;
            continue;
        }
        double cum = 0.0;
        uint32_t prev = 0;
        for (uint32_t k = 0; k < peers; k++) {
            cum += w[k];
            uint32_t cut = k + 1 == peers ? nc : (uint32_t)floor(nc * (cum / sum) + 0.5);
            if (cut > nc) cut = nc;
            if (cut < prev) cut = prev;
            cnt[k] = cut - prev;
            prev = cut;
        }
    }
    for (uint32_t c = 0; c < C; c++)
        for (uint32_t k = 0; k < peers; k++) size[k] += count[(size_t)c * peers + k];
    for (uint32_t k = 0; k < peers; k++) {
        if (size[k] > 0) continue;
        uint32_t big = 0;
        for (uint32_t q = 1; q < peers; q++)
            if (size[q] > size[big]) big = q;
        RUMOR_ASSERT(size[big] >= 2); /* n >= peers and peer k is empty */
        uint32_t cls = 0;
        for (uint32_t c = 1; c < C; c++)
            if (count[(size_t)c * peers + big] > count[(size_t)cls * peers + big]) cls = c;
        count[(size_t)cls * peers + big]--;
        count[(size_t)cls * peers + k]++;
        size[big]--;
        size[k]++;
    }

    p->off[0] = 0;
    for (uint32_t k = 0; k < peers; k++) p->off[k + 1] = p->off[k] + size[k];
    RUMOR_ASSERT(p->off[peers] == n);
    uint32_t pos = 0;
    for (uint32_t k = 0; k < peers; k++)
        for (uint32_t c = 0; c < C; c++) {
            const uint32_t m = count[(size_t)c * peers + k];
            memcpy(p->idx + pos, byclass + cstart[c], m * sizeof *p->idx);
            cstart[c] += m;
            pos += m;
        }
    rc = 0;
done:
    free(cstart);
    free(byclass);
    free(count);
    free(size);
    free(w);
    if (rc)
        rumor_partition_destroy(&p);
    else
        *out = p;
    return rc;
}

/* --------------------------------------------------------------------------------------------
 * Minibatch sampler
 */

struct rumor_sampler {
    const uint32_t *shard; /* (n), not owned */
    uint32_t n;
    uint32_t peer;
    uint64_t seed;
    uint64_t epoch;  /* epoch that perm holds */
    uint32_t offset; /* next position in perm; always < n */
    uint32_t *perm;  /* (n) the shard in this epoch's order */
};

static void s_sampler_shuffle(rumor_sampler_t *s)
{
    memcpy(s->perm, s->shard, (size_t)s->n * sizeof *s->perm);
    rumor_rng_t r;
    rumor_rng_seed(&r, s->seed, s->peer, s->epoch, RUMOR_RNG_BATCH);
    rumor_rng_shuffle(&r, s->perm, s->n);
}

rumor_sampler_t *rumor_sampler_new(const uint32_t *shard, uint32_t shard_n, uint64_t seed,
                                   uint32_t peer)
{
    if (!shard || shard_n == 0) return NULL;
    rumor_sampler_t *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->perm = malloc((size_t)shard_n * sizeof *s->perm);
    if (!s->perm) {
        free(s);
        return NULL;
    }
    s->shard = shard;
    s->n = shard_n;
    s->peer = peer;
    s->seed = seed;
    s_sampler_shuffle(s);
    return s;
}

void rumor_sampler_destroy(rumor_sampler_t **s_p)
{
    if (!s_p || !*s_p) return;
    free((*s_p)->perm);
    free(*s_p);
    *s_p = NULL;
}

void rumor_sampler_next(rumor_sampler_t *s, uint32_t b, uint32_t *out)
{
    for (uint32_t k = 0; k < b;) {
        uint32_t m = s->n - s->offset;
        if (m > b - k) m = b - k;
        memcpy(out + k, s->perm + s->offset, (size_t)m * sizeof *out);
        k += m;
        s->offset += m;
        if (s->offset == s->n) {
            s->epoch++;
            s->offset = 0;
            s_sampler_shuffle(s);
        }
    }
}

void rumor_sampler_get_pos(const rumor_sampler_t *s, uint64_t *epoch, uint32_t *offset)
{
    *epoch = s->epoch;
    *offset = s->offset;
}

uint32_t rumor_sampler_size(const rumor_sampler_t *s)
{
    return s->n;
}

/* An offset of n or more counts on into later epochs, so every (epoch, offset) names a
 * position and a bad checkpoint cannot make the sampler read outside its shard. */
void rumor_sampler_set_pos(rumor_sampler_t *s, uint64_t epoch, uint32_t offset)
{
    epoch += offset / s->n;
    offset %= s->n;
    s->offset = offset;
    if (epoch != s->epoch) {
        s->epoch = epoch;
        s_sampler_shuffle(s);
    }
}
