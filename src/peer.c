/* rumor — one peer's state machine (see peer.h). */
#include "rumor/bytes.h"
#include "rumor/clock.h"
#include "rumor/peer.h"
#include "rumor/codec.h"
#include "rumor/coded.h"
#include "rumor/optim.h"
#include "rumor/sampler.h"
#include "rumor/rng.h"
#include "rumor/vec.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct rumor_peer {
    rumor_peer_cfg_t cfg;
    const rumor_scenario_t *sc;
    uint32_t self, round, degree;
    size_t d;
    uint32_t track_from; /* BEER: the first coordinate the tracker covers (gossip.h) */
    rumor_model_t *model;
    rumor_sampler_t *sampler;
    rumor_coded_t *coded; /* coded steps over held shards (data.redundancy > 1), else NULL */
    rumor_gossip_t *gossip;
    rumor_codec_t *codec;
    rumor_codec_mode_t codec_mode;
    rumor_schedule_t schedule;
    float lr; /* eta of the current round, set by step */
    /* one allocation carved into views */
    float *mem;
    float *x;      /* (d) model */
    float *v;      /* (d) after the local step */
    float *g;      /* (d) gradient, then the step direction: scratch of a step */
    float *m;      /* (d) momentum buffer, or NULL without momentum */
    float *x0;     /* (d) quasi-global momentum: the model when the round began; else NULL */
    int took_part; /* this round's step ran (rumor_peer_participates) */
    float *xb;     /* (batch, dim) minibatch rows */
    int32_t *yb;
    uint32_t *ib;
    rumor_cmsg_t *out; /* the message a step produces: own_out, or the lent one */
    rumor_cmsg_t own_out, in;
    rumor_cmsg_t out_t, in_t; /* BEER: the tracker's part of a message */
    uint8_t *buf;             /* encoded outgoing message */
    rumor_byzantine_t byz;    /* what this peer sends in place of its messages (NONE: honest) */
    float *byz_buf;           /* (d) the poisoned vector of NOISE, CONSTANT; ALIE: the point
                               * of this round's poison; else NULL */
    float *byz_pub;           /* (d) ALIE: the public copy its neighbours hold of it; else NULL */
    const float **byz_nb;     /* (degree) ALIE: its copies of its neighbours' public vectors */
    size_t buf_cap, msg_len;
    int cpu_clock; /* reads its thread's CPU clock (rumor_peer_set_cpu_clock) */
    rumor_peer_stats_t stats;
};

/* ---- cautions ------------------------------------------------------------------------ */

/* Appends one caution to buf (cap bytes) after those already there. */
static void s_add_caution(char *buf, size_t cap, const char *what)
{
    const size_t at = strlen(buf);
    if (at < cap) snprintf(buf + at, cap - at, "%s%s", at ? "; also, " : "", what);
}

/* Malcom-PSGD is CHOCO-SGD with three parts: a dithering quantizer (dither:S, or natural
 * dithering natural:S), an l1 weight and an entropy-coding codec. Names into buf what a
 * malcom scenario lacks, or leaves buf empty. */
static void s_malcom_missing(const rumor_peer_t *p, char *buf, size_t cap)
{
    const rumor_scenario_t *sc = p->sc;
    rumor_compress_cfg_t cc;
    const int parsed = rumor_compress_parse(sc->compressor, &cc, NULL) == 0;
    RUMOR_ASSERT(parsed); /* rumor_peer_create parsed it */
    const int dithers =
        cc.kind == RUMOR_COMPRESS_DITHER || (cc.kind == RUMOR_COMPRESS_NATURAL && cc.levels > 0);
    const int codes = p->codec_mode == RUMOR_CODEC_AUTO || p->codec_mode == RUMOR_CODEC_VSC ||
                      p->codec_mode == RUMOR_CODEC_ARITH;
    char what[3][112] = {"", "", ""};
    if (!dithers)
        snprintf(what[0], sizeof what[0], "compressor %s is not a dithering quantizer",
                 sc->compressor);
    if (!(sc->lambda > 0.0)) snprintf(what[1], sizeof what[1], "lambda is 0 (no l1 prox)");
    if (!codes) snprintf(what[2], sizeof what[2], "codec %s does not entropy-code", sc->codec);
    buf[0] = '\0';
    if (!what[0][0] && !what[1][0] && !what[2][0]) return;
    snprintf(buf, cap,
             "algorithm malcom lacks parts of Malcom-PSGD (a dither:S or natural:S quantizer, "
             "lambda > 0, codec vsc, ans or auto), so it runs as CHOCO-SGD: %s%s%s%s%s",
             what[0], what[0][0] && (what[1][0] || what[2][0]) ? ", " : "", what[1],
             what[1][0] && what[2][0] ? ", " : "", what[2]);
}

/* 1 when the public copies are compressed (not D-PSGD, not the identity). */
static int s_compresses(const rumor_peer_t *p)
{
    rumor_compress_cfg_t cc;
    return p->sc->algo != RUMOR_ALGO_DPSGD &&
           !(rumor_compress_parse(p->sc->compressor, &cc, NULL) == 0 &&
             cc.kind == RUMOR_COMPRESS_IDENTITY);
}

int rumor_peer_caution(const rumor_peer_t *p, char *buf, size_t cap)
{
    buf[0] = '\0';
    /* On Fashion-MNIST (softmax, ring of 16, gamma 0.1) dither:48, omega 1.85, trains as
     * well as dither:96, and dither:32, omega 2.77, fails; so does dither:16 everywhere. */
    const double omega = rumor_gossip_copy_omega(p->gossip);
    char what[512];
    if (omega >= 2.0) {
        /* "randk:F:unbiased" and "eround:B:unbiased" have their contraction without the suffix */
        const char *name = p->sc->compressor, *un = strstr(name, ":unbiased");
        char fix[160];
        if (un && !un[9])
            snprintf(fix, sizeof fix, "%.*s, its biased form, is a contraction", (int)(un - name),
                     name);
        else
            snprintf(fix, sizeof fix, "%s:biased scales it into a contraction", name);
        snprintf(what, sizeof what,
                 "compressor %s is unbiased with variance omega = %.3g on d = %zu, too much for "
                 "the public copies, which drift away from the models: training is likely to "
                 "fail; %s",
                 name, omega, p->d, fix);
        s_add_caution(buf, cap, what);
    }
    /* Quasi-global momentum's buffer takes in the consensus step and steps along it again, so
     * with compressed copies gamma acts as gamma / (1 - beta): on the Fashion-MNIST MLP ring
     * (dither:8:biased) 0.5 diverged and 0.05 trained (docs/scenario.md). A bound met
     * exactly (gamma 0.007, beta 0.9) passes despite beta's float rounding. */
    const rumor_momentum_t *mo = &p->sc->momentum;
    const double qg_gamma = p->sc->gamma / (1.0 - mo->beta);
    if (mo->kind == RUMOR_MOMENTUM_QUASI_GLOBAL && s_compresses(p) &&
        qg_gamma > RUMOR_PEER_QG_GAMMA_MAX * (1.0 + 1e-6)) {
        snprintf(what, sizeof what,
                 "quasi-global momentum %g steps along its consensus moves again, so gamma %g acts "
                 "as %g with compressed copies, which is likely to diverge; scale gamma by "
                 "1 - beta as lr (gamma %g)",
                 (double)mo->beta, p->sc->gamma, qg_gamma, p->sc->gamma * (1.0 - mo->beta));
        s_add_caution(buf, cap, what);
    }
    if (p->sc->same_batch && !(p->sc->sync_p > 0.0))
        s_add_caution(buf, cap,
                      "tracking_grad same-batch without sync_p never restarts its gradient "
                      "estimate, whose error grows every round (VR-MARINA restarts it in "
                      "full-sync rounds; try sync_p 0.1)");
    if (p->sc->algo == RUMOR_ALGO_MALCOM) {
        s_malcom_missing(p, what, sizeof what);
        if (what[0]) s_add_caution(buf, cap, what);
    }
    return buf[0] != '\0';
}

/* ---- the object ---------------------------------------------------------------------- */

/* The common initial model every peer starts from (seeded by the run seed alone). */
static void s_initial_model(const rumor_model_t *m, uint64_t seed, float *x0)
{
    rumor_rng_t r;
    rumor_rng_seed(&r, seed, 0, 0, RUMOR_RNG_INIT);
    rumor_model_init(m, x0, &r);
}

/* Names the part of peer self that could not be built, and why (rc from its constructor). */
static void s_part_failed(rumor_errmsg_t *em, int rc, uint32_t self, const char *part)
{
    rumor_errmsg_set(em, rc, "peer %u: %s: %s", self, part, rumor_strerror(rc));
}

int rumor_peer_create(const rumor_peer_cfg_t *cfg, rumor_peer_t **out, rumor_errmsg_t *em)
{
    const rumor_scenario_t *sc = cfg->sc;
    rumor_peer_t *p = *out = calloc(1, sizeof *p);
    int rc = 0;
    if (!p) goto fail;
    p->cfg = *cfg;
    p->sc = sc;
    p->self = cfg->self;
    p->cpu_clock = 1;
    p->degree = rumor_topology_degree(cfg->topo, cfg->self);

    rumor_model_spec_t spec;
    rumor_compress_cfg_t ccfg;
    /* An external model (rumor.h) has no data: the caller steps it. */
    const rumor_dataset_t *train = cfg->train;
    if ((rc = rumor_model_spec_parse(sc->model, train ? train->dim : 0, train ? train->classes : 0,
                                     &spec, em)))
        goto fail_cfg;
    if ((spec.kind == RUMOR_MODEL_EXTERNAL) != !train) {
        rc =
            rumor_errmsg_set(em, RUMOR_EINVAL,
                             train ? "model %s: an external model is stepped by its caller through "
                                     "rumor.h, not by rumor sim or rumor peer"
                                   : "model %s: only an external model runs without data",
                             sc->model);
        goto fail_cfg;
    }
    if (spec.kind == RUMOR_MODEL_EXTERNAL && sc->algo == RUMOR_ALGO_BEER) {
        rc =
            rumor_errmsg_set(em, RUMOR_EINVAL,
                             "model %s: beer tracks gradients that rumor takes itself; an external "
                             "model gossips with dpsgd, choco, malcom, dcd or deepsqueeze",
                             sc->model);
        goto fail_cfg;
    }
    if ((rc = rumor_compress_parse(sc->compressor, &ccfg, em)) ||
        (rc = rumor_codec_parse_mode(sc->codec, &p->codec_mode)))
        goto fail_cfg;
    p->schedule.lr = sc->lr;
    p->schedule.warmup = sc->warmup;
    if ((rc = rumor_schedule_parse(sc->schedule, sc->rounds, &p->schedule, em))) goto fail_cfg;

    if ((rc = rumor_model_create(&spec, rumor_peer_eval_chunk(sc, cfg->eval_batch), &p->model))) {
        s_part_failed(em, rc, cfg->self, "model");
        goto fail_cfg;
    }
    p->d = rumor_model_nparams(p->model);
    const size_t d = p->d, rows = train && !cfg->rows ? (size_t)sc->batch * train->dim : 0;
    const size_t nm = sc->momentum.kind != RUMOR_MOMENTUM_NONE ? d : 0;
    const size_t nq = sc->momentum.kind == RUMOR_MOMENTUM_QUASI_GLOBAL ? d : 0;
    const size_t ng = cfg->grad ? 0 : d;
    p->mem = calloc(2 * d + ng + nm + nq + rows, sizeof *p->mem); /* the momentum starts at 0 */
    p->yb = malloc(sc->batch * sizeof *p->yb);
    p->ib = malloc(sc->batch * sizeof *p->ib);
    if (!p->mem || !p->yb || !p->ib) goto fail;
    p->x = p->mem;
    p->v = p->x + d;
    float *rest = p->v + d; /* what is not lent: g, then m, x0 and xb */
    p->g = cfg->grad ? cfg->grad : rest;
    p->m = nm ? rest + ng : NULL;
    p->x0 = nq ? rest + ng + nm : NULL;
    p->xb = cfg->rows ? cfg->rows : rest + ng + nm + nq;

    s_initial_model(p->model, sc->seed, p->x);
    const uint32_t *nbrs = rumor_topology_neighbors(cfg->topo, cfg->self);
    double *w = malloc((p->degree ? p->degree : 1) * sizeof *w);
    if (!w) goto fail;
    for (uint32_t s = 0; s < p->degree; s++)
        w[s] = cfg->topo->w[(size_t)cfg->self * cfg->topo->n + nbrs[s]];
    rumor_gossip_cfg_t gcfg = {
        .algo = sc->algo,
        .d = (uint32_t)d,
        .self = cfg->self,
        .degree = p->degree,
        .nbrs = nbrs,
        .w_nbrs = w,
        .gamma = (float)sc->gamma,
        .compress = ccfg,
        .tracker_rows = sc->same_batch ? 3 : 2,
        .robust = sc->robust,
    };
    /* ":layer" compressors take one norm per model tensor: their sizes, in order */
    rumor_tensor_info_t ti[2 * RUMOR_MODEL_MAX_HIDDEN + 2];
    uint32_t tsz[sizeof ti / sizeof *ti];
    const size_t nt = rumor_model_tensors(p->model, ti, sizeof ti / sizeof *ti);
    RUMOR_ASSERT(nt <= sizeof ti / sizeof *ti);
    for (size_t t = 0; t < nt; t++) tsz[t] = (uint32_t)ti[t].count;
    gcfg.compress.tensors = tsz;
    gcfg.compress.n_tensors = (uint32_t)nt;
    /* algorithm.track "last": the output layer, the model's last weight and bias */
    if (sc->algo == RUMOR_ALGO_BEER && sc->track_last && nt >= 2)
        p->track_from = gcfg.track_from = (uint32_t)ti[nt - 2].offset;
    if (p->degree < rumor_robust_min_degree(&sc->robust)) {
        char rule[64];
        rumor_robust_describe(&sc->robust, rule, sizeof rule);
        rc = rumor_errmsg_set(
            em, RUMOR_EINVAL,
            "%s: algorithm.robust: %s needs every node's degree to be at least %u; "
            "node %u has %u neighbours",
            sc->origin, rule, rumor_robust_min_degree(&sc->robust), cfg->self, p->degree);
        free(w);
        goto fail_cfg;
    }
    rc = rumor_gossip_create(&gcfg, p->x, &p->gossip);
    free(w);
    if (rc) {
        s_part_failed(em, rc, cfg->self, "gossip");
        goto fail_cfg;
    }
    /* the compression error is read by the simulator alone, which measures the rounds it
     * evaluates */
    rumor_gossip_set_measure(p->gossip, 0);
    /* An external model draws no batches; its sampler over one row only keeps the
     * checkpoint's layout. */
    static const uint32_t no_rows[1] = {0};
    rc = train ? rumor_sampler_create(cfg->shard, cfg->shard_n, sc->seed, cfg->self, &p->sampler)
               : rumor_sampler_create(no_rows, 1, sc->seed, cfg->self, &p->sampler);
    if (rc) {
        s_part_failed(em, rc, cfg->self, "sampler");
        goto fail_cfg;
    }
    if (train && sc->redundancy > 1 &&
        (rc = rumor_coded_create(cfg->topo, cfg->part, sc->redundancy, sc->batch, sc->seed,
                                 cfg->self, &p->coded, em)))
        goto fail_cfg;
    if (cfg->codec)
        p->codec = cfg->codec;
    else if ((rc = rumor_codec_create((uint32_t)d, &p->codec))) {
        s_part_failed(em, rc, cfg->self, "codec");
        goto fail_cfg;
    }
    p->buf_cap = rumor_peer_msg_bound(sc, (uint32_t)d);
    p->buf = malloc(p->buf_cap);
    p->out = cfg->out ? cfg->out : &p->own_out;
    RUMOR_ASSERT(!cfg->out || cfg->out->cap_d >= d);
    if (!p->buf || (!cfg->out && rumor_cmsg_init(&p->own_out, (uint32_t)d)) ||
        rumor_cmsg_init(&p->in, (uint32_t)d) ||
        (sc->algo == RUMOR_ALGO_BEER &&
         (rumor_cmsg_init(&p->out_t, (uint32_t)d) || rumor_cmsg_init(&p->in_t, (uint32_t)d))))
        goto fail;
    return 0;
fail:
    rc = rumor_errmsg_set(em, RUMOR_ENOMEM, "peer %u: out of memory", cfg->self);
fail_cfg:
    if (em && !em->msg[0]) rumor_errmsg_set(em, rc, "peer %u: bad configuration", cfg->self);
    rumor_peer_destroy(out);
    return rc;
}

void rumor_peer_destroy(rumor_peer_t **p_p)
{
    if (!p_p || !*p_p) return;
    rumor_peer_t *p = *p_p;
    rumor_model_destroy(&p->model);
    rumor_sampler_destroy(&p->sampler);
    rumor_coded_destroy(&p->coded);
    rumor_gossip_destroy(&p->gossip);
    if (!p->cfg.codec) rumor_codec_destroy(&p->codec);
    if (p->own_out.q) rumor_cmsg_free(&p->own_out);
    if (p->in.q) rumor_cmsg_free(&p->in);
    if (p->out_t.q) rumor_cmsg_free(&p->out_t);
    if (p->in_t.q) rumor_cmsg_free(&p->in_t);
    free(p->buf);
    free(p->byz_buf);
    free(p->byz_pub);
    free(p->byz_nb);
    free(p->mem);
    free(p->yb);
    free(p->ib);
    free(p);
    *p_p = NULL;
}

/* ---- local steps --------------------------------------------------------------------- */

/* The soft threshold of the current round: eta_t lambda, or lr lambda with prox_lr "base",
 * which keeps thresholding at the end of a decaying schedule. */
static float s_threshold(const rumor_peer_t *p)
{
    return (float)(p->sc->prox_lr_base ? p->sc->lr : p->lr) * (float)p->sc->lambda;
}

/* The thread's CPU time, when the peer reads it (else 0). */
static double s_cpu(const rumor_peer_t *p)
{
    return p->cpu_clock ? rumor_clock_thread_cpu() : 0.0;
}

/* Draws a batch and writes the minibatch gradient at `at` into grad; counts the loss. */
static void s_batch_grad(rumor_peer_t *p, const float *at, float *grad)
{
    const rumor_scenario_t *sc = p->sc;
    rumor_sampler_next(p->sampler, sc->batch, p->ib);
    rumor_data_gather(p->cfg.train, p->ib, sc->batch, p->xb, p->yb);
    p->stats.loss_sum += rumor_model_loss_grad(p->model, at, p->xb, p->yb, sc->batch, grad);
    p->stats.loss_count++;
}

/* v = x - eta g(x), then local_steps - 1 more steps from v on fresh batches. Returns 0 when a
 * step left a non-finite parameter. */
static int s_sgd_steps(rumor_peer_t *p)
{
    /* An external model: the caller stepped x; a straggler (scenario faults): no step. */
    if (!p->cfg.train || (p->sc->n_faults && rumor_scenario_straggler(p->sc, p->self, p->round))) {
        rumor_vec_copy(p->v, p->x, p->d);
        return isfinite(rumor_vec_nrm_inf(p->v, p->d));
    }
    const float *at = p->x;
    int finite = 1;
    for (uint32_t h = 0; h < p->sc->local_steps && finite; h++) {
        if (p->coded) {
            p->stats.loss_sum += rumor_coded_grad(
                p->coded, p->model, p->cfg.train, at, (uint64_t)p->round * p->sc->local_steps + h,
                p->sc->coded_unscaled ? 0.0
                                      : rumor_scenario_straggle_rate(p->sc, p->self, p->round),
                p->g, p->xb, p->yb, p->ib);
            p->stats.loss_count++;
        } else {
            s_batch_grad(p, at, p->g);
        }
        rumor_momentum_direction(&p->sc->momentum, p->m, p->g, p->d);
        finite = rumor_optim_sgd(p->v, at, p->lr, p->g, p->d);
        at = p->v;
    }
    return finite;
}

/* out = the mean gradient at x of RUMOR_PEER_TRACK_INIT batches (p->g is scratch). */
static void s_big_grad(rumor_peer_t *p, float *out)
{
    rumor_vec_zero(out, p->d);
    for (uint32_t k = 0; k < RUMOR_PEER_TRACK_INIT; k++) {
        s_batch_grad(p, p->x, p->g);
        rumor_vec_axpy(out, 1.0f / RUMOR_PEER_TRACK_INIT, p->g, p->d);
    }
}

/* BEER's local steps from round 1 on, with est the local gradient estimate the tracker last
 * took in and y the tracker as mixed: local_steps SGD steps from x along g_k + (y - est), each
 * minibatch gradient g_k corrected by the tracker's view of the network's mean less the local
 * one (as in K-GT), and then y += mean(g_k) - est, est = mean(g_k). One step is BEER's
 * v = x - eta (y + g - est). Returns 0 when v is not finite. */
static int s_beer_local_steps(rumor_peer_t *p, float *y, float *est)
{
    const size_t d = p->d;
    const uint32_t steps = p->sc->local_steps;
    rumor_vec_axpy(y, -1.0f, est, d); /* y holds the correction until the steps end */
    rumor_vec_zero(est, d);
    const float *at = p->x;
    int finite = 1;
    for (uint32_t h = 0; h < steps && finite; h++) {
        s_batch_grad(p, at, p->g);
        rumor_vec_axpy(est, 1.0f / (float)steps, p->g, d);
        rumor_vec_axpy(p->g, 1.0f, y, d);
        rumor_momentum_direction(&p->sc->momentum, p->m, p->g, d);
        finite = rumor_optim_sgd(p->v, at, p->lr, p->g, d);
        at = p->v;
    }
    rumor_vec_axpy(y, 1.0f, est, d);
    return finite;
}

/* BEER's tracker update and model step (gossip.h): in round 0 the tracker and the estimate
 * start from the mean gradient of RUMOR_PEER_TRACK_INIT batches; then fresh gradients take
 * s_beer_local_steps, and with same-batch differences (VR-MARINA) the estimate moves by
 * g_B(x) - g_B(x_prev) on one batch B, or, in a full-sync round, restarts from the mean
 * gradient of RUMOR_PEER_TRACK_INIT batches, with y += est' - est; then v = x - eta y (along
 * the momentum direction built from y, if any). Returns 0 when v is not finite. */
static int s_beer_step(rumor_peer_t *p)
{
    const size_t d = p->d;
    const int same = p->sc->same_batch;
    float *y = rumor_gossip_extra(p->gossip, NULL), *est = y + d, *xprev = y + 2 * d;
    if (p->round == 0) {
        s_big_grad(p, y);
        rumor_vec_copy(est, y, d);
    } else if (!same) {
        return s_beer_local_steps(p, y, est);
    } else {
        if (rumor_peer_sync_round(p->sc, p->round)) {
            s_big_grad(p, p->v);
            rumor_vec_copy(p->g, p->v, d);
        } else {
            s_batch_grad(p, p->x, p->g);
            (void)rumor_model_loss_grad(p->model, xprev, p->xb, p->yb, p->sc->batch, p->v);
            rumor_vec_axpy(p->g, -1.0f, p->v, d);
            rumor_vec_axpy(p->g, 1.0f, est, d);
        }
        rumor_vec_axpy(y, 1.0f, p->g, d);
        rumor_vec_axpy(y, -1.0f, est, d);
        rumor_vec_copy(est, p->g, d);
        rumor_vec_copy(y, est, p->track_from); /* the untracked part is the estimate itself */
    }
    if (same) rumor_vec_copy(xprev, p->x, d);
    rumor_vec_copy(p->g, y, d);
    rumor_momentum_direction(&p->sc->momentum, p->m, p->g, d);
    return rumor_optim_sgd(p->v, p->x, p->lr, p->g, d);
}

/* ---- the round ----------------------------------------------------------------------- */

int rumor_peer_sync_round(const rumor_scenario_t *sc, uint32_t t)
{
    if (!(sc->sync_p > 0.0)) return 0;
    rumor_rng_t r;
    rumor_rng_seed(&r, sc->seed, 0, t, RUMOR_RNG_SYNC);
    return rumor_rng_uniform_d(&r) < sc->sync_p;
}

int rumor_peer_participates(const rumor_scenario_t *sc, uint32_t node, uint32_t t)
{
    if (!(sc->participation < 1.0) || t == 0) return 1; /* round 0 initialises every tracker */
    rumor_rng_t r;
    rumor_rng_seed(&r, sc->seed, node, t, RUMOR_RNG_PEERS);
    return rumor_rng_uniform_d(&r) < sc->participation;
}

size_t rumor_peer_msg_bound(const rumor_scenario_t *sc, uint32_t d)
{
    return sc->algo == RUMOR_ALGO_BEER ? 2 * (4 + rumor_codec_bound(d)) : rumor_codec_bound(d);
}

/* Encodes the produced message into p->buf: one codec message, or BEER's pair as u32 length,
 * model part, u32 length, tracker part. */
static void s_encode(rumor_peer_t *p, rumor_codec_mode_t mode)
{
    if (p->sc->algo != RUMOR_ALGO_BEER) {
        const int rc = rumor_codec_encode(p->codec, p->out, mode, p->buf, p->buf_cap, &p->msg_len);
        RUMOR_ASSERT(rc == 0);
        return;
    }
    size_t at = 0;
    const rumor_cmsg_t *parts[2] = {p->out, &p->out_t};
    for (int k = 0; k < 2; k++) {
        size_t n;
        const int rc = rumor_codec_encode(p->codec, parts[k], p->codec_mode, p->buf + at + 4,
                                          p->buf_cap - at - 4, &n);
        RUMOR_ASSERT(rc == 0 && n <= UINT32_MAX);
        rumor_store32le(p->buf + at, (uint32_t)n);
        at += 4 + n;
    }
    p->msg_len = at;
}

int rumor_peer_set_byzantine(rumor_peer_t *p, const rumor_byzantine_t *b)
{
    RUMOR_ASSERT(!p->byz_buf);
    if (b->kind != RUMOR_BYZ_NONE && p->sc->algo == RUMOR_ALGO_BEER) return RUMOR_EINVAL;
    p->byz = *b;
    if (b->kind == RUMOR_BYZ_NONE || b->kind == RUMOR_BYZ_SIGNFLIP || b->kind == RUMOR_BYZ_SCALE)
        return 0;
    p->byz_buf = malloc(p->d * sizeof *p->byz_buf);
    if (!p->byz_buf) return RUMOR_ENOMEM;
    if (b->kind != RUMOR_BYZ_ALIE) return 0;
    p->byz_pub = malloc(p->d * sizeof *p->byz_pub);
    p->byz_nb = malloc((p->degree ? p->degree : 1) * sizeof *p->byz_nb);
    if (!p->byz_pub || !p->byz_nb) return RUMOR_ENOMEM;
    rumor_vec_copy(p->byz_pub, rumor_gossip_copy(p->gossip, p->self), p->d);
    const uint32_t *nbrs = rumor_topology_neighbors(p->cfg.topo, p->self);
    for (uint32_t s = 0; s < p->degree; s++) p->byz_nb[s] = rumor_gossip_copy(p->gossip, nbrs[s]);
    rumor_peer_byzantine_refresh(p);
    return 0;
}

/* byz_buf := the ALIE point of round p->round: per coordinate, the mean minus z (population)
 * standard deviations of the neighbours' public vectors this peer holds, in ascending id
 * order. It is taken when the round before has been mixed (or at the start), so that it is
 * what every run holds then: a networked peer may absorb a neighbour's DIFF of its round
 * before it steps (during the handshake), or take a STATE that holds it (resumed). */
void rumor_peer_byzantine_refresh(rumor_peer_t *p)
{
    if (!p->byz_nb) return;
    const uint32_t deg = p->degree;
    for (size_t k = 0; k < p->d; k++) {
        double sum = 0.0, sq = 0.0;
        for (uint32_t s = 0; s < deg; s++) sum += p->byz_nb[s][k];
        const double mean = deg ? sum / deg : 0.0;
        for (uint32_t s = 0; s < deg; s++)
            sq += (p->byz_nb[s][k] - mean) * (p->byz_nb[s][k] - mean);
        p->byz_buf[k] = (float)(mean - p->byz.param * (deg ? sqrt(sq / deg) : 0.0));
    }
}

/* Replaces the honest message in p->out by the poison of round t, still well-formed:
 * SIGNFLIP and SCALE scale it in its own form, the others send byz_buf as a dense vector.
 * Returns 1 when the message became dense. */
static int s_poison(rumor_peer_t *p)
{
    rumor_cmsg_t *m = p->out;
    const size_t d = p->d;
    const double a = p->byz.param;
    switch (p->byz.kind) {
    case RUMOR_BYZ_NONE:
        return 0;
    case RUMOR_BYZ_SIGNFLIP:
    case RUMOR_BYZ_SCALE: {
        const float f = (float)(p->byz.kind == RUMOR_BYZ_SIGNFLIP ? -a : a);
        if (m->kind == RUMOR_CMSG_INT)
            m->scale *= f;
        else
            rumor_vec_scale(m->val, f, m->nnz);
        return 0;
    }
    case RUMOR_BYZ_NOISE: {
        /* a stream apart from the simulator's message losses, which use peers below n^2 */
        rumor_rng_t rng;
        rumor_rng_seed(&rng, p->sc->seed, UINT64_C(1) << 63 | p->self, p->round, RUMOR_RNG_FAULT);
        for (size_t k = 0; k < d; k++) p->byz_buf[k] = (float)rumor_rng_normal(&rng);
        const double nrm = rumor_vec_nrm2(p->byz_buf, d);
        rumor_vec_scale(p->byz_buf, nrm > 0 ? (float)(a / nrm) : 0.0f, d);
        break;
    }
    case RUMOR_BYZ_CONSTANT:
        for (size_t k = 0; k < d; k++) p->byz_buf[k] = (float)a;
        break;
    case RUMOR_BYZ_ALIE: /* the point, taken at the end of the round before */
        break;
    }
    m->kind = RUMOR_CMSG_DENSE;
    m->d = m->nnz = (uint32_t)d;
    m->scale = 1.0f;
    m->listed = m->seeded = 0;
    rumor_vec_copy(m->val, p->byz_buf, d);
    /* ALIE: a copy that grows by the message must grow to the point */
    if (p->byz_pub && !rumor_gossip_message_is_copy(p->gossip))
        rumor_vec_axpy(m->val, -1.0f, p->byz_pub, d);
    return 1;
}

int rumor_peer_step(rumor_peer_t *p, const uint8_t **msg, size_t *len)
{
    const rumor_scenario_t *sc = p->sc;
    const double t0 = rumor_clock_now(), c0 = s_cpu(p);
    p->lr = (float)rumor_schedule_lr(&p->schedule, p->round);
    *msg = p->buf;
    p->took_part = rumor_peer_participates(sc, p->self, p->round);
    if (sc->participation < 1.0) {
        const uint32_t *nb = rumor_topology_neighbors(p->cfg.topo, p->self);
        for (uint32_t s = 0; s < p->degree; s++)
            RUMOR_ASSERT(rumor_gossip_set_quiet(
                             p->gossip, nb[s], !rumor_peer_participates(sc, nb[s], p->round)) == 0);
    }
    if (!p->took_part) { /* sits the round out: no step, no message, no mix */
        *len = p->msg_len = 0;
        return 0;
    }
    if (p->x0) rumor_vec_copy(p->x0, p->x, p->d);
    const int finite = sc->algo == RUMOR_ALGO_BEER ? s_beer_step(p) : s_sgd_steps(p);
    if (sc->prox == RUMOR_PROX_BEFORE_COMPRESS) rumor_optim_prox_l1(p->v, s_threshold(p), p->d);
    if (sc->gamma_follows_lr)
        rumor_gossip_set_gamma(p->gossip, (float)(sc->gamma * p->lr / sc->lr));
    const double t1 = rumor_clock_now(), c1 = s_cpu(p);

    rumor_rng_t rng;
    rumor_rng_seed(&rng, sc->seed, p->self, p->round, RUMOR_RNG_COMPRESS);
    rumor_gossip_set_sync(p->gossip, rumor_peer_sync_round(sc, p->round));
    double bits = 0.0;
    int dense = 0;
    rumor_gossip_produce(p->gossip, p->v, &rng, p->out);
    if (sc->algo == RUMOR_ALGO_BEER) {
        rumor_gossip_produce_tracker(p->gossip, &rng, &p->out_t);
        bits = rumor_codec_entropy_bound_bits(&p->out_t);
    } else {
        dense = p->byz.kind && p->round >= p->byz.from && s_poison(p);
    }
    s_encode(p, dense ? RUMOR_CODEC_RAW : p->codec_mode);
    if (p->byz_pub && rumor_gossip_message_is_copy(p->gossip))
        rumor_cmsg_to_dense(p->out, p->byz_pub);
    else if (p->byz_pub)
        rumor_cmsg_axpy(p->out, 1.0f, p->byz_pub);
    bits += rumor_codec_entropy_bound_bits(p->out);
    const double t2 = rumor_clock_now(), c2 = s_cpu(p);

    p->stats.msgs_sent += p->degree;
    p->stats.bytes_sent += (uint64_t)p->msg_len * p->degree;
    p->stats.entropy_bits += bits * p->degree;
    p->stats.t_compute += t1 - t0;
    p->stats.t_codec += t2 - t1;
    p->stats.cpu_compute += c1 - c0;
    p->stats.cpu_codec += c2 - c1;
    *len = p->msg_len;
    return finite ? 0 : RUMOR_ENONFINITE;
}

/* Decodes and absorbs BEER's pair (see s_encode); both parts or neither are applied. */
/* Decodes a message into p->in (and, for BEER's pair, the tracker part into p->in_t). */
static int s_decode(rumor_peer_t *p, const uint8_t *msg, size_t len)
{
    const uint32_t d = (uint32_t)p->d;
    if (p->sc->algo != RUMOR_ALGO_BEER)
        return rumor_codec_decode_packed(p->codec, msg, len, d, &p->in);
    if (len < 8) return RUMOR_EFORMAT;
    const size_t a = rumor_load32le(msg);
    if (a > len - 8) return RUMOR_EFORMAT;
    const size_t b = rumor_load32le(msg + 4 + a);
    if (b != len - 8 - a) return RUMOR_EFORMAT;
    const int rc = rumor_codec_decode_packed(p->codec, msg + 4, a, d, &p->in);
    return rc ? rc
              : rumor_codec_decode_packed(p->codec, msg + 8 + a, b, d - p->track_from, &p->in_t);
}

int rumor_peer_check(rumor_peer_t *p, const uint8_t *msg, size_t len)
{
    if (len == 0 && p->sc->participation < 1.0) return 0;
    return s_decode(p, msg, len);
}

int rumor_peer_deliver(rumor_peer_t *p, uint32_t from, const uint8_t *msg, size_t len)
{
    /* A peer that sits a round out sends an empty message: nothing to apply. (A late one in
     * deadline rounds may be of an earlier round, so the draw is not checked again.) */
    if (len == 0 && p->sc->participation < 1.0) return 0;
    const double t0 = rumor_clock_now(), c0 = s_cpu(p);
    float *addend = rumor_gossip_addend(p->gossip, from);
    int rc = addend ? rumor_codec_decode_add(p->codec, msg, len, (uint32_t)p->d, &p->in, addend)
                    : s_decode(p, msg, len);
    if (rc == 0)
        rc = p->sc->algo == RUMOR_ALGO_BEER
                 ? rumor_gossip_absorb_pair(p->gossip, from, &p->in, &p->in_t)
                 : rumor_gossip_absorb(p->gossip, from, &p->in);
    if (rc == 1) rc = 0; /* added while decoded */
    p->stats.t_codec += rumor_clock_now() - t0;
    p->stats.cpu_codec += s_cpu(p) - c0;
    if (rc != 0) {
        p->stats.decode_errors++;
        return rc;
    }
    p->stats.bytes_recv += len;
    return 0;
}

void rumor_peer_finish(rumor_peer_t *p)
{
    const double t0 = rumor_clock_now(), c0 = s_cpu(p);
    if (p->took_part) { /* one that sat the round out keeps its state whole */
        rumor_gossip_mix(p->gossip, p->v, p->x);
        if (p->sc->prox == RUMOR_PROX_AFTER_MIX) rumor_optim_prox_l1(p->x, s_threshold(p), p->d);
        if (p->x0) rumor_momentum_follow(&p->sc->momentum, p->m, p->x0, p->x, p->lr, p->d);
    }
    p->round++;
    rumor_peer_byzantine_refresh(p);
    p->stats.t_compute += rumor_clock_now() - t0;
    p->stats.cpu_compute += s_cpu(p) - c0;
}

/* ---- accessors ----------------------------------------------------------------------- */

uint32_t rumor_peer_round(const rumor_peer_t *p)
{
    return p->round;
}

void rumor_peer_set_round(rumor_peer_t *p, uint32_t r)
{
    p->round = r;
}

float *rumor_peer_params_mut(rumor_peer_t *p)
{
    return p->x;
}

rumor_sampler_t *rumor_peer_sampler(rumor_peer_t *p)
{
    return p->sampler;
}

const rumor_scenario_t *rumor_peer_scenario(const rumor_peer_t *p)
{
    return p->sc;
}

const rumor_topology_t *rumor_peer_topology(const rumor_peer_t *p)
{
    return p->cfg.topo;
}

uint32_t rumor_peer_id(const rumor_peer_t *p)
{
    return p->self;
}

size_t rumor_peer_dim(const rumor_peer_t *p)
{
    return p->d;
}

const float *rumor_peer_params(const rumor_peer_t *p)
{
    return p->x;
}

void rumor_peer_copy_state(rumor_peer_t *dst, const rumor_peer_t *src)
{
    RUMOR_ASSERT(dst->self == src->self && dst->d == src->d && dst->sc == src->sc);
    const size_t bytes = src->d * sizeof *src->x;
    memcpy(dst->x, src->x, bytes);
    if (src->m) memcpy(dst->m, src->m, bytes);
    rumor_gossip_copy_copies(dst->gossip, src->gossip);
    uint64_t epoch;
    uint32_t offset;
    rumor_sampler_get_pos(src->sampler, &epoch, &offset);
    rumor_sampler_set_pos(dst->sampler, epoch, offset);
    dst->round = src->round;
    rumor_peer_byzantine_refresh(dst);
}

void rumor_peer_set_initial(rumor_peer_t *p, const float *x0)
{
    memcpy(p->x, x0, p->d * sizeof *p->x);
    memcpy(rumor_gossip_copy_mut(p->gossip, p->self), x0, p->d * sizeof *p->x);
    const uint32_t *nbrs = rumor_topology_neighbors(p->cfg.topo, p->self);
    for (uint32_t s = 0; s < p->degree; s++)
        memcpy(rumor_gossip_copy_mut(p->gossip, nbrs[s]), x0, p->d * sizeof *p->x);
    rumor_peer_byzantine_refresh(p);
}

void rumor_peer_describe(const rumor_peer_t *p, char *buf, size_t cap)
{
    const rumor_scenario_t *sc = p->sc;
    char model[128], mom[64] = "", local[40] = "";
    rumor_model_spec_describe(rumor_model_spec(p->model), model, sizeof model);
    if (sc->momentum.kind == RUMOR_MOMENTUM_QUASI_GLOBAL)
        snprintf(mom, sizeof mom, " with quasi-global momentum %g (mu %g)",
                 (double)sc->momentum.beta, (double)sc->momentum.mu);
    else if (sc->momentum.kind != RUMOR_MOMENTUM_NONE)
        snprintf(mom, sizeof mom, " with %s momentum %g", rumor_momentum_name(sc->momentum.kind),
                 (double)sc->momentum.beta);
    if (sc->local_steps > 1) snprintf(local, sizeof local, " of %u local steps", sc->local_steps);
    snprintf(buf, cap, "%s%s, %s (d = %zu), compressor %s, codec %s, %u rounds%s",
             rumor_algo_name(sc->algo), mom, model, p->d,
             sc->algo == RUMOR_ALGO_DPSGD ? "none" : sc->compressor, sc->codec, sc->rounds, local);
}

float *rumor_peer_momentum(rumor_peer_t *p)
{
    return p->m;
}

float *rumor_peer_byzantine_public(rumor_peer_t *p)
{
    return p->byz_pub;
}

const float *rumor_peer_public_copy(rumor_peer_t *p)
{
    return p->byz_pub ? p->byz_pub : rumor_gossip_copy(p->gossip, p->self);
}

void rumor_peer_set_cpu_clock(rumor_peer_t *p, int read)
{
    p->cpu_clock = read;
}

rumor_peer_stats_t *rumor_peer_stats(rumor_peer_t *p)
{
    return &p->stats;
}

double rumor_peer_take_loss(rumor_peer_t *p)
{
    const double loss = p->stats.loss_count ? p->stats.loss_sum / (double)p->stats.loss_count : 0.0;
    p->stats.loss_sum = 0;
    p->stats.loss_count = 0;
    return loss;
}

rumor_gossip_t *rumor_peer_gossip(rumor_peer_t *p)
{
    return p->gossip;
}

rumor_model_t *rumor_peer_model(rumor_peer_t *p)
{
    return p->model;
}

/* ---- evaluation ---------------------------------------------------------------------- */

void rumor_peer_evaluate(rumor_peer_t *p, const rumor_dataset_t *test, uint32_t n, double *loss,
                         double *acc)
{
    if (n == 0 || n > test->n) n = test->n;
    rumor_model_evaluate(p->model, p->x, test->x, test->y, n, loss, acc);
}

uint32_t rumor_peer_eval_chunk(const rumor_scenario_t *sc, uint32_t eval_batch)
{
    return eval_batch > sc->batch ? eval_batch : sc->batch;
}
