/* rumor — one networked peer: `rumor peer`.
 *
 * Drives the same rumor_peer_t state machine as the simulator, over a ZeroMQ transport:
 *   1. load the scenario, topology, data and (if present) the node's checkpoint;
 *   2. bind, connect, and handshake with every neighbour (HELLO: protocol version, topology
 *      hash, run-config hash, resume round, model dimension); an incompatible neighbour is
 *      refused with a message naming what differs;
 *   3. run rounds: local step, DIFF to every neighbour, absorb theirs, mix, prox;
 *   4. evaluate every eval_every rounds (metrics JSON Lines + a progress line), checkpoint
 *      every K rounds and at SIGINT/SIGTERM, say BYE, write the final model, exit.
 *
 * Synchronous mode waits for every neighbour's DIFF of round t before mixing, buffering DIFFs
 * of round t + 1 that arrive early, so the models are bit-identical to `rumor sim`.
 * Deadline mode mixes at the deadline with what arrived and applies late DIFFs on arrival;
 * every edge numbers its DIFFs, so a gap or a replay is seen: a gap asks the sender for
 * its public copy (RESYNC -> STATE), a replay is dropped. A neighbour silent past the
 * liveness timeout is marked down (its weight moves to the self-weight) until it is heard
 * again; to keep that for peers that are really gone, a peer sends a HEARTBEAT to every
 * neighbour it has sent nothing to for a quarter of the timeout (while it waits for others,
 * evaluates or checkpoints). A restarted peer resumes from its checkpoint; after its HELLO both
 * sides exchange STATE so public copies agree again, and it jumps to its neighbours' round. Every
 * frame is parsed with bounds checks and must come from the authenticated neighbour it names;
 * anything else is dropped and counted by reason, and the peer keeps running.
 *
 * A peer that stops with an error (its SGD step left non-finite parameters, a neighbour timed
 * out, ...) sends every neighbour a BYE with its round and the error. A synchronous neighbour
 * stops at once and sends its own BYE with the same error, so a run that cannot go on ends
 * everywhere within seconds; a deadline neighbour mixes without the sender until it is heard
 * again. A BYE only ever speaks of its sender. The per-neighbour protocol, and what a frame
 * from an admitted neighbour may change, is the link's (link.h); this module carries it. A peer
 * stopped by SIGINT/SIGTERM is to be restarted: its BYE says so, synchronous neighbours wait for
 * it, deadline neighbours mix without it meanwhile.
 */
#ifndef RUMOR_NODE_H
#define RUMOR_NODE_H

#include "rumor/err.h"
#include "rumor/scenario.h"
#include "rumor/link.h"
#include "rumor/peer.h"
#include "rumor/transport.h"

#include <stdint.h>
#include <signal.h>
#include <stdio.h>

typedef struct {
    const char *config;            /* scenario file (with config_json: its name in messages) */
    const char *config_json;       /* the scenario as JSON text instead of a file, or NULL */
    void *zctx;                    /* a ZeroMQ context to share (inproc), or NULL: the node's own */
    rumor_transport_auth_t *zauth; /* with zctx: its ZAP handler, shared by the secure nodes
                                      of the context; NULL: the node starts its own */
    const char *topology;          /* topology file; NULL: the scenario's */
    uint32_t id;                   /* this node */
    const char *key;               /* secret key file; required unless insecure */
    int insecure;                  /* plaintext (loopback, ipc, inproc only) */
    const char *checkpoint_dir;    /* NULL: no checkpoints */
    uint32_t checkpoint_every;     /* rounds between checkpoints (0: only at exit) */
    const char *metrics;           /* JSON Lines output, or NULL */
    const char *model_out;         /* final model as raw float32, or NULL */
    FILE *progress;                /* progress lines, or NULL */
    uint32_t rounds;               /* override of algorithm.rounds (0: keep) */
    uint32_t wait_s;               /* give up on a silent neighbour (sync) after this [300] */
    uint32_t liveness_ms;          /* deadline mode: mark a silent neighbour down after this
                                      [3 x deadline, at least 1000] */
    uint32_t slow_ms;              /* extra milliseconds before each local step (a real
                                      straggler, rumor peer --slow) [0] */
    /* What this peer sends in place of its messages (zeroed: honest; rumor_peer_set_byzantine) */
    rumor_byzantine_t byzantine;
    /* Set nonzero (by the program's SIGINT/SIGTERM handler) to stop: the node ends its wait or
     * round, checkpoints and says BYE. NULL: only the rounds end the run. rumor installs no
     * signal handlers itself. */
    volatile sig_atomic_t *stop;
} rumor_node_opts_t;

/* One peer's session with its neighbours, driven round by round (librumor drives it for a
 * caller's own model, rumor_node_run for `rumor peer`). */
typedef struct rumor_node_session rumor_node_session_t;

/* Loads the scenario, topology, keys, data (none for an external model) and the checkpoint
 * in o->checkpoint_dir if there is one, binds and connects. Options are copied; the strings
 * they point to must outlive the session. */
RUMOR_NODISCARD int rumor_node_open(const rumor_node_opts_t *o, rumor_node_session_t **out,
                                    rumor_errmsg_t *em);
/* One round: the handshake first if none was done, then the peer's step, a DIFF to every
 * neighbour, frames through the links until the round may close (sync: every DIFF;
 * deadline: or the deadline), mix and prox; a metrics record and a checkpoint when due.
 * RUMOR_ERANGE after the scenario's last round. */
RUMOR_NODISCARD int rumor_node_round(rumor_node_session_t *n, rumor_errmsg_t *em);
/* Ends the session: rc = 0 writes the last checkpoint, says BYE and answers resync requests
 * for a moment; rc < 0 (the error that ends it) sends a BYE naming it and a last record. Writes
 * o->model_out on success. Returns rc, or the error of the checkpoint or the model file. */
int rumor_node_close(rumor_node_session_t **n_p, int rc, rumor_errmsg_t *em);
/* Restores the peer's state from a checkpoint file, only before the first round. */
RUMOR_NODISCARD int rumor_node_resume(rumor_node_session_t *n, const char *path,
                                      rumor_errmsg_t *em);
/* Writes the peer's state (model, public copies, round, RNG positions) to path, atomically. */
int rumor_node_save(rumor_node_session_t *n, const char *path, rumor_errmsg_t *em);
rumor_peer_t *rumor_node_peer(rumor_node_session_t *n);
uint32_t rumor_node_degree(const rumor_node_session_t *n);
/* The link of the k-th neighbour (the gossip's slot order), or NULL past the degree. */
const rumor_link_t *rumor_node_link(const rumor_node_session_t *n, uint32_t k);

/* Runs the peer to the end. Returns 0 when done, RUMOR_EINTR when stopped by a signal (a
 * checkpoint was written if a directory was given), or an error with em filled. */
int rumor_node_run(const rumor_node_opts_t *o, rumor_errmsg_t *em);

#endif
