/* Tests of scenario: shipped files load, defaults apply, every error names its field, and the
 * run-config hash tracks what peers must agree on. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "rumor/scenario.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_shipped_scenarios_load(void **state)
{
    (void)state;
    const char *src = getenv("RUMOR_SOURCE_DIR");
    assert_non_null(src);
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/sims", src);
    DIR *dp = opendir(dir);
    assert_non_null(dp);
    int count = 0;
    struct dirent *e;
    while ((e = readdir(dp))) {
        const size_t len = strlen(e->d_name);
        if (len < 6 || strcmp(e->d_name + len - 5, ".json")) continue;
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        rumor_scenario_t sc;
        rumor_errmsg_t em = {""};
        if (rumor_scenario_load(path, &sc, &em)) fail_msg("%s", em.msg);
        rumor_topology_t *t = NULL;
        if (rumor_scenario_topology(&sc, &t, &em)) fail_msg("%s", em.msg);
        rumor_topology_destroy(&t);
        count++;
    }
    closedir(dp);
    assert_true(count >= 4);
}

static void test_fields_and_defaults(void **state)
{
    (void)state;
    rumor_scenario_t sc;
    rumor_errmsg_t em = {""};
    const char *json = "{\"name\": \"t\", \"topology\": {\"generate\": \"torus\", \"n\": 16},"
                       " \"data\": {\"name\": \"synthetic\", \"partition\": \"dirichlet:0.5\"},"
                       " \"algorithm\": {\"name\": \"choco\", \"lr\": 0.2, \"rounds\": 7},"
                       " \"round_mode\": {\"deadline_ms\": 250}}";
    assert_int_equal(rumor_scenario_parse(json, "t.json", "/base", &sc, &em), 0);
    assert_string_equal(sc.name, "t");
    assert_int_equal(sc.topo_gen.kind, RUMOR_TOPOLOGY_TORUS);
    assert_int_equal(sc.topo_gen.n, 16);
    assert_int_equal(sc.data, RUMOR_DATA_SYNTHETIC);
    assert_true(sc.dirichlet_alpha == 0.5);
    assert_int_equal(sc.algo, RUMOR_ALGO_CHOCO);
    assert_true(sc.lr == 0.2);
    assert_int_equal(sc.rounds, 7);
    assert_int_equal(sc.batch, 32);      /* default */
    assert_int_equal(sc.local_steps, 1); /* default */
    assert_int_equal(sc.prox, RUMOR_PROX_AFTER_MIX);
    assert_false(sc.prox_lr_base || sc.gamma_follows_lr);
    assert_int_equal(sc.deadline, 1);
    assert_int_equal(sc.deadline_ms, 250);

    const char *prox = "{\"algorithm\": {\"prox\": \"before-compress\", \"prox_lr\": \"base\","
                       " \"gamma_schedule\": \"lr\"}}";
    assert_int_equal(rumor_scenario_parse(prox, "t.json", "/base", &sc, &em), 0);
    assert_int_equal(sc.prox, RUMOR_PROX_BEFORE_COMPRESS);
    assert_true(sc.prox_lr_base && sc.gamma_follows_lr);

    const char *marina = "{\"algorithm\": {\"name\": \"beer\", \"sync_p\": 0.25,"
                         " \"tracking_grad\": \"same-batch\", \"participation\": 0.5}}";
    assert_int_equal(rumor_scenario_parse(marina, "t.json", "/base", &sc, &em), 0);
    assert_int_equal(sc.algo, RUMOR_ALGO_BEER);
    assert_true(sc.sync_p == 0.25 && sc.same_batch && sc.participation == 0.5);
    assert_int_equal(rumor_scenario_parse("{}", "t.json", "/base", &sc, &em), 0);
    assert_true(sc.sync_p == 0.0 && !sc.same_batch && sc.participation == 1.0); /* defaults */
    assert_false(sc.track_last);
    assert_int_equal(
        rumor_scenario_parse("{\"algorithm\": {\"name\": \"beer\", \"track\": \"last\"}}", "t.json",
                             "/base", &sc, &em),
        0);
    assert_true(sc.track_last);

    const char *rel = "{\"topology\": \"../topologies/ring8.json\"}";
    assert_int_equal(rumor_scenario_parse(rel, "x.json", "/base/sims", &sc, &em), 0);
    assert_string_equal(sc.topology_file, "/base/sims/../topologies/ring8.json");
}

static void test_errors_name_the_field(void **state)
{
    (void)state;
    const struct {
        const char *json, *want;
    } cases[] = {
        {"{\"algorithm\": {\"lr\": -1}}", "x.json: algorithm.lr: expected a number in"},
        {"{\"algorithm\": {\"lr\": \"fast\"}}", "x.json: algorithm.lr: expected a number"},
        {"{\"algorithm\": {\"batch\": 3.5}}", "x.json: algorithm.batch: expected an integer"},
        {"{\"algorithm\": {\"name\": \"adam\"}}", "x.json: algorithm.name: expected dpsgd"},
        {"{\"algorithm\": {\"lrr\": 0.1}}", "x.json: algorithm.lrr: unknown key"},
        {"{\"algorithm\": {\"momentum\": \"adam\"}}", "x.json: algorithm.momentum: expected"},
        {"{\"algorithm\": {\"momentum\": \"qgm:1\"}}", "x.json: algorithm.momentum: expected"},
        {"{\"algorithm\": {\"momentum\": 0.9}}", "x.json: algorithm.momentum: expected a string"},
        {"{\"algorithm\": {\"local_steps\": 0}}",
         "x.json: algorithm.local_steps: expected an integer in [1, 1000]"},
        {"{\"algorithm\": {\"local_steps\": 1001}}",
         "x.json: algorithm.local_steps: expected an integer in [1, 1000]"},
        {"{\"algorithm\": {\"prox\": \"before-mix\"}}",
         "x.json: algorithm.prox: expected after-mix or before-compress"},
        {"{\"algorithm\": {\"prox_lr\": 1}}", "x.json: algorithm.prox_lr: expected a string"},
        {"{\"algorithm\": {\"gamma_schedule\": \"cosine\"}}",
         "x.json: algorithm.gamma_schedule: expected constant or lr"},
        {"{\"algorithm\": {\"sync_p\": 1.5}}", "x.json: algorithm.sync_p: expected"},
        {"{\"algorithm\": {\"name\": \"dcd\", \"sync_p\": 0.5}}",
         "x.json: algorithm.sync_p: applies to choco, malcom and beer only"},
        {"{\"algorithm\": {\"participation\": 0}}", "x.json: algorithm.participation: expected"},
        {"{\"algorithm\": {\"name\": \"dpsgd\", \"participation\": 0.5}}",
         "x.json: algorithm.participation: applies to choco, malcom and beer only"},
        {"{\"algorithm\": {\"name\": \"beer\", \"tracking_grad\": \"same-batch\", \"local_steps\": "
         "2}}",
         "x.json: algorithm.local_steps: beer with tracking_grad same-batch takes one step a "
         "round"},
        {"{\"algorithm\": {\"tracking_grad\": \"same-batch\"}}",
         "x.json: algorithm.tracking_grad: applies to beer only"},
        {"{\"algorithm\": {\"name\": \"beer\", \"tracking_grad\": \"old\"}}",
         "x.json: algorithm.tracking_grad: expected fresh or same-batch"},
        {"{\"algorithm\": {\"track\": \"last\"}}", "x.json: algorithm.track: applies to beer only"},
        {"{\"algorithm\": {\"name\": \"beer\", \"track\": \"first\"}}",
         "x.json: algorithm.track: expected all or last"},
        {"{\"rounds\": 10}", "x.json: rounds: unknown key"},
        {"{\"data\": {\"partition\": \"dirichlet:-1\"}}", "x.json: data.partition:"},
        {"{\"data\": {\"name\": \"cifar\"}}", "x.json: data.name: expected fashion-mnist"},
        {"{\"data\": {\"name\": \"libsvm\", \"path\": \"a\"}}", "x.json: data.path: libsvm"},
        {"{\"topology\": {\"n\": 8}}", "x.json: topology.generate: missing"},
        /* an unknown generator, said when the scenario is read, not when the graph is made */
        {"{\"topology\": {\"generate\": \"star\", \"n\": 8}}",
         "x.json: topology.generate: unknown kind 'star' (expected ring, torus, er, regular, "
         "complete, hypercube or exp)"},
        {"{\"topology\": 5}", "x.json: topology: expected a file name or an object"},
        /* The generators' cap, said where the scenario is read. */
        {"{\"topology\": {\"generate\": \"ring\", \"n\": 4097}}",
         "x.json: topology.n: expected an integer in [2, 4096]"},
        {"{\"round_mode\": \"async\"}", "x.json: round_mode: expected"},
        {"{\"seed\": -3}", "x.json: seed: expected an integer"},
        {"[1, 2]", "x.json: expected a JSON object"},
        {"{\"name\": \"a\",}", "x.json:1:"},
        {"{\"name\": \"a\", \"name\": \"b\"}", "x.json:1:"},
        {"{\"faults\": {\"node\": 1}}", "x.json: faults: expected an array"},
        {"{\"faults\": [3]}", "x.json: faults[0]: expected an object"},
        {"{\"faults\": [{\"down\": [1, 2]}]}", "x.json: faults[0].node: missing"},
        {"{\"faults\": [{\"node\": 1, \"down\": [1, 2]}, {\"node\": 2, \"up\": 1}]}",
         "x.json: faults[1].up: unknown key"},
        {"{\"faults\": [{\"node\": -1, \"down\": [1, 2]}]}", "x.json: faults[0].node: expected"},
        {"{\"faults\": [{\"node\": 1}]}", "x.json: faults[0].down: expected [FROM, TO]"},
        {"{\"faults\": [{\"node\": 1, \"down\": [5, 5]}]}", "x.json: faults[0].down: expected"},
        {"{\"faults\": [{\"node\": 1, \"down\": [-1, 5]}]}", "x.json: faults[0].down: expected"},
        {"{\"faults\": [{\"node\": 1, \"down\": [1, 2.5]}]}", "x.json: faults[0].down: expected"},
        {"{\"faults\": [{\"node\": 1, \"down\": [1, 2, 3]}]}", "x.json: faults[0].down: expected"},
        {"{\"faults\": [{\"drop\": 1.5}]}", "x.json: faults[0].drop: expected a number in [0, 1]"},
        {"{\"faults\": [{\"drop\": \"x\"}]}", "x.json: faults[0].drop: expected a number"},
        {"{\"faults\": [{\"drop\": 0.1, \"node\": 1}]}", "x.json: faults[0].node: unknown key"},
        {"{\"faults\": [{\"drop\": 0.1, \"rounds\": [9, 5]}]}",
         "x.json: faults[0].rounds: expected"},
        {"{\"faults\": [{\"node\": 1, \"rounds\": [1, 5]}]}",
         "x.json: faults[0].rounds: unknown key"},
        {"{\"faults\": [{\"node\": 1, \"crash\": [5, 5]}]}", "x.json: faults[0].crash: expected"},
        {"{\"faults\": [{\"node\": 1, \"crash\": [1, 5], \"down\": [1, 5]}]}",
         "x.json: faults[0].down: unknown key"},
        {"{\"faults\": [{\"node\": 1, \"down\": [1, 5], \"checkpoint_every\": 5}]}",
         "x.json: faults[0].checkpoint_every: unknown key"},
        {"{\"faults\": [{\"node\": 1, \"crash\": [1, 5], \"checkpoint_every\": 0}]}",
         "x.json: faults[0].checkpoint_every: expected an integer"},
        {"{\"faults\": [{\"crash\": [1, 5]}]}", "x.json: faults[0].node: missing"},
        /* Checked at load, before any data, naming the key and the value. */
        {"{\"codec\": \"zstd\"}", "x.json: codec: expected auto, raw, vsc or arith, got 'zstd'"},
        {"{\"compressor\": \"dithr:8\"}", "x.json: compressor 'dithr:8': expected"},
        {"{\"model\": \"mlp:\"}", "x.json: model 'mlp:'"},
        {"{\"model\": \"cnn:4,8\", \"data\": {\"name\": \"synthetic\", \"dim\": 20}}",
         "x.json: model 'cnn:4,8'"},
        {"{\"model\": \"external:10\", \"algorithm\": {\"name\": \"beer\"}}",
         "x.json: model: beer tracks gradients"},
        {"{\"algorithm\": {\"schedule\": \"step:0:2\"}}",
         "x.json: algorithm.schedule 'step:0:2': expected"},
        {"{\"algorithm\": {\"name\": \"dpsgd\"}, \"compressor\": \"dither:8\"}",
         "x.json: compressor: dpsgd sends its models uncompressed: leave compressor out or make "
         "it identity, got 'dither:8'"},
        {"{\"data\": {\"redundancy\": 0}}",
         "x.json: data.redundancy: expected an integer in [1, 64]"},
        {"{\"data\": {\"redundancy\": 3}, \"algorithm\": {\"batch\": 2}}",
         "x.json: data.redundancy: more than algorithm.batch"},
        {"{\"data\": {\"redundancy\": 2}, \"algorithm\": {\"name\": \"beer\"}}",
         "x.json: data.redundancy: beer has no coded step"},
        {"{\"faults\": [{\"straggle\": 1.5}]}",
         "x.json: faults[0].straggle: expected a number in [0, 1]"},
        {"{\"faults\": [{\"straggle\": 0.1, \"late\": -2}]}",
         "x.json: faults[0].late: expected an integer in [-1, 100000000]"},
        {"{\"faults\": [{\"straggle\": 0.1, \"late\": 0.5}]}",
         "x.json: faults[0].late: expected an integer"},
        {"{\"faults\": [{\"straggle\": 0.1, \"node\": 1}]}", "x.json: faults[0].node: unknown key"},
        {"{\"faults\": [{\"straggle\": 0.1, \"nodes\": []}]}",
         "x.json: faults[0].nodes: expected an array of 1 to 16 node ids"},
        {"{\"faults\": [{\"straggle\": 0.1, \"nodes\": [\"a\"]}]}",
         "x.json: faults[0].nodes: expected node ids"},
        {"{\"faults\": [{\"straggle\": 0.1, \"rounds\": [5, 2]}]}",
         "x.json: faults[0].rounds: expected [FROM, TO]"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        rumor_scenario_t sc;
        rumor_errmsg_t em = {""};
        assert_true(rumor_scenario_parse(cases[i].json, "x.json", ".", &sc, &em) < 0);
        if (!strstr(em.msg, cases[i].want))
            fail_msg("case %zu: '%s' does not contain '%s'", i, em.msg, cases[i].want);
    }
    rumor_scenario_t sc;
    rumor_errmsg_t em = {""};
    assert_int_equal(rumor_scenario_load("/nonexistent/s.json", &sc, &em), RUMOR_EIO);
    assert_non_null(strstr(em.msg, "/nonexistent/s.json"));
}

/* Faults: parsed in order, queried by node and round, checked against the topology size, and
 * at most RUMOR_SCENARIO_FAULTS of them. */
static void test_faults(void **state)
{
    (void)state;
    rumor_scenario_t sc;
    rumor_errmsg_t em = {""};
    const char *json = "{\"faults\": [{\"node\": 3, \"down\": [500, 600]},"
                       " {\"node\": 0, \"down\": [0, 1]}, {\"node\": 3, \"down\": [700, 701]}]}";
    assert_int_equal(rumor_scenario_parse(json, "f.json", ".", &sc, &em), 0);
    assert_int_equal(sc.n_faults, 3);
    assert_int_equal(sc.faults[0].node, 3);
    assert_int_equal(sc.faults[0].from, 500);
    assert_int_equal(sc.faults[0].to, 600);
    const struct {
        uint32_t node, round;
        int down;
    } q[] = {{3, 499, 0}, {3, 500, 1}, {3, 599, 1}, {3, 600, 0}, {3, 700, 1},
             {3, 701, 0}, {0, 0, 1},   {0, 1, 0},   {1, 550, 0}, {4, 550, 0}};
    for (size_t i = 0; i < sizeof q / sizeof *q; i++)
        if (rumor_scenario_node_down(&sc, q[i].node, q[i].round) != q[i].down)
            fail_msg("node %u, round %u: expected down = %d", q[i].node, q[i].round, q[i].down);
    assert_int_equal(rumor_scenario_check_faults(&sc, 4, &em), 0);
    assert_int_equal(rumor_scenario_check_faults(&sc, 3, &em), RUMOR_EINVAL);
    assert_non_null(
        strstr(em.msg, "f.json: faults[0].node: 3 is not a node of the 3-node topology"));

    /* Message losses: the whole run unless rounds say otherwise; overlapping ones combine as
     * independent losses; check_faults leaves them alone. */
    json = "{\"faults\": [{\"drop\": 0.5}, {\"drop\": 0.2, \"rounds\": [10, 20]},"
           " {\"node\": 2, \"down\": [15, 16]}]}";
    assert_int_equal(rumor_scenario_parse(json, "f.json", ".", &sc, &em), 0);
    assert_int_equal(sc.faults[0].kind, RUMOR_FAULT_DROP);
    assert_int_equal(sc.faults[0].from, 0);
    assert_int_equal(sc.faults[0].to, 100000000);
    assert_int_equal(sc.faults[1].from, 10);
    assert_int_equal(sc.faults[2].kind, RUMOR_FAULT_DOWN);
    assert_true(rumor_scenario_drop_rate(&sc, 9) == 0.5);
    assert_true(fabs(rumor_scenario_drop_rate(&sc, 10) - 0.6) < 1e-15);
    assert_true(fabs(rumor_scenario_drop_rate(&sc, 19) - 0.6) < 1e-15);
    assert_true(rumor_scenario_drop_rate(&sc, 20) == 0.5);
    assert_int_equal(rumor_scenario_node_down(&sc, 0, 15), 0); /* a DROP entry names no node */
    assert_int_equal(rumor_scenario_node_down(&sc, 2, 15), 1);
    assert_int_equal(rumor_scenario_check_faults(&sc, 3, &em), 0);

    /* Crashes: out like DOWN, with the checkpoint interval they roll back to (default
     * RUMOR_CHECKPOINT_EVERY); check_faults checks their node. */
    json = "{\"faults\": [{\"node\": 1, \"crash\": [250, 300]},"
           " {\"node\": 2, \"crash\": [77, 90], \"checkpoint_every\": 25}]}";
    assert_int_equal(rumor_scenario_parse(json, "f.json", ".", &sc, &em), 0);
    assert_int_equal(sc.faults[0].kind, RUMOR_FAULT_CRASH);
    assert_int_equal(sc.faults[0].every, RUMOR_CHECKPOINT_EVERY);
    assert_int_equal(rumor_fault_checkpoint_round(&sc.faults[0]), 200);
    assert_int_equal(sc.faults[1].every, 25);
    assert_int_equal(rumor_fault_checkpoint_round(&sc.faults[1]), 75);
    assert_int_equal(rumor_scenario_node_down(&sc, 1, 249), 0);
    assert_int_equal(rumor_scenario_node_down(&sc, 1, 250), 1);
    assert_int_equal(rumor_scenario_node_down(&sc, 1, 300), 0);
    assert_int_equal(rumor_scenario_check_faults(&sc, 2, &em), RUMOR_EINVAL);
    assert_non_null(strstr(em.msg, "faults[1].node: 2 is not a node"));

    /* Stragglers: every node, or those listed, straggles with probability P in its rounds, by a
     * coin of (seed, node, round) alone; late defaults to 0. */
    json = "{\"faults\": [{\"straggle\": 0.3, \"late\": -1},"
           " {\"straggle\": 1, \"rounds\": [10, 20], \"nodes\": [2]}]}";
    assert_int_equal(rumor_scenario_parse(json, "f.json", ".", &sc, &em), 0);
    assert_int_equal(sc.faults[0].kind, RUMOR_FAULT_STRAGGLE);
    assert_int_equal(sc.faults[0].late, -1);
    assert_int_equal(sc.faults[0].to, 100000000);
    assert_int_equal(sc.faults[1].late, 0);
    assert_int_equal(sc.faults[1].n_nodes, 1);
    uint32_t hits = 0;
    for (uint32_t t = 20; t < 10020; t++) hits += rumor_scenario_straggler(&sc, 1, t) != NULL;
    if (hits < 3000 - 5 * 46 || hits > 3000 + 5 * 46) fail_msg("%u stragglers of 10000", hits);
    for (uint32_t t = 10; t < 20; t++) assert_non_null(rumor_scenario_straggler(&sc, 2, t));
    assert_int_equal(rumor_scenario_node_down(&sc, 2, 15), 0);
    rumor_scenario_t other;
    assert_int_equal(rumor_scenario_parse(json, "g.json", ".", &other, &em), 0);
    for (uint32_t t = 0; t < 100; t++)
        assert_true(!rumor_scenario_straggler(&sc, 3, t) ==
                    !rumor_scenario_straggler(&other, 3, t));
    assert_int_equal(rumor_scenario_check_faults(&sc, 3, &em), 0);
    assert_int_equal(rumor_scenario_check_faults(&sc, 2, &em), RUMOR_EINVAL);
    assert_non_null(strstr(em.msg, "faults[1].nodes[0]: 2 is not a node of the 2-node topology"));
    sc.algo = RUMOR_ALGO_BEER;
    assert_int_equal(rumor_scenario_check_faults(&sc, 3, &em), RUMOR_EINVAL);
    assert_non_null(strstr(em.msg, "faults[0].straggle: beer has no straggler mode"));

    /* No faults by default; the limit is enforced. */
    assert_int_equal(rumor_scenario_parse("{}", "f.json", ".", &sc, &em), 0);
    assert_int_equal(sc.n_faults, 0);
    assert_int_equal(rumor_scenario_node_down(&sc, 0, 0), 0);
    char many[8192] = "{\"faults\": [";
    for (int i = 0; i <= RUMOR_SCENARIO_FAULTS; i++)
        snprintf(many + strlen(many), sizeof many - strlen(many),
                 "%s{\"node\": 1, \"down\": [%d, %d]}", i ? ", " : "", i, i + 1);
    strcat(many, "]}");
    assert_int_equal(rumor_scenario_parse(many, "f.json", ".", &sc, &em), RUMOR_EINVAL);
    assert_non_null(strstr(em.msg, "f.json: faults: at most 64 entries"));
}

/* 1 when the scenarios x and y (JSON text) have the same run-config hash. */
static int s_same_hash(const char *x, const char *y)
{
    rumor_scenario_t a, b;
    assert_int_equal(rumor_scenario_parse(x, "x", ".", &a, NULL), 0);
    assert_int_equal(rumor_scenario_parse(y, "y", ".", &b, NULL), 0);
    return !memcmp(a.hash, b.hash, sizeof a.hash);
}

/* The run-config hash of a few scenarios that set every field it covers, as it was before its
 * field table: peers of older builds and their checkpoints keep matching. */
static void test_hash_is_stable(void **state)
{
    (void)state;
    static const struct {
        const char *json, *hex;
    } cases[] = {
        {"{}", "358211c187b9394bc7bb465834819835d4e46e9310e56a2d1399e82dc872bb7c"},
        {"{\"data\": {\"name\": \"synthetic\", \"n\": 500, \"test_n\": 50, \"dim\": 7, "
         "\"classes\": "
         "3, \"sep\": 2.5, \"partition\": \"dirichlet:0.3\"}, \"model\": \"mlp:32\", "
         "\"algorithm\": "
         "{\"name\": \"choco\", \"lr\": 0.1, \"gamma\": 0.2, \"lambda\": 0.001, \"batch\": 16, "
         "\"rounds\": 300, \"warmup\": 5, \"local_steps\": 2, \"prox\": \"before-compress\", "
         "\"prox_lr\": \"base\", \"gamma_schedule\": \"lr\", \"sync_p\": 0.1, \"participation\": "
         "0.5, \"schedule\": \"cosine\", \"momentum\": \"quasi-global:0.9:0.5\"}, \"compressor\": "
         "\"dither:16\", \"codec\": \"vsc\", \"seed\": 7, \"round_mode\": {\"deadline_ms\": 250}, "
         "\"faults\": [{\"node\": 1, \"crash\": [10, 20], \"checkpoint_every\": 5}, {\"drop\": "
         "0.1}, {\"delay\": 2, \"p\": 0.5, \"rounds\": [1, 9]}, {\"delay_ms\": [10, 30]}, "
         "{\"node\": 2, \"down\": [3, 4]}, {\"byzantine\": \"alie\", \"nodes\": [3, 4], "
         "\"from\": 2, \"z\": 1.5}]}",
         "1ac579e11cff2451cc64d6d71f8d91d0fc655490724ed6a9fb919ddcd8f34967"},
        {"{\"algorithm\": {\"name\": \"malcom\", \"robust\": \"clip:0.5\", \"momentum\": "
         "\"heavy-ball:0.9\"}}",
         "5f86acbc1be34a838b492ce555a0000161919adbac0784465edfb1b2f2b0b2d2"},
        {"{\"algorithm\": {\"name\": \"beer\", \"tracking_grad\": \"same-batch\", \"sync_p\": "
         "0.2}, \"data\": {\"name\": \"libsvm\", \"path\": \"a\", \"test_path\": \"b\"}}",
         "ebe42b6269858d46fd8e31b6812a4bbd03f31babd4e2ef28c850a57343afe073"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rumor_scenario_t sc;
        rumor_errmsg_t em = {""};
        if (rumor_scenario_parse(cases[i].json, "h.json", ".", &sc, &em)) fail_msg("%s", em.msg);
        char hex[65];
        for (int k = 0; k < 32; k++) snprintf(hex + 2 * k, 3, "%02x", sc.hash[k]);
        if (strcmp(hex, cases[i].hex))
            fail_msg("case %zu: hash %s, expected %s", i, hex, cases[i].hex);
    }
}

static void test_hash_tracks_agreement(void **state)
{
    (void)state;
    rumor_scenario_t a, b;
    assert_int_equal(rumor_scenario_parse("{\"algorithm\": {\"lr\": 0.1}}", "a", ".", &a, NULL), 0);
    assert_int_equal(rumor_scenario_parse("{\"algorithm\": {\"lr\": 0.1}, \"eval_every\": 7}", "b",
                                          ".", &b, NULL),
                     0);
    assert_memory_equal(a.hash, b.hash, 32); /* evaluation cadence is local */
    assert_int_equal(rumor_scenario_parse("{\"algorithm\": {\"lr\": 0.2}}", "b", ".", &b, NULL), 0);
    assert_memory_not_equal(a.hash, b.hash, 32);
    b = a;
    b.seed = 2;
    rumor_scenario_rehash(&b);
    assert_memory_not_equal(a.hash, b.hash, 32);
    /* Faults are part of the run: each entry's node and rounds count. */
    const char *f1 =
        "{\"algorithm\": {\"lr\": 0.1}, \"faults\": [{\"node\": 1, \"down\": [5, 9]}]}";
    const char *f2 =
        "{\"algorithm\": {\"lr\": 0.1}, \"faults\": [{\"node\": 1, \"down\": [5, 8]}]}";
    assert_int_equal(rumor_scenario_parse(f1, "b", ".", &b, NULL), 0);
    assert_memory_not_equal(a.hash, b.hash, 32);
    rumor_scenario_t c;
    assert_int_equal(rumor_scenario_parse(f2, "c", ".", &c, NULL), 0);
    assert_memory_not_equal(b.hash, c.hash, 32);
    assert_int_equal(rumor_scenario_parse(f1, "c", ".", &c, NULL), 0);
    assert_memory_equal(b.hash, c.hash, 32);
    const char *d1 = "{\"algorithm\": {\"lr\": 0.1}, \"faults\": [{\"drop\": 0.1}]}";
    const char *d2 = "{\"algorithm\": {\"lr\": 0.1}, \"faults\": [{\"drop\": 0.2}]}";
    assert_int_equal(rumor_scenario_parse(d1, "b", ".", &b, NULL), 0);
    assert_int_equal(rumor_scenario_parse(d2, "c", ".", &c, NULL), 0);
    assert_memory_not_equal(b.hash, c.hash, 32);
    /* A straggler's lateness and the redundancy of the data count; redundancy 1 is the
     * default's hash. */
    assert_false(s_same_hash("{\"faults\": [{\"straggle\": 0.1, \"late\": -1}]}",
                             "{\"faults\": [{\"straggle\": 0.1}]}"));
    assert_false(s_same_hash("{\"data\": {\"redundancy\": 2}}", "{}"));
    assert_true(s_same_hash("{\"data\": {\"redundancy\": 1}}", "{}"));
    /* A crash is not an outage, and its checkpoint interval counts. */
    const char *c1 =
        "{\"algorithm\": {\"lr\": 0.1}, \"faults\": [{\"node\": 1, \"crash\": [5, 9]}]}";
    const char *c2 = "{\"algorithm\": {\"lr\": 0.1}, \"faults\": [{\"node\": 1, \"crash\": [5, 9],"
                     " \"checkpoint_every\": 4}]}";
    assert_int_equal(rumor_scenario_parse(f1, "b", ".", &b, NULL), 0);
    assert_int_equal(rumor_scenario_parse(c1, "c", ".", &c, NULL), 0);
    assert_memory_not_equal(b.hash, c.hash, 32);
    assert_int_equal(rumor_scenario_parse(c2, "b", ".", &b, NULL), 0);
    assert_memory_not_equal(b.hash, c.hash, 32);
    /* Momentum counts by kind and beta; "none" is the default. */
    const char *m[] = {"{\"algorithm\": {\"lr\": 0.1, \"momentum\": \"none\"}}",
                       "{\"algorithm\": {\"lr\": 0.1, \"momentum\": \"nesterov:0.9\"}}",
                       "{\"algorithm\": {\"lr\": 0.1, \"momentum\": \"nesterov:0.90\"}}",
                       "{\"algorithm\": {\"lr\": 0.1, \"momentum\": \"heavy-ball:0.9\"}}",
                       "{\"algorithm\": {\"lr\": 0.1, \"momentum\": \"nesterov:0.8\"}}"};
    const char *plain = "{\"algorithm\": {\"lr\": 0.1}}";
    assert_true(s_same_hash(plain, m[0]));
    assert_false(s_same_hash(plain, m[1]));
    assert_true(s_same_hash(m[1], m[2]));
    for (int i = 3; i < 5; i++) assert_false(s_same_hash(m[1], m[i]));
    /* Local steps count; 1 is the default. */
    const char *l[] = {"{\"algorithm\": {\"lr\": 0.1, \"local_steps\": 1}}",
                       "{\"algorithm\": {\"lr\": 0.1, \"local_steps\": 2}}",
                       "{\"algorithm\": {\"lr\": 0.1, \"local_steps\": 3}}"};
    assert_true(s_same_hash(plain, l[0]));
    assert_false(s_same_hash(plain, l[1]));
    assert_false(s_same_hash(l[1], l[2]));
    /* The prox's place, its threshold's lr and the gamma schedule count; the defaults keep
     * the hash of a scenario that does not name them. */
    const char *p[] = {"{\"algorithm\": {\"lr\": 0.1, \"prox\": \"after-mix\", \"prox_lr\": "
                       "\"schedule\", \"gamma_schedule\": \"constant\"}}",
                       "{\"algorithm\": {\"lr\": 0.1, \"prox\": \"before-compress\"}}",
                       "{\"algorithm\": {\"lr\": 0.1, \"prox_lr\": \"base\"}}",
                       "{\"algorithm\": {\"lr\": 0.1, \"gamma_schedule\": \"lr\"}}"};
    assert_true(s_same_hash(plain, p[0]));
    for (int i = 1; i < 4; i++) {
        assert_false(s_same_hash(plain, p[i]));
        for (int j = 1; j < i; j++) assert_false(s_same_hash(p[i], p[j]));
    }
    /* MARINA's options count; their defaults keep the hash. */
    const char *mm[] = {"{\"algorithm\": {\"lr\": 0.1, \"sync_p\": 0, \"participation\": 1}}",
                        "{\"algorithm\": {\"lr\": 0.1, \"sync_p\": 0.1}}",
                        "{\"algorithm\": {\"lr\": 0.1, \"participation\": 0.5}}",
                        "{\"algorithm\": {\"lr\": 0.1, \"name\": \"beer\", \"tracking_grad\": "
                        "\"fresh\"}}",
                        "{\"algorithm\": {\"lr\": 0.1, \"name\": \"beer\", \"tracking_grad\": "
                        "\"same-batch\"}}"};
    assert_true(s_same_hash(plain, mm[0]));
    assert_false(s_same_hash(plain, mm[1]));
    assert_false(s_same_hash(plain, mm[2]));
    assert_false(s_same_hash(mm[1], mm[2]));
    assert_false(s_same_hash(mm[1], "{\"algorithm\": {\"lr\": 0.1, \"sync_p\": 0.2}}"));
    assert_false(s_same_hash(mm[3], mm[4]));
    /* The tracked part counts; "all", the default, keeps the hash. */
    const char *tr[] = {"{\"algorithm\": {\"lr\": 0.1, \"name\": \"beer\", \"track\": \"all\"}}",
                        "{\"algorithm\": {\"lr\": 0.1, \"name\": \"beer\", \"track\": \"last\"}}"};
    assert_true(s_same_hash(mm[3], tr[0]));
    assert_false(s_same_hash(tr[0], tr[1]));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shipped_scenarios_load), cmocka_unit_test(test_fields_and_defaults),
        cmocka_unit_test(test_errors_name_the_field),  cmocka_unit_test(test_faults),
        cmocka_unit_test(test_hash_is_stable),         cmocka_unit_test(test_hash_tracks_agreement),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
