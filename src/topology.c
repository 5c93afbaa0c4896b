/* rumor — communication graphs and mixing matrices (see topology.h): construction, the CSR
 * lists, Metropolis weights, validation, queries, the spectral gap and the hash. The JSON
 * format is in topology_json.c and the generators in topology_gen.c; topology_internal.h holds
 * what the three share.
 *
 * Every rumor_topology_t handed out by this module satisfies rumor_topology_validate: ids are
 * 0..n-1, edges are normalised (i < j), sorted and unique, the CSR adjacency lists are
 * ascending and agree with the edges, the graph is connected, and W is symmetric, doubly
 * stochastic, nonnegative and zero off the graph. Files are untrusted input: every failure is
 * an error message naming the field, never an abort, and sizes are bounded
 * (RUMOR_TOPOLOGY_MAX_NODES) so a hostile file cannot make us allocate an unbounded dense W.
 *
 * Workload: topologies are built once at start-up. n is at most a few thousand and W is dense,
 * so O(n^2) checks are fine; the spectral gap (O(n^3)) is only computed on request.
 */
#include "topology_internal.h"

#include "rumor/bytes.h"
#include "rumor/keys.h"

#include <lapacke.h>
#include <sodium.h>

#include <math.h>
#include <stdbool.h>
#include <string.h>

#define S_IPC_PATH_MAX 107 /* sun_path minus the terminating NUL on Linux */

/* ---- construction -------------------------------------------------------------------- */

rumor_topology_t *rumor_topology_alloc(const char *name, uint32_t n, uint32_t n_edges)
{
    RUMOR_ASSERT(n >= 1 && n <= RUMOR_TOPOLOGY_MAX_NODES);
    rumor_topology_t *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    snprintf(t->name, sizeof t->name, "%s", name);
    t->n = n;
    t->n_edges = n_edges;
    t->nodes = calloc(n, sizeof *t->nodes);
    t->edges = calloc(n_edges ? n_edges : 1, sizeof *t->edges);
    t->adj_off = calloc((size_t)n + 1, sizeof *t->adj_off);
    t->adj = calloc(n_edges ? 2 * (size_t)n_edges : 1, sizeof *t->adj);
    t->w = calloc((size_t)n * n, sizeof *t->w);
    if (!t->nodes || !t->edges || !t->adj_off || !t->adj || !t->w) {
        rumor_topology_destroy(&t);
        return NULL;
    }
    for (uint32_t i = 0; i < n; i++) t->nodes[i].id = i;
    return t;
}

void rumor_topology_destroy(rumor_topology_t **t_p)
{
    if (!t_p || !*t_p) return;
    rumor_topology_t *t = *t_p;
    free(t->nodes);
    free(t->edges);
    free(t->adj_off);
    free(t->adj);
    free(t->w);
    free(t);
    *t_p = NULL;
}

/* Builds the CSR lists from t->edges, which must be normalised, sorted and unique. Because
 * edges are sorted by (i, j), node v first receives its smaller neighbours (from edges
 * (i, v), in ascending i) and then its larger ones (from (v, j), ascending j), so every list
 * comes out ascending without a sort. */
int rumor_topology_index(rumor_topology_t *t)
{
    const uint32_t n = t->n;
    uint32_t *cur = malloc((size_t)n * sizeof *cur);
    if (!cur) return RUMOR_ENOMEM;
    memset(t->adj_off, 0, ((size_t)n + 1) * sizeof *t->adj_off);
    for (uint32_t e = 0; e < t->n_edges; e++) {
        t->adj_off[t->edges[e][0] + 1]++;
        t->adj_off[t->edges[e][1] + 1]++;
    }
    for (uint32_t i = 0; i < n; i++) t->adj_off[i + 1] += t->adj_off[i];
    memcpy(cur, t->adj_off, (size_t)n * sizeof *cur);
    for (uint32_t e = 0; e < t->n_edges; e++) {
        const uint32_t a = t->edges[e][0], b = t->edges[e][1];
        t->adj[cur[a]++] = b;
        t->adj[cur[b]++] = a;
    }
    free(cur);
    return 0;
}

/* Sets w_ii = 1 - sum of row i's off-diagonal entries, summed in ascending neighbour order so
 * that the same off-diagonal weights always give the same bits. Metropolis rows sum to at
 * most deg/(1 + deg) off the diagonal, so w_ii > 0. */
static void s_fill_diagonal(rumor_topology_t *t)
{
    for (uint32_t i = 0; i < t->n; i++) {
        double s = 0.0;
        for (uint32_t k = t->adj_off[i]; k < t->adj_off[i + 1]; k++)
            s += t->w[(size_t)i * t->n + t->adj[k]];
        t->w[(size_t)i * t->n + i] = 1.0 - s;
    }
}

/* Metropolis-Hastings weights: w_ij = 1 / (1 + max(deg_i, deg_j)) on edges. */
void rumor_topology_metropolis(rumor_topology_t *t)
{
    const size_t n = t->n;
    memset(t->w, 0, n * n * sizeof *t->w);
    for (uint32_t e = 0; e < t->n_edges; e++) {
        const uint32_t a = t->edges[e][0], b = t->edges[e][1];
        const uint32_t da = rumor_topology_degree(t, a), db = rumor_topology_degree(t, b);
        const double w = 1.0 / (1.0 + (double)(da > db ? da : db));
        t->w[a * n + b] = w;
        t->w[b * n + a] = w;
    }
    s_fill_diagonal(t);
    t->weights_explicit = 0;
}

int rumor_topology_edge_cmp(const void *pa, const void *pb)
{
    const uint32_t *a = pa, *b = pb;
    if (a[0] != b[0]) return a[0] < b[0] ? -1 : 1;
    if (a[1] != b[1]) return a[1] < b[1] ? -1 : 1;
    return 0;
}

/* Smallest node not reachable from node 0 over the CSR lists, n if the graph is connected,
 * UINT32_MAX if memory runs out. */
uint32_t rumor_topology_first_unreachable(const rumor_topology_t *t)
{
    const uint32_t n = t->n;
    uint32_t *queue = malloc((size_t)n * sizeof *queue);
    uint8_t *seen = calloc(n, 1);
    if (!queue || !seen) {
        free(queue);
        free(seen);
        return UINT32_MAX;
    }
    uint32_t head = 0, tail = 0;
    queue[tail++] = 0;
    seen[0] = 1;
    while (head < tail) {
        const uint32_t v = queue[head++];
        for (uint32_t k = t->adj_off[v]; k < t->adj_off[v + 1]; k++) {
            const uint32_t u = t->adj[k];
            if (!seen[u]) {
                seen[u] = 1;
                queue[tail++] = u;
            }
        }
    }
    uint32_t first = n;
    for (uint32_t i = 0; i < n; i++)
        if (!seen[i]) {
            first = i;
            break;
        }
    free(queue);
    free(seen);
    return first;
}

int rumor_topology_slot(const uint32_t *nbrs, uint32_t deg, uint32_t id)
{
    uint32_t lo = 0, hi = deg;
    while (lo < hi) {
        const uint32_t mid = lo + (hi - lo) / 2;
        if (nbrs[mid] < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < deg && nbrs[lo] == id ? (int)lo : -1;
}

/* Index of edge (a, b), a < b, in the sorted edge list, or -1. */
int64_t rumor_topology_edge_index(const rumor_topology_t *t, uint32_t a, uint32_t b)
{
    uint32_t lo = 0, hi = t->n_edges;
    const uint32_t key[2] = {a, b};
    while (lo < hi) {
        const uint32_t mid = lo + (hi - lo) / 2;
        const int c = rumor_topology_edge_cmp(t->edges[mid], key);
        if (c == 0) return mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

/* ---- field checks shared by the parser and the validator ----------------------------- */

/* Returns NULL if `ep` is an acceptable endpoint, else why not (into `why`). */
const char *rumor_topology_endpoint_problem(const char *ep, char *why, size_t cap)
{
    const size_t len = strlen(ep);
    if (len >= RUMOR_ENDPOINT_MAX) {
        snprintf(why, cap, "%zu characters, over the limit of %d", len, RUMOR_ENDPOINT_MAX - 1);
        return why;
    }
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)ep[i] <= 0x20 || ep[i] == 0x7f) {
            snprintf(why, cap, "'%s' contains a space or control character", ep);
            return why;
        }
    if (strncmp(ep, "tcp://", 6) == 0) {
        const char *hostport = ep + 6;
        const char *colon = strrchr(hostport, ':');
        if (!colon || colon == hostport) {
            snprintf(why, cap, "'%s': expected tcp://HOST:PORT", ep);
            return why;
        }
        const char *p = colon + 1;
        unsigned long port = 0;
        size_t digits = 0;
        for (; *p >= '0' && *p <= '9' && digits < 6; p++, digits++)
            port = port * 10 + (unsigned long)(*p - '0');
        if (*p != '\0' || digits == 0 || port == 0 || port > 65535) {
            snprintf(why, cap, "'%s': port must be 1 to 65535", ep);
            return why;
        }
        return NULL;
    }
    if (strncmp(ep, "ipc://", 6) == 0) {
        const size_t plen = len - 6;
        if (plen == 0) {
            snprintf(why, cap, "'%s': expected ipc://PATH", ep);
            return why;
        }
        if (plen > S_IPC_PATH_MAX) {
            snprintf(why, cap, "ipc path is %zu bytes, over the %d-byte Unix socket limit", plen,
                     S_IPC_PATH_MAX);
            return why;
        }
        return NULL;
    }
    if (strncmp(ep, "inproc://", 9) == 0) {
        if (len == 9) {
            snprintf(why, cap, "'%s': expected inproc://NAME", ep);
            return why;
        }
        return NULL;
    }
    snprintf(why, cap, "'%s': expected a tcp://, ipc:// or inproc:// endpoint", ep);
    return why;
}

/* qsort comparator over pointers into one node array: by endpoint, then by position. */
static int s_node_ep_cmp(const void *pa, const void *pb)
{
    const rumor_topology_node_t *a = *(const rumor_topology_node_t *const *)pa;
    const rumor_topology_node_t *b = *(const rumor_topology_node_t *const *)pb;
    const int c = strcmp(a->endpoint, b->endpoint);
    if (c) return c;
    return a < b ? -1 : a > b;
}

/* Finds two nodes with the same non-empty endpoint (which could not both bind it): sets
 * *first < *second for the pair with the smallest `second`. Sorting is O(n log n) where a
 * pairwise scan would be O(n^2) string compares. Returns 1 if found, 0 if not, RUMOR_ENOMEM. */
static int s_duplicate_endpoint(const rumor_topology_node_t *nodes, uint32_t n, uint32_t *first,
                                uint32_t *second)
{
    const rumor_topology_node_t **p = malloc((size_t)n * sizeof *p);
    if (!p) return RUMOR_ENOMEM;
    uint32_t m = 0;
    for (uint32_t i = 0; i < n; i++)
        if (nodes[i].endpoint[0]) p[m++] = &nodes[i];
    qsort(p, m, sizeof *p, s_node_ep_cmp);
    int found = 0;
    for (uint32_t k = 1; k < m; k++) {
        /* In a run of equal endpoints positions ascend, so the run's first two elements are
         * the earliest node and the earliest clash with it. */
        if (strcmp(p[k - 1]->endpoint, p[k]->endpoint) != 0) continue;
        if (k >= 2 && strcmp(p[k - 2]->endpoint, p[k]->endpoint) == 0) continue;
        const uint32_t s = (uint32_t)(p[k] - nodes);
        if (!found || s < *second) {
            *first = (uint32_t)(p[k - 1] - nodes);
            *second = s;
            found = 1;
        }
    }
    free(p);
    return found;
}

/* ---- validation ---------------------------------------------------------------------- */

static int s_validate_nodes(const rumor_topology_t *t, const char *origin, rumor_errmsg_t *em)
{
    char why[320];
    for (uint32_t i = 0; i < t->n; i++) {
        const rumor_topology_node_t *nd = &t->nodes[i];
        if (nd->id != i)
            return rumor_errmsg_set(em, RUMOR_EFORMAT,
                                    "%s: nodes[%u].id: expected %u (ids must be 0..n-1 in order)",
                                    origin, i, i);
        if (!memchr(nd->endpoint, '\0', sizeof nd->endpoint))
            return rumor_errmsg_set(em, RUMOR_EFORMAT, "%s: nodes[%u].endpoint: not terminated",
                                    origin, i);
        if (!memchr(nd->public_key, '\0', sizeof nd->public_key))
            return rumor_errmsg_set(em, RUMOR_EFORMAT, "%s: nodes[%u].public_key: not terminated",
                                    origin, i);
        if (nd->endpoint[0] && rumor_topology_endpoint_problem(nd->endpoint, why, sizeof why))
            return rumor_errmsg_set(em, RUMOR_EFORMAT, "%s: nodes[%u].endpoint: %s", origin, i,
                                    why);
        if (nd->public_key[0] && rumor_keys_z85_problem(nd->public_key, why, sizeof why))
            return rumor_errmsg_set(em, RUMOR_EFORMAT, "%s: nodes[%u].public_key: %s", origin, i,
                                    why);
    }
    uint32_t a = 0, b = 0;
    const int dup = s_duplicate_endpoint(t->nodes, t->n, &a, &b);
    if (dup < 0) return rumor_errmsg_set(em, dup, "%s: out of memory", origin);
    if (dup)
        return rumor_errmsg_set(em, RUMOR_EFORMAT,
                                "%s: nodes[%u].endpoint: %s is already used by nodes[%u]", origin,
                                b, t->nodes[b].endpoint, a);
    return 0;
}

static int s_validate_graph(const rumor_topology_t *t, const char *origin, rumor_errmsg_t *em)
{
    const uint32_t n = t->n;
    for (uint32_t e = 0; e < t->n_edges; e++) {
        const uint32_t a = t->edges[e][0], b = t->edges[e][1];
        for (int k = 0; k < 2; k++)
            if (t->edges[e][k] >= n)
                return rumor_errmsg_set(em, RUMOR_EFORMAT,
                                        "%s: edges[%u][%d]: node %u does not exist (n = %u)",
                                        origin, e, k, t->edges[e][k], n);
        if (a == b)
            return rumor_errmsg_set(em, RUMOR_EFORMAT, "%s: edges[%u]: self-edge %u-%u", origin, e,
                                    a, b);
        if (a > b)
            return rumor_errmsg_set(em, RUMOR_EFORMAT,
                                    "%s: edges[%u]: %u-%u is not normalised (need i < j)", origin,
                                    e, a, b);
        if (e > 0) {
            const int c = rumor_topology_edge_cmp(t->edges[e - 1], t->edges[e]);
            if (c == 0)
                return rumor_errmsg_set(em, RUMOR_EFORMAT, "%s: edges[%u]: duplicate edge %u-%u",
                                        origin, e, a, b);
            if (c > 0)
                return rumor_errmsg_set(em, RUMOR_EFORMAT, "%s: edges[%u]: %u-%u is out of order",
                                        origin, e, a, b);
        }
    }
    /* The adjacency lists must be exactly the edges seen from both ends: with 2 m entries in
     * all, each naming an edge and strictly ascending within its list, every edge appears
     * exactly once from each side. */
    if (t->adj_off[0] != 0 || t->adj_off[n] != 2 * t->n_edges)
        return rumor_errmsg_set(em, RUMOR_EFORMAT, "%s: adjacency offsets disagree with edges",
                                origin);
    for (uint32_t i = 0; i < n; i++) {
        if (t->adj_off[i + 1] < t->adj_off[i] || t->adj_off[i + 1] > 2 * t->n_edges)
            return rumor_errmsg_set(em, RUMOR_EFORMAT, "%s: adjacency offsets disagree with edges",
                                    origin);
        for (uint32_t k = t->adj_off[i]; k < t->adj_off[i + 1]; k++) {
            const uint32_t j = t->adj[k];
            const bool ok = j < n && j != i && (k == t->adj_off[i] || t->adj[k - 1] < j) &&
                            rumor_topology_edge_index(t, i < j ? i : j, i < j ? j : i) >= 0;
            if (!ok)
                return rumor_errmsg_set(em, RUMOR_EFORMAT,
                                        "%s: adjacency list of node %u disagrees with edges",
                                        origin, i);
        }
    }
    const uint32_t far = rumor_topology_first_unreachable(t);
    if (far == UINT32_MAX) return rumor_errmsg_set(em, RUMOR_ENOMEM, "%s: out of memory", origin);
    if (far < n)
        return rumor_errmsg_set(em, RUMOR_EFORMAT,
                                "%s: graph is not connected (node %u unreachable from node 0)",
                                origin, far);
    return 0;
}

static int s_validate_weights(const rumor_topology_t *t, const char *origin, rumor_errmsg_t *em)
{
    const uint32_t n = t->n;
    uint8_t *nb = calloc(n, 1);
    if (!nb) return rumor_errmsg_set(em, RUMOR_ENOMEM, "%s: out of memory", origin);
    int rc = 0;
    for (uint32_t i = 0; i < n && rc == 0; i++) {
        const double *row = t->w + (size_t)i * n;
        for (uint32_t k = t->adj_off[i]; k < t->adj_off[i + 1]; k++) nb[t->adj[k]] = 1;
        double sum = 0.0;
        for (uint32_t j = 0; j < n && rc == 0; j++) {
            const double w = row[j];
            if (!isfinite(w) || w < 0.0)
                rc = rumor_errmsg_set(em, RUMOR_EFORMAT,
                                      "%s: weights: w[%u][%u] = %g (must be finite and >= 0)",
                                      origin, i, j, w);
            else if (w != 0.0 && j != i && !nb[j])
                rc = rumor_errmsg_set(em, RUMOR_EFORMAT,
                                      "%s: weights: w[%u][%u] = %g but %u-%u is not an edge",
                                      origin, i, j, w, i, j);
            else if (fabs(w - t->w[(size_t)j * n + i]) > RUMOR_TOPOLOGY_TOL)
                rc = rumor_errmsg_set(em, RUMOR_EFORMAT,
                                      "%s: weights: w[%u][%u] = %.12g but w[%u][%u] = %.12g (W "
                                      "must be symmetric)",
                                      origin, i, j, w, j, i, t->w[(size_t)j * n + i]);
            sum += w;
        }
        if (rc == 0 && fabs(sum - 1.0) > RUMOR_TOPOLOGY_TOL)
            rc = rumor_errmsg_set(em, RUMOR_EFORMAT,
                                  "%s: weights: row %u sums to %.12g (must be 1)", origin, i, sum);
        for (uint32_t k = t->adj_off[i]; k < t->adj_off[i + 1]; k++) nb[t->adj[k]] = 0;
    }
    free(nb);
    return rc;
}

int rumor_topology_validate(const rumor_topology_t *t, const char *origin, rumor_errmsg_t *em)
{
    if (!origin) origin = "topology";
    if (!t || !t->nodes || !t->edges || !t->adj_off || !t->adj || !t->w)
        return rumor_errmsg_set(em, RUMOR_EINVAL, "%s: incomplete topology", origin);
    if (t->n == 0 || t->n > RUMOR_TOPOLOGY_MAX_NODES)
        return rumor_errmsg_set(em, RUMOR_ERANGE, "%s: n = %u (must be 1 to %d)", origin, t->n,
                                RUMOR_TOPOLOGY_MAX_NODES);
    if (!memchr(t->name, '\0', sizeof t->name))
        return rumor_errmsg_set(em, RUMOR_EFORMAT, "%s: name: not terminated", origin);
    int rc = s_validate_nodes(t, origin, em);
    if (rc == 0) rc = s_validate_graph(t, origin, em);
    if (rc == 0) rc = s_validate_weights(t, origin, em);
    return rc;
}

/* ---- queries ------------------------------------------------------------------------- */

uint32_t rumor_topology_degree(const rumor_topology_t *t, uint32_t i)
{
    RUMOR_ASSERT(i < t->n);
    return t->adj_off[i + 1] - t->adj_off[i];
}

const uint32_t *rumor_topology_neighbors(const rumor_topology_t *t, uint32_t i)
{
    RUMOR_ASSERT(i < t->n);
    return t->adj + t->adj_off[i];
}

/* Returns NAN if memory runs out or LAPACK fails to converge. For a valid W the largest
 * eigenvalue is 1 (the all-ones vector), so after dsyev's ascending sort lambda_2 is the
 * second-to-last and lambda_n the first. */
double rumor_topology_spectral_gap(const rumor_topology_t *t)
{
    RUMOR_ASSERT(t);
    const size_t n = t->n;
    if (n == 1) return 1.0;
    double *a = malloc(n * n * sizeof *a);
    double *ev = malloc(n * sizeof *ev);
    double gap = NAN;
    if (a && ev) {
        memcpy(a, t->w, n * n * sizeof *a);
        if (LAPACKE_dsyev(LAPACK_ROW_MAJOR, 'N', 'U', (lapack_int)n, a, (lapack_int)n, ev) == 0) {
            const double l2 = fabs(ev[n - 2]), ln = fabs(ev[0]);
            gap = 1.0 - (l2 > ln ? l2 : ln);
        }
    }
    free(a);
    free(ev);
    return gap;
}

/* Streams little-endian fields into BLAKE2b through a small staging buffer. */
typedef struct {
    crypto_generichash_state st;
    uint8_t buf[4096];
    size_t len;
} s_hasher_t;

static void s_hash_flush(s_hasher_t *h)
{
    crypto_generichash_update(&h->st, h->buf, h->len);
    h->len = 0;
}

static void s_hash_bytes(s_hasher_t *h, const void *p, size_t len)
{
    if (h->len + len > sizeof h->buf) s_hash_flush(h);
    if (len > sizeof h->buf) {
        crypto_generichash_update(&h->st, p, len);
        return;
    }
    memcpy(h->buf + h->len, p, len);
    h->len += len;
}

static void s_hash_u32(s_hasher_t *h, uint32_t v)
{
    uint8_t b[4];
    rumor_store32le(b, v);
    s_hash_bytes(h, b, sizeof b);
}

static void s_hash_f64(s_hasher_t *h, double d)
{
    uint64_t v;
    memcpy(&v, &d, sizeof v);
    uint8_t b[8];
    rumor_store64le(b, v);
    s_hash_bytes(h, b, sizeof b);
}

static void s_hash_str(s_hasher_t *h, const char *s, size_t cap)
{
    const size_t len = strnlen(s, cap);
    s_hash_u32(h, (uint32_t)len);
    s_hash_bytes(h, s, len);
}

/* Canonical bytes: "rumor-topology-1\0", n, n_edges, each edge (i, j), each w_ii, each edge's
 * w_ij, then each node's endpoint and key as (length, bytes); integers are u32 LE and weights
 * the IEEE-754 bits as u64 LE. W is zero elsewhere by the validation contract, so those
 * entries add nothing. The name is left out: renaming a file must not split a network. */
void rumor_topology_hash(const rumor_topology_t *t, uint8_t out[32])
{
    RUMOR_ASSERT(t && sodium_init() >= 0);
    s_hasher_t h;
    crypto_generichash_init(&h.st, NULL, 0, 32);
    h.len = 0;
    static const char tag[] = "rumor-topology-1";
    s_hash_bytes(&h, tag, sizeof tag);
    const size_t n = t->n;
    s_hash_u32(&h, t->n);
    s_hash_u32(&h, t->n_edges);
    for (uint32_t e = 0; e < t->n_edges; e++) {
        s_hash_u32(&h, t->edges[e][0]);
        s_hash_u32(&h, t->edges[e][1]);
    }
    for (size_t i = 0; i < n; i++) s_hash_f64(&h, t->w[i * n + i]);
    for (uint32_t e = 0; e < t->n_edges; e++)
        s_hash_f64(&h, t->w[(size_t)t->edges[e][0] * n + t->edges[e][1]]);
    for (size_t i = 0; i < n; i++) {
        s_hash_str(&h, t->nodes[i].endpoint, sizeof t->nodes[i].endpoint);
        s_hash_str(&h, t->nodes[i].public_key, sizeof t->nodes[i].public_key);
    }
    s_hash_flush(&h);
    crypto_generichash_final(&h.st, out, 32);
}
