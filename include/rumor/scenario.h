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

#include "rumor/err.h"
#include "rumor/gossip.h"
#include "rumor/optim.h"
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
 *     nothing, its neighbours mix without it (its weight moves to their self-weights), and it
 *     returns in round `to` at the network's round with its copies of its neighbours' public
 *     models reloaded, as a networked peer does after a pause and a STATE exchange.
 *   DROP ({"drop": 0.05, "rounds": [0, 1000]}, rounds optional: the whole run): every message
 *     is lost with probability `drop`, independently per edge and round. The receiver mixes
 *     with its stale copy of the sender's public model and, with the sender's next message
 *     that arrives, reloads that copy from the sender's own instead, as a networked peer
 *     resyncs (RESYNC, STATE) when it sees a gap in the sequence numbers.
 *   CRASH ({"node": 3, "crash": [550, 600], "checkpoint_every": 100}): node `node` crashes at
 *     the start of round `from`, losing what it did since its last checkpoint (the start of
 *     round from - from % checkpoint_every; default interval RUMOR_CHECKPOINT_EVERY), is out
 *     as with DOWN, and restarts in round `to` from that checkpoint at the network's round:
 *     it reloads its copies of its neighbours' public models, and they reload their copies
 *     of its own with its next message that arrives, as after a restart's STATE exchange. */
typedef enum {
    RUMOR_FAULT_DOWN = 0,
    RUMOR_FAULT_DROP = 1,
    RUMOR_FAULT_CRASH = 2
} rumor_fault_kind_t;

typedef struct {
    rumor_fault_kind_t kind;
    uint32_t node; /* DOWN, CRASH */
    uint32_t from, to;
    double drop;    /* DROP */
    uint32_t every; /* CRASH: the node's checkpoint interval */
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
    char topo_kind[16];
    rumor_topology_gen_t topo_gen; /* topo_gen.kind points into topo_kind */

    /* data */
    rumor_data_kind_t data;
    char data_path[RUMOR_PATH_MAX]; /* fashion: directory; libsvm: training file */
    char test_path[RUMOR_PATH_MAX]; /* libsvm: test file */
    double dirichlet_alpha;         /* 0 = IID partition */
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
    uint32_t batch, rounds, warmup;
    uint32_t local_steps; /* SGD steps per round, before the peer gossips */
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

    uint32_t n_faults;
    rumor_fault_t faults[RUMOR_SCENARIO_FAULTS];

    uint8_t hash[32]; /* run-config hash (see above) */
} rumor_scenario_t;

/* Fills s with the defaults (Fashion-MNIST, ring of 16, softmax, Malcom-PSGD). */
void rumor_scenario_defaults(rumor_scenario_t *s);

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

/* Checks that every DOWN and CRASH fault names a node of a topology of n nodes; RUMOR_EINVAL naming
 * the entry ("faults[1].node: ...") otherwise. */
int rumor_scenario_check_faults(const rumor_scenario_t *s, uint32_t n, rumor_errmsg_t *em);

/* Loads or generates the scenario's topology. */
int rumor_scenario_topology(const rumor_scenario_t *s, rumor_topology_t **out, rumor_errmsg_t *em);

#endif
