/* Tests of checkpoint: a saved peer restores bit for bit and continues identically; damaged
 * or foreign checkpoints are refused with a message and leave the peer untouched. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "rumor/checkpoint.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    rumor_scenario_t sc;
    rumor_topology_t *topo;
    rumor_peer_data_t data;
    uint8_t th[32];
    char dir[64];
} s_fixture_t;

static int s_setup(void **state)
{
    s_fixture_t *f = calloc(1, sizeof *f);
    const char *json = "{\"topology\": {\"generate\": \"ring\", \"n\": 4},"
                       " \"data\": {\"name\": \"synthetic\", \"n\": 800, \"test_n\": 200,"
                       " \"dim\": 10, \"classes\": 3}, \"model\": \"mlp:6\","
                       " \"algorithm\": {\"name\": \"malcom\", \"lambda\": 0.001, \"batch\": 8,"
                       " \"rounds\": 10}, \"compressor\": \"dither:8\"}";
    rumor_errmsg_t em = {""};
    if (rumor_scenario_parse(json, "t", ".", &f->sc, &em) ||
        rumor_scenario_topology(&f->sc, &f->topo, &em) ||
        rumor_peer_data_load(&f->sc, 4, &f->data, &em))
        fail_msg("%s", em.msg);
    rumor_topology_hash(f->topo, f->th);
    snprintf(f->dir, sizeof f->dir, "/tmp/rumor-ckpt-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    *state = f;
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
    const rumor_peer_cfg_t cfg = {
        .sc = &f->sc,
        .topo = f->topo,
        .self = i,
        .train = &f->data.train,
        .shard = f->data.part->idx + f->data.part->off[i],
        .shard_n = f->data.part->off[i + 1] - f->data.part->off[i],
        .eval_batch = 64,
    };
    rumor_peer_t *p = rumor_peer_new(&cfg, NULL);
    assert_non_null(p);
    return p;
}

/* Runs one round of p with messages from its two ring neighbours' stand-ins. */
static void s_round(rumor_peer_t *p, rumor_peer_t *n1, rumor_peer_t *n3)
{
    const uint8_t *m, *m1, *m3;
    size_t l, l1, l3;
    rumor_peer_step(p, &m, &l);
    rumor_peer_step(n1, &m1, &l1);
    rumor_peer_step(n3, &m3, &l3);
    assert_int_equal(rumor_peer_deliver(p, 1, m1, l1), 0);
    assert_int_equal(rumor_peer_deliver(p, 3, m3, l3), 0);
    rumor_peer_finish(p);
    rumor_peer_finish(n1);
    rumor_peer_finish(n3);
}

static void test_round_trip_continues_identically(void **state)
{
    s_fixture_t *f = *state;
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

    /* Both continue with the same messages and stay bit-identical (batches included). */
    for (int t = 0; t < 3; t++) {
        const uint8_t *m1, *m3, *ma, *mb;
        size_t l1, l3, la, lb;
        rumor_peer_step(a, &ma, &la);
        rumor_peer_step(b, &mb, &lb);
        assert_int_equal(la, lb);
        assert_memory_equal(ma, mb, la);
        rumor_peer_step(n1, &m1, &l1);
        rumor_peer_step(n3, &m3, &l3);
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

static void s_write(const char *path, const void *buf, size_t len)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(buf, 1, len, fp), len);
    fclose(fp);
}

static void test_damaged_or_foreign_is_refused(void **state)
{
    s_fixture_t *f = *state;
    rumor_peer_t *a = s_peer(f, 0), *n1 = s_peer(f, 1), *n3 = s_peer(f, 3);
    s_round(a, n1, n3);
    char path[128], bad[160];
    snprintf(path, sizeof path, "%s/peer0.safetensors", f->dir);
    snprintf(bad, sizeof bad, "%s/bad.safetensors", f->dir);
    assert_int_equal(rumor_checkpoint_save(path, a, f->th, NULL), 0);
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
    rumor_peer_destroy(&n1);
    rumor_peer_destroy(&n3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_continues_identically),
        cmocka_unit_test(test_damaged_or_foreign_is_refused),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
