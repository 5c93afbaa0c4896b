/* rumor — libFuzzer target for the checkpoint loaders: peers resume from these files and
 * `rumor eval` reads any file it is given.
 *
 * One small peer is built once (ring of 4, a CNN on 16x16 images, Nesterov momentum and
 * clip:auto+shift, so that model tensors of 1, 2 and 4 dimensions, public copies, the momentum
 * buffer and the robust rule's float64 and uint64 state are all present), and its own
 * checkpoint is the base. Byte 0 of an input picks the file: bit 0
 * clear, the rest of the input is the file; bit 0 set, the base checkpoint edited by the
 * input: bytes 1-2 (little-endian) cut it to that length (0xffff keeps it whole), then each
 * triple (offset low, offset high, value) XORs one byte. Edits reach the checks behind a
 * valid header that random bytes would not.
 *
 * Invariants: a failed rumor_checkpoint_load leaves the peer as it was (round, model, public
 * copies, momentum, the robust rule's state); a failed rumor_checkpoint_load_model leaves the
 * parameters as they were; a successful load of either yields finite or non-finite floats but never
 * reads or writes out of bounds (the sanitizers check that).
 *
 * Run: scripts/fuzz 60 fuzz_checkpoint
 */
#include "rumor/checkpoint.h"
#include "rumor/robust.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { S_PATH = 256 };

/* The harness's process state: the peer, its base checkpoint and a scratch file. */
static struct {
    char dir[64], path[S_PATH];
    rumor_scenario_t sc;
    rumor_topology_t *topo;
    rumor_peer_data_t data;
    rumor_peer_t *peer;
    uint8_t topo_hash[32];
    uint8_t *base;
    size_t base_len;
    float *before, *params;
    size_t state_len; /* floats of model, copies and momentum */
    uint8_t *robust_before, *robust_after;
    size_t robust_len; /* bytes of the robust rule's state */
} s;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void s_cleanup(void)
{
    unlink(s.path);
    rmdir(s.dir);
}

/* The peer's state as floats, into out (s.state_len of them). */
static void s_state(float *out)
{
    const size_t d = rumor_peer_dim(s.peer);
    memcpy(out, rumor_peer_params(s.peer), d * sizeof *out);
    size_t at = d;
    const uint32_t *nb = rumor_topology_neighbors(s.topo, 0);
    for (uint32_t k = 0; k <= rumor_topology_degree(s.topo, 0); k++, at += d)
        memcpy(out + at, rumor_gossip_copy(rumor_peer_gossip(s.peer), k ? nb[k - 1] : 0),
               d * sizeof *out);
    memcpy(out + at, rumor_peer_momentum(s.peer), d * sizeof *out);
}

/* The robust rule's state as bytes, into out (s.robust_len of them). */
static void s_robust_state(uint8_t *out)
{
    const rumor_robust_state_t st =
        rumor_robust_state(rumor_gossip_robust(rumor_peer_gossip(s.peer)));
    const size_t n = st.deg * sizeof(uint64_t);
    memcpy(out, st.mixed, n);
    memcpy(out + n, st.clipped, n);
    memcpy(out + 2 * n, st.cut, n);
    memcpy(out + 3 * n, st.shift, n);
}

static void s_write(const uint8_t *p, size_t n)
{
    FILE *f = fopen(s.path, "wb");
    if (!f) abort();
    if (n && fwrite(p, 1, n, f) != n) abort();
    if (fclose(f)) abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    snprintf(s.dir, sizeof s.dir, "/tmp/rumor_fuzz_ckpt_XXXXXX");
    if (!mkdtemp(s.dir)) abort();
    snprintf(s.path, sizeof s.path, "%s/node0.safetensors", s.dir);
    atexit(s_cleanup);
    const char *json = "{\"topology\": {\"generate\": \"ring\", \"n\": 4},"
                       " \"data\": {\"name\": \"synthetic\", \"n\": 400, \"test_n\": 100,"
                       " \"dim\": 256, \"classes\": 3}, \"model\": \"cnn:2,2\","
                       " \"algorithm\": {\"name\": \"malcom\", \"batch\": 8, \"rounds\": 10,"
                       " \"momentum\": \"nesterov:0.9\", \"robust\": \"clip:auto+shift\"},"
                       " \"compressor\": \"dither:8\"}";
    rumor_errmsg_t em;
    if (rumor_scenario_parse(json, "fuzz", ".", &s.sc, &em) ||
        rumor_scenario_topology(&s.sc, &s.topo, &em) ||
        rumor_peer_data_load(&s.sc, 4, RUMOR_PEER_ALL, &s.data, &em))
        abort();
    rumor_topology_hash(s.topo, s.topo_hash);
    const rumor_peer_cfg_t cfg = rumor_peer_data_cfg(&s.data, &s.sc, s.topo, 0, 16);
    if (!(s.peer = rumor_peer_new(&cfg, &em))) abort();
    /* A few rounds alone, so that the copies and the momentum are not all zero. */
    for (int t = 0; t < 3; t++) {
        const uint8_t *m;
        size_t l;
        if (rumor_peer_step(s.peer, &m, &l)) abort();
        rumor_peer_finish(s.peer);
    }
    if (rumor_checkpoint_save(s.path, s.peer, s.topo_hash, &em)) abort();
    FILE *f = fopen(s.path, "rb");
    if (!f || fseek(f, 0, SEEK_END)) abort();
    s.base_len = (size_t)ftell(f);
    s.base = malloc(s.base_len);
    rewind(f);
    if (!s.base || fread(s.base, 1, s.base_len, f) != s.base_len) abort();
    fclose(f);
    const size_t d = rumor_peer_dim(s.peer);
    s.state_len = d * (rumor_topology_degree(s.topo, 0) + 3); /* model, copies, momentum */
    s.before = malloc(s.state_len * sizeof *s.before);
    s.params = malloc(d * sizeof *s.params);
    s.robust_len = 4 * rumor_topology_degree(s.topo, 0) * sizeof(uint64_t);
    s.robust_before = malloc(s.robust_len);
    s.robust_after = malloc(s.robust_len);
    if (!s.before || !s.params || !s.robust_before || !s.robust_after) abort();
    return 0;
}

/* The base checkpoint, cut and edited as the input says, into the scratch file. */
static void s_write_edited(const uint8_t *data, size_t size)
{
    if (size < 2) return;
    size_t len = (size_t)data[0] | (size_t)data[1] << 8;
    if (len == 0xffff || len > s.base_len) len = s.base_len;
    uint8_t *buf = malloc(s.base_len);
    if (!buf) abort();
    memcpy(buf, s.base, s.base_len);
    for (size_t i = 2; i + 3 <= size; i += 3) {
        const size_t at = ((size_t)data[i] | (size_t)data[i + 1] << 8) % s.base_len;
        buf[at] ^= data[i + 2];
    }
    s_write(buf, len);
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    if (data[0] & 1) {
        if (size < 3) return 0;
        s_write_edited(data + 1, size - 1);
    } else {
        s_write(data + 1, size - 1);
    }
    const size_t d = rumor_peer_dim(s.peer);
    s_state(s.before);
    s_robust_state(s.robust_before);
    const uint32_t round = rumor_peer_round(s.peer);
    rumor_errmsg_t em;
    if (rumor_checkpoint_load(s.path, s.peer, s.topo_hash, &em) != 0) {
        float *after = malloc(s.state_len * sizeof *after);
        if (!after) abort();
        s_state(after);
        s_robust_state(s.robust_after);
        if (rumor_peer_round(s.peer) != round ||
            memcmp(after, s.before, s.state_len * sizeof *after) ||
            memcmp(s.robust_after, s.robust_before, s.robust_len))
            abort();
        free(after);
    }
    memset(s.params, 0x5a, d * sizeof *s.params);
    rumor_checkpoint_info_t info;
    if (rumor_checkpoint_load_model(s.path, rumor_peer_model(s.peer), s.params, &info, &em)) {
        for (size_t i = 0; i < d * sizeof *s.params; i++)
            if (((const uint8_t *)s.params)[i] != 0x5a) abort();
    }
    const size_t head = size - 1 < 64 ? size - 1 : 64;
    (void)rumor_checkpoint_sniff(data + 1, head, size - 1);
    return 0;
}
