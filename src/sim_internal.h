/* rumor — the simulator's network: every peer's links over frames in memory (sim.c's
 * private header; no other module includes it).
 *
 * Each peer has one rumor_link_t per neighbour, and the simulator carries their frames, encoded
 * with wire.c, over per-edge queues instead of sockets, executing each link's actions as node.c
 * does (send a frame, deliver a DIFF, check one, install a STATE, mark down or up, stop). Time
 * is a virtual clock, and runs one of two ways.
 *
 * Lockstep (synchronous rounds, and deadline rounds without per-peer clocks): round t starts at
 * t * round_s (round_s = deadline_ms in deadline rounds, one second in synchronous ones) and
 * closes at (t + 1) * round_s. A round runs in phases separated by barriers, phase s writing
 * frames into queue parity (s + 1) & 1 and reading parity s & 1:
 *   - step: every peer that is up ticks its links (HELLO, RESYNC, HEARTBEAT), steps and sends
 *     its DIFF on every link (rumor_simnet_tick, rumor_simnet_send_diff);
 *   - receive, repeated while frames were sent in the phase before: every peer takes the frames
 *     on its links that are due before the round closes (rumor_simnet_receive), and answers;
 *   - close: every peer that is up runs its links' liveness (rumor_simnet_close), then mixes.
 * A frame is written by its sender's worker and read by its receiver's in the next phase, and a
 * link is only touched by its peer's worker, so no locks are needed; and the order in which a
 * peer hears its links (ascending neighbour) and their frames (sent order) does not depend on
 * the number of threads.
 *
 * Per-peer clocks (deadline rounds with round_mode.compute_ms or a SLOW fault; sim_clock.c):
 * every peer runs its own rounds as `rumor peer` does, on one thread, in the order of events
 * on the virtual clock. A peer's round starts when its last one closed: its step takes
 * compute_ms plus its SLOW faults' milliseconds, then it sends its DIFF, hears what came
 * meanwhile, and waits until each neighbour's DIFF of its round (or a later one) came, or
 * deadline_ms; then it mixes what it heard, whatever the rounds. Each edge's queue q[0][e] is
 * then one FIFO in arrival order (head: the next frame not heard), a frame's arrival is fixed
 * when it is sent (rumor_simnet_t.arrive tells the driver), and a finished peer says BYE.
 *
 * Faults act on frames as the receiver takes them off its queue (per-peer clocks: as they are
 * sent): a DROP loses a DIFF, a DELAY holds a frame until its arrival time, a STRAGGLE does
 * either to its straggler's DIFF, a peer that is out (DOWN, CRASH) sends nothing and what is
 * sent to it is lost; a CRASH's restart gives the peer new links (rumor_simnet_restart).
 */
#ifndef RUMOR_SIM_INTERNAL_H
#define RUMOR_SIM_INTERNAL_H

#include "rumor/clock.h"
#include "rumor/cmsg.h"
#include "rumor/codec.h"
#include "rumor/err.h"
#include "rumor/gossip.h"
#include "rumor/link.h"
#include "rumor/model.h"
#include "rumor/peer.h"
#include "rumor/scenario.h"
#include "rumor/sim.h"
#include "rumor/topology.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

/* Frames of one edge: records of a 16-byte head (arrival time, frame length, whether its fault
 * was decided) and the frame, each padded to 8 bytes. */
typedef struct {
    uint8_t *buf;
    size_t head, len, cap; /* head: per-peer clocks' next frame to hear */
} rumor_simq_t;

typedef struct {
    const rumor_scenario_t *sc;
    rumor_peer_t **peers;
    uint32_t n, d;
    uint32_t pub;          /* floats in a public copy and a STATE: d, or 2 d for BEER's tracker */
    const uint32_t *edge0; /* (n + 1) peer i's links are edge0[i] .. edge0[i + 1] - 1 */
    uint32_t *rev;         /* (edges) link e of i to j -> j's link to i */
    uint32_t *nbr;         /* (edges) link e -> its neighbour's id */
    rumor_link_t *links;   /* (edges) */
    rumor_simq_t *q[2];    /* (edges) frames to link e, by phase parity */
    rumor_simq_t *held;    /* (edges) frames to link e that arrive in a later round */
    double *last_at;       /* (edges) arrival of link e's last frame with a delay in ms */
    uint64_t *frames;      /* (edges) frames taken off link e's queue (the delays' draws) */
    uint64_t *lost;        /* (n) DIFFs to each peer that DROP and STRAGGLE faults lost */
    rumor_wire_hello_t *hello; /* (n) each peer's HELLO */
    size_t max_payload;
    double round_s, liveness_s;
    int clocked; /* per-peer clocks: one FIFO per edge, fates decided when a frame is sent */
    /* per-peer clocks: a frame was queued on link e that arrives at `at` (s) */
    void (*arrive)(void *ctx, uint32_t e, double at);
    void *arrive_ctx;
    atomic_uint sent[3]; /* frames sent in phase s, in sent[(s + 1) % 3] */
    atomic_int failed;   /* the first error (0: none) */
} rumor_simnet_t;

/* A worker's state: the frames its peers sent in the current phase. */
typedef struct {
    uint32_t sent;
    int failed; /* one of its peers failed (net->failed has the first error) */
} rumor_simnet_worker_t;

/* Sets up the links of every peer of topo, as at round 0 (a resumed run imports theirs).
 * Returns 0, or RUMOR_ENOMEM or RUMOR_EINVAL (a one-way edge) with em filled. */
int rumor_simnet_init(rumor_simnet_t *net, const rumor_scenario_t *sc, const rumor_topology_t *topo,
                      rumor_peer_t **peers, const uint32_t *edge0, rumor_errmsg_t *em);
void rumor_simnet_free(rumor_simnet_t *net);

/* Step phase s of round t, peer i (up), at time now: its links' timers, before its step. */
void rumor_simnet_tick(rumor_simnet_t *net, rumor_simnet_worker_t *w, uint32_t i, uint32_t t,
                       uint64_t s, double now);
/* ... and its DIFF msg[0..len) to every neighbour, after it. */
void rumor_simnet_send_diff(rumor_simnet_t *net, rumor_simnet_worker_t *w, uint32_t i, uint32_t t,
                            uint64_t s, const uint8_t *msg, size_t len, double now);
/* Peer i restarts from a checkpoint in round t (a CRASH fault's k-th restart): new session,
 * new links, nothing of its old frames. */
void rumor_simnet_restart(rumor_simnet_t *net, rumor_simnet_worker_t *w, uint32_t i, uint32_t t,
                          uint32_t k);
/* Receive phase s of round t: peer i takes the frames due on its links and answers them; a
 * peer that is out (up = 0) loses them. */
void rumor_simnet_receive(rumor_simnet_t *net, rumor_simnet_worker_t *w, uint32_t i, uint32_t t,
                          uint64_t s, int up);
/* The end of phase s: the worker's frames counted (sent[(s + 1) % 3]); worker 0 also clears
 * the counter of phase s + 1. */
void rumor_simnet_end_phase(rumor_simnet_t *net, rumor_simnet_worker_t *w, uint64_t s, int w0);
/* After the barrier that ends phase s: frames sent in it. */
unsigned rumor_simnet_pending(rumor_simnet_t *net, uint64_t s);
/* Round t closes for peer i (up) at time now: neighbours silent past the liveness timeout are
 * marked down. */
void rumor_simnet_close(rumor_simnet_t *net, rumor_simnet_worker_t *w, uint32_t i, uint32_t t,
                        double now);

/* Per-peer clocks: peer i, in round t, hears the frames of link e that arrived by now, in
 * order, and answers them. */
void rumor_simnet_hear(rumor_simnet_t *net, rumor_simnet_worker_t *w, uint32_t i, uint32_t e,
                       uint32_t t, double now);
/* ... 1 while round t of peer i must wait for a neighbour's DIFF (rumor_link_awaited). */
int rumor_simnet_awaited(const rumor_simnet_t *net, uint32_t i, uint32_t t);
/* ... peer i finished its last round t at time now: BYE to every neighbour. */
void rumor_simnet_say_done(rumor_simnet_t *net, rumor_simnet_worker_t *w, uint32_t i, uint32_t t,
                           double now);

/* The links' state into w (edges * RUMOR_LINK_WORDS words), and back (RUMOR_EFORMAT if
 * malformed). Frames in flight are not kept. */
void rumor_simnet_export(const rumor_simnet_t *net, uint64_t *w);
RUMOR_NODISCARD int rumor_simnet_import(rumor_simnet_t *net, const uint64_t *w);

/* ---- checkpoints (sim_ckpt.c) ------------------------------------------------------------- */

/* What the simulator's checkpoints save and restore, and their own state: part of the
 * simulation (s_sim_t.ck), set up before the workers start. */
typedef struct {
    const rumor_scenario_t *sc;
    const rumor_sim_opts_t *opts;
    uint32_t n, threads;
    rumor_peer_t **peers; /* (n) */
    rumor_peer_t **saved; /* (faults) CRASH k: its node's last checkpoint, else NULL */
    rumor_simnet_t *net;
    uint8_t topo_hash[32];
    int slot;              /* checkpoint slot to write next: 0 = DIR/a, 1 = DIR/b */
    atomic_int failed;     /* a checkpoint failed: its code (0: none); the run stops */
    rumor_errmsg_t em;     /* why (written by the worker that failed first) */
    uint32_t start;        /* the first round run (a resumed run's checkpoint round) */
    uint32_t target_round; /* the first evaluation that reached sc->target_acc (0: none yet) */
    double target_bytes;   /* bytes sent per peer by then */
} rumor_sim_ckpt_t;

/* Worker w of ck->threads saves its peers (and the state a crashed peer is to restart from,
 * while it is) into the slot being written; a failure is kept in ck->failed. */
void rumor_sim_ckpt_save_peers(rumor_sim_ckpt_t *ck, uint32_t w, uint32_t done);

/* One worker, after every worker's rumor_sim_ckpt_save_peers: the links' state and
 * DIR/sim.json for round done, which commits the slot; a failure is kept in ck->failed. */
void rumor_sim_ckpt_commit(rumor_sim_ckpt_t *ck, uint32_t done);

/* Before the workers start: the directory and its slots exist, and a checkpoint there, if
 * any, is loaded into every peer, link and ck (start, target). Returns 1 when one was loaded,
 * 0 when there is none, or a negative code with em filled. */
int rumor_sim_ckpt_resume(rumor_sim_ckpt_t *ck, rumor_errmsg_t *em);

/* 1 when a checkpoint is due after `done` rounds. */
int rumor_sim_ckpt_due(const rumor_sim_ckpt_t *ck, uint32_t done);

/* ---- the simulation (sim.c) ----------------------------------------------------------------- */

typedef struct s_sim s_sim_t;

/* One peer's part of an evaluation record. */
typedef struct {
    int stepped; /* it took a step since the last record (it has a loss) */
    double loss, acc, test_loss, nnz, l1, nnz_copy, err, bytes, wire, ent;
    double tc, tk, tw, cc, ck; /* seconds: compute, codec, wait; CPU: compute, codec */
} rumor_sim_sample_t;

typedef struct {
    s_sim_t *sim;
    uint32_t w;
    double t_wait;
    rumor_simnet_worker_t net;
    atomic_uint fail_round; /* the first round in which one of its peers failed (UINT32_MAX) */
} s_worker_t;

struct s_sim {
    const rumor_scenario_t *sc;
    const rumor_sim_opts_t *opts;
    const rumor_topology_t *topo;
    const rumor_peer_data_t *data;
    uint32_t n, threads;
    size_t d;
    rumor_peer_t **peers;
    rumor_simnet_t net;
    double *acc, *test_loss; /* (n) last evaluation of each peer */
    float *avg;              /* (d) network-average model */
    rumor_model_t *avg_model;
    pthread_barrier_t barrier;
    pthread_mutex_t gate_mu; /* the workers' start (sim.c, s_worker_thread) */
    pthread_cond_t gate_cv;
    int gate; /* 0: wait, 1: run, -1: a thread could not be started; return */
    s_worker_t *workers;
    atomic_uint sig_round; /* the first round at whose phase's end worker 0 saw the stop flag */
    atomic_uint dropped;   /* 1 + the round the stop flag cut short (written before the barrier
                              that ends its steps, read after it; 0: none) */
    uint32_t *edge0;       /* (n + 1) peer i's links are edge0[i] .. edge0[i + 1] - 1 */
    rumor_peer_t **saved;  /* (faults) CRASH k: its node's last checkpoint, else NULL */
    rumor_sim_ckpt_t ck;   /* checkpoints, the first round run and the target reached */
    double t_start;
    rumor_sim_result_t last;
    rumor_consensus_watch_t consensus; /* warns once when the distance keeps growing */
    /* grad_norm_avg: the fixed training subset and scratch for one evaluation chunk */
    uint32_t grad_m;
    uint32_t *grad_idx; /* (grad_m) rows of the training set */
    float *grad_x;      /* (RUMOR_PEER_EVAL_ROWS, dim) gathered rows */
    int32_t *grad_y;    /* (RUMOR_PEER_EVAL_ROWS) their labels */
    float *grad_chunk;  /* (d) the gradient of one chunk */
    float *grad;        /* (d) the gradient over the subset */
    /* steps skipped by stragglers in rounds 0 .. straggle_upto - 1 (worker 0, s_record) */
    uint64_t straggled;
    uint32_t straggle_upto;
    rumor_sim_sample_t *smp; /* (n) the peers' parts of the record being written */
    const float **x;         /* (n) ... and their models */
    double *mark; /* (2n) peer i's t_compute and t_codec when its worker's pass began (sim.c) */
    float *rows;  /* (threads, batch x dim) the minibatch rows the peers of each worker share */
    rumor_codec_t **codecs; /* (threads) the codec the peers of each worker share */
    rumor_cmsg_t *outs;     /* (threads) the message buffer the peers of each worker share */
    float *grads;           /* (threads, d) the gradient the peers of each worker share */
};

/* Peer i's part of the record now (after its evaluation into sim->acc[i], sim->test_loss[i]);
 * takes its loss, which starts the next record's average. */
void rumor_sim_sample(s_sim_t *sim, uint32_t i, rumor_sim_sample_t *out);

/* Worker 0 (or the per-peer clocks' driver): the network-level metrics of the evaluation after
 * `done` rounds from every peer's part smp[i] and model x[i], written as the record. */
void rumor_sim_record(s_sim_t *sim, uint32_t done, const rumor_sim_sample_t *smp,
                      const float *const *x);

/* 1 when an evaluation is due after `done` rounds. */
int rumor_sim_eval_round(const s_sim_t *sim, uint32_t done);

/* ---- per-peer clocks (sim_clock.c) --------------------------------------------------------- */

/* Runs every round of every peer on per-peer clocks (sim_internal.h, top), on this thread, with
 * the records of rumor_sim_record. Returns 0, or RUMOR_ENOMEM with em filled (a failure of a
 * peer is in sim->net.failed, as with the workers). */
int rumor_sim_clock_run(s_sim_t *sim, rumor_errmsg_t *em);

static inline void s_wait(s_worker_t *wk)
{
    const double t0 = rumor_clock_now();
    pthread_barrier_wait(&wk->sim->barrier);
    wk->t_wait += rumor_clock_now() - t0;
}

#endif
