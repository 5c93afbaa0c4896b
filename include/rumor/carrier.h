/* rumor — what a link's actions do to a peer, for both carriers of frames (DESIGN.md 4).
 *
 * A link (link.h) asks for actions; most of them act on the peer the same way whichever
 * carrier moves the frames: a DIFF is delivered to the peer or checked by its decoder, a STATE
 * is decoded into the neighbour's public copy, a neighbour is taken out of the mix or back.
 * rumor_carrier_act carries them out and reports each outcome back to the link, so node.c
 * (ZeroMQ sockets) and sim_net.c (frames in memory) differ only in what they supply here:
 * how a frame of a given type leaves, and what stopping the run means.
 */
#ifndef RUMOR_CARRIER_H
#define RUMOR_CARRIER_H

#include "rumor/link.h"
#include "rumor/peer.h"

#include <stdint.h>

typedef struct {
    /* Builds a frame of `type` (HELLO, STATE, RESYNC or HEARTBEAT) for l's neighbour, moves it
     * and reports it with rumor_link_sent. Required. */
    void (*send)(void *ctx, rumor_link_t *l, uint8_t type);
    /* A synchronous run cannot go on because of l's neighbour, for reason `why`. Required. */
    void (*stop)(void *ctx, rumor_link_t *l, const rumor_wire_bye_t *why);
    /* Optional: a DIFF (header h) was delivered with rumor_peer_deliver's code rc. */
    void (*delivered)(void *ctx, rumor_link_t *l, const rumor_wire_header_t *h, int rc);
    /* Optional: l's neighbour was taken out of the mix (up 0) or back into it (up 1). */
    void (*marked)(void *ctx, rumor_link_t *l, int up);
} rumor_carrier_t;

/* Carries out a's actions, in order, for link l of peer p, which is in `round` at time `now`:
 * SEND and STOP through c, the rest on p (and its gossip), each outcome reported to l. */
void rumor_carrier_act(rumor_link_t *l, rumor_peer_t *p, uint32_t round, double now,
                       const rumor_link_actions_t *a, const rumor_carrier_t *c, void *ctx);

#endif
