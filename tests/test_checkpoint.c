/* Tests of checkpoint: a saved peer restores bit for bit and continues identically; damaged
 * or foreign checkpoints are refused with a message and leave the peer untouched. And of
 * `rumor eval`, which reads checkpoints and raw models: on the files of a real run (three
 * `rumor peer` processes on loopback, and `rumor sim --models` of the same scenario) it
 * reports the accuracies the simulator's own metrics imply, and it refuses damaged, foreign
 * and wrong-size files with exit status 1 and a message naming the file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "rumor/checkpoint.h"
#include "rumor/robust.h"
#include "rumor/vec.h"
#include "support.h"

#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct {
    rumor_scenario_t sc;
    rumor_topology_t *topo;
    rumor_peer_data_t data;
    uint8_t th[32];
    char dir[64];
} s_fixture_t;

/* A ring of 4 on synthetic data of dim features and the given model. */
static s_fixture_t *s_fixture(uint32_t dim, const char *model)
{
    s_fixture_t *f = calloc(1, sizeof *f);
    char json[512];
    snprintf(json, sizeof json,
             "{\"topology\": {\"generate\": \"ring\", \"n\": 4},"
             " \"data\": {\"name\": \"synthetic\", \"n\": 800, \"test_n\": 200,"
             " \"dim\": %u, \"classes\": 3}, \"model\": \"%s\","
             " \"algorithm\": {\"name\": \"malcom\", \"lambda\": 0.001, \"batch\": 8,"
             " \"rounds\": 10}, \"compressor\": \"dither:8\"}",
             dim, model);
    rumor_errmsg_t em = {""};
    if (rumor_scenario_parse(json, "t", ".", &f->sc, &em) ||
        rumor_scenario_topology(&f->sc, &f->topo, &em) ||
        rumor_peer_data_load(&f->sc, 4, RUMOR_PEER_ALL, &f->data, &em))
        fail_msg("%s", em.msg);
    rumor_topology_hash(f->topo, f->th);
    snprintf(f->dir, sizeof f->dir, "/tmp/rumor-ckpt-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    return f;
}

static int s_setup(void **state)
{
    *state = s_fixture(10, "mlp:6");
    return 0;
}

static int s_teardown(void **state)
{
    s_fixture_t *f = *state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    rumor_peer_data_free(&f->data);
    rumor_topology_destroy(&f->topo);
    free(f);
    return 0;
}

static rumor_peer_t *s_peer(s_fixture_t *f, uint32_t i)
{
    const rumor_peer_cfg_t cfg = rumor_peer_data_cfg(&f->data, &f->sc, f->topo, i, 64);
    rumor_peer_t *p = rumor_peer_new(&cfg, NULL);
    assert_non_null(p);
    return p;
}

/* Runs one round of p with messages from its two ring neighbours' stand-ins. */
static void s_round(rumor_peer_t *p, rumor_peer_t *n1, rumor_peer_t *n3)
{
    const uint8_t *m, *m1, *m3;
    size_t l, l1, l3;
    assert_int_equal(rumor_peer_step(p, &m, &l), 0);
    assert_int_equal(rumor_peer_step(n1, &m1, &l1), 0);
    assert_int_equal(rumor_peer_step(n3, &m3, &l3), 0);
    assert_int_equal(rumor_peer_deliver(p, 1, m1, l1), 0);
    assert_int_equal(rumor_peer_deliver(p, 3, m3, l3), 0);
    rumor_peer_finish(p);
    rumor_peer_finish(n1);
    rumor_peer_finish(n3);
}

static void s_round_trip_continues_identically(s_fixture_t *f)
{
    rumor_peer_t *a = s_peer(f, 0), *n1 = s_peer(f, 1), *n3 = s_peer(f, 3);
    for (int t = 0; t < 7; t++) s_round(a, n1, n3);
    char path[128];
    snprintf(path, sizeof path, "%s/peer0.safetensors", f->dir);
    rumor_errmsg_t em = {""};
    if (rumor_checkpoint_save(path, a, f->th, &em)) fail_msg("%s", em.msg);

    rumor_peer_t *b = s_peer(f, 0);
    if (rumor_checkpoint_load(path, b, f->th, &em)) fail_msg("%s", em.msg);
    assert_int_equal(rumor_peer_round(b), 7);
    const size_t d = rumor_peer_dim(a);
    assert_memory_equal(rumor_peer_params(a), rumor_peer_params(b), d * 4);
    const uint32_t ids[3] = {0, 1, 3};
    for (int i = 0; i < 3; i++)
        assert_memory_equal(rumor_gossip_copy(rumor_peer_gossip(a), ids[i]),
                            rumor_gossip_copy(rumor_peer_gossip(b), ids[i]), d * 4);
    assert_int_equal(rumor_peer_stats(b)->bytes_sent, rumor_peer_stats(a)->bytes_sent);
    if (f->sc.momentum.kind != RUMOR_MOMENTUM_NONE) {
        assert_non_null(rumor_peer_momentum(a));
        assert_memory_equal(rumor_peer_momentum(a), rumor_peer_momentum(b), d * 4);
    } else {
        assert_null(rumor_peer_momentum(b));
    }

    /* Both continue with the same messages and stay bit-identical (batches included). */
    for (int t = 0; t < 3; t++) {
        const uint8_t *m1, *m3, *ma, *mb;
        size_t l1, l3, la, lb;
        assert_int_equal(rumor_peer_step(a, &ma, &la), 0);
        assert_int_equal(rumor_peer_step(b, &mb, &lb), 0);
        assert_int_equal(la, lb);
        assert_memory_equal(ma, mb, la);
        assert_int_equal(rumor_peer_step(n1, &m1, &l1), 0);
        assert_int_equal(rumor_peer_step(n3, &m3, &l3), 0);
        assert_int_equal(rumor_peer_deliver(a, 1, m1, l1), 0);
        assert_int_equal(rumor_peer_deliver(a, 3, m3, l3), 0);
        assert_int_equal(rumor_peer_deliver(b, 1, m1, l1), 0);
        assert_int_equal(rumor_peer_deliver(b, 3, m3, l3), 0);
        rumor_peer_finish(a);
        rumor_peer_finish(b);
        rumor_peer_finish(n1);
        rumor_peer_finish(n3);
    }
    assert_memory_equal(rumor_peer_params(a), rumor_peer_params(b), d * 4);
    rumor_peer_destroy(&a);
    rumor_peer_destroy(&b);
    rumor_peer_destroy(&n1);
    rumor_peer_destroy(&n3);
}

/* Without and with momentum: a resumed peer that lost its buffer would drift apart. */
static void test_round_trip_continues_identically(void **state)
{
    s_fixture_t *f = *state;
    const char *kinds[] = {"none", "nesterov:0.9", "heavy-ball:0.5"};
    for (size_t k = 0; k < 3; k++) {
        assert_int_equal(rumor_momentum_parse(kinds[k], &f->sc.momentum, NULL), 0);
        rumor_scenario_rehash(&f->sc);
        s_round_trip_continues_identically(f);
    }
}

/* A CNN's 4-dimensional convolution tensors: written in PyTorch's shapes, and a resumed
 * peer goes on identically. */
static void test_cnn_round_trip(void **state)
{
    (void)state;
    s_fixture_t *cnn = s_fixture(256, "cnn:2,3");
    s_round_trip_continues_identically(cnn);
    char cmd[256], out[256] = "";
    snprintf(cmd, sizeof cmd,
             "f=%s/peer0.safetensors; n=$(od -An -tu8 -N8 \"$f\" | tr -d ' ');"
             " dd if=\"$f\" bs=1 skip=8 count=$n 2>/dev/null | jq -c '[.\"conv0.weight\".shape,"
             " .\"conv1.weight\".shape, .\"fc0.weight\".shape]'",
             cnn->dir);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    assert_non_null(fgets(out, sizeof out, p));
    assert_int_equal(pclose(p), 0);
    assert_string_equal(out, "[[2,1,5,5],[3,2,5,5],[3,3]]\n");
    void *st = cnn;
    s_teardown(&st);
}

static void s_write(const char *path, const void *buf, size_t len)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(buf, 1, len, fp), len);
    fclose(fp);
}

/* Node 0 after one round, saved to f->dir/peer0.safetensors (path); returns it. */
static rumor_peer_t *s_saved_after_one_round(s_fixture_t *f, char *path, size_t cap)
{
    rumor_peer_t *a = s_peer(f, 0), *n1 = s_peer(f, 1), *n3 = s_peer(f, 3);
    s_round(a, n1, n3);
    snprintf(path, cap, "%s/peer0.safetensors", f->dir);
    assert_int_equal(rumor_checkpoint_save(path, a, f->th, NULL), 0);
    rumor_peer_destroy(&n1);
    rumor_peer_destroy(&n3);
    return a;
}

static void test_damaged_or_foreign_is_refused(void **state)
{
    s_fixture_t *f = *state;
    char path[128], bad[160];
    rumor_peer_t *a = s_saved_after_one_round(f, path, sizeof path);
    snprintf(bad, sizeof bad, "%s/bad.safetensors", f->dir);
    FILE *fp = fopen(path, "rb");
    fseek(fp, 0, SEEK_END);
    const long len = ftell(fp);
    rewind(fp);
    uint8_t *buf = malloc((size_t)len);
    assert_int_equal(fread(buf, 1, (size_t)len, fp), (size_t)len);
    fclose(fp);

    rumor_peer_t *b = s_peer(f, 0);
    const size_t d = rumor_peer_dim(b);
    float *before = malloc(d * 4);
    memcpy(before, rumor_peer_params(b), d * 4);
    rumor_errmsg_t em = {""};

    /* Truncated at many lengths. */
    for (long cut = 0; cut < len; cut += len / 23 + 1) {
        s_write(bad, buf, (size_t)cut);
        em.msg[0] = '\0';
        assert_true(rumor_checkpoint_load(bad, b, f->th, &em) < 0);
        assert_non_null(strstr(em.msg, "bad.safetensors"));
    }
    /* An absurd header length. */
    uint8_t *m = malloc((size_t)len);
    memcpy(m, buf, (size_t)len);
    m[7] = 0x7f;
    s_write(bad, m, (size_t)len);
    assert_int_equal(rumor_checkpoint_load(bad, b, f->th, &em), RUMOR_EFORMAT);
    /* Garbage in the header. */
    memcpy(m, buf, (size_t)len);
    m[12] = '}';
    s_write(bad, m, (size_t)len);
    assert_true(rumor_checkpoint_load(bad, b, f->th, &em) < 0);
    /* Another node's checkpoint. */
    rumor_peer_t *c = s_peer(f, 1);
    assert_int_equal(rumor_checkpoint_save(bad, c, f->th, NULL), 0);
    assert_int_equal(rumor_checkpoint_load(bad, b, f->th, &em), RUMOR_EMISMATCH);
    assert_non_null(strstr(em.msg, "node 1"));
    /* Another topology. */
    uint8_t other[32];
    memcpy(other, f->th, 32);
    other[0] ^= 1;
    assert_int_equal(rumor_checkpoint_load(path, b, other, &em), RUMOR_EMISMATCH);
    assert_non_null(strstr(em.msg, "topology"));
    /* Missing file. */
    assert_int_equal(rumor_checkpoint_load("/nonexistent/x", b, f->th, &em), RUMOR_EIO);

    assert_memory_equal(before, rumor_peer_params(b), d * 4);
    assert_int_equal(rumor_peer_round(b), 0);
    free(before);
    free(buf);
    free(m);
    rumor_peer_destroy(&a);
    rumor_peer_destroy(&b);
    rumor_peer_destroy(&c);
}

/* Copies checkpoint src to dst with __metadata__.key set to value (NULL: unchanged), when
 * tensor is not NULL that tensor's number `at` (a float, or a double for an F64 tensor) set to
 * v, and when drop is not NULL the header's entries whose names start with drop left out. */
static void s_edit(const char *src, const char *dst, const char *key, const char *value,
                   const char *tensor, size_t at, double v, const char *drop)
{
    FILE *fp = fopen(src, "rb");
    assert_non_null(fp);
    uint8_t len8[8];
    assert_int_equal(fread(len8, 1, 8, fp), 8);
    uint64_t hl = 0;
    for (int i = 0; i < 8; i++) hl |= (uint64_t)len8[i] << (8 * i);
    char *hj = malloc(hl);
    assert_int_equal(fread(hj, 1, hl, fp), hl);
    static uint8_t data[1 << 20];
    const size_t dl = fread(data, 1, sizeof data, fp);
    assert_true(dl < sizeof data);
    fclose(fp);
    json_t *h = json_loadb(hj, hl, 0, NULL);
    assert_non_null(h);
    free(hj);
    if (key) json_object_set_new(json_object_get(h, "__metadata__"), key, json_string(value));
    if (tensor) {
        json_t *offs = json_object_get(json_object_get(h, tensor), "data_offsets");
        assert_non_null(offs);
        const char *dtype = json_string_value(json_object_get(json_object_get(h, tensor), "dtype"));
        const float vf = (float)v;
        const size_t size = !strcmp(dtype, "F64") ? 8 : 4;
        const size_t off = (size_t)json_integer_value(json_array_get(offs, 0)) + size * at;
        assert_true(off + size <= dl);
        memcpy(data + off, size == 8 ? (const void *)&v : (const void *)&vf, size);
    }
    const char *name;
    json_t *e, *tmp;
    json_object_foreach_safe(h, tmp, name, e)
    {
        if (drop && !strncmp(name, drop, strlen(drop))) json_object_del(h, name);
    }
    char *out = json_dumps(h, JSON_COMPACT);
    json_decref(h);
    const size_t ol = strlen(out), padded = (ol + 7) & ~(size_t)7;
    fp = fopen(dst, "wb");
    assert_non_null(fp);
    for (int i = 0; i < 8; i++) len8[i] = (uint8_t)((uint64_t)padded >> (8 * i));
    assert_int_equal(fwrite(len8, 1, 8, fp), 8);
    assert_int_equal(fwrite(out, 1, ol, fp), ol);
    for (size_t i = ol; i < padded; i++) fputc(' ', fp);
    assert_int_equal(fwrite(data, 1, dl, fp), dl);
    fclose(fp);
    free(out);
}

/* A checkpoint is untrusted input down to its numbers: a restart must not take a NaN or
 * infinite tensor, a round past the run's end or a sampler position outside the shard (each
 * accepted once, then reported as a diverged model or silently drawing other batches). The
 * error names the file and the field; the peer is left as it was. */
static void test_untrusted_numbers_refused(void **state)
{
    s_fixture_t *f = *state;
    assert_int_equal(rumor_momentum_parse("heavy-ball:0.5", &f->sc.momentum, NULL), 0);
    assert_int_equal(rumor_robust_parse("clip:auto+shift+origin+jump", &f->sc.robust), 0);
    rumor_scenario_rehash(&f->sc);
    char path[128], bad[160];
    rumor_peer_t *a = s_saved_after_one_round(f, path, sizeof path);
    snprintf(bad, sizeof bad, "%s/numbers.safetensors", f->dir);
    rumor_peer_t *b = s_peer(f, 0);
    const size_t d = rumor_peer_dim(b);
    float *before = malloc(d * 4);
    memcpy(before, rumor_peer_params(b), d * 4);
    const struct {
        const char *key, *value, *tensor;
        size_t at;
        double v;
        const char *says;
    } cases[] = {
        {"round", "11", NULL, 0, 0, "round"}, /* the run has 10 */
        {"round", "4294967280", NULL, 0, 0, "round"},
        {"sampler_offset", "4000000000", NULL, 0, 0, "sampler_offset"},
        {"sampler_offset", "200", NULL, 0, 0, "sampler_offset"}, /* the shard holds 200 */
        {NULL, NULL, "fc0.weight", 5, NAN, "fc0.weight"},
        {NULL, NULL, "fc1.bias", 0, INFINITY, "fc1.bias"},
        {NULL, NULL, "gossip.node3", 7, -INFINITY, "gossip.node3"},
        {NULL, NULL, "optim.momentum", 3, NAN, "optim.momentum"},
        {NULL, NULL, "robust.shift", 1, 1.5, "robust.shift"},
        {NULL, NULL, "robust.shift", 0, -INFINITY, "robust.shift"},
        {NULL, NULL, "robust.origin", 1, -1.5, "robust.origin"},
        {NULL, NULL, "robust.origin", 0, INFINITY, "robust.origin"},
        {NULL, NULL, "robust.cut", 1, -0.5, "robust.cut"},
        {NULL, NULL, "robust.cut", 0, NAN, "robust.cut"},
        {NULL, NULL, "robust.fast", 1, -0.5, "robust.fast"},
        {NULL, NULL, "robust.slow", 0, INFINITY, "robust.slow"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        s_edit(path, bad, cases[k].key, cases[k].value, cases[k].tensor, cases[k].at, cases[k].v,
               NULL);
        rumor_errmsg_t em = {""};
        const int rc = rumor_checkpoint_load(bad, b, f->th, &em);
        if (rc != RUMOR_EFORMAT || !strstr(em.msg, bad) || !strstr(em.msg, cases[k].says))
            fail_msg("case %zu: %s (%s)", k, rumor_strerror(rc), em.msg);
        assert_memory_equal(before, rumor_peer_params(b), d * 4);
        assert_int_equal(rumor_peer_round(b), 0);
    }
    /* The model alone (`rumor eval`) goes through the same check. */
    s_edit(path, bad, NULL, NULL, "fc0.weight", 5, NAN, NULL);
    rumor_errmsg_t em = {""};
    float *x = malloc(d * 4);
    assert_int_equal(rumor_checkpoint_load_model(bad, rumor_peer_model(b), x, NULL, &em),
                     RUMOR_EFORMAT);
    assert_non_null(strstr(em.msg, "fc0.weight"));
    /* The unedited file loads. */
    assert_int_equal(rumor_checkpoint_load(path, b, f->th, &em), 0);
    assert_int_equal(rumor_peer_round(b), 1);
    free(x);
    free(before);
    rumor_peer_destroy(&a);
    rumor_peer_destroy(&b);
    assert_int_equal(rumor_momentum_parse("none", &f->sc.momentum, NULL), 0);
    f->sc.robust = (rumor_robust_cfg_t){.kind = RUMOR_ROBUST_NONE};
    rumor_scenario_rehash(&f->sc);
}

/* The state of peer p's robust rule. */
static rumor_robust_state_t s_robust(rumor_peer_t *p)
{
    return rumor_robust_state(rumor_gossip_robust(rumor_peer_gossip(p)));
}

/* clip:auto+shift+origin's state (clip counts, cut fractions, running mean shifts and origin
 * cosines) and an ALIE peer's
 * view of the copy its neighbours hold of it are restored byte for byte: from a checkpoint of
 * round 7, and from one of round 0, whose shifts are NaN (no term mixed yet). A checkpoint
 * without them, as written before they were kept, loads: the rule's state is left as it was
 * (a peer starting afresh) and the ALIE view is the peer's own public copy. */
static void test_robust_and_alie_state_restored_exactly(void **state)
{
    s_fixture_t *f = *state;
    assert_int_equal(rumor_robust_parse("clip:auto+shift+origin", &f->sc.robust), 0);
    rumor_scenario_rehash(&f->sc);
    const rumor_byzantine_t alie = {.kind = RUMOR_BYZ_ALIE, .param = 1.0, .from = 2};
    char fresh[128], path[128], old[128];
    snprintf(fresh, sizeof fresh, "%s/fresh.safetensors", f->dir);
    snprintf(path, sizeof path, "%s/robust.safetensors", f->dir);
    snprintf(old, sizeof old, "%s/old.safetensors", f->dir);
    rumor_peer_t *a = s_peer(f, 0), *n1 = s_peer(f, 1), *n3 = s_peer(f, 3);
    rumor_peer_t *b = s_peer(f, 0), *c = s_peer(f, 0);
    assert_int_equal(rumor_peer_set_byzantine(a, &alie), 0);
    assert_int_equal(rumor_peer_set_byzantine(b, &alie), 0);
    assert_int_equal(rumor_peer_set_byzantine(c, &alie), 0);
    rumor_errmsg_t em = {""};
    if (rumor_checkpoint_save(fresh, a, f->th, &em)) fail_msg("%s", em.msg);
    for (int t = 0; t < 7; t++) s_round(a, n1, n3);
    if (rumor_checkpoint_save(path, a, f->th, &em)) fail_msg("%s", em.msg);
    if (rumor_checkpoint_load(path, b, f->th, &em)) fail_msg("%s", em.msg);
    const rumor_robust_state_t sa = s_robust(a), sb = s_robust(b), sc = s_robust(c);
    assert_int_equal(sa.deg, 2);
    assert_true(sa.mixed[0] == 7 && sa.mixed[1] == 7 && sa.clipped[0] + sa.clipped[1] >= 7);
    assert_true(sa.cut[0] + sa.cut[1] > 0.0 && !isnan(sa.shift[0]) && !isnan(sa.shift[1]));
    assert_memory_equal(sa.mixed, sb.mixed, 2 * sizeof *sa.mixed);
    assert_memory_equal(sa.clipped, sb.clipped, 2 * sizeof *sa.clipped);
    assert_memory_equal(sa.cut, sb.cut, 2 * sizeof *sa.cut);
    assert_memory_equal(sa.shift, sb.shift, 2 * sizeof *sa.shift);
    assert_true(!isnan(sa.origin[0]) && !isnan(sa.origin[1]));
    assert_memory_equal(sa.origin, sb.origin, 2 * sizeof *sa.origin);
    const size_t d = rumor_peer_dim(a);
    const float *own = rumor_gossip_copy(rumor_peer_gossip(a), 0);
    assert_memory_equal(rumor_peer_byzantine_public(a), rumor_peer_byzantine_public(b), d * 4);
    assert_memory_not_equal(rumor_peer_byzantine_public(a), own, d * 4); /* attacking since 2 */

    if (rumor_checkpoint_load(fresh, b, f->th, &em)) fail_msg("%s", em.msg);
    assert_true(isnan(sb.shift[0]) && isnan(sb.shift[1]) && isnan(sb.origin[0]));
    assert_true(sb.mixed[0] == 0 && sb.clipped[1] == 0 && sb.cut[0] == 0.0);

    s_edit(path, old, NULL, NULL, NULL, 0, 0.0, "robust.");
    s_edit(old, old, NULL, NULL, NULL, 0, 0.0, "byzantine.");
    if (rumor_checkpoint_load(old, c, f->th, &em)) fail_msg("%s", em.msg);
    assert_int_equal(rumor_peer_round(c), 7);
    assert_true(isnan(sc.shift[0]) && isnan(sc.origin[1]) && sc.mixed[0] == 0);
    assert_memory_equal(rumor_peer_byzantine_public(c), own, d * 4);
    rumor_peer_destroy(&a);
    rumor_peer_destroy(&b);
    rumor_peer_destroy(&c);
    rumor_peer_destroy(&n1);
    rumor_peer_destroy(&n3);
    f->sc.robust = (rumor_robust_cfg_t){.kind = RUMOR_ROBUST_NONE};
    rumor_scenario_rehash(&f->sc);
}

/* ---- rumor eval ------------------------------------------------------------------------- */

#define S_PEERS 3

/* Harder than the fixture's data (sep 2: peers end near 80%, chance is 25%) and a large
 * enough lambda that the models are sparse, so accuracies and densities differ by peer. */
static const char *s_eval_scenario =
    "{\"name\": \"eval-test\", \"topology\": \"topo.json\","
    " \"data\": {\"name\": \"synthetic\", \"n\": 3000, \"test_n\": 600, \"dim\": 20,"
    " \"classes\": 4, \"sep\": 2.0},"
    " \"algorithm\": {\"name\": \"malcom\", \"lr\": 0.1, \"gamma\": 0.5, \"lambda\": 0.01,"
    " \"batch\": 16, \"rounds\": 40}, \"compressor\": \"dither:8\", \"codec\": \"auto\","
    " \"seed\": 5, \"eval_every\": 40}";

typedef struct {
    const char *bin;
    char dir[64];
    size_t d;
} s_cli_t;

/* Runs `$RUMOR_BIN args` with the shell from dir; returns the exit status, output in out. */
static int s_rumor(const s_cli_t *c, const char *args, char *out, size_t cap)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "cd '%s' && '%s' %s", c->dir, c->bin, args);
    return s_capture(cmd, out, cap);
}

static json_t *s_rumor_json(const s_cli_t *c, const char *args)
{
    static char out[1 << 16];
    const int rc = s_rumor(c, args, out, sizeof out);
    if (rc != 0) fail_msg("rumor %s: exit %d:\n%s", args, rc, out);
    json_error_t err;
    json_t *j = json_loads(out, 0, &err);
    if (!j) fail_msg("rumor %s: not JSON (%s):\n%s", args, err.text, out);
    return j;
}

static double s_num(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_number(v)) fail_msg("no number '%s' in the output", key);
    return json_number_value(v);
}

static void s_cli_path(const s_cli_t *c, char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", c->dir, name);
}

/* A three-peer ring on loopback: each `rumor peer` writes its checkpoint and raw model;
 * then `rumor sim --models` runs the same scenario. Returns 0 (skip) without a binary. */
static int s_cli_prepare(s_cli_t *c)
{
    c->bin = getenv("RUMOR_BIN");
    if (!c->bin || access(c->bin, X_OK) != 0) return 0;
    snprintf(c->dir, sizeof c->dir, "/tmp/rumor-eval-XXXXXX");
    assert_non_null(mkdtemp(c->dir));
    char path[256], args[512], out[4096];
    s_cli_path(c, path, sizeof path, "scenario.json");
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(s_eval_scenario, f);
    fclose(f);
    const unsigned port = s_port_block();
    assert_true(port > 0);
    snprintf(args, sizeof args, "topo gen ring --n %d --port-base %u -o topo.json", S_PEERS, port);
    assert_int_equal(s_rumor(c, args, out, sizeof out), 0);
    pid_t pids[S_PEERS];
    for (int i = 0; i < S_PEERS; i++) {
        char id[12], model[32], log[32];
        snprintf(id, sizeof id, "%d", i);
        snprintf(model, sizeof model, "peer%d.model", i);
        snprintf(log, sizeof log, "peer%d.log", i);
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0) {
            if (chdir(c->dir) != 0) _exit(126);
            const int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
            if (fd >= 0) {
                dup2(fd, 1);
                dup2(fd, 2);
                close(fd);
            }
            char *argv[] = {
                (char *)c->bin, "peer",         "--config", "scenario.json", "--id", id,
                "--insecure",   "--checkpoint", "ckpt",     "--model-out",   model,  "--wait",
                "30",           "--quiet",      NULL};
            execv(c->bin, argv);
            _exit(127);
        }
    }
    for (int i = 0; i < S_PEERS; i++) {
        int st = 0, done = 0;
        for (int t = 0; t < 1200 && !done; t++) {
            done = waitpid(pids[i], &st, WNOHANG) == pids[i];
            if (!done) usleep(50000);
        }
        if (!done) {
            kill(pids[i], SIGKILL);
            waitpid(pids[i], &st, 0);
        }
        if (!done || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            snprintf(args, sizeof args, "cat peer%d.log", i);
            s_rumor(c, args, out, sizeof out);
            fail_msg("rumor peer %d failed:\n%s", i, out);
        }
    }
    return 1;
}

static void s_cli_cleanup(const s_cli_t *c)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", c->dir);
    assert_int_equal(system(cmd), 0);
}

/* The fields of two evaluations that must agree when the models are the same. */
static void s_assert_same_eval(json_t *a, json_t *b)
{
    static const char *keys[] = {"model",    "params",  "samples", "test_loss",
                                 "accuracy", "density", "nonzero", "per_class"};
    for (size_t k = 0; k < sizeof keys / sizeof *keys; k++)
        if (!json_equal(json_object_get(a, keys[k]), json_object_get(b, keys[k])))
            fail_msg("evaluations differ in '%s'", keys[k]);
}

static void test_eval_matches_simulator(void **state)
{
    (void)state;
    s_cli_t c;
    if (!s_cli_prepare(&c)) skip();
    json_t *sim = s_rumor_json(&c, "sim scenario.json --models sim.bin --quiet --no-timing");
    double acc_sum = 0, acc_min = 1, loss_sum = 0, density_sum = 0;
    char args[256];
    for (int i = 0; i < S_PEERS; i++) {
        snprintf(args, sizeof args, "eval scenario.json ckpt/node%d.safetensors --json", i);
        json_t *ck = s_rumor_json(&c, args);
        snprintf(args, sizeof args, "eval scenario.json peer%d.model --json", i);
        json_t *raw = s_rumor_json(&c, args);
        snprintf(args, sizeof args, "eval scenario.json sim.bin --peer %d --json", i);
        json_t *sm = s_rumor_json(&c, args);
        assert_string_equal(json_string_value(json_object_get(ck, "format")), "checkpoint");
        assert_string_equal(json_string_value(json_object_get(raw, "format")), "raw");
        assert_string_equal(json_string_value(json_object_get(sm, "format")), "sim-models");
        assert_int_equal(s_num(ck, "node"), i);
        assert_int_equal(s_num(ck, "round"), 40);
        /* The peer processes and the simulator trained bit-identical models. */
        s_assert_same_eval(ck, raw);
        s_assert_same_eval(ck, sm);

        const double acc = s_num(sm, "accuracy"), n = s_num(sm, "samples");
        assert_int_equal(n, 600);
        assert_true(acc >= 0.6); /* chance is 0.25 */
        /* Per-class accuracies weighted by class size give the accuracy back. */
        json_t *pc = json_object_get(sm, "per_class");
        assert_int_equal(json_array_size(pc), 4);
        double correct = 0, total = 0;
        for (size_t k = 0; k < json_array_size(pc); k++) {
            json_t *e = json_array_get(pc, k);
            correct += s_num(e, "accuracy") * s_num(e, "samples");
            total += s_num(e, "samples");
        }
        assert_true(total == n);
        assert_true(fabs(correct - acc * n) < 1e-6);
        acc_sum += acc;
        acc_min = acc < acc_min ? acc : acc_min;
        loss_sum += s_num(sm, "test_loss");
        density_sum += s_num(sm, "density");
        json_decref(ck);
        json_decref(raw);
        json_decref(sm);
    }
    /* The simulator's metrics (printed with 6 decimals) are the same evaluations. */
    assert_true(fabs(acc_sum / S_PEERS - s_num(sim, "acc_mean")) < 1e-6);
    assert_true(fabs(acc_min - s_num(sim, "acc_min")) < 1e-6);
    assert_true(fabs(loss_sum / S_PEERS - s_num(sim, "test_loss")) < 1e-5);
    assert_true(fabs(density_sum / S_PEERS - s_num(sim, "density")) < 1e-6);
    assert_true(s_num(sim, "density") < 1.0);

    /* The network-average model, averaged the way the simulator does, scores acc_avg_model. */
    json_t *one = s_rumor_json(&c, "eval scenario.json peer0.model --json");
    const size_t d = (size_t)s_num(one, "params");
    json_decref(one);
    float *all = malloc(S_PEERS * d * sizeof *all), *avg = malloc(d * sizeof *avg);
    char path[256];
    s_cli_path(&c, path, sizeof path, "sim.bin");
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fread(all, sizeof *all, S_PEERS * d, f), S_PEERS * d);
    fclose(f);
    rumor_vec_zero(avg, d);
    for (int i = 0; i < S_PEERS; i++) rumor_vec_axpy(avg, 1.0f / S_PEERS, all + i * d, d);
    s_cli_path(&c, path, sizeof path, "avg.model");
    s_write(path, avg, d * sizeof *avg);
    json_t *ev = s_rumor_json(&c, "eval scenario.json avg.model --json");
    assert_true(fabs(s_num(ev, "accuracy") - s_num(sim, "acc_avg_model")) < 1e-6);
    json_decref(ev);

    /* Text output and --samples. */
    static char out[1 << 14];
    assert_int_equal(s_rumor(&c, "eval scenario.json avg.model --samples 100", out, sizeof out), 0);
    assert_non_null(strstr(out, "test set  100 samples"));
    assert_non_null(strstr(out, "accuracy  0."));
    assert_non_null(strstr(out, "softmax 20-4, d = 84"));
    free(all);
    free(avg);
    json_decref(sim);
    s_cli_cleanup(&c);
}

/* Copies dir/src to dir/dst with its first keep bytes, then extra bytes appended. */
static void s_variant(const s_cli_t *c, const char *src, const char *dst, long keep,
                      const void *extra, size_t extra_len)
{
    char path[256];
    s_cli_path(c, path, sizeof path, src);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    uint8_t *buf = malloc((size_t)keep + extra_len + 1);
    assert_int_equal(fread(buf, 1, (size_t)keep, f), (size_t)keep);
    fclose(f);
    if (extra_len) memcpy(buf + keep, extra, extra_len);
    s_cli_path(c, path, sizeof path, dst);
    s_write(path, buf, (size_t)keep + extra_len);
    free(buf);
}

static long s_size(const s_cli_t *c, const char *name)
{
    char path[256];
    s_cli_path(c, path, sizeof path, name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    const long n = ftell(f);
    fclose(f);
    return n;
}

/* Expects `rumor eval scenario.json FILE extra` to exit with status and, for bad input, to
 * name FILE and say `why`. */
static void s_expect(const s_cli_t *c, const char *file, const char *extra, int status,
                     const char *why)
{
    static char out[1 << 14];
    char args[512];
    snprintf(args, sizeof args, "eval scenario.json %s %s", file, extra);
    const int rc = s_rumor(c, args, out, sizeof out);
    if (rc != status) fail_msg("rumor %s: exit %d, expected %d:\n%s", args, rc, status, out);
    if (status == 1 && !strstr(out, file))
        fail_msg("rumor %s: the message does not name the file:\n%s", args, out);
    if (why && !strstr(out, why)) fail_msg("rumor %s: expected '%s' in:\n%s", args, why, out);
}

static void test_eval_refuses_bad_files(void **state)
{
    (void)state;
    s_cli_t c;
    if (!s_cli_prepare(&c)) skip();
    char out[4096];
    assert_int_equal(
        s_rumor(&c, "sim scenario.json --models sim.bin --quiet --no-timing", out, sizeof out), 0);
    const long ck = s_size(&c, "ckpt/node0.safetensors"), raw = s_size(&c, "peer0.model");
    assert_int_equal(raw, 84 * 4);

    /* Checkpoints truncated anywhere, including at exactly d floats. */
    const long cuts[] = {0, 4, 8, 9, 40, raw, ck / 2, ck - 4, ck - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++) {
        s_variant(&c, "ckpt/node0.safetensors", "cut.safetensors", cuts[i], NULL, 0);
        s_expect(&c, "cut.safetensors", "", 1, NULL);
    }
    /* A damaged header, and a tensor whose shape was edited. */
    s_variant(&c, "ckpt/node0.safetensors", "bad.safetensors", ck, NULL, 0);
    char path[256];
    s_cli_path(&c, path, sizeof path, "bad.safetensors");
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    fseek(f, 9, SEEK_SET); /* the first key's opening quote: no longer JSON */
    fputc('}', f);
    fclose(f);
    s_expect(&c, "bad.safetensors", "", 1, "header");
    uint8_t *buf = malloc((size_t)ck);
    s_cli_path(&c, path, sizeof path, "ckpt/node0.safetensors");
    f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fread(buf, 1, (size_t)ck, f), (size_t)ck);
    fclose(f);
    static const char from[] = "\"shape\":[4,20]", to[] = "\"shape\":[20,4]";
    long at = 0;
    while (at + (long)strlen(from) <= ck && memcmp(buf + at, from, strlen(from))) at++;
    assert_true(at + (long)strlen(from) <= ck);
    memcpy(buf + at, to, strlen(to));
    s_cli_path(&c, path, sizeof path, "shape.safetensors");
    s_write(path, buf, (size_t)ck);
    free(buf);
    s_expect(&c, "shape.safetensors", "", 1, "fc0.weight");
    /* A checkpoint of another model, and of another node than asked for. */
    s_cli_path(&c, path, sizeof path, "mlp.json");
    f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "%.*s, \"model\": \"mlp:8\"}", (int)strlen(s_eval_scenario) - 1, s_eval_scenario);
    fclose(f);
    assert_int_equal(s_rumor(&c, "eval mlp.json ckpt/node0.safetensors", out, sizeof out), 1);
    assert_non_null(strstr(out, "ckpt/node0.safetensors"));
    assert_non_null(strstr(out, "mlp 20-8-4"));
    s_expect(&c, "ckpt/node0.safetensors", "--peer 1", 1, "node 0");

    /* Raw models of the wrong size, and a non-finite value. */
    const float nan_value = NAN, zero = 0.0f;
    s_variant(&c, "peer0.model", "short.model", raw - 4, NULL, 0);
    s_expect(&c, "short.model", "", 1, "d = 84");
    s_variant(&c, "peer0.model", "long.model", raw, &zero, sizeof zero);
    s_expect(&c, "long.model", "", 1, "d = 84");
    s_variant(&c, "peer0.model", "empty.model", 0, NULL, 0);
    s_expect(&c, "empty.model", "", 1, "empty");
    s_variant(&c, "peer0.model", "nan.model", raw - 4, &nan_value, sizeof nan_value);
    s_expect(&c, "nan.model", "", 1, "parameter 83");
    s_expect(&c, "missing.model", "", 1, "cannot open");

    /* `rumor sim --models` files: need --peer, and exactly n_peers x d floats. */
    s_expect(&c, "sim.bin", "", 1, "--peer");
    s_variant(&c, "sim.bin", "simcut.bin", S_PEERS * raw - 4, NULL, 0);
    s_expect(&c, "simcut.bin", "--peer 1", 1, "3 peers");
    s_variant(&c, "sim.bin", "sim2.bin", 2 * raw, NULL, 0);
    s_expect(&c, "sim2.bin", "--peer 0", 1, "3 peers");
    s_expect(&c, "peer0.model", "--peer 0", 1, "3 peers");

    /* Usage errors. */
    s_expect(&c, "sim.bin", "--peer 3", 2, "3 peers");
    s_expect(&c, "sim.bin", "--peer x", 2, "--peer");
    s_expect(&c, "peer0.model", "--samples 0", 2, "--samples");
    s_expect(&c, "peer0.model", "--bogus", 2, "--bogus");
    s_expect(&c, "peer0.model", "extra-arg", 2, "extra-arg");
    assert_int_equal(s_rumor(&c, "eval scenario.json", out, sizeof out), 2);
    assert_int_equal(s_rumor(&c, "eval --help", out, sizeof out), 0);
    assert_non_null(strstr(out, "--samples N"));
    assert_int_equal(s_rumor(&c, "--help", out, sizeof out), 0);
    assert_non_null(strstr(out, "eval "));
    s_cli_cleanup(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_continues_identically),
        cmocka_unit_test(test_cnn_round_trip),
        cmocka_unit_test(test_damaged_or_foreign_is_refused),
        cmocka_unit_test(test_untrusted_numbers_refused),
        cmocka_unit_test(test_robust_and_alie_state_restored_exactly),
        cmocka_unit_test(test_eval_matches_simulator),
        cmocka_unit_test(test_eval_refuses_bad_files),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
