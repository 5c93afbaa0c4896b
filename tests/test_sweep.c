/* Tests of sweep: grids load into the cells they describe (or are refused with the file and the
 * key named), and `rumor sweep` runs a tiny grid of the synthetic scenario into results rows,
 * a summary whose figures are the rows' means and standard deviations, and curves; it
 * resumes with only the cells that have no row, and stops cleanly on SIGINT. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "rumor/sweep.h"
#include "support.h"

#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *s_src(void)
{
    const char *d = getenv("RUMOR_SOURCE_DIR");
    return d ? d : RUMOR_SOURCE_DIR;
}

/* Writes text to the scratch file name; returns its path (a rotating buffer). */
static const char *s_write(const char *name, const char *text)
{
    const char *path = s_scratch(name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

/* A grid over the synthetic ring of 8: base, then the rest of the object. */
static const char *s_grid(const char *name, const char *rest)
{
    char text[4096];
    snprintf(text, sizeof text, "{\"base\": \"%s/sims/synthetic-ring8-malcom.json\", %s}", s_src(),
             rest);
    return s_write(name, text);
}

static rumor_sweep_t *s_load(const char *path)
{
    rumor_sweep_t *s = NULL;
    rumor_errmsg_t em = {""};
    if (rumor_sweep_load(path, 0, &s, &em)) fail_msg("%s", em.msg);
    return s;
}

/* Loading the grid's rest must fail with a message that contains want. */
static void s_refused(const char *rest, const char *want)
{
    const char *path = s_grid("bad.json", rest);
    rumor_sweep_t *s = NULL;
    rumor_errmsg_t em = {""};
    if (rumor_sweep_load(path, 0, &s, &em) == 0) fail_msg("accepted: %s", rest);
    assert_null(s);
    if (!strstr(em.msg, want)) fail_msg("for %s\nwant \"%s\"\n got \"%s\"", rest, want, em.msg);
}

static void test_malformed_grids_name_the_key(void **state)
{
    (void)state;
    /* {the grid's members besides base, what the error must say} */
    static const char *const cases[][2] = {
        {"\"seeds\": [1, 2, 3], \"seed\": 4", "bad.json: seed: unknown key"},
        {"\"seeds\": [1, 2]", "bad.json: seeds: expected an array of 3 or more distinct"},
        {"\"seeds\": [1, 2, 1]", "bad.json: seeds: expected an array of 3 or more distinct"},
        {"\"seeds\": [1, 2, -3]", "bad.json: seeds: expected an array"},
        {"\"rounds\": 0, \"seeds\": [1, 2, 3]", "bad.json: rounds: expected a whole number"},
        {"\"description\": 3, \"seeds\": [1, 2, 3]", "bad.json: description: expected a string"},
        {"\"seeds\": [1, 2, 3], \"name\": \"a/b\"", "bad.json: name: expected letters, digits"},
        {"\"seeds\": [1, 2, 3], \"variations\": [{\"name\": \"x\", \"set\": "
         "{\"algorithm.lamda\": 0}}]",
         "bad.json: variation \"x\": algorithm.lamda: unknown key"},
        {"\"seeds\": [1, 2, 3], \"variations\": [{\"name\": \"x\", \"set\": "
         "{\"algorithm\": {\"lr\": -1}}}]",
         "bad.json: variation \"x\": algorithm.lr: expected"},
        {"\"seeds\": [1, 2, 3], \"variations\": [{\"name\": \"x\", \"set\": "
         "{\"model.hidden\": 3}}]",
         "bad.json: variations[0].set: model.hidden: model is not an object"},
        {"\"seeds\": [1, 2, 3], \"variations\": [{\"name\": \"x\", \"sett\": {}}]",
         "bad.json: variations[0].sett: unknown key"},
        {"\"seeds\": [1, 2, 3], \"variations\": [{\"name\": \"x\"}, {\"name\": \"x\"}]",
         "bad.json: variations: \"x\" and \"x\" are one name"},
        {"\"seeds\": [1, 2, 3], \"axes\": [{\"key\": \"codec\", \"values\": []}]",
         "bad.json: axes[0].values: expected a non-empty array"},
        {"\"seeds\": [1, 2, 3], \"axes\": [{\"key\": \"codec\", \"valuez\": [1]}]",
         "bad.json: axes[0].valuez: unknown key"},
        {"\"seeds\": [1, 2, 3], \"axes\": [{\"key\": \"codec\", \"values\": [\"zip\"]}]",
         "bad.json: variation \"codec=zip\": codec: expected auto, raw, vsc or arith, got 'zip'"},
        {"\"seeds\": [1, 2, 3], \"axes\": [{\"key\": \"compressor\", \"values\": "
         "[\"dither:8:bias\"]}]",
         "bad.json: variation \"compressor=dither:8:bias\": compressor 'dither:8:bias'"},
        {"\"seeds\": [1, 2, 3], \"axes\": [{\"key\": \"algorithm.lr\", \"values\": [-1]}]",
         "bad.json: variation \"lr=-1\": algorithm.lr: expected"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) s_refused(cases[i][0], cases[i][1]);

    /* The base: missing, not given, or itself a bad scenario. */
    const char *path = s_write("nobase.json", "{\"base\": \"missing.json\", \"seeds\": [1, 2, 3]}");
    rumor_sweep_t *s = NULL;
    rumor_errmsg_t em = {""};
    assert_int_not_equal(rumor_sweep_load(path, 0, &s, &em), 0);
    if (!strstr(em.msg, "nobase.json: base: ") || !strstr(em.msg, "missing.json"))
        fail_msg("%s", em.msg);
    path = s_write("nobase.json", "{\"seeds\": [1, 2, 3]}");
    assert_int_not_equal(rumor_sweep_load(path, 0, &s, &em), 0);
    if (!strstr(em.msg, "nobase.json: base: expected the path")) fail_msg("%s", em.msg);
    s_write("badbase.json", "{\"algorithm\": {\"lr\": \"fast\"}}");
    path = s_write("g.json", "{\"base\": \"badbase.json\", \"seeds\": [1, 2, 3]}");
    assert_int_not_equal(rumor_sweep_load(path, 0, &s, &em), 0);
    if (!strstr(em.msg, "g.json: base: ") || !strstr(em.msg, "badbase.json: algorithm.lr:"))
        fail_msg("%s", em.msg);
    path = s_write("g.json", "{\"base\": ");
    assert_int_equal(rumor_sweep_load(path, 0, &s, &em), RUMOR_EFORMAT);
    if (!strstr(em.msg, "g.json:1:")) fail_msg("%s", em.msg);
}

/* Dotted keys and nested objects merge alike; axes cross every variation, the last axis
 * fastest; cells are seed-major; relative paths become absolute against their own files. */
static void test_variations_merge_and_cross(void **state)
{
    (void)state;
    rumor_sweep_t *s = s_load(s_grid(
        "g.json", "\"seeds\": [5, 6, 7], \"rounds\": 9, \"description\": \"d\","
                  " \"set\": {\"algorithm\": {\"gamma\": 0.25}},"
                  " \"variations\": [{\"name\": \"dotted\", \"set\": {\"algorithm.lambda\": 0.01}},"
                  "  {\"name\": \"nested\", \"set\": {\"algorithm\": {\"lambda\": 0.01}}}],"
                  " \"axes\": [{\"key\": \"algorithm.lr\", \"values\": [0.1, 0.2], \"name\": "
                  "\"eta\"}, {\"key\": \"codec\", \"values\": [\"raw\", \"vsc\"], \"labels\": "
                  "[\"R\", \"V\"]}]"));
    assert_string_equal(s->name, "g");
    assert_string_equal(s->description, "d");
    assert_int_equal(s->n_variations, 8);
    assert_int_equal(s->n_cells, 24);
    assert_string_equal(s->variation[0], "dotted eta=0.1 codec=R");
    assert_string_equal(s->variation[1], "dotted eta=0.1 codec=V");
    assert_string_equal(s->variation[2], "dotted eta=0.2 codec=R");
    assert_string_equal(s->variation[4], "nested eta=0.1 codec=R");
    assert_string_equal(s->slug[4], "nested_eta=0.1_codec=R");
    /* the same scenario by either spelling, with the base's other members kept */
    assert_string_equal(s->cells[0].scenario, s->cells[4].scenario);
    assert_string_equal(s->cells[0].config, s->cells[4].config);
    assert_string_not_equal(s->cells[0].config, s->cells[1].config);
    json_t *sc = json_loads(s->cells[2].scenario, 0, NULL);
    assert_non_null(sc);
    assert_true(json_real_value(json_object_get(json_object_get(sc, "algorithm"), "lr")) == 0.2);
    assert_true(json_real_value(json_object_get(json_object_get(sc, "algorithm"), "gamma")) ==
                0.25);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(sc, "algorithm"), "batch")),
                     16);
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(sc, "algorithm"), "rounds")), 9);
    assert_string_equal(json_string_value(json_object_get(sc, "codec")), "raw");
    json_decref(sc);
    assert_true(s->cells[0].seed == 5 && s->cells[7].seed == 5 && s->cells[8].seed == 6);
    char path[1024];
    assert_int_equal(rumor_sweep_cell_path(s, "o", 9, "log.txt", path, sizeof path), 0);
    assert_string_equal(path, "o/cells/dotted_eta=0.1_codec=V/seed-6/log.txt");
    rumor_sweep_destroy(&s);
    assert_null(s);

    /* A base with a topology file beside it, resolved against the base's directory. */
    char topo[1024], cmd[2300];
    snprintf(topo, sizeof topo, "%s/topologies/ring8.json", s_src());
    snprintf(cmd, sizeof cmd, "mkdir -p %s && cp %s %s", s_scratch("sims"), topo,
             s_scratch("r8.json"));
    assert_int_equal(system(cmd), 0);
    s_write("sims/b.json", "{\"topology\": \"../r8.json\", \"data\": {\"name\": \"synthetic\"}}");
    s = s_load(s_write("g2.json", "{\"base\": \"sims/b.json\", \"seeds\": [1, 2, 3]}"));
    assert_int_equal(s->n_variations, 1);
    assert_string_equal(s->variation[0], "base");
    char want[1200];
    char *real = realpath(s_scratch("r8.json"), NULL);
    snprintf(want, sizeof want, "\"topology\": \"%s\"", real);
    free(real);
    if (!strstr(s->cells[0].scenario, want)) fail_msg("%s", s->cells[0].scenario);
    rumor_sweep_destroy(&s);
}

/* The rows of a results file, as a JSON array. */
static json_t *s_rows(const char *path)
{
    json_t *rows = json_array();
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[8192];
    while (fgets(line, sizeof line, f)) {
        json_t *row = json_loads(line, 0, NULL);
        if (!row) fail_msg("%s: not JSON: %s", path, line);
        json_array_append_new(rows, row);
    }
    fclose(f);
    return rows;
}

/* The cell of the summary table row of variation name in column col (0 = variation). */
static void s_cell(const char *md, const char *name, int col, char *out, size_t cap)
{
    char head[256];
    snprintf(head, sizeof head, "\n| %s |", name);
    const char *at = strstr(md, head);
    if (!at) fail_msg("no row %s in\n%s", name, md);
    at += 1;
    for (int k = 0; k <= col; k++) at = strchr(at, '|') + 1;
    const char *end = strchr(at, '|');
    while (*at == ' ') at++;
    size_t n = (size_t)(end - at);
    while (n && at[n - 1] == ' ') n--;
    snprintf(out, cap, "%.*s", (int)n, at);
}

/* "mean ± std" of key (times scale) over the ok rows of variation var, as the summary prints
 * it; *count is how many rows had the key. */
static void s_expect(const json_t *rows, const char *var, const char *key, double scale, int prec,
                     char *out, size_t cap, int *count)
{
    double x[16];
    int n = 0;
    for (size_t i = 0; i < json_array_size(rows); i++) {
        const json_t *row = json_array_get(rows, i), *v = json_object_get(row, key);
        if (!strcmp(json_string_value(json_object_get(row, "variation")), var) && json_is_number(v))
            x[n++] = json_number_value(v) * scale;
    }
    double mean = 0, ss = 0;
    for (int i = 0; i < n; i++) mean += x[i] / n;
    for (int i = 0; i < n; i++) ss += (x[i] - mean) * (x[i] - mean);
    if (n > 1)
        snprintf(out, cap, "%.*f ± %.*f", prec, mean, prec, sqrt(ss / (n - 1)));
    else if (n == 1)
        snprintf(out, cap, "%.*f", prec, mean);
    else
        snprintf(out, cap, "—");
    *count = n;
}

static char *s_read(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) fail_msg("%s: missing", path);
    char *buf = calloc(1, 1 << 20);
    const size_t n = fread(buf, 1, (1 << 20) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* The tiny grid: 2 variations x 3 seeds of the synthetic ring, `rounds` rounds. */
static const char *s_tiny(uint32_t rounds)
{
    char rest[1024];
    snprintf(rest, sizeof rest,
             "\"name\": \"tiny\", \"seeds\": [1, 2, 3], \"rounds\": %u,"
             " \"set\": {\"eval_every\": 10, \"target_acc\": 0.98},"
             " \"variations\": [{\"name\": \"raw\", \"set\": {\"codec\": \"raw\"}},"
             "  {\"name\": \"vsc l0\", \"set\": {\"codec\": \"vsc\", \"algorithm.lambda\": 0}}]",
             rounds);
    return s_grid("tiny.json", rest);
}

/* Runs `rumor sweep GRID -j 2 --out DIR`; returns its exit status and its output in out. */
static int s_sweep(const char *grid, const char *dir, char *out, size_t cap)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "RUMOR_PLOT=%s/scripts/plot %s sweep %s -j 2 --out %s", s_src(),
             getenv("RUMOR_BIN"), grid, dir);
    return s_capture(cmd, out, cap);
}

static void test_sweep_runs_summarises_and_resumes(void **state)
{
    (void)state;
    if (!getenv("RUMOR_BIN")) skip();
    char grid[1024], dir[1024], results[1100], md[1100], out[16384];
    snprintf(grid, sizeof grid, "%s", s_tiny(40));
    snprintf(dir, sizeof dir, "%s", s_scratch("tiny"));
    snprintf(results, sizeof results, "%s/results.jsonl", dir);
    snprintf(md, sizeof md, "%s/summary.md", dir);
    if (s_sweep(grid, dir, out, sizeof out) != 0) fail_msg("%s", out);
    if (!strstr(out, "6 to run, 2 at a time") || !strstr(out, "[6/6]")) fail_msg("%s", out);

    json_t *rows = s_rows(results);
    assert_int_equal(json_array_size(rows), 6);
    int seen[2][4] = {{0}};
    for (size_t i = 0; i < 6; i++) {
        const json_t *row = json_array_get(rows, i);
        const char *var = json_string_value(json_object_get(row, "variation"));
        const json_int_t seed = json_integer_value(json_object_get(row, "seed"));
        assert_true(seed >= 1 && seed <= 3);
        seen[!strcmp(var, "raw") ? 0 : 1][seed]++;
        assert_string_equal(json_string_value(json_object_get(row, "status")), "ok");
        const char *keys[] = {"acc_avg_model", "acc_min", "density",
                              "bytes_sent",    "wall_s",  "target_acc"};
        for (size_t k = 0; k < sizeof keys / sizeof *keys; k++)
            if (!json_is_number(json_object_get(row, keys[k])))
                fail_msg("row %zu: no %s", i, keys[k]);
        const json_t *tr = json_object_get(row, "target_round");
        assert_true(json_is_integer(tr) || json_is_null(tr));
        assert_int_equal(json_integer_value(json_object_get(row, "round")), 40);
    }
    for (int v = 0; v < 2; v++)
        for (int sd = 1; sd <= 3; sd++) assert_int_equal(seen[v][sd], 1);

    /* The summary's figures are the rows' means and standard deviations. */
    char *text = s_read(md);
    const char *vars[] = {"raw", "vsc l0"};
    for (int v = 0; v < 2; v++) {
        char got[128], want[128];
        int n;
        s_cell(text, vars[v], 1, got, sizeof got);
        assert_string_equal(got, "3");
        s_expect(rows, vars[v], "acc_avg_model", 1, 4, want, sizeof want, &n);
        s_cell(text, vars[v], 5, got, sizeof got);
        assert_string_equal(got, want);
        s_expect(rows, vars[v], "bytes_sent", 1e-6, 3, want, sizeof want, &n);
        s_cell(text, vars[v], 9, got, sizeof got);
        assert_string_equal(got, want);
        s_expect(rows, vars[v], "acc_min", 1, 4, want, sizeof want, &n);
        s_cell(text, vars[v], 6, got, sizeof got);
        assert_string_equal(got, want);
        s_expect(rows, vars[v], "target_bytes", 1e-6, 3, want, sizeof want, &n);
        char reached[160];
        snprintf(reached, sizeof reached, "%s (%d/3)", want, n);
        s_cell(text, vars[v], 3, got, sizeof got);
        assert_string_equal(got, reached);
    }
    free(text);
    /* A curve per variation: the mean of the seeds' records at each evaluation. */
    char path[1200];
    snprintf(path, sizeof path, "%s/curves/vsc_l0.jsonl", dir);
    json_t *curve = s_rows(path);
    assert_int_equal(json_array_size(curve), 4);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(curve, 3), "round")), 40);
    double mean = 0, grad = 0;
    for (size_t i = 0; i < 6; i++)
        if (!strcmp(json_string_value(json_object_get(json_array_get(rows, i), "variation")),
                    "vsc l0")) {
            mean += json_number_value(json_object_get(json_array_get(rows, i), "bytes_sent")) / 3;
            grad +=
                json_number_value(json_object_get(json_array_get(rows, i), "grad_norm_avg")) / 3;
        }
    assert_true(fabs(json_number_value(json_object_get(json_array_get(curve, 3), "bytes_sent")) -
                     mean) < 0.1);
    const json_t *g = json_object_get(json_array_get(curve, 3), "grad_norm_avg");
    assert_true(json_is_number(g) && grad > 0);
    assert_true(fabs(json_number_value(g) - grad) <= 1e-5 * grad);
    json_decref(curve);
    if (system("command -v gnuplot >/dev/null") == 0) {
        struct stat st;
        static const char *const plots[] = {"accuracy-mb", "acc-min-mb", "grad-norm-mb"};
        for (size_t i = 0; i < sizeof plots / sizeof plots[0]; i++) {
            snprintf(path, sizeof path, "%s/%s.png", dir, plots[i]);
            if (stat(path, &st) != 0 || st.st_size < 1000) fail_msg("no plot: %s", path);
        }
    }

    /* Resume: a torn last line, a row of an older scenario and two rows gone. The four cells
     * with a row are not run again (their logs stay as a marker left them); the others are, to
     * the same figures. */
    FILE *f = fopen(results, "w");
    assert_non_null(f);
    for (size_t i = 0; i < 4; i++) {
        char *t = json_dumps(json_array_get(rows, i), JSON_COMPACT);
        fprintf(f, "%s\n", t);
        free(t);
    }
    json_t *old = json_deep_copy(json_array_get(rows, 4));
    json_object_set_new(old, "config", json_string("0123"));
    char *t = json_dumps(old, JSON_COMPACT);
    fprintf(f, "%s\n{\"variation\": \"raw\", \"se", t);
    free(t);
    json_decref(old);
    fclose(f);
    const json_t *kept = json_array_get(rows, 0);
    char log[1200];
    snprintf(log, sizeof log, "%s/cells/%s/seed-%lld/log.txt", dir,
             !strcmp(json_string_value(json_object_get(kept, "variation")), "raw") ? "raw"
                                                                                   : "vsc_l0",
             (long long)json_integer_value(json_object_get(kept, "seed")));
    f = fopen(log, "w");
    assert_non_null(f);
    fputs("marker\n", f);
    fclose(f);
    if (s_sweep(grid, dir, out, sizeof out) != 0) fail_msg("%s", out);
    if (!strstr(out, "2 rows of other cells or older scenarios (or a torn line) dropped") ||
        !strstr(out, "4 done already, 2 to run") || !strstr(out, "[6/6]"))
        fail_msg("%s", out);
    text = s_read(log);
    assert_string_equal(text, "marker\n");
    free(text);
    json_t *again = s_rows(results);
    assert_int_equal(json_array_size(again), 6);
    for (size_t i = 4; i < 6; i++) {
        const json_t *a = json_array_get(again, i);
        for (size_t j = 0; j < 6; j++) {
            const json_t *b = json_array_get(rows, j);
            if (json_integer_value(json_object_get(a, "seed")) !=
                    json_integer_value(json_object_get(b, "seed")) ||
                strcmp(json_string_value(json_object_get(a, "variation")),
                       json_string_value(json_object_get(b, "variation"))))
                continue;
            assert_true(json_equal(json_object_get(a, "acc_avg_model"),
                                   json_object_get(b, "acc_avg_model")));
            assert_true(
                json_equal(json_object_get(a, "bytes_sent"), json_object_get(b, "bytes_sent")));
        }
    }
    json_decref(again);
    json_decref(rows);

    /* Nothing left: nothing runs. */
    if (s_sweep(grid, dir, out, sizeof out) != 0) fail_msg("%s", out);
    if (!strstr(out, "6 done already, 0 to run")) fail_msg("%s", out);
}

/* The grid of the interrupted sweep: raw's cells run 40 rounds, vsc l0's `rounds`. */
static const char *s_uneven(uint32_t rounds)
{
    char rest[1024];
    snprintf(rest, sizeof rest,
             "\"name\": \"uneven\", \"seeds\": [1, 2, 3],"
             " \"set\": {\"eval_every\": 10, \"algorithm.rounds\": 40},"
             " \"variations\": [{\"name\": \"raw\", \"set\": {\"codec\": \"raw\"}},"
             "  {\"name\": \"vsc l0\", \"set\": {\"codec\": \"vsc\", \"algorithm.rounds\": %u}}]",
             rounds);
    return s_grid("uneven.json", rest);
}

/* Seconds on the monotonic clock. */
static double s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* 1 when process pid is blocked in wait4 (/proc/PID/syscall); where that file cannot be read,
 * when it is in an interruptible sleep (/proc/PID/stat). */
static int s_in_wait(pid_t pid)
{
    char path[64], text[512] = "";
    snprintf(path, sizeof path, "/proc/%d/syscall", (int)pid);
#ifdef SYS_wait4
    if (s_slurp(path, text, sizeof text) == 0 && text[0])
        return strtol(text, NULL, 10) == SYS_wait4; /* "running" reads as 0 */
#endif
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    if (s_slurp(path, text, sizeof text) != 0) return 0;
    const char *paren = strrchr(text, ')'); /* the state follows "(comm)" */
    return paren && paren[1] == ' ' && paren[2] == 'S';
}

/* 1 when vsc l0's cell of seed `seed` in the sweep's output dir has its metrics file. */
static int s_started(const char *dir, int seed)
{
    char path[1200];
    struct stat st;
    snprintf(path, sizeof path, "%s/cells/vsc_l0/seed-%d/metrics.jsonl", dir, seed);
    return stat(path, &st) == 0;
}

/* Waits up to `seconds` for pid to exit; its wait status, or -1 (pid killed) when it did not. */
static int s_wait_exit(pid_t pid, double seconds)
{
    int status;
    const double t0 = s_now();
    do {
        if (waitpid(pid, &status, WNOHANG) == pid) return status;
        usleep(10000);
    } while (s_now() - t0 < seconds);
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return -1;
}

/* SIGINT to the sweep alone stops its running cells, which leave no row and run again next
 * time; the cells that finished keep theirs.
 *
 * With -j 2 the cells start in order: raw seed 1 and vsc l0 seed 1; raw seed 1 ends (40 rounds)
 * and raw seed 2 takes its place, ends, and vsc l0 seed 2 takes its place. vsc l0's cells run
 * 10^8 rounds (hours), so from then on the sweep waits for them, and only the signal can end
 * that wait: what the signal meets does not depend on how fast anything runs.
 *
 * The signal goes to a sweep in that wait whose two cells run rumor sim: rumor sweep (at
 * a44be36) passes on a signal that arrives while it handles a finished cell only when another
 * cell ends, and a cell that has not started rumor sim yet (between fork and exec) catches the
 * SIGTERM passed on to it with the sweep's handler and runs on. Those are windows of the
 * sweep, not what this test is about. */
static void test_interrupted_sweep_resumes(void **state)
{
    (void)state;
    const char *bin = getenv("RUMOR_BIN");
    if (!bin) skip();
    char grid[1024], dir[1024], results[1100], out[16384], log[1200];
    snprintf(grid, sizeof grid, "%s", s_uneven(100000000));
    snprintf(dir, sizeof dir, "%s", s_scratch("stopped"));
    snprintf(results, sizeof results, "%s/results.jsonl", dir);
    snprintf(log, sizeof log, "%s/sweep.log", dir);
    assert_int_equal(mkdir(dir, 0755), 0);
    const pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (!freopen(log, "w", stderr)) _exit(127);
        execl(bin, bin, "sweep", grid, "-j", "2", "--out", dir, (char *)NULL);
        _exit(127);
    }
    /* Both vsc l0 cells are rumor sim (which makes the metrics file), and the sweep waits. */
    const double t0 = s_now();
    while (!s_started(dir, 1) || !s_started(dir, 2) || !s_in_wait(pid)) {
        if (s_now() - t0 > 300) {
            const int status = s_wait_exit(pid, 0);
            fail_msg("vsc l0's cells did not start within 300 s (sweep status %d):\n%s", status,
                     s_read(log));
        }
        usleep(1000);
    }
    kill(pid, SIGINT);
    const int status = s_wait_exit(pid, 120);
    char *text = s_read(log);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 1 ||
        !strstr(text, "interrupted; the same command runs the cells left") ||
        !strstr(text, "vsc l0, seed 1: stopped; it runs again next time") ||
        !strstr(text, "vsc l0, seed 2: stopped; it runs again next time"))
        fail_msg("status %d (-1: still running 120 s after SIGINT):\n%s", status, text);
    free(text);
    json_t *rows = s_rows(results);
    assert_int_equal(json_array_size(rows), 2);
    for (size_t i = 0; i < 2; i++)
        assert_string_equal(
            json_string_value(json_object_get(json_array_get(rows, i), "variation")), "raw");
    text = s_read(s_scratch("stopped/summary.md"));
    assert_non_null(strstr(text, "**Incomplete"));
    free(text);
    /* Again, with vsc l0's cells as short as raw's (they changed, but had no rows to lose):
     * raw's two rows stay as they were, and the four other cells run. */
    snprintf(grid, sizeof grid, "%s", s_uneven(40));
    if (s_sweep(grid, dir, out, sizeof out) != 0) fail_msg("%s", out);
    if (!strstr(out, "2 done already, 4 to run")) fail_msg("%s", out);
    json_t *again = s_rows(results);
    assert_int_equal(json_array_size(again), 6);
    for (size_t i = 0; i < 2; i++)
        assert_true(json_equal(json_array_get(again, i), json_array_get(rows, i)));
    json_decref(again);
    json_decref(rows);
}

static int s_setup(void **state)
{
    (void)state;
    return s_scratch_make("sweep");
}

static int s_teardown(void **state)
{
    (void)state;
    return s_scratch_remove();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_malformed_grids_name_the_key),
        cmocka_unit_test(test_variations_merge_and_cross),
        cmocka_unit_test(test_sweep_runs_summarises_and_resumes),
        cmocka_unit_test(test_interrupted_sweep_resumes),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
