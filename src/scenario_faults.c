/* rumor — the faults of a scenario (see scenario.h): the Byzantine behaviours' names and
 * parameters, and the simulator's queries: which node is out in a round, which messages a
 * round loses, who straggles, how slow a node's step is, which nodes are Byzantine, and whether the
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

double rumor_scenario_slow_ms(const rumor_scenario_t *s, uint32_t node, uint32_t t)
{
    double ms = 0;
    for (uint32_t i = 0; i < s->n_faults; i++) {
        const rumor_fault_t *f = &s->faults[i];
        if (s_fault_covers(f, RUMOR_FAULT_SLOW, t) && s_lists(f, node)) ms += f->slow_ms;
    }
    return ms;
}

int rumor_scenario_clocked(const rumor_scenario_t *s)
{
    if (!s->deadline) return 0;
    if (s->compute_ms > 0) return 1;
    for (uint32_t i = 0; i < s->n_faults; i++)
        if (s->faults[i].kind == RUMOR_FAULT_SLOW) return 1;
    return 0;
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
    /* Per-peer clocks have no common round in which a node is out or a DIFF late by rounds. */
    for (uint32_t i = 0; i < s->n_faults && rumor_scenario_clocked(s); i++) {
        const rumor_fault_t *f = &s->faults[i];
        const char *what = f->kind == RUMOR_FAULT_DOWN                ? "down"
                           : f->kind == RUMOR_FAULT_CRASH             ? "crash"
                           : f->kind == RUMOR_FAULT_STRAGGLE          ? "straggle"
                           : f->kind == RUMOR_FAULT_DELAY && f->delay ? "delay"
                                                                      : NULL;
        if (what)
            return rumor_errmsg_set(em, RUMOR_EINVAL,
                                    "%s: faults[%u].%s: not with per-peer clocks (a SLOW fault or "
                                    "round_mode.compute_ms), where peers are in different rounds; "
                                    "those take drop, delay_ms, byzantine and slow faults",
                                    s->origin, i, what);
    }
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
