/* rumor — the LIBSVM text reader (see rumor_data_load_libsvm in data.h).
 *
 * The whole file is read into memory (through zlib, so it may be compressed) and parsed line
 * by line into sparse entries, which become a dense matrix once the dimension and the label
 * set are known. Errors name file:line:column and quote the offending token.
 */
#include "data_internal.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define S_MAX_CLASSES 65536u /* distinct LIBSVM labels */

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
    double *label_buf =
        rumor_data_grow(s->label, &s->cap_label, s->n + 1, 1024, SIZE_MAX, sizeof(double));
    if (label_buf) s->label = label_buf;
    size_t *row_buf =
        rumor_data_grow(s->row, &s->cap_row, s->n + 2, 1024, SIZE_MAX, sizeof(size_t));
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
            rumor_data_grow(s->ent, &s->cap_ent, s->nent + 1, 4096, SIZE_MAX, sizeof(s_entry_t));
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

static int s_load_libsvm(const char *path, uint32_t dim_hint, s_svm_t *s, rumor_dataset_t *ds,
                         rumor_errmsg_t *em)
{
    char *text;
    size_t len;
    int rc = rumor_data_gz_read_all(path, &text, &len, em);
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
    if ((uint64_t)s->n * dim > RUMOR_DATA_MAX_FLOATS)
        return rumor_errmsg_set(em, RUMOR_ERANGE,
                                "%s: %zu samples x %u features would need %.1f GiB as dense "
                                "floats (at most %.0f GiB)",
                                path, s->n, dim, (double)s->n * dim * 4.0 / (1u << 30),
                                (double)RUMOR_DATA_MAX_FLOATS * 4.0 / (1u << 30));

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
