/* rumor — the faults of a scenario, queried by the simulator: which node is out in a round,
 * which messages a round loses, which nodes are Byzantine, and whether the faults fit a
 * topology (see scenario.h). Called per peer and round; no allocation. */
#include "rumor/scenario.h"

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
        for (uint32_t j = 0; s->faults[i].kind == RUMOR_FAULT_BYZANTINE && j < s->faults[i].n_nodes;
             j++)
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
