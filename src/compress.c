/* rumor — compressors (see compress.h).
 *
 * Called once per round per peer on the residual (d up to ~1e6). All scratch is allocated in
 * rumor_compressor_new; apply never allocates.
 */
#include "rumor/compress.h"
#include "rumor/vec.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct rumor_compressor {
    rumor_compress_cfg_t cfg;
    uint32_t d;
    uint32_t k;     /* topk, randk */
    float *scratch; /* (d) uniforms for dither, magnitudes for topk */
};

static uint32_t s_k_of(const rumor_compress_cfg_t *cfg, uint32_t d)
{
    double k = floor(cfg->fraction * (double)d + 0.5);
    if (k < 1.0) k = 1.0;
    if (k > (double)d) k = (double)d;
    return (uint32_t)k;
}

int rumor_compress_parse(const char *s, rumor_compress_cfg_t *cfg, rumor_errmsg_t *em)
{
    memset(cfg, 0, sizeof *cfg);
    char name[32];
    const char *colon = strchr(s, ':');
    const size_t len = colon ? (size_t)(colon - s) : strlen(s);
    if (len == 0 || len >= sizeof name) goto bad;
    memcpy(name, s, len);
    name[len] = '\0';
    const char *arg = colon ? colon + 1 : NULL;
    char *end;
    if (!strcmp(name, "identity") || !strcmp(name, "sign")) {
        if (arg) goto bad;
        cfg->kind = name[0] == 'i' ? RUMOR_COMPRESS_IDENTITY : RUMOR_COMPRESS_SIGN;
        return 0;
    }
    if (!strcmp(name, "dither")) {
        if (!arg) goto bad;
        const unsigned long lv = strtoul(arg, &end, 10);
        if (end == arg || lv < 1 || lv > (1UL << 20)) goto bad;
        cfg->kind = RUMOR_COMPRESS_DITHER;
        cfg->levels = (uint32_t)lv;
        while (*end == ':') {
            const char *opt = end + 1;
            if (!strncmp(opt, "inf", 3) && (opt[3] == ':' || !opt[3])) {
                cfg->norm_inf = 1;
                end = (char *)opt + 3;
            } else if (!strncmp(opt, "biased", 6) && (opt[6] == ':' || !opt[6])) {
                cfg->biased = 1;
                end = (char *)opt + 6;
            } else {
                goto bad;
            }
        }
        if (*end) goto bad;
        return 0;
    }
    if (!strcmp(name, "topk") || !strcmp(name, "randk")) {
        if (!arg) goto bad;
        const double f = strtod(arg, &end);
        if (end == arg || *end || !(f > 0.0 && f <= 1.0)) goto bad;
        cfg->kind = name[0] == 't' ? RUMOR_COMPRESS_TOPK : RUMOR_COMPRESS_RANDK;
        cfg->fraction = f;
        return 0;
    }
bad:
    return rumor_errmsg_set(
        em, RUMOR_EINVAL,
        "compressor '%s': expected identity, sign, dither:LEVELS[:inf][:biased], "
        "topk:FRACTION or randk:FRACTION (0 < FRACTION <= 1)",
        s);
}

void rumor_compress_describe(const rumor_compress_cfg_t *cfg, char *buf, size_t len)
{
    switch (cfg->kind) {
    case RUMOR_COMPRESS_IDENTITY:
        snprintf(buf, len, "identity");
        break;
    case RUMOR_COMPRESS_SIGN:
        snprintf(buf, len, "sign");
        break;
    case RUMOR_COMPRESS_DITHER:
        snprintf(buf, len, "dither:%u%s%s", cfg->levels, cfg->norm_inf ? ":inf" : "",
                 cfg->biased ? ":biased" : "");
        break;
    case RUMOR_COMPRESS_TOPK:
        snprintf(buf, len, "topk:%g", cfg->fraction);
        break;
    case RUMOR_COMPRESS_RANDK:
        snprintf(buf, len, "randk:%g", cfg->fraction);
        break;
    }
}

rumor_compressor_t *rumor_compressor_new(const rumor_compress_cfg_t *cfg, uint32_t d)
{
    rumor_compressor_t *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->cfg = *cfg;
    c->d = d;
    c->k = s_k_of(cfg, d);
    c->scratch = malloc((size_t)(d ? d : 1) * sizeof *c->scratch);
    if (!c->scratch) {
        free(c);
        return NULL;
    }
    return c;
}

void rumor_compressor_destroy(rumor_compressor_t **c_p)
{
    if (!c_p || !*c_p) return;
    free((*c_p)->scratch);
    free(*c_p);
    *c_p = NULL;
}

/* 1 + omega for the dithered quantizer: tau = 1 + min(d/s^2, sqrt(d)/s). */
static double s_dither_tau(uint32_t d, uint32_t s)
{
    const double a = (double)d / ((double)s * s), b = sqrt((double)d) / s;
    return 1.0 + (a < b ? a : b);
}

static void s_dither(rumor_compressor_t *c, const float *x, rumor_rng_t *rng, rumor_cmsg_t *out)
{
    const uint32_t d = c->d, s = c->cfg.levels;
    const double norm = c->cfg.norm_inf ? rumor_vec_nrm_inf(x, d) : rumor_vec_nrm2(x, d);
    out->kind = RUMOR_CMSG_INT;
    out->d = d;
    out->nnz = 0;
    if (!(norm > 0.0) || !isfinite(norm)) {
        memset(out->q, 0, (size_t)d * sizeof *out->q);
        out->scale = 0.0f;
        return;
    }
    float *u = c->scratch;
    rumor_rng_fill_uniform(rng, u, d);
    const float inv = (float)(s / norm);
    const int32_t smax = (int32_t)s;
    uint32_t nnz = 0;
    for (uint32_t k = 0; k < d; k++) {
        int32_t l = (int32_t)(fabsf(x[k]) * inv + u[k]);
        if (l > smax) l = smax; /* float rounding at |x_k| = norm */
        const int32_t q = x[k] < 0.0f ? -l : l;
        out->q[k] = q;
        nnz += q != 0;
    }
    out->nnz = nnz;
    double scale = norm / s;
    if (c->cfg.biased) scale /= s_dither_tau(d, s);
    out->scale = (float)scale;
}

/* Value of the k-th largest entry (1 <= k <= n) of a, by quickselect with a three-way
 * partition (many equal magnitudes are common: zeros of a sparse residual). Reorders a. */
static float s_kth_largest(float *a, uint32_t n, uint32_t k)
{
    uint32_t lo = 0, hi = n;
    const uint32_t t = k - 1;
    while (hi - lo > 1) {
        const float p = a[lo + (hi - lo) / 2];
        uint32_t lt = lo, i = lo, gt = hi; /* [lo,lt) > p, [lt,gt) == p, [gt,hi) < p */
        while (i < gt) {
            const float v = a[i];
            if (v > p) {
                a[i++] = a[lt];
                a[lt++] = v;
            } else if (v < p) {
                a[i] = a[--gt];
                a[gt] = v;
            } else {
                i++;
            }
        }
        if (t < lt)
            hi = lt;
        else if (t >= gt)
            lo = gt;
        else
            return p;
    }
    return a[lo];
}

static void s_topk(rumor_compressor_t *c, const float *x, rumor_cmsg_t *out)
{
    const uint32_t d = c->d, k = c->k;
    for (uint32_t i = 0; i < d; i++) c->scratch[i] = fabsf(x[i]);
    const float thr = s_kth_largest(c->scratch, d, k);
    /* Take everything strictly above the threshold, then ties in index order until k. */
    uint32_t above = 0;
    for (uint32_t i = 0; i < d; i++) above += fabsf(x[i]) > thr;
    uint32_t ties = k - above, n = 0;
    for (uint32_t i = 0; i < d; i++) {
        const float a = fabsf(x[i]);
        if (a > thr || (a == thr && ties > 0)) {
            if (!(a > thr)) ties--;
            out->idx[n] = i;
            out->val[n] = x[i];
            n++;
        }
    }
    out->kind = RUMOR_CMSG_SPARSE;
    out->d = d;
    out->nnz = n;
    out->scale = 1.0f;
}

static void s_randk(rumor_compressor_t *c, const float *x, rumor_rng_t *rng, rumor_cmsg_t *out)
{
    /* Selection sampling (Knuth's algorithm S): k of d indices, ascending, uniformly. */
    const uint32_t d = c->d, k = c->k;
    uint32_t n = 0;
    for (uint32_t i = 0; i < d && n < k; i++) {
        if (rumor_rng_below(rng, d - i) < (uint64_t)(k - n)) {
            out->idx[n] = i;
            out->val[n] = x[i];
            n++;
        }
    }
    out->kind = RUMOR_CMSG_SPARSE;
    out->d = d;
    out->nnz = n;
    out->scale = 1.0f;
}

static void s_sign(rumor_compressor_t *c, const float *x, rumor_cmsg_t *out)
{
    const uint32_t d = c->d;
    uint32_t nnz = 0;
    for (uint32_t k = 0; k < d; k++) {
        const int32_t q = (x[k] > 0.0f) - (x[k] < 0.0f);
        out->q[k] = q;
        nnz += q != 0;
    }
    out->kind = RUMOR_CMSG_INT;
    out->d = d;
    out->nnz = nnz;
    out->scale = d ? (float)(rumor_vec_nrm1(x, d) / d) : 0.0f;
}

void rumor_compressor_apply(rumor_compressor_t *c, const float *x, rumor_rng_t *rng,
                            rumor_cmsg_t *out)
{
    RUMOR_ASSERT(out->cap_d >= c->d);
    switch (c->cfg.kind) {
    case RUMOR_COMPRESS_IDENTITY:
        out->kind = RUMOR_CMSG_DENSE;
        out->d = out->nnz = c->d;
        out->scale = 1.0f;
        rumor_vec_copy(out->val, x, c->d);
        break;
    case RUMOR_COMPRESS_DITHER:
        s_dither(c, x, rng, out);
        break;
    case RUMOR_COMPRESS_TOPK:
        s_topk(c, x, out);
        break;
    case RUMOR_COMPRESS_RANDK:
        s_randk(c, x, rng, out);
        break;
    case RUMOR_COMPRESS_SIGN:
        s_sign(c, x, out);
        break;
    }
}

double rumor_compressor_delta(const rumor_compressor_t *c)
{
    switch (c->cfg.kind) {
    case RUMOR_COMPRESS_IDENTITY:
        return 1.0;
    case RUMOR_COMPRESS_DITHER:
        return s_dither_tau(c->d, c->cfg.levels);
    case RUMOR_COMPRESS_TOPK:
    case RUMOR_COMPRESS_RANDK:
        return (double)c->d / c->k;
    case RUMOR_COMPRESS_SIGN:
        return c->d ? (double)c->d : 1.0;
    }
    return 1.0;
}

int rumor_compressor_unbiased(const rumor_compressor_t *c)
{
    return c->cfg.kind == RUMOR_COMPRESS_IDENTITY ||
           (c->cfg.kind == RUMOR_COMPRESS_DITHER && !c->cfg.biased);
}
