/* rumor — sample indices split across peers.
 *
 * A partition gives each peer its share (shard) of a dataset's sample indices: IID (a seeded
 * shuffle cut into near-equal shards) or Dirichlet(alpha) label skew. Both draw from the
 * stream (seed, 0, 0, RUMOR_RNG_PARTITION), so every peer computes the same partition from
 * the seed alone.
 */
#ifndef RUMOR_PARTITION_H
#define RUMOR_PARTITION_H

#include "rumor/data.h"

#include <stdint.h>

/* Sample indices split across peers: peer p owns idx[off[p] .. off[p+1]). */
typedef struct {
    uint32_t peers;
    uint32_t *off; /* (peers + 1) */
    uint32_t *idx; /* (ds->n) */
} rumor_partition_t;

/* IID: a seeded shuffle cut into near-equal shards. */
int rumor_data_partition_iid(const rumor_dataset_t *ds, uint32_t peers, uint64_t seed,
                             rumor_partition_t **out);

/* Label skew: for every class, proportions over peers drawn from Dirichlet(alpha); smaller
 * alpha is more skewed. Every peer gets at least one sample (an error if n < peers). */
int rumor_data_partition_dirichlet(const rumor_dataset_t *ds, uint32_t peers, double alpha,
                                   uint64_t seed, rumor_partition_t **out);

void rumor_partition_destroy(rumor_partition_t **p_p);

#endif
