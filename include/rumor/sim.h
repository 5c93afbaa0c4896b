/* rumor — many peers in one process.
 *
 * A simulation runs every node of the scenario's topology as a rumor_peer_t (the same state
 * machine `rumor peer` drives) on a pool of threads, each peer with one rumor_link_t per
 * neighbour (the protocol `rumor peer` runs), whose frames it passes in memory. Rounds are
 * synchronous, or deadline rounds on a virtual clock. A peer hears its links in a fixed
 * order, so the models, and the metrics without the wall-clock timings, are bit-identical
 * for any number of threads. Every eval_every rounds it evaluates every peer and the
 * network-average model on the test set and writes one JSON Lines record.
 *
 * The scenario's faults act on frames (see rumor_fault_t): a peer that is out takes no step
 * and sends nothing, and what is sent to it is lost; lost and late DIFFs are lost and late
 * frames. The links recover as real peers do: liveness marks a silent neighbour down (its
 * weight moves to the self-weight), a gap in the sequence numbers asks for a STATE, and a
 * restarted peer's new session exchanges STATEs.
 *
 * With a checkpoint directory the run can be stopped (SIGINT, SIGTERM, a crash) and resumed
 * bit for bit; see rumor_sim_opts_t.
 */
#ifndef RUMOR_SIM_H
#define RUMOR_SIM_H

#include "rumor/err.h"
#include "rumor/scenario.h"

#include <stdint.h>
#include <signal.h>
#include <stdio.h>

typedef struct {
    uint32_t threads;       /* worker threads (0 = number of cores, capped at peers) */
    FILE *metrics;          /* JSON Lines output, or NULL */
    FILE *progress;         /* progress lines, or NULL for quiet */
    int timing;             /* include time_* fields in records */
    const char *models_out; /* write every peer's final model (raw float32, peer-major) here */
    /* Checkpoints: every peer's state (rumor_checkpoint files) and the simulator's, every
     * checkpoint_every rounds (0: RUMOR_CHECKPOINT_EVERY), after the last round and at a stop by
     * SIGINT/SIGTERM. A run given a directory that holds a checkpoint of the same scenario resumes
     * from it and ends with the same models as an uninterrupted run. NULL: none. */
    const char *checkpoint_dir;
    uint32_t checkpoint_every;
    /* Set nonzero (by the program's SIGINT/SIGTERM handler) to stop: the run ends its round,
     * checkpoints and returns RUMOR_EINTR. NULL: only the rounds end the run. rumor installs
     * no signal handlers itself. */
    volatile sig_atomic_t *stop;
} rumor_sim_opts_t;

/* The fixed training subset that grad_norm_avg is measured on: every (n / m)-th sample, m =
 * min(n, RUMOR_SIM_GRAD_ROWS). */
#define RUMOR_SIM_GRAD_ROWS 10000u

/* The last evaluation of a run. Figures are means over peers unless said otherwise. */
typedef struct {
    uint32_t round;
    double loss, test_loss, acc_mean, acc_min, acc_avg_model, consensus_dist, density;
    double bytes_sent, entropy_bound_bytes, bits_per_param;
    double wire_bytes; /* bytes_sent with frame headers, ZMTP framing and CurveZMQ overhead */
    double objective;  /* loss (the minibatch mean since the last evaluation) + lambda ||x_i||_1 */
    double density_copy;   /* density of the peers' own public copies x^_i, what travels */
    double compress_err;   /* ||C(r) - r||^2 / ||r||^2 of each peer's last message (0: none) */
    double grad_norm_avg;  /* ||grad f(x_avg)||^2 on the fixed training subset (above) */
    double target_acc;     /* the scenario's target_acc (0: none; the next two are not written) */
    uint32_t target_round; /* the first evaluation with acc_avg_model >= target_acc (0: none) */
    double target_bytes;   /* bytes_sent at that evaluation */
    double time_compute_s, time_codec_s, time_comm_s, wall_s;
    double cpu_compute_s, cpu_codec_s; /* CPU seconds per peer (thread clock; synchronous rounds:
                                        * each pass over a worker's peers read once and shared
                                        * by wall time) */
    int faults;                        /* the scenario injects faults: the next two are written */
    uint32_t peers_down;               /* peers out (injected faults) in the last round */
    uint64_t messages_lost;            /* messages lost to injected faults so far */
    int straggles;                     /* STRAGGLE faults: the next one is written */
    uint64_t straggled;                /* (peer, round) steps skipped by stragglers so far */
    int byzantine;                     /* BYZANTINE faults name peers: the next two are written */
    double acc_mean_honest, acc_min_honest; /* over the peers no BYZANTINE fault names */
    int clips;                              /* the robust rule clips: the next three are written */
    /* Of the (receiver, neighbour) terms mixed so far by this process (a resumed run counts
     * from its checkpoint), the fraction clipped: of all, of those from Byzantine neighbours
     * (null without them) and of those from honest ones. */
    double clipped_frac, clipped_frac_byz, clipped_frac_honest;
} rumor_sim_result_t;

/* The round of the checkpoint in dir: 1 with *round filled, 0 when dir holds none (or does
 * not exist), or a negative code with em filled when DIR/sim.json is unreadable, belongs
 * to another run config than sc's, or cannot be resumed bit-exact (RUMOR_EINVAL: a DELAY
 * fault has frames in flight across its round, which checkpoints do not keep). */
int rumor_sim_checkpoint_round(const char *dir, const rumor_scenario_t *sc, uint32_t *round,
                               rumor_errmsg_t *em);

/* Runs the scenario; fills *result with the last evaluation. Returns 0, RUMOR_EINTR when
 * stopped by SIGINT/SIGTERM (result holds the last evaluation, made at the stop), or an
 * error with em filled. */
int rumor_sim_run(const rumor_scenario_t *sc, const rumor_sim_opts_t *opts,
                  rumor_sim_result_t *result, rumor_errmsg_t *em);

/* Writes one result as a JSON object on one line (no timing fields unless timing; peers_down
 * and messages_lost only for a scenario with faults, straggled only with STRAGGLE faults;
 * target_acc, target_round and target_bytes only for a scenario with a target, the last two null
 * until it is reached; acc_mean_honest and acc_min_honest only with BYZANTINE faults; the clipped
 * fractions only with a clipping rule; delta_hat = 1 / (1 - compress_err), null when compress_err
 * >= 1); extra, when not NULL, is inserted first and must be JSON members each followed by ", ". */
void rumor_sim_result_write(FILE *f, const rumor_sim_result_t *r, int timing, const char *extra);

#endif
