/* rumor — private to node.c and node_metrics.c: one networked peer's session (see node.h). */
#ifndef RUMOR_NODE_INTERNAL_H
#define RUMOR_NODE_INTERNAL_H

#include "rumor/keys.h"
#include "rumor/link.h"
#include "rumor/node.h"
#include "rumor/peer.h"
#include "rumor/scenario.h"
#include "rumor/topology.h"
#include "rumor/transport.h"
#include "rumor/wire.h"

#include <stdint.h>
#include <stdio.h>

/* Frames dropped before any link saw them. */
enum {
    RUMOR_NODE_DROP_TRANSPORT = 0, /* oversized, multi-part or unauthenticated (transport level) */
    RUMOR_NODE_DROP_IMPOSTOR,      /* header sender differs from the authenticated sender */
    RUMOR_NODE_DROP_COUNT
};

struct rumor_node_session {
    rumor_node_opts_t o_copy; /* the options, with defaults filled in */
    const rumor_node_opts_t *o;
    rumor_scenario_t sc;
    rumor_topology_t *topo;
    rumor_peer_data_t data;
    int data_loaded;
    rumor_peer_t *peer;
    rumor_keypair_t keys;
    void *zctx;
    int own_zctx; /* zctx is this node's (not the caller's shared one) */
    int started;  /* handshake done, rounds under way */
    rumor_transport_t *tr;
    uint32_t self, deg, d;
    uint32_t pub;     /* floats in a public copy, and in a STATE: d, or 2 d for BEER's tracker */
    rumor_link_t *nb; /* (deg) one per neighbour, in the gossip's slot order */
    uint8_t *out;     /* outgoing frame */
    uint8_t *in;      /* incoming frame */
    size_t frame_cap, max_payload;
    rumor_wire_hello_t hello;
    uint64_t session; /* random per process: tells a restarted neighbour from a repeated HELLO */
    uint8_t topo_hash[32];
    uint64_t wire_drops[RUMOR_WIRE_DROP_COUNT];
    uint64_t drops[RUMOR_NODE_DROP_COUNT];
    uint64_t stale_rounds;
    uint64_t wire_bytes;        /* of every frame this process sent (rumor_transport_wire_bytes) */
    int64_t recorded;           /* round of the last metrics record (-1: none) */
    const rumor_link_t *failed; /* a link asked to stop the run (synchronous) ... */
    rumor_wire_bye_t failure;   /* ... for this reason */
    rumor_wire_bye_t stop;      /* why this peer stops, when an error stops it (code < 0) */
    double t_start;
    double cpu_start, cpu_eval; /* process CPU when training began; CPU spent evaluating */
    int stepped;                /* this round's step is done: the own copy holds its DIFF */
    double t_train;             /* wall clock when training began ... */
    uint32_t round0;            /* ... at this round */
    uint32_t liveness_ms;
    char ckpt_path[RUMOR_PATH_MAX + 64];
    FILE *metrics;
    int metrics_lost; /* a metrics record could not be written (warned once) */
};

/* Writes a metrics record of the peer's state (and a progress line); `stop`, when not NULL,
 * is the error that ends the run (quotes and backslashes in it become apostrophes and
 * slashes). */
void rumor_node_write_metrics(rumor_node_session_t *n, double loss, double test_loss, double acc,
                              const char *stop);

#endif
