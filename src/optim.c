/* rumor — the local optimizer (see optim.h). */
#include "rumor/optim.h"
#include "rumor/vec.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int rumor_schedule_parse(const char *str, uint32_t rounds, rumor_schedule_t *s, rumor_errmsg_t *em)
{
    const double lr = s->lr;
    const uint32_t warmup = s->warmup;
    memset(s, 0, sizeof *s);
    s->lr = lr;
    s->warmup = warmup;
    s->factor = 1.0;
    char *end;
    if (!strcmp(str, "constant")) {
        s->kind = RUMOR_SCHEDULE_CONSTANT;
        return 0;
    }
    if (!strncmp(str, "step:", 5)) {
        const unsigned long every = strtoul(str + 5, &end, 10);
        if (end == str + 5 || *end != ':' || every == 0) goto bad;
        const char *f = end + 1;
        const double factor = strtod(f, &end);
        if (end == f || *end || !(factor > 0.0 && factor <= 1.0)) goto bad;
        s->kind = RUMOR_SCHEDULE_STEP;
        s->every = (uint32_t)every;
        s->factor = factor;
        return 0;
    }
    if (!strcmp(str, "cosine") || !strncmp(str, "cosine:", 7)) {
        s->kind = RUMOR_SCHEDULE_COSINE;
        s->total = rounds ? rounds : 1;
        if (str[6] == ':') {
            s->lr_min = strtod(str + 7, &end);
            if (end == str + 7 || *end || !(s->lr_min >= 0.0 && s->lr_min <= lr)) goto bad;
        }
        return 0;
    }
bad:
    return rumor_errmsg_set(em, RUMOR_EINVAL,
                            "schedule '%s': expected constant, step:EVERY:FACTOR (0 < FACTOR <= "
                            "1) or cosine[:LR_MIN] (0 <= LR_MIN <= lr)",
                            str);
}

double rumor_schedule_lr(const rumor_schedule_t *s, uint32_t t)
{
    double lr = s->lr;
    switch (s->kind) {
    case RUMOR_SCHEDULE_CONSTANT:
        break;
    case RUMOR_SCHEDULE_STEP:
        lr = s->lr * pow(s->factor, (double)(t / s->every));
        break;
    case RUMOR_SCHEDULE_COSINE: {
        const double x = t >= s->total ? 1.0 : (double)t / s->total;
        lr = s->lr_min + (s->lr - s->lr_min) * 0.5 * (1.0 + cos(M_PI * x));
        break;
    }
    }
    if (s->warmup > 0 && t < s->warmup) lr *= (double)(t + 1) / s->warmup;
    return lr;
}

static const char *const s_momentum_names[] = {"none", "heavy-ball", "nesterov", "quasi-global"};

const char *rumor_momentum_name(rumor_momentum_kind_t kind)
{
    return s_momentum_names[kind];
}

int rumor_momentum_parse(const char *str, rumor_momentum_t *m, rumor_errmsg_t *em)
{
    *m = (rumor_momentum_t){RUMOR_MOMENTUM_NONE, 0.0f, 0.0f};
    if (!str[0] || !strcmp(str, "none")) return 0;
    for (int k = RUMOR_MOMENTUM_HEAVY_BALL; k <= RUMOR_MOMENTUM_QUASI_GLOBAL; k++) {
        const size_t n = strlen(s_momentum_names[k]);
        if (strncmp(str, s_momentum_names[k], n) || str[n] != ':') continue;
        char *end;
        const double beta = strtod(str + n + 1, &end);
        if (end == str + n + 1 || !(beta >= 0.0 && beta < 1.0)) break;
        double mu = beta > 0.0 ? 1.0 - beta : 1.0;
        if (k == RUMOR_MOMENTUM_QUASI_GLOBAL && *end == ':') {
            const char *at = end + 1;
            mu = strtod(at, &end);
            if (end == at || !(mu > 0.0 && mu <= 1.0)) break;
        }
        if (*end) break;
        *m = (rumor_momentum_t){(rumor_momentum_kind_t)k, (float)beta,
                                k == RUMOR_MOMENTUM_QUASI_GLOBAL ? (float)mu : 0.0f};
        return 0;
    }
    return rumor_errmsg_set(em, RUMOR_EINVAL,
                            "momentum '%s': expected none, heavy-ball:BETA, nesterov:BETA or "
                            "quasi-global:BETA[:MU] (0 <= BETA < 1, 0 < MU <= 1)",
                            str);
}

void rumor_momentum_direction(const rumor_momentum_t *mo, float *restrict m, float *restrict g,
                              size_t d)
{
    const float beta = mo->beta;
    switch (mo->kind) {
    case RUMOR_MOMENTUM_NONE:
        break;
    case RUMOR_MOMENTUM_HEAVY_BALL:
        for (size_t i = 0; i < d; i++) g[i] = m[i] = beta * m[i] + g[i];
        break;
    case RUMOR_MOMENTUM_NESTEROV:
        for (size_t i = 0; i < d; i++) {
            m[i] = beta * m[i] + g[i];
            g[i] += beta * m[i];
        }
        break;
    case RUMOR_MOMENTUM_QUASI_GLOBAL:
        for (size_t i = 0; i < d; i++) g[i] += beta * m[i];
        break;
    }
}

void rumor_momentum_follow(const rumor_momentum_t *mo, float *restrict m,
                           const float *restrict before, const float *restrict after, float lr,
                           size_t d)
{
    if (mo->kind != RUMOR_MOMENTUM_QUASI_GLOBAL) return;
    const float keep = 1.0f - mo->mu, take = mo->mu / lr;
    for (size_t i = 0; i < d; i++) m[i] = keep * m[i] + take * (before[i] - after[i]);
}

int rumor_optim_sgd(float *v, const float *x, float lr, const float *g, size_t d)
{
    /* An all-ones exponent is NaN or infinity; an integer OR keeps the loop vectorized. */
    uint32_t bad = 0;
    for (size_t i = 0; i < d; i++) {
        v[i] = x[i] - lr * g[i];
        uint32_t b;
        memcpy(&b, &v[i], sizeof b);
        bad |= (b & 0x7f800000u) == 0x7f800000u;
    }
    return !bad;
}

void rumor_optim_prox_l1(float *x, float t, size_t d)
{
    if (t > 0.0f) rumor_vec_soft_threshold(x, t, d);
}
