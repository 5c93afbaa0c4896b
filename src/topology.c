/* rumor — communication graphs and mixing matrices (see topology.h).
 *
 * Every rumor_topology_t handed out by this file satisfies rumor_topology_validate: ids are
 * 0..n-1, edges are normalised (i < j), sorted and unique, the CSR adjacency lists are
 * ascending and agree with the edges, the graph is connected, and W is symmetric, doubly
 * stochastic, nonnegative and zero off the graph. Files are untrusted input: every failure is
 * an error message naming the field, never an abort, and sizes are bounded (S_MAX_NODES) so a
 * hostile file cannot make us allocate an unbounded dense W.
 *
 * Workload: topologies are built once at start-up. n is at most a few thousand and W is dense,
 * so O(n^2) checks are fine; the spectral gap (O(n^3)) is only computed on request.
 */
#include "rumor/topology.h"
#include "rumor/file.h"
#include "rumor/rng.h"

#include <jansson.h>
#include <lapacke.h>
#include <sodium.h>

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <string.h>

#define S_MAX_NODES     RUMOR_TOPOLOGY_MAX_NODES
#define S_TOL           1e-9 /* row sums and symmetry */
#define S_MAX_FILE      (64u << 20)
#define S_IPC_PATH_MAX  107 /* sun_path minus the terminating NUL on Linux */
#define S_GEN_MAX_TRIES 1000

static const char s_z85_chars[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                  ".-:+=^!/*?&<>()[]{}@%$#";

/* ---------------------------------------------------------------------------------------- */
/* Construction */

static rumor_topology_t *s_new(const char *name, uint32_t n, uint32_t n_edges)
{
    RUMOR_ASSERT(n >= 1 && n <= S_MAX_NODES);
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
static int s_index(rumor_topology_t *t)
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
static void s_metropolis(rumor_topology_t *t)
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

static int s_edge_cmp(const void *pa, const void *pb)
{
    const uint32_t *a = pa, *b = pb;
    if (a[0] != b[0]) return a[0] < b[0] ? -1 : 1;
    if (a[1] != b[1]) return a[1] < b[1] ? -1 : 1;
    return 0;
}

/* Smallest node not reachable from node 0 over the CSR lists, n if the graph is connected,
 * UINT32_MAX if memory runs out. */
static uint32_t s_first_unreachable(const rumor_topology_t *t)
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

/* Index of edge (a, b), a < b, in the sorted edge list, or -1. */
static int64_t s_edge_index(const rumor_topology_t *t, uint32_t a, uint32_t b)
{
    uint32_t lo = 0, hi = t->n_edges;
    const uint32_t key[2] = {a, b};
    while (lo < hi) {
        const uint32_t mid = lo + (hi - lo) / 2;
        const int c = s_edge_cmp(t->edges[mid], key);
        if (c == 0) return mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

/* ---------------------------------------------------------------------------------------- */
/* Field checks shared by the parser and the validator */

/* Returns NULL if `ep` is an acceptable endpoint, else why not (into `why`). */
static const char *s_endpoint_problem(const char *ep, char *why, size_t cap)
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

/* Returns NULL if `key` is 40 Z85 characters encoding 32 bytes, else why not. */
static const char *s_key_problem(const char *key, char *why, size_t cap)
{
    const size_t len = strlen(key);
    if (len != RUMOR_Z85_KEY_LEN) {
        snprintf(why, cap, "expected %d Z85 characters, got %zu", RUMOR_Z85_KEY_LEN, len);
        return why;
    }
    for (size_t g = 0; g < len; g += 5) {
        uint64_t v = 0;
        for (size_t k = g; k < g + 5; k++) {
            const char *pos = key[k] ? strchr(s_z85_chars, key[k]) : NULL;
            if (!pos) {
                snprintf(why, cap, "expected %d Z85 characters (character %zu, '%c', is not Z85)",
                         RUMOR_Z85_KEY_LEN, k + 1, key[k]);
                return why;
            }
            v = v * 85 + (uint64_t)(pos - s_z85_chars);
        }
        if (v > UINT32_MAX) {
            snprintf(why, cap, "characters %zu-%zu do not encode 4 bytes (not a Z85 key)", g + 1,
                     g + 5);
            return why;
        }
    }
    return NULL;
}

/* qsort comparator over pointers into one node array: by endpoint, then by position. */
static int s_node_ep_cmp(const void *pa, const void *pb)
{
    const rumor_node_t *a = *(const rumor_node_t *const *)pa;
    const rumor_node_t *b = *(const rumor_node_t *const *)pb;
    const int c = strcmp(a->endpoint, b->endpoint);
    if (c) return c;
    return a < b ? -1 : a > b;
}

/* Finds two nodes with the same non-empty endpoint (which could not both bind it): sets
 * *first < *second for the pair with the smallest `second`. Sorting is O(n log n) where a
 * pairwise scan would be O(n^2) string compares. Returns 1 if found, 0 if not, RUMOR_ENOMEM. */
static int s_duplicate_endpoint(const rumor_node_t *nodes, uint32_t n, uint32_t *first,
                                uint32_t *second)
{
    const rumor_node_t **p = malloc((size_t)n * sizeof *p);
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

/* ---------------------------------------------------------------------------------------- */
/* Validation */

static int s_validate_nodes(const rumor_topology_t *t, const char *origin, rumor_errmsg_t *em)
{
    char why[320];
    for (uint32_t i = 0; i < t->n; i++) {
        const rumor_node_t *nd = &t->nodes[i];
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
        if (nd->endpoint[0] && s_endpoint_problem(nd->endpoint, why, sizeof why))
            return rumor_errmsg_set(em, RUMOR_EFORMAT, "%s: nodes[%u].endpoint: %s", origin, i,
                                    why);
        if (nd->public_key[0] && s_key_problem(nd->public_key, why, sizeof why))
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
            const int c = s_edge_cmp(t->edges[e - 1], t->edges[e]);
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
                            s_edge_index(t, i < j ? i : j, i < j ? j : i) >= 0;
            if (!ok)
                return rumor_errmsg_set(em, RUMOR_EFORMAT,
                                        "%s: adjacency list of node %u disagrees with edges",
                                        origin, i);
        }
    }
    const uint32_t far = s_first_unreachable(t);
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
            else if (fabs(w - t->w[(size_t)j * n + i]) > S_TOL)
                rc = rumor_errmsg_set(em, RUMOR_EFORMAT,
                                      "%s: weights: w[%u][%u] = %.12g but w[%u][%u] = %.12g (W "
                                      "must be symmetric)",
                                      origin, i, j, w, j, i, t->w[(size_t)j * n + i]);
            sum += w;
        }
        if (rc == 0 && fabs(sum - 1.0) > S_TOL)
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
    if (t->n == 0 || t->n > S_MAX_NODES)
        return rumor_errmsg_set(em, RUMOR_ERANGE, "%s: n = %u (must be 1 to %d)", origin, t->n,
                                S_MAX_NODES);
    if (!memchr(t->name, '\0', sizeof t->name))
        return rumor_errmsg_set(em, RUMOR_EFORMAT, "%s: name: not terminated", origin);
    int rc = s_validate_nodes(t, origin, em);
    if (rc == 0) rc = s_validate_graph(t, origin, em);
    if (rc == 0) rc = s_validate_weights(t, origin, em);
    return rc;
}

/* ---------------------------------------------------------------------------------------- */
/* JSON parsing */

/* A file that names no topology is named after itself: "dir/ring8.json" -> "ring8". */
static void s_default_name(const char *origin, char *out, size_t cap)
{
    const char *base = strrchr(origin, '/');
    base = base ? base + 1 : origin;
    size_t len = strlen(base);
    if (len > 5 && strcmp(base + len - 5, ".json") == 0) len -= 5;
    if (len == 0 || base[0] == '<') {
        snprintf(out, cap, "topology");
        return;
    }
    snprintf(out, cap, "%.*s", (int)(len < cap - 1 ? len : cap - 1), base);
}

static int s_parse_node(json_t *jv, size_t i, rumor_node_t *nd, const char *origin,
                        rumor_errmsg_t *em)
{
    char why[320];
    if (!json_is_object(jv))
        return rumor_errmsg_set(em, RUMOR_EFORMAT,
                                "%s: nodes[%zu]: expected an object like {\"id\": %zu}", origin, i,
                                i);
    const char *key;
    json_t *val;
    json_object_foreach(jv, key, val)
    {
        if (strcmp(key, "id") && strcmp(key, "endpoint") && strcmp(key, "public_key"))
            return rumor_errmsg_set(em, RUMOR_EFORMAT,
                                    "%s: nodes[%zu]: unknown field '%s' (expected id, endpoint, "
                                    "public_key)",
                                    origin, i, key);
    }
    const json_t *jid = json_object_get(jv, "id");
    if (!jid) return rumor_errmsg_set(em, RUMOR_EFORMAT, "%s: nodes[%zu].id: missing", origin, i);
    if (!json_is_integer(jid))
        return rumor_errmsg_set(em, RUMOR_EFORMAT, "%s: nodes[%zu].id: expected an integer", origin,
                                i);
    if (json_integer_value(jid) != (json_int_t)i)
        return rumor_errmsg_set(em, RUMOR_EFORMAT,
                                "%s: nodes[%zu].id: expected %zu (ids must be 0..n-1 in order)",
                                origin, i, i);
    const json_t *jep = json_object_get(jv, "endpoint");
    if (jep) {
        if (!json_is_string(jep))
            return rumor_errmsg_set(em, RUMOR_EFORMAT, "%s: nodes[%zu].endpoint: expected a string",
                                    origin, i);
        const char *ep = json_string_value(jep);
        if (ep[0] && s_endpoint_problem(ep, why, sizeof why))
            return rumor_errmsg_set(em, RUMOR_EFORMAT, "%s: nodes[%zu].endpoint: %s", origin, i,
                                    why);
        snprintf(nd->endpoint, sizeof nd->endpoint, "%s", ep);
    }
    const json_t *jkey = json_object_get(jv, "public_key");
    if (jkey) {
        if (!json_is_string(jkey))
            return rumor_errmsg_set(em, RUMOR_EFORMAT,
                                    "%s: nodes[%zu].public_key: expected %d Z85 characters", origin,
                                    i, RUMOR_Z85_KEY_LEN);
        const char *k = json_string_value(jkey);
        if (k[0] && s_key_problem(k, why, sizeof why))
            return rumor_errmsg_set(em, RUMOR_EFORMAT, "%s: nodes[%zu].public_key: %s", origin, i,
                                    why);
        snprintf(nd->public_key, sizeof nd->public_key, "%s", k);
    }
    return 0;
}

typedef struct {
    uint32_t a, b; /* a < b */
    uint32_t idx;  /* position in the file */
} s_raw_edge_t;

static int s_raw_edge_cmp(const void *pa, const void *pb)
{
    const s_raw_edge_t *x = pa, *y = pb;
    if (x->a != y->a) return x->a < y->a ? -1 : 1;
    if (x->b != y->b) return x->b < y->b ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Reads, checks and normalises the edge list into t->edges (sorted, unique, i < j). */
static int s_parse_edges(json_t *je, rumor_topology_t *t, const char *origin, rumor_errmsg_t *em)
{
    const uint32_t m = t->n_edges;
    s_raw_edge_t *raw = malloc((m ? m : 1) * sizeof *raw);
    if (!raw) return rumor_errmsg_set(em, RUMOR_ENOMEM, "%s: out of memory", origin);
    int rc = 0;
    for (uint32_t e = 0; e < m && rc == 0; e++) {
        const json_t *pair = json_array_get(je, e);
        json_int_t v[2] = {0, 0};
        if (!json_is_array(pair) || json_array_size(pair) != 2 ||
            !json_is_integer(json_array_get(pair, 0)) ||
            !json_is_integer(json_array_get(pair, 1))) {
            rc = rumor_errmsg_set(em, RUMOR_EFORMAT,
                                  "%s: edges[%u]: expected a pair [i, j] of node ids", origin, e);
            break;
        }
        for (int k = 0; k < 2 && rc == 0; k++) {
            v[k] = json_integer_value(json_array_get(pair, (size_t)k));
            if (v[k] < 0 || v[k] >= (json_int_t)t->n)
                rc = rumor_errmsg_set(em, RUMOR_EFORMAT,
                                      "%s: edges[%u][%d]: node %lld does not exist (n = %u)",
                                      origin, e, k, (long long)v[k], t->n);
        }
        if (rc) break;
        if (v[0] == v[1]) {
            rc = rumor_errmsg_set(em, RUMOR_EFORMAT, "%s: edges[%u]: self-edge %lld-%lld", origin,
                                  e, (long long)v[0], (long long)v[1]);
            break;
        }
        raw[e].a = (uint32_t)(v[0] < v[1] ? v[0] : v[1]);
        raw[e].b = (uint32_t)(v[0] < v[1] ? v[1] : v[0]);
        raw[e].idx = e;
    }
    if (rc == 0) {
        qsort(raw, m, sizeof *raw, s_raw_edge_cmp);
        /* Report the earliest position in the file that repeats an earlier edge. */
        uint32_t dup = UINT32_MAX, da = 0, db = 0;
        for (uint32_t e = 1; e < m; e++)
            if (raw[e].a == raw[e - 1].a && raw[e].b == raw[e - 1].b && raw[e].idx < dup) {
                dup = raw[e].idx;
                da = raw[e].a;
                db = raw[e].b;
            }
        if (dup != UINT32_MAX)
            rc = rumor_errmsg_set(em, RUMOR_EFORMAT, "%s: edges[%u]: duplicate edge %u-%u", origin,
                                  dup, da, db);
    }
    for (uint32_t e = 0; e < m && rc == 0; e++) {
        t->edges[e][0] = raw[e].a;
        t->edges[e][1] = raw[e].b;
    }
    free(raw);
    return rc;
}

#define S_WEIGHTS_HINT "\"metropolis\" or a list of {\"i\": I, \"j\": J, \"w\": W} entries"

static int s_parse_index(const json_t *entry, const char *field, size_t k, uint32_t n,
                         uint32_t *out, const char *origin, rumor_errmsg_t *em)
{
    const json_t *jv = json_object_get(entry, field);
    if (!jv || !json_is_integer(jv))
        return rumor_errmsg_set(em, RUMOR_EFORMAT, "%s: weights[%zu].%s: expected a node id",
                                origin, k, field);
    const json_int_t v = json_integer_value(jv);
    if (v < 0 || v >= (json_int_t)n)
        return rumor_errmsg_set(em, RUMOR_EFORMAT,
                                "%s: weights[%zu].%s: node %lld does not exist (n = %u)", origin, k,
                                field, (long long)v, n);
    *out = (uint32_t)v;
    return 0;
}

/* Explicit weights: each edge's w_ij once (both orientations allowed if they agree), optional
 * diagonal entries that must agree with 1 - (row's off-diagonal sum). */
static int s_parse_explicit(json_t *jw, rumor_topology_t *t, const char *origin, rumor_errmsg_t *em)
{
    const uint32_t n = t->n, m = t->n_edges;
    uint32_t *edge_at = malloc((m ? m : 1) * sizeof *edge_at); /* entry that set the edge */
    uint32_t *diag_at = malloc((size_t)n * sizeof *diag_at);
    if (!edge_at || !diag_at) {
        free(edge_at);
        free(diag_at);
        return rumor_errmsg_set(em, RUMOR_ENOMEM, "%s: out of memory", origin);
    }
    for (uint32_t e = 0; e < m; e++) edge_at[e] = UINT32_MAX;
    for (uint32_t i = 0; i < n; i++) diag_at[i] = UINT32_MAX;
    memset(t->w, 0, (size_t)n * n * sizeof *t->w);
    int rc = 0;
    const size_t count = json_array_size(jw);
    for (size_t k = 0; k < count && rc == 0; k++) {
        json_t *entry = json_array_get(jw, k);
        if (!json_is_object(entry)) {
            rc = rumor_errmsg_set(em, RUMOR_EFORMAT,
                                  "%s: weights[%zu]: expected an object {\"i\": I, \"j\": J, "
                                  "\"w\": W}",
                                  origin, k);
            break;
        }
        const char *key;
        json_t *val;
        json_object_foreach(entry, key, val)
        {
            if (rc == 0 && strcmp(key, "i") && strcmp(key, "j") && strcmp(key, "w"))
                rc = rumor_errmsg_set(em, RUMOR_EFORMAT,
                                      "%s: weights[%zu]: unknown field '%s' (expected i, j, w)",
                                      origin, k, key);
        }
        uint32_t i = 0, j = 0;
        if (rc == 0) rc = s_parse_index(entry, "i", k, n, &i, origin, em);
        if (rc == 0) rc = s_parse_index(entry, "j", k, n, &j, origin, em);
        if (rc) break;
        const json_t *jwv = json_object_get(entry, "w");
        if (!jwv || !json_is_number(jwv)) {
            rc = rumor_errmsg_set(em, RUMOR_EFORMAT, "%s: weights[%zu].w: expected a number",
                                  origin, k);
            break;
        }
        double w = json_number_value(jwv);
        if (!isfinite(w) || w < 0.0) {
            rc = rumor_errmsg_set(em, RUMOR_EFORMAT,
                                  "%s: weights[%zu].w: %g (must be finite and >= 0)", origin, k, w);
            break;
        }
        if (w == 0.0) w = 0.0; /* -0 would hash differently from the 0 it saves as */
        uint32_t *at;
        if (i == j) {
            at = &diag_at[i];
        } else {
            const uint32_t a = i < j ? i : j, b = i < j ? j : i;
            const int64_t e = s_edge_index(t, a, b);
            if (e < 0) {
                rc = rumor_errmsg_set(em, RUMOR_EFORMAT, "%s: weights[%zu]: (%u,%u) is not an edge",
                                      origin, k, i, j);
                break;
            }
            at = &edge_at[e];
        }
        /* A pair listed again (say as (j,i) by a full-matrix export) must agree with the
         * first listing to the validation tolerance; the first value is kept. */
        double *wij = &t->w[(size_t)i * n + j];
        if (*at != UINT32_MAX) {
            if (fabs(*wij - w) > S_TOL) {
                rc = rumor_errmsg_set(em, RUMOR_EFORMAT,
                                      "%s: weights[%zu]: (%u,%u) = %.12g but weights[%u] gave "
                                      "%.12g%s",
                                      origin, k, i, j, w, *at, *wij,
                                      i == j ? "" : " (W must be symmetric)");
                break;
            }
            continue;
        }
        *at = (uint32_t)k;
        *wij = w;
        t->w[(size_t)j * n + i] = w;
    }
    for (uint32_t e = 0; e < m && rc == 0; e++)
        if (edge_at[e] == UINT32_MAX)
            rc = rumor_errmsg_set(em, RUMOR_EFORMAT,
                                  "%s: weights: edge %u-%u has no weight (list each edge once)",
                                  origin, t->edges[e][0], t->edges[e][1]);
    for (uint32_t i = 0; i < n && rc == 0; i++) {
        double off = 0.0;
        for (uint32_t q = t->adj_off[i]; q < t->adj_off[i + 1]; q++)
            off += t->w[(size_t)i * n + t->adj[q]];
        double *wii = &t->w[(size_t)i * n + i];
        if (diag_at[i] != UINT32_MAX) {
            if (fabs(*wii + off - 1.0) > S_TOL)
                rc = rumor_errmsg_set(em, RUMOR_EFORMAT,
                                      "%s: weights: row %u sums to %.12g (must be 1)", origin, i,
                                      *wii + off);
        } else if (off > 1.0 + S_TOL) {
            rc = rumor_errmsg_set(em, RUMOR_EFORMAT,
                                  "%s: weights: row %u sums to %.12g (must be 1)", origin, i, off);
        } else {
            *wii = off > 1.0 ? 0.0 : 1.0 - off;
        }
    }
    free(edge_at);
    free(diag_at);
    t->weights_explicit = 1;
    return rc;
}

static int s_parse_weights(json_t *jw, rumor_topology_t *t, const char *origin, rumor_errmsg_t *em)
{
    if (!jw) {
        s_metropolis(t);
        return 0;
    }
    if (json_is_string(jw)) {
        if (strcmp(json_string_value(jw), "metropolis") == 0) {
            s_metropolis(t);
            return 0;
        }
        return rumor_errmsg_set(em, RUMOR_EFORMAT, "%s: weights: unknown scheme '%s' (expected %s)",
                                origin, json_string_value(jw), S_WEIGHTS_HINT);
    }
    if (!json_is_array(jw))
        return rumor_errmsg_set(em, RUMOR_EFORMAT, "%s: weights: expected %s", origin,
                                S_WEIGHTS_HINT);
    return s_parse_explicit(jw, t, origin, em);
}

static int s_parse_root(json_t *root, const char *origin, rumor_topology_t **out,
                        rumor_errmsg_t *em)
{
    if (!json_is_object(root))
        return rumor_errmsg_set(em, RUMOR_EFORMAT,
                                "%s: expected an object {\"name\", \"nodes\", \"edges\", "
                                "\"weights\"} at the top level",
                                origin);
    const char *key;
    json_t *val;
    json_object_foreach(root, key, val)
    {
        if (strcmp(key, "name") && strcmp(key, "nodes") && strcmp(key, "edges") &&
            strcmp(key, "weights"))
            return rumor_errmsg_set(em, RUMOR_EFORMAT,
                                    "%s: unknown field '%s' (expected name, nodes, edges, weights)",
                                    origin, key);
    }
    char name[sizeof(((rumor_topology_t *)0)->name)];
    const json_t *jname = json_object_get(root, "name");
    if (jname) {
        if (!json_is_string(jname) || json_string_length(jname) == 0 ||
            json_string_length(jname) >= sizeof name)
            return rumor_errmsg_set(em, RUMOR_EFORMAT,
                                    "%s: name: expected a string of 1 to %zu characters", origin,
                                    sizeof name - 1);
        snprintf(name, sizeof name, "%s", json_string_value(jname));
    } else {
        s_default_name(origin, name, sizeof name);
    }

    json_t *jnodes = json_object_get(root, "nodes");
    if (!jnodes)
        return rumor_errmsg_set(em, RUMOR_EFORMAT,
                                "%s: nodes: missing (expected a list of {\"id\": I} objects)",
                                origin);
    if (!json_is_array(jnodes))
        return rumor_errmsg_set(em, RUMOR_EFORMAT,
                                "%s: nodes: expected a list of {\"id\": I} objects", origin);
    const size_t n = json_array_size(jnodes);
    if (n == 0)
        return rumor_errmsg_set(em, RUMOR_EFORMAT, "%s: nodes: empty (need at least one node)",
                                origin);
    if (n > S_MAX_NODES)
        return rumor_errmsg_set(em, RUMOR_ERANGE, "%s: nodes: %zu nodes, over the limit of %d",
                                origin, n, S_MAX_NODES);

    json_t *jedges = json_object_get(root, "edges");
    if (!jedges || !json_is_array(jedges))
        return rumor_errmsg_set(em, RUMOR_EFORMAT, "%s: edges: %s", origin,
                                jedges ? "expected a list of [i, j] pairs"
                                       : "missing (expected a list of [i, j] pairs)");
    const size_t m = json_array_size(jedges);
    /* More edges than node pairs must contain a duplicate; they are still read (and the
     * duplicate reported by position) as long as the count is plausible for the input. */
    if (m > (size_t)n * (n - 1) / 2 + 1024 || m > UINT32_MAX / 2)
        return rumor_errmsg_set(em, RUMOR_ERANGE,
                                "%s: edges: %zu edges but %zu nodes have only %zu pairs", origin, m,
                                n, n * (n - 1) / 2);

    rumor_topology_t *t = s_new(name, (uint32_t)n, (uint32_t)m);
    if (!t) return rumor_errmsg_set(em, RUMOR_ENOMEM, "%s: out of memory", origin);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = s_parse_node(json_array_get(jnodes, i), i, &t->nodes[i], origin, em);
    if (rc == 0) rc = s_parse_edges(jedges, t, origin, em);
    if (rc == 0 && s_index(t) != 0)
        rc = rumor_errmsg_set(em, RUMOR_ENOMEM, "%s: out of memory", origin);
    if (rc == 0) {
        const uint32_t far = s_first_unreachable(t);
        if (far == UINT32_MAX)
            rc = rumor_errmsg_set(em, RUMOR_ENOMEM, "%s: out of memory", origin);
        else if (far < n)
            rc = rumor_errmsg_set(em, RUMOR_EFORMAT,
                                  "%s: graph is not connected (node %u unreachable from node 0)",
                                  origin, far);
    }
    if (rc == 0) rc = s_parse_weights(json_object_get(root, "weights"), t, origin, em);
    if (rc)
        rumor_topology_destroy(&t);
    else
        *out = t;
    return rc;
}

int rumor_topology_parse(const char *json, const char *origin, rumor_topology_t **out,
                         rumor_errmsg_t *em)
{
    if (!origin) origin = "<string>";
    if (!out) return rumor_errmsg_set(em, RUMOR_EINVAL, "%s: no output given", origin);
    *out = NULL;
    if (!json) return rumor_errmsg_set(em, RUMOR_EINVAL, "%s: no JSON text given", origin);
    json_error_t jerr;
    json_t *root = json_loads(json, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return rumor_errmsg_set(em, RUMOR_EFORMAT, "%s: line %d, column %d: %s", origin, jerr.line,
                                jerr.column, jerr.text);
    rumor_topology_t *t = NULL;
    int rc = s_parse_root(root, origin, &t, em);
    json_decref(root);
    /* The parser checked each field as it read it; the full validation is the same contract
     * every topology meets, so a parser slip cannot hand out an inconsistent one. */
    if (rc == 0) rc = rumor_topology_validate(t, origin, em);
    if (rc)
        rumor_topology_destroy(&t);
    else
        *out = t;
    return rc;
}

int rumor_topology_load(const char *path, rumor_topology_t **out, rumor_errmsg_t *em)
{
    if (!out) return rumor_errmsg_set(em, RUMOR_EINVAL, "topology: no output given");
    *out = NULL;
    if (!path) return rumor_errmsg_set(em, RUMOR_EINVAL, "topology: no path given");
    FILE *f = fopen(path, "rb");
    if (!f) return rumor_errmsg_set(em, RUMOR_EIO, "%s: %s", path, strerror(errno));
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    int rc = buf ? 0 : rumor_errmsg_set(em, RUMOR_ENOMEM, "%s: out of memory", path);
    while (rc == 0) {
        if (len + 1 >= cap) {
            if (cap >= S_MAX_FILE) {
                rc = rumor_errmsg_set(em, RUMOR_ERANGE, "%s: larger than %u MiB", path,
                                      S_MAX_FILE >> 20);
                break;
            }
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                rc = rumor_errmsg_set(em, RUMOR_ENOMEM, "%s: out of memory", path);
                break;
            }
            buf = nb;
            cap *= 2;
        }
        const size_t got = fread(buf + len, 1, cap - 1 - len, f);
        len += got;
        if (got == 0) {
            if (ferror(f)) rc = rumor_errmsg_set(em, RUMOR_EIO, "%s: %s", path, strerror(errno));
            break;
        }
    }
    fclose(f);
    if (rc == 0) {
        buf[len] = '\0';
        if (memchr(buf, '\0', len))
            rc = rumor_errmsg_set(em, RUMOR_EFORMAT, "%s: contains a NUL byte (not a JSON file)",
                                  path);
        else
            rc = rumor_topology_parse(buf, path, out, em);
    }
    free(buf);
    return rc;
}

/* ---------------------------------------------------------------------------------------- */
/* Writing */

typedef struct {
    char *p;
    size_t len, cap;
    int oom;
} s_buf_t;

static void s_buf_printf(s_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void s_buf_printf(s_buf_t *b, const char *fmt, ...)
{
    if (b->oom) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        const int need = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        RUMOR_ASSERT(need >= 0);
        if ((size_t)need < b->cap - b->len) {
            b->len += (size_t)need;
            return;
        }
        const size_t cap = (b->cap + (size_t)need + 1) * 2;
        char *np = realloc(b->p, cap);
        if (!np) {
            b->oom = 1;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
}

/* Appends `s` as a JSON string literal. */
static void s_buf_json_str(s_buf_t *b, const char *s)
{
    s_buf_printf(b, "\"");
    for (; *s; s++) {
        const unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            s_buf_printf(b, "\\%c", c);
        else if (c < 0x20)
            s_buf_printf(b, "\\u%04x", c);
        else
            s_buf_printf(b, "%c", c);
    }
    s_buf_printf(b, "\"");
}

/* One node per line and several edges per line, so that files stay readable and diffable;
 * weights are printed with 17 significant digits, which reads back to the same bits. */
char *rumor_topology_to_json(const rumor_topology_t *t)
{
    if (!t) return NULL;
    s_buf_t b = {.p = malloc(4096), .cap = 4096};
    if (!b.p) return NULL;
    b.p[0] = '\0';
    s_buf_printf(&b, "{\n  \"name\": ");
    s_buf_json_str(&b, t->name);
    s_buf_printf(&b, ",\n  \"nodes\": [\n");
    for (uint32_t i = 0; i < t->n; i++) {
        const rumor_node_t *nd = &t->nodes[i];
        s_buf_printf(&b, "    {\"id\": %u", nd->id);
        if (nd->endpoint[0]) {
            s_buf_printf(&b, ", \"endpoint\": ");
            s_buf_json_str(&b, nd->endpoint);
        }
        if (nd->public_key[0]) {
            s_buf_printf(&b, ", \"public_key\": ");
            s_buf_json_str(&b, nd->public_key);
        }
        s_buf_printf(&b, "}%s\n", i + 1 < t->n ? "," : "");
    }
    s_buf_printf(&b, "  ],\n  \"edges\": [");
    for (uint32_t e = 0; e < t->n_edges; e++)
        s_buf_printf(&b, "%s[%u, %u]", e == 0 ? "\n    " : (e % 8 == 0 ? ",\n    " : ", "),
                     t->edges[e][0], t->edges[e][1]);
    s_buf_printf(&b, "%s],\n  \"weights\": ", t->n_edges ? "\n  " : "");
    if (!t->weights_explicit) {
        s_buf_printf(&b, "\"metropolis\"\n}\n");
    } else {
        /* Diagonal entries are written too, so that loading gives back W bit for bit rather
         * than a recomputed 1 - (row sum). */
        s_buf_printf(&b, "[\n");
        const size_t n = t->n;
        for (uint32_t e = 0; e < t->n_edges; e++) {
            const uint32_t i = t->edges[e][0], j = t->edges[e][1];
            s_buf_printf(&b, "    {\"i\": %u, \"j\": %u, \"w\": %.17g},\n", i, j, t->w[i * n + j]);
        }
        for (uint32_t i = 0; i < t->n; i++)
            s_buf_printf(&b, "    {\"i\": %u, \"j\": %u, \"w\": %.17g}%s\n", i, i, t->w[i * n + i],
                         i + 1 < t->n ? "," : "");
        s_buf_printf(&b, "  ]\n}\n");
    }
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

int rumor_topology_save(const rumor_topology_t *t, const char *path, rumor_errmsg_t *em)
{
    if (!t || !path) return rumor_errmsg_set(em, RUMOR_EINVAL, "topology: nothing to save");
    char *json = rumor_topology_to_json(t);
    if (!json) return rumor_errmsg_set(em, RUMOR_ENOMEM, "%s: out of memory", path);
    const rumor_file_piece_t piece = {json, strlen(json)};
    const int rc = rumor_file_save(path, 0644, 0, &piece, 1, em);
    free(json);
    return rc;
}

/* ---------------------------------------------------------------------------------------- */
/* Queries */

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
    const uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    s_hash_bytes(h, b, 4);
}

static void s_hash_f64(s_hasher_t *h, double d)
{
    uint64_t v;
    memcpy(&v, &d, sizeof v);
    s_hash_u32(h, (uint32_t)v);
    s_hash_u32(h, (uint32_t)(v >> 32));
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

/* ---------------------------------------------------------------------------------------- */
/* Generators */

typedef struct {
    uint32_t (*e)[2];
    size_t len, cap;
} s_elist_t;

/* Appends edge a-b normalised to a < b; self-edges are dropped (a torus dimension of size 1
 * wraps onto itself). Returns 0 or RUMOR_ENOMEM. */
static int s_elist_push(s_elist_t *l, uint32_t a, uint32_t b)
{
    if (a == b) return 0;
    if (l->len == l->cap) {
        const size_t cap = l->cap ? l->cap * 2 : 64;
        void *p = realloc(l->e, cap * sizeof *l->e);
        if (!p) return RUMOR_ENOMEM;
        l->e = p;
        l->cap = cap;
    }
    l->e[l->len][0] = a < b ? a : b;
    l->e[l->len][1] = a < b ? b : a;
    l->len++;
    return 0;
}

/* Sorts and drops repeats (a torus dimension of size 2 reaches the same neighbour twice). */
static void s_elist_unique(s_elist_t *l)
{
    if (l->len == 0) return;
    qsort(l->e, l->len, sizeof *l->e, s_edge_cmp);
    size_t w = 1;
    for (size_t r = 1; r < l->len; r++)
        if (s_edge_cmp(l->e[r], l->e[w - 1]) != 0) {
            l->e[w][0] = l->e[r][0];
            l->e[w][1] = l->e[r][1];
            w++;
        }
    l->len = w;
}

static uint32_t s_dsu_find(uint32_t *parent, uint32_t x)
{
    while (parent[x] != x) {
        parent[x] = parent[parent[x]];
        x = parent[x];
    }
    return x;
}

/* 1 if the edges connect all n nodes, 0 if not, RUMOR_ENOMEM. */
static int s_elist_connected(uint32_t n, const s_elist_t *l)
{
    uint32_t *parent = malloc((size_t)n * sizeof *parent);
    if (!parent) return RUMOR_ENOMEM;
    for (uint32_t i = 0; i < n; i++) parent[i] = i;
    uint32_t parts = n;
    for (size_t e = 0; e < l->len && parts > 1; e++) {
        const uint32_t a = s_dsu_find(parent, l->e[e][0]), b = s_dsu_find(parent, l->e[e][1]);
        if (a != b) {
            parent[a] = b;
            parts--;
        }
    }
    free(parent);
    return parts == 1;
}

/* Erdos-Renyi G(n, p); 1 when the draw came out connected. */
static int s_gen_er(uint32_t n, double p, rumor_rng_t *rng, s_elist_t *l)
{
    l->len = 0;
    for (uint32_t i = 0; i < n; i++)
        for (uint32_t j = i + 1; j < n; j++)
            if (rumor_rng_uniform_d(rng) < p && s_elist_push(l, i, j)) return RUMOR_ENOMEM;
    return s_elist_connected(n, l);
}

/* Random k-regular graph by pairing half-edges (Steger-Wormald): draw two remaining
 * half-edges at random and join them unless that makes a self-loop or a repeated edge. When
 * draws keep failing, the valid pairs are listed and one is taken at random, or, if none is
 * left, the attempt is abandoned (returns 0). The result is close to uniform over k-regular
 * graphs, which is all a benchmark topology needs. `pts` holds n*k entries, `adj` n*n. */
static int s_gen_regular(uint32_t n, uint32_t k, rumor_rng_t *rng, uint32_t *pts, uint8_t *adj,
                         uint8_t *mark, s_elist_t *l)
{
    l->len = 0;
    memset(adj, 0, (size_t)n * n);
    size_t rem = (size_t)n * k;
    for (size_t s = 0; s < rem; s++) pts[s] = (uint32_t)(s / k);
    unsigned fails = 0;
    while (rem > 0) {
        size_t x = rumor_rng_below(rng, rem), y = rumor_rng_below(rng, rem);
        uint32_t u = pts[x], v = pts[y];
        if (u == v || adj[(size_t)u * n + v]) {
            if (++fails < 64) continue;
            fails = 0;
            /* Nodes that still have half-edges, then the valid pairs among them. */
            uint32_t *live = malloc((size_t)n * sizeof *live);
            if (!live) return RUMOR_ENOMEM;
            uint32_t nl = 0;
            memset(mark, 0, n);
            for (size_t s = 0; s < rem; s++)
                if (!mark[pts[s]]) {
                    mark[pts[s]] = 1;
                    live[nl++] = pts[s];
                }
            uint64_t valid = 0;
            for (uint32_t a = 0; a < nl; a++)
                for (uint32_t b = a + 1; b < nl; b++) valid += !adj[(size_t)live[a] * n + live[b]];
            if (valid == 0) {
                free(live);
                return 0;
            }
            uint64_t pick = rumor_rng_below(rng, valid);
            for (uint32_t a = 0; a < nl && pick != UINT64_MAX; a++)
                for (uint32_t b = a + 1; b < nl; b++)
                    if (!adj[(size_t)live[a] * n + live[b]] && pick-- == 0) {
                        u = live[a];
                        v = live[b];
                        pick = UINT64_MAX;
                        break;
                    }
            free(live);
            x = y = rem;
            for (size_t s = 0; s < rem; s++) {
                if (x == rem && pts[s] == u)
                    x = s;
                else if (y == rem && pts[s] == v)
                    y = s;
            }
            RUMOR_ASSERT(x < rem && y < rem);
        }
        adj[(size_t)u * n + v] = adj[(size_t)v * n + u] = 1;
        if (s_elist_push(l, u, v)) return RUMOR_ENOMEM;
        /* Remove both half-edges, the higher position first so the lower one stays put. */
        const size_t hi = x > y ? x : y, lo = x > y ? y : x;
        pts[hi] = pts[--rem];
        pts[lo] = pts[--rem];
        fails = 0;
    }
    return s_elist_connected(n, l);
}

/* Attempts allowed for the resampled generators: many for small graphs, fewer for large ones,
 * so that a hopeless request fails within seconds. */
static unsigned s_max_tries(double work_per_try)
{
    const double budget = 2e8 / (work_per_try > 1.0 ? work_per_try : 1.0);
    return budget >= S_GEN_MAX_TRIES ? S_GEN_MAX_TRIES : (budget < 10 ? 10 : (unsigned)budget);
}

int rumor_topology_generate(const rumor_topology_gen_t *g, rumor_topology_t **out,
                            rumor_errmsg_t *em)
{
    if (!out) return rumor_errmsg_set(em, RUMOR_EINVAL, "topology: no output given");
    *out = NULL;
    if (!g || !g->kind) return rumor_errmsg_set(em, RUMOR_EINVAL, "topology: no kind given");
    const char *kind = g->kind;
    const uint32_t n = g->n;
    const bool ring = !strcmp(kind, "ring"), torus = !strcmp(kind, "torus"),
               er = !strcmp(kind, "er"), regular = !strcmp(kind, "regular"),
               complete = !strcmp(kind, "complete"), hypercube = !strcmp(kind, "hypercube"),
               expo = !strcmp(kind, "exp");
    if (!ring && !torus && !er && !regular && !complete && !hypercube && !expo)
        return rumor_errmsg_set(em, RUMOR_EINVAL,
                                "topology: unknown kind '%s' (expected ring, torus, er, regular, "
                                "complete, hypercube or exp)",
                                kind);
    if (n < 2 || n > S_MAX_NODES)
        return rumor_errmsg_set(em, RUMOR_EINVAL, "%s: n = %u (must be 2 to %d)", kind, n,
                                S_MAX_NODES);
    if (g->port_base > 0 && (uint64_t)g->port_base + n - 1 > 65535)
        return rumor_errmsg_set(em, RUMOR_EINVAL,
                                "%s: ports %u..%llu run past 65535 (lower the port base)", kind,
                                g->port_base, (unsigned long long)g->port_base + n - 1);

    char name[64];
    s_elist_t l = {0};
    int rc = 0;
    rumor_rng_t rng;
    rumor_rng_seed(&rng, g->seed, 0, 0, RUMOR_RNG_TOPOLOGY);

    if (ring) {
        snprintf(name, sizeof name, "ring%u", n);
        for (uint32_t i = 0; i < n && rc == 0; i++) rc = s_elist_push(&l, i, (i + 1) % n);
    } else if (torus) {
        uint32_t rows = g->rows;
        if (rows == 0) {
            rows = (uint32_t)lround(sqrt((double)n));
            if ((uint64_t)rows * rows != n)
                return rumor_errmsg_set(em, RUMOR_EINVAL,
                                        "torus: n = %u is not a square; give rows (n = rows x "
                                        "cols)",
                                        n);
        }
        if (n % rows != 0)
            return rumor_errmsg_set(em, RUMOR_EINVAL,
                                    "torus: n = %u is not a multiple of rows = %u", n, rows);
        const uint32_t cols = n / rows;
        snprintf(name, sizeof name, "torus%ux%u", rows, cols);
        for (uint32_t r = 0; r < rows && rc == 0; r++)
            for (uint32_t c = 0; c < cols && rc == 0; c++) {
                const uint32_t v = r * cols + c;
                rc = s_elist_push(&l, v, r * cols + (c + 1) % cols);
                if (rc == 0) rc = s_elist_push(&l, v, ((r + 1) % rows) * cols + c);
            }
    } else if (hypercube) {
        if (n & (n - 1))
            return rumor_errmsg_set(em, RUMOR_EINVAL, "hypercube: n = %u is not a power of two", n);
        snprintf(name, sizeof name, "hypercube%u", n);
        for (uint32_t i = 0; i < n && rc == 0; i++)
            for (uint32_t b = 1; b < n && rc == 0; b <<= 1)
                if (!(i & b)) rc = s_elist_push(&l, i, i | b);
    } else if (expo) {
        /* Exponential graph: i and i + 2^j (mod n); repeats (2^j = n - 2^j') are dropped. */
        snprintf(name, sizeof name, "exp%u", n);
        for (uint32_t i = 0; i < n && rc == 0; i++)
            for (uint32_t b = 1; b < n && rc == 0; b <<= 1) rc = s_elist_push(&l, i, (i + b) % n);
    } else if (complete) {
        snprintf(name, sizeof name, "complete%u", n);
        for (uint32_t i = 0; i < n && rc == 0; i++)
            for (uint32_t j = i + 1; j < n && rc == 0; j++) rc = s_elist_push(&l, i, j);
    } else if (er) {
        if (!(g->p > 0.0 && g->p <= 1.0))
            return rumor_errmsg_set(em, RUMOR_EINVAL, "er: p = %g (must be in (0, 1])", g->p);
        snprintf(name, sizeof name, "er%u", n);
        const unsigned tries = s_max_tries(0.5 * n * (n - 1.0));
        int ok = 0;
        for (unsigned a = 0; a < tries && ok == 0; a++) ok = s_gen_er(n, g->p, &rng, &l);
        if (ok < 0) rc = ok;
        if (ok == 0) {
            free(l.e);
            return rumor_errmsg_set(em, RUMOR_EINVAL,
                                    "er: no connected graph with n = %u, p = %g in %u tries "
                                    "(connectivity needs p well above ln(n)/n = %.3g)",
                                    n, g->p, tries, log((double)n) / n);
        }
    } else {
        const uint32_t k = g->k;
        if (k == 0 || k >= n)
            return rumor_errmsg_set(em, RUMOR_EINVAL, "regular: k = %u (must be 1 to n-1 = %u)", k,
                                    n - 1);
        if (((uint64_t)k * n) % 2 != 0)
            return rumor_errmsg_set(em, RUMOR_EINVAL,
                                    "regular: k*n = %u*%u is odd (every edge uses two of the k*n "
                                    "edge ends)",
                                    k, n);
        if (k == 1 && n > 2)
            return rumor_errmsg_set(em, RUMOR_EINVAL,
                                    "regular: k = 1 is a matching, never connected for n > 2");
        snprintf(name, sizeof name, "regular%uk%u", n, k);
        uint32_t *pts = malloc((size_t)n * k * sizeof *pts);
        uint8_t *adj = malloc((size_t)n * n);
        uint8_t *mark = malloc(n);
        int ok = (pts && adj && mark) ? 0 : RUMOR_ENOMEM;
        const unsigned tries = s_max_tries((double)n * k);
        for (unsigned a = 0; a < tries && ok == 0; a++)
            ok = s_gen_regular(n, k, &rng, pts, adj, mark, &l);
        free(pts);
        free(adj);
        free(mark);
        if (ok < 0) rc = ok;
        if (ok == 0) {
            free(l.e);
            return rumor_errmsg_set(em, RUMOR_EINVAL,
                                    "regular: no connected %u-regular graph on %u nodes in %u "
                                    "tries (try a larger k)",
                                    k, n, tries);
        }
    }
    if (rc) {
        free(l.e);
        return rumor_errmsg_set(em, rc, "%s: out of memory", kind);
    }
    s_elist_unique(&l);

    rumor_topology_t *t = s_new(name, n, (uint32_t)l.len);
    if (!t) {
        free(l.e);
        return rumor_errmsg_set(em, RUMOR_ENOMEM, "%s: out of memory", kind);
    }
    if (l.len) memcpy(t->edges, l.e, l.len * sizeof *l.e);
    free(l.e);
    if (s_index(t) != 0) {
        rumor_topology_destroy(&t);
        return rumor_errmsg_set(em, RUMOR_ENOMEM, "%s: out of memory", kind);
    }
    s_metropolis(t);
    if (g->port_base > 0)
        for (uint32_t i = 0; i < n; i++)
            snprintf(t->nodes[i].endpoint, sizeof t->nodes[i].endpoint, "tcp://127.0.0.1:%u",
                     g->port_base + i);
    /* Generated graphs are valid by construction; anything else is a bug here. */
    rc = rumor_topology_validate(t, t->name, em);
    RUMOR_ASSERT(rc == 0 || rc == RUMOR_ENOMEM);
    if (rc) {
        rumor_topology_destroy(&t);
        return rc;
    }
    *out = t;
    return 0;
}
