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
 */
#include "rumor/bench.h"
#include "rumor/clock.h"
#include "rumor/codec.h"
#include "rumor/compress.h"
#include "rumor/data.h"
#include "rumor/gossip.h"
#include "rumor/model.h"
#include "rumor/opt.h"
#include "rumor/rng.h"
#include "rumor/vec.h"

#include <cblas.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_PROG "rumor bench round"

enum { S_POOL = 8 }; /* rounds of steps and neighbour messages prepared before timing */

typedef struct {
    const char *spec, *compressor, *algo;
    rumor_codec_mode_t mode;
    uint32_t batch, degree;
    double density, seconds;
    int json;
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
                    "time spent on each of the two figures (default 2)"),
     .want = "a positive number of seconds"},
    {RUMOR_OPT_FLAG("--json", s_opts_t, json, "print one JSON object instead of the table")},
};

static const rumor_opt_cmd_t s_cmd = {
    .prog = S_PROG,
    .usage = S_PROG " [OPTIONS]",
    .about = "Measures one peer's per-round communication path on one thread: produce\n"
             "(residual, norm, quantize, own copy), encode, decode and absorb each\n"
             "neighbour's message, mix; in ns per parameter (thread CPU time) and as a\n"
             "fraction of the same model's SGD step (loss, gradient and update).",
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

/* Thread CPU seconds of one SGD step (loss, gradient, update) of the model on batch rows of
 * synthetic data of Fashion-MNIST's shape, the mean over `seconds`. */
static double s_sgd_step(rumor_model_t *m, float *params, float *grad, const rumor_dataset_t *ds,
                         uint32_t batch, double seconds)
{
    const size_t np = rumor_model_nparams(m);
    uint64_t steps = 0;
    double c0 = rumor_clock_thread_cpu(), t = c0;
    for (int pass = 0; pass < 2; pass++) { /* the first pass is the warm-up */
        const double budget = pass ? seconds : 0.1 * seconds;
        steps = 0;
        c0 = rumor_clock_thread_cpu();
        for (uint32_t pos = 0; (t = rumor_clock_thread_cpu()) - c0 < budget; steps++) {
            if (pos + batch > ds->n) pos = 0;
            (void)rumor_model_loss_grad(m, params, ds->x + (size_t)pos * ds->dim, ds->y + pos,
                                        batch, grad);
            rumor_vec_axpy(params, -0.01f, grad, np);
            pos += batch;
        }
    }
    return (t - c0) / (double)steps;
}

enum { S_PRODUCE, S_ENCODE, S_DECODE, S_ABSORB, S_MIX, S_PHASES };
static const char *const s_phase[S_PHASES] = {"produce", "encode", "decode", "absorb", "mix"};

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
    double cpu[S_PHASES];
    uint64_t rounds, nnz, bytes;
} s_round_t;

/* One round: v = x + a step; produce, encode; decode and absorb each neighbour's; mix. */
static void s_one_round(s_round_t *b, rumor_rng_t *rng)
{
    const uint32_t d = b->d, slot = (uint32_t)(b->rounds % S_POOL);
    rumor_vec_copy(b->v, b->x, d);
    rumor_vec_axpy(b->v, 1.0f, b->steps + (size_t)slot * d, d);
    double c = rumor_clock_thread_cpu(), c1;
    rumor_gossip_produce(b->gossip, b->v, rng, &b->out);
    c1 = rumor_clock_thread_cpu();
    b->cpu[S_PRODUCE] += c1 - c;
    c = c1;
    size_t w;
    RUMOR_ASSERT(rumor_codec_encode(b->codec, &b->out, b->mode, b->buf, b->cap, &w) == 0);
    c1 = rumor_clock_thread_cpu();
    b->cpu[S_ENCODE] += c1 - c;
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
        b->cpu[S_DECODE] += c1 - c;
        c = c1;
        if (!added) RUMOR_ASSERT(rumor_gossip_absorb(b->gossip, j + 1, &b->in) == 0);
        c1 = rumor_clock_thread_cpu();
        b->cpu[S_ABSORB] += c1 - c;
        c = c1;
    }
    rumor_gossip_mix(b->gossip, b->v, b->x);
    b->cpu[S_MIX] += rumor_clock_thread_cpu() - c;
    b->rounds++;
    b->nnz += b->out.nnz;
    b->bytes += w;
}

/* Prepares b for d parameters from x0: the steps, the neighbours' encoded messages and the
 * gossip state. 0, or -1 with a message printed. */
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
    rumor_compressor_t *comp = NULL;
    int rc = rumor_codec_create(d, &b->codec);
    if (!rc) rc = rumor_compressor_create(ccfg, d, &comp);
    uint32_t *nbrs = malloc(deg * sizeof *nbrs);
    double *w = malloc(deg * sizeof *w);
    if (!rc && (!b->x || !b->v || !b->steps || !b->enc || !b->enc_len || !b->buf || !nbrs || !w ||
                rumor_cmsg_init(&b->out, d) || rumor_cmsg_init(&b->in, d)))
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
}

static void s_report(const s_opts_t *o, const s_round_t *b, double sgd)
{
    const double per = 1e9 / ((double)b->rounds * b->d); /* seconds in all -> ns per param */
    double total = 0.0;
    for (int p = 0; p < S_PHASES; p++) total += b->cpu[p];
    const double round_s = total / (double)b->rounds;
    const double density = (double)b->nnz / ((double)b->rounds * b->d);
    const double bytes = (double)b->bytes / (double)b->rounds;
    if (o->json) {
        printf("{\"bench\":\"round\",\"model\":\"%s\",\"d\":%u,\"batch\":%u,\"degree\":%u,"
               "\"compressor\":\"%s\",\"codec\":\"%s\",\"algorithm\":\"%s\",\"density\":%.6f,"
               "\"bytes_per_msg\":%.1f,\"rounds\":%llu",
               o->spec, b->d, o->batch, o->degree, o->compressor, rumor_codec_mode_name(o->mode),
               o->algo, density, bytes, (unsigned long long)b->rounds);
        for (int p = 0; p < S_PHASES; p++) printf(",\"%s_ns\":%.4f", s_phase[p], b->cpu[p] * per);
        printf(",\"round_ns_per_param\":%.4f,\"round_us\":%.2f,\"sgd_step_us\":%.2f,"
               "\"fraction_of_step\":%.4f}\n",
               total * per, round_s * 1e6, sgd * 1e6, round_s / sgd);
        return;
    }
    printf("model        %s (d = %u), batch %u\n", o->spec, b->d, o->batch);
    printf("gossip       %s, degree %u, %s, codec %s\n", o->algo, o->degree, o->compressor,
           rumor_codec_mode_name(o->mode));
    printf("message      density %.4f (measured), %.0f bytes\n", density, bytes);
    printf("rounds       %llu\n", (unsigned long long)b->rounds);
    for (int p = 0; p < S_PHASES; p++)
        printf("  %-10s %8.3f ns/param\n", s_phase[p], b->cpu[p] * per);
    printf("round        %8.3f ns/param, %.1f us (thread CPU)\n", total * per, round_s * 1e6);
    printf("SGD step     %.1f us; the round is %.1f%% of it\n", sgd * 1e6, 100.0 * round_s / sgd);
}

int rumor_bench_round_main(int argc, char **argv)
{
    s_opts_t o = {"mlp:128", "dither:8:biased", "malcom", RUMOR_CODEC_AUTO, 64, 2, 0.015, 2.0, 0};
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
    openblas_set_num_threads(1);
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
    const double sgd = s_sgd_step(m, params, grad, ds, o.batch, o.seconds);
    for (int pass = 0; pass < 2; pass++) { /* the first pass is the warm-up */
        memset(b.cpu, 0, sizeof b.cpu);
        b.rounds = b.nnz = b.bytes = 0;
        const double c0 = rumor_clock_thread_cpu(), budget = pass ? o.seconds : 0.1 * o.seconds;
        rumor_rng_seed(&rng, 1, 0, 0, RUMOR_RNG_COMPRESS);
        do s_one_round(&b, &rng);
        while (rumor_clock_thread_cpu() - c0 < budget);
    }
    s_report(&o, &b, sgd);
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
