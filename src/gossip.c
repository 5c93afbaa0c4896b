/* rumor — the per-peer gossip state machine (see gossip.h). */
#include "rumor/gossip.h"
#include "rumor/topology.h"
#include "rumor/vec.h"

#include <stdlib.h>
#include <string.h>

struct rumor_gossip {
    rumor_gossip_cfg_t cfg;
    uint32_t *nbrs; /* (degree) copied from cfg */
    double *w;      /* (degree) copied from cfg */
    uint8_t *up;    /* (degree) */
    uint8_t *quiet; /* (degree) 1: the neighbour sits this round out (participation) */
    uint32_t pub;   /* floats of a public vector: d, or 2 d for BEER (model, then tracker) */
    float *copies;  /* (degree + 1, pub): slot 0..degree-1 neighbours, slot degree self */
    float *memory;  /* (d) DeepSqueeze: the error-feedback memory e; else NULL */
    float *pending; /* (d) DCD: gamma sum_j w_ij (c_j - c_i) as the last round ended; else NULL */
    float *track;  /* (rows, d) BEER: the tracker y, its gradient estimate (and point); else NULL */
    uint32_t rows; /* rows of track */
    rumor_compressor_t *compressor;
    /* BEER with cfg.track_from > 0: the compressor and the identity over the tracked
     * coordinates [track_from, d); else NULL (the tracker takes the model's) */
    rumor_compressor_t *tcompressor, *texact;
    rumor_robust_t *robust; /* the mix's robust rule, or NULL for none */
    double err;  /* ||C(r) - r||^2 / ||r||^2 of the last measured produce (0 before any, r = 0) */
    int measure; /* produce measures err (rumor_gossip_set_measure) */
    rumor_compressor_t *exact; /* the identity, for full-sync rounds (CHOCO, Malcom, BEER) */
    int sync;                  /* this round's residuals go exact */
    const float **mix_c;       /* (degree + 1) the mix's terms: copies, */
    float *mix_a;              /* (degree + 1) and their coefficients */
};

/* The algorithms whose residual against a public copy can go exact in a full-sync round. */
static int s_has_exact(rumor_algo_t algo)
{
    return algo == RUMOR_ALGO_CHOCO || algo == RUMOR_ALGO_MALCOM || algo == RUMOR_ALGO_BEER;
}

/* BEER's compressors over the tracked coordinates [track_from, d): a ":layer" compressor
 * takes the tensors from track_from on, which must start a tensor (RUMOR_EINVAL otherwise). */
static int s_tracker_compressors(rumor_gossip_t *g)
{
    const uint32_t from = g->cfg.track_from;
    rumor_compress_cfg_t cc = g->cfg.compress;
    for (uint64_t at = 0; cc.n_tensors && at < from; cc.n_tensors--)
        at += *cc.tensors++; /* the tensors left must sum to d - from, or the compressor refuses */
    const rumor_compress_cfg_t identity = {.kind = RUMOR_COMPRESS_IDENTITY};
    const int rc = rumor_compressor_create(&cc, g->cfg.d - from, &g->tcompressor);
    return rc ? rc : rumor_compressor_create(&identity, g->cfg.d - from, &g->texact);
}

int rumor_gossip_create(const rumor_gossip_cfg_t *cfg, const float *x0, rumor_gossip_t **out)
{
    *out = NULL;
    if (cfg->d == 0 || cfg->track_from >= cfg->d) return RUMOR_EINVAL;
    for (uint32_t s = 1; s < cfg->degree; s++)
        if (cfg->nbrs[s] <= cfg->nbrs[s - 1]) return RUMOR_EINVAL;
    rumor_gossip_t *g = calloc(1, sizeof *g);
    if (!g) return RUMOR_ENOMEM;
    g->cfg = *cfg;
    g->measure = 1;
    const size_t deg = cfg->degree, d = cfg->d;
    const int beer = cfg->algo == RUMOR_ALGO_BEER;
    g->pub = beer ? 2 * cfg->d : cfg->d;
    g->nbrs = malloc((deg ? deg : 1) * sizeof *g->nbrs);
    g->w = malloc((deg ? deg : 1) * sizeof *g->w);
    g->up = malloc(deg ? deg : 1);
    g->quiet = calloc(deg ? deg : 1, 1);
    g->mix_c = malloc((deg + 1) * sizeof *g->mix_c);
    g->mix_a = malloc((deg + 1) * sizeof *g->mix_a);
    g->copies = calloc((deg + 1) * g->pub, sizeof *g->copies); /* trackers' copies start at 0 */
    const rumor_compress_cfg_t identity = {.kind = RUMOR_COMPRESS_IDENTITY};
    int rc = 0;
    if (cfg->algo != RUMOR_ALGO_DPSGD)
        rc = rumor_compressor_create(&cfg->compress, cfg->d, &g->compressor);
    if (!rc && s_has_exact(cfg->algo)) rc = rumor_compressor_create(&identity, cfg->d, &g->exact);
    if (cfg->algo == RUMOR_ALGO_DEEPSQUEEZE) g->memory = calloc(d, sizeof *g->memory);
    if (cfg->algo == RUMOR_ALGO_DCD) g->pending = calloc(d, sizeof *g->pending);
    g->rows = beer ? (cfg->tracker_rows ? cfg->tracker_rows : 2) : 0;
    if (beer) g->track = calloc(g->rows * d, sizeof *g->track);
    if (!rc && beer && cfg->track_from) rc = s_tracker_compressors(g);
    int robust_oom;
    g->robust = rumor_robust_new(&cfg->robust, cfg->degree, cfg->d, x0, &robust_oom);
    if (!rc && (robust_oom || !g->nbrs || !g->w || !g->up || !g->quiet || !g->mix_c || !g->mix_a ||
                !g->copies || (cfg->algo == RUMOR_ALGO_DEEPSQUEEZE && !g->memory) ||
                (cfg->algo == RUMOR_ALGO_DCD && !g->pending) || (beer && !g->track)))
        rc = RUMOR_ENOMEM;
    if (rc) {
        rumor_gossip_destroy(&g);
        return rc;
    }
    memcpy(g->nbrs, cfg->nbrs, deg * sizeof *g->nbrs);
    memcpy(g->w, cfg->w_nbrs, deg * sizeof *g->w);
    memset(g->up, 1, deg);
    for (size_t s = 0; s <= deg; s++) rumor_vec_copy(g->copies + s * g->pub, x0, d);
    g->cfg.nbrs = g->nbrs;
    g->cfg.w_nbrs = g->w;
    *out = g;
    return 0;
}

void rumor_gossip_destroy(rumor_gossip_t **g_p)
{
    if (!g_p || !*g_p) return;
    rumor_gossip_t *g = *g_p;
    rumor_compressor_destroy(&g->compressor);
    rumor_compressor_destroy(&g->exact);
    rumor_compressor_destroy(&g->tcompressor);
    rumor_compressor_destroy(&g->texact);
    rumor_robust_destroy(&g->robust);
    free(g->nbrs);
    free(g->w);
    free(g->up);
    free(g->quiet);
    free(g->mix_c);
    free(g->mix_a);
    free(g->copies);
    free(g->memory);
    free(g->pending);
    free(g->track);
    free(g);
    *g_p = NULL;
}

int rumor_gossip_slot(const rumor_gossip_t *g, uint32_t id)
{
    return rumor_topology_slot(g->nbrs, g->cfg.degree, id);
}

static float *s_copy(const rumor_gossip_t *g, size_t slot)
{
    return g->copies + slot * g->pub;
}

/* x = mix_c(v) = v + gamma sum_j w_ij (c_j - c_i) over the neighbours that are up and take
 * part in the round, as v + gamma sum_j w_ij c_j - gamma (sum_j w_ij) c_i, with w this round's
 * weights and c the n floats at offset `part` of each public vector (BEER: 0 the model's
 * copies, d + track_from the tracker's). x may alias v. One pass over the vectors
 * (rumor_vec_lincomb); every entry takes the terms in the order of whole-vector axpys,
 * neighbours first. */
static void s_mix_copies(const rumor_gossip_t *g, const double *w, size_t part, size_t n,
                         const float *v, float *x)
{
    const uint32_t deg = g->cfg.degree;
    const float gamma = g->cfg.gamma;
    double wsum = 0.0; /* weight of the neighbours mixed with */
    size_t m = 0;
    for (uint32_t s = 0; s < deg; s++) {
        if (!g->up[s] || g->quiet[s]) continue;
        wsum += w[s];
        g->mix_a[m] = gamma * (float)w[s];
        g->mix_c[m++] = s_copy(g, s) + part;
    }
    g->mix_a[m] = -gamma * (float)wsum;
    g->mix_c[m++] = s_copy(g, deg) + part;
    rumor_vec_lincomb(x, v, m, g->mix_c, g->mix_a, n);
}

/* The message is the vector itself, and a neighbour's copy is its last message (D-PSGD,
 * DeepSqueeze); otherwise the message is a difference the copy grows by. */
static int s_copy_is_message(const rumor_gossip_t *g)
{
    return g->cfg.algo == RUMOR_ALGO_DPSGD || g->cfg.algo == RUMOR_ALGO_DEEPSQUEEZE;
}

int rumor_gossip_message_is_copy(const rumor_gossip_t *g)
{
    return s_copy_is_message(g);
}

void rumor_gossip_produce(rumor_gossip_t *g, const float *v, rumor_rng_t *rng, rumor_cmsg_t *out)
{
    const uint32_t d = g->cfg.d;
    float *own = s_copy(g, g->cfg.degree);
    switch (g->cfg.algo) {
    case RUMOR_ALGO_DPSGD:
        out->kind = RUMOR_CMSG_DENSE;
        out->d = out->nnz = d;
        out->scale = 1.0f;
        rumor_vec_copy(out->val, v, d);
        rumor_vec_copy(own, v, d);
        return;
    case RUMOR_ALGO_DEEPSQUEEZE: {
        /* a = e + v; q = C(a); e = a - q; the own copy is q */
        rumor_vec_axpy(g->memory, 1.0f, v, d);
        const double a = g->measure ? rumor_vec_nrm2(g->memory, d) : 0.0;
        rumor_compressor_apply(g->compressor, g->memory, rng, out);
        rumor_cmsg_axpy(out, -1.0f, g->memory);
        rumor_cmsg_to_dense(out, own);
        if (g->measure) {
            const double e = rumor_vec_nrm2(g->memory, d); /* e = -(C(a) - a) */
            g->err = a > 0 ? (e * e) / (a * a) : 0.0;
        }
        return;
    }
    case RUMOR_ALGO_DCD:
        /* z = v + pending = mix_c(v) over the copies as the last round ended (a carrier may
         * deliver this round's messages before the step); q = C(z - c_i); c_i += q. pending
         * holds z until the mix computes it anew. */
        rumor_vec_axpy(g->pending, 1.0f, v, d);
        v = g->pending;
        break;
    case RUMOR_ALGO_CHOCO:
    case RUMOR_ALGO_MALCOM:
    case RUMOR_ALGO_BEER:
        break;
    }
    /* v is the point the own copy chases: r = v - c_i, q = C(r), c_i += q (exact in a
     * full-sync round) */
    const double r2 = g->measure ? rumor_vec_dist2(v, own, d) : 0.0;
    rumor_compressor_apply_delta(g->sync ? g->exact : g->compressor, v, own, rng, out);
    rumor_cmsg_axpy(out, 1.0f, own);
    if (g->measure) /* own - v is now C(r) - r */
        g->err = r2 > 0 ? rumor_vec_dist2(own, v, d) / r2 : 0.0;
}

void rumor_gossip_set_measure(rumor_gossip_t *g, int on)
{
    g->measure = on != 0;
}

double rumor_gossip_compress_err(const rumor_gossip_t *g)
{
    return g->err;
}

void rumor_gossip_produce_tracker(rumor_gossip_t *g, rumor_rng_t *rng, rumor_cmsg_t *out)
{
    RUMOR_ASSERT(g->track);
    const uint32_t from = g->cfg.track_from;
    float *own = s_copy(g, g->cfg.degree) + g->cfg.d + from;
    rumor_compressor_t *c =
        from ? (g->sync ? g->texact : g->tcompressor) : (g->sync ? g->exact : g->compressor);
    rumor_compressor_apply_delta(c, g->track + from, own, rng, out);
    rumor_cmsg_axpy(out, 1.0f, own);
}

int rumor_gossip_absorb_pair(rumor_gossip_t *g, uint32_t from, const rumor_cmsg_t *m,
                             const rumor_cmsg_t *mt)
{
    const int slot = rumor_gossip_slot(g, from);
    if (slot < 0 || !mt != !g->track) return RUMOR_EINVAL;
    const uint32_t d = g->cfg.d, tf = g->cfg.track_from; /* mt: the coordinates [tf, d) */
    if (m->d != d || (mt && mt->d != d - tf)) return RUMOR_EMISMATCH;
    float *c = s_copy(g, (size_t)slot);
    const int replace = s_copy_is_message(g); /* the copy is the message, or grows by it */
    if (!rumor_cmsg_axpy_finite(m, 1.0f, replace ? NULL : c) ||
        (mt && !rumor_cmsg_axpy_finite(mt, 1.0f, c + d + tf)))
        return RUMOR_ENONFINITE; /* the copies stay as they were */
    if (replace)
        rumor_cmsg_to_dense(m, c);
    else
        rumor_cmsg_axpy(m, 1.0f, c);
    if (mt) rumor_cmsg_axpy(mt, 1.0f, c + d + tf);
    return 0;
}

float *rumor_gossip_addend(rumor_gossip_t *g, uint32_t from)
{
    const int slot = rumor_gossip_slot(g, from);
    return slot < 0 || g->track || s_copy_is_message(g) ? NULL : s_copy(g, (size_t)slot);
}

int rumor_gossip_absorb(rumor_gossip_t *g, uint32_t from, const rumor_cmsg_t *m)
{
    return rumor_gossip_absorb_pair(g, from, m, NULL);
}

/* The robust rule's trimmed mix: x = v + gamma W t, t the trimmed mean of the c_j - c_i
 * and W the weight of the neighbours that are up (D-PSGD: of the v_j - v, gamma 1; DCD: into
 * pending, x = c_i). */
static void s_mix_trimmed(rumor_gossip_t *g, const float *v, float *x)
{
    const uint32_t d = g->cfg.d, deg = g->cfg.degree;
    const int dpsgd = g->cfg.algo == RUMOR_ALGO_DPSGD;
    const float *t = rumor_robust_trim(g->robust, g->copies, g->up, dpsgd ? v : s_copy(g, deg));
    double wsum = 0.0;
    for (uint32_t s = 0; s < deg; s++)
        if (g->up[s]) wsum += g->w[s];
    const float a = (dpsgd ? 1.0f : g->cfg.gamma) * (float)wsum;
    if (g->cfg.algo == RUMOR_ALGO_DCD) {
        rumor_vec_copy(x, s_copy(g, deg), d);
        rumor_vec_zero(g->pending, d);
        rumor_vec_axpy(g->pending, a, t, d);
        return;
    }
    if (x != v) rumor_vec_copy(x, v, d);
    rumor_vec_axpy(x, a, t, d);
}

void rumor_gossip_mix(rumor_gossip_t *g, const float *v, float *x)
{
    const uint32_t d = g->cfg.d, deg = g->cfg.degree;
    if (g->robust && rumor_robust_trims(g->robust)) {
        s_mix_trimmed(g, v, x);
        return;
    }
    /* Clipping is a reweighting: each term w_ij (y_j - y_i) scaled to norm tau at most. */
    const double *w =
        g->robust ? rumor_robust_weights(g->robust, g->copies, g->up, g->w,
                                         g->cfg.algo == RUMOR_ALGO_DPSGD ? v : s_copy(g, deg))
                  : g->w;
    switch (g->cfg.algo) {
    case RUMOR_ALGO_DPSGD: {
        /* x = w_ii v + sum_j w_ij v_j; down neighbours' weight stays on w_ii. */
        if (x != v) rumor_vec_copy(x, v, d);
        double wsum = 0.0;
        for (uint32_t s = 0; s < deg; s++)
            if (g->up[s]) wsum += w[s];
        rumor_vec_scale(x, (float)(1.0 - wsum), d);
        for (uint32_t s = 0; s < deg; s++)
            if (g->up[s]) rumor_vec_axpy(x, (float)w[s], s_copy(g, s), d);
        return;
    }
    case RUMOR_ALGO_DCD:
        /* The model is its public copy, and the next message carries the mix from here. */
        rumor_vec_copy(x, s_copy(g, deg), d);
        rumor_vec_zero(g->pending, d);
        s_mix_copies(g, w, 0, d, g->pending, g->pending);
        return;
    case RUMOR_ALGO_BEER: {
        /* y += gamma sum_j w_ij (yhat_j - yhat_i) over the tracked coordinates, after the
         * model step read y */
        const uint32_t from = g->cfg.track_from;
        s_mix_copies(g, w, d + from, d - from, g->track + from, g->track + from);
        s_mix_copies(g, w, 0, d, v, x);
        return;
    }
    case RUMOR_ALGO_CHOCO:
    case RUMOR_ALGO_MALCOM:
    case RUMOR_ALGO_DEEPSQUEEZE:
        s_mix_copies(g, w, 0, d, v, x);
        return;
    }
}

void rumor_gossip_set_sync(rumor_gossip_t *g, int sync)
{
    g->sync = sync && g->exact;
}

uint32_t rumor_gossip_public_dim(const rumor_gossip_t *g)
{
    return g->pub;
}

rumor_robust_stats_t rumor_gossip_robust_stats(const rumor_gossip_t *g)
{
    return g->robust ? rumor_robust_stats(g->robust) : (rumor_robust_stats_t){NULL, NULL, NULL};
}

rumor_robust_t *rumor_gossip_robust(rumor_gossip_t *g)
{
    return g->robust;
}

void rumor_gossip_set_gamma(rumor_gossip_t *g, float gamma)
{
    g->cfg.gamma = gamma;
}

int rumor_gossip_set_up(rumor_gossip_t *g, uint32_t id, int up)
{
    const int slot = rumor_gossip_slot(g, id);
    if (slot < 0) return RUMOR_EINVAL;
    g->up[slot] = up != 0;
    return 0;
}

int rumor_gossip_set_quiet(rumor_gossip_t *g, uint32_t id, int quiet)
{
    const int slot = rumor_gossip_slot(g, id);
    if (slot < 0) return RUMOR_EINVAL;
    g->quiet[slot] = quiet != 0;
    return 0;
}

int rumor_gossip_is_up(const rumor_gossip_t *g, uint32_t id)
{
    const int slot = rumor_gossip_slot(g, id);
    return slot >= 0 && g->up[slot];
}

float *rumor_gossip_copy_mut(rumor_gossip_t *g, uint32_t id)
{
    if (id == g->cfg.self) return s_copy(g, g->cfg.degree);
    const int slot = rumor_gossip_slot(g, id);
    return slot < 0 ? NULL : s_copy(g, (size_t)slot);
}

const float *rumor_gossip_copy(const rumor_gossip_t *g, uint32_t id)
{
    return rumor_gossip_copy_mut((rumor_gossip_t *)g, id);
}

void rumor_gossip_copy_copies(rumor_gossip_t *dst, const rumor_gossip_t *src)
{
    RUMOR_ASSERT(dst->cfg.self == src->cfg.self && dst->cfg.degree == src->cfg.degree &&
                 dst->cfg.d == src->cfg.d);
    memcpy(dst->copies, src->copies,
           (src->cfg.degree + 1) * (size_t)src->pub * sizeof *src->copies);
    float *dst_extra = rumor_gossip_extra(dst, NULL);
    const float *src_extra = rumor_gossip_extra((rumor_gossip_t *)src, NULL);
    if (src_extra)
        memcpy(dst_extra, src_extra,
               rumor_gossip_extra_rows(src) * (size_t)src->cfg.d * sizeof *src_extra);
    if (src->robust) rumor_robust_copy_means(dst->robust, src->robust);
}

float *rumor_gossip_extra(rumor_gossip_t *g, const char **name)
{
    if (name) *name = g->memory ? "memory" : g->track ? "tracker" : "pending";
    return g->memory ? g->memory : g->track ? g->track : g->pending;
}

uint32_t rumor_gossip_extra_rows(const rumor_gossip_t *g)
{
    return g->track ? g->rows : g->memory || g->pending ? 1 : 0;
}

double rumor_gossip_copy_omega(const rumor_gossip_t *g)
{
    if (!g->compressor || !rumor_compressor_unbiased(g->compressor)) return 0.0;
    /* for an unscaled unbiased compressor, delta is that of C / (1 + omega) */
    return rumor_compressor_delta(g->compressor) - 1.0;
}

int rumor_consensus_watch(rumor_consensus_watch_t *w, uint32_t round, double dist)
{
    if (w->started && dist > w->prev) {
        w->rises++;
    } else {
        w->started = 1;
        w->rises = 0;
        w->from = dist;
        w->from_round = round;
    }
    w->prev = dist;
    if (w->fired || w->rises < RUMOR_CONSENSUS_RISES || !(dist >= RUMOR_CONSENSUS_GROWTH * w->from))
        return 0;
    w->fired = 1;
    return 1;
}
