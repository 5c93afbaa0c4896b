/* rumor — compressors (see compress.h).
 *
 * Called once per round per peer on the residual (d up to ~1e6). All scratch is allocated in
 * rumor_compressor_new; apply never allocates.
 */
#include "rumor/compress.h"
#include "rumor/quant.h"
#include "rumor/vec.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct rumor_compressor {
    rumor_compress_cfg_t cfg; /* tensors cleared: bend holds what they said */
    uint32_t d;
    uint32_t nb;      /* buckets (>= 2), or 0 for one norm over the whole vector */
    uint32_t *bend;   /* (nb) the end of each bucket, ascending, the last = d */
    uint32_t longest; /* of the buckets (d without them) */
    uint32_t k;       /* topk, randk */
    uint32_t drawn;   /* coordinates that get a uniform: d, or k for top-k then dither */
    float *scratch;   /* (d) uniforms for dither, magnitudes for topk */
    float *delta;     /* (d) a - b for rumor_compressor_apply_delta */
    uint64_t *bits;   /* randk: ((d + 63) / 64) the bitmap of rumor_rng_sample_positions */
    /* natural dithering and exponential rounding: the uniforms are drawn S_CHUNK at a time, so
     * that they are used while still in cache; plan[0] fills a whole chunk, plan[1] the last,
     * shorter one (if any). */
    rumor_rng_fill_plan_t *plan;
    rumor_simd_t simd; /* the path of the dithering kernels (quant.h) */
};

enum { S_CHUNK = 16384 };

static uint32_t s_k_of(const rumor_compress_cfg_t *cfg, uint32_t d)
{
    double k = floor(cfg->fraction * (double)d + 0.5);
    if (k < 1.0) k = 1.0;
    if (k > (double)d) k = (double)d;
    return (uint32_t)k;
}

/* ---- names: parsing and describing --------------------------------------------------- */

/* The options after a quantizer's levels, from *end (at a ':' or the end): inf, biased,
 * bucket=B or layer. 0, or -1 on anything else. */
static int s_parse_options(const char *end, rumor_compress_cfg_t *cfg)
{
    while (*end == ':') {
        const char *opt = end + 1;
        const size_t n = strcspn(opt, ":");
        if (n == 3 && !strncmp(opt, "inf", 3)) {
            cfg->norm_inf = 1;
        } else if (n == 6 && !strncmp(opt, "biased", 6)) {
            cfg->biased = 1;
        } else if (n == 5 && !strncmp(opt, "layer", 5)) {
            cfg->layer = 1;
        } else if (!strncmp(opt, "bucket=", 7) && opt[7] >= '1' && opt[7] <= '9') {
            char *e;
            const unsigned long b = strtoul(opt + 7, &e, 10);
            if (e != opt + n || b > UINT32_MAX) return -1;
            cfg->bucket = (uint32_t)b;
        } else {
            return -1;
        }
        end = opt + n;
    }
    return *end || (cfg->bucket && cfg->layer) ? -1 : 0;
}

/* "F" or "F:unbiased" (randk) after "topk:", "randk:" or "block:". 0, or -1. */
static int s_parse_fraction(const char *arg, int randk, rumor_compress_cfg_t *cfg)
{
    char *end;
    if (!arg) return -1;
    const double f = strtod(arg, &end);
    if (end == arg || !(f > 0.0 && f <= 1.0)) return -1;
    cfg->fraction = f;
    if (randk && !strcmp(end, ":unbiased")) {
        cfg->unbiased = 1;
        return 0;
    }
    return *end ? -1 : 0;
}

int rumor_compress_parse(const char *s, rumor_compress_cfg_t *cfg, rumor_errmsg_t *em)
{
    memset(cfg, 0, sizeof *cfg);
    const char *plus = strchr(s, '+');
    if (plus) { /* top-k, then dither or natural dithering on the survivors */
        char first[64];
        rumor_compress_cfg_t then;
        const size_t n = (size_t)(plus - s);
        if (n >= sizeof first) goto bad;
        memcpy(first, s, n);
        first[n] = '\0';
        if (rumor_compress_parse(first, cfg, NULL) || cfg->kind != RUMOR_COMPRESS_TOPK ||
            rumor_compress_parse(plus + 1, &then, NULL) ||
            (then.kind != RUMOR_COMPRESS_DITHER && then.kind != RUMOR_COMPRESS_NATURAL) ||
            !then.levels || then.bucket || then.layer)
            goto bad;
        cfg->then = then.kind;
        cfg->levels = then.levels;
        cfg->norm_inf = then.norm_inf;
        cfg->biased = then.biased;
        return 0;
    }
    char name[32];
    const char *colon = strchr(s, ':');
    const size_t len = colon ? (size_t)(colon - s) : strlen(s);
    if (len == 0 || len >= sizeof name) goto bad;
    memcpy(name, s, len);
    name[len] = '\0';
    const char *arg = colon ? colon + 1 : NULL;
    char *end;
    if (!strcmp(name, "sign") && arg) {
        if (strcmp(arg, "stochastic") && strcmp(arg, "stochastic:biased")) goto bad;
        cfg->kind = RUMOR_COMPRESS_SIGN;
        cfg->stochastic = 1;
        cfg->biased = arg[10] == ':';
        return 0;
    }
    if (!strcmp(name, "identity") || !strcmp(name, "sign")) {
        if (arg) goto bad;
        cfg->kind = name[0] == 'i' ? RUMOR_COMPRESS_IDENTITY : RUMOR_COMPRESS_SIGN;
        return 0;
    }
    const int natural = !strcmp(name, "natural");
    if (natural || !strcmp(name, "dither")) {
        cfg->kind = natural ? RUMOR_COMPRESS_NATURAL : RUMOR_COMPRESS_DITHER;
        end = (char *)s + len; /* at the ':' before the options, or the end */
        if (arg && *arg >= '0' && *arg <= '9') {
            const unsigned long lv = strtoul(arg, &end, 10);
            if (lv < 1 || lv > (natural ? 31UL : 1UL << 20)) goto bad;
            cfg->levels = (uint32_t)lv;
        } else if (!natural) {
            goto bad;
        }
        if (s_parse_options(end, cfg)) goto bad;
        /* Natural compression rounds every coordinate on its own: there is no norm. */
        if (!cfg->levels && (cfg->norm_inf || cfg->bucket || cfg->layer)) goto bad;
        return 0;
    }
    if (!strcmp(name, "eround")) {
        if (!arg || *arg < '0' || *arg > '9') goto bad;
        const unsigned long b = strtoul(arg, &end, 10);
        if (b < 2 || b > 65536) goto bad;
        cfg->kind = RUMOR_COMPRESS_EROUND;
        cfg->base = (uint32_t)b;
        if (!strcmp(end, ":unbiased"))
            cfg->unbiased = 1;
        else if (*end)
            goto bad;
        return 0;
    }
    if (!strcmp(name, "topk") || !strcmp(name, "randk") || !strcmp(name, "block")) {
        if (s_parse_fraction(arg, name[0] == 'r', cfg)) goto bad;
        cfg->kind = name[0] == 't'   ? RUMOR_COMPRESS_TOPK
                    : name[0] == 'r' ? RUMOR_COMPRESS_RANDK
                                     : RUMOR_COMPRESS_BLOCK;
        return 0;
    }
bad:
    memset(cfg, 0, sizeof *cfg);
    return rumor_errmsg_set(
        em, RUMOR_EINVAL,
        "compressor '%s': expected identity, sign, sign:stochastic[:biased], "
        "dither:LEVELS[:inf][:biased][:bucket=B|:layer], "
        "natural[:biased], natural:LEVELS[:inf][:biased][:bucket=B|:layer] (1 <= LEVELS <= 31), "
        "topk:FRACTION, randk:FRACTION[:unbiased], block:FRACTION (0 < FRACTION <= 1), "
        "topk:FRACTION+dither:... or topk:FRACTION+natural:..., eround:BASE[:unbiased] "
        "(2 <= BASE <= 65536)",
        s);
}

/* "HEAD[:S][:inf][:biased][:bucket=B|:layer]" of the quantizer settings in cfg (S left out
 * when 0). */
static void s_describe_levels(char *buf, size_t len, const char *head,
                              const rumor_compress_cfg_t *cfg)
{
    char s[16] = "", b[24] = "";
    if (cfg->levels) snprintf(s, sizeof s, ":%u", cfg->levels);
    if (cfg->bucket) snprintf(b, sizeof b, ":bucket=%u", cfg->bucket);
    snprintf(buf, len, "%s%s%s%s%s%s", head, s, cfg->norm_inf ? ":inf" : "",
             cfg->biased ? ":biased" : "", b, cfg->layer ? ":layer" : "");
}

void rumor_compress_describe(const rumor_compress_cfg_t *cfg, char *buf, size_t len)
{
    switch (cfg->kind) {
    case RUMOR_COMPRESS_IDENTITY:
        snprintf(buf, len, "identity");
        break;
    case RUMOR_COMPRESS_SIGN:
        snprintf(buf, len, "sign%s%s", cfg->stochastic ? ":stochastic" : "",
                 cfg->biased ? ":biased" : "");
        break;
    case RUMOR_COMPRESS_DITHER:
        s_describe_levels(buf, len, "dither", cfg);
        break;
    case RUMOR_COMPRESS_NATURAL:
        s_describe_levels(buf, len, "natural", cfg);
        break;
    case RUMOR_COMPRESS_TOPK: {
        const int n = snprintf(buf, len, "topk:%g", cfg->fraction);
        if (cfg->levels && n > 0 && (size_t)n < len)
            s_describe_levels(buf + n, len - (size_t)n,
                              cfg->then == RUMOR_COMPRESS_NATURAL ? "+natural" : "+dither", cfg);
        break;
    }
    case RUMOR_COMPRESS_RANDK:
        snprintf(buf, len, "randk:%g%s", cfg->fraction, cfg->unbiased ? ":unbiased" : "");
        break;
    case RUMOR_COMPRESS_BLOCK:
        snprintf(buf, len, "block:%g", cfg->fraction);
        break;
    case RUMOR_COMPRESS_EROUND:
        snprintf(buf, len, "eround:%u%s", cfg->base, cfg->unbiased ? ":unbiased" : "");
        break;
    }
}

/* ---- the object ---------------------------------------------------------------------- */

/* Whether the compressor rounds to levels (with uniforms, but for eround's deterministic
 * form), writing a listed INT message. */
static int s_draws_levels(const rumor_compress_cfg_t *cfg)
{
    return cfg->kind == RUMOR_COMPRESS_DITHER || cfg->kind == RUMOR_COMPRESS_NATURAL ||
           cfg->kind == RUMOR_COMPRESS_EROUND || (cfg->kind == RUMOR_COMPRESS_TOPK && cfg->levels);
}

/* The bucket ends of cfg for length d into c (c->bend has room for d); 0, or -1 when ":layer"
 * tensor sizes do not sum to d. One bucket is no bucket (nb = 0). */
static int s_buckets(rumor_compressor_t *c, const rumor_compress_cfg_t *cfg, uint32_t d)
{
    uint32_t nb = 0;
    if (cfg->bucket) {
        for (uint64_t e = cfg->bucket; nb == 0 || c->bend[nb - 1] < d; e += cfg->bucket)
            c->bend[nb++] = e < d ? (uint32_t)e : d;
    } else if (cfg->layer) {
        uint64_t e = 0;
        for (uint32_t t = 0; t < cfg->n_tensors; t++) {
            if (!cfg->tensors[t]) continue; /* an empty tensor is no bucket */
            e += cfg->tensors[t];
            if (e > d) return -1;
            c->bend[nb++] = (uint32_t)e;
        }
        if (e != d) return -1;
    }
    c->nb = nb >= 2 ? nb : 0;
    if (!c->nb) return 0;
    c->longest = 0;
    for (uint32_t j = 0; j < c->nb; j++) {
        const uint32_t n = c->bend[j] - (j ? c->bend[j - 1] : 0);
        if (n > c->longest) c->longest = n;
    }
    return 0;
}

int rumor_compressor_create(const rumor_compress_cfg_t *cfg, uint32_t d, rumor_compressor_t **out)
{
    rumor_compressor_t *c = calloc(1, sizeof *c);
    *out = c;
    if (!c) return RUMOR_ENOMEM;
    c->cfg = *cfg;
    c->cfg.tensors = NULL; /* the caller's; bend keeps what they said */
    c->cfg.n_tensors = 0;
    c->d = d;
    c->longest = d;
    c->k = s_k_of(cfg, d);
    c->scratch = malloc((size_t)(d ? d : 1) * sizeof *c->scratch);
    c->delta = malloc((size_t)(d ? d : 1) * sizeof *c->delta);
    const int randk = cfg->kind == RUMOR_COMPRESS_RANDK;
    if (randk) c->bits = malloc(((size_t)d / 64 + 1) * sizeof *c->bits);
    /* dithering draws its uniforms from their coordinates (quant.h), the others from a stream */
    const int draws = s_draws_levels(cfg) && cfg->kind != RUMOR_COMPRESS_DITHER &&
                      !(cfg->kind == RUMOR_COMPRESS_TOPK && cfg->then == RUMOR_COMPRESS_DITHER);
    c->simd = rumor_simd_pick();
    c->drawn = cfg->kind == RUMOR_COMPRESS_TOPK ? c->k : d;
    if (draws) {
        c->plan = malloc(2 * sizeof *c->plan);
        if (c->plan) {
            rumor_rng_fill_plan_init(&c->plan[0], c->drawn < S_CHUNK ? c->drawn : S_CHUNK);
            rumor_rng_fill_plan_init(&c->plan[1], c->drawn % S_CHUNK);
        }
    }
    const int buckets = cfg->bucket || cfg->layer;
    if (buckets) c->bend = malloc((size_t)(d ? d : 1) * sizeof *c->bend);
    int rc = 0;
    if (!c->scratch || !c->delta || (draws && !c->plan) || (randk && !c->bits) ||
        (buckets && !c->bend))
        rc = RUMOR_ENOMEM;
    else if (buckets && s_buckets(c, cfg, d))
        rc = RUMOR_EINVAL;
    if (rc) rumor_compressor_destroy(out);
    return rc;
}

void rumor_compressor_destroy(rumor_compressor_t **c_p)
{
    if (!c_p || !*c_p) return;
    free((*c_p)->scratch);
    free((*c_p)->delta);
    free((*c_p)->bits);
    free((*c_p)->plan);
    free((*c_p)->bend);
    free(*c_p);
    *c_p = NULL;
}

/* ---- quantizers: dithering, natural compression, exponential rounding ---------------- */

/* The norm levels are relative to: L-inf or L2 as configured, of x (n floats). */
static double s_norm(const rumor_compressor_t *c, const float *x, uint32_t n)
{
    return c->cfg.norm_inf ? rumor_vec_nrm_inf(x, n) : rumor_vec_nrm2(x, n);
}

/* 1 + omega for the dithered quantizer: tau = 1 + min(d/s^2, sqrt(d)/s). */
static double s_dither_tau(uint32_t d, uint32_t s)
{
    const double a = (double)d / ((double)s * s), b = sqrt((double)d) / s;
    return 1.0 + (a < b ? a : b);
}

/* The value of one level of s dithered over n coordinates of the given norm. */
static float s_dither_scale(const rumor_compressor_t *c, double norm, uint32_t n)
{
    const uint32_t s = c->cfg.levels;
    double scale = norm / s;
    if (c->cfg.biased) scale /= s_dither_tau(n, s);
    return (float)scale;
}

/* 1 + omega for natural compression (s = 0) and natural dithering with s levels. */
static double s_natural_tau(uint32_t d, uint32_t s)
{
    if (s == 0) return 1.125;
    const double a = sqrt((double)d) * ldexp(1.0, 1 - (int)s);
    return 1.125 + a * (a < 1.0 ? a : 1.0);
}

/* A vector whose norm is 0 or not finite, or so small that inv, the factor that turns its
 * coordinates into levels, is not a float, is sent as all zeros (returns 1). Otherwise out
 * becomes a listed INT message of length d for the caller to fill (returns 0). */
static int s_zero_message(double norm, float inv, uint32_t d, rumor_cmsg_t *out)
{
    if (!(norm > 0.0) || !isfinite(norm) || !isfinite(inv)) {
        rumor_cmsg_int_clear(out, d); /* O(nnz) when out held a listed message */
        out->scale = 0.0f;
        return 1;
    }
    out->kind = RUMOR_CMSG_INT;
    out->d = d;
    out->listed = 1;
    out->packed = 0;
    return 0;
}

/* Fills u with the uniforms of the chunk of coordinates that starts at k0; returns its
 * length. Chunks consume the stream in order, so all of them are one fill of c->drawn
 * uniforms. */
static uint32_t s_chunk_uniforms(rumor_compressor_t *c, rumor_rng_t *rng, uint32_t k0, float *u)
{
    const uint32_t n = c->drawn - k0 < S_CHUNK ? c->drawn - k0 : S_CHUNK;
    rumor_rng_fill_uniform(rng, &c->plan[n == c->plan[0].n ? 0 : 1], u);
    return n;
}

/* The norm the dithering quantizer takes of the n floats a - b (b NULL: of a): L-inf (of a
 * only), or L2 as the sum of squares in quant.h's fixed order. */
static double s_dither_norm(const rumor_compressor_t *c, const float *a, const float *b, uint32_t n)
{
    return c->cfg.norm_inf ? rumor_vec_nrm_inf(a, n) : sqrt(rumor_quant_sumsq(c->simd, a, b, n));
}

/* The key of a dithering's uniforms: one draw of rng. */
static rumor_quant_key_t s_dither_key(rumor_rng_t *rng)
{
    const uint64_t w = rumor_rng_u64(rng);
    return (rumor_quant_key_t){(uint32_t)w, (uint32_t)(w >> 32)};
}

/* Dithers x = a, or (b not NULL) the float differences a - b, whose norm is given. The
 * uniforms come from the coordinates under a key of one draw of rng (quant.h), which writes
 * every level: q is not cleared first. */
static void s_dither(rumor_compressor_t *c, const float *a, const float *b, double norm,
                     rumor_rng_t *rng, rumor_cmsg_t *out)
{
    const uint32_t d = c->d, s = c->cfg.levels;
    const float inv = (float)(s / norm);
    if (s_zero_message(norm, inv, d, out)) return;
    out->nnz = rumor_quant_dither(c->simd, a, b, 0, d, inv, (int32_t)s, s_dither_key(rng), out->q,
                                  out->idx);
    out->scale = s_dither_scale(c, norm, d);
}

/* Natural rounding (see compress.h) of y >= 0 against a uniform u in [0, 1): y in
 * [2^e, 2^(e+1)) goes up with probability y / 2^e - 1, the mantissa's fraction. top, a power
 * of two at most 2^30, is where y ends (y beyond it is float rounding); a NaN gives 0. */
static inline int32_t s_natural_level(float y, float u, int32_t top)
{
    if (!(y < (float)top)) return y == y ? top : 0;
    if (y < 1.0f) return u < y;
    uint32_t b;
    memcpy(&b, &y, sizeof b);
    const float frac = (float)(b & 0x7fffff) * 0x1.0p-23f;
    return (int32_t)1 << ((b >> 23) - 127 + (u < frac));
}

/* Natural compression (no levels) or natural dithering of x. */
static void s_natural(rumor_compressor_t *c, const float *x, rumor_rng_t *rng, rumor_cmsg_t *out)
{
    const uint32_t d = c->d, s = c->cfg.levels;
    const double norm = s ? s_norm(c, x, d) : rumor_vec_nrm_inf(x, d);
    double scale;
    if (s) {
        scale = ldexp(norm, 1 - (int)s);
    } else { /* a power of two, 2^(E-30) with norm < 2^E, so that y is exact */
        int e;
        frexp(norm, &e);
        scale = ldexp(1.0, e - 30 < -126 ? -126 : e - 30);
    }
    const float inv = (float)(1.0 / scale);
    if (s_zero_message(norm, inv, d, out)) return;
    const int32_t top = (int32_t)1 << (s ? s - 1 : 30);
    float *restrict u = c->scratch;
    int32_t *restrict q = out->q;
    uint32_t *restrict idx = out->idx;
    uint32_t nnz = 0;
    for (uint32_t k0 = 0; k0 < d; k0 += S_CHUNK) {
        const uint32_t n = s_chunk_uniforms(c, rng, k0, u);
        for (uint32_t k = 0; k < n; k++) {
            const float v = x[k0 + k];
            const int32_t l = s_natural_level(fabsf(v) * inv, u[k], top);
            q[k0 + k] = v < 0.0f ? -l : l;
            if (l) idx[nnz++] = k0 + k;
        }
    }
    out->nnz = nnz;
    if (c->cfg.biased) scale /= s_natural_tau(d, s);
    out->scale = (float)scale;
}

/* One signed level of v by natural dithering, with inv the factor that turns |v| into level
 * units. */
static inline int32_t s_natural_signed(float v, float inv, float u, int32_t top)
{
    const int32_t l = s_natural_level(fabsf(v) * inv, u, top);
    return v < 0.0f ? -l : l;
}

/* Settings of dithering (natural = 0) or natural dithering with s levels of n coordinates of
 * the given norm: the factor inv that turns |v| into level units, the largest level, and
 * the value of one level unit (over tau of n when biased). */
typedef struct {
    float inv;
    int32_t top;
    double step;
} s_quant_t;

static s_quant_t s_quant(const rumor_compressor_t *c, int natural, double norm, uint32_t n)
{
    const uint32_t s = c->cfg.levels;
    if (!natural) return (s_quant_t){(float)(s / norm), (int32_t)s, s_dither_scale(c, norm, n)};
    const double step = ldexp(norm, 1 - (int)s);
    return (s_quant_t){(float)(1.0 / step), (int32_t)1 << (s - 1),
                       c->cfg.biased ? step / s_natural_tau(n, s) : step};
}

/* Dithering or natural dithering of x with one norm per bucket: each bucket's levels relative
 * to its own norm, its own step (over tau of its length when biased), and a bucket whose norm
 * is 0 or not finite sent as zeros. Natural dithering's uniforms are the same stream as without
 * buckets; dithering dithers each bucket as a vector of its own (one key per bucket drawn). */
static void s_bucketed(rumor_compressor_t *c, const float *x, rumor_rng_t *rng, rumor_cmsg_t *out)
{
    const uint32_t d = c->d;
    const int natural = c->cfg.kind == RUMOR_COMPRESS_NATURAL;
    float *u = c->scratch;
    if (natural)
        for (uint32_t k0 = 0; k0 < d; k0 += S_CHUNK) s_chunk_uniforms(c, rng, k0, u + k0);
    else /* dithering writes the nonzero levels only */
        rumor_cmsg_int_clear(out, d);
    int32_t *q = out->q;
    uint32_t *idx = out->idx, nnz = 0;
    for (uint32_t b = 0, lo = 0; b < c->nb; lo = c->bend[b++]) {
        const uint32_t hi = c->bend[b], n = hi - lo;
        const double norm = natural ? s_norm(c, x + lo, n) : s_dither_norm(c, x + lo, NULL, n);
        const s_quant_t t = s_quant(c, natural, norm, n);
        if (!(norm > 0.0) || !isfinite(norm) || !isfinite(t.inv)) {
            if (natural) memset(q + lo, 0, (size_t)n * sizeof *q);
            out->scales[b] = 0.0f;
            continue;
        }
        if (natural) {
            for (uint32_t k = lo; k < hi; k++) {
                q[k] = s_natural_signed(x[k], t.inv, u[k], t.top);
                if (q[k]) idx[nnz++] = k;
            }
        } else { /* the bucket dithered as a vector of its own (nnz <= lo: room for n) */
            const uint32_t m = rumor_quant_dither(c->simd, x + lo, NULL, 0, n, t.inv, t.top,
                                                  s_dither_key(rng), q + lo, idx + nnz);
            for (uint32_t j = nnz; j < nnz + m; j++) idx[j] += lo;
            nnz += m;
        }
        out->scales[b] = (float)t.step;
    }
    memcpy(out->bend, c->bend, (size_t)c->nb * sizeof *c->bend);
    out->kind = RUMOR_CMSG_INT;
    out->d = d;
    out->nnz = nnz;
    out->nb = c->nb;
    out->scale = out->scales[0];
    out->listed = 1;
}

/* Exponential rounding of x (see compress.h): levels B^j, j <= J, in steps of B^(E+1-J). */
static void s_eround(rumor_compressor_t *c, const float *x, rumor_rng_t *rng, rumor_cmsg_t *out)
{
    const uint32_t d = c->d;
    const double B = c->cfg.base, norm = rumor_vec_nrm_inf(x, d);
    double pw[31]; /* B^j <= 2^30, j <= J */
    unsigned J = 0;
    pw[0] = 1.0;
    while (pw[J] * B <= 0x1.0p30) {
        pw[J + 1] = pw[J] * B;
        J++;
    }
    int e = norm > 0.0 && isfinite(norm) ? (int)floor(log(norm) / log(B)) : 0;
    while (e > -2000 && pow(B, e) > norm) e--; /* B^e <= norm < B^(e+1), exactly */
    while (e < 2000 && pow(B, e + 1) <= norm) e++;
    const double scale = pow(B, e + 1 - (int)J);
    const float inv = (float)(1.0 / scale);
    if (s_zero_message(norm, inv, d, out) || !(scale >= FLT_MIN)) {
        rumor_cmsg_int_clear(out, d);
        out->scale = 0.0f;
        return;
    }
    float *u = c->scratch;
    const int stochastic = c->cfg.unbiased;
    if (stochastic)
        for (uint32_t k0 = 0; k0 < d; k0 += S_CHUNK) s_chunk_uniforms(c, rng, k0, u + k0);
    int32_t *q = out->q;
    uint32_t *idx = out->idx, nnz = 0;
    for (uint32_t k = 0; k < d; k++) {
        const double y = fabs((double)x[k]) * inv;
        /* the neighbours lo <= y < hi among 0, B^0 .. B^J */
        unsigned j = 0;
        double lo = 0.0, hi = 1.0;
        if (y >= 1.0) {
            j = (unsigned)(log(y) / log(B));
            if (j > J) j = J;
            while (j > 0 && pw[j] > y) j--;
            while (j < J && pw[j + 1] <= y) j++;
            lo = pw[j];
            hi = j < J ? pw[j + 1] : pw[J];
        }
        const int up = stochastic ? (double)u[k] * (hi - lo) < y - lo : 2.0 * y >= lo + hi;
        const int32_t l = (int32_t)(up ? hi : lo);
        q[k] = x[k] < 0.0f ? -l : l;
        if (l) idx[nnz++] = k;
    }
    out->kind = RUMOR_CMSG_INT;
    out->d = d;
    out->nnz = nnz;
    out->scale = (float)scale;
    out->listed = 1;
}

/* ---- sparsifiers: top-k, rand-k, block ----------------------------------------------- */

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

/* A vector holding a NaN (a diverged model) is sent empty, as the quantizers send it as zeros:
 * a NaN has no rank, and neighbours must never receive one. */
static void s_topk(rumor_compressor_t *c, const float *x, rumor_cmsg_t *out)
{
    const uint32_t d = c->d, k = c->k;
    out->kind = RUMOR_CMSG_SPARSE;
    out->d = d;
    out->nnz = 0;
    out->scale = 1.0f;
    int nan = 0;
    for (uint32_t i = 0; i < d; i++) {
        c->scratch[i] = fabsf(x[i]);
        nan |= isnan(c->scratch[i]);
    }
    if (nan) return;
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
    out->nnz = n;
}

/* Top-k, then the dithered quantizer or natural dithering on the k survivors (their own
 * norm): a listed INT message. */
static void s_topk_quantize(rumor_compressor_t *c, const float *x, rumor_rng_t *rng,
                            rumor_cmsg_t *out)
{
    const uint32_t d = c->d, k = c->k;
    const int natural = c->cfg.then == RUMOR_COMPRESS_NATURAL;
    rumor_cmsg_int_clear(out, d); /* while the list of the last message's levels is there */
    s_topk(c, x, out);
    const float *val = out->val;
    /* No survivors when x holds a NaN: sent as zeros, like any such vector. */
    const double norm = out->nnz < k ? NAN
                        : natural    ? s_norm(c, val, k)
                                     : s_dither_norm(c, val, NULL, k);
    const s_quant_t t = s_quant(c, natural, norm, k);
    if (s_zero_message(norm, t.inv, d, out)) return;
    uint32_t *idx = out->idx, nnz = 0;
    if (!natural) { /* the dithering of the k survivors, in rank order, as a dither of k would */
        int32_t *q = out->q;        /* all 0, and the levels land at ranks first */
        uint32_t *rank = out->bend; /* free: no buckets */
        nnz =
            rumor_quant_dither(c->simd, val, NULL, 0, k, t.inv, t.top, s_dither_key(rng), q, rank);
        /* each level from its rank r to its position idx[r] >= r, the last first: a position
         * written is never a rank still to move */
        for (uint32_t j = nnz; j-- > 0;) {
            const int32_t l = q[rank[j]];
            q[rank[j]] = 0;
            q[idx[rank[j]]] = l;
        }
        for (uint32_t j = 0; j < nnz; j++) idx[j] = idx[rank[j]]; /* rank[j] >= j */
        out->nnz = nnz;
        out->scale = (float)t.step;
        return;
    }
    float *u = c->scratch; /* top-k is done with it */
    for (uint32_t j0 = 0; j0 < k; j0 += S_CHUNK) {
        const uint32_t n = s_chunk_uniforms(c, rng, j0, u);
        for (uint32_t j = 0; j < n; j++) {
            const uint32_t i = idx[j0 + j];
            out->q[i] = s_natural_signed(val[j0 + j], t.inv, u[j], t.top);
            if (out->q[i]) idx[nnz++] = i; /* nnz <= j0 + j: the list shrinks in place */
        }
    }
    out->nnz = nnz;
    out->scale = (float)t.step;
}

/* k positions from a seed drawn from the stream, so that the message can carry the seed
 * instead of the positions (rumor_rng_sample_positions). */
static void s_randk(rumor_compressor_t *c, const float *x, rumor_rng_t *rng, rumor_cmsg_t *out)
{
    const uint32_t d = c->d, k = c->k;
    out->seed = rumor_rng_u64(rng);
    rumor_rng_sample_positions(out->seed, d, k, c->bits, out->idx);
    /* the unbiased form scales by d / k (in float, as a receiver would) */
    const float f = c->cfg.unbiased ? (float)((double)d / k) : 1.0f;
    for (uint32_t j = 0; j < k; j++) out->val[j] = f * x[out->idx[j]];
    out->seeded = 1;
    out->kind = RUMOR_CMSG_SPARSE;
    out->d = d;
    out->nnz = k;
    out->scale = 1.0f;
}

/* The block [start, start + k) mod d, listed in ascending order: its wrapped part first. */
static void s_block(rumor_compressor_t *c, const float *x, rumor_rng_t *rng, rumor_cmsg_t *out)
{
    const uint32_t d = c->d, k = c->k, start = d ? (uint32_t)rumor_rng_below(rng, d) : 0;
    const uint32_t wrapped = start + (uint64_t)k > d ? (uint32_t)(start + (uint64_t)k - d) : 0;
    uint32_t n = 0;
    for (uint32_t i = 0; i < wrapped; i++, n++) out->idx[n] = i;
    for (uint32_t i = start; n < k; i++, n++) out->idx[n] = i;
    for (uint32_t j = 0; j < k; j++) out->val[j] = x[out->idx[j]];
    out->kind = RUMOR_CMSG_SPARSE;
    out->d = d;
    out->nnz = k;
    out->scale = 1.0f;
}

/* ---- sign ---------------------------------------------------------------------------- */

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

/* The stochastic 1-bit quantizer (see compress.h): one uniform per coordinate from the
 * stream, +1 when it falls below (1 + x_k / B) / 2. A vector holding a NaN, or of zeros, is
 * sent as zeros. */
static void s_sign_stochastic(rumor_compressor_t *c, const float *x, rumor_rng_t *rng,
                              rumor_cmsg_t *out)
{
    const uint32_t d = c->d;
    const double B = rumor_vec_nrm_inf(x, d);
    out->kind = RUMOR_CMSG_INT;
    out->d = d;
    if (!(B > 0.0) || !isfinite(B)) {
        memset(out->q, 0, (size_t)d * sizeof *out->q);
        out->nnz = 0;
        out->scale = 0.0f;
        return;
    }
    const float half = (float)(0.5 / B);
    for (uint32_t k = 0; k < d; k++)
        out->q[k] = rumor_rng_uniform(rng) < 0.5f + half * x[k] ? 1 : -1;
    out->nnz = d;
    if (c->cfg.biased) { /* times 1 / (1 + omega) = ||x||^2 / (d B^2) */
        const double n2 = rumor_vec_dot(x, x, d);
        out->scale = (float)(n2 / ((double)d * B));
    } else {
        out->scale = (float)B;
    }
}

/* ---- applying ------------------------------------------------------------------------ */

void rumor_compressor_apply(rumor_compressor_t *c, const float *x, rumor_rng_t *rng,
                            rumor_cmsg_t *out)
{
    RUMOR_ASSERT(out->cap_d >= c->d);
    if (!s_draws_levels(&c->cfg)) out->listed = 0;
    out->seeded = 0; /* rand-k sets it */
    out->nb = 0;     /* and the bucketed quantizers these */
    if (c->nb) {
        s_bucketed(c, x, rng, out);
        return;
    }
    switch (c->cfg.kind) {
    case RUMOR_COMPRESS_IDENTITY:
        out->kind = RUMOR_CMSG_DENSE;
        out->d = out->nnz = c->d;
        out->scale = 1.0f;
        rumor_vec_copy(out->val, x, c->d);
        break;
    case RUMOR_COMPRESS_DITHER:
        s_dither(c, x, NULL, s_dither_norm(c, x, NULL, c->d), rng, out);
        break;
    case RUMOR_COMPRESS_NATURAL:
        s_natural(c, x, rng, out);
        break;
    case RUMOR_COMPRESS_TOPK:
        if (c->cfg.levels)
            s_topk_quantize(c, x, rng, out);
        else
            s_topk(c, x, out);
        break;
    case RUMOR_COMPRESS_RANDK:
        s_randk(c, x, rng, out);
        break;
    case RUMOR_COMPRESS_BLOCK:
        s_block(c, x, rng, out);
        break;
    case RUMOR_COMPRESS_SIGN:
        if (c->cfg.stochastic)
            s_sign_stochastic(c, x, rng, out);
        else
            s_sign(c, x, out);
        break;
    case RUMOR_COMPRESS_EROUND:
        s_eround(c, x, rng, out);
        break;
    }
}

void rumor_compressor_apply_delta(rumor_compressor_t *c, const float *a, const float *b,
                                  rumor_rng_t *rng, rumor_cmsg_t *out)
{
    if (c->cfg.kind == RUMOR_COMPRESS_DITHER && !c->cfg.norm_inf && !c->nb) {
        RUMOR_ASSERT(out->cap_d >= c->d);
        out->seeded = 0;
        out->nb = 0;
        s_dither(c, a, b, s_dither_norm(c, a, b, c->d), rng, out);
        return;
    }
    rumor_vec_sub(c->delta, a, b, c->d);
    rumor_compressor_apply(c, c->delta, rng, out);
}

/* ---- contraction and bias ------------------------------------------------------------ */

/* Exponential rounding to powers of B: (B+1)^2 / (4B) rounding to the nearest (the relative
 * error is at most (B-1)/(B+1), at the midpoint of two powers); 1 + (B-1)^2 / (4B) for the
 * unbiased form (variance (hi - y)(y - lo) <= omega y^2, largest at y = 2 lo hi / (lo + hi)). */
static double s_eround_delta(uint32_t base, int unbiased)
{
    const double b = base;
    return unbiased ? 1.0 + (b - 1) * (b - 1) / (4 * b) : (b + 1) * (b + 1) / (4 * b);
}

double rumor_compressor_delta(const rumor_compressor_t *c)
{
    switch (c->cfg.kind) {
    case RUMOR_COMPRESS_IDENTITY:
        return 1.0;
    case RUMOR_COMPRESS_DITHER:
        return s_dither_tau(c->longest, c->cfg.levels);
    case RUMOR_COMPRESS_NATURAL:
        return s_natural_tau(c->longest, c->cfg.levels);
    case RUMOR_COMPRESS_TOPK: {
        /* Quantizing the survivors adds (1 - 1/tau) of their part: delta = tau d / k. */
        const uint32_t s = c->cfg.levels;
        const double tau = !s                                      ? 1.0
                           : c->cfg.then == RUMOR_COMPRESS_NATURAL ? s_natural_tau(c->k, s)
                                                                   : s_dither_tau(c->k, s);
        return tau * c->d / c->k;
    }
    case RUMOR_COMPRESS_RANDK: /* biased: (1 - k/d) of x lost; unbiased: omega = d/k - 1 */
    case RUMOR_COMPRESS_BLOCK:
        return (double)c->d / c->k;
    case RUMOR_COMPRESS_SIGN:
        return c->d ? (double)c->d : 1.0;
    case RUMOR_COMPRESS_EROUND:
        return s_eround_delta(c->cfg.base, c->cfg.unbiased);
    }
    return 1.0;
}

int rumor_compressor_unbiased(const rumor_compressor_t *c)
{
    const rumor_compress_kind_t k = c->cfg.kind;
    return k == RUMOR_COMPRESS_IDENTITY ||
           (k == RUMOR_COMPRESS_SIGN && c->cfg.stochastic && !c->cfg.biased) ||
           ((k == RUMOR_COMPRESS_DITHER || k == RUMOR_COMPRESS_NATURAL) && !c->cfg.biased) ||
           ((k == RUMOR_COMPRESS_RANDK || k == RUMOR_COMPRESS_EROUND) && c->cfg.unbiased);
}
