/* rumor — libFuzzer target for a peer's message decoding: what rumor_peer_deliver reads from a
 * neighbour, here BEER's two-part message (u32 length, codec message, u32 length, codec
 * message), whose lengths the peer bounds before the codec sees either part.
 *
 * Two small BEER peers are built once (ring of 4, mlp:4 on 6 features, the tracker on the
 * output layer alone, so the message's second part is shorter than its first), and node 1's
 * message of round 0 is the base. Byte 0 of an input picks the message: bit 0 clear, the rest
 * of the input is the message; bit 0 set, the base edited by the input: bytes 1-2
 * (little-endian) cut it to that length (0xffff keeps it whole), then each triple (offset low,
 * offset high, value) XORs one byte, which reaches the codec behind valid lengths.
 *
 * Invariants: a refused message leaves node 0's copy of node 1 (model and tracker) as it was;
 * an accepted one is applied, and the copy is put back for the next input. No input reads or
 * writes out of bounds (the sanitizers check that).
 *
 * Run: scripts/fuzz 60 fuzz_peer
 */
#include "rumor/peer.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The harness's process state: the receiving peer, the base message and node 1's copy. */
static struct {
    rumor_scenario_t sc;
    rumor_topology_t *topo;
    rumor_peer_data_t data;
    rumor_peer_t *peer, *sender;
    uint8_t *base, *buf;
    size_t base_len;
    float *copy0; /* node 0's copy of node 1 before any input */
    size_t pub;
} s;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *json = "{\"topology\": {\"generate\": \"ring\", \"n\": 4},"
                       " \"data\": {\"name\": \"synthetic\", \"n\": 400, \"test_n\": 100,"
                       " \"dim\": 6, \"classes\": 3}, \"model\": \"mlp:4\","
                       " \"algorithm\": {\"name\": \"beer\", \"batch\": 8, \"rounds\": 10,"
                       " \"track\": \"last\"},"
                       " \"compressor\": \"dither:4:biased\"}";
    rumor_errmsg_t em;
    if (rumor_scenario_parse(json, "fuzz", ".", &s.sc, &em) ||
        rumor_scenario_topology(&s.sc, &s.topo, &em) ||
        rumor_peer_data_load(&s.sc, 4, RUMOR_PEER_ALL, &s.data, &em))
        abort();
    const rumor_peer_cfg_t c0 = rumor_peer_data_cfg(&s.data, &s.sc, s.topo, 0, 16);
    const rumor_peer_cfg_t c1 = rumor_peer_data_cfg(&s.data, &s.sc, s.topo, 1, 16);
    if (!(s.peer = rumor_peer_new(&c0, &em)) || !(s.sender = rumor_peer_new(&c1, &em))) abort();
    const uint8_t *m;
    if (rumor_peer_step(s.sender, &m, &s.base_len)) abort();
    s.base = malloc(s.base_len);
    s.buf = malloc(s.base_len);
    s.pub = rumor_gossip_public_dim(rumor_peer_gossip(s.peer));
    s.copy0 = malloc(s.pub * sizeof *s.copy0);
    if (!s.base || !s.buf || !s.copy0) abort();
    memcpy(s.base, m, s.base_len);
    memcpy(s.copy0, rumor_gossip_copy(rumor_peer_gossip(s.peer), 1), s.pub * sizeof *s.copy0);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    const uint8_t *msg = data + 1;
    size_t len = size - 1;
    if (data[0] & 1) {
        if (size < 3) return 0;
        len = (size_t)data[1] | (size_t)data[2] << 8;
        if (len == 0xffff || len > s.base_len) len = s.base_len;
        memcpy(s.buf, s.base, s.base_len);
        for (size_t i = 3; i + 3 <= size; i += 3)
            s.buf[((size_t)data[i] | (size_t)data[i + 1] << 8) % s.base_len] ^= data[i + 2];
        msg = s.buf;
    }
    float *copy = rumor_gossip_copy_mut(rumor_peer_gossip(s.peer), 1);
    if (rumor_peer_deliver(s.peer, 1, msg, len) != 0) {
        if (memcmp(copy, s.copy0, s.pub * sizeof *copy)) abort(); /* a refusal changed state */
    } else {
        memcpy(copy, s.copy0, s.pub * sizeof *copy);
    }
    return 0;
}
