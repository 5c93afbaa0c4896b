/* Tests for the topology module: generators against closed-form spectral gaps, Metropolis
 * weights, every validation error, save/load round trips, the handshake hash, the shipped
 * topology files, the fuzz target over its seed corpus, and the `rumor topo` command. */
#include "rumor/topology.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#include "fuzz/fuzz_topology.c"
#include "support.h"

#define PI 3.14159265358979323846

static rumor_topology_t *gen(const char *kind, uint32_t n, uint32_t rows, double p, uint32_t k,
                             uint64_t seed, uint32_t port_base)
{
    rumor_topology_gen_t g = {
        .n = n, .rows = rows, .p = p, .k = k, .seed = seed, .port_base = port_base};
    rumor_errmsg_t em = {{0}};
    if (rumor_topology_kind_parse(kind, &g.kind, &em)) fail_msg("%s", em.msg);
    rumor_topology_t *t = NULL;
    const int rc = rumor_topology_generate(&g, &t, &em);
    if (rc != 0) fail_msg("generate %s n=%u: %s", kind, n, em.msg);
    assert_non_null(t);
    return t;
}

static rumor_topology_t *parse_ok(const char *json)
{
    rumor_errmsg_t em = {{0}};
    rumor_topology_t *t = NULL;
    if (rumor_topology_parse(json, "x.json", &t, &em) != 0) fail_msg("parse failed: %s", em.msg);
    return t;
}

static void hash_of(const char *json, uint8_t out[32])
{
    rumor_topology_t *t = parse_ok(json);
    rumor_topology_hash(t, out);
    rumor_topology_destroy(&t);
}

static const char *source_dir(void)
{
    const char *d = getenv("RUMOR_SOURCE_DIR");
    return d ? d : RUMOR_SOURCE_DIR;
}

static void test_ring_gap_matches_closed_form(void **state)
{
    (void)state;
    for (uint32_t n = 3; n <= 64; n++) {
        rumor_topology_t *t = gen("ring", n, 0, 0, 0, 0, 0);
        assert_int_equal(t->n_edges, n);
        const double want = (2.0 / 3.0) * (1.0 - cos(2.0 * PI / n));
        const double got = rumor_topology_spectral_gap(t);
        if (fabs(got - want) > 1e-6) fail_msg("ring%u: gap %.12f, want %.12f", n, got, want);
        rumor_topology_destroy(&t);
    }
    rumor_topology_t *t = gen("ring", 2, 0, 0, 0, 0, 0);
    assert_int_equal(t->n_edges, 1);
    assert_string_equal(t->name, "ring2");
    assert_true(fabs(rumor_topology_spectral_gap(t) - 1.0) < 1e-12);
    rumor_topology_destroy(&t);
}

static void test_torus_gap_matches_closed_form(void **state)
{
    (void)state;
    for (uint32_t m = 3; m <= 10; m++) {
        rumor_topology_t *t = gen("torus", m * m, 0, 0, 0, 0, 0);
        assert_int_equal(t->n_edges, 2 * m * m);
        for (uint32_t i = 0; i < t->n; i++) assert_int_equal(rumor_topology_degree(t, i), 4);
        const double want = 0.4 * (1.0 - cos(2.0 * PI / m));
        const double got = rumor_topology_spectral_gap(t);
        if (fabs(got - want) > 1e-6)
            fail_msg("torus %ux%u: gap %.12f, want %.12f", m, m, got, want);
        char name[32];
        snprintf(name, sizeof name, "torus%ux%u", m, m);
        assert_string_equal(t->name, name);
        rumor_topology_destroy(&t);
    }
}

/* Hypercube of dimension k: Metropolis weights 1/(k+1), eigenvalues (1 + k - 2j)/(k+1), so
 * the gap is 2/(k+1). */
static void test_hypercube_gap_matches_closed_form(void **state)
{
    (void)state;
    for (uint32_t k = 1; k <= 8; k++) {
        rumor_topology_t *t = gen("hypercube", 1u << k, 0, 0, 0, 0, 0);
        assert_int_equal(t->n_edges, k << (k - 1));
        for (uint32_t i = 0; i < t->n; i++) {
            assert_int_equal(rumor_topology_degree(t, i), k);
            const uint32_t *nb = rumor_topology_neighbors(t, i);
            for (uint32_t s = 0; s < k; s++) /* neighbours differ in exactly one bit */
                assert_int_equal(__builtin_popcount(nb[s] ^ i), 1);
        }
        const double want = 2.0 / (k + 1), got = rumor_topology_spectral_gap(t);
        if (fabs(got - want) > 1e-6)
            fail_msg("hypercube k=%u: gap %.12f, want %.12f", k, got, want);
        rumor_topology_destroy(&t);
    }
}

/* The exponential graph is circulant: with the distinct offsets O = {+-2^j mod n} and
 * Metropolis weights 1/(|O|+1), eigenvalue m is (1 + sum_{o in O} cos(2 pi m o / n))/(|O|+1). */
static void test_exp_gap_matches_closed_form(void **state)
{
    (void)state;
    for (uint32_t n = 2; n <= 70; n++) {
        rumor_topology_t *t = gen("exp", n, 0, 0, 0, 0, 0);
        uint8_t off[70] = {0};
        for (uint32_t b = 1; b < n; b <<= 1) off[b % n] = off[(n - b) % n] = 1;
        uint32_t k = 0;
        for (uint32_t o = 1; o < n; o++) k += off[o];
        double worst = 0.0;
        for (uint32_t m = 1; m < n; m++) {
            double l = 1.0;
            for (uint32_t o = 1; o < n; o++)
                if (off[o]) l += cos(2.0 * PI * m * o / n);
            l /= k + 1;
            if (fabs(l) > worst) worst = fabs(l);
        }
        for (uint32_t i = 0; i < n; i++) assert_int_equal(rumor_topology_degree(t, i), k);
        const double got = rumor_topology_spectral_gap(t);
        if (fabs(got - (1.0 - worst)) > 1e-6)
            fail_msg("exp%u: gap %.12f, want %.12f", n, got, 1.0 - worst);
        rumor_topology_destroy(&t);
    }
}

/* A dimension of size 2 wraps onto the same neighbour, size 1 onto the node itself: neither
 * may produce duplicate edges or self-edges. */
static void test_torus_thin_dimensions(void **state)
{
    (void)state;
    rumor_topology_t *t = gen("torus", 8, 2, 0, 0, 0, 0); /* 2 x 4: ring of 4, doubled */
    assert_string_equal(t->name, "torus2x4");
    assert_int_equal(t->n_edges, 8 + 4);
    for (uint32_t i = 0; i < 8; i++) assert_int_equal(rumor_topology_degree(t, i), 3);
    assert_int_equal(rumor_topology_validate(t, "t", NULL), 0);
    rumor_topology_destroy(&t);
    t = gen("torus", 4, 0, 0, 0, 0, 0); /* 2 x 2 is a 4-cycle */
    assert_int_equal(t->n_edges, 4);
    rumor_topology_destroy(&t);
    t = gen("torus", 5, 1, 0, 0, 0, 0); /* 1 x 5 is a ring */
    assert_int_equal(t->n_edges, 5);
    rumor_topology_destroy(&t);
    t = gen("torus", 12, 3, 0, 0, 0, 0);
    assert_string_equal(t->name, "torus3x4");
    assert_int_equal(t->n_edges, 24);
    rumor_topology_destroy(&t);
}

static void check_metropolis(const rumor_topology_t *t)
{
    const uint32_t n = t->n;
    assert_int_equal(t->weights_explicit, 0);
    for (uint32_t i = 0; i < n; i++) {
        double row = 0, col = 0;
        for (uint32_t j = 0; j < n; j++) {
            const double w = t->w[(size_t)i * n + j];
            assert_true(w >= 0.0);
            assert_true(w == t->w[(size_t)j * n + i]);
            row += w;
            col += t->w[(size_t)j * n + i];
        }
        assert_true(fabs(row - 1.0) < 1e-12);
        assert_true(fabs(col - 1.0) < 1e-12);
    }
    uint32_t nonzero_off = 0;
    for (uint32_t i = 0; i < n; i++)
        for (uint32_t j = 0; j < n; j++)
            if (i != j && t->w[(size_t)i * n + j] != 0.0) nonzero_off++;
    assert_int_equal(nonzero_off, 2 * t->n_edges);
    for (uint32_t e = 0; e < t->n_edges; e++) {
        const uint32_t a = t->edges[e][0], b = t->edges[e][1];
        const uint32_t da = rumor_topology_degree(t, a), db = rumor_topology_degree(t, b);
        assert_true(t->w[(size_t)a * n + b] == 1.0 / (1.0 + (da > db ? da : db)));
    }
}

static void test_metropolis_symmetric_doubly_stochastic(void **state)
{
    (void)state;
    rumor_topology_t *t = gen("er", 40, 0, 0.2, 0, 7, 0);
    check_metropolis(t);
    rumor_topology_destroy(&t);
    t = gen("ring", 9, 0, 0, 0, 0, 0);
    check_metropolis(t);
    assert_true(fabs(t->w[0] - 1.0 / 3.0) < 1e-15);
    rumor_topology_destroy(&t);
    t = gen("complete", 8, 0, 0, 0, 0, 0);
    check_metropolis(t);
    assert_string_equal(t->name, "complete8");
    assert_int_equal(t->n_edges, 28);
    assert_true(fabs(rumor_topology_spectral_gap(t) - 1.0) < 1e-9);
    rumor_topology_destroy(&t);
}

static void test_degree_and_neighbors(void **state)
{
    (void)state;
    rumor_topology_t *t = gen("ring", 8, 0, 0, 0, 0, 7400);
    assert_int_equal(rumor_topology_degree(t, 0), 2);
    const uint32_t *nb = rumor_topology_neighbors(t, 0);
    assert_int_equal(nb[0], 1);
    assert_int_equal(nb[1], 7);
    nb = rumor_topology_neighbors(t, 7);
    assert_int_equal(nb[0], 0);
    assert_int_equal(nb[1], 6);
    assert_string_equal(t->nodes[5].endpoint, "tcp://127.0.0.1:7405");
    assert_string_equal(t->nodes[5].public_key, "");
    rumor_topology_destroy(&t);
}

/* rumor_topology_slot finds every neighbour of every node of a hypercube (degree 4), and no
 * other id: below, between and above the neighbours, and in an empty list. */
static void test_slot_finds_each_neighbour(void **state)
{
    (void)state;
    rumor_topology_t *t = gen("hypercube", 16, 0, 0, 0, 0, 7400);
    for (uint32_t i = 0; i < 16; i++) {
        const uint32_t deg = rumor_topology_degree(t, i);
        const uint32_t *nb = rumor_topology_neighbors(t, i);
        assert_int_equal(deg, 4);
        for (uint32_t id = 0; id < 20; id++) {
            int want = -1;
            for (uint32_t k = 0; k < deg; k++)
                if (nb[k] == id) want = (int)k;
            assert_int_equal(rumor_topology_slot(nb, deg, id), want);
        }
    }
    assert_int_equal(rumor_topology_slot(NULL, 0, 0), -1);
    rumor_topology_destroy(&t);
}

/* Each entry: a small file and what its error message must say. */
typedef struct {
    const char *json;
    const char *want;
} bad_case_t;

#define N3  "\"nodes\": [{\"id\": 0}, {\"id\": 1}, {\"id\": 2}]"
#define KEY "yohWTVw^hK8ABU)@$s6>qHbe=:%i}.4:u]4MmES="

static const bad_case_t s_bad[] = {
    {"{\"nodes\": [{\"id\": 0}, {\"id\": 1}, {\"id\": 2}, {\"id\": 4}], \"edges\": "
     "[[0,1],[1,2],[2,3]]}",
     "x.json: nodes[3].id: expected 3 (ids must be 0..n-1 in order)"},
    {"{" N3 ", \"edges\": [[0,1],[1,2],[2,2]]}", "x.json: edges[2]: self-edge 2-2"},
    {"{" N3 ", \"edges\": [[0,1],[1,2],[2,1]]}", "x.json: edges[2]: duplicate edge 1-2"},
    {"{" N3 ", \"edges\": [[0,1],[1,9]]}", "x.json: edges[1][1]: node 9 does not exist (n = 3)"},
    {"{" N3 ", \"edges\": [[0,1],[1,-1]]}", "x.json: edges[1][1]: node -1 does not exist"},
    {"{" N3 ", \"edges\": [[0,1],[1]]}", "x.json: edges[1]: expected a pair [i, j] of node ids"},
    {"{" N3 ", \"edges\": [[0,1],[1,\"2\"]]}", "x.json: edges[1]: expected a pair"},
    {"{\"nodes\": [{\"id\": 0}, {\"id\": 1}, {\"id\": 2}, {\"id\": 3}, {\"id\": 4}, {\"id\": 5}], "
     "\"edges\": [[0,1],[1,2],[2,0],[3,4]]}",
     "x.json: graph is not connected (node 3 unreachable from node 0)"},
    {"{\"nodes\": [{\"id\": 0}, {\"id\": 1}, {\"id\": 2}, {\"id\": 3}], \"edges\": "
     "[[0,1],[1,2],[2,3]], "
     "\"weights\": [{\"i\":0,\"j\":1,\"w\":0.5}, {\"i\":1,\"j\":2,\"w\":0.2}, "
     "{\"i\":2,\"j\":3,\"w\":1.0}]}",
     "x.json: weights: row 2 sums to 1.2 (must be 1)"},
    {"{\"nodes\": [{\"id\": 0}, {\"id\": 1}, {\"id\": 2}, {\"id\": 3}], \"edges\": "
     "[[0,1],[1,2],[2,3]], "
     "\"weights\": [{\"i\":0,\"j\":1,\"w\":0.5}, {\"i\":1,\"j\":2,\"w\":0.2}, "
     "{\"i\":2,\"j\":3,\"w\":0.5},"
     " {\"i\":3,\"j\":3,\"w\":0.7}]}",
     "x.json: weights: row 3 sums to 1.2 (must be 1)"},
    {"{" N3 ", \"edges\": [[0,1],[1,2]], \"weights\": [{\"i\":0,\"j\":1,\"w\":0.3}, "
     "{\"i\":0,\"j\":2,\"w\":0.3}]}",
     "x.json: weights[1]: (0,2) is not an edge"},
    {"{" N3 ", \"edges\": [[0,1],[1,2]], \"weights\": [{\"i\":0,\"j\":1,\"w\":0.3}]}",
     "x.json: weights: edge 1-2 has no weight"},
    {"{" N3 ", \"edges\": [[0,1],[1,2]], \"weights\": [{\"i\":0,\"j\":1,\"w\":0.3}, "
     "{\"i\":1,\"j\":2,\"w\":0.3}, {\"i\":1,\"j\":0,\"w\":0.31}]}",
     "x.json: weights[2]: (1,0) = 0.31 but weights[0] gave 0.3 (W must be symmetric)"},
    {"{" N3 ", \"edges\": [[0,1],[1,2]], \"weights\": [{\"i\":0,\"j\":1,\"w\":-0.3}, "
     "{\"i\":1,\"j\":2,\"w\":0.3}]}",
     "x.json: weights[0].w: -0.3 (must be finite and >= 0)"},
    {"{" N3 ", \"edges\": [[0,1],[1,2]], \"weights\": [{\"i\":0,\"j\":1,\"w\":0.3}, "
     "{\"i\":1,\"j\":2,\"w\":0.3}, {\"i\":1,\"j\":1,\"w\":0.5}]}",
     "x.json: weights: row 1 sums to 1.1 (must be 1)"},
    {"{" N3 ", \"edges\": [[0,1],[1,2]], \"weights\": [{\"i\":0,\"j\":7,\"w\":0.3}]}",
     "x.json: weights[0].j: node 7 does not exist (n = 3)"},
    {"{" N3 ", \"edges\": [[0,1],[1,2]], \"weights\": [{\"i\":0,\"j\":1,\"x\":0.3}]}",
     "x.json: weights[0]: unknown field 'x'"},
    {"{" N3 ", \"edges\": [[0,1],[1,2]], \"weights\": \"uniform\"}",
     "x.json: weights: unknown scheme 'uniform'"},
    {"{" N3 ", \"edges\": [[0,1],[1,2]], \"weights\": 3}", "x.json: weights: expected"},
    {"{\"nodes\": [{\"id\": 0}, {\"id\": 1}, {\"id\": 2, \"public_key\": \"abc\"}], \"edges\": "
     "[[0,1],[1,2]]}",
     "x.json: nodes[2].public_key: expected 40 Z85 characters"},
    {"{\"nodes\": [{\"id\": 0}, {\"id\": 1}, {\"id\": 2, \"public_key\": \"" KEY "\"}, {\"id\": 3, "
     "\"public_key\": \"yohWTVw^hK8ABU)@$s6>qHbe=:%i}.4:u]4MmES\\\"\"}], \"edges\": "
     "[[0,1],[1,2],[2,3]]}",
     "x.json: nodes[3].public_key: expected 40 Z85 characters (character 40, '\"', is not Z85)"},
    {"{\"nodes\": [{\"id\": 0}, {\"id\": 1, \"public_key\": "
     "\"#####yohWTVw^hK8ABU)@$s6>qHbe=:%i}.4:u]4\"}], "
     "\"edges\": [[0,1]]}",
     "x.json: nodes[1].public_key: characters 1-5 do not encode 4 bytes"},
    {"{\"nodes\": [{\"id\": 0, \"endpoint\": \"http://a:1\"}, {\"id\": 1}], \"edges\": [[0,1]]}",
     "x.json: nodes[0].endpoint: 'http://a:1': expected a tcp://, ipc:// or inproc:// endpoint"},
    {"{\"nodes\": [{\"id\": 0, \"endpoint\": \"tcp://127.0.0.1\"}, {\"id\": 1}], \"edges\": "
     "[[0,1]]}",
     "x.json: nodes[0].endpoint: 'tcp://127.0.0.1': expected tcp://HOST:PORT"},
    {"{\"nodes\": [{\"id\": 0, \"endpoint\": \"tcp://127.0.0.1:70000\"}, {\"id\": 1}], \"edges\": "
     "[[0,1]]}",
     "x.json: nodes[0].endpoint: 'tcp://127.0.0.1:70000': port must be 1 to 65535"},
    {"{\"nodes\": [{\"id\": 0, \"endpoint\": \"ipc://\"}, {\"id\": 1}], \"edges\": [[0,1]]}",
     "x.json: nodes[0].endpoint: 'ipc://': expected ipc://PATH"},
    {"{\"nodes\": [{\"id\": 0, \"endpoint\": 7400}, {\"id\": 1}], \"edges\": [[0,1]]}",
     "x.json: nodes[0].endpoint: expected a string"},
    {"{\"nodes\": [{\"id\": 0, \"endpoint\": \"tcp://h:1\"}, {\"id\": 1, \"endpoint\": "
     "\"tcp://h:1\"}], "
     "\"edges\": [[0,1]]}",
     "x.json: nodes[1].endpoint: tcp://h:1 is already used by nodes[0]"},
    {"{\"nodes\": [{\"id\": 0, \"port\": 1}, {\"id\": 1}], \"edges\": [[0,1]]}",
     "x.json: nodes[0]: unknown field 'port'"},
    {"{\"nodes\": [{\"id\": 0}, {}], \"edges\": [[0,1]]}", "x.json: nodes[1].id: missing"},
    {"{\"nodes\": [{\"id\": 0}, {\"id\": \"1\"}], \"edges\": [[0,1]]}",
     "x.json: nodes[1].id: expected an integer"},
    {"{\"nodes\": [0, 1], \"edges\": [[0,1]]}", "x.json: nodes[0]: expected an object"},
    {"{\"nodes\": [], \"edges\": []}", "x.json: nodes: empty"},
    {"{\"edges\": [[0,1]]}", "x.json: nodes: missing"},
    {"{\"nodes\": [{\"id\": 0}, {\"id\": 1}]}", "x.json: edges: missing"},
    {"{\"nodes\": [{\"id\": 0}, {\"id\": 1}], \"edges\": [[0,1]], \"wieghts\": \"metropolis\"}",
     "x.json: unknown field 'wieghts'"},
    {"{\"name\": 7, \"nodes\": [{\"id\": 0}, {\"id\": 1}], \"edges\": [[0,1]]}",
     "x.json: name: expected a string"},
    {"[1, 2]", "x.json: expected an object"},
    {"{\"nodes\": [{\"id\": 0}, {\"id\": 1}], \"edges\": [[0,1]], \"edges\": [[0,1]]}",
     "x.json: line 1, column "},
    {"{\"nodes\": [{\"id\": 0},\n {\"id\": 1}\n \"edges\": []}", "x.json: line 3, column "},
};

static void test_validation_errors_name_the_field(void **state)
{
    (void)state;
    for (size_t c = 0; c < sizeof s_bad / sizeof s_bad[0]; c++) {
        rumor_errmsg_t em = {{0}};
        rumor_topology_t *t = (rumor_topology_t *)&em; /* must be reset to NULL */
        const int rc = rumor_topology_parse(s_bad[c].json, "x.json", &t, &em);
        if (rc == 0) fail_msg("case %zu parsed but should fail with '%s'", c, s_bad[c].want);
        assert_true(rc < 0);
        assert_null(t);
        if (strncmp(em.msg, s_bad[c].want, strlen(s_bad[c].want)) != 0)
            fail_msg("case %zu: got '%s', want '%s...'", c, em.msg, s_bad[c].want);
    }
}

/* Same checks when a program builds or edits a topology in memory. */
static void test_validate_in_memory(void **state)
{
    (void)state;
    rumor_errmsg_t em = {{0}};
    rumor_topology_t *t = gen("ring", 6, 0, 0, 0, 0, 0);
    assert_int_equal(rumor_topology_validate(t, "mem", &em), 0);
    t->w[0 * 6 + 1] += 0.1;
    assert_int_not_equal(rumor_topology_validate(t, "mem", &em), 0);
    assert_non_null(strstr(em.msg, "mem: weights: w[0][1]"));
    t->w[0 * 6 + 1] -= 0.1;
    t->w[0 * 6 + 3] = 0.01;
    t->w[3 * 6 + 0] = 0.01;
    assert_int_not_equal(rumor_topology_validate(t, "mem", &em), 0);
    assert_string_equal(em.msg, "mem: weights: w[0][3] = 0.01 but 0-3 is not an edge");
    t->w[0 * 6 + 3] = t->w[3 * 6 + 0] = 0.0;
    assert_int_equal(rumor_topology_validate(t, "mem", &em), 0);
    t->nodes[2].id = 5;
    assert_int_not_equal(rumor_topology_validate(t, "mem", &em), 0);
    assert_string_equal(em.msg, "mem: nodes[2].id: expected 2 (ids must be 0..n-1 in order)");
    t->nodes[2].id = 2;
    snprintf(t->nodes[4].endpoint, sizeof t->nodes[4].endpoint, "udp://x:1");
    assert_int_not_equal(rumor_topology_validate(t, "mem", &em), 0);
    assert_non_null(strstr(em.msg, "mem: nodes[4].endpoint:"));
    t->nodes[4].endpoint[0] = '\0';
    t->edges[1][1] = t->edges[1][0];
    assert_int_not_equal(rumor_topology_validate(t, "mem", &em), 0);
    assert_non_null(strstr(em.msg, "self-edge"));
    rumor_topology_destroy(&t);
    assert_null(t);
    rumor_topology_destroy(&t); /* NULL is fine */
}

static void test_explicit_weights(void **state)
{
    (void)state;
    /* Path 0-1-2 given in mixed orientation with the diagonal of row 1 listed. */
    rumor_topology_t *t =
        parse_ok("{\"name\": \"p3\", \"nodes\": [{\"id\": 0}, {\"id\": 1}, {\"id\": 2}], "
                 "\"edges\": [[1,0],[2,1]], "
                 "\"weights\": [{\"i\":1,\"j\":0,\"w\":0.25}, {\"i\":1,\"j\":2,\"w\":0.5}, "
                 "{\"i\":2,\"j\":1,\"w\":0.5}, {\"i\":1,\"j\":1,\"w\":0.25}]}");
    assert_int_equal(t->weights_explicit, 1);
    assert_int_equal(t->edges[0][0], 0);
    assert_int_equal(t->edges[0][1], 1);
    const double want[9] = {0.75, 0.25, 0, 0.25, 0.25, 0.5, 0, 0.5, 0.5};
    for (int k = 0; k < 9; k++) assert_true(t->w[k] == want[k]);
    rumor_topology_destroy(&t);
}

static char *tmp_path(const char *name)
{
    static char buf[4][512];
    static int k;
    char *p = buf[k++ % 4];
    snprintf(p, sizeof buf[0], "/tmp/rumor-test-topology-%d-%s", (int)getpid(), name);
    return p;
}

static void assert_same_topology(const rumor_topology_t *a, const rumor_topology_t *b)
{
    assert_string_equal(a->name, b->name);
    assert_int_equal(a->n, b->n);
    assert_int_equal(a->n_edges, b->n_edges);
    assert_int_equal(a->weights_explicit, b->weights_explicit);
    assert_memory_equal(a->edges, b->edges, a->n_edges * sizeof *a->edges);
    assert_memory_equal(a->w, b->w, (size_t)a->n * a->n * sizeof *a->w);
    assert_memory_equal(a->adj_off, b->adj_off, (a->n + 1) * sizeof *a->adj_off);
    for (uint32_t i = 0; i < a->n; i++) {
        assert_string_equal(a->nodes[i].endpoint, b->nodes[i].endpoint);
        assert_string_equal(a->nodes[i].public_key, b->nodes[i].public_key);
    }
    uint8_t ha[32], hb[32];
    rumor_topology_hash(a, ha);
    rumor_topology_hash(b, hb);
    assert_memory_equal(ha, hb, 32);
}

static void test_save_load_round_trip(void **state)
{
    (void)state;
    rumor_errmsg_t em = {{0}};
    /* Generated, with real CURVE keys on every node. */
    rumor_topology_t *t = gen("er", 24, 0, 0.25, 0, 3, 7000);
    for (uint32_t i = 0; i < t->n; i++) {
        char secret[41];
        assert_int_equal(zmq_curve_keypair(t->nodes[i].public_key, secret), 0);
    }
    assert_int_equal(rumor_topology_validate(t, "keys", &em), 0);
    const char *path = tmp_path("rt.json");
    assert_int_equal(rumor_topology_save(t, path, &em), 0);
    rumor_topology_t *u = NULL;
    if (rumor_topology_load(path, &u, &em) != 0) fail_msg("%s", em.msg);
    assert_same_topology(t, u);
    rumor_topology_destroy(&u);
    rumor_topology_destroy(&t);

    /* Explicit weights with irrational-looking values keep their bits. */
    char file[512];
    snprintf(file, sizeof file, "%s/tests/data/topo_explicit.json", source_dir());
    if (rumor_topology_load(file, &t, &em) != 0) fail_msg("%s", em.msg);
    t->w[0 * 5 + 1] = t->w[1 * 5 + 0] = 1.0 / 3.0;
    t->w[0] = 1.0 - (1.0 / 3.0 + 0.25 + 0.25);
    t->w[1 * 5 + 1] = 1.0 - (1.0 / 3.0 + 0.25 + 0.3);
    assert_int_equal(rumor_topology_validate(t, "edited", &em), 0);
    char *json = rumor_topology_to_json(t);
    assert_non_null(json);
    u = parse_ok(json);
    assert_same_topology(t, u);
    free(json);
    rumor_topology_destroy(&u);
    rumor_topology_destroy(&t);
    unlink(path);
}

static void test_load_errors_name_the_file(void **state)
{
    (void)state;
    rumor_errmsg_t em = {{0}};
    rumor_topology_t *t = NULL;
    assert_int_equal(rumor_topology_load("/nonexistent/ring.json", &t, &em), RUMOR_EIO);
    assert_null(t);
    assert_string_equal(em.msg, "/nonexistent/ring.json: cannot open: No such file or directory");
    char file[512];
    snprintf(file, sizeof file, "%s/tests/data/topo_bad_duplicate_edge.json", source_dir());
    assert_int_equal(rumor_topology_load(file, &t, &em), RUMOR_EFORMAT);
    char want[600];
    snprintf(want, sizeof want, "%s: edges[2]: duplicate edge 1-2", file);
    assert_string_equal(em.msg, want);
    /* A file that gives no name is named after itself. */
    const char *path = tmp_path("unnamed.json");
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("{\"nodes\": [{\"id\": 0}, {\"id\": 1}], \"edges\": [[0, 1]]}", f);
    fclose(f);
    assert_int_equal(rumor_topology_load(path, &t, &em), 0);
    char base[128];
    snprintf(base, sizeof base, "rumor-test-topology-%d-unnamed", (int)getpid());
    assert_string_equal(t->name, base);
    rumor_topology_destroy(&t);
    unlink(path);
}

/* The hash is what peers compare in HELLO: it must see every change that alters the run,
 * and ignore what does not (name, edge order and orientation, whitespace). */
static void test_hash_sensitivity(void **state)
{
    (void)state;
    const char *base = "{\"name\": \"a\", \"nodes\": [{\"id\": 0, \"endpoint\": \"tcp://h:1\", "
                       "\"public_key\": \"" KEY "\"}, {\"id\": 1}, {\"id\": 2}], "
                       "\"edges\": [[0,1],[1,2]]}";
    uint8_t h0[32], h[32];
    hash_of(base, h0);
    static const char *const same[] = {
        "{\"name\": \"b\", \"nodes\": [{\"id\": 0, \"endpoint\": \"tcp://h:1\", \"public_key\": "
        "\"" KEY
        "\"}, {\"id\": 1}, {\"id\": 2}], \"edges\": [[2,1],[1,0]], \"weights\": \"metropolis\"}",
        "{\"edges\": [[1,2], [0,1]], \"nodes\": [{\"public_key\": \"" KEY "\", \"id\": 0, "
        "\"endpoint\": \"tcp://h:1\"}, {\"id\": 1, \"endpoint\": \"\"}, {\"id\": 2}]}",
        /* Explicit weights equal to Metropolis give the same W, hence the same run. */
        "{\"nodes\": [{\"id\": 0, \"endpoint\": \"tcp://h:1\", \"public_key\": \"" KEY
        "\"}, {\"id\": 1}, {\"id\": 2}], \"edges\": [[0,1],[1,2]], \"weights\": "
        "[{\"i\":0,\"j\":1,\"w\":0.33333333333333331}, "
        "{\"i\":1,\"j\":2,\"w\":0.33333333333333331}]}",
    };
    for (size_t k = 0; k < sizeof same / sizeof same[0]; k++) {
        hash_of(same[k], h);
        if (memcmp(h, h0, 32) != 0) fail_msg("variant %zu should hash the same", k);
    }
    static const char *const differ[] = {
        /* an edge */
        "{\"nodes\": [{\"id\": 0, \"endpoint\": \"tcp://h:1\", \"public_key\": \"" KEY
        "\"}, {\"id\": 1}, {\"id\": 2}], \"edges\": [[0,1],[0,2]]}",
        /* a weight */
        "{\"nodes\": [{\"id\": 0, \"endpoint\": \"tcp://h:1\", \"public_key\": \"" KEY
        "\"}, {\"id\": 1}, {\"id\": 2}], \"edges\": [[0,1],[1,2]], \"weights\": "
        "[{\"i\":0,\"j\":1,\"w\":0.3}, {\"i\":1,\"j\":2,\"w\":0.33333333333333331}]}",
        /* an endpoint */
        "{\"nodes\": [{\"id\": 0, \"endpoint\": \"tcp://h:2\", \"public_key\": \"" KEY
        "\"}, {\"id\": 1}, {\"id\": 2}], \"edges\": [[0,1],[1,2]]}",
        /* a key moved to another node */
        "{\"nodes\": [{\"id\": 0, \"endpoint\": \"tcp://h:1\"}, {\"id\": 1, \"public_key\": \"" KEY
        "\"}, {\"id\": 2}], \"edges\": [[0,1],[1,2]]}",
        /* a key changed in one character */
        "{\"nodes\": [{\"id\": 0, \"endpoint\": \"tcp://h:1\", \"public_key\": "
        "\"xohWTVw^hK8ABU)@$s6>qHbe=:%i}.4:u]4MmES=\"}, {\"id\": 1}, {\"id\": 2}], "
        "\"edges\": [[0,1],[1,2]]}",
        /* an endpoint moved from one node to the next */
        "{\"nodes\": [{\"id\": 0, \"public_key\": \"" KEY "\"}, {\"id\": 1, \"endpoint\": "
        "\"tcp://h:1\"}, {\"id\": 2}], \"edges\": [[0,1],[1,2]]}",
    };
    for (size_t k = 0; k < sizeof differ / sizeof differ[0]; k++) {
        hash_of(differ[k], h);
        if (memcmp(h, h0, 32) == 0) fail_msg("variant %zu should hash differently", k);
    }
}

/* The canonical serialisation is a protocol: peers of different builds must agree. This
 * pins it for one file; a change here needs a protocol version bump. */
static void test_hash_golden(void **state)
{
    (void)state;
    char file[512];
    snprintf(file, sizeof file, "%s/tests/data/topo_explicit.json", source_dir());
    rumor_errmsg_t em = {{0}};
    rumor_topology_t *t = NULL;
    if (rumor_topology_load(file, &t, &em) != 0) fail_msg("%s", em.msg);
    assert_string_equal(t->name, "house5");
    assert_int_equal(t->weights_explicit, 1);
    assert_true(t->w[1 * 5 + 1] == 1.0 - (0.25 + 0.25 + 0.3));
    uint8_t h[32];
    char hex[65];
    rumor_topology_hash(t, h);
    for (int k = 0; k < 32; k++) snprintf(hex + 2 * k, 3, "%02x", h[k]);
    assert_string_equal(hex, "136db7ea3003fe32e2018088e29ad081e9bf9a93796c665429d8364431ab4f22");
    rumor_topology_destroy(&t);
}

static int same_edges(const rumor_topology_t *a, const rumor_topology_t *b)
{
    return a->n_edges == b->n_edges &&
           memcmp(a->edges, b->edges, a->n_edges * sizeof *a->edges) == 0;
}

static void test_er_connected_and_reproducible(void **state)
{
    (void)state;
    int distinct = 0;
    for (uint64_t seed = 1; seed <= 20; seed++) {
        rumor_topology_t *a = gen("er", 32, 0, 0.12, 0, seed, 0);
        rumor_topology_t *b = gen("er", 32, 0, 0.12, 0, seed, 0);
        rumor_topology_t *c = gen("er", 32, 0, 0.12, 0, seed + 1000, 0);
        assert_string_equal(a->name, "er32");
        assert_int_equal(rumor_topology_validate(a, "er", NULL), 0); /* includes connectivity */
        assert_true(same_edges(a, b));
        distinct += !same_edges(a, c);
        assert_true(rumor_topology_spectral_gap(a) > 0.0);
        rumor_topology_destroy(&a);
        rumor_topology_destroy(&b);
        rumor_topology_destroy(&c);
    }
    assert_int_equal(distinct, 20);
    /* The edge density is about p. */
    rumor_topology_t *t = gen("er", 200, 0, 0.3, 0, 5, 0);
    const double density = t->n_edges / (200.0 * 199.0 / 2.0);
    assert_true(density > 0.28 && density < 0.32);
    rumor_topology_destroy(&t);

    rumor_topology_gen_t g = {.kind = RUMOR_TOPOLOGY_ER, .n = 64, .p = 0.01, .seed = 1};
    rumor_errmsg_t em = {{0}};
    assert_int_equal(rumor_topology_generate(&g, &t, &em), RUMOR_EINVAL);
    assert_null(t);
    assert_non_null(strstr(em.msg, "er: no connected graph with n = 64, p = 0.01 in 1000 tries"));
}

static void test_regular_degrees(void **state)
{
    (void)state;
    static const uint32_t cases[][2] = {{32, 4}, {32, 3}, {33, 4}, {10, 9},
                                        {16, 2}, {50, 7}, {2, 1},  {64, 16}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const uint32_t n = cases[c][0], k = cases[c][1];
        for (uint64_t seed = 1; seed <= 3; seed++) {
            rumor_topology_t *t = gen("regular", n, 0, 0, k, seed, 0);
            assert_int_equal(t->n_edges, n * k / 2);
            for (uint32_t i = 0; i < n; i++)
                if (rumor_topology_degree(t, i) != k)
                    fail_msg("regular n=%u k=%u seed=%llu: node %u has degree %u", n, k,
                             (unsigned long long)seed, i, rumor_topology_degree(t, i));
            assert_int_equal(rumor_topology_validate(t, "reg", NULL), 0);
            rumor_topology_t *u = gen("regular", n, 0, 0, k, seed, 0);
            assert_true(same_edges(t, u));
            rumor_topology_destroy(&u);
            rumor_topology_destroy(&t);
        }
    }
    rumor_topology_t *t = gen("regular", 32, 0, 0, 4, 1, 0);
    assert_string_equal(t->name, "regular32k4");
    rumor_topology_destroy(&t);
}

static void expect_gen_error(rumor_topology_gen_t g, const char *want)
{
    rumor_errmsg_t em = {{0}};
    rumor_topology_t *t = NULL;
    assert_true(rumor_topology_generate(&g, &t, &em) < 0);
    assert_null(t);
    if (!strstr(em.msg, want)) fail_msg("got '%s', want '%s'", em.msg, want);
}

static void test_generator_errors(void **state)
{
    (void)state;
    rumor_topology_kind_t k = RUMOR_TOPOLOGY_TORUS;
    rumor_errmsg_t em = {{0}};
    assert_int_equal(rumor_topology_kind_parse("star", &k, &em), RUMOR_EINVAL);
    assert_string_equal(em.msg, "unknown kind 'star' (expected ring, torus, er, regular, complete, "
                                "hypercube or exp)");
    assert_int_equal(k, RUMOR_TOPOLOGY_TORUS);
    for (int i = RUMOR_TOPOLOGY_RING; i <= RUMOR_TOPOLOGY_EXP; i++) {
        assert_int_equal(rumor_topology_kind_parse(rumor_topology_kind_name(i), &k, NULL), 0);
        assert_int_equal(k, i);
    }
    assert_null(rumor_topology_kind_name((rumor_topology_kind_t)(RUMOR_TOPOLOGY_EXP + 1)));
    expect_gen_error((rumor_topology_gen_t){.kind = (rumor_topology_kind_t)7, .n = 8},
                     "unknown kind 7");
    expect_gen_error((rumor_topology_gen_t){.kind = RUMOR_TOPOLOGY_RING, .n = 1},
                     "ring: n = 1 (must be 2");
    expect_gen_error((rumor_topology_gen_t){.kind = RUMOR_TOPOLOGY_TORUS, .n = 12},
                     "torus: n = 12 is not a square");
    expect_gen_error((rumor_topology_gen_t){.kind = RUMOR_TOPOLOGY_TORUS, .n = 12, .rows = 5},
                     "not a multiple of rows = 5");
    expect_gen_error((rumor_topology_gen_t){.kind = RUMOR_TOPOLOGY_REGULAR, .n = 5, .k = 3},
                     "k*n = 3*5 is odd");
    expect_gen_error((rumor_topology_gen_t){.kind = RUMOR_TOPOLOGY_REGULAR, .n = 8, .k = 8},
                     "k = 8 (must be 1");
    expect_gen_error((rumor_topology_gen_t){.kind = RUMOR_TOPOLOGY_REGULAR, .n = 8, .k = 1},
                     "never connected");
    expect_gen_error((rumor_topology_gen_t){.kind = RUMOR_TOPOLOGY_ER, .n = 8, .p = 0},
                     "er: p = 0");
    expect_gen_error(
        (rumor_topology_gen_t){.kind = RUMOR_TOPOLOGY_RING, .n = 100, .port_base = 65500},
        "run past 65535");
    expect_gen_error((rumor_topology_gen_t){.kind = RUMOR_TOPOLOGY_HYPERCUBE, .n = 12},
                     "hypercube: n = 12 is not a power of two");
    expect_gen_error((rumor_topology_gen_t){.kind = RUMOR_TOPOLOGY_EXP, .n = 1},
                     "exp: n = 1 (must be 2");
}

static void test_shipped_topologies(void **state)
{
    (void)state;
    static const struct {
        const char *file, *name;
        uint32_t n, port;
        int degree; /* -1: varies */
    } want[] = {{"ring8.json", "ring8", 8, 7400, 2},
                {"ring16.json", "ring16", 16, 7500, 2},
                {"torus16.json", "torus16", 16, 7600, 4},
                {"random32.json", "random32", 32, 7700, -1}};
    for (size_t k = 0; k < sizeof want / sizeof want[0]; k++) {
        char file[512];
        snprintf(file, sizeof file, "%s/topologies/%s", source_dir(), want[k].file);
        rumor_errmsg_t em = {{0}};
        rumor_topology_t *t = NULL;
        if (rumor_topology_load(file, &t, &em) != 0) fail_msg("%s", em.msg);
        assert_string_equal(t->name, want[k].name);
        assert_int_equal(t->n, want[k].n);
        assert_int_equal(t->weights_explicit, 0);
        for (uint32_t i = 0; i < t->n; i++) {
            char ep[64];
            snprintf(ep, sizeof ep, "tcp://127.0.0.1:%u", want[k].port + i);
            assert_string_equal(t->nodes[i].endpoint, ep);
            assert_string_equal(t->nodes[i].public_key, "");
            if (want[k].degree >= 0)
                assert_int_equal(rumor_topology_degree(t, i), (uint32_t)want[k].degree);
        }
        assert_true(rumor_topology_spectral_gap(t) > 0.01);
        rumor_topology_destroy(&t);
    }
    /* Every shipped file, including ones added later, must load. */
    char dir[512];
    snprintf(dir, sizeof dir, "%s/topologies", source_dir());
    DIR *d = opendir(dir);
    assert_non_null(d);
    int files = 0;
    for (struct dirent *de; (de = readdir(d));) {
        const size_t len = strlen(de->d_name);
        if (len < 5 || strcmp(de->d_name + len - 5, ".json") != 0) continue;
        char file[1024];
        snprintf(file, sizeof file, "%s/%s", dir, de->d_name);
        rumor_errmsg_t em = {{0}};
        rumor_topology_t *t = NULL;
        if (rumor_topology_load(file, &t, &em) != 0) fail_msg("%s", em.msg);
        rumor_topology_destroy(&t);
        files++;
    }
    closedir(d);
    assert_true(files >= 4);
}

static int fuzz_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    static uint8_t buf[1 << 20];
    const size_t len = fread(buf, 1, sizeof buf, f);
    fclose(f);
    LLVMFuzzerTestOneInput(buf, len);
    /* Every prefix and a few byte flips: truncated and damaged files fail cleanly. */
    for (size_t cut = 0; cut < len; cut += 1 + len / 64) LLVMFuzzerTestOneInput(buf, cut);
    uint64_t x = 0x9e3779b97f4a7c15ULL;
    for (int k = 0; k < 64 && len > 0; k++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        const size_t at = (size_t)(x % len);
        const uint8_t old = buf[at];
        buf[at] = (uint8_t)(x >> 32);
        LLVMFuzzerTestOneInput(buf, len);
        buf[at] = old;
    }
    return 0;
}

static void test_fuzz_target_on_seed_corpus(void **state)
{
    (void)state;
    char dir[512];
    snprintf(dir, sizeof dir, "%s/tests/fuzz/corpus/topology", source_dir());
    DIR *d = opendir(dir);
    assert_non_null(d);
    int files = 0;
    for (struct dirent *de; (de = readdir(d));) {
        if (de->d_name[0] == '.') continue;
        char file[1024];
        snprintf(file, sizeof file, "%s/%s", dir, de->d_name);
        assert_int_equal(fuzz_file(file), 0);
        files++;
    }
    closedir(d);
    assert_true(files >= 3);
}

/* Runs `$RUMOR_BIN args` through the shell; returns the exit status and the output. */
static int run_rumor(const char *args, char *out, size_t cap)
{
    const char *bin = getenv("RUMOR_BIN");
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "'%s' %s", bin, args);
    return s_capture(cmd, out, cap);
}

static void test_cli_gen_and_check(void **state)
{
    (void)state;
    const char *bin = getenv("RUMOR_BIN");
    if (!bin || access(bin, X_OK) != 0) skip();
    static char out[1 << 16];
    const char *path = tmp_path("cli.json");
    char args[1024];
    snprintf(args, sizeof args, "topo gen torus --n 9 --port-base 7800 -o '%s'", path);
    assert_int_equal(run_rumor(args, out, sizeof out), 0);
    snprintf(args, sizeof args, "topo check '%s'", path);
    assert_int_equal(run_rumor(args, out, sizeof out), 0);
    if (!strstr(out, "torus3x3") || !strstr(out, "spectral gap  0.600000000"))
        fail_msg("unexpected check output:\n%s", out);

    assert_int_equal(run_rumor("topo gen ring --n 5 --ipc /tmp/rr", out, sizeof out), 0);
    assert_non_null(strstr(out, "\"endpoint\": \"ipc:///tmp/rr/ring5-4.sock\""));
    rumor_topology_t *t = parse_ok(out);
    assert_int_equal(t->n, 5);
    rumor_topology_destroy(&t);

    char bad[512];
    snprintf(bad, sizeof bad, "%s/tests/data/topo_bad_duplicate_edge.json", source_dir());
    snprintf(args, sizeof args, "topo check '%s' '%s'", path, bad);
    assert_int_equal(run_rumor(args, out, sizeof out), 1);
    assert_non_null(strstr(out, "edges[2]: duplicate edge 1-2"));
    assert_non_null(strstr(out, "torus3x3"));
    assert_int_equal(run_rumor("topo gen er --n 8", out, sizeof out), 2);
    assert_non_null(strstr(out, "er needs --p"));
    assert_int_equal(run_rumor("topo gen ring --n 8 --k 3", out, sizeof out), 2);
    assert_int_equal(run_rumor("topo gen --help", out, sizeof out), 0);
    assert_non_null(strstr(out, "--port-base"));
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ring_gap_matches_closed_form),
        cmocka_unit_test(test_torus_gap_matches_closed_form),
        cmocka_unit_test(test_hypercube_gap_matches_closed_form),
        cmocka_unit_test(test_exp_gap_matches_closed_form),
        cmocka_unit_test(test_torus_thin_dimensions),
        cmocka_unit_test(test_metropolis_symmetric_doubly_stochastic),
        cmocka_unit_test(test_degree_and_neighbors),
        cmocka_unit_test(test_slot_finds_each_neighbour),
        cmocka_unit_test(test_validation_errors_name_the_field),
        cmocka_unit_test(test_validate_in_memory),
        cmocka_unit_test(test_explicit_weights),
        cmocka_unit_test(test_save_load_round_trip),
        cmocka_unit_test(test_load_errors_name_the_file),
        cmocka_unit_test(test_hash_sensitivity),
        cmocka_unit_test(test_hash_golden),
        cmocka_unit_test(test_er_connected_and_reproducible),
        cmocka_unit_test(test_regular_degrees),
        cmocka_unit_test(test_generator_errors),
        cmocka_unit_test(test_shipped_topologies),
        cmocka_unit_test(test_fuzz_target_on_seed_corpus),
        cmocka_unit_test(test_cli_gen_and_check),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
