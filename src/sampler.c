/* rumor — minibatches from one peer's shard, epoch by epoch (see sampler.h).
 *
 * rumor_sampler_next runs every round and never allocates: the epoch's order is kept in one
 * array, reshuffled in place from the stream (seed, peer, epoch, RUMOR_RNG_BATCH) when an
 * epoch ends.
 */
#include "rumor/sampler.h"

#include "rumor/rng.h"

#include <stdlib.h>
#include <string.h>

struct rumor_sampler {
    const uint32_t *shard; /* (n), not owned */
    uint32_t n;
    uint32_t peer;
    uint64_t seed;
    uint64_t epoch;  /* epoch that perm holds */
    uint32_t offset; /* next position in perm; always < n */
    uint32_t *perm;  /* (n) the shard in this epoch's order */
};

static void s_sampler_shuffle(rumor_sampler_t *s)
{
    memcpy(s->perm, s->shard, (size_t)s->n * sizeof *s->perm);
    rumor_rng_t r;
    rumor_rng_seed(&r, s->seed, s->peer, s->epoch, RUMOR_RNG_BATCH);
    rumor_rng_shuffle(&r, s->perm, s->n);
}

int rumor_sampler_create(const uint32_t *shard, uint32_t shard_n, uint64_t seed, uint32_t peer,
                         rumor_sampler_t **out)
{
    *out = NULL;
    if (!shard || shard_n == 0) return RUMOR_EINVAL;
    rumor_sampler_t *s = calloc(1, sizeof *s);
    if (!s) return RUMOR_ENOMEM;
    s->perm = malloc((size_t)shard_n * sizeof *s->perm);
    if (!s->perm) {
        free(s);
        return RUMOR_ENOMEM;
    }
    s->shard = shard;
    s->n = shard_n;
    s->peer = peer;
    s->seed = seed;
    s_sampler_shuffle(s);
    *out = s;
    return 0;
}

void rumor_sampler_destroy(rumor_sampler_t **s_p)
{
    if (!s_p || !*s_p) return;
    free((*s_p)->perm);
    free(*s_p);
    *s_p = NULL;
}

void rumor_sampler_next(rumor_sampler_t *s, uint32_t b, uint32_t *out)
{
    for (uint32_t k = 0; k < b;) {
        uint32_t m = s->n - s->offset;
        if (m > b - k) m = b - k;
        memcpy(out + k, s->perm + s->offset, (size_t)m * sizeof *out);
        k += m;
        s->offset += m;
        if (s->offset == s->n) {
            s->epoch++;
            s->offset = 0;
            s_sampler_shuffle(s);
        }
    }
}

void rumor_sampler_get_pos(const rumor_sampler_t *s, uint64_t *epoch, uint32_t *offset)
{
    *epoch = s->epoch;
    *offset = s->offset;
}

/* An offset of n or more counts on into later epochs, so every (epoch, offset) names a
 * position and a bad checkpoint cannot make the sampler read outside its shard. */
void rumor_sampler_set_pos(rumor_sampler_t *s, uint64_t epoch, uint32_t offset)
{
    epoch += offset / s->n;
    offset %= s->n;
    s->offset = offset;
    if (epoch != s->epoch) {
        s->epoch = epoch;
        s_sampler_shuffle(s);
    }
}

uint32_t rumor_sampler_size(const rumor_sampler_t *s)
{
    return s->n;
}
