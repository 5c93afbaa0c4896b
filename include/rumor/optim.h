/* rumor — the local optimizer: SGD step, momentum, l1 proximal map, learning-rate schedules.
 *
 * Malcom-PSGD's local step is v = x - eta_t g and, after consensus, x = prox_{eta_t lambda}(z)
 * with prox the soft threshold. Schedules give eta_t for round t (0-based) and are pure
 * functions of the round, so a peer restarted from a checkpoint continues on the same curve.
 * With momentum the step goes along a direction built from g and a buffer m (d floats, zero
 * at round 0, kept in checkpoints) instead of along g. Quasi-global momentum (QG-DSGDm, Lin,
 * Karimireddy, Stich, Jaggi 2021) steps along g + beta m like heavy ball, but its buffer
 * follows the model's whole change in a round, consensus and prox included, instead of the
 * local gradients: m = (1 - mu) m + mu (x_before - x_after) / eta_t once the round ends.
 */
#ifndef RUMOR_OPTIM_H
#define RUMOR_OPTIM_H

#include "rumor/err.h"

#include <stddef.h>
#include <stdint.h>

typedef enum {
    RUMOR_SCHEDULE_CONSTANT = 0,
    RUMOR_SCHEDULE_STEP = 1,   /* lr * factor^floor(t / every) */
    RUMOR_SCHEDULE_COSINE = 2, /* lr_min + (lr - lr_min)(1 + cos(pi t / total)) / 2 */
} rumor_schedule_kind_t;

typedef struct {
    rumor_schedule_kind_t kind;
    double lr;       /* initial learning rate eta_0 > 0 */
    double lr_min;   /* cosine floor */
    uint32_t every;  /* step: rounds between decays */
    double factor;   /* step: decay factor in (0, 1] */
    uint32_t total;  /* cosine: rounds over which to anneal */
    uint32_t warmup; /* rounds of linear warm-up from lr/warmup to lr (0 = none) */
} rumor_schedule_t;

/* Parses "constant", "step:EVERY:FACTOR", "cosine" or "cosine:LR_MIN" into s, keeping
 * s->lr; total is set to `rounds` for cosine. */
int rumor_schedule_parse(const char *str, uint32_t rounds, rumor_schedule_t *s, rumor_errmsg_t *em);

/* eta_t for round t. */
double rumor_schedule_lr(const rumor_schedule_t *s, uint32_t t);

typedef enum {
    RUMOR_MOMENTUM_NONE = 0,
    RUMOR_MOMENTUM_HEAVY_BALL = 1,   /* m = beta m + g; the step goes along m */
    RUMOR_MOMENTUM_NESTEROV = 2,     /* m = beta m + g; along g + beta m */
    RUMOR_MOMENTUM_QUASI_GLOBAL = 3, /* along g + beta m; m follows the model's change */
} rumor_momentum_kind_t;

typedef struct {
    rumor_momentum_kind_t kind;
    float beta; /* in [0, 1) */
    float mu;   /* quasi-global: the weight of a round's change in the buffer, in (0, 1] */
} rumor_momentum_t;

/* Parses "none" (or ""), "heavy-ball:BETA", "nesterov:BETA" or "quasi-global:BETA[:MU]",
 * 0 <= BETA < 1, 0 < MU <= 1 (default 1 - BETA, the paper's averaging; 1 when BETA is 0). */
int rumor_momentum_parse(const char *str, rumor_momentum_t *m, rumor_errmsg_t *em);

/* "heavy-ball", "nesterov", "quasi-global" or "none". */
const char *rumor_momentum_name(rumor_momentum_kind_t kind);

/* Turns the gradient g into the step direction, in place, updating the buffer m (but for
 * quasi-global momentum, whose buffer moves at the end of the round). A no-op without
 * momentum. */
void rumor_momentum_direction(const rumor_momentum_t *mo, float *m, float *g, size_t d);

/* Quasi-global momentum's buffer update once a round ends: m = (1 - mu) m + mu (before -
 * after) / lr, with before the model when the round began and after the model it ended with
 * (after mix and prox). A no-op for the other kinds. */
void rumor_momentum_follow(const rumor_momentum_t *mo, float *m, const float *before,
                           const float *after, float lr, size_t d);

/* v = x - lr * g. Returns 1 when every v_i is finite, 0 when one is NaN or infinite (the
 * model diverged), checked in the same pass. */
int rumor_optim_sgd(float *v, const float *x, float lr, const float *g, size_t d);

/* Where the l1 prox sits in a round. AFTER_MIX (Malcom-PSGD as analysed): x =
 * prox(mix(v)). BEFORE_COMPRESS: v = prox(v) before the residual v - xhat is formed, so the
 * public copies track a sparse point; the mixed model is then left as it is. */
typedef enum {
    RUMOR_PROX_AFTER_MIX = 0,
    RUMOR_PROX_BEFORE_COMPRESS = 1,
} rumor_prox_at_t;

/* x = prox_{t ||.||_1}(x), t = eta_t * lambda; a no-op for t <= 0. */
void rumor_optim_prox_l1(float *x, float t, size_t d);

#endif
