/* rumor — a link's actions on a peer, shared by node.c and sim_net.c (see carrier.h).
 * Called for every event of every link; allocates nothing. */
#include "rumor/carrier.h"
#include "rumor/gossip.h"

void rumor_carrier_act(rumor_link_t *l, rumor_peer_t *p, uint32_t round, double now,
                       const rumor_link_actions_t *a, const rumor_carrier_t *c, void *ctx)
{
    rumor_gossip_t *g = rumor_peer_gossip(p);
    const uint32_t j = l->cfg.id;
    for (int i = 0; i < a->n; i++) {
        const rumor_link_action_t *x = &a->act[i];
        switch (x->act) {
        case RUMOR_LINK_SEND:
            c->send(ctx, l, x->frame);
            break;
        case RUMOR_LINK_DELIVER: {
            const int rc = rumor_peer_deliver(p, j, x->payload, x->h.len);
            rumor_link_delivered(l, &x->h, rc, round, now);
            if (c->delivered) c->delivered(ctx, l, &x->h, rc);
            break;
        }
        case RUMOR_LINK_CHECK: {
            rumor_link_actions_t more;
            const int rc = rumor_peer_check(p, x->payload, x->h.len);
            rumor_link_checked(l, &x->h, x->payload, rc, &more);
            rumor_carrier_act(l, p, round, now, &more, c, ctx);
            break;
        }
        case RUMOR_LINK_INSTALL: {
            uint32_t from = 0;
            const int rc = rumor_wire_decode_state(x->payload, x->h.len, rumor_gossip_public_dim(g),
                                                   &from, rumor_gossip_copy_mut(g, j));
            rumor_link_installed(l, &x->h, rc, from);
            break;
        }
        case RUMOR_LINK_DOWN:
        case RUMOR_LINK_UP: {
            const int up = x->act == RUMOR_LINK_UP;
            RUMOR_ASSERT(rumor_gossip_set_up(g, j, up) == 0);
            if (c->marked) c->marked(ctx, l, up);
            break;
        }
        case RUMOR_LINK_STOP:
            c->stop(ctx, l, &x->bye);
            break;
        }
    }
}
