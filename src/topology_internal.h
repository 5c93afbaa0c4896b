/* rumor — what the three files of the topology module share; no other module includes this.
 *
 * topology.c builds and checks topologies (allocation, CSR lists, Metropolis weights, field
 * checks, validation, queries, the spectral gap and the hash); topology_json.c reads and
 * writes the JSON format; topology_gen.c generates graphs. The last two build through the
 * helpers below and hand out only topologies that pass rumor_topology_validate.
 */
#ifndef RUMOR_TOPOLOGY_INTERNAL_H
#define RUMOR_TOPOLOGY_INTERNAL_H

#include "rumor/topology.h"

#include <stddef.h>
#include <stdint.h>

#define RUMOR_TOPOLOGY_TOL 1e-9 /* row sums and symmetry */

/* A topology named `name` with n nodes (1 <= n <= RUMOR_TOPOLOGY_MAX_NODES, ids 0..n-1, no
 * endpoints or keys), room for n_edges edges, and zeroed edges, CSR lists and W. NULL when
 * out of memory. */
rumor_topology_t *rumor_topology_alloc(const char *name, uint32_t n, uint32_t n_edges);

/* Builds the CSR lists from t->edges, which must be normalised, sorted and unique. Returns 0
 * or RUMOR_ENOMEM. */
int rumor_topology_index(rumor_topology_t *t);

/* Sets W to the Metropolis-Hastings weights of t's graph (needs the CSR lists) and marks
 * them implicit. */
void rumor_topology_metropolis(rumor_topology_t *t);

/* qsort comparator of edges (uint32_t[2]) by (i, j). */
int rumor_topology_edge_cmp(const void *pa, const void *pb);

/* Smallest node not reachable from node 0 over the CSR lists, n if the graph is connected,
 * UINT32_MAX if memory runs out. */
uint32_t rumor_topology_first_unreachable(const rumor_topology_t *t);

/* Index of edge (a, b), a < b, in the sorted edge list, or -1. */
int64_t rumor_topology_edge_index(const rumor_topology_t *t, uint32_t a, uint32_t b);

/* NULL if ep is an acceptable endpoint (tcp://HOST:PORT, ipc://PATH, inproc://NAME), else
 * why not, written into why (cap bytes) and returned. */
const char *rumor_topology_endpoint_problem(const char *ep, char *why, size_t cap);

#endif
