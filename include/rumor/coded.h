/* rumor — gradient coding over redundant shards (DESIGN.md section 2.5).
 *
 * With data.redundancy R every shard is held by R peers, so that the gradient of a straggler's
 * shard is still taken by others (after Li and Skoglund's 1-bit gradient coding, carried to a
 * graph as a coded local step). Peer i holds its own shard and those of the R - 1 nodes after it
 * on a cycle through every node: a depth-first walk of the graph from a seeded start, so that on
 * a ring or a torus the copies mostly travel one hop. The rows are raw data copied between
 * peers: for trusted deployments only.
 *
 * The coded local step of a peer that does not straggle (probability 1 - P) is
 *   g_i = 1 / (R (1 - P)) * sum over held shards j of g_j(x_i),
 * g_j the mean gradient on floor(batch / R) rows of shard j; a straggler's is zero. Over the
 * coin and the peers, E (1/n) sum_i g_i = (1/n) sum_j grad f_j(x): unbiased for the full
 * objective (each shard counted R times, each time weighted 1 / R). One gradient on the
 * R floor(batch / R) rows together, times 1 / (1 - P), is that sum.
 *
 * Shard j's rows of step s are positions s b .. s b + b - 1 (b = floor(batch / R)) of an
 * epoch-by-epoch shuffle of the shard, placed from the step number alone: a coded peer has no
 * sampling state to checkpoint, and a straggler's round draws nothing. Steps never allocate.
 */
#ifndef RUMOR_CODED_H
#define RUMOR_CODED_H

#include "rumor/data.h"
#include "rumor/err.h"
#include "rumor/model.h"
#include "rumor/partition.h"
#include "rumor/topology.h"

#include <stdint.h>

typedef struct rumor_coded rumor_coded_t;

/* The shards node self holds with redundancy r on topo (held has room for r): held[0] = self,
 * then the r - 1 nodes after it on the holding cycle, the same for every caller of the same
 * topology and seed. 0, RUMOR_EINVAL when r is 0 or more than the nodes, or RUMOR_ENOMEM. */
int rumor_coded_holds(const rumor_topology_t *topo, uint64_t seed, uint32_t r, uint32_t self,
                      uint32_t *held);

/* The coded steps of node self: floor(batch / r) rows of each held shard of part (its rows must
 * be there: a peer that loaded its own shard only has none of the others). part must outlive
 * it. Returns 0 with *out set, or with *out NULL and em filled RUMOR_EINVAL (part is NULL, r is
 * out of range or more than batch, a held shard is empty) or RUMOR_ENOMEM. */
int rumor_coded_create(const rumor_topology_t *topo, const rumor_partition_t *part, uint32_t r,
                       uint32_t batch, uint64_t seed, uint32_t self, rumor_coded_t **out,
                       rumor_errmsg_t *em);

/* The same, NULL on failure: for callers that need no code. */
static inline rumor_coded_t *rumor_coded_new(const rumor_topology_t *topo,
                                             const rumor_partition_t *part, uint32_t r,
                                             uint32_t batch, uint64_t seed, uint32_t self,
                                             rumor_errmsg_t *em)
{
    rumor_coded_t *c;
    return rumor_coded_create(topo, part, r, batch, seed, self, &c, em) ? NULL : c;
}
void rumor_coded_destroy(rumor_coded_t **c_p);

/* Rows per coded step: r floor(batch / r). */
uint32_t rumor_coded_batch(const rumor_coded_t *c);

/* The coded gradient of step `step` at params into grad, for a peer that straggles with
 * probability p < 1: the mean gradient over the step's rows of train (gathered into xb, yb,
 * their indices into ib, each with room for rumor_coded_batch rows) times 1 / (1 - p). Returns
 * the mean loss over those rows. */
float rumor_coded_grad(rumor_coded_t *c, rumor_model_t *m, const rumor_dataset_t *train,
                       const float *params, uint64_t step, double p, float *grad, float *xb,
                       int32_t *yb, uint32_t *ib);

#endif
