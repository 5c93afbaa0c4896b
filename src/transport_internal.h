/* rumor — what the transport's two files share, and no other module includes: the ZAP
 * handler's table of domains (transport_zap.c), used by the sockets (transport.c). */
#ifndef RUMOR_TRANSPORT_INTERNAL_H
#define RUMOR_TRANSPORT_INTERNAL_H

#include "rumor/transport.h"

#include <stdint.h>

/* ---- the ZAP handler's domains ---------------------------------------------------------- */

/* One secure transport's entry in its handler's table. */
typedef struct rumor_transport_domain rumor_transport_domain_t;

/* Lists node `node`'s neighbours' keys (validated Z85) with their ids. Returns 0 with *out
 * set, RUMOR_EINVAL when the node already has a transport in this context, or RUMOR_ENOMEM;
 * em filled on error. */
int rumor_transport_auth_register(rumor_transport_auth_t *a, uint32_t node,
                                  const rumor_transport_nbr_t *nbrs, uint32_t n,
                                  rumor_transport_domain_t **out, rumor_errmsg_t *em);

/* Removes and frees d, logging the count of its open burst of refusals. */
void rumor_transport_auth_unregister(rumor_transport_auth_t *a, rumor_transport_domain_t *d);

/* Answers the ZAP requests waiting on a (a bounded number: a flood cannot hold the caller),
 * then logs the bursts of refusals that are due. Never waits for the network; it waits for
 * the handler's mutex while another thread serves it. These functions may be called from
 * any thread. */
void rumor_transport_auth_serve(rumor_transport_auth_t *a);

/* Logs the bursts of refusals that are due. */
void rumor_transport_auth_flush(rumor_transport_auth_t *a);

/* The descriptor (ZMQ_FD) that turns readable when requests may have come for a: poll it
 * beside a transport's own, then serve a. */
int rumor_transport_auth_fd(const rumor_transport_auth_t *a);

/* 1 if the last serve stopped at its bound with requests still waiting (the descriptor will
 * not say so again): serve a without waiting. */
int rumor_transport_auth_backlog(rumor_transport_auth_t *a);

/* The ZeroMQ context a serves. */
void *rumor_transport_auth_ctx(const rumor_transport_auth_t *a);

/* d's ZMQ_ZAP_DOMAIN ("rumor.node.<id>"). */
const char *rumor_transport_auth_domain(const rumor_transport_domain_t *d);

/* Fills out's admitted, refused and last_refused from d, one of a's domains. */
void rumor_transport_auth_domain_stats(rumor_transport_auth_t *a, const rumor_transport_domain_t *d,
                                       rumor_transport_auth_stats_t *out);

#endif
