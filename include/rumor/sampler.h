/* rumor — minibatch sampling from one peer's shard.
 *
 * A sampler draws minibatches from one shard epoch by epoch without replacement, in the
 * order of the stream (seed, peer, epoch, RUMOR_RNG_BATCH), so a peer's batches never depend
 * on other peers. Drawing never allocates.
 */
#ifndef RUMOR_SAMPLER_H
#define RUMOR_SAMPLER_H

#include "rumor/err.h"

#include <stdint.h>

typedef struct rumor_sampler rumor_sampler_t;

/* shard points into a partition (not copied; must outlive the sampler). Returns 0 with *out
 * set, or with *out NULL RUMOR_EINVAL (an empty shard) or RUMOR_ENOMEM. */
int rumor_sampler_create(const uint32_t *shard, uint32_t shard_n, uint64_t seed, uint32_t peer,
                         rumor_sampler_t **out);

/* The same, NULL on failure: for callers that need no code. */
static inline rumor_sampler_t *rumor_sampler_new(const uint32_t *shard, uint32_t shard_n,
                                                 uint64_t seed, uint32_t peer)
{
    rumor_sampler_t *s;
    return rumor_sampler_create(shard, shard_n, seed, peer, &s) ? NULL : s;
}
void rumor_sampler_destroy(rumor_sampler_t **s_p);

/* Writes b sample indices to out. Walks a per-epoch shuffle of the shard; an epoch boundary
 * inside a batch continues into the next epoch's shuffle. */
void rumor_sampler_next(rumor_sampler_t *s, uint32_t b, uint32_t *out);

/* Position, for checkpoints: (epoch, offset within the epoch). Restoring reproduces the
 * same future batches. */
void rumor_sampler_get_pos(const rumor_sampler_t *s, uint64_t *epoch, uint32_t *offset);
void rumor_sampler_set_pos(rumor_sampler_t *s, uint64_t epoch, uint32_t offset);

/* Samples in the shard: offsets run from 0 to this, exclusive. */
uint32_t rumor_sampler_size(const rumor_sampler_t *s);

#endif
