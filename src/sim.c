/* rumor — many peers in one process (see sim.h).
 *
 * Worker w owns peers w, w + T, w + 2T, ... A round is two phases separated by barriers:
 *   1. every peer takes its local step and encodes its message into its own buffer;
 *   2. every peer decodes its neighbours' messages (ascending id), mixes and applies the prox.
 * Buffers written in phase 1 are only read in phase 2, so no locks are needed. Evaluation
 * rounds add a phase in which each worker evaluates its peers, then worker 0 alone averages
 * the models, evaluates the average and writes the record.
 */
#include "rumor/clock.h"
#include "rumor/sim.h"
#include "rumor/checkpoint.h"
#include "rumor/file.h"
#include "rumor/log.h"
#include "rumor/peer.h"
#include "rumor/vec.h"

#include <cblas.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t s_signalled;

static void s_on_signal(int sig)
{
    (void)sig;
    s_signalled = 1;
}

typedef struct s_sim s_sim_t;

typedef struct {
    s_sim_t *sim;
    uint32_t w;
    double t_wait;
} s_worker_t;

struct s_sim {
    const rumor_scenario_t *sc;
    const rumor_sim_opts_t *opts;
    const rumor_topology_t *topo;
    const rumor_peer_data_t *data;
    uint32_t n, threads;
    size_t d;
    rumor_peer_t **peers;
    const uint8_t **msg; /* (n) this round's message of each peer */
    size_t *msg_len;
    double *acc, *test_loss; /* (n) last evaluation of each peer */
    float *avg;              /* (d) network-average model */
    rumor_model_t *avg_model;
    pthread_barrier_t barrier;
    s_worker_t *workers;
    int stop;             /* written by worker 0 before a barrier, read by all after it */
    atomic_uint dropped;  /* 1 + the round a signal cut short (written before the barrier
                             that ends its steps, read after it; 0: none) */
    atomic_int failed;    /* the first error delivering a message (0: none) */
    uint32_t *edge0;      /* (n + 1) peer i's edges are edge0[i] .. edge0[i + 1] - 1 */
    uint8_t *stale;       /* (edges) the receiver's copy of the sender missed a lost message */
    uint64_t *lost;       /* (n) messages to each peer that scenario faults lost */
    rumor_peer_t **saved; /* (faults) CRASH k: its node's last checkpoint, else NULL */
    uint32_t start;       /* the first round run (a resumed run's checkpoint round) */
    uint8_t topo_hash[32];
    int slot;               /* checkpoint slot to write next: 0 = DIR/a, 1 = DIR/b */
    atomic_int ckpt_failed; /* a checkpoint could not be written: the run stops */
    rumor_errmsg_t ckpt_em; /* why (written by the worker that failed first) */
    double t_start;
    rumor_sim_result_t last;
    rumor_consensus_watch_t consensus; /* warns once when the distance keeps growing */
    /* grad_norm_avg: the fixed training subset and scratch for one evaluation chunk */
    uint32_t grad_m;
    uint32_t *grad_idx;    /* (grad_m) rows of the training set */
    float *grad_x;         /* (RUMOR_PEER_EVAL_ROWS, dim) gathered rows */
    int32_t *grad_y;       /* (RUMOR_PEER_EVAL_ROWS) their labels */
    float *grad_chunk;     /* (d) the gradient of one chunk */
    float *grad;           /* (d) the gradient over the subset */
    uint32_t target_round; /* the first evaluation that reached sc->target_acc (0: none yet) */
    double target_bytes;   /* bytes sent per peer by then */
};

static void s_wait(s_worker_t *wk)
{
    const double t0 = rumor_clock_now();
    pthread_barrier_wait(&wk->sim->barrier);
    wk->t_wait += rumor_clock_now() - t0;
}

/* Worker 0: ||grad f(avg)||^2, f the mean loss over the fixed training subset, summed from
 * chunks of the evaluation size (the average model's workspace). */
static double s_grad_norm2(s_sim_t *sim)
{
    const size_t d = sim->d;
    rumor_vec_zero(sim->grad, d);
    for (uint32_t off = 0; off < sim->grad_m; off += RUMOR_PEER_EVAL_ROWS) {
        const uint32_t rest = sim->grad_m - off;
        const uint32_t b = rest < RUMOR_PEER_EVAL_ROWS ? rest : RUMOR_PEER_EVAL_ROWS;
        rumor_data_gather(&sim->data->train, sim->grad_idx + off, b, sim->grad_x, sim->grad_y);
        rumor_model_loss_grad(sim->avg_model, sim->avg, sim->grad_x, sim->grad_y, b,
                              sim->grad_chunk);
        rumor_vec_axpy(sim->grad, (float)b / (float)sim->grad_m, sim->grad_chunk, d);
    }
    const double nrm = rumor_vec_nrm2(sim->grad, d);
    return nrm * nrm;
}

static int s_is_eval_round(const s_sim_t *sim, uint32_t done)
{
    return done % sim->sc->eval_every == 0 || done == sim->sc->rounds;
}

/* Worker 0: the honest peers' accuracy and the clipped fractions into r. */
static void s_record_byzantine(const s_sim_t *sim, rumor_sim_result_t *r)
{
    const rumor_scenario_t *sc = sim->sc;
    uint32_t honest = 0;
    double acc = 0.0, acc_min = 1.0;
    for (uint32_t i = 0; i < sim->n; i++) {
        if (rumor_scenario_byzantine(sc, i)) continue;
        honest++;
        acc += sim->acc[i];
        if (sim->acc[i] < acc_min) acc_min = sim->acc[i];
    }
    r->byzantine = honest < sim->n;
    r->acc_mean_honest = honest ? acc / honest : 0.0;
    r->acc_min_honest = honest ? acc_min : 0.0;
    r->clips = sc->robust.kind == RUMOR_ROBUST_CLIP || sc->robust.kind == RUMOR_ROBUST_CLIP_AUTO;
    /* terms mixed and clipped: [0] from honest neighbours, [1] from Byzantine ones */
    double mixed[2] = {0, 0}, clipped[2] = {0, 0};
    for (uint32_t i = 0; i < sim->n && r->clips; i++) {
        const rumor_robust_stats_t st = rumor_gossip_robust_stats(rumor_peer_gossip(sim->peers[i]));
        const uint32_t *nb = rumor_topology_neighbors(sim->topo, i);
        for (uint32_t s = 0; s < rumor_topology_degree(sim->topo, i); s++) {
            const int b = rumor_scenario_byzantine(sc, nb[s]) != NULL;
            mixed[b] += (double)st.mixed[s];
            clipped[b] += (double)st.clipped[s];
        }
    }
    const double all = mixed[0] + mixed[1];
    r->clipped_frac = all > 0 ? (clipped[0] + clipped[1]) / all : 0.0;
    r->clipped_frac_honest = mixed[0] > 0 ? clipped[0] / mixed[0] : 0.0;
    r->clipped_frac_byz = mixed[1] > 0 ? clipped[1] / mixed[1] : -1.0;
}

/* Worker 0, between barriers: network-level metrics of the evaluation after `done` rounds. */
static void s_record(s_sim_t *sim, uint32_t done)
{
    const uint32_t n = sim->n;
    const size_t d = sim->d;
    rumor_sim_result_t *r = &sim->last;
    memset(r, 0, sizeof *r);
    r->round = done;
    r->faults = sim->sc->n_faults > 0;
    for (uint32_t i = 0; i < n && r->faults; i++) {
        r->peers_down += (uint32_t)rumor_scenario_node_down(sim->sc, i, done - 1);
        r->messages_lost += sim->lost[i];
    }
    rumor_vec_zero(sim->avg, d);
    double loss = 0, acc = 0, acc_min = 1.0, tl = 0, nnz = 0, bytes = 0, ent = 0;
    double l1 = 0, nnz_copy = 0, err = 0;
    uint32_t stepped = 0;
    double tc = 0, tk = 0, tw = 0, cc = 0, ck = 0;
    for (uint32_t i = 0; i < n; i++) {
        rumor_peer_stats_t *st = rumor_peer_stats(sim->peers[i]);
        const float *x = rumor_peer_params(sim->peers[i]);
        rumor_vec_axpy(sim->avg, 1.0f / (float)n, x, d);
        if (st->loss_count) stepped++; /* a peer out for the whole interval has no loss */
        loss += rumor_peer_take_loss(sim->peers[i]);
        acc += sim->acc[i];
        if (sim->acc[i] < acc_min) acc_min = sim->acc[i];
        tl += sim->test_loss[i];
        nnz += (double)rumor_vec_count_nonzero(x, d);
        l1 += rumor_vec_nrm1(x, d);
        const rumor_gossip_t *g = rumor_peer_gossip(sim->peers[i]);
        nnz_copy += (double)rumor_vec_count_nonzero(rumor_gossip_copy(g, i), d);
        err += rumor_gossip_compress_err(g);
        bytes += (double)st->bytes_sent;
        ent += st->entropy_bits / 8.0;
        tc += st->t_compute;
        tk += st->t_codec;
        tw += st->t_wait;
        cc += st->cpu_compute;
        ck += st->cpu_codec;
    }
    s_record_byzantine(sim, r);
    double cons = 0;
    for (uint32_t i = 0; i < n; i++)
        cons += rumor_vec_dist2(rumor_peer_params(sim->peers[i]), sim->avg, d);
    double avg_loss, avg_acc;
    const rumor_dataset_t *test = &sim->data->test;
    rumor_model_evaluate(sim->avg_model, sim->avg, test->x, test->y, test->n, &avg_loss, &avg_acc);
    r->loss = stepped ? loss / stepped : 0.0;
    r->test_loss = tl / n;
    r->acc_mean = acc / n;
    r->acc_min = acc_min;
    r->acc_avg_model = avg_acc;
    r->consensus_dist = cons / n;
    r->density = nnz / ((double)n * (double)d);
    r->density_copy = nnz_copy / ((double)n * (double)d);
    r->objective = r->loss + sim->sc->lambda * l1 / n;
    r->compress_err = err / n;
    r->grad_norm_avg = s_grad_norm2(sim);
    r->bytes_sent = bytes / n;
    r->entropy_bound_bytes = ent / n;
    r->bits_per_param = done ? 8.0 * r->bytes_sent / ((double)done * (double)d) : 0.0;
    r->target_acc = sim->sc->target_acc;
    if (r->target_acc > 0 && !sim->target_round && avg_acc >= r->target_acc) {
        sim->target_round = done;
        sim->target_bytes = r->bytes_sent;
    }
    r->target_round = sim->target_round;
    r->target_bytes = sim->target_bytes;
    r->time_compute_s = tc / n;
    r->time_codec_s = tk / n;
    r->time_comm_s = tw / n;
    r->cpu_compute_s = cc / n;
    r->cpu_codec_s = ck / n;
    r->wall_s = rumor_clock_now() - sim->t_start;
    /* (D-PSGD has no gamma; a gamma that follows the lr lets the distance grow at the end) */
    if (sim->sc->algo != RUMOR_ALGO_DPSGD && !sim->sc->gamma_follows_lr && done > sim->sc->warmup &&
        rumor_consensus_watch(&sim->consensus, done, r->consensus_dist))
        rumor_warn("consensus distance grew at each of the last %u evaluations, from %.3g at "
                   "round %u to %.3g at round %u: gamma %g is likely too large for compressor "
                   "%s on this graph; try gamma %g or smaller",
                   RUMOR_CONSENSUS_RISES, sim->consensus.from, sim->consensus.from_round,
                   r->consensus_dist, done, sim->sc->gamma, sim->sc->compressor,
                   sim->sc->gamma / 2);
    /* A resumed run that had already finished has its last record in the file already. */
    if (sim->opts->metrics && done > sim->start) {
        rumor_sim_result_write(sim->opts->metrics, r, sim->opts->timing, NULL);
        fflush(sim->opts->metrics);
    }
    if (sim->opts->progress) {
        /* rounds run by this process (a resumed run started at sim->start) */
        const double rate = r->wall_s > 0 ? (done - sim->start) / r->wall_s : 0.0;
        char eta[32];
        rumor_clock_eta(rate, sim->sc->rounds - done, eta, sizeof eta);
        fprintf(sim->opts->progress,
                "round %6u/%u  loss %.4f  acc %.4f (min %.4f, avg-model %.4f)  consensus %.2e  "
                "density %.3f  sent %.2f MB/peer (%.3f bits/param)  %.1f rounds/s%s%s\n",
                done, sim->sc->rounds, r->loss, r->acc_mean, r->acc_min, r->acc_avg_model,
                r->consensus_dist, r->density, r->bytes_sent / 1e6, r->bits_per_param, rate,
                eta[0] ? "  " : "", eta);
        fflush(sim->opts->progress);
    }
}

/* Worker 0, at the start of round t: a progress line for every injected fault that begins
 * or ends. */
static void s_note_faults(const s_sim_t *sim, uint32_t t)
{
    const rumor_scenario_t *sc = sim->sc;
    FILE *f = sim->opts->progress;
    for (uint32_t k = 0; k < sc->n_faults && f; k++) {
        const rumor_fault_t *ft = &sc->faults[k];
        char until[32] = "the end";
        if (ft->to < sc->rounds) snprintf(until, sizeof until, "round %u", ft->to);
        if (ft->kind == RUMOR_FAULT_DROP) {
            if (ft->from == t)
                fprintf(f, "round %6u: messages lost with probability %g until %s (fault)\n", t,
                        ft->drop, until);
            else if (ft->to == t)
                fprintf(f, "round %6u: messages no longer lost with probability %g\n", t, ft->drop);
        } else if (ft->kind == RUMOR_FAULT_BYZANTINE) {
            if (ft->from != t || ft->byz.kind == RUMOR_BYZ_NONE) continue;
            fprintf(f, "round %6u: peer%s", t, ft->n_nodes > 1 ? "s" : "");
            for (uint32_t j = 0; j < ft->n_nodes; j++)
                fprintf(f, "%s %u", j ? "," : "", ft->nodes[j]);
            fprintf(f, " send%s %s poison from now on (fault)\n", ft->n_nodes > 1 ? "" : "s",
                    rumor_byzantine_name(ft->byz.kind));
        } else if (ft->kind == RUMOR_FAULT_CRASH) {
            const uint32_t c = rumor_fault_checkpoint_round(ft);
            if (ft->from == t)
                fprintf(f,
                        "round %6u: peer %u crashed (fault); it restarts in round %u from its "
                        "checkpoint of round %u\n",
                        t, ft->node, ft->to, c);
            else if (ft->to == t)
                fprintf(f, "round %6u: peer %u restarted from its checkpoint of round %u\n", t,
                        ft->node, c);
        } else if (ft->from == t) {
            fprintf(f, "round %6u: peer %u out until %s (fault)\n", t, ft->node, until);
        } else if (ft->to == t && !rumor_scenario_node_down(sc, ft->node, t)) {
            fprintf(f, "round %6u: peer %u back\n", t, ft->node);
        }
    }
}

/* Peer i's copy of neighbour j's public model := j's own (a STATE). Own copies are written
 * only by their owners in phase 1, so phase 2 may read them. */
static void s_reload(s_sim_t *sim, uint32_t i, uint32_t j)
{
    const float *own = rumor_gossip_copy(rumor_peer_gossip(sim->peers[j]), j);
    memcpy(rumor_gossip_copy_mut(rumor_peer_gossip(sim->peers[i]), j), own, sim->d * sizeof *own);
}

/* 1 when a DROP fault loses j's message of round t to i (p: the round's loss rate). */
static int s_lost(const s_sim_t *sim, uint32_t j, uint32_t i, uint32_t t, double p)
{
    rumor_rng_t r;
    rumor_rng_seed(&r, sim->sc->seed, (uint64_t)j * sim->n + i, t, RUMOR_RNG_FAULT);
    return rumor_rng_uniform_d(&r) < p;
}

/* 1 when node j restarts from a CRASH fault's checkpoint in round t. */
static int s_restarts(const rumor_scenario_t *sc, uint32_t j, uint32_t t)
{
    for (uint32_t k = 0; k < sc->n_faults; k++)
        if (sc->faults[k].kind == RUMOR_FAULT_CRASH && sc->faults[k].node == j &&
            sc->faults[k].to == t)
            return 1;
    return 0;
}

/* Phase 2 for peer i in round t: absorb its neighbours' messages, mix, apply the prox. A
 * neighbour that is out is left out of the mix. A peer back from an outage reloads its copies
 * of its neighbours' public models from their own, which already hold this round's messages
 * (so it does not absorb those); a copy that missed a lost message, or whose sender restarted
 * from an older checkpoint, is reloaded in the same way with the sender's next message that
 * arrives. */
static void s_absorb_and_mix(s_sim_t *sim, uint32_t i, uint32_t t)
{
    const rumor_scenario_t *sc = sim->sc;
    rumor_peer_t *p = sim->peers[i];
    const uint32_t deg = rumor_topology_degree(sim->topo, i);
    const uint32_t *nb = rumor_topology_neighbors(sim->topo, i);
    const int back = sc->n_faults && t > 0 && rumor_scenario_node_down(sc, i, t - 1);
    const double drop = sc->n_faults ? rumor_scenario_drop_rate(sc, t) : 0.0;
    for (uint32_t s = 0; s < deg; s++) {
        const uint32_t j = nb[s];
        if (sc->n_faults) {
            uint8_t *stale = &sim->stale[sim->edge0[i] + s];
            const int up = !rumor_scenario_node_down(sc, j, t);
            if (s_restarts(sc, j, t)) *stale = 1;
            RUMOR_ASSERT(rumor_gossip_set_up(rumor_peer_gossip(p), j, up) == 0);
            if (!up && !back) continue;
            if (up && drop > 0 && s_lost(sim, j, i, t, drop)) {
                *stale = 1;
                sim->lost[i]++;
                if (!back) continue;
            }
            if (back || *stale) {
                s_reload(sim, i, j);
                *stale = 0;
                continue;
            }
        }
        const int rc = rumor_peer_deliver(p, j, sim->msg[j], sim->msg_len[j]);
        int none = 0; /* the first failure only */
        if (rc && atomic_compare_exchange_strong(&sim->failed, &none, rc)) {
            if (rc == RUMOR_ENONFINITE)
                rumor_error("peer %u's message of round %u holds non-finite values: its "
                            "model diverged " RUMOR_PEER_DIVERGED_HINT,
                            j, t);
            else
                rumor_error("peer %u: message of peer %u in round %u: %s", i, j, t,
                            rumor_strerror(rc));
        }
    }
    rumor_peer_finish(p);
}

/* ---- checkpoints --------------------------------------------------------------------------
 * DIR/sim.json names the last complete checkpoint: its round, its slot (DIR/a or DIR/b, used
 * in turn, each holding every peer's rumor_checkpoint file, and fault<k>.safetensors for a
 * CRASH fault k whose peer is still to restart) and the simulator's own state (messages
 * lost, copies awaiting a reload). It is replaced atomically once the slot is
 * complete, so a crash while a checkpoint is written leaves the previous one whole. */

#define S_STATE_FORMAT "rumor-sim-checkpoint-1"

static int s_state_path(char *buf, size_t cap, const char *dir)
{
    const int n = snprintf(buf, cap, "%s/sim.json", dir);
    return n < 0 || (size_t)n >= cap ? RUMOR_ENOSPC : 0;
}

static int s_slot_dir(char *buf, size_t cap, const char *dir, int slot)
{
    const int n = snprintf(buf, cap, "%s/%c", dir, slot ? 'b' : 'a');
    return n < 0 || (size_t)n >= cap ? RUMOR_ENOSPC : 0;
}

static int s_peer_ckpt_path(char *buf, size_t cap, const char *dir, int slot, uint32_t i)
{
    char sd[RUMOR_PATH_MAX];
    return s_slot_dir(sd, sizeof sd, dir, slot) || rumor_checkpoint_path(buf, cap, sd, i)
               ? RUMOR_ENOSPC
               : 0;
}

/* DIR/a|b/fault<k>.safetensors: the checkpoint that CRASH fault k's node restarts from. */
static int s_saved_ckpt_path(char *buf, size_t cap, const char *dir, int slot, uint32_t k)
{
    char sd[RUMOR_PATH_MAX];
    if (s_slot_dir(sd, sizeof sd, dir, slot)) return RUMOR_ENOSPC;
    const int n = snprintf(buf, cap, "%s/fault%u.safetensors", sd, k);
    return n < 0 || (size_t)n >= cap ? RUMOR_ENOSPC : 0;
}

/* 1 when a checkpoint after `done` rounds must keep fault f's saved state: f is a CRASH whose
 * node's checkpoint was taken (at the start of an earlier round) and not yet restarted from. */
static int s_saved_pending(const rumor_fault_t *f, uint32_t done)
{
    return f->kind == RUMOR_FAULT_CRASH && rumor_fault_checkpoint_round(f) < done && done <= f->to;
}

static void s_ckpt_fail(s_sim_t *sim, const rumor_errmsg_t *em)
{
    int none = 0;
    if (atomic_compare_exchange_strong(&sim->ckpt_failed, &none, 1)) sim->ckpt_em = *em;
}

/* Worker 0, with every peer's file of the slot written: DIR/sim.json for round done. */
static int s_write_state(const s_sim_t *sim, uint32_t done, rumor_errmsg_t *em)
{
    const char *dir = sim->opts->checkpoint_dir;
    char path[RUMOR_PATH_MAX], cfg[65];
    if (s_state_path(path, sizeof path, dir))
        return rumor_errmsg_set(em, RUMOR_EINVAL, "%s: path too long", dir);
    sodium_bin2hex(cfg, sizeof cfg, sim->sc->hash, sizeof sim->sc->hash);
    const uint32_t edges = sim->edge0[sim->n];
    char *stale = malloc(edges + 1);
    json_t *lost = json_array();
    if (!stale || !lost) {
        free(stale);
        json_decref(lost);
        return rumor_errmsg_set(em, RUMOR_ENOMEM, "%s: out of memory", path);
    }
    for (uint32_t e = 0; e < edges; e++) stale[e] = sim->stale[e] ? '1' : '0';
    stale[edges] = '\0';
    for (uint32_t i = 0; i < sim->n; i++)
        json_array_append_new(lost, json_integer((json_int_t)sim->lost[i]));
    json_t *j =
        json_pack("{s:s, s:I, s:s, s:I, s:s, s:o, s:s}", "format", S_STATE_FORMAT, "round",
                  (json_int_t)done, "slot", sim->slot ? "b" : "a", "peers", (json_int_t)sim->n,
                  "config_hash", cfg, "messages_lost", lost, "stale", stale);
    free(stale);
    /* The target reached so far, which a resumed run cannot see again; kept with its target. */
    if (j && sim->target_round)
        json_object_set_new(j, "target",
                            json_pack("{s:f, s:I, s:f}", "acc", sim->sc->target_acc, "round",
                                      (json_int_t)sim->target_round, "bytes", sim->target_bytes));
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!text) return rumor_errmsg_set(em, RUMOR_ENOMEM, "%s: out of memory", path);
    const rumor_file_piece_t piece = {text, strlen(text)};
    const int rc = rumor_file_save(path, 0644, 0, &piece, 1, em);
    free(text);
    return rc;
}

/* Saves p to path, whose construction returned path_rc; a failure goes to s_ckpt_fail. */
static void s_save(s_sim_t *sim, int path_rc, const char *path, rumor_peer_t *p)
{
    rumor_errmsg_t em = {""};
    int rc = path_rc;
    if (rc) rumor_errmsg_set(&em, rc, "%s: path too long", sim->opts->checkpoint_dir);
    if (rc || (rc = rumor_checkpoint_save(path, p, sim->topo_hash, &em))) s_ckpt_fail(sim, &em);
}

/* Every peer saves itself into the slot (and the state a crashed peer is to restart from, while
 * it is), then worker 0 commits the slot in sim.json; a failure is kept in sim->ckpt_failed,
 * read by every worker after the last barrier. */
static void s_checkpoint(s_worker_t *wk, uint32_t done)
{
    s_sim_t *sim = wk->sim;
    const char *dir = sim->opts->checkpoint_dir;
    char path[RUMOR_PATH_MAX + 64];
    for (uint32_t i = wk->w; i < sim->n; i += sim->threads)
        s_save(sim, s_peer_ckpt_path(path, sizeof path, dir, sim->slot, i), path, sim->peers[i]);
    for (uint32_t k = wk->w; k < sim->sc->n_faults; k += sim->threads)
        if (s_saved_pending(&sim->sc->faults[k], done))
            s_save(sim, s_saved_ckpt_path(path, sizeof path, dir, sim->slot, k), path,
                   sim->saved[k]);
    s_wait(wk);
    if (wk->w == 0 && !atomic_load(&sim->ckpt_failed)) {
        rumor_errmsg_t em = {""};
        if (s_write_state(sim, done, &em))
            s_ckpt_fail(sim, &em);
        else
            sim->slot ^= 1;
    }
    s_wait(wk);
}

/* Reads DIR/sim.json: 1 with *out set (the caller owns it) and its format, round and run
 * config (that of sc) checked, 0 when there is none, or a negative code with em filled. */
static int s_read_state(const char *dir, const rumor_scenario_t *sc, json_t **out, uint32_t *round,
                        rumor_errmsg_t *em)
{
    char path[RUMOR_PATH_MAX];
    if (s_state_path(path, sizeof path, dir))
        return rumor_errmsg_set(em, RUMOR_EINVAL, "%s: path too long", dir);
    struct stat st;
    if (stat(path, &st) != 0 && errno == ENOENT) return 0;
    char *text;
    size_t len;
    int rc = rumor_file_read(path, 64u << 20, &text, &len, em);
    if (rc) return rc;
    json_error_t jerr;
    json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
    free(text);
    json_t *r = json_object_get(j, "round");
    if (!j || !json_is_string(json_object_get(j, "format")) ||
        strcmp(json_string_value(json_object_get(j, "format")), S_STATE_FORMAT) ||
        !json_is_integer(r) || json_integer_value(r) < 0 || json_integer_value(r) > UINT32_MAX) {
        json_decref(j);
        return rumor_errmsg_set(em, RUMOR_EFORMAT,
                                "%s: not a rumor sim checkpoint (format %s with a round)", path,
                                S_STATE_FORMAT);
    }
    char cfg[65];
    sodium_bin2hex(cfg, sizeof cfg, sc->hash, sizeof sc->hash);
    const char *theirs = json_string_value(json_object_get(j, "config_hash"));
    if (!theirs || strcmp(theirs, cfg)) {
        json_decref(j);
        return rumor_errmsg_set(em, RUMOR_EMISMATCH,
                                "%s: its checkpoint is of another run config (scenario, --rounds "
                                "or --seed); use another directory, or remove it to start over",
                                dir);
    }
    *round = (uint32_t)json_integer_value(r);
    *out = j;
    return 1;
}

int rumor_sim_checkpoint_round(const char *dir, const rumor_scenario_t *sc, uint32_t *round,
                               rumor_errmsg_t *em)
{
    json_t *j = NULL;
    const int rc = s_read_state(dir, sc, &j, round, em);
    json_decref(j);
    return rc;
}

/* 1 when peer i at round r fits a checkpoint of round `round`: the same round, or an earlier
 * one for a peer out of rounds r to round - 1 (a peer that is out does not advance). */
static int s_round_fits(const s_sim_t *sim, uint32_t i, uint32_t r, uint32_t round)
{
    return r == round || (r < round && rumor_scenario_node_down(sim->sc, i, r) &&
                          rumor_scenario_node_down(sim->sc, i, round - 1));
}

/* Before the workers start: the directory and its slots exist, and a checkpoint there, if
 * any, is loaded into every peer and the simulator (sim->start). */
static int s_resume(s_sim_t *sim, rumor_errmsg_t *em)
{
    const char *dir = sim->opts->checkpoint_dir;
    int rc = rumor_file_mkdir(dir, 0755, em);
    for (int slot = 0; slot < 2 && !rc; slot++) {
        char d[RUMOR_PATH_MAX];
        if (s_slot_dir(d, sizeof d, dir, slot))
            return rumor_errmsg_set(em, RUMOR_EINVAL, "%s: path too long", dir);
        rc = rumor_file_mkdir(d, 0755, em);
    }
    if (rc) return rc;
    json_t *j = NULL;
    uint32_t round;
    rc = s_read_state(dir, sim->sc, &j, &round, em);
    if (rc <= 0) return rc;
    const char *slot = json_string_value(json_object_get(j, "slot"));
    const char *stale = json_string_value(json_object_get(j, "stale"));
    json_t *lost = json_object_get(j, "messages_lost");
    rc = 0;
    if (json_integer_value(json_object_get(j, "peers")) != (json_int_t)sim->n || !slot ||
        (strcmp(slot, "a") && strcmp(slot, "b")) || !stale || strlen(stale) != sim->edge0[sim->n] ||
        strspn(stale, "01") != strlen(stale) || json_array_size(lost) != sim->n ||
        round > sim->sc->rounds)
        rc = rumor_errmsg_set(em, RUMOR_EFORMAT, "%s/sim.json: malformed checkpoint state", dir);
    json_t *target = json_object_get(j, "target");
    json_t *target_round = json_object_get(target, "round");
    if (!rc && target &&
        (!json_is_number(json_object_get(target, "acc")) || !json_is_integer(target_round) ||
         json_integer_value(target_round) < 1 || json_integer_value(target_round) > round ||
         !json_is_number(json_object_get(target, "bytes"))))
        rc = rumor_errmsg_set(em, RUMOR_EFORMAT, "%s/sim.json: malformed target", dir);
    if (!rc && target && json_number_value(json_object_get(target, "acc")) == sim->sc->target_acc) {
        sim->target_round = (uint32_t)json_integer_value(target_round);
        sim->target_bytes = json_number_value(json_object_get(target, "bytes"));
    }
    for (uint32_t i = 0; i < sim->n && !rc; i++) {
        json_t *v = json_array_get(lost, i);
        if (!json_is_integer(v) || json_integer_value(v) < 0)
            rc = rumor_errmsg_set(em, RUMOR_EFORMAT, "%s/sim.json: messages_lost[%u]", dir, i);
        else
            sim->lost[i] = (uint64_t)json_integer_value(v);
    }
    for (uint32_t i = 0; i < sim->n && !rc; i++) {
        char path[RUMOR_PATH_MAX + 64];
        if (s_peer_ckpt_path(path, sizeof path, dir, slot[0] == 'b', i))
            rc = rumor_errmsg_set(em, RUMOR_EINVAL, "%s: path too long", dir);
        else if (!(rc = rumor_checkpoint_load(path, sim->peers[i], sim->topo_hash, em)) &&
                 !s_round_fits(sim, i, rumor_peer_round(sim->peers[i]), round))
            rc = rumor_errmsg_set(em, RUMOR_EFORMAT, "%s: round %u, but sim.json says %u", path,
                                  rumor_peer_round(sim->peers[i]), round);
    }
    for (uint32_t k = 0; k < sim->sc->n_faults && !rc; k++) {
        if (!s_saved_pending(&sim->sc->faults[k], round)) continue;
        char path[RUMOR_PATH_MAX + 64];
        if (s_saved_ckpt_path(path, sizeof path, dir, slot[0] == 'b', k))
            rc = rumor_errmsg_set(em, RUMOR_EINVAL, "%s: path too long", dir);
        else
            rc = rumor_checkpoint_load(path, sim->saved[k], sim->topo_hash, em);
    }
    if (!rc) {
        for (uint32_t e = 0; e < sim->edge0[sim->n]; e++) sim->stale[e] = stale[e] == '1';
        sim->start = round;
        sim->slot = slot[0] == 'a'; /* the other slot is written next */
    }
    json_decref(j);
    return rc;
}

static int s_is_ckpt_round(const s_sim_t *sim, uint32_t done)
{
    const uint32_t k =
        sim->opts->checkpoint_every ? sim->opts->checkpoint_every : RUMOR_CHECKPOINT_EVERY;
    return sim->opts->checkpoint_dir && (done % k == 0 || done == sim->sc->rounds);
}

/* Every worker: evaluate its peers after `done` rounds; worker 0 records the result. */
static void s_evaluate(s_worker_t *wk, uint32_t done)
{
    s_sim_t *sim = wk->sim;
    for (uint32_t i = wk->w; i < sim->n; i += sim->threads) {
        rumor_peer_stats(sim->peers[i])->t_wait = wk->t_wait;
        rumor_peer_evaluate(sim->peers[i], &sim->data->test, sim->sc->eval_samples,
                            &sim->test_loss[i], &sim->acc[i]);
    }
    s_wait(wk);
    if (wk->w == 0) s_record(sim, done);
    s_wait(wk);
}

/* Phase 1, peer i at the start of round t: a peer to crash keeps its state as the checkpoint
 * it will restart from; a peer restarting from a crash takes that state back. */
static void s_crash_checkpoints(s_sim_t *sim, uint32_t i, uint32_t t)
{
    for (uint32_t k = 0; k < sim->sc->n_faults; k++) {
        const rumor_fault_t *f = &sim->sc->faults[k];
        if (f->kind != RUMOR_FAULT_CRASH || f->node != i) continue;
        if (t == rumor_fault_checkpoint_round(f))
            rumor_peer_copy_state(sim->saved[k], sim->peers[i]);
        if (t == f->to) rumor_peer_copy_state(sim->peers[i], sim->saved[k]);
    }
}

static void *s_worker_main(void *arg)
{
    s_worker_t *wk = arg;
    s_sim_t *sim = wk->sim;
    const rumor_scenario_t *sc = sim->sc;
    const uint32_t n = sim->n, T = sim->threads;
    for (uint32_t t = sim->start; t < sc->rounds; t++) {
        if (wk->w == 0 && sc->n_faults) s_note_faults(sim, t);
        for (uint32_t i = wk->w; i < n; i += T) {
            /* A round of many large peers can take minutes: a signal ends it between steps.
             * Its state is half-stepped, so the round is dropped, not mixed or saved. */
            if (s_signalled) {
                atomic_store(&sim->dropped, t + 1);
                break;
            }
            if (sc->n_faults) s_crash_checkpoints(sim, i, t);
            if (rumor_scenario_node_down(sc, i, t)) continue;
            /* Back from an outage: it rejoins at the network's round. */
            if (rumor_peer_round(sim->peers[i]) != t) rumor_peer_set_round(sim->peers[i], t);
            const int rc = rumor_peer_step(sim->peers[i], &sim->msg[i], &sim->msg_len[i]);
            int none = 0; /* the first failure only */
            if (rc && atomic_compare_exchange_strong(&sim->failed, &none, rc))
                rumor_error("peer %u's model diverged in round %u: its SGD step left non-finite "
                            "parameters " RUMOR_PEER_DIVERGED_HINT,
                            i, t);
        }
        s_wait(wk);
        if (atomic_load(&sim->dropped)) break;
        for (uint32_t i = wk->w; i < n; i += T)
            if (!rumor_scenario_node_down(sc, i, t)) s_absorb_and_mix(sim, i, t);
        const uint32_t done = t + 1;
        if (wk->w == 0) sim->stop = s_signalled || sim->failed;
        s_wait(wk);
        const int stop = sim->stop;
        if (s_is_eval_round(sim, done) || stop) s_evaluate(wk, done);
        /* A diverged run is not worth resuming: its last checkpoint stands. */
        if ((s_is_ckpt_round(sim, done) || (stop && sim->opts->checkpoint_dir)) && !sim->failed)
            s_checkpoint(wk, done);
        if (stop || atomic_load(&sim->ckpt_failed)) break;
    }
    /* A resumed run that had already finished: its final evaluation again. */
    if (sim->start == sc->rounds) s_evaluate(wk, sc->rounds);
    return NULL;
}

void rumor_sim_result_write(FILE *f, const rumor_sim_result_t *r, int timing, const char *extra)
{
    fprintf(f,
            "{%s\"round\": %u, \"loss\": %.6f, \"test_loss\": %.6f, \"acc_mean\": %.6f, "
            "\"acc_min\": %.6f, \"acc_avg_model\": %.6f, \"consensus_dist\": %.6e, "
            "\"density\": %.6f, \"bytes_sent\": %.1f, \"entropy_bound_bytes\": %.1f, "
            "\"bits_per_param\": %.6f",
            extra ? extra : "", r->round, r->loss, r->test_loss, r->acc_mean, r->acc_min,
            r->acc_avg_model, r->consensus_dist, r->density, r->bytes_sent, r->entropy_bound_bytes,
            r->bits_per_param);
    fprintf(f, ", \"objective\": %.6f, \"density_copy\": %.6f, \"compress_err\": %.6e",
            r->objective, r->density_copy, r->compress_err);
    if (r->compress_err < 1.0)
        fprintf(f, ", \"delta_hat\": %.6f", 1.0 / (1.0 - r->compress_err));
    else
        fprintf(f, ", \"delta_hat\": null");
    fprintf(f, ", \"grad_norm_avg\": %.6e", r->grad_norm_avg);
    if (r->target_acc > 0 && r->target_round)
        fprintf(f, ", \"target_acc\": %g, \"target_round\": %u, \"target_bytes\": %.1f",
                r->target_acc, r->target_round, r->target_bytes);
    else if (r->target_acc > 0)
        fprintf(f, ", \"target_acc\": %g, \"target_round\": null, \"target_bytes\": null",
                r->target_acc);
    if (r->faults)
        fprintf(f, ", \"peers_down\": %u, \"messages_lost\": %" PRIu64, r->peers_down,
                r->messages_lost);
    if (r->byzantine)
        fprintf(f, ", \"acc_mean_honest\": %.6f, \"acc_min_honest\": %.6f", r->acc_mean_honest,
                r->acc_min_honest);
    if (r->clips) {
        fprintf(f, ", \"clipped_frac\": %.6f, \"clipped_frac_honest\": %.6f", r->clipped_frac,
                r->clipped_frac_honest);
        if (r->clipped_frac_byz >= 0)
            fprintf(f, ", \"clipped_frac_byz\": %.6f", r->clipped_frac_byz);
        else
            fprintf(f, ", \"clipped_frac_byz\": null");
    }
    if (timing)
        fprintf(f,
                ", \"time_compute_s\": %.3f, \"time_codec_s\": %.3f, \"time_comm_s\": %.3f, "
                "\"cpu_compute_s\": %.3f, \"cpu_codec_s\": %.3f, \"wall_s\": %.3f",
                r->time_compute_s, r->time_codec_s, r->time_comm_s, r->cpu_compute_s,
                r->cpu_codec_s, r->wall_s);
    fprintf(f, "}\n");
}

static int s_write_models(const s_sim_t *sim, const char *path, rumor_errmsg_t *em)
{
    rumor_file_piece_t *pieces = malloc(sim->n * sizeof *pieces);
    if (!pieces) return rumor_errmsg_set(em, RUMOR_ENOMEM, "%s: out of memory", path);
    for (uint32_t i = 0; i < sim->n; i++)
        pieces[i] = (rumor_file_piece_t){rumor_peer_params(sim->peers[i]), sim->d * sizeof(float)};
    const int rc = rumor_file_save(path, 0644, 0, pieces, sim->n, em);
    free(pieces);
    return rc;
}

int rumor_sim_run(const rumor_scenario_t *sc, const rumor_sim_opts_t *opts,
                  rumor_sim_result_t *result, rumor_errmsg_t *em)
{
    s_sim_t sim = {.sc = sc, .opts = opts};
    rumor_topology_t *topo = NULL;
    rumor_peer_data_t data;
    int rc = rumor_scenario_topology(sc, &topo, em);
    if (rc) return rc;
    if ((rc = rumor_scenario_check_faults(sc, topo->n, em))) {
        rumor_topology_destroy(&topo);
        return rc;
    }
    sim.topo = topo;
    sim.n = topo->n;
    if ((rc = rumor_peer_data_load(sc, sim.n, RUMOR_PEER_ALL, &data, em))) {
        rumor_topology_destroy(&topo);
        return rc;
    }
    sim.data = &data;
    /* Peers run in parallel; BLAS inside each must stay on one thread (and results do not
     * depend on how many threads a GEMM would use). */
    openblas_set_num_threads(1);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    sim.threads = opts->threads ? opts->threads : (uint32_t)(cores > 0 ? cores : 1);
    if (sim.threads > sim.n) sim.threads = sim.n;

    sim.peers = calloc(sim.n, sizeof *sim.peers);
    sim.msg = calloc(sim.n, sizeof *sim.msg);
    sim.msg_len = calloc(sim.n, sizeof *sim.msg_len);
    sim.acc = calloc(sim.n, sizeof *sim.acc);
    sim.test_loss = calloc(sim.n, sizeof *sim.test_loss);
    sim.workers = calloc(sim.threads, sizeof *sim.workers);
    sim.edge0 = calloc(sim.n + 1, sizeof *sim.edge0);
    sim.lost = calloc(sim.n, sizeof *sim.lost);
    if (!sim.peers || !sim.msg || !sim.msg_len || !sim.acc || !sim.test_loss || !sim.workers ||
        !sim.edge0 || !sim.lost) {
        rc = rumor_errmsg_set(em, RUMOR_ENOMEM, "simulation: out of memory");
        goto done;
    }
    for (uint32_t i = 0; i < sim.n; i++)
        sim.edge0[i + 1] = sim.edge0[i] + rumor_topology_degree(topo, i);
    if (!(sim.stale = calloc(sim.edge0[sim.n] + 1, 1))) {
        rc = rumor_errmsg_set(em, RUMOR_ENOMEM, "simulation: out of memory");
        goto done;
    }
    for (uint32_t i = 0; i < sim.n; i++) {
        const rumor_peer_cfg_t pc = rumor_peer_data_cfg(&data, sc, topo, i, RUMOR_PEER_EVAL_ROWS);
        if (!(sim.peers[i] = rumor_peer_new(&pc, em))) {
            rc = RUMOR_EINVAL;
            goto done;
        }
    }
    for (uint32_t i = 0; i < sim.n; i++) {
        const rumor_byzantine_t *b = rumor_scenario_byzantine(sc, i);
        if (b && rumor_peer_set_byzantine(sim.peers[i], b)) {
            rc = rumor_errmsg_set(em, RUMOR_ENOMEM, "simulation: out of memory");
            goto done;
        }
    }
    if (sc->n_faults && !(sim.saved = calloc(sc->n_faults, sizeof *sim.saved))) {
        rc = rumor_errmsg_set(em, RUMOR_ENOMEM, "simulation: out of memory");
        goto done;
    }
    for (uint32_t k = 0; k < sc->n_faults; k++) {
        if (sc->faults[k].kind != RUMOR_FAULT_CRASH) continue;
        const rumor_peer_cfg_t pc =
            rumor_peer_data_cfg(&data, sc, topo, sc->faults[k].node, RUMOR_PEER_EVAL_ROWS);
        if (!(sim.saved[k] = rumor_peer_new(&pc, em))) {
            rc = RUMOR_EINVAL;
            goto done;
        }
    }
    sim.d = rumor_peer_dim(sim.peers[0]);
    sim.avg = malloc(sim.d * sizeof *sim.avg);
    sim.avg_model =
        rumor_model_new(rumor_model_spec(rumor_peer_model(sim.peers[0])), RUMOR_PEER_EVAL_ROWS);
    sim.grad_m = data.train.n < RUMOR_SIM_GRAD_ROWS ? data.train.n : RUMOR_SIM_GRAD_ROWS;
    sim.grad_idx = malloc(sim.grad_m * sizeof *sim.grad_idx);
    sim.grad_x = malloc((size_t)RUMOR_PEER_EVAL_ROWS * data.train.dim * sizeof *sim.grad_x);
    sim.grad_y = malloc(RUMOR_PEER_EVAL_ROWS * sizeof *sim.grad_y);
    sim.grad_chunk = malloc(sim.d * sizeof *sim.grad_chunk);
    sim.grad = malloc(sim.d * sizeof *sim.grad);
    if (!sim.avg || !sim.avg_model || !sim.grad_idx || !sim.grad_x || !sim.grad_y ||
        !sim.grad_chunk || !sim.grad) {
        rc = rumor_errmsg_set(em, RUMOR_ENOMEM, "simulation: out of memory");
        goto done;
    }
    for (uint32_t k = 0; k < sim.grad_m; k++)
        sim.grad_idx[k] = (uint32_t)((uint64_t)k * data.train.n / sim.grad_m);
    char why[512];
    if (rumor_peer_caution(sim.peers[0], why, sizeof why)) rumor_warn("%s", why);
    if (opts->progress) {
        char desc[384];
        rumor_peer_describe(sim.peers[0], desc, sizeof desc);
        fprintf(opts->progress,
                "rumor sim: %s: %u peers (%s), %s; %u train / %u test samples, %u threads\n",
                sc->name, sim.n, topo->name, desc, data.train.n, data.test.n, sim.threads);
    }
    if (opts->checkpoint_dir) {
        rumor_topology_hash(topo, sim.topo_hash);
        if ((rc = s_resume(&sim, em)) < 0) goto done;
        rc = 0;
        if (sim.start == sc->rounds && opts->progress)
            fprintf(opts->progress,
                    "rumor sim: %s holds the finished run (round %u): evaluating its models "
                    "again (no training loss: no round is run)\n",
                    opts->checkpoint_dir, sim.start);
        else if (sim.start && opts->progress)
            fprintf(opts->progress, "rumor sim: resuming from %s at round %u\n",
                    opts->checkpoint_dir, sim.start);
    }

    pthread_barrier_init(&sim.barrier, NULL, sim.threads);
    s_signalled = 0;
    struct sigaction sa = {.sa_handler = s_on_signal}, old_int, old_term;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    sim.t_start = rumor_clock_now();
    pthread_t *tids = calloc(sim.threads, sizeof *tids);
    RUMOR_ASSERT(tids);
    for (uint32_t w = 0; w < sim.threads; w++) {
        sim.workers[w] = (s_worker_t){.sim = &sim, .w = w};
        if (w > 0)
            RUMOR_ASSERT(pthread_create(&tids[w], NULL, s_worker_main, &sim.workers[w]) == 0);
    }
    s_worker_main(&sim.workers[0]);
    for (uint32_t w = 1; w < sim.threads; w++) pthread_join(tids[w], NULL);
    free(tids);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    pthread_barrier_destroy(&sim.barrier);

    *result = sim.last;
    if (atomic_load(&sim.ckpt_failed))
        rc = rumor_errmsg_set(em, RUMOR_EIO, "checkpoint after round %u: %s", sim.last.round,
                              sim.ckpt_em.msg);
    else if (sim.failed)
        rc = rumor_errmsg_set(em, sim.failed,
                              sim.failed == RUMOR_ENONFINITE
                                  ? "a peer's model diverged"
                                  : "a peer could not decode a neighbour's message");
    else if (atomic_load(&sim.dropped))
        rc = rumor_errmsg_set(
            em, RUMOR_EINTR, "interrupted inside round %u, which is dropped%s%s%s",
            atomic_load(&sim.dropped) - 1, opts->checkpoint_dir ? " (the last checkpoint in " : "",
            opts->checkpoint_dir ? opts->checkpoint_dir : "",
            opts->checkpoint_dir ? " stands; the same command resumes)" : "");
    else if (s_signalled && opts->checkpoint_dir)
        rc = rumor_errmsg_set(em, RUMOR_EINTR,
                              "interrupted at round %u, checkpointed in %s (the same command "
                              "resumes)",
                              sim.last.round, opts->checkpoint_dir);
    else if (s_signalled)
        rc = rumor_errmsg_set(em, RUMOR_EINTR, "interrupted at round %u", sim.last.round);
    if (opts->models_out && !sim.failed && !atomic_load(&sim.ckpt_failed) &&
        !atomic_load(&sim.dropped)) {
        const int wrc = s_write_models(&sim, opts->models_out, em);
        if (wrc) rc = wrc;
    }
done:
    if (sim.peers)
        for (uint32_t i = 0; i < sim.n; i++) rumor_peer_destroy(&sim.peers[i]);
    if (sim.saved)
        for (uint32_t k = 0; k < sc->n_faults; k++) rumor_peer_destroy(&sim.saved[k]);
    free(sim.saved);
    rumor_model_destroy(&sim.avg_model);
    free(sim.avg);
    free(sim.grad_idx);
    free(sim.grad_x);
    free(sim.grad_y);
    free(sim.grad_chunk);
    free(sim.grad);
    free(sim.peers);
    free(sim.msg);
    free(sim.msg_len);
    free(sim.acc);
    free(sim.test_loss);
    free(sim.workers);
    free(sim.edge0);
    free(sim.stale);
    free(sim.lost);
    rumor_peer_data_free(&data);
    rumor_topology_destroy(&topo);
    return rc;
}
