/* rumor — run configuration: the scenario file of DESIGN.md section 6.
 *
 * One JSON file describes a run: topology (a file, resolved relative to the scenario file,
 * or a generator), data (Fashion-MNIST, LIBSVM or synthetic, and the partition), model,
 * algorithm and its hyper-parameters, compressor, codec, seed, evaluation interval, round
 * mode and faults to inject (`rumor sim` only). `rumor sim` runs it; `rumor peer` runs one
 * node of it. Unknown keys are errors (a
 * typo must not silently fall back to a default) and every error names the field:
 * "sims/x.json: algorithm.lr: expected a positive number".
 *
 * The run-config hash covers everything that must agree between peers (all fields but the
 * evaluation interval), so a peer started with a different file is refused at HELLO.
 */
#ifndef RUMOR_SCENARIO_H
#define RUMOR_SCENARIO_H

#include "rumor/algo.h"
#include "rumor/err.h"
#include "rumor/optim.h"
#include "rumor/robust.h"
#include "rumor/topology.h"

#include <limits.h>
#include <stdint.h>

#define RUMOR_PATH_MAX        1024
#define RUMOR_SCENARIO_FAULTS 64 /* most "faults" entries */

/* Rounds between checkpoints unless the user says otherwise (rumor peer, rumor sim, and the
 * simulated peers of CRASH faults). */
#define RUMOR_CHECKPOINT_EVERY 100

/* A fault the simulator injects, in rounds [from, to):
 *   DOWN ({"node": 3, "down": [500, 600]}): node `node` is out. It takes no step and sends
 *     nothing, and frames to it are lost; its neighbours' links, hearing nothing for a round,
 *     mark it down (its weight moves to their self-weights). It returns in round `to` at the
 *     network's round; the gaps in its neighbours' DIFFs make its links ask for their STATE.
 *   DROP ({"drop": 0.05, "rounds": [0, 1000]}, rounds optional: the whole run): every DIFF
 *     is lost with probability `drop`, independently per edge and round. The receiver mixes
 *     with its stale copy of the sender's public model; its link sees the gap at the next
 *     DIFF and asks for a STATE (RESYNC), which the sender answers within its rate limit.
 *   CRASH ({"node": 3, "crash": [550, 600], "checkpoint_every": 100}): node `node` crashes at
 *     the start of round `from`, losing what it did since its last checkpoint (the start of
 *     round from - from % checkpoint_every; default interval RUMOR_CHECKPOINT_EVERY), is out
 *     as with DOWN, and restarts in round `to` from that checkpoint at the network's round
 *     with new links: a new session's HELLO, and a STATE each way.
 *   DELAY ({"delay": 3, "p": 0.1, "rounds": [0, 1000]}, p and rounds optional): every DIFF
 *     arrives `delay` rounds late with probability p (default 1); later frames overtake it.
 *     ({"delay_ms": [20, 150], "rounds": [...]}): every frame arrives after a delay drawn
 *     uniformly from [lo, hi] milliseconds of the virtual clock (a round lasts deadline_ms in
 *     deadline rounds, one second in synchronous ones); the frames of an edge keep their
 *     order, as on one connection.
 *   BYZANTINE ({"byzantine": "signflip", "nodes": [3], "from": 100, "s": 1}, from optional:
 *     0): from round `from` to the end, every node of `nodes` sends well-formed poison in place
 *     of its message (see rumor_byzantine_t); it keeps its honest state and public copy, so
 *     only what leaves it is poisoned. The other peers are the honest ones that
 *     acc_mean_honest and acc_min_honest count.
 *   STRAGGLE ({"straggle": 0.3, "rounds": [0, 1000], "late": -1, "nodes": [3]}, rounds, late
 *     and nodes optional: the whole run, 0, every node): in each round every node (of `nodes`)
 *     straggles with probability `straggle`, drawn from (seed, node, round) alone. A straggler
 *     takes no gradient step that round (it still compresses, sends and mixes) and its DIFF
 *     arrives `late` rounds late: 0 on time (with stale work), -1 never (lost: the receiver
 *     mixes with its stale copy and its link asks for a STATE at the next DIFF, as with DROP).
 *   SLOW ({"slow": 150, "nodes": [0, 4], "rounds": [0, 1000]}, rounds optional; deadline
 *     rounds only): every listed node takes `slow` more milliseconds of the virtual clock for
 *     its step of each round (of its own), as `rumor peer --slow MS` does. A scenario with a
 *     SLOW fault (or round_mode.compute_ms) runs on per-peer clocks: each peer steps, sends its
 *     DIFF when the step is done, waits for its neighbours' DIFFs of its round or the deadline,
 *     mixes what came by then (of any round) and starts its next round, so a node slower than
 *     the deadline falls ever further behind in rounds but does every step, and finishes late.
 *     DOWN, CRASH, STRAGGLE and DELAY in rounds do not combine with it.
 * The simulator runs every peer's real links (link.h) over frames in memory: each fault acts on
 * frames, and the links' protocol (gaps, RESYNC and STATE, liveness, restarts) does the rest. */
typedef enum {
    RUMOR_FAULT_DOWN = 0,
    RUMOR_FAULT_DROP = 1,
    RUMOR_FAULT_CRASH = 2,
    RUMOR_FAULT_DELAY = 3,
    RUMOR_FAULT_BYZANTINE = 4,
    RUMOR_FAULT_STRAGGLE = 5,
    RUMOR_FAULT_SLOW = 6
} rumor_fault_kind_t;

/* What a Byzantine peer sends in place of its honest message m (one parameter each, the
 * scenario key in brackets, its default after =):
 *   NONE      m itself: a control whose peers still count as not honest
 *   SIGNFLIP  -s m                                    ["s" = 1]
 *   NOISE     Gaussian of norm `norm`, fresh each round ["norm" = 100]
 *   CONSTANT  every coordinate `value`                ["value" = 1]
 *   ALIE      "a little is enough": per coordinate, the mean minus z standard deviations
 *             of the public vectors it holds of its neighbours (what it received) as the
 *             round before left them, so that the public copy its neighbours hold of it
 *             becomes that point ["z" = 1]
 *   SCALE     factor m                                ["factor" = 10]
 * The message keeps m's form (SIGNFLIP, SCALE) or is a dense float vector (raw codec). */
typedef enum {
    RUMOR_BYZ_NONE = 0,
    RUMOR_BYZ_SIGNFLIP = 1,
    RUMOR_BYZ_NOISE = 2,
    RUMOR_BYZ_CONSTANT = 3,
    RUMOR_BYZ_ALIE = 4,
    RUMOR_BYZ_SCALE = 5,
} rumor_byz_kind_t;

#define RUMOR_BYZ_KINDS 6

typedef struct {
    rumor_byz_kind_t kind;
    double param;  /* s, norm, value, z or factor */
    uint32_t from; /* the first round it sends poison */
} rumor_byzantine_t;

/* "none", "signflip", ... */
const char *rumor_byzantine_name(rumor_byz_kind_t kind);
/* The scenario key of kind's parameter ("s", "norm", ...), NULL for NONE. */
const char *rumor_byzantine_param_key(rumor_byz_kind_t kind);
/* Parses "KIND" or "KIND:PARAM" (rumor peer --byzantine) into b, from = 0; RUMOR_EINVAL for an
 * unknown kind or a parameter that is not a finite number. */
int rumor_byzantine_parse(const char *s, rumor_byzantine_t *b);

#define RUMOR_FAULT_NODES 16 /* most nodes of one BYZANTINE or STRAGGLE fault */

typedef struct {
    rumor_fault_kind_t kind;
    uint32_t node; /* DOWN, CRASH */
    uint32_t from, to;
    double drop;               /* DROP: the loss rate; DELAY by rounds, STRAGGLE: the probability */
    uint32_t every;            /* CRASH: the node's checkpoint interval */
    uint32_t delay;            /* DELAY: rounds (0: delay_ms) */
    double delay_lo, delay_hi; /* DELAY: milliseconds */
    rumor_byzantine_t byz;     /* BYZANTINE: what its nodes send (byz.from = from) */
    int32_t late;              /* STRAGGLE: rounds its DIFF is late (-1: lost) */
    double slow_ms;            /* SLOW: milliseconds more for each round's step */
    uint32_t n_nodes; /* BYZANTINE, STRAGGLE, SLOW: nodes[0..n_nodes) (STRAGGLE: 0 = all) */
    uint32_t nodes[RUMOR_FAULT_NODES];
} rumor_fault_t;

/* CRASH: the round at whose start the crashed node's last checkpoint was written. */
static inline uint32_t rumor_fault_checkpoint_round(const rumor_fault_t *f)
{
    return f->from - f->from % f->every;
}

typedef enum {
    RUMOR_DATA_FASHION = 0,
    RUMOR_DATA_LIBSVM = 1,
    RUMOR_DATA_SYNTHETIC = 2,
} rumor_data_kind_t;

typedef struct {
    char name[128];
    char origin[RUMOR_PATH_MAX]; /* the file it came from */

    /* topology: a file, or a generator when topology_file is empty */
    char topology_file[RUMOR_PATH_MAX];
    rumor_topology_gen_t topo_gen;

    /* data */
    rumor_data_kind_t data;
    char data_path[RUMOR_PATH_MAX]; /* fashion: directory; libsvm: training file */
    char test_path[RUMOR_PATH_MAX]; /* libsvm: test file */
    double dirichlet_alpha;         /* 0 = IID partition */
    uint32_t redundancy;            /* peers that hold each shard (coded.h); 1 = its own only */
    int coded_unscaled; /* data.coded_scale "none": the coded step is not scaled by 1/(1 - P) */
    uint32_t synth_n, synth_test_n, synth_dim, synth_classes;
    double synth_sep;

    /* model */
    char model[64]; /* "softmax", "mlp:128", ..., "external:D" (rumor.h) */

    /* algorithm */
    rumor_algo_t algo;
    double lr, gamma, lambda;
    rumor_prox_at_t prox; /* where the l1 prox sits */
    int prox_lr_base;     /* 1: the threshold is lr * lambda at every round, not eta_t * lambda */
    int gamma_follows_lr; /* 1: the consensus step of round t is gamma * eta_t / lr */
    rumor_robust_cfg_t robust; /* the robust mix (robust.h); zeroed: none */
    uint32_t batch, rounds, warmup;
    uint32_t local_steps; /* SGD steps per round, before the peer gossips */
    double sync_p;        /* probability of a full-sync round (MARINA's coin; 0 = never) */
    int same_batch;       /* BEER: the tracker's gradient difference on one batch (VR-MARINA) */
    int track_last;       /* BEER: the tracker covers the output layer alone (algorithm.track) */
    double participation; /* fraction of peers that step and send in a round (1 = all) */
    char schedule[64];
    rumor_momentum_t momentum;
    char compressor[64];
    char codec[16];

    uint64_t seed;
    uint32_t eval_every;   /* rounds between evaluations */
    uint32_t eval_samples; /* test samples per peer evaluation (0 = all) */
    double target_acc;     /* acc_avg_model that counts as reached (0 = none); not hashed */

    /* round mode */
    int deadline;         /* 0 = synchronous */
    uint32_t deadline_ms; /* deadline mode: wait this long per round */
    double compute_ms;    /* deadline mode, rumor sim: every step's time on the virtual clock
                             (0: none); with it or a SLOW fault each peer keeps its own clock */

    uint32_t n_faults;
    rumor_fault_t faults[RUMOR_SCENARIO_FAULTS];

    uint8_t hash[32]; /* run-config hash (see above) */
} rumor_scenario_t;

/* Loads a scenario file over the defaults and computes its hash. */
RUMOR_NODISCARD int rumor_scenario_load(const char *path, rumor_scenario_t *s, rumor_errmsg_t *em);

/* Same from a JSON string; relative paths resolve against base_dir. */
RUMOR_NODISCARD int rumor_scenario_parse(const char *json, const char *origin, const char *base_dir,
                                         rumor_scenario_t *s, rumor_errmsg_t *em);

/* Recomputes s->hash after fields were changed (e.g. --rounds, --seed overrides). */
void rumor_scenario_rehash(rumor_scenario_t *s);

/* 1 when a fault of s (DOWN or CRASH) takes node out of round t. */
int rumor_scenario_node_down(const rumor_scenario_t *s, uint32_t node, uint32_t t);

/* The probability that a message of round t is lost (0 without DROP faults in round t). */
double rumor_scenario_drop_rate(const rumor_scenario_t *s, uint32_t t);

/* The STRAGGLE fault under which node straggles in round t (the first whose coin says so), or
 * NULL when it does not: a pure function of the scenario, so every peer and the simulator's
 * network agree, and a resumed run draws the same. */
const rumor_fault_t *rumor_scenario_straggler(const rumor_scenario_t *s, uint32_t node, uint32_t t);

/* The probability that node straggles in round t (0 without STRAGGLE faults on it then). */
double rumor_scenario_straggle_rate(const rumor_scenario_t *s, uint32_t node, uint32_t t);

/* The milliseconds SLOW faults add to node's step of round t (their sum; 0 for a node none
 * lists). */
double rumor_scenario_slow_ms(const rumor_scenario_t *s, uint32_t node, uint32_t t);

/* 1 when `rumor sim` runs s on per-peer clocks: deadline rounds with round_mode.compute_ms > 0
 * or a SLOW fault (sim_internal.h). */
int rumor_scenario_clocked(const rumor_scenario_t *s);

/* The BYZANTINE fault of node i in s, or NULL when i is honest. */
const rumor_byzantine_t *rumor_scenario_byzantine(const rumor_scenario_t *s, uint32_t node);

/* Checks that every DOWN, CRASH, BYZANTINE, STRAGGLE and SLOW fault names a node of a topology
 * of n nodes, that SLOW faults come with deadline rounds, and that per-peer clocks come with no
 * DOWN, CRASH, STRAGGLE or DELAY-in-rounds fault; RUMOR_EINVAL naming the entry
 * ("faults[1].node: ...") otherwise. */
int rumor_scenario_check_faults(const rumor_scenario_t *s, uint32_t n, rumor_errmsg_t *em);

/* Loads or generates the scenario's topology. */
int rumor_scenario_topology(const rumor_scenario_t *s, rumor_topology_t **out, rumor_errmsg_t *em);

#endif
