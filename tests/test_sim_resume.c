/* Tests of sim's checkpoints: a resumed run keeps its target, resumes across message delays,
 * runs under clip:auto+shift with an ALIE attacker and under +origin with a sign flipper
 * resume bit for bit, and a killed run
 * started again ends with exactly the models of an uninterrupted one. */
#include "sim_support.h"

/* A run resumed from a checkpoint keeps the target it had reached before it stopped. */
static void test_target_survives_a_resume(void **state)
{
    (void)state;
    rumor_scenario_t sc;
    s_scenario(&sc, "malcom", "dither:16", 0.001, 40);
    sc.eval_every = 10;
    sc.target_acc = 0.5;
    char dir[512];
    snprintf(dir, sizeof dir, "%s", s_scratch("target-ckpt"));
    const rumor_sim_opts_t opts = {.threads = 2, .checkpoint_dir = dir, .checkpoint_every = 10};
    rumor_sim_result_t res;
    rumor_errmsg_t em = {""};
    if (rumor_sim_run(&sc, &opts, &res, &em)) fail_msg("%s", em.msg);
    assert_int_equal(res.target_round, 10);
    /* The finished run, started again, evaluates its models again at round 40. */
    if (rumor_sim_run(&sc, &opts, &res, &em)) fail_msg("%s", em.msg);
    assert_int_equal(res.round, 40);
    assert_int_equal(res.target_round, 10);
    /* A checkpoint of the same run with another target does not carry this one. */
    sc.target_acc = 0.6;
    if (rumor_sim_run(&sc, &opts, &res, &em)) fail_msg("%s", em.msg);
    assert_int_equal(res.target_round, 40);
}

/* Metrics that set *stop at the record of round `at` (one thread: the run ends in the next round
 * and the checkpoint of `at` stands), noting whether SIGINT or SIGTERM had a handler, and
 * copied to `copy` unless it is NULL. */
typedef struct {
    volatile sig_atomic_t *stop;
    uint32_t at;
    int handled;
    FILE *copy;
} s_stopper_t;

static ssize_t s_stopper_write(void *cookie, const char *buf, size_t len)
{
    s_stopper_t *st = cookie;
    struct sigaction a, b;
    sigaction(SIGINT, NULL, &a);
    sigaction(SIGTERM, NULL, &b);
    st->handled |= a.sa_handler != SIG_DFL || b.sa_handler != SIG_DFL;
    char key[32];
    snprintf(key, sizeof key, "\"round\": %u,", st->at);
    if (st->at && memmem(buf, len, key, strlen(key))) *st->stop = 1;
    if (st->copy) assert_int_equal(fwrite(buf, 1, len, st->copy), len);
    return (ssize_t)len;
}

/* Runs sc on one thread, checkpointed every 10 rounds in dir and stopped after round stop_at
 * (0: never), its models into models (or NULL) and its metrics into metrics (or nowhere);
 * rumor_sim_run's code. */
static int s_run_stopped(const rumor_scenario_t *sc, const char *dir, uint32_t stop_at,
                         const char *models, FILE *metrics, rumor_errmsg_t *em)
{
    volatile sig_atomic_t stop = 0;
    s_stopper_t st = {.stop = &stop, .at = stop_at, .copy = metrics};
    FILE *mf = fopencookie(&st, "w", (cookie_io_functions_t){.write = s_stopper_write});
    assert_non_null(mf);
    setvbuf(mf, NULL, _IONBF, 0);
    rumor_sim_opts_t o = {.threads = 1, .metrics = mf, .models_out = models, .stop = &stop};
    o.checkpoint_dir = dir;
    o.checkpoint_every = 10;
    rumor_sim_result_t res;
    const int rc = rumor_sim_run(sc, &o, &res, em);
    fclose(mf);
    assert_false(st.handled); /* the library leaves signals to the program */
    return rc;
}

/* Checkpoints keep no frames in flight: a resume that DELAY faults' frames cross is refused,
 * naming the fault; one past their reach ends with the uninterrupted run's models. */
static void test_resume_across_delays(void **state)
{
    (void)state;
    rumor_scenario_t sc;
    rumor_errmsg_t em = {""};
    s_fault_scenario(&sc);
    sc.rounds = 40;
    sc.eval_every = 10;
    s_add_fault(&sc, (rumor_fault_t){.kind = RUMOR_FAULT_DROP, .drop = 0.1, .to = 40});
    s_add_fault(&sc, (rumor_fault_t){.kind = RUMOR_FAULT_DELAY, .delay = 2, .drop = 0.5, .to = 40});
    const char *m1 = s_scratch("m1.bin"), *m2 = s_scratch("m2.bin"), *dir = s_scratch("ck-delay");
    assert_int_equal(s_run_stopped(&sc, dir, 20, NULL, NULL, &em), RUMOR_EINTR);
    assert_non_null(strstr(em.msg, "interrupted inside round 20"));
    assert_int_equal(s_run_stopped(&sc, dir, 0, NULL, NULL, &em), RUMOR_EINVAL);
    if (!strstr(em.msg, "cannot resume at round 20: faults[1] (a DELAY) has frames in flight"))
        fail_msg("%s", em.msg);
    /* Delays of 2 rounds up to round 10 are over by 12: round 20 resumes bit-exact. */
    sc.faults[1].to = 10;
    rumor_scenario_rehash(&sc);
    rumor_sim_result_t r;
    free(s_run(&sc, 1, &r, m1));
    dir = s_scratch("ck-delay-2");
    assert_int_equal(s_run_stopped(&sc, dir, 20, NULL, NULL, &em), RUMOR_EINTR);
    if (s_run_stopped(&sc, dir, 0, m2, NULL, &em)) fail_msg("%s", em.msg);
    assert_true(s_same_file(m1, m2));
}

/* A run of `rounds` rounds under the robust rule `rule` with one Byzantine peer (node 5,
 * `byz`), in which the rule clips or fades more than `faded` of the attacker's terms, stopped at
 * round `stop` and resumed from its checkpoint ends with the models and the records
 * (clipped_frac_byz among them) of an uninterrupted run, byte for byte. */
static void s_robust_resumes(const char *rule, rumor_byzantine_t byz, uint32_t rounds,
                             uint32_t stop, double faded, const char *tag)
{
    rumor_scenario_t sc;
    rumor_errmsg_t em = {""};
    char m1[64], m2[64], ck[64];
    snprintf(m1, sizeof m1, "%s-m1.bin", tag);
    snprintf(m2, sizeof m2, "%s-m2.bin", tag);
    snprintf(ck, sizeof ck, "ck-%s", tag);
    s_scenario(&sc, "malcom", "dither:8:biased", 0.001, rounds);
    sc.eval_every = 10;
    assert_int_equal(rumor_robust_parse(rule, &sc.robust), 0);
    s_add_fault(&sc, (rumor_fault_t){.kind = RUMOR_FAULT_BYZANTINE,
                                     .from = byz.from,
                                     .byz = byz,
                                     .n_nodes = 1,
                                     .nodes = {5}});
    const char *p1 = s_scratch(m1), *p2 = s_scratch(m2), *dir = s_scratch(ck);
    rumor_sim_result_t r;
    char *whole = s_run(&sc, 1, &r, p1);
    print_message("%s: %.3f of the attacker's terms clipped or faded\n", rule, r.clipped_frac_byz);
    assert_true(r.clipped_frac_byz > faded); /* the attacker is faded, so the means matter */
    assert_int_equal(s_run_stopped(&sc, dir, stop, NULL, NULL, &em), RUMOR_EINTR);
    FILE *mf = tmpfile();
    assert_non_null(mf);
    if (s_run_stopped(&sc, dir, 0, p2, mf, &em)) fail_msg("%s", em.msg);
    const long len = ftell(mf);
    rewind(mf);
    char *resumed = calloc(1, (size_t)len + 1);
    assert_int_equal(fread(resumed, 1, (size_t)len, mf), (size_t)len);
    fclose(mf);
    /* The resumed run's records are those from the evaluation after the stop to round 60. */
    char first[32];
    snprintf(first, sizeof first, "{\"round\": %u,", stop / 10 * 10 + 10);
    const char *from = strstr(whole, first);
    assert_non_null(from);
    assert_string_equal(resumed, from);
    assert_true(s_same_file(p1, p2));
    free(resumed);
    free(whole);
}

/* clip:auto+shift keeps a running mean of each neighbour's shift, and the clip counts behind
 * clipped_frac; an ALIE attacker keeps its view of the copy its neighbours hold of it. With
 * one (z = 2, from round 25) the run resumes bit for bit: with the running means started
 * afresh, the attacker is mixed again until they build up. */
static void test_shift_under_alie_resumes_bit_for_bit(void **state)
{
    (void)state;
    s_robust_resumes("clip:auto+shift",
                     (rumor_byzantine_t){.kind = RUMOR_BYZ_ALIE, .param = 2.0, .from = 25}, 60, 30,
                     0.5, "shift");
}

/* +origin keeps a running mean of each neighbour's origin cosine: with a sign flipper from
 * round 3, faded by it alone (a margin of 1000 keeps the distances from fading it) from round
 * 14 or so, a run stopped at round 10 resumes bit for bit; with the means started afresh from
 * the instantaneous cosine it fades the attacker earlier. */
static void test_origin_under_signflip_resumes_bit_for_bit(void **state)
{
    (void)state;
    s_robust_resumes("clip:auto:1:1.5:1000+origin",
                     (rumor_byzantine_t){.kind = RUMOR_BYZ_SIGNFLIP, .param = 1.0, .from = 3}, 60,
                     10, 0.5, "origin");
}

/* +jump keeps two running means of each neighbour's distance and their count: with a sign
 * flipper (x 20: the small model has nearly stopped moving) from round 230 (the means armed at
 * 200), faded by it alone from round 241 (a margin of 1000 keeps the distances from fading it,
 * and +origin is not there to), a run stopped at round 260 resumes bit for bit; with the slow
 * means or the counts started afresh the attacker is mixed again. */
static void test_jump_under_late_signflip_resumes_bit_for_bit(void **state)
{
    (void)state;
    s_robust_resumes("clip:auto:1:1.5:1000+jump",
                     (rumor_byzantine_t){.kind = RUMOR_BYZ_SIGNFLIP, .param = 20.0, .from = 230},
                     300, 260, 0.1, "jump");
}

/* `rumor sim --checkpoint` killed with SIGKILL mid-run (inside an outage, with links awaiting
 * a STATE after lost DIFFs and stragglers' lost DIFFs, and with a crashed peer's checkpoint
 * still to restart from)
 * and started again with the same command resumes from its
 * last checkpoint and ends with exactly the models of an uninterrupted run. A checkpoint of
 * another run config, and a damaged one, are refused with a message. */
static void test_killed_sim_resumes_bit_for_bit(void **state)
{
    (void)state;
    const char *bin = getenv("RUMOR_BIN");
    if (!bin) skip();
    const char *json =
        "{\"name\": \"ckpt\", \"topology\": {\"generate\": \"ring\", \"n\": 8},"
        " \"data\": {\"name\": \"synthetic\", \"n\": 4000, \"test_n\": 1000, \"dim\": 20,"
        " \"classes\": 4, \"sep\": 4.0},"
        " \"algorithm\": {\"name\": \"malcom\", \"lr\": 0.1, \"gamma\": 0.5, \"lambda\": 0.001,"
        " \"batch\": 16, \"rounds\": 20000}, \"compressor\": \"dither:8\", \"seed\": 3,"
        " \"eval_every\": 1000, \"faults\": [{\"drop\": 0.1}, {\"node\": 2, \"down\": [300, "
        "1500]}, {\"node\": 5, \"crash\": [350, 1500], \"checkpoint_every\": 300},"
        " {\"straggle\": 0.1, \"late\": -1}]}";
    char sc_path[512], dir[512], ref[512], models[512];
    snprintf(sc_path, sizeof sc_path, "%s", s_scratch("ckpt.json"));
    snprintf(dir, sizeof dir, "%s", s_scratch("ckpt"));
    snprintf(ref, sizeof ref, "%s", s_scratch("ref.bin"));
    snprintf(models, sizeof models, "%s", s_scratch("resumed.bin"));
    FILE *f = fopen(sc_path, "w");
    assert_non_null(f);
    fputs(json, f);
    fclose(f);

    rumor_scenario_t sc;
    rumor_errmsg_t em = {""};
    char cmd[2048], out[4096];
    if (rumor_scenario_parse(json, "ckpt.json", ".", &sc, &em)) fail_msg("%s", em.msg);
    rumor_sim_result_t res;
    free(s_run(&sc, 2, &res, ref));
    const pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        execl(bin, bin, "sim", sc_path, "--quiet", "--checkpoint", dir, "--checkpoint-every", "50",
              "--models", models, (char *)NULL);
        _exit(127);
    }
    uint32_t at = 0;
    for (int i = 0;
         i < 3000 && !(rumor_sim_checkpoint_round(dir, &sc, &at, NULL) == 1 && at >= 500); i++)
        usleep(2000);
    kill(pid, SIGKILL);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    if (!WIFSIGNALED(st)) fail_msg("the run ended (status %d) before it was killed", st);
    assert_int_equal(rumor_sim_checkpoint_round(dir, &sc, &at, &em), 1);
    assert_true(at >= 500 && at < 20000);
    if (at <= 1500) { /* node 5's checkpoint of round 300 is part of the simulator's */
        snprintf(cmd, sizeof cmd, "test -f %s/a/fault2.safetensors -o -f %s/b/fault2.safetensors",
                 dir, dir);
        assert_int_equal(system(cmd), 0);
    }

    snprintf(cmd, sizeof cmd, "%s sim %s --quiet --checkpoint %s --models %s", bin, sc_path, dir,
             models);
    if (s_capture(cmd, out, sizeof out) != 0) fail_msg("resume failed: %s", out);
    if (!s_same_file(models, ref))
        fail_msg("resumed from round %u, the models differ from an uninterrupted run's", at);

    /* Another seed is another run: refused before its metrics file is touched. */
    snprintf(cmd, sizeof cmd,
             "echo '{\"round\": 9000}' > %s/m.jsonl && %s sim %s --quiet --seed 4 --checkpoint %s "
             "--metrics %s/m.jsonl",
             s_dir, bin, sc_path, dir, s_dir);
    assert_int_equal(s_capture(cmd, out, sizeof out), 1);
    if (!strstr(out, "its checkpoint is of another run config")) fail_msg("%s", out);
    snprintf(cmd, sizeof cmd, "grep -qx '{\"round\": 9000}' %s/m.jsonl", s_dir);
    assert_int_equal(system(cmd), 0);
    /* A damaged state file. */
    snprintf(cmd, sizeof cmd, "echo '{\"round\": 3}' > %s/sim.json && %s sim %s --checkpoint %s",
             dir, bin, sc_path, dir);
    assert_int_equal(s_capture(cmd, out, sizeof out), 1);
    if (!strstr(out, "sim.json: not a rumor sim checkpoint")) fail_msg("%s", out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resume_across_delays),
        cmocka_unit_test(test_shift_under_alie_resumes_bit_for_bit),
        cmocka_unit_test(test_origin_under_signflip_resumes_bit_for_bit),
        cmocka_unit_test(test_jump_under_late_signflip_resumes_bit_for_bit),
        cmocka_unit_test(test_killed_sim_resumes_bit_for_bit),
        cmocka_unit_test(test_target_survives_a_resume),
    };
    return s_run_tests(tests, s_setup, s_teardown);
}
