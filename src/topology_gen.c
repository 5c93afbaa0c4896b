/* rumor — topology generators (see rumor_topology_generate in topology.h): ring, torus,
 * Erdos-Renyi, random k-regular, complete, hypercube and exponential graphs, with
 * Metropolis-Hastings weights. Random kinds draw from the stream (seed, 0, 0, TOPOLOGY) and
 * are resampled until connected, within a budget of attempts that keeps a hopeless request
 * to seconds.
 */
#include "topology_internal.h"

#include "rumor/rng.h"

#include <math.h>
#include <stdbool.h>
#include <string.h>

#define S_GEN_MAX_TRIES 1000

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
    qsort(l->e, l->len, sizeof *l->e, rumor_topology_edge_cmp);
    size_t w = 1;
    for (size_t r = 1; r < l->len; r++)
        if (rumor_topology_edge_cmp(l->e[r], l->e[w - 1]) != 0) {
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

static const char *const s_kind_names[] = {"ring",     "torus",     "er", "regular",
                                           "complete", "hypercube", "exp"};

int rumor_topology_kind_parse(const char *s, rumor_topology_kind_t *out, rumor_errmsg_t *em)
{
    for (size_t i = 0; i < sizeof s_kind_names / sizeof *s_kind_names; i++) {
        if (!strcmp(s, s_kind_names[i])) {
            *out = (rumor_topology_kind_t)i;
            return 0;
        }
    }
    return rumor_errmsg_set(em, RUMOR_EINVAL,
                            "unknown kind '%s' (expected ring, torus, er, regular, complete, "
                            "hypercube or exp)",
                            s);
}

const char *rumor_topology_kind_name(rumor_topology_kind_t kind)
{
    return (size_t)kind < sizeof s_kind_names / sizeof *s_kind_names ? s_kind_names[kind] : NULL;
}

int rumor_topology_generate(const rumor_topology_gen_t *g, rumor_topology_t **out,
                            rumor_errmsg_t *em)
{
    if (!out) return rumor_errmsg_set(em, RUMOR_EINVAL, "topology: no output given");
    *out = NULL;
    if (!g) return rumor_errmsg_set(em, RUMOR_EINVAL, "topology: no generator given");
    const char *kind = rumor_topology_kind_name(g->kind);
    if (!kind) return rumor_errmsg_set(em, RUMOR_EINVAL, "topology: unknown kind %d", (int)g->kind);
    const uint32_t n = g->n;
    const bool ring = g->kind == RUMOR_TOPOLOGY_RING, torus = g->kind == RUMOR_TOPOLOGY_TORUS,
               er = g->kind == RUMOR_TOPOLOGY_ER, complete = g->kind == RUMOR_TOPOLOGY_COMPLETE,
               hypercube = g->kind == RUMOR_TOPOLOGY_HYPERCUBE,
               expo = g->kind == RUMOR_TOPOLOGY_EXP;
    if (n < 2 || n > RUMOR_TOPOLOGY_MAX_NODES)
        return rumor_errmsg_set(em, RUMOR_EINVAL, "%s: n = %u (must be 2 to %d)", kind, n,
                                RUMOR_TOPOLOGY_MAX_NODES);
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

    rumor_topology_t *t = rumor_topology_alloc(name, n, (uint32_t)l.len);
    if (!t) {
        free(l.e);
        return rumor_errmsg_set(em, RUMOR_ENOMEM, "%s: out of memory", kind);
    }
    if (l.len) memcpy(t->edges, l.e, l.len * sizeof *l.e);
    free(l.e);
    if (rumor_topology_index(t) != 0) {
        rumor_topology_destroy(&t);
        return rumor_errmsg_set(em, RUMOR_ENOMEM, "%s: out of memory", kind);
    }
    rumor_topology_metropolis(t);
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
