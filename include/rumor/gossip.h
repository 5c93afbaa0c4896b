/* rumor — the per-peer gossip state machine of D-PSGD, CHOCO-SGD and Malcom-PSGD.
 *
 * One round, from the gossip's point of view (DESIGN.md section 2):
 *   produce(v)   D-PSGD: the message is v itself.
 *                CHOCO/Malcom: q_i = C(v - xhat_i); xhat_i += q_i; the message is q_i.
 *   absorb(j, q) D-PSGD: xhat_j = v_j.   CHOCO/Malcom: xhat_j += q_j.
 *   mix(v) -> x  D-PSGD: x = w_ii v + sum_j w_ij v_j.
 *                CHOCO/Malcom: x = v + gamma sum_j w_ij (xhat_j - xhat_i).
 * (Malcom-PSGD then applies the l1 prox to x; that is the optimizer's job.)
 *
 * Every peer keeps a public copy xhat_j per neighbour, so the state survives out-of-order
 * delivery, resync (a neighbour's full copy can be installed) and neighbours going down:
 * a down neighbour is left out of the mix, which moves its weight w_ij onto w_ii. Mixing
 * sums neighbours in ascending id order whatever the arrival order, so results are bit
 * identical between the simulator and networked peers. All public copies start at the
 * common initial model x0 (every peer derives it from the run seed), so the first residuals
 * are small. Memory: (degree + 1) d floats. No allocation after rumor_gossip_new.
 */
#ifndef RUMOR_GOSSIP_H
#define RUMOR_GOSSIP_H

#include "rumor/cmsg.h"
#include "rumor/compress.h"
#include "rumor/err.h"
#include "rumor/rng.h"

#include <stdint.h>

typedef enum {
    RUMOR_ALGO_DPSGD = 0,
    RUMOR_ALGO_CHOCO = 1,
    RUMOR_ALGO_MALCOM = 2,
} rumor_algo_t;

/* Parses "dpsgd", "choco" or "malcom". */
int rumor_algo_parse(const char *s, rumor_algo_t *algo);
const char *rumor_algo_name(rumor_algo_t algo);

typedef struct {
    rumor_algo_t algo;
    uint32_t d;                    /* model dimension */
    uint32_t self;                 /* this node's id */
    uint32_t degree;               /* number of neighbours */
    const uint32_t *nbrs;          /* (degree) neighbour ids, ascending */
    const double *w_nbrs;          /* (degree) w_ij */
    float gamma;                   /* consensus step (CHOCO, Malcom) */
    rumor_compress_cfg_t compress; /* ignored by D-PSGD, which sends v uncompressed */
} rumor_gossip_cfg_t;

typedef struct rumor_gossip rumor_gossip_t;

/* Creates the state with every public copy set to x0 (d floats). NULL on bad config or
 * out of memory. */
rumor_gossip_t *rumor_gossip_new(const rumor_gossip_cfg_t *cfg, const float *x0);
void rumor_gossip_destroy(rumor_gossip_t **g_p);

/* Builds this round's outgoing message from v into out (initialised for d) and applies it
 * to the own public copy. rng is this round's compression stream. */
void rumor_gossip_produce(rumor_gossip_t *g, const float *v, rumor_rng_t *rng, rumor_cmsg_t *out);

/* Applies neighbour `from`'s message. RUMOR_EINVAL if `from` is not a neighbour,
 * RUMOR_EMISMATCH if m->d differs from d, RUMOR_ENONFINITE (nothing applied) if the copy
 * would hold a NaN or infinity: no message, or sum of messages, puts one there. */
RUMOR_NODISCARD int rumor_gossip_absorb(rumor_gossip_t *g, uint32_t from, const rumor_cmsg_t *m);

/* The variance omega of the compressor when it is unbiased and not scaled into a contraction
 * (dither or natural without :biased), else 0 (also for D-PSGD, which compresses nothing).
 * Such a compressor leaves a public copy's residual v - x^ with its expected square
 * multiplied by omega, so with a large omega the copies drift away from the models. */
double rumor_gossip_copy_omega(const rumor_gossip_t *g);

/* ||C(r) - r||^2 / ||r||^2 of the residual r the last produce compressed (its public copy's
 * error after the update), the statistic of biased-compression analyses; 0 before the first
 * produce, for r = 0 and for D-PSGD, which compresses nothing. */
double rumor_gossip_compress_err(const rumor_gossip_t *g);

/* x = mix(v) over the neighbours that are up. x may alias v. */
void rumor_gossip_mix(rumor_gossip_t *g, const float *v, float *x);

/* Marks neighbour `id` up (1) or down (0); RUMOR_EINVAL if not a neighbour. */
int rumor_gossip_set_up(rumor_gossip_t *g, uint32_t id, int up);
int rumor_gossip_is_up(const rumor_gossip_t *g, uint32_t id);

/* Public copy of `id` (self or a neighbour), d floats, for checkpoints and STATE messages;
 * NULL if id is neither. The mutable form lets a resync install a received copy. */
const float *rumor_gossip_copy(const rumor_gossip_t *g, uint32_t id);
float *rumor_gossip_copy_mut(rumor_gossip_t *g, uint32_t id);

/* dst's public copies (its own and its neighbours') := src's; both are of the same node. */
void rumor_gossip_copy_copies(rumor_gossip_t *dst, const rumor_gossip_t *src);

/* Slot of neighbour id in 0..degree-1, or -1. */
int rumor_gossip_slot(const rumor_gossip_t *g, uint32_t id);

#endif
