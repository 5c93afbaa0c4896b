/* rumor — gradient coding over redundant shards (see coded.h). */
#include "rumor/coded.h"

#include "rumor/rng.h"
#include "rumor/sampler.h"
#include "rumor/vec.h"

#include <stdlib.h>

struct rumor_coded {
    uint32_t r, per;            /* held shards; rows from each per step */
    rumor_sampler_t **samplers; /* (r) one per held shard, in held order */
};

/* The holding cycle of topo into order (n nodes): the preorder of a depth-first walk from a
 * seeded start, each node's neighbours tried from a seeded rotation; a node the walk cannot
 * reach (a disconnected graph) starts a new walk, in id order. 0, or RUMOR_ENOMEM. */
static int s_cycle(const rumor_topology_t *topo, uint64_t seed, uint32_t *order)
{
    const uint32_t n = topo->n;
    uint8_t *seen = calloc(n, 1);
    uint32_t *stack = malloc(n * sizeof *stack), *next = calloc(n, sizeof *next);
    uint32_t *rot = malloc(n * sizeof *rot);
    if (!seen || !stack || !next || !rot) {
        free(seen);
        free(stack);
        free(next);
        free(rot);
        return RUMOR_ENOMEM;
    }
    rumor_rng_t r;
    rumor_rng_seed(&r, seed, 1, 0, RUMOR_RNG_PARTITION);
    const uint32_t start = (uint32_t)rumor_rng_below(&r, n);
    for (uint32_t i = 0; i < n; i++) {
        const uint32_t deg = rumor_topology_degree(topo, i);
        rot[i] = deg ? (uint32_t)rumor_rng_below(&r, deg) : 0;
    }
    uint32_t len = 0;
    for (uint32_t k = 0; k < n; k++) {
        const uint32_t root = (start + k) % n;
        if (seen[root]) continue;
        uint32_t top = 0;
        stack[top++] = root;
        seen[root] = 1;
        order[len++] = root;
        while (top) {
            const uint32_t u = stack[top - 1], deg = rumor_topology_degree(topo, u);
            if (next[u] == deg) {
                top--;
                continue;
            }
            const uint32_t v = rumor_topology_neighbors(topo, u)[(rot[u] + next[u]++) % deg];
            if (seen[v]) continue;
            seen[v] = 1;
            order[len++] = v;
            stack[top++] = v;
        }
    }
    free(seen);
    free(stack);
    free(next);
    free(rot);
    return 0;
}

int rumor_coded_holds(const rumor_topology_t *topo, uint64_t seed, uint32_t r, uint32_t self,
                      uint32_t *held)
{
    const uint32_t n = topo->n;
    if (r == 0 || r > n || self >= n) return RUMOR_EINVAL;
    uint32_t *order = malloc(n * sizeof *order);
    if (!order) return RUMOR_ENOMEM;
    const int rc = s_cycle(topo, seed, order);
    uint32_t at = 0;
    while (!rc && order[at] != self) at++;
    for (uint32_t k = 0; !rc && k < r; k++) held[k] = order[(at + k) % n];
    free(order);
    return rc;
}

int rumor_coded_create(const rumor_topology_t *topo, const rumor_partition_t *part, uint32_t r,
                       uint32_t batch, uint64_t seed, uint32_t self, rumor_coded_t **out,
                       rumor_errmsg_t *em)
{
    *out = NULL;
    if (!part)
        return rumor_errmsg_set(em, RUMOR_EINVAL,
                                "data.redundancy %u: peer %u has no partition of the training set",
                                r, self);
    if (r == 0 || r > topo->n || r > batch)
        return rumor_errmsg_set(
            em, RUMOR_EINVAL,
            "data.redundancy %u: expected 1 to the %u nodes and at most the batch %u", r, topo->n,
            batch);
    rumor_coded_t *c = calloc(1, sizeof *c);
    uint32_t *held = malloc(r * sizeof *held);
    if (!c || !held || !(c->samplers = calloc(r, sizeof *c->samplers))) goto oom;
    c->r = r;
    c->per = batch / r;
    const int rc = rumor_coded_holds(topo, seed, r, self, held);
    if (rc == RUMOR_ENOMEM) goto oom;
    for (uint32_t k = 0; k < r; k++) {
        const uint32_t j = held[k], *off = part->off;
        if (off[j + 1] == off[j]) {
            free(held);
            rumor_coded_destroy(&c);
            return rumor_errmsg_set(em, RUMOR_EINVAL,
                                    "data.redundancy %u: peer %u holds shard %u, whose rows it "
                                    "does not have",
                                    r, self, j);
        }
        /* a stream per (holder, shard): the holders of a shard draw apart */
        c->samplers[k] = rumor_sampler_new(part->idx + off[j], off[j + 1] - off[j], seed,
                                           topo->n + self * r + k);
        if (!c->samplers[k]) goto oom;
    }
    free(held);
    *out = c;
    return 0;
oom:
    free(held);
    rumor_coded_destroy(&c);
    return rumor_errmsg_set(em, RUMOR_ENOMEM, "peer %u: out of memory", self);
}

void rumor_coded_destroy(rumor_coded_t **c_p)
{
    if (!c_p || !*c_p) return;
    rumor_coded_t *c = *c_p;
    for (uint32_t k = 0; c->samplers && k < c->r; k++) rumor_sampler_destroy(&c->samplers[k]);
    free(c->samplers);
    free(c);
    *c_p = NULL;
}

uint32_t rumor_coded_batch(const rumor_coded_t *c)
{
    return c->r * c->per;
}

float rumor_coded_grad(rumor_coded_t *c, rumor_model_t *m, const rumor_dataset_t *train,
                       const float *params, uint64_t step, double p, float *grad, float *xb,
                       int32_t *yb, uint32_t *ib)
{
    for (uint32_t k = 0; k < c->r; k++) {
        const uint64_t n = rumor_sampler_size(c->samplers[k]), pos = step * c->per;
        rumor_sampler_set_pos(c->samplers[k], pos / n, (uint32_t)(pos % n));
        rumor_sampler_next(c->samplers[k], c->per, ib + (size_t)k * c->per);
    }
    const uint32_t b = rumor_coded_batch(c);
    rumor_data_gather(train, ib, b, xb, yb);
    const float loss = rumor_model_loss_grad(m, params, xb, yb, b, grad);
    rumor_vec_scale(grad, (float)(1.0 / (1.0 - p)), rumor_model_nparams(m));
    return loss;
}
