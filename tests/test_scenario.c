/* Tests of scenario: shipped files load, defaults apply, every error names its field, and the
 * run-config hash tracks what peers must agree on. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "rumor/scenario.h"

#include <dirent.h>
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
    assert_string_equal(sc.topo_kind, "torus");
    assert_int_equal(sc.topo_gen.n, 16);
    assert_int_equal(sc.data, RUMOR_DATA_SYNTHETIC);
    assert_true(sc.dirichlet_alpha == 0.5);
    assert_int_equal(sc.algo, RUMOR_ALGO_CHOCO);
    assert_true(sc.lr == 0.2);
    assert_int_equal(sc.rounds, 7);
    assert_int_equal(sc.batch, 32); /* default */
    assert_int_equal(sc.deadline, 1);
    assert_int_equal(sc.deadline_ms, 250);

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
        {"{\"rounds\": 10}", "x.json: rounds: unknown key"},
        {"{\"data\": {\"partition\": \"dirichlet:-1\"}}", "x.json: data.partition:"},
        {"{\"data\": {\"name\": \"cifar\"}}", "x.json: data.name: expected fashion-mnist"},
        {"{\"data\": {\"name\": \"libsvm\", \"path\": \"a\"}}", "x.json: data.path: libsvm"},
        {"{\"topology\": {\"n\": 8}}", "x.json: topology.generate: missing"},
        {"{\"topology\": 5}", "x.json: topology: expected a file name or an object"},
        {"{\"round_mode\": \"async\"}", "x.json: round_mode: expected"},
        {"{\"seed\": -3}", "x.json: seed: expected an integer"},
        {"[1, 2]", "x.json: expected a JSON object"},
        {"{\"name\": \"a\",}", "x.json:1:"},
        {"{\"name\": \"a\", \"name\": \"b\"}", "x.json:1:"},
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
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shipped_scenarios_load),
        cmocka_unit_test(test_fields_and_defaults),
        cmocka_unit_test(test_errors_name_the_field),
        cmocka_unit_test(test_hash_tracks_agreement),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
