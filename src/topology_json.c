/* rumor — the topology JSON format (DESIGN.md section 6): parsing, loading, writing.
 *
 * The parser checks each field as it reads it, so that an error names the field
 * ("ring8.json: edges[3][1]: node 9 does not exist (n = 8)"), and then runs the full
 * rumor_topology_validate, so a parser slip cannot hand out an inconsistent topology. The
 * writer puts one node per line and several edges per line, and weights with 17 significant
 * digits, so that a saved file reads back to the same bits.
 */
#include "topology_internal.h"

#include "rumor/file.h"
#include "rumor/keys.h"

#include <jansson.h>

#include <math.h>
#include <stdarg.h>
#include <string.h>

#define S_MAX_FILE (64u << 20)

/* ---- JSON parsing -------------------------------------------------------------------- */

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

static int s_parse_node(json_t *jv, size_t i, rumor_topology_node_t *nd, const char *origin,
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
        if (ep[0] && rumor_topology_endpoint_problem(ep, why, sizeof why))
            return rumor_errmsg_set(em, RUMOR_EFORMAT, "%s: nodes[%zu].endpoint: %s", origin, i,
                                    why);
        snprintf(nd->endpoint, sizeof nd->endpoint, "%s", ep);
    }
    const json_t *jkey = json_object_get(jv, "public_key");
    if (jkey) {
        if (!json_is_string(jkey))
            return rumor_errmsg_set(em, RUMOR_EFORMAT,
                                    "%s: nodes[%zu].public_key: expected %d Z85 characters", origin,
                                    i, RUMOR_KEY_Z85_LEN);
        const char *k = json_string_value(jkey);
        if (k[0] && rumor_keys_z85_problem(k, why, sizeof why))
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
            const int64_t e = rumor_topology_edge_index(t, a, b);
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
            if (fabs(*wij - w) > RUMOR_TOPOLOGY_TOL) {
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
            if (fabs(*wii + off - 1.0) > RUMOR_TOPOLOGY_TOL)
                rc = rumor_errmsg_set(em, RUMOR_EFORMAT,
                                      "%s: weights: row %u sums to %.12g (must be 1)", origin, i,
                                      *wii + off);
        } else if (off > 1.0 + RUMOR_TOPOLOGY_TOL) {
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
        rumor_topology_metropolis(t);
        return 0;
    }
    if (json_is_string(jw)) {
        if (strcmp(json_string_value(jw), "metropolis") == 0) {
            rumor_topology_metropolis(t);
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
    if (n > RUMOR_TOPOLOGY_MAX_NODES)
        return rumor_errmsg_set(em, RUMOR_ERANGE, "%s: nodes: %zu nodes, over the limit of %d",
                                origin, n, RUMOR_TOPOLOGY_MAX_NODES);

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

    rumor_topology_t *t = rumor_topology_alloc(name, (uint32_t)n, (uint32_t)m);
    if (!t) return rumor_errmsg_set(em, RUMOR_ENOMEM, "%s: out of memory", origin);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = s_parse_node(json_array_get(jnodes, i), i, &t->nodes[i], origin, em);
    if (rc == 0) rc = s_parse_edges(jedges, t, origin, em);
    if (rc == 0 && rumor_topology_index(t) != 0)
        rc = rumor_errmsg_set(em, RUMOR_ENOMEM, "%s: out of memory", origin);
    if (rc == 0) {
        const uint32_t far = rumor_topology_first_unreachable(t);
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
    char *text;
    size_t len;
    int rc = rumor_file_read(path, S_MAX_FILE, &text, &len, em);
    if (rc) return rc;
    if (memchr(text, '\0', len))
        rc = rumor_errmsg_set(em, RUMOR_EFORMAT, "%s: contains a NUL byte (not a JSON file)", path);
    else
        rc = rumor_topology_parse(text, path, out, em);
    free(text);
    return rc;
}

/* ---- writing ------------------------------------------------------------------------- */

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
        const rumor_topology_node_t *nd = &t->nodes[i];
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
