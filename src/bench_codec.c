/* rumor — `rumor bench codec`: codec size against the entropy bound and against general-purpose
 * compressors, and its speed, on the integer vectors Malcom-PSGD sends.
 *
 * Inputs: synthetic residuals (a Laplacian vector on a random support, dithered-quantized by
 * the compressor module as a peer would, with the support and the number of levels chosen to
 * give 0.1%, 1%, 10% and 50% nonzero levels, plus Malcom's own 16-level setting and natural
 * compression, whose levels are powers of two up to 2^30, on a dense residual), and INT messages
 * recorded from a simulation (docs/codec.md: a file of u32 length-prefixed codec messages;
 * tests/data/codec_residuals.bin by default).
 *
 * Speeds are MB of float32 input (4 d bytes) per second on one thread, the best of several
 * timed batches: "encode" includes the dithered quantization of the float vector (synthetic
 * inputs only), "code" is the codec alone. Sizes of zstd -19 and xz -9e are measured by running
 * those programs on the levels stored one byte each, message by message, when they are
 * installed.
 */
#include "rumor/clock.h"
#include "rumor/bench.h"
#include "rumor/bytes.h"
#include "rumor/codec.h"
#include "rumor/compress.h"
#include "rumor/file.h"
#include "rumor/opt.h"
#include "rumor/peer.h"
#include "rumor/rng.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define S_PROG              "rumor bench codec"
#define S_DEFAULT_RESIDUALS RUMOR_SOURCE_DIR "/tests/data/codec_residuals.bin"

typedef struct {
    uint32_t d;
    double seconds;
    rumor_codec_mode_t mode;
    const char *residuals; /* NULL: the default file, skipped when absent */
    int no_external;
    int json;
    uint64_t seed;
    const char *compressor; /* one more input: this compressor on the dense Gaussian */
} s_opts_t;

static int s_mode(const char *v, void *dst)
{
    return rumor_codec_parse_mode(v, dst);
}

/* A compressor of at most 63 characters without :layer (there is no model here). */
static int s_compressor(const char *v, void *dst)
{
    rumor_compress_cfg_t cfg;
    if (rumor_compress_parse(v, &cfg, NULL) || cfg.layer || strlen(v) >= 64) return -1;
    *(const char **)dst = v;
    return 0;
}

static const rumor_opt_t s_opts[] = {
    {RUMOR_OPT_U32("--d", s_opts_t, d, "D", 1000, 1u << 26,
                   "length of the synthetic vectors (default 100000)")},
    {RUMOR_OPT_REAL("--seconds", s_opts_t, seconds, "S", 3600.0,
                    "time spent on each speed figure (default 0.5)"),
     .want = "a positive number of seconds"},
    {RUMOR_OPT_FN("--mode", s_opts_t, mode, "MODE", s_mode, "auto, raw, vsc or arith",
                  "auto, raw, vsc or arith (default auto)")},
    {RUMOR_OPT_STR("--residuals", s_opts_t, residuals, "FILE",
                   "recorded messages (default " S_DEFAULT_RESIDUALS ", if present)")},
    {RUMOR_OPT_FLAG("--no-external", s_opts_t, no_external, "do not run zstd and xz")},
    {RUMOR_OPT_U64("--seed", s_opts_t, seed, "N", 0, UINT64_MAX,
                   "seed of the synthetic inputs (default 1)")},
    {RUMOR_OPT_FN("--compressor", s_opts_t, compressor, "SPEC", s_compressor,
                  "a compressor (not :layer: no model here)",
                  "one more input: SPEC (any compressor but :layer) on the\n"
                  "dense Gaussian residual, e.g. dither:8:biased:bucket=1024")},
    {RUMOR_OPT_FLAG("--json", s_opts_t, json, "one JSON object per input instead of the table")},
};

static const rumor_opt_cmd_t s_cmd = {
    .prog = S_PROG,
    .usage = S_PROG " [OPTIONS]",
    .about = "Measures the codec on dithered-quantized residuals: size against the entropy\n"
             "bound and against zstd -19 / xz -9e on the levels stored one byte each, bits per\n"
             "nonzero, and encode (quantize + code), code-only and decode speed in MB/s of\n"
             "float32 input on one thread.",
    .opts = s_opts,
    .n_opts = sizeof s_opts / sizeof s_opts[0],
};

/* ---- external compressors ------------------------------------------------------------ */

/* Size of `cmd` (which reads the file named by the trailing argument) on bytes[0..n), or -1
 * when the program is missing or fails. */
static long s_external_size(const char *cmd, const uint8_t *bytes, size_t n)
{
    char path[] = "/tmp/rumor-bench-codec-XXXXXX";
    const int fd = mkstemp(path);
    if (fd < 0) return -1;
    FILE *f = fdopen(fd, "wb");
    if (!f) {
        close(fd);
        unlink(path);
        return -1;
    }
    const int wrote = fwrite(bytes, 1, n, f) == n;
    if (fclose(f) != 0 || !wrote) {
        unlink(path);
        return -1;
    }
    char line[256];
    snprintf(line, sizeof line, "%s '%s' 2>/dev/null", cmd, path);
    FILE *p = popen(line, "r");
    long size = -1;
    if (p) {
        char buf[65536];
        size_t got;
        size = 0;
        while ((got = fread(buf, 1, sizeof buf, p)) > 0) size += (long)got;
        if (pclose(p) != 0) size = -1;
    }
    unlink(path);
    return size;
}

/* ---- results ------------------------------------------------------------------------- */

typedef struct {
    char input[48];
    uint64_t d, nnz, messages;
    uint64_t bytes, raw_bytes, vsc_bytes, arith_bytes;
    double bound_bytes;
    double enc_mbps, code_mbps, dec_mbps; /* enc_mbps < 0: not measured */
    char modes[48];
    long zstd, xz; /* -1: not measured */
    int exact;     /* every message decoded to itself */
} s_row_t;

static void s_print_header(void)
{
    printf("%-20s %7s %7s %7s %7s %7s %8s %8s %8s %-9s %7s %7s %7s %7s\n", "input", "d", "nnz",
           "bytes", "/bound", "bit/nz", "enc MB/s", "codeMB/s", "dec MB/s", "mode", "vsc", "arith",
           "zstd-19", "xz-9e");
}

static void s_print_row(const s_row_t *r, int json)
{
    const double ratio = r->bytes / r->bound_bytes, bpn = r->nnz ? 8.0 * r->bytes / r->nnz : 0;
    if (json) {
        char enc[24] = "null", zs[24] = "null", xz[24] = "null";
        if (r->enc_mbps >= 0) snprintf(enc, sizeof enc, "%.1f", r->enc_mbps);
        if (r->zstd >= 0) snprintf(zs, sizeof zs, "%ld", r->zstd);
        if (r->xz >= 0) snprintf(xz, sizeof xz, "%ld", r->xz);
        printf("{\"input\": \"%s\", \"d\": %llu, \"nnz\": %llu, \"messages\": %llu, "
               "\"bytes\": %llu, \"entropy_bound_bytes\": %.1f, \"bytes_per_bound\": %.4f, "
               "\"bits_per_nnz\": %.3f, \"encode_MBps\": %s, \"code_MBps\": %.1f, "
               "\"decode_MBps\": %.1f, \"mode\": \"%s\", \"raw_bytes\": %llu, "
               "\"vsc_bytes\": %llu, \"arith_bytes\": %llu, \"zstd19_bytes\": %s, "
               "\"xz9e_bytes\": %s, \"exact\": %s}\n",
               r->input, (unsigned long long)r->d, (unsigned long long)r->nnz,
               (unsigned long long)r->messages, (unsigned long long)r->bytes, r->bound_bytes, ratio,
               bpn, enc, r->code_mbps, r->dec_mbps, r->modes, (unsigned long long)r->raw_bytes,
               (unsigned long long)r->vsc_bytes, (unsigned long long)r->arith_bytes, zs, xz,
               r->exact ? "true" : "false");
        return;
    }
    char enc[16], zs[16], xz[16];
    snprintf(enc, sizeof enc, r->enc_mbps < 0 ? "-" : "%.0f", r->enc_mbps);
    snprintf(zs, sizeof zs, r->zstd < 0 ? "-" : "%ld", r->zstd);
    snprintf(xz, sizeof xz, r->xz < 0 ? "-" : "%ld", r->xz);
    printf("%-20s %7llu %7llu %7llu %7.4f %7.3f %8s %8.0f %8.0f %-9s %7llu %7llu %7s %7s%s\n",
           r->input, (unsigned long long)r->d, (unsigned long long)r->nnz,
           (unsigned long long)r->bytes, ratio, bpn, enc, r->code_mbps, r->dec_mbps, r->modes,
           (unsigned long long)r->vsc_bytes, (unsigned long long)r->arith_bytes, zs, xz,
           r->exact ? "" : "  NOT EXACT");
}

/* ---- one set of messages ------------------------------------------------------------- */

typedef struct {
    rumor_codec_t *codec;
    rumor_cmsg_t out;
    uint8_t *buf;
    size_t cap;
} s_ctx_t;

static int s_same(const rumor_cmsg_t *a, const rumor_cmsg_t *b)
{
    if (a->kind != b->kind || a->d != b->d || a->nnz != b->nnz || memcmp(&a->scale, &b->scale, 4))
        return 0;
    if (a->kind == RUMOR_CMSG_INT) return !memcmp(a->q, b->q, (size_t)a->d * 4);
    if (a->kind == RUMOR_CMSG_SPARSE)
        return !memcmp(a->idx, b->idx, (size_t)a->nnz * 4) &&
               !memcmp(a->val, b->val, (size_t)a->nnz * 4);
    return !memcmp(a->val, b->val, (size_t)a->d * 4);
}

/* Sizes of msgs[0..n) in the chosen mode and in each mode, their entropy bound, the modes
 * chosen, and whether each decodes to itself. */
static void s_sizes(s_ctx_t *x, rumor_cmsg_t *const *msgs, size_t n, rumor_codec_mode_t mode,
                    s_row_t *r)
{
    unsigned count[RUMOR_CODEC_SEED + 1] = {0};
    r->exact = 1;
    for (size_t i = 0; i < n; i++) {
        const rumor_cmsg_t *m = msgs[i];
        size_t w = 0;
        RUMOR_ASSERT(rumor_codec_encode(x->codec, m, mode, x->buf, x->cap, &w) == 0);
        r->bytes += w;
        count[rumor_codec_peek_mode(x->buf, w)]++;
        if (rumor_codec_decode(x->codec, x->buf, w, m->d, &x->out) != 0 || !s_same(m, &x->out))
            r->exact = 0;
        const rumor_codec_mode_t each[] = {RUMOR_CODEC_RAW, RUMOR_CODEC_VSC, RUMOR_CODEC_ARITH};
        uint64_t *dst[] = {&r->raw_bytes, &r->vsc_bytes, &r->arith_bytes};
        for (int k = 0; k < 3; k++)
            if (rumor_codec_encode(x->codec, m, each[k], x->buf, x->cap, &w) == 0) *dst[k] += w;
        r->bound_bytes += rumor_codec_entropy_bound_bits(m) / 8;
        r->d += m->d;
        r->nnz += m->nnz;
    }
    r->messages = n;
    r->modes[0] = '\0';
    size_t len = 0;
    int kinds = 0;
    for (int k = 1; k <= RUMOR_CODEC_SEED; k++) kinds += count[k] > 0;
    for (int k = 1; k <= RUMOR_CODEC_SEED; k++) {
        if (!count[k]) continue;
        if (kinds == 1)
            len += (size_t)snprintf(r->modes + len, sizeof r->modes - len, "%s",
                                    rumor_codec_mode_name((rumor_codec_mode_t)k));
        else
            len +=
                (size_t)snprintf(r->modes + len, sizeof r->modes - len, "%s%s:%u", len ? "," : "",
                                 rumor_codec_mode_name((rumor_codec_mode_t)k), count[k]);
        if (len >= sizeof r->modes) break;
    }
}

/* zstd -19 and xz -9e on the levels of each INT message stored one byte each (or, when some
 * level does not fit in an int8, little-endian in the narrowest of 2 and 4 bytes that holds
 * them all), compressed message by message as a peer would have to, sizes summed. */
static void s_external(const s_opts_t *o, rumor_cmsg_t *const *msgs, size_t n, s_row_t *r)
{
    r->zstd = r->xz = -1;
    if (o->no_external) return;
    long zs = 0, xz = 0;
    for (size_t i = 0; i < n && zs >= 0 && xz >= 0; i++) {
        const rumor_cmsg_t *m = msgs[i];
        if (m->kind != RUMOR_CMSG_INT) continue;
        unsigned w = 1;
        for (uint32_t j = 0; j < m->d; j++) {
            const int32_t v = m->q[j];
            const unsigned need = v >= INT8_MIN && v <= INT8_MAX     ? 1
                                  : v >= INT16_MIN && v <= INT16_MAX ? 2
                                                                     : 4;
            if (need > w) w = need;
        }
        const size_t nb = (size_t)m->d * w;
        uint8_t *bytes = malloc(nb ? nb : 1);
        if (!bytes) return;
        for (uint32_t j = 0; j < m->d; j++)
            for (unsigned b = 0; b < w; b++)
                bytes[(size_t)j * w + b] = (uint8_t)((uint32_t)m->q[j] >> (8 * b));
        const long a = s_external_size("zstd -19 -q -c --", bytes, nb);
        const long b = s_external_size("xz -9e -T1 -c --", bytes, nb);
        zs = a < 0 ? -1 : zs + a;
        xz = b < 0 ? -1 : xz + b;
        free(bytes);
    }
    r->zstd = zs;
    r->xz = xz;
}

/* Best MB/s of float32 input, over batches of repetitions of run(arg) for `seconds`, each
 * repetition handling `floats` inputs. A batch that took under 10 ms is doubled. */
static double s_best_mbps(double seconds, double floats, void (*run)(void *), void *arg)
{
    double best = 0;
    const double t_end = rumor_clock_now() + seconds;
    unsigned reps = 1;
    do {
        const double t0 = rumor_clock_now();
        for (unsigned r = 0; r < reps; r++) run(arg);
        const double dt = rumor_clock_now() - t0;
        const double mbps = 4.0 * floats * reps / dt / 1e6;
        if (mbps > best) best = mbps;
        if (dt < 0.01) reps *= 2;
    } while (rumor_clock_now() < t_end);
    return best;
}

/* One pass of encoding or decoding every message. */
typedef struct {
    s_ctx_t *x;
    rumor_cmsg_t *const *msgs;
    size_t n;
    rumor_codec_mode_t mode;
    const uint8_t *enc; /* encoded copies for decoding */
    const size_t *len, *off;
} s_pass_t;

static void s_encode_pass(void *arg)
{
    const s_pass_t *p = arg;
    for (size_t i = 0; i < p->n; i++) {
        size_t w;
        RUMOR_ASSERT(
            rumor_codec_encode(p->x->codec, p->msgs[i], p->mode, p->x->buf, p->x->cap, &w) == 0);
    }
}

static void s_decode_pass(void *arg)
{
    const s_pass_t *p = arg;
    for (size_t i = 0; i < p->n; i++)
        RUMOR_ASSERT(rumor_codec_decode(p->x->codec, p->enc + p->off[i], p->len[i], p->msgs[i]->d,
                                        &p->x->out) == 0);
}

/* Best MB/s of float32 input over batches run for `seconds`. what: 0 code, 1 decode. */
static double s_speed_codec(s_ctx_t *x, rumor_cmsg_t *const *msgs, size_t n,
                            rumor_codec_mode_t mode, double seconds, int what)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++) total += rumor_codec_bound(msgs[i]->d);
    uint8_t *enc = malloc(total);
    size_t *len = malloc(n * sizeof *len), *off = malloc(n * sizeof *off);
    RUMOR_ASSERT(enc && len && off);
    uint64_t floats = 0;
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        off[i] = at;
        RUMOR_ASSERT(rumor_codec_encode(x->codec, msgs[i], mode, enc + at,
                                        rumor_codec_bound(msgs[i]->d), &len[i]) == 0);
        at += len[i];
        floats += msgs[i]->d;
    }
    s_pass_t pass = {x, msgs, n, mode, enc, len, off};
    const double best =
        s_best_mbps(seconds, (double)floats, what == 0 ? s_encode_pass : s_decode_pass, &pass);
    free(enc);
    free(len);
    free(off);
    return best;
}

/* ---- synthetic inputs ---------------------------------------------------------------- */

/* One quantize + code of the synthetic vector, as a peer does each round. */
typedef struct {
    rumor_compressor_t *comp;
    const float *v;
    rumor_rng_t *rng;
    rumor_cmsg_t *q;
    s_ctx_t *x;
    rumor_codec_mode_t mode;
} s_quantize_pass_t;

static void s_quantize_pass(void *arg)
{
    const s_quantize_pass_t *p = arg;
    size_t w;
    rumor_compressor_apply(p->comp, p->v, p->rng, p->q);
    RUMOR_ASSERT(rumor_codec_encode(p->x->codec, p->q, p->mode, p->x->buf, p->x->cap, &w) == 0);
}

/* x: a Laplacian vector on a random fraction `frac` of d positions. */
static void s_laplacian(float *x, uint32_t d, double frac, rumor_rng_t *r)
{
    for (uint32_t k = 0; k < d; k++) {
        x[k] = 0.0f;
        if (frac < 1.0 && rumor_rng_uniform_d(r) >= frac) continue;
        const double u = rumor_rng_uniform_d(r) - 0.5;
        x[k] = (float)(u < 0 ? log(1 + 2 * u) : -log(1 - 2 * u));
    }
}

typedef struct {
    const char *name;
    double density;   /* target fraction of nonzero levels; 0: a dense Gaussian */
    const char *spec; /* the compressor; NULL: dither, s = 16 on a dense Gaussian */
} s_synth_t;

static int s_run_synthetic(const s_opts_t *o, s_ctx_t *x, const s_synth_t *sy, s_row_t *r)
{
    const uint32_t d = o->d;
    float *v = malloc((size_t)d * sizeof *v);
    rumor_cmsg_t m;
    if (!v || rumor_cmsg_init(&m, d)) {
        free(v);
        return RUMOR_ENOMEM;
    }
    rumor_rng_t rng;
    rumor_rng_seed(&rng, o->seed, 0, 0, RUMOR_RNG_TEST);
    /* A dithered quantizer with s levels keeps about s ||x||_1 / ||x||_2 levels; with a
     * Laplacian on f d positions that is s sqrt(f d / 2), and about 73% of the kept entries
     * round to nonzero when the mean level is 1.5 (our choice of s). */
    unsigned levels = 16;
    double frac = 1.0;
    if (sy->density > 0) {
        frac = sy->density / 0.73 < 1 ? sy->density / 0.73 : 1;
        levels = (unsigned)lround(1.5 * sqrt(2 * frac * d));
        s_laplacian(v, d, frac, &rng);
    } else {
        for (uint32_t k = 0; k < d; k++) v[k] = (float)rumor_rng_normal(&rng);
    }
    char spec[64];
    if (sy->spec)
        snprintf(spec, sizeof spec, "%s", sy->spec);
    else
        snprintf(spec, sizeof spec, "dither:%u", levels);
    rumor_compress_cfg_t cfg;
    RUMOR_ASSERT(rumor_compress_parse(spec, &cfg, NULL) == 0);
    rumor_compressor_t *comp = rumor_compressor_new(&cfg, d);
    RUMOR_ASSERT(comp);
    rumor_compressor_apply(comp, v, &rng, &m);

    memset(r, 0, sizeof *r);
    snprintf(r->input, sizeof r->input, "%s", sy->name);
    rumor_cmsg_t *msgs[1] = {&m};
    s_sizes(x, msgs, 1, o->mode, r);
    s_external(o, msgs, 1, r);
    r->code_mbps = s_speed_codec(x, msgs, 1, o->mode, o->seconds, 0);
    r->dec_mbps = s_speed_codec(x, msgs, 1, o->mode, o->seconds, 1);

    /* quantize + code, as a peer does each round */
    rumor_cmsg_t q;
    RUMOR_ASSERT(rumor_cmsg_init(&q, d) == 0);
    s_quantize_pass_t qp = {comp, v, &rng, &q, x, o->mode};
    r->enc_mbps = s_best_mbps(o->seconds, d, s_quantize_pass, &qp);
    rumor_cmsg_free(&q);
    rumor_compressor_destroy(&comp);
    rumor_cmsg_free(&m);
    free(v);
    return 0;
}

/* ---- recorded residuals -------------------------------------------------------------- */

/* Frees msgs[0..n) (NULL entries allowed) and msgs. */
static void s_free_msgs(rumor_cmsg_t **msgs, size_t n)
{
    for (size_t k = 0; msgs && k < n; k++)
        if (msgs[k]) {
            rumor_cmsg_free(msgs[k]);
            free(msgs[k]);
        }
    free(msgs);
}

/* Reads a file of records (u32 little-endian length, then one codec message) and decodes
 * every message. On success *msgs holds n decoded messages, each allocated for its d. */
static int s_load_residuals(const char *path, rumor_cmsg_t ***msgs_p, size_t *n_p)
{
    char *raw;
    size_t size;
    if (rumor_file_read(path, (size_t)1 << 30, &raw, &size, NULL) != 0) return RUMOR_EIO;
    const uint8_t *data = (const uint8_t *)raw;
    int rc = 0;
    rumor_cmsg_t **msgs = NULL;
    size_t n = 0;
    rumor_codec_t *c = NULL;
    uint32_t dmax = 0;
    for (size_t at = 0; at < size;) { /* first pass: framing and the largest d */
        if (size - at < 4) {
            rc = RUMOR_ETRUNC;
            break;
        }
        const uint32_t len = rumor_load32le(data + at);
        rumor_codec_info_t info;
        if (len > size - at - 4 || (rc = rumor_codec_peek(data + at + 4, len, &info))) {
            if (!rc) rc = RUMOR_EFORMAT;
            break;
        }
        if (info.d > (1u << 26)) {
            rc = RUMOR_ERANGE;
            break;
        }
        if (info.d > dmax) dmax = info.d;
        n++;
        at += 4 + (size_t)len;
    }
    if (!rc && !n) rc = RUMOR_EFORMAT;
    if (!rc) rc = rumor_codec_create(dmax, &c);
    if (!rc && !(msgs = calloc(n, sizeof *msgs))) rc = RUMOR_ENOMEM;
    size_t i = 0;
    for (size_t at = 0; !rc && at < size; i++) {
        const uint32_t len = rumor_load32le(data + at);
        const uint8_t *h = data + at + 4;
        rumor_codec_info_t info;
        RUMOR_ASSERT(rumor_codec_peek(h, len, &info) == 0); /* checked in the first pass */
        const uint32_t d = info.d;
        msgs[i] = malloc(sizeof **msgs);
        if (!msgs[i] || rumor_cmsg_init(msgs[i], d)) {
            free(msgs[i]);
            msgs[i] = NULL;
            rc = RUMOR_ENOMEM;
            break;
        }
        rc = rumor_codec_decode(c, h, len, d, msgs[i]);
        at += 4 + (size_t)len;
    }
    RUMOR_ASSERT(rc || i == n); /* both passes walk the same records */
    rumor_codec_destroy(&c);
    free(raw);
    if (rc) {
        s_free_msgs(msgs, n);
        return rc;
    }
    *msgs_p = msgs;
    *n_p = n;
    return 0;
}

static void s_run_recorded(const s_opts_t *o, s_ctx_t *x, const char *path, rumor_cmsg_t **msgs,
                           size_t n, s_row_t *r)
{
    memset(r, 0, sizeof *r);
    const char *base = strrchr(path, '/');
    /* The name, cut to fit the table column (not snprintf: its truncation warning depends
     * on the length of the build's source path). */
    const char *name = base ? base + 1 : path;
    size_t len = strlen(name);
    if (len >= sizeof r->input) len = sizeof r->input - 1;
    memcpy(r->input, name, len);
    r->input[len] = '\0';
    s_sizes(x, msgs, n, o->mode, r);
    s_external(o, msgs, n, r);
    r->enc_mbps = -1;
    r->code_mbps = s_speed_codec(x, msgs, n, o->mode, o->seconds, 0);
    r->dec_mbps = s_speed_codec(x, msgs, n, o->mode, o->seconds, 1);
}

int rumor_bench_codec_main(int argc, char **argv)
{
    s_opts_t o = {100000, 0.5, RUMOR_CODEC_AUTO, NULL, 0, 0, 1, NULL};
    int n_pos;
    const int parsed = rumor_opt_parse(&s_cmd, argc, argv, &o, NULL, &n_pos);
    if (parsed) return rumor_opt_exit(parsed);
    rumor_peer_blas_one_thread(); /* the quantizer's norm: one thread, like a peer */

    rumor_cmsg_t **rec = NULL;
    size_t nrec = 0;
    const char *path = o.residuals ? o.residuals : S_DEFAULT_RESIDUALS;
    const int lrc = s_load_residuals(path, &rec, &nrec);
    if (lrc && (o.residuals || lrc != RUMOR_EIO)) {
        fprintf(stderr, S_PROG ": %s: cannot read recorded messages: %s\n", path,
                rumor_strerror(lrc));
        return 1;
    }
    uint32_t dmax = o.d;
    for (size_t i = 0; i < nrec; i++)
        if (rec[i]->d > dmax) dmax = rec[i]->d;

    s_ctx_t x = {NULL, {0}, NULL, rumor_codec_bound(dmax)};
    int status = 0;
    const int crc = rumor_codec_create(dmax, &x.codec);
    if (crc) {
        fprintf(stderr, S_PROG ": the codec for %u coordinates: %s\n", dmax, rumor_strerror(crc));
        status = 1;
        goto done;
    }
    x.buf = malloc(x.cap);
    if (!x.buf || rumor_cmsg_init(&x.out, dmax)) {
        fprintf(stderr, S_PROG ": out of memory\n");
        status = 1;
        goto done;
    }
    if (!o.json) {
        printf("codec %s; sizes in bytes (header included); speeds in MB/s of float32 input, "
               "one thread, best of batches over %.2fs\n",
               rumor_codec_mode_name(o.mode), o.seconds);
        s_print_header();
    }
    const s_synth_t synth[] = {
        {"dither 0.1%", 0.001, NULL}, {"dither 1%", 0.01, NULL},  {"dither 10%", 0.10, NULL},
        {"dither 50%", 0.50, NULL},   {"malcom s=16", 0.0, NULL}, {"natural", 0.0, "natural"},
    };
    const s_synth_t extra = {o.compressor, 0.0, o.compressor};
    for (size_t i = 0; i <= sizeof synth / sizeof synth[0]; i++) {
        const s_synth_t *sy = i < sizeof synth / sizeof synth[0] ? &synth[i] : &extra;
        if (!sy->name) continue; /* no --compressor */
        s_row_t r;
        if (s_run_synthetic(&o, &x, sy, &r)) {
            fprintf(stderr, S_PROG ": out of memory\n");
            status = 1;
            break;
        }
        s_print_row(&r, o.json);
        fflush(stdout);
        if (!r.exact) status = 1;
    }
    if (nrec && !status) {
        s_row_t r;
        s_run_recorded(&o, &x, path, rec, nrec, &r);
        s_print_row(&r, o.json);
        if (!r.exact) status = 1;
    }
done:
    s_free_msgs(rec, nrec);
    rumor_cmsg_free(&x.out);
    free(x.buf);
    rumor_codec_destroy(&x.codec);
    return status;
}
