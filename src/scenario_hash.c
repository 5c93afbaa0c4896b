/* rumor — the run-config hash of a scenario (see scenario.h): the one table of the fields that
 * peers must agree on. Called once per load or override; no allocation. */
#include "rumor/scenario.h"

#include <sodium.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

/* ---- the run-config hash ------------------------------------------------------------------
 *
 * Everything peers must agree on, in a fixed textual form hashed with BLAKE2b. Data paths are
 * left out (hosts may keep the data in different places), and so are eval_every,
 * eval_samples, target_acc and the name; the topology is hashed separately (HELLO carries
 * both). One row per field, in the order of the text. Rows of an optional group (group > 0)
 * are written only when one of the group's fields differs from the defaults, so that adding a
 * field in a new group keeps the hashes of the runs without it. */

typedef enum {
    S_H_INT,      /* an int or an enum: %d */
    S_H_U32,      /* %u */
    S_H_U64,      /* %llu */
    S_H_F64,      /* %.17g */
    S_H_STR,      /* a char array */
    S_H_ROBUST,   /* rumor_robust_cfg_t, by rumor_robust_describe; differs when its kind does */
    S_H_MOMENTUM, /* rumor_momentum_t: KIND:BETA[:MU] (%.9g); differs when its kind does */
    S_H_FAULTS,   /* n_faults, then faults[]; differs when there are any */
} s_hkind_t;

typedef struct {
    const char *text; /* written before the value */
    s_hkind_t kind;
    size_t at, size; /* the field in rumor_scenario_t */
    int group;
} s_hfield_t;

#define S_H(TEXT, KIND, FIELD, GROUP)                                                              \
    {                                                                                              \
        TEXT, KIND, offsetof(rumor_scenario_t, FIELD), sizeof(((rumor_scenario_t *)0)->FIELD),     \
            GROUP                                                                                  \
    }

static const s_hfield_t s_hash_fields[] = {
    S_H("rumor-run-config-1|data=", S_H_INT, data, 0),
    S_H("|", S_H_F64, dirichlet_alpha, 0),
    S_H("|", S_H_U32, synth_n, 0),
    S_H("|", S_H_U32, synth_test_n, 0),
    S_H("|", S_H_U32, synth_dim, 0),
    S_H("|", S_H_U32, synth_classes, 0),
    S_H("|", S_H_F64, synth_sep, 0),
    S_H("|model=", S_H_STR, model, 0),
    S_H("|algo=", S_H_INT, algo, 0),
    S_H("|", S_H_F64, lr, 0),
    S_H("|", S_H_F64, gamma, 0),
    S_H("|", S_H_F64, lambda, 0),
    S_H("|", S_H_U32, batch, 0),
    S_H("|", S_H_U32, rounds, 0),
    S_H("|", S_H_U32, warmup, 0),
    S_H("|", S_H_STR, schedule, 0),
    S_H("|", S_H_STR, compressor, 0),
    S_H("|", S_H_STR, codec, 0),
    S_H("|seed=", S_H_U64, seed, 0),
    S_H("|deadline=", S_H_INT, deadline, 0),
    S_H("|", S_H_U32, deadline_ms, 0),
    S_H("|local_steps=", S_H_U32, local_steps, 1),
    S_H("|prox=", S_H_INT, prox, 2),
    S_H(":", S_H_INT, prox_lr_base, 2),
    S_H(":", S_H_INT, gamma_follows_lr, 2),
    S_H("|marina=", S_H_F64, sync_p, 3),
    S_H(":", S_H_INT, same_batch, 3),
    S_H(":", S_H_F64, participation, 3),
    S_H("|robust=", S_H_ROBUST, robust, 4),
    S_H("|momentum=", S_H_MOMENTUM, momentum, 5),
    S_H("|faults=", S_H_FAULTS, n_faults, 6),
};

#define S_HASH_FIELDS (sizeof s_hash_fields / sizeof s_hash_fields[0])

/* The size a row of kind k must have: a table entry of the wrong type fails at once. */
static size_t s_hsize(s_hkind_t k)
{
    switch (k) {
    case S_H_INT:
        return sizeof(int);
    case S_H_U32:
    case S_H_FAULTS:
        return sizeof(uint32_t);
    case S_H_U64:
        return sizeof(uint64_t);
    case S_H_F64:
        return sizeof(double);
    case S_H_ROBUST:
        return sizeof(rumor_robust_cfg_t);
    case S_H_MOMENTUM:
        return sizeof(rumor_momentum_t);
    default:
        return 0; /* S_H_STR: any array */
    }
}

/* 1 when row f of s differs from the defaults d. */
static int s_hdiffers(const s_hfield_t *f, const rumor_scenario_t *s, const rumor_scenario_t *d)
{
    const char *a = (const char *)s + f->at, *b = (const char *)d + f->at;
    switch (f->kind) {
    case S_H_STR:
        return strcmp(a, b) != 0;
    case S_H_ROBUST:
        return ((const rumor_robust_cfg_t *)(const void *)a)->kind !=
               ((const rumor_robust_cfg_t *)(const void *)b)->kind;
    case S_H_MOMENTUM:
        return ((const rumor_momentum_t *)(const void *)a)->kind !=
               ((const rumor_momentum_t *)(const void *)b)->kind;
    case S_H_F64: {
        double x, y;
        memcpy(&x, a, sizeof x);
        memcpy(&y, b, sizeof y);
        return x != y;
    }
    default:
        return memcmp(a, b, f->size) != 0;
    }
}

/* The text being hashed. */
typedef struct {
    char buf[4096 + RUMOR_SCENARIO_FAULTS * 160];
    size_t n;
} s_htext_t;

static void s_put(s_htext_t *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void s_put(s_htext_t *t, const char *fmt, ...)
{
    if (t->n >= sizeof t->buf) return;
    va_list ap;
    va_start(ap, fmt);
    const int len = vsnprintf(t->buf + t->n, sizeof t->buf - t->n, fmt, ap);
    va_end(ap);
    t->n += len > 0 ? (size_t)len : 0;
}

/* Appends the faults of s ("KIND:NODE:RATE:FROM:TO" and what their kind adds, comma-separated). */
static void s_hfaults(s_htext_t *out, const rumor_scenario_t *s)
{
    for (uint32_t i = 0; i < s->n_faults; i++) {
        const rumor_fault_t *f = &s->faults[i];
        s_put(out, "%s%d:%u:%.17g:%u:%u", i ? "," : "", (int)f->kind, f->node, f->drop, f->from,
              f->to);
        if (f->kind == RUMOR_FAULT_CRASH) s_put(out, ":%u", f->every);
        if (f->kind == RUMOR_FAULT_DELAY)
            s_put(out, ":%u:%.17g:%.17g", f->delay, f->delay_lo, f->delay_hi);
        if (f->kind == RUMOR_FAULT_BYZANTINE)
            s_put(out, ":%d:%.17g", (int)f->byz.kind, f->byz.param);
        for (uint32_t j = 0; j < f->n_nodes; j++) s_put(out, ":%u", f->nodes[j]);
    }
}

/* Appends row f's value in s. */
static void s_hvalue(s_htext_t *out, const s_hfield_t *f, const rumor_scenario_t *s)
{
    const void *p = (const char *)s + f->at;
    int i;
    uint32_t u;
    uint64_t l;
    double x;
    switch (f->kind) {
    case S_H_INT:
        memcpy(&i, p, sizeof i);
        s_put(out, "%d", i);
        break;
    case S_H_U32:
        memcpy(&u, p, sizeof u);
        s_put(out, "%u", u);
        break;
    case S_H_U64:
        memcpy(&l, p, sizeof l);
        s_put(out, "%llu", (unsigned long long)l);
        break;
    case S_H_F64:
        memcpy(&x, p, sizeof x);
        s_put(out, "%.17g", x);
        break;
    case S_H_STR:
        s_put(out, "%s", (const char *)p);
        break;
    case S_H_ROBUST: {
        char rule[64];
        rumor_robust_describe(p, rule, sizeof rule);
        s_put(out, "%s", rule);
        break;
    }
    case S_H_MOMENTUM: {
        const rumor_momentum_t *m = p;
        s_put(out, "%d:%.9g", (int)m->kind, (double)m->beta);
        if (m->kind == RUMOR_MOMENTUM_QUASI_GLOBAL) s_put(out, ":%.9g", (double)m->mu);
        break;
    }
    case S_H_FAULTS:
        s_hfaults(out, s);
        break;
    }
}

void rumor_scenario_rehash(rumor_scenario_t *s)
{
    rumor_scenario_t d;
    rumor_scenario_defaults(&d);
    s_htext_t text = {.n = 0};
    s_htext_t *out = &text;
    int written = -1; /* the group whose rows are being written, -1 none */
    for (size_t k = 0; k < S_HASH_FIELDS; k++) {
        const s_hfield_t *f = &s_hash_fields[k];
        RUMOR_ASSERT(f->kind == S_H_STR || f->size == s_hsize(f->kind));
        if (f->group && f->group != written) {
            int differs = 0;
            for (size_t j = k; j < S_HASH_FIELDS && s_hash_fields[j].group == f->group; j++)
                differs |= s_hdiffers(&s_hash_fields[j], s, &d);
            if (!differs) {
                while (k + 1 < S_HASH_FIELDS && s_hash_fields[k + 1].group == f->group) k++;
                continue;
            }
            written = f->group;
        }
        s_put(out, "%s", f->text);
        s_hvalue(out, f, s);
    }
    RUMOR_ASSERT(text.n < sizeof text.buf); /* the buffer holds the most faults */
    crypto_generichash(s->hash, sizeof s->hash, (const unsigned char *)text.buf, text.n, NULL, 0);
}
