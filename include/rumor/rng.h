/* rumor — seeded random streams.
 *
 * Every random draw in rumor comes from a stream named by (run seed, peer, round, purpose),
 * so a draw never depends on thread scheduling or on how many draws another component made:
 * this is what makes seeded runs reproduce bit for bit. A stream is xoshiro256** whose
 * state is derived from the name by splitmix64. State is a plain value passed explicitly;
 * there is no global generator.
 */
#ifndef RUMOR_RNG_H
#define RUMOR_RNG_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t s[4];
} rumor_rng_t;

/* Purposes, so that streams of different components never coincide. */
enum {
    RUMOR_RNG_INIT = 1,      /* model initialisation */
    RUMOR_RNG_PARTITION = 2, /* data partition */
    RUMOR_RNG_BATCH = 3,     /* minibatch sampling */
    RUMOR_RNG_COMPRESS = 4,  /* dithering and random sparsifiers */
    RUMOR_RNG_TOPOLOGY = 5,  /* random graph generators */
    RUMOR_RNG_DATA = 6,      /* synthetic data */
    RUMOR_RNG_SYNC = 7,      /* the network-wide full-sync coin of a round */
    RUMOR_RNG_SUPPORT = 8,   /* positions derived from a seed a message carries */
    RUMOR_RNG_FAULT = 9,     /* messages the simulator loses (scenario faults) */
    RUMOR_RNG_PEERS = 10,    /* which peers take part in a round (participation) */
    RUMOR_RNG_STRAGGLE = 11, /* which peers straggle in a round (scenario faults) */
    RUMOR_RNG_TEST = 99,     /* tests and benchmarks */
};

/* Initialises the stream named by (seed, peer, round, purpose). */
void rumor_rng_seed(rumor_rng_t *r, uint64_t seed, uint64_t peer, uint64_t round, uint64_t purpose);

static inline uint64_t rumor_rng_rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

/* Next 64 uniform bits. */
static inline uint64_t rumor_rng_u64(rumor_rng_t *r)
{
    uint64_t *s = r->s;
    const uint64_t out = rumor_rng_rotl(s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rumor_rng_rotl(s[3], 45);
    return out;
}

/* Uniform float in [0, 1) with 24 random bits. */
static inline float rumor_rng_uniform(rumor_rng_t *r)
{
    return (float)(rumor_rng_u64(r) >> 40) * 0x1.0p-24f;
}

/* Uniform double in [0, 1) with 53 random bits. */
static inline double rumor_rng_uniform_d(rumor_rng_t *r)
{
    return (double)(rumor_rng_u64(r) >> 11) * 0x1.0p-53;
}

/* Filling n uniforms at a time. Draw i of a stream gives out[2i] = (its top 24 bits) / 2^24
 * and out[2i + 1] = (its bits 8..31) / 2^24, so n floats take ceil(n / 2) draws. A plan splits
 * those draws into RUMOR_RNG_FILL_LANES consecutive runs of lane_draws each and holds the
 * GF(2)-linear map that advances a state by lane_draws draws (jump[i] is the image of state bit
 * i), so the runs are generated side by side from their own starting states: the output is the
 * one of drawing one by one, several times faster. Building a plan takes about a millisecond; a
 * plan is read-only afterwards and can be shared between threads. */
#define RUMOR_RNG_FILL_LANES 8

typedef struct {
    size_t n;            /* floats per fill */
    uint64_t lane_draws; /* ceil(ceil(n / 2) / RUMOR_RNG_FILL_LANES) */
    uint64_t jump[256][4];
} rumor_rng_fill_plan_t;

void rumor_rng_fill_plan_init(rumor_rng_fill_plan_t *p, size_t n);

/* Fills out[0..p->n) with uniform floats in [0, 1) as described above and leaves r as after
 * its ceil(p->n / 2) draws. */
void rumor_rng_fill_uniform(rumor_rng_t *r, const rumor_rng_fill_plan_t *p, float *out);

/* Uniform integer in [0, n), n > 0, without modulo bias. */
uint64_t rumor_rng_below(rumor_rng_t *r, uint64_t n);

/* k distinct positions of [0, d) (k <= d), uniformly at random, into idx in ascending order,
 * from seed alone: Floyd's algorithm marks them in the bitmap bits ((d + 63) / 64 words of
 * scratch), then a scan lists them. k draws and d / 64 word visits. A rand-k sender and its
 * receivers derive the same positions, so a message need carry only the seed. */
void rumor_rng_sample_positions(uint64_t seed, uint32_t d, uint32_t k, uint64_t *bits,
                                uint32_t *idx);

/* Standard normal draw (Box–Muller; no cached second value, so the stream stays simple). */
double rumor_rng_normal(rumor_rng_t *r);

/* Gamma(alpha, 1) draw, alpha > 0 (Marsaglia–Tsang). */
double rumor_rng_gamma(rumor_rng_t *r, double alpha);

/* Fisher–Yates shuffle of idx[0..n). */
void rumor_rng_shuffle(rumor_rng_t *r, uint32_t *idx, size_t n);

#endif
