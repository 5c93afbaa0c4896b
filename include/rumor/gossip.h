/* rumor — the per-peer gossip state machine of D-PSGD, CHOCO-SGD, Malcom-PSGD, DCD-PSGD,
 * DeepSqueeze and BEER.
 *
 * One round, from the gossip's point of view (DESIGN.md section 2), with c_j the copy this
 * peer keeps of neighbour j's public vector and c_i its own, mix_c(v) = v + gamma sum_j w_ij
 * (c_j - c_i) over the neighbours that are up:
 *   D-PSGD       produce: the message is v; c_i = v.      absorb: c_j = v_j.
 *                mix: x = w_ii v + sum_j w_ij v_j.
 *   CHOCO/Malcom produce: q_i = C(v - c_i); c_i += q_i.   absorb: c_j += q_j.
 *                mix: x = mix_c(v). (Malcom-PSGD then applies the l1 prox: the optimizer's job.)
 *   DCD-PSGD     (Tang et al. 2018; gamma = 1 is the paper's) produce: z = v + p, with
 *                p = gamma sum_j w_ij (c_j - c_i) as the last round ended; q_i = C(z - c_i);
 *                c_i += q_i.   absorb: c_j += q_j.   mix: x = c_i; p = gamma sum_j w_ij
 *                (c_j - c_i). The public copy is the model itself, so what C drops is lost:
 *                no memory, the baseline that biased compressors such as top-k break. p is
 *                taken when a round ends because a carrier may deliver a round's messages
 *                before the peer's step.
 *   DeepSqueeze  (Tang et al. 2019) produce: a = e + v; q_i = C(a); e = a - q_i; c_i = q_i.
 *                absorb: c_j = q_j.   mix: x = mix_c(v), the compressed values mixed.
 *                e is explicit error-feedback memory (DESIGN 2.4's wrapper on the model).
 *   BEER         (compressed gradient tracking, Zhao et al. 2022; with lambda > 0 and the prox on
 *                the model step, CDProxSGT) keeps a tracker y of the network's mean gradient
 *                beside the model, and a public vector of two parts: the model's copy h and
 *                the tracker's copy u. With g^t the round's stochastic gradient at x^t:
 *                  produce: y^t = y' + g^t - g^{t-1} (the peer's update, g the local gradient
 *                           estimate; round 0: y = g^0 on a batch 4 times the size), v = x^t -
 *                           eta y^t, q_i = C(v - h_i), r_i = C(y^t - u_i); h_i += q_i; u_i += r_i.
 *                  absorb: h_j += q_j; u_j += r_j.
 *                  mix: x^{t+1} = prox(mix_h(v)), y' = mix_u(y^t).
 *                This is BEER's round (V^{t+1} = V^t + gamma G(W - I) + grad^{t+1} - grad^t,
 *                G += C(V - G)) with the model's copies chasing the stepped point v, as CHOCO's
 *                do (adapt, then combine: exact, x^{t+1} = W (x^t - eta y^t)), where BEER's
 *                chase x^t (x^{t+1} = x^t + gamma H(W - I) - eta V^t, stable only for a quarter
 *                of SGD's step). The round's first half, gradient and compression, is at the
 *                start of a round and its mix at the end; round 0's exchange initialises the
 *                trackers' copies, which start at 0 (BEER's G^0 = C(V^0)). The sum of the
 *                trackers stays the sum of the latest gradients (W is doubly stochastic). The
 *                message is the pair (q_i, r_i).
 * Full-sync rounds (CHOCO, Malcom, BEER; rumor_gossip_set_sync): C is the identity, so every
 * copy becomes exact.
 * CHOCO's public copies are its memory; DeepSqueeze keeps e beside them (d more floats), BEER
 * the tracker and its last gradient estimate (2 d; 3 d with the previous point).
 *
 * Every peer keeps a public copy c_j per neighbour, so the state survives out-of-order
 * delivery, resync (a neighbour's full copy can be installed) and neighbours going down:
 * a down neighbour (or one that sits the round out) is left out of the mix, which moves its
 * weight w_ij onto w_ii. Mixing
 * sums neighbours in ascending id order whatever the arrival order, so results are bit
 * identical between the simulator and networked peers. All public copies start at the
 * common initial model x0 (every peer derives it from the run seed), so the first residuals
 * are small; trackers' copies start at 0. Memory: (degree + 1) d floats (2 d for BEER), and d
 * more (state) for DCD and DeepSqueeze, 2 d for BEER. No allocation after rumor_gossip_new.
 */
#ifndef RUMOR_GOSSIP_H
#define RUMOR_GOSSIP_H

#include "rumor/algo.h"
#include "rumor/cmsg.h"
#include "rumor/compress.h"
#include "rumor/err.h"
#include "rumor/rng.h"
#include "rumor/robust.h"

#include <stdint.h>

typedef struct {
    rumor_algo_t algo;
    uint32_t d;                    /* model dimension */
    uint32_t self;                 /* this node's id */
    uint32_t degree;               /* number of neighbours */
    const uint32_t *nbrs;          /* (degree) neighbour ids, ascending */
    const double *w_nbrs;          /* (degree) w_ij */
    float gamma;                   /* consensus step (all but D-PSGD) */
    rumor_compress_cfg_t compress; /* ignored by D-PSGD, which sends v uncompressed */
    uint32_t tracker_rows;         /* BEER: rows of d floats of tracker state, 2 or 3 (0: 2) */
    uint32_t track_from;           /* BEER: the tracker's copies and messages cover the coordinates
                                    * [track_from, d) (below d; 0: all); below it the tracker is the
                                    * local gradient estimate and its copies stay 0 */
    rumor_robust_cfg_t robust;     /* the mix's robust rule (robust.h); zeroed: none */
} rumor_gossip_cfg_t;

typedef struct rumor_gossip rumor_gossip_t;

/* Creates the state with every public copy set to x0 (d floats). Returns 0 with *out set, or
 * with *out NULL RUMOR_EINVAL (d of 0, neighbours not strictly increasing, a compressor its
 * configuration rejects) or RUMOR_ENOMEM. */
int rumor_gossip_create(const rumor_gossip_cfg_t *cfg, const float *x0, rumor_gossip_t **out);

/* The same, NULL on failure: for callers that need no code. */
static inline rumor_gossip_t *rumor_gossip_new(const rumor_gossip_cfg_t *cfg, const float *x0)
{
    rumor_gossip_t *g;
    return rumor_gossip_create(cfg, x0, &g) ? NULL : g;
}
void rumor_gossip_destroy(rumor_gossip_t **g_p);

/* Builds this round's outgoing message from v into out (initialised for d) and applies it
 * to the own public copy. rng is this round's compression stream. For BEER this is the
 * message's first part. */
void rumor_gossip_produce(rumor_gossip_t *g, const float *v, rumor_rng_t *rng, rumor_cmsg_t *out);

/* BEER: the message's second part, C(y - u_i) over the coordinates from cfg.track_from on
 * (d - track_from of them), from the tracker (rumor_gossip_extra's first row, updated by the
 * caller), applied to the own tracker copy. Call after produce, on the same rng. */
void rumor_gossip_produce_tracker(rumor_gossip_t *g, rumor_rng_t *rng, rumor_cmsg_t *out);
/* 1 when a holder's copy of a peer is its last message (D-PSGD, DeepSqueeze), 0 when the copy
 * grows by each message. */
int rumor_gossip_message_is_copy(const rumor_gossip_t *g);

/* Applies neighbour `from`'s message. RUMOR_EINVAL if `from` is not a neighbour,
 * RUMOR_EMISMATCH if m->d differs from d, RUMOR_ENONFINITE (nothing applied) if the copy
 * would hold a NaN or infinity: no message, or sum of messages, puts one there. */
RUMOR_NODISCARD int rumor_gossip_absorb(rumor_gossip_t *g, uint32_t from, const rumor_cmsg_t *m);
/* The copy of neighbour `from` when absorbing its message only adds the message into it (no
 * tracker, the copy not the message itself), so a decoder may add it there directly
 * (rumor_codec_decode_add) in place of rumor_gossip_absorb; else NULL. */
float *rumor_gossip_addend(rumor_gossip_t *g, uint32_t from);

/* The same for an algorithm whose message has two parts (BEER: m the model's, mt the
 * tracker's, of d - track_from; mt NULL for the others, RUMOR_EINVAL on a mismatch). Both
 * parts or neither are applied. */
RUMOR_NODISCARD int rumor_gossip_absorb_pair(rumor_gossip_t *g, uint32_t from,
                                             const rumor_cmsg_t *m, const rumor_cmsg_t *mt);

/* Makes the next produce (and produce_tracker) exact (1: a full-sync round; the residual goes
 * through the identity) or compressed (0). Ignored by D-PSGD, DCD and DeepSqueeze. */
void rumor_gossip_set_sync(rumor_gossip_t *g, int sync);

/* The variance omega of the compressor when it is unbiased and not scaled into a contraction
 * (dither or natural without :biased), else 0 (also for D-PSGD, which compresses nothing).
 * Such a compressor leaves a public copy's residual v - x^ with its expected square
 * multiplied by omega, so with a large omega the copies drift away from the models. */
double rumor_gossip_copy_omega(const rumor_gossip_t *g);

/* ||C(r) - r||^2 / ||r||^2 of the residual r the last produce compressed (its public copy's
 * error after the update), the statistic of biased-compression analyses; 0 before the first
 * produce, for r = 0 and for D-PSGD, which compresses nothing. */
double rumor_gossip_compress_err(const rumor_gossip_t *g);

/* Whether the next produces measure that statistic: 1 (the default) or 0, which spares two
 * passes over the model each round; rumor_gossip_compress_err then keeps the value of the last
 * produce that measured it. A carrier that reads the statistic at evaluations only measures the
 * rounds that end in one. */
void rumor_gossip_set_measure(rumor_gossip_t *g, int on);

/* x = mix(v) over the neighbours that are up, each neighbour's term y_j - y_i clipped or
 * trimmed by the robust rule (y_i: the own public copy; for D-PSGD, v); BEER mixes its tracker
 * too (v is then the model after its step, x^t - eta y^t). x may alias v. */
void rumor_gossip_mix(rumor_gossip_t *g, const float *v, float *x);

/* Sets the consensus step gamma of the next produce and mix (a schedule). */
void rumor_gossip_set_gamma(rumor_gossip_t *g, float gamma);

/* Marks neighbour `id` up (1) or down (0); RUMOR_EINVAL if not a neighbour. */
int rumor_gossip_set_up(rumor_gossip_t *g, uint32_t id, int up);

/* Marks neighbour `id` as sitting the current round out (1) or taking part (0): CHOCO-style
 * mixes (CHOCO, Malcom, DeepSqueeze, BEER) leave it out like a down neighbour, so both ends of
 * an edge mix along it or neither does. RUMOR_EINVAL if not a neighbour. */
int rumor_gossip_set_quiet(rumor_gossip_t *g, uint32_t id, int quiet);
int rumor_gossip_is_up(const rumor_gossip_t *g, uint32_t id);

/* Floats of a public vector: d, or 2 d for BEER (the model's copy, then the tracker's). */
uint32_t rumor_gossip_public_dim(const rumor_gossip_t *g);

/* Public copy of `id` (self or a neighbour), rumor_gossip_public_dim floats, for checkpoints
 * and STATE messages; NULL if id is neither. The mutable form lets a resync install a
 * received copy. */
const float *rumor_gossip_copy(const rumor_gossip_t *g, uint32_t id);
float *rumor_gossip_copy_mut(rumor_gossip_t *g, uint32_t id);

/* dst's state := src's: the public copies (its own and its neighbours'), the extra state
 * below and the robust rule's running mean shifts; both are of the same node. */
void rumor_gossip_copy_copies(rumor_gossip_t *dst, const rumor_gossip_t *src);

/* The rows of d floats of state an algorithm keeps beside the copies, for checkpoints:
 * DeepSqueeze's error-feedback memory e (*name = "memory"), DCD's pending mix p ("pending"),
 * BEER's tracker y, the gradient estimate it last took in and, with same-batch differences,
 * the previous point ("tracker", cfg.tracker_rows rows); NULL for the others. name may be
 * NULL. */
float *rumor_gossip_extra(rumor_gossip_t *g, const char **name);
uint32_t rumor_gossip_extra_rows(const rumor_gossip_t *g);

/* A watch over a network's consensus distance (1/n sum_i ||x_i - xbar||^2) across
 * evaluations. A gamma too large for the compressor shows as a distance that keeps growing
 * while the models still train, long before they diverge or while they only degrade; a
 * healthy run's distance follows eta_t^2 and falls. */
#define RUMOR_CONSENSUS_RISES  3   /* evaluations in a row ... */
#define RUMOR_CONSENSUS_GROWTH 4.0 /* ... that multiply the distance by this much at least */

typedef struct {
    double prev;         /* the distance at the last evaluation */
    double from;         /* the distance before the current run of rises, ... */
    uint32_t from_round; /* ... at this round */
    uint32_t rises;      /* evaluations in a row at which it grew */
    int started, fired;
} rumor_consensus_watch_t;

/* Feeds the distance of the evaluation after `round` rounds (w zeroed before the first).
 * Returns 1 once per watch: at the evaluation that completes RUMOR_CONSENSUS_RISES rises in a
 * row since w->from (at w->from_round), RUMOR_CONSENSUS_GROWTH-fold in all; else 0. */
int rumor_consensus_watch(rumor_consensus_watch_t *w, uint32_t round, double dist);

/* The robust rule's clip counts per neighbour slot; all NULL without a rule. */
rumor_robust_stats_t rumor_gossip_robust_stats(const rumor_gossip_t *g);
/* The robust rule's state, or NULL without a rule. */
rumor_robust_t *rumor_gossip_robust(rumor_gossip_t *g);

/* Slot of neighbour id in 0..degree-1, or -1. */
int rumor_gossip_slot(const rumor_gossip_t *g, uint32_t id);

#endif
