/* rumor — one peer's state machine: local step, compression, coding, absorption, mixing.
 *
 * This is the single implementation of a peer's training that both the simulator and the
 * networked `rumor peer` drive; neither knows how the other moves bytes. A round is
 *   rumor_peer_step()     minibatch gradient (coded over held shards with data.redundancy,
 *                         see coded.h; none for a straggler), v = x - eta g (local_steps such
 *                         steps, each from the last; BEER: the tracker's update,
 *                         v = x - eta y), the l1 prox if it sits before compression, produce
 *                         + encode the message (BEER: the model's and the tracker's parts,
 *                         each length-prefixed)
 *   rumor_peer_deliver()  for each neighbour message of this round: decode + absorb
 *   rumor_peer_finish()   mix over neighbours (ascending id), the l1 prox if it sits after
 *                         the mix, quasi-global momentum's buffer update, advance the round
 * Randomness of round t comes from streams (seed, peer, t, purpose), batches from the
 * peer's own sampler, so the model after round t depends only on the scenario, the seed
 * and the messages received — bit for bit, whatever the thread or process layout.
 * Everything is allocated in rumor_peer_create; a round never allocates.
 */
#ifndef RUMOR_PEER_H
#define RUMOR_PEER_H

#include "rumor/codec.h"
#include "rumor/data.h"
#include "rumor/err.h"
#include "rumor/gossip.h"
#include "rumor/model.h"
#include "rumor/partition.h"
#include "rumor/sampler.h"
#include "rumor/scenario.h"
#include "rumor/topology.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct {
    const rumor_scenario_t *sc;
    const rumor_topology_t *topo;
    uint32_t self;
    const rumor_dataset_t *train; /* shared, read-only; NULL for an external model */
    const uint32_t *shard;        /* this peer's sample indices into train */
    uint32_t shard_n;
    const rumor_partition_t *part; /* every shard's indices (coded steps, data.redundancy > 1) */
    uint32_t eval_batch;           /* rows per evaluation chunk (model workspace) */
    float *rows; /* (batch, dim) a minibatch's rows, lent for the length of each rumor_peer_step
                  * (peers that step one at a time may share them); NULL: the peer's own */
    rumor_codec_t *codec; /* a codec context lent likewise (one per thread); NULL: its own */
    float *grad;          /* (model size) the gradient, scratch of a step, lent likewise */
    rumor_cmsg_t *out;    /* the message a step produces, lent likewise (capacity >= the model's
                           * size; BEER's tracker part stays the peer's own); NULL: its own */
} rumor_peer_cfg_t;

/* The evaluation chunk of the simulator's and networked peers: a model's evaluation sums
 * chunk by chunk, so equal chunks give bit-identical accuracies and losses. */
#define RUMOR_PEER_EVAL_ROWS 500u

/* Rows per evaluation chunk of a peer of scenario sc configured with eval_batch: the model
 * workspace holds a training batch too, so never fewer than sc->batch. */
uint32_t rumor_peer_eval_chunk(const rumor_scenario_t *sc, uint32_t eval_batch);

/* Cumulative counters since the start of the run (or since the checkpoint's start). */
typedef struct {
    uint64_t msgs_sent;     /* messages produced x neighbours they went to */
    uint64_t bytes_sent;    /* encoded bytes x neighbours they went to */
    uint64_t bytes_recv;    /* encoded bytes delivered */
    double entropy_bits;    /* entropy bound of produced messages x neighbours */
    double loss_sum;        /* sum of minibatch losses ... */
    uint64_t loss_count;    /* ... over this many steps (reset by the caller) */
    double t_compute;       /* seconds in gradient, SGD step, mix and prox */
    double t_codec;         /* seconds in compression, encoding and decoding */
    double t_wait;          /* seconds waiting for neighbours (set by the driver) */
    double cpu_compute;     /* CPU seconds of this peer's thread in the t_compute parts */
    double cpu_codec;       /* CPU seconds of this peer's thread in the t_codec parts */
    uint64_t decode_errors; /* messages that failed to decode or absorb */
} rumor_peer_stats_t;

typedef struct rumor_peer rumor_peer_t;

/* Makes the peer that cfg describes. Returns 0 with *out set, or the code of the failure
 * (RUMOR_ENOMEM, RUMOR_EINVAL for a configuration the peer cannot run) with *out NULL and em
 * filled. */
int rumor_peer_create(const rumor_peer_cfg_t *cfg, rumor_peer_t **out, rumor_errmsg_t *em);

/* The same, NULL on failure: for callers that need no code. */
static inline rumor_peer_t *rumor_peer_new(const rumor_peer_cfg_t *cfg, rumor_errmsg_t *em)
{
    rumor_peer_t *p;
    return rumor_peer_create(cfg, &p, em) ? NULL : p;
}
void rumor_peer_destroy(rumor_peer_t **p_p);

/* What to try when a model diverges: the step size, or the consensus step, which is too large
 * for a coarse compressor on a sparse graph long before it is for the identity. */
#define RUMOR_PEER_DIVERGED_HINT "(a smaller lr or gamma may help)"

/* Runs the local step of the current round and encodes its message; *msg points into the
 * peer's buffer and stays valid until the next step. *len is 0 when the peer does not take
 * part in the round (rumor_peer_participates): there is nothing to send. Returns 0, or
 * RUMOR_ENONFINITE when the SGD step left a NaN or infinite parameter: the model diverged (the
 * message is still encoded; callers stop instead of sending it). */
RUMOR_NODISCARD int rumor_peer_step(rumor_peer_t *p, const uint8_t **msg, size_t *len);

/* BEER's tracker starts from the mean gradient of this many batches (round 0). */
#define RUMOR_PEER_TRACK_INIT 4u

/* 1 when round t of scenario sc is a full-sync round: MARINA's coin, heads with probability
 * sync_p, drawn from (seed, t) alone, so every peer draws the same without a message. */
int rumor_peer_sync_round(const rumor_scenario_t *sc, uint32_t t);

/* 1 when node takes part in round t (with probability participation, drawn from (seed, node,
 * t) alone, so its neighbours know without a message; every node in round 0). One that does
 * not keeps its state whole: no step, no mix; its message is empty (rumor_peer_step gives
 * length 0), and with participation < 1 a neighbour takes any empty message as nothing sent
 * (in deadline rounds a late one may be of an earlier round). Those that take part mix only
 * with neighbours that do, so both ends of an edge mix along it or neither does: the sum of
 * the models (and of BEER's trackers) stays what the steps made it. (A peer that sat out and
 * mixed with its own public copy, frozen while it sends nothing, would get the same push
 * every round and drift away.) Networked peers still carry the empty message (a frame
 * header): in synchronous rounds it keeps neighbours within a round of each other, as their
 * carrier holds one round of early messages, where one that sits out several rounds in a row
 * would otherwise fall behind. */
int rumor_peer_participates(const rumor_scenario_t *sc, uint32_t node, uint32_t t);

/* The largest message a peer of scenario sc and dimension d produces: rumor_codec_bound(d),
 * or two codec messages with their u32 lengths for BEER. */
size_t rumor_peer_msg_bound(const rumor_scenario_t *sc, uint32_t d);

/* Checks that msg decodes as a message of this peer's scenario (a DIFF a link holds for a later
 * round, or one after a gap) without absorbing it: 0 or the decoder's negative code. */
int rumor_peer_check(rumor_peer_t *p, const uint8_t *msg, size_t len);

/* Decodes and absorbs neighbour `from`'s message of the current round. A bad message
 * returns a negative code, is counted, and leaves the state untouched. */
RUMOR_NODISCARD int rumor_peer_deliver(rumor_peer_t *p, uint32_t from, const uint8_t *msg,
                                       size_t len);

/* Makes the peer Byzantine: from round b->from its messages are b's poison in place of its
 * honest ones (see rumor_byzantine_t); its state stays honest. A kind of NONE changes nothing.
 * Call once, before the first step. 0 or RUMOR_ENOMEM. */
RUMOR_NODISCARD int rumor_peer_set_byzantine(rumor_peer_t *p, const rumor_byzantine_t *b);

/* Mixes, applies the prox and advances to the next round. */
void rumor_peer_finish(rumor_peer_t *p);

uint32_t rumor_peer_round(const rumor_peer_t *p);
/* Jumps to round r (restoring a checkpoint, or catching up with the network). */
void rumor_peer_set_round(rumor_peer_t *p, uint32_t r);
uint32_t rumor_peer_id(const rumor_peer_t *p);
size_t rumor_peer_dim(const rumor_peer_t *p);
const float *rumor_peer_params(const rumor_peer_t *p);
float *rumor_peer_params_mut(rumor_peer_t *p);
/* Makes dst, a peer of the same node and scenario, what src was at the start of its current
 * round: model, public copies, momentum, the robust rule's running mean shifts, batch position
 * and round (not the statistics).
 * The simulator keeps such copies as the checkpoints of peers that are to crash. */
void rumor_peer_copy_state(rumor_peer_t *dst, const rumor_peer_t *src);
/* Makes x0 the common initial model: the model and every public copy (what rumor_peer_new
 * does with the seeded initial model; an external model's caller brings its own). */
void rumor_peer_set_initial(rumor_peer_t *p, const float *x0);
/* "malcom with nesterov momentum 0.9, mlp 784-128-10 (d = 101770), compressor dither:8,
 * codec auto, 3000 rounds": what the peer runs, for start-up lines. */
void rumor_peer_describe(const rumor_peer_t *p, char *buf, size_t cap);
/* Quasi-global momentum with compressed copies: the largest gamma / (1 - beta) without a
 * caution (on the Fashion-MNIST MLP ring with dither:8:biased, 500-round runs trained at 0.1
 * and some diverged at 0.15; of 1000-round runs, 0.067 trained and 0.1 and 0.15 diverged). */
#define RUMOR_PEER_QG_GAMMA_MAX 0.07

/* When the scenario is likely to fail for a reason known before it starts (an unbiased
 * quantizer of large variance, quasi-global momentum over an unscaled gamma, same-batch
 * differences that never restart), or is a malcom
 * scenario that lacks a part of Malcom-PSGD (a dithering quantizer, lambda > 0, an entropy-coding
 * codec), writes why and what to change into buf, the cautions joined by "; also, ", and returns 1
 * (for a warning); otherwise returns 0 with buf empty. */
int rumor_peer_caution(const rumor_peer_t *p, char *buf, size_t cap);
/* The momentum buffer (d floats), or NULL when the scenario has no momentum. */
float *rumor_peer_momentum(rumor_peer_t *p);
/* An ALIE peer's view of the public copy its neighbours hold of it (d floats), which its
 * poison is built against; NULL for any other peer. */
float *rumor_peer_byzantine_public(rumor_peer_t *p);
/* Takes an ALIE peer's point of its round's poison (per coordinate the mean minus z standard
 * deviations of its copies of its neighbours' public vectors) anew from those copies, so that
 * the poison of round t is built from what every run holds when round t - 1 has been mixed:
 * rumor_peer_set_byzantine, rumor_peer_finish (after the mix), and whatever replaces its
 * copies (rumor_peer_copy_state, rumor_peer_set_initial, rumor_checkpoint_load) call it.
 * Nothing for any other peer. */
void rumor_peer_byzantine_refresh(rumor_peer_t *p);
/* The public copy p's neighbours hold of it, which its STATE carries: its own public copy, or
 * an ALIE peer's view of the one its poison built (so that a neighbour resynchronised by a
 * STATE holds what the attacker's next poison is built against). */
const float *rumor_peer_public_copy(rumor_peer_t *p);
rumor_sampler_t *rumor_peer_sampler(rumor_peer_t *p);
const rumor_scenario_t *rumor_peer_scenario(const rumor_peer_t *p);
const rumor_topology_t *rumor_peer_topology(const rumor_peer_t *p);
rumor_peer_stats_t *rumor_peer_stats(rumor_peer_t *p);

/* ---- what the drivers report of their peers (peer_report.c) ----------------------------- */

/* The drivers' BLAS policy (rumor peer, rumor sim, and the benchmarks that time a peer's work):
 * a peer's BLAS runs on one thread, as peers
 * run in parallel (and results do not depend on how many threads a GEMM would use). A librumor
 * session leaves its caller's BLAS as it is. */
void rumor_peer_blas_one_thread(void);
/* A driver's start-up (rumor peer, rumor sim, a librumor session): the peer's cautions, if any,
 * as one warning led by `who` ("node 3: ", or ""), and its description into desc (cap bytes)
 * for the driver's first progress line. */
void rumor_peer_announce(const rumor_peer_t *p, const char *who, char *desc, size_t cap);
/* Bits sent per parameter and round, 8 bytes / (rounds d); 0 before the first round: of one
 * peer (rumor peer's records) or of the peers' mean bytes (rumor sim's). */
double rumor_peer_bits_per_param(double bytes, uint32_t rounds, size_t d);
/* The time split of a metrics record, one peer's (rumor peer) or the peers' mean (rumor sim),
 * from rumor_peer_stats_t's t_compute, t_codec, t_wait, cpu_compute and cpu_codec: the members
 * time_compute_s, time_codec_s, time_comm_s, cpu_compute_s and cpu_codec_s, each written as
 * `, "NAME": %.3f`. */
void rumor_peer_write_times(FILE *f, double t_compute, double t_codec, double t_wait,
                            double cpu_compute, double cpu_codec);

/* With read 0 the peer stops reading its thread's CPU clock (a system call; nine a round at
 * degree 2) and leaves cpu_compute and cpu_codec to its caller, which runs many peers on one
 * thread and reads the clock once for all of them (rumor sim). On at creation. */
void rumor_peer_set_cpu_clock(rumor_peer_t *p, int read);

/* Mean minibatch loss of the steps since the previous call (0 if none), then restarts the
 * average: the "loss" of an evaluation record. */
double rumor_peer_take_loss(rumor_peer_t *p);
rumor_gossip_t *rumor_peer_gossip(rumor_peer_t *p);
rumor_model_t *rumor_peer_model(rumor_peer_t *p);

/* Test loss and accuracy of the peer's current model on n rows. */
void rumor_peer_evaluate(rumor_peer_t *p, const rumor_dataset_t *test, uint32_t n, double *loss,
                         double *acc);

/* A run's data: training and test sets (views into loaded or generated datasets) and the
 * partition of the training set over the topology's peers. Every peer computes the same
 * partition from the seed, so a networked peer needs no one to hand it its shard. */
typedef struct {
    rumor_dataset_t train, test; /* views; do not destroy */
    rumor_dataset_t *owned[2];   /* what the views point into */
    rumor_partition_t *part;
} rumor_peer_data_t;

#define RUMOR_PEER_ALL  UINT32_MAX
#define RUMOR_PEER_NONE (UINT32_MAX - 1)

/* Loads the scenario's data and partitions the training set over peers. With self =
 * RUMOR_PEER_ALL the training set is whole (a simulation runs every peer). Otherwise it is
 * only peer self's shard, for a networked peer that needs nothing else: its rows in shard
 * order, with a partition that gives self the shard 0..n-1 and every other peer nothing.
 * Batches are the same rows in the same order either way, so results do not change. With
 * data.redundancy > 1 a peer keeps the whole training set, as with RUMOR_PEER_ALL (the shards
 * it holds depend on the topology; it reads only their rows).
 * Fashion-MNIST shards are read straight from the file, so a peer never holds the whole
 * training set as floats. With self = RUMOR_PEER_NONE there is no partition and the training
 * set has no rows, only its shape (dim, classes): all that evaluating a model needs. On
 * failure data is zeroed and em says why. */
RUMOR_NODISCARD int rumor_peer_data_load(const rumor_scenario_t *sc, uint32_t peers, uint32_t self,
                                         rumor_peer_data_t *data, rumor_errmsg_t *em);
void rumor_peer_data_free(rumor_peer_data_t *data);

/* The configuration of peer `self` of a run on data: its shard of data->part and the
 * training set. Points into data, which must outlive the peer. */
rumor_peer_cfg_t rumor_peer_data_cfg(const rumor_peer_data_t *data, const rumor_scenario_t *sc,
                                     const rumor_topology_t *topo, uint32_t self,
                                     uint32_t eval_batch);

#endif
