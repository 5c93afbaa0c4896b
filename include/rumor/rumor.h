/* rumor — librumor's public API: gossip for a model that the caller owns and trains.
 *
 * This is the one header a program includes (`#include <rumor/rumor.h>`, `pkg-config
 * --cflags --libs rumor`). The caller keeps D float32 parameters in its own buffer and takes
 * its own local steps on them; rumor does the rest of a decentralized round:
 *
 *     rumor_endpoint_t *g;
 *     if (rumor_open(&g, "scenario.json", "topology.json", id, "node3.key", NULL) < 0)
 *         fprintf(stderr, "%s\n", rumor_last_error(NULL));
 *     for (t = 0; t < rounds; t++) {
 *         my_sgd_step(params);                       // the caller's local step(s)
 *         if (rumor_gossip_round(g, params) < 0) ... // compress, exchange, mix, prox
 *     }
 *     rumor_close(g);                                // says BYE to the neighbours
 *
 * The scenario (a file, or JSON text) is a rumor scenario whose "model" is "external:D":
 * its algorithm, compressor, codec, gamma, lambda, seed, rounds and deadline apply; its data
 * and learning rate do not (the caller steps). rumor_gossip_round takes the caller's
 * parameters as the round's v, sends each neighbour the compressed, entropy-coded residual
 * against this peer's public copy, waits for the neighbours' messages (every one in
 * synchronous rounds; until the deadline in deadline rounds), mixes, applies the l1 prox,
 * and writes the result back into the same buffer.
 *
 * Public copies start at zero, which holds whatever each peer starts from. Peers that share
 * a common initial model (the same seed for the initialisation, as rumor's own peers do) say
 * so with rumor_set_initial before their first step: the copies then start there, and the
 * first messages are as small as rumor sim's.
 *
 * Endpoints are independent: a process may open several (one per node of a topology with
 * inproc:// endpoints, one thread each, to simulate a graph in one program); they share one
 * ZeroMQ context. One endpoint is used by one thread at a time.
 *
 * Errors: functions that can fail return 0 or a negative code; rumor_last_error() says what
 * was wrong and where. Nothing aborts on bad input from files, peers or callers.
 */
#ifndef RUMOR_RUMOR_H
#define RUMOR_RUMOR_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RUMOR_API __attribute__((visibility("default")))

/* The API's version, the library's soname number: a program built against this header runs
 * with any librumor.so.1. */
#define RUMOR_API_VERSION 1

typedef struct rumor_endpoint rumor_endpoint_t;

/* Optional settings of rumor_open; zero (or NULL options) means the default. */
typedef struct {
    /* Directory of rumor's own checkpoint, DIR/node<I>.safetensors (public copies, round, RNG
     * positions, the last parameters): resumed from when present at open, written every
     * checkpoint_every rounds (0: only at close). */
    const char *checkpoint_dir;
    uint32_t checkpoint_every;
    /* JSON Lines metrics file (one record per eval_every rounds: bytes, resyncs, drops, per
     * edge counters, time), or NULL. */
    const char *metrics;
    /* Seconds to wait for a silent neighbour in a synchronous round (and for the handshake)
     * before giving up [300]. */
    uint32_t wait_s;
    /* Plaintext instead of CurveZMQ: only on loopback, ipc:// or inproc:// endpoints, and
     * then key may be NULL. */
    int insecure;
    uint32_t reserved[8]; /* zero */
} rumor_options_t;

/* "rumor 0.1.0". */
RUMOR_API const char *rumor_version(void);

/* Opens node `id` of the topology file (NULL: the scenario's topology): loads the scenario
 * (a file path, or JSON text when it starts with '{'), the secret key file (made by `rumor
 * keygen`; NULL only with options->insecure), binds its endpoint and connects to its
 * neighbours. The handshake happens in the first round. On failure *out is NULL and
 * rumor_last_error(NULL) says why. */
RUMOR_API int rumor_open(rumor_endpoint_t **out, const char *scenario, const char *topology,
                         uint32_t id, const char *key, const rumor_options_t *options);

/* Sets this peer's public copies, and those it keeps of its neighbours, to x0 (D floats): the
 * initial model that every peer of the run starts from, bit for bit. Only before the first
 * round, and only when all peers do it with the same x0. Returns 0 or a negative code. */
RUMOR_API int rumor_set_initial(rumor_endpoint_t *g, const float *x0);

/* One gossip round on params (D floats, in place; see the file comment). On an error the
 * parameters are left as they were. Returns 0 or a negative code. */
RUMOR_API int rumor_gossip_round(rumor_endpoint_t *g, float *params);

/* D, the number of parameters of the scenario's external:D model. */
RUMOR_API size_t rumor_dim(const rumor_endpoint_t *g);
/* Rounds completed (a resumed endpoint starts at its checkpoint's round). */
RUMOR_API uint32_t rumor_round(const rumor_endpoint_t *g);
/* The scenario's number of rounds; a round past it fails. */
RUMOR_API uint32_t rumor_rounds(const rumor_endpoint_t *g);
/* This endpoint's node id and its number of neighbours. */
RUMOR_API uint32_t rumor_id(const rumor_endpoint_t *g);
RUMOR_API uint32_t rumor_degree(const rumor_endpoint_t *g);
/* Bytes of frames sent to and received from all neighbours (headers and handshakes
 * included). */
RUMOR_API uint64_t rumor_bytes_sent(const rumor_endpoint_t *g);
RUMOR_API uint64_t rumor_bytes_recv(const rumor_endpoint_t *g);

/* Counters of the edge to one neighbour. */
typedef struct {
    uint32_t neighbour;  /* its node id */
    int down;            /* marked down (silent past the liveness timeout, deadline rounds) */
    uint64_t bytes_sent; /* frame bytes sent to it */
    uint64_t bytes_recv; /* frame bytes received from it */
    uint64_t resyncs;    /* public copies re-sent after a gap */
    uint64_t dropped;    /* its frames dropped (late, replayed, malformed, ...) */
    uint64_t reserved[4];
} rumor_edge_t;

/* Fills *out with the counters of the k-th neighbour (0 <= k < rumor_degree, ascending
 * ids). Returns 0 or a negative code. */
RUMOR_API int rumor_edge(const rumor_endpoint_t *g, uint32_t k, rumor_edge_t *out);

/* What the last failing call on g said (g = NULL: the last failing rumor_open of this
 * thread); "" when nothing failed. Valid until the next call on g. */
RUMOR_API const char *rumor_last_error(const rumor_endpoint_t *g);
/* The name of an error code ("invalid argument", "timed out", ...). */
RUMOR_API const char *rumor_error_name(int code);

/* Writes rumor's own state (public copies, round, RNG positions, the parameters of the
 * last round) to path atomically, to keep next to the caller's checkpoint of its model and
 * optimizer; rumor_load restores it, before the first round only. */
RUMOR_API int rumor_save(rumor_endpoint_t *g, const char *path);
RUMOR_API int rumor_load(rumor_endpoint_t *g, const char *path);

/* Writes the last checkpoint (with a checkpoint directory), says BYE to every neighbour,
 * answers their last requests for a moment, and frees g (NULL is fine). After a round that
 * failed, the BYE names that error instead, so that the neighbours stop or go on without this
 * peer as they would for `rumor peer`. Returns 0 or the
 * error of the checkpoint (its message: rumor_last_error(NULL)). */
RUMOR_API int rumor_close(rumor_endpoint_t *g);

#ifdef __cplusplus
}
#endif

#endif
