/* rumor — communication graphs and mixing matrices.
 *
 * A topology is n nodes with ids 0..n-1 (each with an endpoint and, for CurveZMQ, a Z85
 * public key), an undirected edge list, and a symmetric doubly-stochastic mixing matrix W
 * with w_ij > 0 only on edges and the diagonal. Topologies are loaded from and saved to the
 * JSON format of DESIGN.md section 6, or generated (ring, torus, Erdos-Renyi, random
 * k-regular, complete, hypercube, exponential). Validation errors name the offending field
 * ("ring8.json: edges[3][1]: node 9 does not exist (n = 8)").
 * n is small (up to a few thousand); W is stored dense.
 */
#ifndef RUMOR_TOPOLOGY_H
#define RUMOR_TOPOLOGY_H

#include "rumor/err.h"
#include "rumor/keys.h"

#include <stddef.h>
#include <stdint.h>

#define RUMOR_ENDPOINT_MAX       256
#define RUMOR_TOPOLOGY_MAX_NODES 4096 /* dense W of 4096^2 doubles is 128 MiB */

typedef struct {
    uint32_t id;
    char endpoint[RUMOR_ENDPOINT_MAX];      /* "tcp://127.0.0.1:7400", "ipc://...", "" if unset */
    char public_key[RUMOR_KEY_Z85_LEN + 1]; /* Z85, "" if unset */
} rumor_topology_node_t;

typedef struct {
    char name[64];
    uint32_t n;
    rumor_topology_node_t *nodes; /* (n), nodes[i].id == i */
    uint32_t n_edges;
    uint32_t (*edges)[2]; /* (n_edges) with edges[e][0] < edges[e][1], sorted, unique */
    uint32_t *adj_off;    /* (n + 1) CSR offsets */
    uint32_t *adj;        /* (2 n_edges) neighbours of i, ascending: adj[adj_off[i]..] */
    double *w;            /* (n, n) row-major mixing matrix */
    int weights_explicit; /* 1 if W came from the file, 0 if Metropolis-Hastings */
} rumor_topology_t;

/* Loads and validates a topology file. */
RUMOR_NODISCARD int rumor_topology_load(const char *path, rumor_topology_t **out,
                                        rumor_errmsg_t *em);

/* Same from a JSON string; `origin` names the source in error messages. */
RUMOR_NODISCARD int rumor_topology_parse(const char *json, const char *origin,
                                         rumor_topology_t **out, rumor_errmsg_t *em);

/* Writes the topology as JSON (weights "metropolis" unless explicit). */
int rumor_topology_save(const rumor_topology_t *t, const char *path, rumor_errmsg_t *em);

/* Serialises to a malloc'd JSON string (caller frees). */
char *rumor_topology_to_json(const rumor_topology_t *t);

/* Generators: ring, torus, er (Erdos-Renyi with edge probability p, resampled until
 * connected), regular (random k-regular, k*n even), complete, hypercube (n a power of two;
 * i and i XOR 2^j) or exp (exponential graph: i and i + 2^j mod n, degree about 2 log2 n).
 * torus takes n = rows*cols with rows = cols = sqrt(n) unless `rows` > 0.
 * Endpoints are set to tcp://127.0.0.1:<port_base + id> when port_base > 0, otherwise left
 * empty. Weights are Metropolis-Hastings. */
typedef enum {
    RUMOR_TOPOLOGY_RING = 0,
    RUMOR_TOPOLOGY_TORUS,
    RUMOR_TOPOLOGY_ER,
    RUMOR_TOPOLOGY_REGULAR,
    RUMOR_TOPOLOGY_COMPLETE,
    RUMOR_TOPOLOGY_HYPERCUBE,
    RUMOR_TOPOLOGY_EXP,
} rumor_topology_kind_t;

/* Parses a generator's name ("ring", "torus", "er", "regular", "complete", "hypercube",
 * "exp") into *out: 0, or RUMOR_EINVAL with em saying "unknown kind 'S' (expected ...)". */
int rumor_topology_kind_parse(const char *s, rumor_topology_kind_t *out, rumor_errmsg_t *em);

/* The name rumor_topology_kind_parse takes for kind; NULL for a value outside the enum. */
const char *rumor_topology_kind_name(rumor_topology_kind_t kind);

typedef struct {
    rumor_topology_kind_t kind;
    uint32_t n;
    uint32_t rows;      /* torus only; 0 = square */
    double p;           /* er only */
    uint32_t k;         /* regular only */
    uint64_t seed;      /* er, regular */
    uint32_t port_base; /* 0 = no endpoints */
} rumor_topology_gen_t;

int rumor_topology_generate(const rumor_topology_gen_t *g, rumor_topology_t **out,
                            rumor_errmsg_t *em);

/* Checks ids, edges (no self-edges, in range, no duplicates), connectivity, and that W is
 * symmetric, doubly stochastic (to 1e-9), nonnegative and zero off the graph. */
int rumor_topology_validate(const rumor_topology_t *t, const char *origin, rumor_errmsg_t *em);

/* Spectral gap 1 - max(|lambda_2|, |lambda_n|) of W (LAPACK dsyev). */
double rumor_topology_spectral_gap(const rumor_topology_t *t);

/* Degree of node i and its neighbours (ascending). */
uint32_t rumor_topology_degree(const rumor_topology_t *t, uint32_t i);
const uint32_t *rumor_topology_neighbors(const rumor_topology_t *t, uint32_t i);

/* Index of id in nbrs[0..deg), distinct ids in ascending order (a node's neighbours as
 * rumor_topology_neighbors gives them), or -1 when id is not among them. O(log deg). */
int rumor_topology_slot(const uint32_t *nbrs, uint32_t deg, uint32_t id);

/* 32-byte BLAKE2b hash of the canonical content (n, edges, W bits, endpoints, keys), for the
 * HELLO handshake. */
void rumor_topology_hash(const rumor_topology_t *t, uint8_t out[32]);

void rumor_topology_destroy(rumor_topology_t **t_p);

#endif
