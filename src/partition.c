/* rumor — sample indices split across peers (see partition.h).
 *
 * Workload: once per run, O(n) in the number of samples; all draws come from the stream
 * (seed, 0, 0, RUMOR_RNG_PARTITION), so a partition depends on the seed and the labels only.
 */
#include "rumor/partition.h"

#include "rumor/rng.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static rumor_partition_t *s_partition_new(uint32_t peers, uint32_t n)
{
    rumor_partition_t *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->peers = peers;
    p->off = malloc(((size_t)peers + 1) * sizeof *p->off);
    p->idx = malloc((size_t)n * sizeof *p->idx);
    if (!p->off || !p->idx) rumor_partition_destroy(&p);
    return p;
}

void rumor_partition_destroy(rumor_partition_t **p_p)
{
    if (!p_p || !*p_p) return;
    free((*p_p)->off);
    free((*p_p)->idx);
    free(*p_p);
    *p_p = NULL;
}

int rumor_data_partition_iid(const rumor_dataset_t *ds, uint32_t peers, uint64_t seed,
                             rumor_partition_t **out)
{
    if (!out) return RUMOR_EINVAL;
    *out = NULL;
    if (!ds || peers == 0 || ds->n < peers) return RUMOR_EINVAL;
    rumor_partition_t *p = s_partition_new(peers, ds->n);
    if (!p) return RUMOR_ENOMEM;
    for (uint32_t i = 0; i < ds->n; i++) p->idx[i] = i;
    rumor_rng_t r;
    rumor_rng_seed(&r, seed, 0, 0, RUMOR_RNG_PARTITION);
    rumor_rng_shuffle(&r, p->idx, ds->n);
    /* floor(k n / peers): consecutive cuts differ by floor or ceil of n / peers. */
    for (uint32_t k = 0; k <= peers; k++) p->off[k] = (uint32_t)((uint64_t)k * ds->n / peers);
    *out = p;
    return 0;
}

/* For every class: shuffle its samples, draw peer proportions from Dirichlet(alpha) (as
 * normalised Gamma(alpha) draws) and cut the class at the rounded cumulative proportions.
 * Peers left empty then take one sample each from the currently largest peer (its most
 * frequent class), which disturbs the skew as little as possible. All draws come from the
 * stream (seed, 0, 0, PARTITION), in class order. */
int rumor_data_partition_dirichlet(const rumor_dataset_t *ds, uint32_t peers, double alpha,
                                   uint64_t seed, rumor_partition_t **out)
{
    if (!out) return RUMOR_EINVAL;
    *out = NULL;
    if (!ds || peers == 0 || ds->n < peers || ds->classes == 0 || !(alpha > 0.0) ||
        !isfinite(alpha))
        return RUMOR_EINVAL;
    const uint32_t n = ds->n, C = ds->classes;
    for (uint32_t i = 0; i < n; i++)
        if (ds->y[i] < 0 || (uint32_t)ds->y[i] >= C) return RUMOR_EINVAL;
    if ((uint64_t)C * peers > SIZE_MAX / sizeof(uint32_t)) return RUMOR_ERANGE;

    rumor_partition_t *p = s_partition_new(peers, n);
    uint32_t *cstart = calloc((size_t)C + 1, sizeof *cstart); /* class segments of byclass */
    uint32_t *byclass = malloc((size_t)n * sizeof *byclass);
    uint32_t *count = calloc((size_t)C * peers, sizeof *count); /* (C, peers) */
    uint32_t *size = calloc(peers, sizeof *size);
    double *w = malloc((size_t)peers * sizeof *w);
    int rc = RUMOR_ENOMEM;
    if (!p || !cstart || !byclass || !count || !size || !w) goto done;

    for (uint32_t i = 0; i < n; i++) cstart[ds->y[i] + 1]++;
    for (uint32_t c = 0; c < C; c++) cstart[c + 1] += cstart[c];
    for (uint32_t i = 0; i < n; i++) byclass[cstart[ds->y[i]]++] = i;
    for (uint32_t c = C; c > 0; c--) cstart[c] = cstart[c - 1];
    cstart[0] = 0;

    rumor_rng_t r;
    rumor_rng_seed(&r, seed, 0, 0, RUMOR_RNG_PARTITION);
    for (uint32_t c = 0; c < C; c++) {
        const uint32_t nc = cstart[c + 1] - cstart[c];
        rumor_rng_shuffle(&r, byclass + cstart[c], nc);
        double sum = 0.0;
        for (uint32_t k = 0; k < peers; k++) sum += w[k] = rumor_rng_gamma(&r, alpha);
        uint32_t *cnt = count + (size_t)c * peers;
        if (!(sum > 0.0)) {
            /* Every draw underflowed (alpha far below 1): the limit is one peer. */
            cnt[rumor_rng_below(&r, peers)] = nc;
            continue;
        }
        double cum = 0.0;
        uint32_t prev = 0;
        for (uint32_t k = 0; k < peers; k++) {
            cum += w[k];
            uint32_t cut = k + 1 == peers ? nc : (uint32_t)floor(nc * (cum / sum) + 0.5);
            if (cut > nc) cut = nc;
            if (cut < prev) cut = prev;
            cnt[k] = cut - prev;
            prev = cut;
        }
    }
    for (uint32_t c = 0; c < C; c++)
        for (uint32_t k = 0; k < peers; k++) size[k] += count[(size_t)c * peers + k];
    for (uint32_t k = 0; k < peers; k++) {
        if (size[k] > 0) continue;
        uint32_t big = 0;
        for (uint32_t q = 1; q < peers; q++)
            if (size[q] > size[big]) big = q;
        RUMOR_ASSERT(size[big] >= 2); /* n >= peers and peer k is empty */
        uint32_t cls = 0;
        for (uint32_t c = 1; c < C; c++)
            if (count[(size_t)c * peers + big] > count[(size_t)cls * peers + big]) cls = c;
        count[(size_t)cls * peers + big]--;
        count[(size_t)cls * peers + k]++;
        size[big]--;
        size[k]++;
    }

    p->off[0] = 0;
    for (uint32_t k = 0; k < peers; k++) p->off[k + 1] = p->off[k] + size[k];
    RUMOR_ASSERT(p->off[peers] == n);
    uint32_t pos = 0;
    for (uint32_t k = 0; k < peers; k++)
        for (uint32_t c = 0; c < C; c++) {
            const uint32_t m = count[(size_t)c * peers + k];
            memcpy(p->idx + pos, byclass + cstart[c], m * sizeof *p->idx);
            cstart[c] += m;
            pos += m;
        }
    rc = 0;
done:
    free(cstart);
    free(byclass);
    free(count);
    free(size);
    free(w);
    if (rc)
        rumor_partition_destroy(&p);
    else
        *out = p;
    return rc;
}
