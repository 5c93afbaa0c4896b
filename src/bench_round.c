/* rumor — `rumor bench round`: the per-round communication path of one peer, on one thread.
 *
 * What a peer does each round besides its SGD step, on the model's parameter count d: the
 * gossip's produce (residual v - c_i, its norm, quantization, the own copy's update), the
 * encoding, then for each of `degree` neighbours the decoding of its message and the update of
 * its copy, and the mix. Each phase is timed in thread CPU time and reported in ns per
 * parameter, and their sum as a fraction of the same model's SGD step (loss and gradient on a
 * batch plus the update, timed here the same way), so the figure says what share of a
 * gossip-every-step peer's CPU the round costs.
 *
 * Inputs are synthetic but shaped like a run's: v moves each round by a Laplacian step on a
 * random fraction of the coordinates, that fraction chosen by bisection so that the
 * compressor keeps the requested density of nonzero levels on one step; the neighbours'
 * messages are the same compressor on their own such steps, encoded once before timing (a pool
 * of rounds, used in turn). The density each round really had is measured and printed.
 *
 * Beside it, for CHOCO and Malcom, the floor: the memory traffic a round of the same shape (a
 * produce, then the neighbours' updates, then the mix) must do, timed the same way on vectors
 * of the same sizes after the same move of v, with no arithmetic but a sum. The produce reads v and
 * the own copy once and writes the lines of the own copy that hold the own message's nonzeros; each
 * neighbour's update reads and writes the lines of its copy that hold its message's nonzeros
 * (counted from the real messages); the mix reads v, the own copy and each neighbour's and writes
 * x. The messages' bytes (about 2 kB each, against 400 kB a vector) are left out.
 */
#include "rumor/bench.h"
#include "rumor/clock.h"
#include "rumor/codec.h"
#include "rumor/compress.h"
#include "rumor/data.h"
#include "rumor/gossip.h"
#include "rumor/model.h"
#include "rumor/opt.h"
#include "rumor/peer.h"
#include "rumor/rng.h"
#include "rumor/vec.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_PROG "rumor bench round"

enum { S_POOL = 8 };     /* rounds of steps and neighbour messages prepared before timing */
enum { S_LINE = 16 };    /* floats in a 64-byte cache line */
enum { S_BLOCK = 2048 }; /* floats in a block of the floor's passes, which stays in L1 */

typedef struct {
    const char *spec, *compressor, *algo;
    rumor_codec_mode_t mode;
    uint32_t batch, degree;
    double density, seconds;
    int json, step_between;
} s_opts_t;

/* A codec mode that a peer sends (not the seed mode). */
static int s_mode(const char *v, void *dst)
{
    rumor_codec_mode_t *mode = dst;
    return rumor_codec_parse_mode(v, mode) || *mode == RUMOR_CODEC_SEED;
}

static const rumor_opt_t s_opts[] = {
    {RUMOR_OPT_STR("--model", s_opts_t, spec, "SPEC",
                   "softmax, mlp:H, ... (default mlp:128, d = 101770)")},
    {RUMOR_OPT_U32("--batch", s_opts_t, batch, "B", 1, 65536,
                   "minibatch rows of the SGD step (default 64)")},
    {RUMOR_OPT_U32("--degree", s_opts_t, degree, "K", 1, 64, "neighbours (default 2, a ring)")},
    {RUMOR_OPT_REAL("--density", s_opts_t, density, "F", 1.0,
                    "nonzero levels per parameter of a message (default 0.015)"),
     .want = "a fraction in (0, 1]"},
    {RUMOR_OPT_STR("--compressor", s_opts_t, compressor, "SPEC", "(default dither:8:biased)")},
    {RUMOR_OPT_FN("--codec", s_opts_t, mode, "MODE", s_mode, "auto, vsc, arith or raw",
                  "auto, vsc, arith or raw (default auto)")},
    {RUMOR_OPT_STR("--algorithm", s_opts_t, algo, "A",
                   "choco, malcom, dcd or deepsqueeze (default malcom)")},
    {RUMOR_OPT_REAL("--seconds", s_opts_t, seconds, "S", 86400.0,
                    "time spent on each of the three figures (default 2)"),
     .want = "a positive number of seconds"},
    {RUMOR_OPT_FLAG("--step-between", s_opts_t, step_between,
                    "run the SGD step, untimed, before each round of the round and of\n"
                    "its floor, as a peer that gossips every step does")},
    {RUMOR_OPT_FLAG("--json", s_opts_t, json, "print one JSON object instead of the table")},
};

static const rumor_opt_cmd_t s_cmd = {
    .prog = S_PROG,
    .usage = S_PROG " [OPTIONS]",
    .about = "Measures one peer's per-round communication path on one thread: produce\n"
             "(residual, norm, quantize, own copy), encode, decode and absorb each\n"
             "neighbour's message, mix; in ns per parameter (thread CPU time) and as a\n"
             "fraction of the same model's SGD step (loss, gradient and update); beside\n"
             "it the floor, the same round's reads and writes of the vectors alone.",
    .opts = s_opts,
    .n_opts = sizeof s_opts / sizeof s_opts[0],
};

/* step: scale times a Laplacian on each coordinate with probability frac, 0 elsewhere. */
static void s_step(float *step, uint32_t d, double frac, float scale, rumor_rng_t *r)
{
    for (uint32_t k = 0; k < d; k++) {
        const double u = rumor_rng_uniform_d(r), w = rumor_rng_uniform_d(r);
        const double lap = w < 0.5 ? log(2.0 * w + 1e-300) : -log(2.0 - 2.0 * w);
        step[k] = u < frac ? scale * (float)lap : 0.0f;
    }
}

/* The support fraction whose step the compressor quantizes to about `density` nonzero levels
 * per coordinate (bisection over log frac; the compressor's density grows with the support). */
static double s_calibrate(rumor_compressor_t *comp, float *step, uint32_t d, double density,
                          rumor_cmsg_t *m)
{
    double lo = log(1.0 / d), hi = 0.0;
    for (int it = 0; it < 20; it++) {
        const double mid = 0.5 * (lo + hi);
        rumor_rng_t r;
        rumor_rng_seed(&r, 1, 0, (uint64_t)it, RUMOR_RNG_TEST);
        s_step(step, d, exp(mid), 1e-3f, &r);
        rumor_compressor_apply(comp, step, &r, m);
        if ((double)m->nnz / d < density)
            lo = mid;
        else
            hi = mid;
    }
    return exp(0.5 * (lo + hi));
}

/* The SGD step's model, parameters and gradient, its synthetic data of Fashion-MNIST's shape
 * and the first row of the next batch. */
typedef struct {
    rumor_model_t *m;
    float *params, *grad;
    const rumor_dataset_t *ds;
    uint32_t batch, pos;
} s_sgd_t;

/* One SGD step (loss, gradient, update) on the next batch. */
static void s_sgd_once(s_sgd_t *s)
{
    if (s->pos + s->batch > s->ds->n) s->pos = 0;
    (void)rumor_model_loss_grad(s->m, s->params, s->ds->x + (size_t)s->pos * s->ds->dim,
                                s->ds->y + s->pos, s->batch, s->grad);
    rumor_vec_axpy(s->params, -0.01f, s->grad, rumor_model_nparams(s->m));
    s->pos += s->batch;
}

/* Thread CPU seconds of one SGD step, the mean over `seconds`. */
static double s_sgd_step(s_sgd_t *s, double seconds)
{
    uint64_t steps = 0;
    double c0 = rumor_clock_thread_cpu(), t = c0;
    for (int pass = 0; pass < 2; pass++) { /* the first pass is the warm-up */
        const double budget = pass ? seconds : 0.1 * seconds;
        steps = 0;
        s->pos = 0;
        for (c0 = rumor_clock_thread_cpu(); (t = rumor_clock_thread_cpu()) - c0 < budget; steps++)
            s_sgd_once(s);
    }
    return (t - c0) / (double)steps;
}

enum { S_PRODUCE, S_ENCODE, S_DECODE, S_ABSORB, S_MIX, S_PHASES };
static const char *const s_phase[S_PHASES] = {"produce", "encode", "decode", "absorb", "mix"};

/* What a timed loop counted: CPU seconds per phase, rounds, and two sums per round (the
 * round: nonzeros sent and bytes encoded; the floor: lines touched and bytes moved). */
typedef struct {
    double cpu[S_PHASES];
    uint64_t rounds, nnz, bytes;
} s_tally_t;

typedef struct {
    uint32_t d, degree;
    rumor_codec_mode_t mode;
    rumor_gossip_t *gossip;
    rumor_codec_t *codec;
    rumor_cmsg_t out, in;
    float *x, *v;
    float *steps;    /* (S_POOL, d) the self's moves */
    uint8_t *enc;    /* (S_POOL, degree) neighbour messages, each at most cap bytes */
    size_t *enc_len; /* (S_POOL, degree) */
    uint8_t *buf;    /* the own message */
    size_t cap;      /* rumor_codec_bound(d) */
    /* The floor's copies, 64-byte aligned so that entry k lies in line k / S_LINE: the own,
     * then each neighbour's, nl lines apart */
    float *copies;
    uint32_t nl;            /* lines of a vector of d floats */
    uint32_t *lines;        /* (S_POOL, 1 + degree, nl) the lines a message's nonzeros lie in: the
                               own message of the last round on that slot, then each neighbour's */
    uint32_t *nlines;       /* (S_POOL, 1 + degree) their counts */
    volatile uint32_t sink; /* what the floor's reads sum to, kept so that they are done */
    s_sgd_t *between;       /* when set, an SGD step before each round, untimed */
    s_tally_t round, floor;
} s_round_t;

/* The lines of a vector of d floats that hold m's entries, ascending, into lines (room for
 * all of them); returns their count. A DENSE message holds all of them. */
static uint32_t s_lines(rumor_cmsg_t *m, uint32_t *lines)
{
    const uint32_t nl = (m->d + S_LINE - 1) / S_LINE;
    if (m->kind == RUMOR_CMSG_DENSE) {
        for (uint32_t l = 0; l < nl; l++) lines[l] = l;
        return nl;
    }
    if (m->kind == RUMOR_CMSG_INT && !m->listed) (void)rumor_cmsg_list(m);
    uint32_t n = 0;
    for (uint32_t j = 0; j < m->nnz; j++) {
        const uint32_t l = m->idx[j] / S_LINE;
        if (!n || lines[n - 1] != l) lines[n++] = l;
    }
    return n;
}

static uint32_t *s_lines_of(const s_round_t *b, uint32_t slot, uint32_t msg)
{
    return b->lines + ((size_t)slot * (b->degree + 1) + msg) * b->nl;
}

/* The model's move since the last round, untimed: the SGD step when it runs between rounds,
 * and v = x + the slot's step. */
static void s_move(s_round_t *b, uint32_t slot)
{
    if (b->between) s_sgd_once(b->between);
    rumor_vec_copy(b->v, b->x, b->d);
    rumor_vec_axpy(b->v, 1.0f, b->steps + (size_t)slot * b->d, b->d);
}

/* One round: v = x + a step; produce, encode; decode and absorb each neighbour's; mix. The
 * lines the own message touched are kept for the floor. */
static void s_one_round(s_round_t *b, rumor_rng_t *rng)
{
    const uint32_t d = b->d, slot = (uint32_t)(b->round.rounds % S_POOL);
    double *cpu = b->round.cpu;
    s_move(b, slot);
    double c = rumor_clock_thread_cpu(), c1;
    rumor_gossip_produce(b->gossip, b->v, rng, &b->out);
    c1 = rumor_clock_thread_cpu();
    cpu[S_PRODUCE] += c1 - c;
    c = c1;
    size_t w;
    RUMOR_ASSERT(rumor_codec_encode(b->codec, &b->out, b->mode, b->buf, b->cap, &w) == 0);
    c1 = rumor_clock_thread_cpu();
    cpu[S_ENCODE] += c1 - c;
    c = c1;
    for (uint32_t j = 0; j < b->degree; j++) {
        const size_t at = (size_t)slot * b->degree + j;
        float *addend = rumor_gossip_addend(b->gossip, j + 1);
        const int added = addend ? rumor_codec_decode_add(b->codec, b->enc + at * b->cap,
                                                          b->enc_len[at], d, &b->in, addend)
                                 : rumor_codec_decode_packed(b->codec, b->enc + at * b->cap,
                                                             b->enc_len[at], d, &b->in);
        RUMOR_ASSERT(added == 0 || added == 1);
        c1 = rumor_clock_thread_cpu();
        cpu[S_DECODE] += c1 - c;
        c = c1;
        if (!added) RUMOR_ASSERT(rumor_gossip_absorb(b->gossip, j + 1, &b->in) == 0);
        c1 = rumor_clock_thread_cpu();
        cpu[S_ABSORB] += c1 - c;
        c = c1;
    }
    rumor_gossip_mix(b->gossip, b->v, b->x);
    cpu[S_MIX] += rumor_clock_thread_cpu() - c;
    b->round.rounds++;
    b->round.nnz += b->out.nnz;
    b->round.bytes += w;
    b->nlines[slot * (b->degree + 1)] = s_lines(&b->out, s_lines_of(b, slot, 0));
}

/* The XOR of the bits of a[0..n) and b[0..n): a read of both, vectorised, and no more. */
static uint32_t s_read2(const float *a, const float *b, uint32_t n)
{
    uint32_t acc = 0;
    for (uint32_t k = 0; k < n; k++) {
        uint32_t u, w;
        memcpy(&u, a + k, sizeof u);
        memcpy(&w, b + k, sizeof w);
        acc ^= u ^ w;
    }
    return acc;
}

/* x = in + the r (1 to 3) vectors from c, stride floats apart, in one pass (x may be in). */
static void s_add(float *x, const float *in, const float *c, uint32_t r, size_t stride, uint32_t n)
{
    const float *c1 = c + stride, *c2 = c + 2 * stride;
    if (r == 3)
        for (uint32_t k = 0; k < n; k++) x[k] = in[k] + c[k] + c1[k] + c2[k];
    else if (r == 2)
        for (uint32_t k = 0; k < n; k++) x[k] = in[k] + c[k] + c1[k];
    else
        for (uint32_t k = 0; k < n; k++) x[k] = in[k] + c[k];
}

/* x = v + the m vectors c[0..m), stride floats apart: block by block, three vectors a pass,
 * so that x stays in L1 between passes and each vector is read once (one pass for degree 2). */
static void s_sum(float *x, const float *v, const float *c, uint32_t m, size_t stride, uint32_t n)
{
    for (uint32_t k0 = 0; k0 < n; k0 += S_BLOCK) {
        const uint32_t len = n - k0 < S_BLOCK ? n - k0 : S_BLOCK;
        for (uint32_t j = 0; j < m; j += 3)
            s_add(x + k0, j ? x + k0 : v + k0, c + j * stride + k0, m - j < 3 ? m - j : 3, stride,
                  len);
    }
}

/* Reads and writes back the first entry of each listed line of c: the line moves in and is
 * dirtied, as an update of the nonzeros it holds would. */
static void s_touch(float *c, const uint32_t *lines, uint32_t n)
{
    for (uint32_t j = 0; j < n; j++) {
        volatile float *e = c + (size_t)lines[j] * S_LINE;
        *e = *e;
    }
}

/* One round of the floor, after the same move of v: the produce's reads of v and the own
 * copy, with the own message's lines written back block by block as they are read; each
 * neighbour's message's lines of its copy; the mix's reads and its write of x. */
static void s_floor_round(s_round_t *b, rumor_rng_t *rng)
{
    (void)rng;
    const uint32_t d = b->d, deg = b->degree, slot = (uint32_t)(b->floor.rounds % S_POOL);
    const size_t stride = (size_t)b->nl * S_LINE;
    const uint32_t *count = b->nlines + (size_t)slot * (deg + 1);
    double *cpu = b->floor.cpu;
    s_move(b, slot);
    double c = rumor_clock_thread_cpu(), c1;
    const uint32_t *own = s_lines_of(b, slot, 0);
    uint32_t acc = 0, j = 0;
    for (uint32_t k0 = 0; k0 < d; k0 += S_BLOCK) {
        const uint32_t k1 = d - k0 < S_BLOCK ? d : k0 + S_BLOCK, j0 = j;
        acc ^= s_read2(b->v + k0, b->copies + k0, k1 - k0);
        while (j < count[0] && own[j] * S_LINE < k1) j++;
        s_touch(b->copies, own + j0, j - j0);
    }
    b->sink ^= acc;
    c1 = rumor_clock_thread_cpu();
    cpu[S_PRODUCE] += c1 - c;
    c = c1;
    uint64_t lines = count[0];
    for (uint32_t n = 1; n <= deg; n++) {
        s_touch(b->copies + n * stride, s_lines_of(b, slot, n), count[n]);
        lines += count[n];
    }
    c1 = rumor_clock_thread_cpu();
    cpu[S_ABSORB] += c1 - c;
    c = c1;
    s_sum(b->x, b->v, b->copies, deg + 1, stride, d);
    cpu[S_MIX] += rumor_clock_thread_cpu() - c;
    b->floor.rounds++;
    b->floor.nnz += lines;
    /* v and the own copy twice, each neighbour's copy and x once; each line of a neighbour's
     * copy in and out, each of the own copy's out */
    b->floor.bytes += (uint64_t)(deg + 5) * d * sizeof(float) +
                      (lines + lines - count[0]) * S_LINE * sizeof(float);
}

/* Runs one(b, rng) into t for `seconds` of thread CPU time after a tenth of that as a
 * warm-up. */
static void s_time(s_round_t *b, void (*one)(s_round_t *, rumor_rng_t *), s_tally_t *t,
                   double seconds)
{
    rumor_rng_t rng;
    for (int pass = 0; pass < 2; pass++) { /* the first pass is the warm-up */
        memset(t, 0, sizeof *t);
        const double c0 = rumor_clock_thread_cpu(), budget = pass ? seconds : 0.1 * seconds;
        rumor_rng_seed(&rng, 1, 0, 0, RUMOR_RNG_COMPRESS);
        do one(b, &rng);
        while (rumor_clock_thread_cpu() - c0 < budget);
    }
}

/* Prepares b for d parameters from x0: the steps, the neighbours' encoded messages and the
 * lines they touch, the floor's copies and the gossip state. 0, or -1 with a message
 * printed. */
static int s_setup(s_round_t *b, const s_opts_t *o, const float *x0, rumor_algo_t algo,
                   const rumor_compress_cfg_t *ccfg)
{
    const uint32_t d = b->d, deg = o->degree;
    b->cap = rumor_codec_bound(d);
    b->x = malloc((size_t)d * sizeof *b->x);
    b->v = malloc((size_t)d * sizeof *b->v);
    b->steps = malloc((size_t)S_POOL * d * sizeof *b->steps);
    b->enc = malloc((size_t)S_POOL * deg * b->cap);
    b->enc_len = malloc((size_t)S_POOL * deg * sizeof *b->enc_len);
    b->buf = malloc(b->cap);
    b->nl = (d + S_LINE - 1) / S_LINE;
    const size_t nvec = (size_t)(deg + 1) * b->nl; /* the floor's copies and line lists */
    b->copies = aligned_alloc(64, nvec * S_LINE * sizeof *b->copies);
    b->lines = malloc(S_POOL * nvec * sizeof *b->lines);
    b->nlines = calloc(S_POOL * (deg + 1), sizeof *b->nlines);
    rumor_compressor_t *comp = NULL;
    int rc = rumor_codec_create(d, &b->codec);
    if (!rc) rc = rumor_compressor_create(ccfg, d, &comp);
    uint32_t *nbrs = malloc(deg * sizeof *nbrs);
    double *w = malloc(deg * sizeof *w);
    if (!rc && (!b->x || !b->v || !b->steps || !b->enc || !b->enc_len || !b->buf || !b->copies ||
                !b->lines || !b->nlines || !nbrs || !w || rumor_cmsg_init(&b->out, d) ||
                rumor_cmsg_init(&b->in, d)))
        rc = RUMOR_ENOMEM;
    if (rc) {
        fprintf(stderr, S_PROG ": cannot set up the codec and compressor: %s\n",
                rumor_strerror(rc));
        rumor_compressor_destroy(&comp);
        free(nbrs);
        free(w);
        return -1;
    }
    const double frac = s_calibrate(comp, b->steps, d, o->density, &b->out);
    rumor_rng_t r;
    rumor_rng_seed(&r, 2, 0, 0, RUMOR_RNG_TEST);
    for (uint32_t t = 0; t < S_POOL; t++) {
        s_step(b->steps + (size_t)t * d, d, frac, 1e-3f, &r);
        for (uint32_t j = 0; j < deg; j++) { /* neighbour j's message of round t */
            const size_t at = (size_t)t * deg + j;
            s_step(b->v, d, frac, 1e-3f, &r);
            rumor_compressor_apply(comp, b->v, &r, &b->out);
            RUMOR_ASSERT(rumor_codec_encode(b->codec, &b->out, o->mode, b->enc + at * b->cap,
                                            b->cap, &b->enc_len[at]) == 0);
            b->nlines[t * (deg + 1) + j + 1] = s_lines(&b->out, s_lines_of(b, t, j + 1));
        }
    }
    for (uint32_t j = 0; j < deg; j++) {
        nbrs[j] = j + 1;
        w[j] = 1.0 / (deg + 1);
    }
    const rumor_gossip_cfg_t gcfg = {.algo = algo,
                                     .d = d,
                                     .self = 0,
                                     .degree = deg,
                                     .nbrs = nbrs,
                                     .w_nbrs = w,
                                     .gamma = 0.05f,
                                     .compress = *ccfg};
    rc = rumor_gossip_create(&gcfg, x0, &b->gossip);
    rumor_vec_copy(b->x, x0, d);
    for (uint32_t j = 0; j <= deg; j++)
        rumor_vec_copy(b->copies + (size_t)j * b->nl * S_LINE, x0, d);
    rumor_compressor_destroy(&comp);
    free(nbrs);
    free(w);
    if (rc) {
        fprintf(stderr, S_PROG ": cannot set up the gossip state: %s\n", rumor_strerror(rc));
        return -1;
    }
    rumor_gossip_set_measure(b->gossip, 0); /* a round without an evaluation */
    return 0;
}

static void s_teardown(s_round_t *b)
{
    rumor_gossip_destroy(&b->gossip);
    rumor_codec_destroy(&b->codec);
    rumor_cmsg_free(&b->out);
    rumor_cmsg_free(&b->in);
    free(b->x);
    free(b->v);
    free(b->steps);
    free(b->enc);
    free(b->enc_len);
    free(b->buf);
    free(b->copies);
    free(b->lines);
    free(b->nlines);
}

/* A tally's total CPU seconds. */
static double s_total(const s_tally_t *t)
{
    double total = 0.0;
    for (int p = 0; p < S_PHASES; p++) total += t->cpu[p];
    return total;
}

/* The floor's phases, which share the round's names. */
static const int s_floor_phase[] = {S_PRODUCE, S_ABSORB, S_MIX};
enum { S_FLOOR_PHASES = sizeof s_floor_phase / sizeof s_floor_phase[0] };

/* The figures; the floor's when `floored` (CHOCO and Malcom). */
static void s_report(const s_opts_t *o, const s_round_t *b, double sgd, int floored)
{
    const s_tally_t *r = &b->round, *f = &b->floor;
    const double per = 1e9 / ((double)r->rounds * b->d); /* seconds in all -> ns per param */
    const double total = s_total(r), round_s = total / (double)r->rounds;
    const double density = (double)r->nnz / ((double)r->rounds * b->d);
    const double bytes = (double)r->bytes / (double)r->rounds;
    const double fper = floored ? 1e9 / ((double)f->rounds * b->d) : 0.0;
    const double floor_s = floored ? s_total(f) / (double)f->rounds : 0.0;
    if (o->json) {
        printf("{\"bench\":\"round\",\"model\":\"%s\",\"d\":%u,\"batch\":%u,\"degree\":%u,"
               "\"compressor\":\"%s\",\"codec\":\"%s\",\"algorithm\":\"%s\",\"density\":%.6f,"
               "\"bytes_per_msg\":%.1f,\"rounds\":%llu",
               o->spec, b->d, o->batch, o->degree, o->compressor, rumor_codec_mode_name(o->mode),
               o->algo, density, bytes, (unsigned long long)r->rounds);
        for (int p = 0; p < S_PHASES; p++) printf(",\"%s_ns\":%.4f", s_phase[p], r->cpu[p] * per);
        printf(",\"round_ns_per_param\":%.4f,\"round_us\":%.2f,\"sgd_step_us\":%.2f,"
               "\"fraction_of_step\":%.4f",
               total * per, round_s * 1e6, sgd * 1e6, round_s / sgd);
        printf(",\"step_between\":%s", o->step_between ? "true" : "false");
        if (!floored) {
            printf(",\"floor_ns_per_param\":null}\n");
            return;
        }
        for (int p = 0; p < S_FLOOR_PHASES; p++)
            printf(",\"floor_%s_ns\":%.4f", s_phase[s_floor_phase[p]],
                   f->cpu[s_floor_phase[p]] * fper);
        printf(",\"floor_ns_per_param\":%.4f,\"floor_us\":%.2f,\"floor_fraction_of_step\":%.4f,"
               "\"round_over_floor\":%.3f,\"floor_rounds\":%llu,\"floor_lines\":%.1f,"
               "\"floor_bytes\":%.0f}\n",
               floor_s * 1e9 / b->d, floor_s * 1e6, floor_s / sgd, round_s / floor_s,
               (unsigned long long)f->rounds, (double)f->nnz / (double)f->rounds,
               (double)f->bytes / (double)f->rounds);
        return;
    }
    printf("model        %s (d = %u), batch %u\n", o->spec, b->d, o->batch);
    printf("gossip       %s, degree %u, %s, codec %s\n", o->algo, o->degree, o->compressor,
           rumor_codec_mode_name(o->mode));
    printf("message      density %.4f (measured), %.0f bytes\n", density, bytes);
    printf("rounds       %llu\n", (unsigned long long)r->rounds);
    for (int p = 0; p < S_PHASES; p++)
        printf("  %-10s %8.3f ns/param\n", s_phase[p], r->cpu[p] * per);
    printf("round        %8.3f ns/param, %.1f us (thread CPU)\n", total * per, round_s * 1e6);
    printf("SGD step     %.1f us; the round is %.1f%% of it\n", sgd * 1e6, 100.0 * round_s / sgd);
    if (o->step_between) printf("             (one ran before each round)\n");
    if (!floored) {
        printf("floor        counted for choco and malcom only\n");
        return;
    }
    printf("floor        %8.3f ns/param, %.1f us, %.1f%% of the SGD step: the same round's\n"
           "             reads and writes of the vectors alone (%.0f kB, %.0f lines updated),\n"
           "             %llu rounds\n",
           floor_s * 1e9 / b->d, floor_s * 1e6, 100.0 * floor_s / sgd,
           (double)f->bytes / (double)f->rounds / 1e3, (double)f->nnz / (double)f->rounds,
           (unsigned long long)f->rounds);
    for (int p = 0; p < S_FLOOR_PHASES; p++)
        printf("  %-10s %8.3f ns/param\n", s_phase[s_floor_phase[p]],
               f->cpu[s_floor_phase[p]] * fper);
    printf("round/floor  %.2f\n", round_s / floor_s);
}

int rumor_bench_round_main(int argc, char **argv)
{
    s_opts_t o = {"mlp:128", "dither:8:biased", "malcom", RUMOR_CODEC_AUTO, 64, 2, 0.015, 2.0, 0,
                  0};
    int n_pos;
    const int parsed = rumor_opt_parse(&s_cmd, argc, argv, &o, NULL, &n_pos);
    if (parsed) return rumor_opt_exit(parsed);
    rumor_errmsg_t em = {{0}};
    rumor_model_spec_t spec;
    rumor_compress_cfg_t ccfg;
    rumor_algo_t algo;
    if (rumor_model_spec_parse(o.spec, 784, 10, &spec, &em) != 0) {
        fprintf(stderr, S_PROG ": --model: %s\n", em.msg);
        return 2;
    }
    if (rumor_compress_parse(o.compressor, &ccfg, &em) != 0 || ccfg.layer) {
        fprintf(stderr, S_PROG ": --compressor: %s\n",
                ccfg.layer ? "':layer' is not supported here" : em.msg);
        return 2;
    }
    if (rumor_algo_parse(o.algo, &algo) != 0 || algo == RUMOR_ALGO_DPSGD) {
        fprintf(stderr,
                S_PROG ": --algorithm: expected choco, malcom, dcd or deepsqueeze, got '%s'\n",
                o.algo);
        return 2;
    }
    rumor_peer_blas_one_thread(); /* one thread, like a peer */
    rumor_dataset_t *ds = NULL;
    rumor_model_t *m = NULL;
    const int mrc = rumor_model_create(&spec, o.batch, &m);
    const size_t np = m ? rumor_model_nparams(m) : 0;
    float *params = m ? malloc(np * sizeof *params) : NULL;
    float *grad = m ? malloc(np * sizeof *grad) : NULL;
    s_round_t b = {.d = (uint32_t)np, .degree = o.degree, .mode = o.mode};
    int status = 1;
    if (mrc) {
        fprintf(stderr, S_PROG ": the model: %s\n", rumor_strerror(mrc));
        goto done;
    }
    if (!params || !grad || np > UINT32_MAX ||
        rumor_data_synthetic(o.batch > 4096 ? o.batch : 4096, 784, 10, 1.0, 1, &ds) != 0) {
        fprintf(stderr, S_PROG ": cannot allocate the model and its data\n");
        goto done;
    }
    rumor_rng_t rng;
    rumor_rng_seed(&rng, 1, 0, 0, RUMOR_RNG_INIT);
    rumor_model_init(m, params, &rng);
    if (s_setup(&b, &o, params, algo, &ccfg) != 0) goto done;
    s_sgd_t sgd_state = {m, params, grad, ds, o.batch, 0};
    const double sgd = s_sgd_step(&sgd_state, o.seconds);
    if (o.step_between) b.between = &sgd_state;
    s_time(&b, s_one_round, &b.round, o.seconds);
    const int floored = algo == RUMOR_ALGO_CHOCO || algo == RUMOR_ALGO_MALCOM;
    if (floored) s_time(&b, s_floor_round, &b.floor, o.seconds);
    s_report(&o, &b, sgd, floored);
    fflush(stdout);
    status = 0;
done:
    s_teardown(&b);
    free(params);
    free(grad);
    rumor_model_destroy(&m);
    rumor_dataset_destroy(&ds);
    return status;
}
