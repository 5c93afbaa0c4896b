/* rumor — the faults of a scenario (see scenario.h): the Byzantine behaviours' names and
 * parameters, and the simulator's queries: which node is out in a round, which messages a
 * round loses, who straggles, how late slow nodes are, which nodes are Byzantine, and whether the
 * faults fit a topology. Called per peer and round; no allocation. */
#include "rumor/scenario.h"

#include "rumor/rng.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- Byzantine behaviours: names, parameter keys and defaults ---- */

static const char *const s_byz_names[RUMOR_BYZ_KINDS] = {"none",     "signflip", "noise",
                                                         "constant", "alie",     "scale"};
static const char *const s_byz_keys[RUMOR_BYZ_KINDS] = {NULL, "s", "norm", "value", "z", "factor"};
static const double s_byz_default[RUMOR_BYZ_KINDS] = {0, 1, 100, 1, 1, 10};

const char *rumor_byzantine_name(rumor_byz_kind_t kind)
{
    return (unsigned)kind < RUMOR_BYZ_KINDS ? s_byz_names[kind] : "?";
}

const char *rumor_byzantine_param_key(rumor_byz_kind_t kind)
{
    return (unsigned)kind < RUMOR_BYZ_KINDS ? s_byz_keys[kind] : NULL;
}

/* The kind named by the len bytes at name; -1 if none. */
static int s_byz_kind(const char *name, size_t len)
{
    for (int k = 0; k < RUMOR_BYZ_KINDS; k++)
        if (strlen(s_byz_names[k]) == len && !strncmp(name, s_byz_names[k], len)) return k;
    return -1;
}

int rumor_byzantine_parse(const char *s, rumor_byzantine_t *b)
{
    const char *colon = strchr(s, ':');
    const int k = s_byz_kind(s, colon ? (size_t)(colon - s) : strlen(s));
    if (k < 0 || (colon && k == RUMOR_BYZ_NONE)) return RUMOR_EINVAL;
    double param = s_byz_default[k];
    if (colon) {
        char *end;
        param = strtod(colon + 1, &end);
        if (end == colon + 1 || *end || !isfinite(param)) return RUMOR_EINVAL;
    }
    *b = (rumor_byzantine_t){.kind = (rumor_byz_kind_t)k, .param = param};
    return 0;
}

/* ---- queries ---- */

static int s_fault_covers(const rumor_fault_t *f, rumor_fault_kind_t kind, uint32_t t)
{
    return f->kind == kind && t >= f->from && t < f->to;
}

int rumor_scenario_node_down(const rumor_scenario_t *s, uint32_t node, uint32_t t)
{
    for (uint32_t i = 0; i < s->n_faults; i++)
        if ((s_fault_covers(&s->faults[i], RUMOR_FAULT_DOWN, t) ||
             s_fault_covers(&s->faults[i], RUMOR_FAULT_CRASH, t)) &&
            s->faults[i].node == node)
            return 1;
    return 0;
}

double rumor_scenario_drop_rate(const rumor_scenario_t *s, uint32_t t)
{
    double kept = 1.0; /* independent losses */
    for (uint32_t i = 0; i < s->n_faults; i++)
        if (s_fault_covers(&s->faults[i], RUMOR_FAULT_DROP, t)) kept *= 1.0 - s->faults[i].drop;
    return 1.0 - kept;
}

/* 1 when node is one of f's nodes. */
static int s_lists(const rumor_fault_t *f, uint32_t node)
{
    uint32_t j = 0;
    while (j < f->n_nodes && f->nodes[j] != node) j++;
    return j < f->n_nodes;
}

/* 1 when f is a STRAGGLE fault over node (every node, or one of its list) in round t. */
static int s_straggle_covers(const rumor_fault_t *f, uint32_t node, uint32_t t)
{
    return s_fault_covers(f, RUMOR_FAULT_STRAGGLE, t) && (!f->n_nodes || s_lists(f, node));
}

const rumor_fault_t *rumor_scenario_straggler(const rumor_scenario_t *s, uint32_t node, uint32_t t)
{
    for (uint32_t i = 0; i < s->n_faults; i++) {
        const rumor_fault_t *f = &s->faults[i];
        if (!s_straggle_covers(f, node, t)) continue;
        rumor_rng_t r;
        rumor_rng_seed(&r, s->seed, (uint64_t)i << 32 | node, t, RUMOR_RNG_STRAGGLE);
        if (rumor_rng_uniform_d(&r) < f->drop) return f;
    }
    return NULL;
}

double rumor_scenario_straggle_rate(const rumor_scenario_t *s, uint32_t node, uint32_t t)
{
    double on_time = 1.0; /* independent coins */
    for (uint32_t i = 0; i < s->n_faults; i++)
        if (s_straggle_covers(&s->faults[i], node, t)) on_time *= 1.0 - s->faults[i].drop;
    return 1.0 - on_time;
}

/* The milliseconds SLOW faults add to node's step of round t; *first lowered to the first
 * round of any SLOW fault over node. */
static double s_slow_ms(const rumor_scenario_t *s, uint32_t node, uint32_t t, uint32_t *first)
{
    double ms = 0;
    for (uint32_t i = 0; i < s->n_faults; i++) {
        const rumor_fault_t *f = &s->faults[i];
        if (f->kind != RUMOR_FAULT_SLOW || !s_lists(f, node)) continue;
        if (f->from < *first) *first = f->from;
        if (t >= f->from && t < f->to) ms += f->slow_ms;
    }
    return ms;
}

double rumor_scenario_slow_lag_ms(const rumor_scenario_t *s, uint32_t node, uint32_t t,
                                  double round_ms, rumor_slow_memo_t *memo)
{
    uint32_t first = UINT32_MAX;
    (void)s_slow_ms(s, node, 0, &first);
    if (t < first) return 0;
    uint32_t r = first;
    double lag = 0;
    if (memo->valid && memo->round <= t) {
        r = memo->round + 1;
        lag = memo->lag;
    }
    for (; r <= t; r++) lag = fmax(lag - round_ms, 0) + s_slow_ms(s, node, r, &first);
    *memo = (rumor_slow_memo_t){.round = t, .valid = 1, .lag = lag};
    return lag;
}

const rumor_byzantine_t *rumor_scenario_byzantine(const rumor_scenario_t *s, uint32_t node)
{
    for (uint32_t i = 0; i < s->n_faults; i++)
        for (uint32_t j = 0; s->faults[i].kind == RUMOR_FAULT_BYZANTINE && j < s->faults[i].n_nodes;
             j++)
            if (s->faults[i].nodes[j] == node) return &s->faults[i].byz;
    return NULL;
}

int rumor_scenario_check_faults(const rumor_scenario_t *s, uint32_t n, rumor_errmsg_t *em)
{
    for (uint32_t i = 0; i < s->n_faults; i++)
        if (s->faults[i].kind == RUMOR_FAULT_BYZANTINE && s->algo == RUMOR_ALGO_BEER)
            return rumor_errmsg_set(em, RUMOR_EINVAL,
                                    "%s: faults[%u].byzantine: beer has no Byzantine mode",
                                    s->origin, i);
    for (uint32_t i = 0; i < s->n_faults; i++)
        if (s->faults[i].kind == RUMOR_FAULT_STRAGGLE && s->algo == RUMOR_ALGO_BEER)
            return rumor_errmsg_set(em, RUMOR_EINVAL,
                                    "%s: faults[%u].straggle: beer has no straggler mode (its "
                                    "tracker needs every round's gradient)",
                                    s->origin, i);
    for (uint32_t i = 0; i < s->n_faults; i++)
        if (s->faults[i].kind == RUMOR_FAULT_SLOW && !s->deadline)
            return rumor_errmsg_set(em, RUMOR_EINVAL,
                                    "%s: faults[%u].slow: deadline rounds only (round_mode "
                                    "{\"deadline_ms\": MS}); in synchronous rounds every peer "
                                    "waits for a slow one, which changes nothing but the time",
                                    s->origin, i);
    for (uint32_t i = 0; i < s->n_faults; i++)
        for (uint32_t j = 0; j < s->faults[i].n_nodes; j++)
            if (s->faults[i].nodes[j] >= n)
                return rumor_errmsg_set(
                    em, RUMOR_EINVAL,
                    "%s: faults[%u].nodes[%u]: %u is not a node of the %u-node topology", s->origin,
                    i, j, s->faults[i].nodes[j], n);
    for (uint32_t i = 0; i < s->n_faults; i++)
        if ((s->faults[i].kind == RUMOR_FAULT_DOWN || s->faults[i].kind == RUMOR_FAULT_CRASH) &&
            s->faults[i].node >= n)
            return rumor_errmsg_set(em, RUMOR_EINVAL,
                                    "%s: faults[%u].node: %u is not a node of the %u-node topology",
                                    s->origin, i, s->faults[i].node, n);
    return 0;
}
