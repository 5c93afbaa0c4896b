/* rumor — Byzantine-robust mixing (see robust.h). */
#include "rumor/robust.h"
#include "rumor/err.h"
#include "rumor/vec.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct rumor_robust {
    rumor_robust_cfg_t cfg;
    uint32_t deg, d;
    double *dist;       /* (deg) ||y_s - ref|| of this round */
    double *w_eff;      /* (deg) this round's clipped weights */
    double *sorted;     /* (deg) scratch of the auto radius */
    float *column;      /* (deg) scratch of the trimmed mean */
    float *mean;        /* (d) TRIM: the trimmed mean */
    uint64_t *mixed;    /* (deg) */
    uint64_t *clipped;  /* (deg) */
    double *cut;        /* (deg) */
    double *avg;        /* (deg) SHIFT: each term's running mean shift; NaN before its first */
    double *oavg;       /* (deg) ORIGIN: each neighbour's running mean origin cosine; NaN before */
    float *x0;          /* (d) ORIGIN: the initial model, every peer's */
    uint8_t *unshifted; /* (deg) SHIFT, ORIGIN, JUMP: up and not faded by them, this round */
    double *fast;       /* (deg) JUMP: running mean distance over the radius; NaN before */
    double *slow;       /* (deg) JUMP: the same, slow, held while the neighbour has jumped */
    uint64_t *seen;     /* (deg) JUMP: the rounds the running means took */
    uint64_t *jumped;   /* (deg) JUMP: 1 when the slot has jumped (as of its last round up) */
};

/* Reads a whole unsigned number >= 1 from s; 0 on success. */
static int s_count(const char *s, uint32_t *out)
{
    char *end;
    if (*s < '0' || *s > '9') return RUMOR_EINVAL;
    const unsigned long v = strtoul(s, &end, 10);
    if (*end || v < 1 || v > 1000) return RUMOR_EINVAL;
    *out = (uint32_t)v;
    return 0;
}

/* Reads clip:auto's "B", "B:R" or "B:R:M" into cfg; 0 on success. */
static int s_auto(const char *s, rumor_robust_cfg_t *cfg)
{
    char b[8];
    const char *colon = strchr(s, ':');
    const size_t n = colon ? (size_t)(colon - s) : strlen(s);
    if (n >= sizeof b) return RUMOR_EINVAL;
    memcpy(b, s, n);
    b[n] = 0;
    if (s_count(b, &cfg->f)) return RUMOR_EINVAL;
    if (!colon) return 0;
    char *end;
    cfg->reject = strtod(colon + 1, &end);
    if (end == colon + 1 || !(cfg->reject > 1.0)) return RUMOR_EINVAL;
    if (!*end) return 0;
    if (*end != ':') return RUMOR_EINVAL;
    const char *m = end + 1;
    cfg->margin = strtod(m, &end);
    if (end == m || *end || !(cfg->margin >= 1.0) || !isfinite(cfg->margin)) return RUMOR_EINVAL;
    return 0;
}

/* The suffixes of a clip:auto rule, in the order rumor_robust_describe writes them */
static const char *const s_suffix[3] = {"shift", "origin", "jump"};

/* Reads the suffixes of a clip:auto rule ("+shift", "+origin", "+jump", each at most once, in
 * any order) from s, just past the first '+', into cfg; 0 on success. */
static int s_suffixes(const char *s, rumor_robust_cfg_t *cfg)
{
    int *flag[3] = {&cfg->shift, &cfg->origin, &cfg->jump};
    for (;;) {
        const char *plus = strchr(s, '+');
        const size_t n = plus ? (size_t)(plus - s) : strlen(s);
        int k = 0;
        while (k < 3 && (strlen(s_suffix[k]) != n || strncmp(s, s_suffix[k], n))) k++;
        if (k == 3 || *flag[k]) return RUMOR_EINVAL;
        *flag[k] = 1;
        if (!plus) return 0;
        s = plus + 1;
    }
}

int rumor_robust_parse(const char *s, rumor_robust_cfg_t *cfg)
{
    rumor_robust_cfg_t c = {.kind = RUMOR_ROBUST_NONE};
    const char *plus = strchr(s, '+');
    if (plus) {
        char base[64];
        const size_t m = (size_t)(plus - s);
        if (m >= sizeof base) return RUMOR_EINVAL;
        memcpy(base, s, m);
        base[m] = 0;
        if (rumor_robust_parse(base, &c) || c.kind != RUMOR_ROBUST_CLIP_AUTO ||
            s_suffixes(plus + 1, &c))
            return RUMOR_EINVAL;
        *cfg = c;
        return 0;
    }
    if (!strcmp(s, "none")) {
        *cfg = c;
        return 0;
    }
    if (!strcmp(s, "clip:auto") || !strncmp(s, "clip:auto:", 10)) {
        c.kind = RUMOR_ROBUST_CLIP_AUTO;
        c.f = 1;
        c.reject = RUMOR_ROBUST_REJECT;
        c.margin = RUMOR_ROBUST_MARGIN;
        if (s[9] && s_auto(s + 10, &c)) return RUMOR_EINVAL;
    } else if (!strncmp(s, "clip:", 5)) {
        char *end;
        c.kind = RUMOR_ROBUST_CLIP;
        c.tau = strtod(s + 5, &end);
        if (end == s + 5 || *end || !(c.tau > 0.0) || !isfinite(c.tau)) return RUMOR_EINVAL;
    } else if (!strncmp(s, "trim:", 5)) {
        c.kind = RUMOR_ROBUST_TRIM;
        if (s_count(s + 5, &c.f)) return RUMOR_EINVAL;
    } else {
        return RUMOR_EINVAL;
    }
    *cfg = c;
    return 0;
}

void rumor_robust_describe(const rumor_robust_cfg_t *cfg, char *buf, size_t cap)
{
    switch (cfg->kind) {
    case RUMOR_ROBUST_NONE:
        snprintf(buf, cap, "none");
        return;
    case RUMOR_ROBUST_CLIP:
        snprintf(buf, cap, "clip:%.17g", cfg->tau);
        return;
    case RUMOR_ROBUST_CLIP_AUTO: {
        char sfx[24] = "";
        const int flag[3] = {cfg->shift, cfg->origin, cfg->jump};
        for (int k = 0; k < 3; k++)
            if (flag[k]) {
                strcat(sfx, "+");
                strcat(sfx, s_suffix[k]);
            }
        if (cfg->margin != RUMOR_ROBUST_MARGIN)
            snprintf(buf, cap, "clip:auto:%u:%.17g:%.17g%s", cfg->f, cfg->reject, cfg->margin, sfx);
        else if (cfg->reject != RUMOR_ROBUST_REJECT)
            snprintf(buf, cap, "clip:auto:%u:%.17g%s", cfg->f, cfg->reject, sfx);
        else
            snprintf(buf, cap, "clip:auto:%u%s", cfg->f, sfx);
        return;
    }
    case RUMOR_ROBUST_TRIM:
        snprintf(buf, cap, "trim:%u", cfg->f);
        return;
    }
}

uint32_t rumor_robust_min_degree(const rumor_robust_cfg_t *cfg)
{
    switch (cfg->kind) {
    case RUMOR_ROBUST_TRIM:
        return 2 * cfg->f + 1;
    case RUMOR_ROBUST_CLIP_AUTO:
        return cfg->f + 1;
    case RUMOR_ROBUST_NONE:
    case RUMOR_ROBUST_CLIP:
        break;
    }
    return 0;
}

double rumor_robust_auto_tau(const double *dist, const uint8_t *up, uint32_t deg, uint32_t b,
                             double *scratch)
{
    uint32_t n = 0;
    for (uint32_t s = 0; s < deg; s++) {
        if (up && !up[s]) continue;
        /* insertion, descending: deg is a few dozen at most */
        uint32_t k = n++;
        for (; k > 0 && scratch[k - 1] < dist[s]; k--) scratch[k] = scratch[k - 1];
        scratch[k] = dist[s];
    }
    return n > b ? scratch[b] : 0.0;
}

uint32_t rumor_robust_clip_weights(const double *w, const double *dist, const uint8_t *up,
                                   uint32_t deg, double tau, double reject, double *w_out)
{
    uint32_t clipped = 0;
    for (uint32_t s = 0; s < deg; s++) {
        if (dist[s] <= tau) {
            w_out[s] = w[s];
            continue;
        }
        w_out[s] = w[s] * (tau / dist[s]);
        if (!isinf(reject)) { /* the fade; a NaN distance (a non-finite copy) weighs 0 too */
            const double ratio = dist[s] / tau;
            w_out[s] = ratio < reject ? w_out[s] * ((reject - ratio) / (reject - 1.0)) : 0.0;
        }
        clipped += !up || up[s];
    }
    return clipped;
}

double rumor_robust_shift(const float *y, const float *ref, uint32_t d)
{
    double sum = 0.0, sq = 0.0;
    for (uint32_t k = 0; k < d; k++) {
        const double t = (double)y[k] - (double)ref[k];
        sum += t;
        sq += t * t;
    }
    return sq > 0.0 ? sum / sqrt(sq * (double)d) : 0.0;
}

/* A running-mean fade: a slot whose score (|avg| when magnitude, else -avg) exceeds from is
 * faded, linearly down to nothing at out and beyond. */
typedef struct {
    int magnitude;
    double from, out;
} s_fade_t;

static const s_fade_t s_shift_fade = {1, RUMOR_ROBUST_SHIFT_FROM, RUMOR_ROBUST_SHIFT_OUT},
                      s_origin_fade = {0, -RUMOR_ROBUST_ORIGIN_FROM, -RUMOR_ROBUST_ORIGIN_OUT};

static double s_score(const s_fade_t *f, double avg)
{
    return f->magnitude ? fabs(avg) : -avg;
}

/* Whether f fades a slot of running mean avg (not when avg is NaN). */
static int s_fades(const s_fade_t *f, double avg)
{
    return s_score(f, avg) > f->from;
}

/* Fades each slot s with up[s] (up NULL: all) that f fades: w_out[s] scaled by where its score
 * lies between from and out. Returns how many slots of weight above 0 were faded. */
static uint32_t s_mean_fade(const s_fade_t *f, const double *avg, const uint8_t *up, uint32_t deg,
                            double *w_out)
{
    uint32_t faded = 0;
    for (uint32_t s = 0; s < deg; s++) {
        if ((up && !up[s]) || !s_fades(f, avg[s])) continue;
        const double a = s_score(f, avg[s]);
        faded += w_out[s] > 0.0;
        w_out[s] = a < f->out ? w_out[s] * ((f->out - a) / (f->out - f->from)) : 0.0;
    }
    return faded;
}

uint32_t rumor_robust_shift_fade(const double *avg, const uint8_t *up, uint32_t deg, double *w_out)
{
    return s_mean_fade(&s_shift_fade, avg, up, deg, w_out);
}

double rumor_robust_origin(const float *y, const float *ref, const float *x0, uint32_t d)
{
    double dot = 0.0, yy = 0.0, rr = 0.0;
    for (uint32_t k = 0; k < d; k++) {
        const double a = (double)y[k] - (double)x0[k], b = (double)ref[k] - (double)x0[k];
        dot += a * b;
        yy += a * a;
        rr += b * b;
    }
    return yy > 0.0 && rr > 0.0 ? dot / sqrt(yy * rr) : 0.0;
}

uint32_t rumor_robust_origin_fade(const double *avg, const uint8_t *up, uint32_t deg, double *w_out)
{
    return s_mean_fade(&s_origin_fade, avg, up, deg, w_out);
}

void rumor_robust_trimmed_mean(const float *y, const uint8_t *up, uint32_t deg, const float *ref,
                               uint32_t d, uint32_t f, float *scratch, float *out)
{
    uint32_t n = 0;
    for (uint32_t s = 0; s < deg; s++) n += !up || up[s];
    if (n == 0) {
        rumor_vec_zero(out, d);
        return;
    }
    if (f > (n - 1) / 2) f = (n - 1) / 2;
    const double keep = (double)(n - 2 * f);
    for (uint32_t k = 0; k < d; k++) {
        uint32_t m = 0;
        for (uint32_t s = 0; s < deg; s++) {
            if (up && !up[s]) continue;
            const float v = y[(size_t)s * d + k] - ref[k];
            uint32_t at = m++;
            for (; at > 0 && scratch[at - 1] > v; at--) scratch[at] = scratch[at - 1];
            scratch[at] = v;
        }
        double sum = 0.0;
        for (uint32_t s = f; s < n - f; s++) sum += scratch[s];
        out[k] = (float)(sum / keep);
    }
}

rumor_robust_t *rumor_robust_new(const rumor_robust_cfg_t *cfg, uint32_t deg, uint32_t d,
                                 const float *x0, int *oom)
{
    if (oom) *oom = 0;
    if (cfg->kind == RUMOR_ROBUST_NONE) return NULL;
    rumor_robust_t *r = calloc(1, sizeof *r);
    const size_t n = deg ? deg : 1;
    if (r) {
        r->cfg = *cfg;
        r->deg = deg;
        r->d = d;
        r->dist = calloc(n, sizeof *r->dist);
        r->w_eff = calloc(n, sizeof *r->w_eff);
        r->sorted = calloc(n, sizeof *r->sorted);
        r->column = calloc(n, sizeof *r->column);
        r->mixed = calloc(n, sizeof *r->mixed);
        r->clipped = calloc(n, sizeof *r->clipped);
        r->cut = calloc(n, sizeof *r->cut);
        r->avg = malloc(n * sizeof *r->avg);
        r->oavg = malloc(n * sizeof *r->oavg);
        r->unshifted = calloc(n, 1);
        r->fast = malloc(n * sizeof *r->fast);
        r->slow = malloc(n * sizeof *r->slow);
        r->seen = calloc(n, sizeof *r->seen);
        r->jumped = calloc(n, sizeof *r->jumped);
        for (size_t s = 0; r->avg && r->oavg && r->fast && r->slow && s < n; s++)
            r->avg[s] = r->oavg[s] = r->fast[s] = r->slow[s] = NAN;
        if (cfg->origin || cfg->jump) r->x0 = malloc((d ? d : 1) * sizeof *r->x0);
        if (r->x0) memcpy(r->x0, x0, d * sizeof *r->x0);
        if (cfg->kind == RUMOR_ROBUST_TRIM) r->mean = calloc(d ? d : 1, sizeof *r->mean);
    }
    if (!r || !r->dist || !r->w_eff || !r->sorted || !r->column || !r->mixed || !r->clipped ||
        !r->cut || !r->avg || !r->oavg || !r->unshifted || !r->fast || !r->slow || !r->seen ||
        !r->jumped || ((cfg->origin || cfg->jump) && !r->x0) ||
        (cfg->kind == RUMOR_ROBUST_TRIM && !r->mean)) {
        rumor_robust_destroy(&r);
        if (oom) *oom = 1;
        return NULL;
    }
    return r;
}

void rumor_robust_destroy(rumor_robust_t **r_p)
{
    if (!r_p || !*r_p) return;
    rumor_robust_t *r = *r_p;
    free(r->dist);
    free(r->w_eff);
    free(r->sorted);
    free(r->column);
    free(r->mean);
    free(r->mixed);
    free(r->clipped);
    free(r->cut);
    free(r->avg);
    free(r->oavg);
    free(r->x0);
    free(r->unshifted);
    free(r->fast);
    free(r->slow);
    free(r->seen);
    free(r->jumped);
    free(r);
    *r_p = NULL;
}

/* Takes c into the running mean *avg (c itself when *avg is NaN, the first); returns it. */
static double s_running(double *avg, double c)
{
    *avg = isnan(*avg) ? c : (1.0 - RUMOR_ROBUST_RATE) * *avg + RUMOR_ROBUST_RATE * c;
    return *avg;
}

/* +jump for slot s this round: its running means take q, its distance over the radius (NaN:
 * none this round, the means stay). Returns whether it has jumped: its means armed (they took
 * RUMOR_ROBUST_JUMP_ARM rounds before this one), `lags` (its origin cosine far enough below the
 * neighbourhood's best), its fast mean beyond the radius and beyond RUMOR_ROBUST_JUMP_RATIO
 * times its slow one (RUMOR_ROBUST_JUMP_HOLD times when it had jumped the round before). The
 * slow mean, an average of its values over its first 1 / RUMOR_ROBUST_JUMP_SLOW rounds, holds
 * still while the slot has jumped. */
static int s_jump(rumor_robust_t *r, uint32_t s, double q, int lags)
{
    if (!isnan(q)) s_running(&r->fast[s], q);
    const double ratio = r->jumped[s] ? RUMOR_ROBUST_JUMP_HOLD : RUMOR_ROBUST_JUMP_RATIO;
    const int jumped = lags && r->seen[s] >= RUMOR_ROBUST_JUMP_ARM && r->fast[s] > 1.0 &&
                       r->fast[s] > ratio * r->slow[s];
    if (isnan(q)) return jumped;
    const double a = fmax(RUMOR_ROBUST_JUMP_SLOW, 1.0 / (double)(r->seen[s] + 1));
    if (!jumped) r->slow[s] = isnan(r->slow[s]) ? q : (1.0 - a) * r->slow[s] + a * q;
    r->seen[s]++;
    return jumped;
}

const double *rumor_robust_weights(rumor_robust_t *r, const float *y, const uint8_t *up,
                                   const double *w, const float *ref)
{
    RUMOR_ASSERT(r->cfg.kind == RUMOR_ROBUST_CLIP || r->cfg.kind == RUMOR_ROBUST_CLIP_AUTO);
    for (uint32_t s = 0; s < r->deg; s++)
        r->dist[s] = up[s] ? rumor_vec_nrm2_diff(y + (size_t)s * r->d, ref, r->d) : 0.0;
    /* +shift, +origin, +jump: the neighbours they fade are B's first, and leave the radius's
     * order */
    uint32_t b = r->cfg.f;
    const uint8_t *ranked = up;
    if (r->cfg.shift || r->cfg.origin || r->cfg.jump) {
        const double base =
            r->cfg.jump ? rumor_robust_auto_tau(r->dist, up, r->deg, r->cfg.f, r->sorted) : 0.0;
        double best = -INFINITY; /* the largest running mean origin cosine */
        for (uint32_t s = 0; s < r->deg; s++) {
            r->unshifted[s] = up[s];
            if (!up[s]) continue;
            const float *ys = y + (size_t)s * r->d;
            int out = 0;
            if (r->cfg.shift)
                out |= s_fades(&s_shift_fade,
                               s_running(&r->avg[s], rumor_robust_shift(ys, ref, r->d)));
            if (r->cfg.origin || r->cfg.jump) {
                const double c = s_running(&r->oavg[s], rumor_robust_origin(ys, ref, r->x0, r->d));
                out |= r->cfg.origin && s_fades(&s_origin_fade, c);
                best = fmax(best, c);
            }
            r->unshifted[s] = !out;
        }
        for (uint32_t s = 0; s < r->deg; s++) {
            if (!up[s]) continue;
            if (r->cfg.jump) {
                r->jumped[s] = s_jump(r, s, base > 0.0 ? r->dist[s] / base : NAN,
                                      r->oavg[s] < best - RUMOR_ROBUST_JUMP_GAP);
                r->unshifted[s] &= !r->jumped[s];
            }
            b -= !r->unshifted[s] && b > 0;
        }
        ranked = r->unshifted;
    }
    const double tau =
        r->cfg.kind == RUMOR_ROBUST_CLIP
            ? r->cfg.tau
            : r->cfg.margin * rumor_robust_auto_tau(r->dist, ranked, r->deg, b, r->sorted);
    rumor_robust_clip_weights(w, r->dist, up, r->deg, tau,
                              r->cfg.kind == RUMOR_ROBUST_CLIP ? INFINITY : r->cfg.reject,
                              r->w_eff);
    if (r->cfg.shift) rumor_robust_shift_fade(r->avg, up, r->deg, r->w_eff);
    if (r->cfg.origin) rumor_robust_origin_fade(r->oavg, up, r->deg, r->w_eff);
    for (uint32_t s = 0; r->cfg.jump && s < r->deg; s++)
        if (up[s] && r->jumped[s]) r->w_eff[s] = 0.0;
    for (uint32_t s = 0; s < r->deg; s++) {
        if (!up[s]) continue;
        r->mixed[s]++;
        if (!(r->dist[s] > tau) && r->w_eff[s] == w[s]) continue;
        r->clipped[s]++;
        r->cut[s] += 1.0 - r->w_eff[s] / w[s];
    }
    return r->w_eff;
}

const float *rumor_robust_trim(rumor_robust_t *r, const float *y, const uint8_t *up,
                               const float *ref)
{
    RUMOR_ASSERT(r->cfg.kind == RUMOR_ROBUST_TRIM);
    for (uint32_t s = 0; s < r->deg; s++) r->mixed[s] += up[s];
    rumor_robust_trimmed_mean(y, up, r->deg, ref, r->d, r->cfg.f, r->column, r->mean);
    return r->mean;
}

int rumor_robust_trims(const rumor_robust_t *r)
{
    return r->cfg.kind == RUMOR_ROBUST_TRIM;
}

rumor_robust_stats_t rumor_robust_stats(const rumor_robust_t *r)
{
    return (rumor_robust_stats_t){r->mixed, r->clipped, r->cut};
}

rumor_robust_state_t rumor_robust_state(rumor_robust_t *r)
{
    return (rumor_robust_state_t){r->deg,
                                  r->mixed,
                                  r->clipped,
                                  r->cut,
                                  r->cfg.shift ? r->avg : NULL,
                                  r->cfg.origin || r->cfg.jump ? r->oavg : NULL,
                                  r->cfg.jump ? r->fast : NULL,
                                  r->cfg.jump ? r->slow : NULL,
                                  r->cfg.jump ? r->seen : NULL,
                                  r->cfg.jump ? r->jumped : NULL};
}

void rumor_robust_copy_means(rumor_robust_t *dst, const rumor_robust_t *src)
{
    RUMOR_ASSERT(dst->deg == src->deg && dst->cfg.shift == src->cfg.shift &&
                 dst->cfg.origin == src->cfg.origin && dst->cfg.jump == src->cfg.jump);
    memcpy(dst->avg, src->avg, src->deg * sizeof *src->avg);
    memcpy(dst->oavg, src->oavg, src->deg * sizeof *src->oavg);
    memcpy(dst->fast, src->fast, src->deg * sizeof *src->fast);
    memcpy(dst->slow, src->slow, src->deg * sizeof *src->slow);
    memcpy(dst->seen, src->seen, src->deg * sizeof *src->seen);
    memcpy(dst->jumped, src->jumped, src->deg * sizeof *src->jumped);
}
