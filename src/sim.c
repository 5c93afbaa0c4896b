/* rumor — many peers in one process (see sim.h).
 *
 * Worker w owns peers w, w + T, w + 2T, ... Every peer runs the real protocol: one link per
 * neighbour, whose frames the simulator carries in memory (sim_internal.h). A round is phases
 * separated by barriers:
 *   1. every peer ticks its links, takes its local step and sends its DIFF on each link;
 *   2. every peer takes the frames due on its links and answers them (a RESYNC with a STATE,
 *      ...), again while any peer sent a frame;
 *   3. every peer closes the round on its links (liveness), mixes and applies the prox; then
 *      the next round's phase 1 follows without a barrier (a mix only reads the peer's own
 *      state).
 * Evaluation rounds add a phase in which each worker evaluates its peers, then worker 0 alone
 * averages the models, evaluates the average and writes the record. Deadline rounds on per-peer
 * clocks (a SLOW fault or round_mode.compute_ms) run in sim_clock.c instead, on one thread,
 * with the same records.
 */
#include "sim_internal.h"

#include "rumor/clock.h"
#include "rumor/sim.h"
#include "rumor/file.h"
#include "rumor/log.h"
#include "rumor/peer.h"
#include "rumor/transport.h"
#include "rumor/vec.h"
#include "rumor/wire.h"

#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* 1 once the command's stop flag is set (by its SIGINT/SIGTERM handler). */
static int s_stopped(const s_sim_t *sim)
{
    return sim->opts->stop && *sim->opts->stop;
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

int rumor_sim_eval_round(const s_sim_t *sim, uint32_t done)
{
    return done % sim->sc->eval_every == 0 || done == sim->sc->rounds;
}

/* Worker 0: the honest peers' accuracy (in smp) and the clipped fractions into r. */
static void s_record_byzantine(const s_sim_t *sim, const rumor_sim_sample_t *smp,
                               rumor_sim_result_t *r)
{
    const rumor_scenario_t *sc = sim->sc;
    uint32_t honest = 0;
    double acc = 0.0, acc_min = 1.0;
    for (uint32_t i = 0; i < sim->n; i++) {
        if (rumor_scenario_byzantine(sc, i)) continue;
        honest++;
        acc += smp[i].acc;
        if (smp[i].acc < acc_min) acc_min = smp[i].acc;
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

void rumor_sim_sample(s_sim_t *sim, uint32_t i, rumor_sim_sample_t *out)
{
    const size_t d = sim->d;
    rumor_peer_stats_t *st = rumor_peer_stats(sim->peers[i]);
    const float *x = rumor_peer_params(sim->peers[i]);
    const rumor_gossip_t *g = rumor_peer_gossip(sim->peers[i]);
    const int stepped = st->loss_count != 0; /* before the loss is taken */
    *out = (rumor_sim_sample_t){.stepped = stepped,
                                .loss = rumor_peer_take_loss(sim->peers[i]),
                                .acc = sim->acc[i],
                                .test_loss = sim->test_loss[i],
                                .nnz = (double)rumor_vec_count_nonzero(x, d),
                                .l1 = rumor_vec_nrm1(x, d),
                                .nnz_copy =
                                    (double)rumor_vec_count_nonzero(rumor_gossip_copy(g, i), d),
                                .err = rumor_gossip_compress_err(g),
                                .bytes = (double)st->bytes_sent,
                                .ent = st->entropy_bits / 8.0,
                                .tc = st->t_compute,
                                .tk = st->t_codec,
                                .tw = st->t_wait,
                                .cc = st->cpu_compute,
                                .ck = st->cpu_codec};
    if (st->msgs_sent) { /* frames of the mean length: exact when all are framed alike */
        const uint64_t len = st->bytes_sent / st->msgs_sent;
        out->wire =
            (double)st->bytes_sent +
            (double)st->msgs_sent *
                (double)(rumor_transport_wire_bytes(RUMOR_WIRE_HEADER_BYTES + len, 1) - len);
    }
}

void rumor_sim_record(s_sim_t *sim, uint32_t done, const rumor_sim_sample_t *smp,
                      const float *const *x)
{
    const uint32_t n = sim->n;
    const size_t d = sim->d;
    rumor_sim_result_t *r = &sim->last;
    memset(r, 0, sizeof *r);
    r->round = done;
    r->faults = sim->sc->n_faults > 0;
    for (uint32_t i = 0; i < n && r->faults; i++) {
        r->peers_down += (uint32_t)rumor_scenario_node_down(sim->sc, i, done - 1);
        r->messages_lost += sim->net.lost[i];
    }
    /* From the coins alone (a resumed run counts from round 0 again): peers that were up. */
    for (uint32_t f = 0; f < sim->sc->n_faults; f++)
        r->straggles |= sim->sc->faults[f].kind == RUMOR_FAULT_STRAGGLE;
    for (; r->straggles && sim->straggle_upto < done; sim->straggle_upto++)
        for (uint32_t i = 0; i < n; i++)
            sim->straggled += !rumor_scenario_node_down(sim->sc, i, sim->straggle_upto) &&
                              rumor_scenario_straggler(sim->sc, i, sim->straggle_upto);
    r->straggled = sim->straggled;
    rumor_vec_zero(sim->avg, d);
    double loss = 0, acc = 0, acc_min = 1.0, tl = 0, nnz = 0, bytes = 0, ent = 0;
    double l1 = 0, nnz_copy = 0, err = 0, wire = 0;
    uint32_t stepped = 0;
    double tc = 0, tk = 0, tw = 0, cc = 0, ck = 0;
    for (uint32_t i = 0; i < n; i++) {
        const rumor_sim_sample_t *p = &smp[i];
        rumor_vec_axpy(sim->avg, 1.0f / (float)n, x[i], d);
        stepped += (uint32_t)p->stepped; /* a peer out for the whole interval has no loss */
        loss += p->loss;
        acc += p->acc;
        if (p->acc < acc_min) acc_min = p->acc;
        tl += p->test_loss;
        nnz += p->nnz;
        l1 += p->l1;
        nnz_copy += p->nnz_copy;
        err += p->err;
        bytes += p->bytes;
        wire += p->wire;
        ent += p->ent;
        tc += p->tc;
        tk += p->tk;
        tw += p->tw;
        cc += p->cc;
        ck += p->ck;
    }
    s_record_byzantine(sim, smp, r);
    double cons = 0;
    for (uint32_t i = 0; i < n; i++) cons += rumor_vec_dist2(x[i], sim->avg, d);
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
    r->wire_bytes = wire / n;
    r->entropy_bound_bytes = ent / n;
    r->bits_per_param = rumor_peer_bits_per_param(r->bytes_sent, done, d);
    r->target_acc = sim->sc->target_acc;
    if (r->target_acc > 0 && !sim->ck.target_round && avg_acc >= r->target_acc) {
        sim->ck.target_round = done;
        sim->ck.target_bytes = r->bytes_sent;
    }
    r->target_round = sim->ck.target_round;
    r->target_bytes = sim->ck.target_bytes;
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
    if (sim->opts->metrics && done > sim->ck.start) {
        rumor_sim_result_write(sim->opts->metrics, r, sim->opts->timing, NULL);
        fflush(sim->opts->metrics);
    }
    if (sim->opts->progress) {
        /* rounds run by this process (a resumed run started at sim->ck.start) */
        char pace[64];
        rumor_clock_pace(done - sim->ck.start, r->wall_s, sim->sc->rounds - done, pace,
                         sizeof pace);
        fprintf(sim->opts->progress,
                "round %6u/%u  loss %.4f  acc %.4f (min %.4f, avg-model %.4f)  consensus %.2e  "
                "density %.3f  sent %.2f MB/peer (%.3f bits/param)  %s\n",
                done, sim->sc->rounds, r->loss, r->acc_mean, r->acc_min, r->acc_avg_model,
                r->consensus_dist, r->density, r->bytes_sent / 1e6, r->bits_per_param, pace);
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
                fprintf(f, "round %6u: DIFFs lost with probability %g until %s (fault)\n", t,
                        ft->drop, until);
            else if (ft->to == t)
                fprintf(f, "round %6u: DIFFs no longer lost with probability %g\n", t, ft->drop);
        } else if (ft->kind == RUMOR_FAULT_DELAY) {
            if (ft->from == t && ft->delay)
                fprintf(f, "round %6u: DIFFs %u rounds late with probability %g until %s (fault)\n",
                        t, ft->delay, ft->drop, until);
            else if (ft->from == t)
                fprintf(f, "round %6u: frames delayed by %g to %g ms until %s (fault)\n", t,
                        ft->delay_lo, ft->delay_hi, until);
            else if (ft->to == t)
                fprintf(f, "round %6u: frames no longer delayed\n", t);
        } else if (ft->kind == RUMOR_FAULT_BYZANTINE) {
            if (ft->from != t || ft->byz.kind == RUMOR_BYZ_NONE) continue;
            fprintf(f, "round %6u: peer%s", t, ft->n_nodes > 1 ? "s" : "");
            for (uint32_t j = 0; j < ft->n_nodes; j++)
                fprintf(f, "%s %u", j ? "," : "", ft->nodes[j]);
            fprintf(f, " send%s %s poison from now on (fault)\n", ft->n_nodes > 1 ? "" : "s",
                    rumor_byzantine_name(ft->byz.kind));
        } else if (ft->kind == RUMOR_FAULT_STRAGGLE) {
            char late[32] = "lost";
            if (ft->late >= 0) snprintf(late, sizeof late, "%d rounds late", (int)ft->late);
            if (ft->from == t)
                fprintf(f,
                        "round %6u: %s straggle with probability %g (no step; DIFF %s) until %s "
                        "(fault)\n",
                        t, ft->n_nodes ? "listed peers" : "peers", ft->drop, late, until);
            else if (ft->to == t)
                fprintf(f, "round %6u: peers no longer straggle with probability %g\n", t,
                        ft->drop);
        } else if (ft->kind == RUMOR_FAULT_SLOW) {
            if (ft->from == t)
                fprintf(f, "round %6u: %u listed peer%s %g ms slower a step until %s (fault)\n", t,
                        ft->n_nodes, ft->n_nodes > 1 ? "s" : "", ft->slow_ms, until);
            else if (ft->to == t)
                fprintf(f, "round %6u: listed peers no longer slower\n", t);
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
    if (wk->w == 0) {
        for (uint32_t i = 0; i < sim->n; i++) {
            rumor_sim_sample(sim, i, &sim->smp[i]);
            sim->x[i] = rumor_peer_params(sim->peers[i]);
        }
        rumor_sim_record(sim, done, sim->smp, sim->x);
    }
    s_wait(wk);
}

/* Phase 1, peer i at the start of round t: a peer to crash keeps its state as the checkpoint
 * it will restart from; a peer restarting from a crash takes that state back, with new links
 * (a new session: its neighbours' links see a restart). */
static void s_crash_checkpoints(s_worker_t *wk, uint32_t i, uint32_t t)
{
    s_sim_t *sim = wk->sim;
    for (uint32_t k = 0; k < sim->sc->n_faults; k++) {
        const rumor_fault_t *f = &sim->sc->faults[k];
        if (f->kind != RUMOR_FAULT_CRASH || f->node != i) continue;
        if (t == rumor_fault_checkpoint_round(f))
            rumor_peer_copy_state(sim->saved[k], sim->peers[i]);
        if (t == f->to) {
            rumor_peer_copy_state(sim->peers[i], sim->saved[k]);
            rumor_simnet_restart(&sim->net, &wk->net, i, t, k);
        }
    }
}

/* The end of phase s of round t: worker wk's failures and frames counted, a signal noted. */
static void s_end_phase(s_worker_t *wk, uint32_t t, uint64_t s)
{
    s_sim_t *sim = wk->sim;
    if (wk->net.failed && atomic_load(&wk->fail_round) == UINT32_MAX)
        atomic_store(&wk->fail_round, t);
    if (wk->w == 0 && s_stopped(sim) && atomic_load(&sim->sig_round) == UINT32_MAX)
        atomic_store(&sim->sig_round, t);
    rumor_simnet_end_phase(&sim->net, &wk->net, s, wk->w == 0);
    s_wait(wk);
}

/* After the last barrier of round t: 1 when a peer failed by then. A worker that failed in a
 * later round has not reached it yet, so every worker decides the same. */
static int s_failed_by(const s_sim_t *sim, uint32_t t)
{
    for (uint32_t w = 0; w < sim->threads; w++)
        if (atomic_load(&sim->workers[w].fail_round) <= t) return 1;
    return 0;
}

/* A worker's pass over its peers: the peers do not read their thread's CPU clock (a system
 * call, nine a peer and round at degree 2); the pass reads it at both ends and shares the CPU
 * time among its peers as the wall time went, in each peer's compute and codec parts. */
typedef struct {
    double cpu, wall;
} s_pass_t;

static s_pass_t s_pass_begin(s_worker_t *wk)
{
    s_sim_t *sim = wk->sim;
    for (uint32_t i = wk->w; i < sim->n; i += sim->threads) {
        const rumor_peer_stats_t *st = rumor_peer_stats(sim->peers[i]);
        sim->mark[2 * (size_t)i] = st->t_compute;
        sim->mark[2 * (size_t)i + 1] = st->t_codec;
    }
    const double wall = rumor_clock_now(); /* the CPU clock's readings inside the wall's */
    return (s_pass_t){rumor_clock_thread_cpu(), wall};
}

static void s_pass_end(s_worker_t *wk, s_pass_t b)
{
    s_sim_t *sim = wk->sim;
    const double cpu = rumor_clock_thread_cpu() - b.cpu;
    const double wall = rumor_clock_now() - b.wall;
    /* CPU seconds per second of the pass; a thread's are at most one */
    const double share = wall > cpu ? cpu / wall : 1.0;
    for (uint32_t i = wk->w; i < sim->n; i += sim->threads) {
        rumor_peer_stats_t *st = rumor_peer_stats(sim->peers[i]);
        st->cpu_compute += (st->t_compute - sim->mark[2 * (size_t)i]) * share;
        st->cpu_codec += (st->t_codec - sim->mark[2 * (size_t)i + 1]) * share;
    }
}

/* Every worker saves its peers into the next checkpoint slot, then worker 0 commits it. */
static void s_checkpoint(s_worker_t *wk, uint32_t done)
{
    rumor_sim_ckpt_save_peers(&wk->sim->ck, wk->w, done);
    s_wait(wk);
    if (wk->w == 0) rumor_sim_ckpt_commit(&wk->sim->ck, done);
    s_wait(wk);
}

static void *s_worker_main(void *arg)
{
    s_worker_t *wk = arg;
    s_sim_t *sim = wk->sim;
    rumor_simnet_t *net = &sim->net;
    const rumor_scenario_t *sc = sim->sc;
    const uint32_t n = sim->n, T = sim->threads;
    uint64_t s = 0; /* the phase; every worker counts the same */
    for (uint32_t t = sim->ck.start; t < sc->rounds; t++, s++) {
        if (wk->w == 0 && sc->n_faults) s_note_faults(sim, t);
        s_pass_t pass = s_pass_begin(wk);
        for (uint32_t i = wk->w; i < n; i += T) {
            /* A round of many large peers can take minutes: a signal ends it between steps.
             * Its state is half-stepped, so the round is dropped, not mixed or saved. */
            if (s_stopped(sim)) {
                atomic_store(&sim->dropped, t + 1);
                break;
            }
            if (sc->n_faults) s_crash_checkpoints(wk, i, t);
            if (rumor_scenario_node_down(sc, i, t)) continue;
            /* Back from an outage: it rejoins at the network's round. */
            if (rumor_peer_round(sim->peers[i]) != t) rumor_peer_set_round(sim->peers[i], t);
            /* the compression error is a statistic of evaluations only */
            rumor_gossip_set_measure(rumor_peer_gossip(sim->peers[i]),
                                     rumor_sim_eval_round(sim, t + 1));
            rumor_simnet_tick(net, &wk->net, i, t, s, t * net->round_s);
            const uint8_t *msg;
            size_t len;
            const int rc = rumor_peer_step(sim->peers[i], &msg, &len);
            if (rc) {
                int none = 0; /* the first failure only */
                if (atomic_compare_exchange_strong(&net->failed, &none, rc))
                    rumor_error("peer %u's model diverged in round %u: its SGD step left "
                                "non-finite parameters " RUMOR_PEER_DIVERGED_HINT,
                                i, t);
                wk->net.failed = 1;
                continue;
            }
            rumor_simnet_send_diff(net, &wk->net, i, t, s, msg, len, t * net->round_s);
        }
        s_pass_end(wk, pass);
        s_end_phase(wk, t, s);
        if (atomic_load(&sim->dropped)) break;
        while (rumor_simnet_pending(net, s)) {
            s++;
            pass = s_pass_begin(wk);
            for (uint32_t i = wk->w; i < n; i += T)
                rumor_simnet_receive(net, &wk->net, i, t, s, !rumor_scenario_node_down(sc, i, t));
            s_pass_end(wk, pass);
            s_end_phase(wk, t, s);
        }
        pass = s_pass_begin(wk);
        for (uint32_t i = wk->w; i < n; i += T) {
            if (rumor_scenario_node_down(sc, i, t)) continue;
            rumor_simnet_close(net, &wk->net, i, t, (t + 1) * net->round_s);
            rumor_peer_finish(sim->peers[i]);
        }
        s_pass_end(wk, pass);
        const uint32_t done = t + 1;
        const int failed = s_failed_by(sim, t);
        const int stop = failed || atomic_load(&sim->sig_round) <= t;
        if (rumor_sim_eval_round(sim, done) || stop) s_evaluate(wk, done);
        /* A diverged run is not worth resuming: its last checkpoint stands. */
        if ((rumor_sim_ckpt_due(&sim->ck, done) || (stop && sim->opts->checkpoint_dir)) && !failed)
            s_checkpoint(wk, done);
        if (stop || atomic_load(&sim->ck.failed)) break;
    }
    /* A resumed run that had already finished: its final evaluation again. */
    if (sim->ck.start == sc->rounds) s_evaluate(wk, sc->rounds);
    return NULL;
}

void rumor_sim_result_write(FILE *f, const rumor_sim_result_t *r, int timing, const char *extra)
{
    fprintf(f,
            "{%s\"round\": %u, \"loss\": %.6f, \"test_loss\": %.6f, \"acc_mean\": %.6f, "
            "\"acc_min\": %.6f, \"acc_avg_model\": %.6f, \"consensus_dist\": %.6e, "
            "\"density\": %.6f, \"bytes_sent\": %.1f, \"wire_bytes\": %.1f, "
            "\"entropy_bound_bytes\": %.1f, \"bits_per_param\": %.6f",
            extra ? extra : "", r->round, r->loss, r->test_loss, r->acc_mean, r->acc_min,
            r->acc_avg_model, r->consensus_dist, r->density, r->bytes_sent, r->wire_bytes,
            r->entropy_bound_bytes, r->bits_per_param);
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
    if (r->straggles) fprintf(f, ", \"straggled\": %" PRIu64, r->straggled);
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
    if (timing) {
        rumor_peer_write_times(f, r->time_compute_s, r->time_codec_s, r->time_comm_s,
                               r->cpu_compute_s, r->cpu_codec_s);
        fprintf(f, ", \"wall_s\": %.3f", r->wall_s);
    }
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

/* A worker thread waits at the gate until every worker exists, so that a thread that cannot be
 * started stops the others before their first barrier. */
static void *s_worker_thread(void *arg)
{
    s_sim_t *sim = ((s_worker_t *)arg)->sim;
    pthread_mutex_lock(&sim->gate_mu);
    while (!sim->gate) pthread_cond_wait(&sim->gate_cv, &sim->gate_mu);
    const int go = sim->gate > 0;
    pthread_mutex_unlock(&sim->gate_mu);
    return go ? s_worker_main(arg) : NULL;
}

/* Runs the rounds on sim->threads workers, this thread being worker 0. Returns 0, or
 * RUMOR_ENOMEM with em filled when the threads cannot be started (nothing has run then). */
static int s_run_workers(s_sim_t *sim, rumor_errmsg_t *em)
{
    pthread_t *tids = calloc(sim->threads, sizeof *tids);
    if (!tids) return rumor_errmsg_set(em, RUMOR_ENOMEM, "simulation: out of memory");
    pthread_barrier_init(&sim->barrier, NULL, sim->threads);
    pthread_mutex_init(&sim->gate_mu, NULL);
    pthread_cond_init(&sim->gate_cv, NULL);
    sim->gate = 0;
    sim->t_start = rumor_clock_now();
    uint32_t started = 1;
    int err = 0;
    while (started < sim->threads &&
           !(err = pthread_create(&tids[started], NULL, s_worker_thread, &sim->workers[started])))
        started++;
    pthread_mutex_lock(&sim->gate_mu);
    sim->gate = err ? -1 : 1;
    pthread_cond_broadcast(&sim->gate_cv);
    pthread_mutex_unlock(&sim->gate_mu);
    if (!err) s_worker_main(&sim->workers[0]);
    for (uint32_t w = 1; w < started; w++) pthread_join(tids[w], NULL);
    free(tids);
    pthread_cond_destroy(&sim->gate_cv);
    pthread_mutex_destroy(&sim->gate_mu);
    pthread_barrier_destroy(&sim->barrier);
    if (err)
        return rumor_errmsg_set(em, RUMOR_ENOMEM,
                                "simulation: cannot start worker thread %u of %u: %s", started + 1,
                                sim->threads, strerror(err));
    return 0;
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
    rumor_peer_blas_one_thread();
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    sim.threads = opts->threads ? opts->threads : (uint32_t)(cores > 0 ? cores : 1);
    if (sim.threads > sim.n) sim.threads = sim.n;
    const int clocked = rumor_scenario_clocked(sc);
    if (clocked) sim.threads = 1; /* events in the order of one virtual clock */
    if (clocked && opts->checkpoint_dir) {
        rumor_peer_data_free(&data);
        rumor_topology_destroy(&topo);
        return rumor_errmsg_set(em, RUMOR_EINVAL,
                                "%s: --checkpoint: not with per-peer clocks (a SLOW fault or "
                                "round_mode.compute_ms), where the peers are in different rounds",
                                sc->origin);
    }

    sim.peers = calloc(sim.n, sizeof *sim.peers);
    sim.acc = calloc(sim.n, sizeof *sim.acc);
    sim.test_loss = calloc(sim.n, sizeof *sim.test_loss);
    sim.workers = calloc(sim.threads, sizeof *sim.workers);
    sim.edge0 = calloc(sim.n + 1, sizeof *sim.edge0);
    sim.smp = calloc(sim.n, sizeof *sim.smp);
    sim.x = calloc(sim.n, sizeof *sim.x);
    sim.mark = calloc(2 * (size_t)sim.n, sizeof *sim.mark);
    /* a worker's peers step one at a time: one batch of rows each worker, warm in its cache */
    const size_t batch_rows = (size_t)sc->batch * data.train.dim;
    sim.rows = malloc(((size_t)sim.threads * batch_rows + 1) * sizeof *sim.rows);
    sim.codecs = calloc(sim.threads, sizeof *sim.codecs);
    sim.outs = calloc(sim.threads, sizeof *sim.outs);
    if (!sim.peers || !sim.acc || !sim.test_loss || !sim.workers || !sim.edge0 || !sim.smp ||
        !sim.x || !sim.mark || !sim.rows || !sim.codecs || !sim.outs) {
        rc = rumor_errmsg_set(em, RUMOR_ENOMEM, "simulation: out of memory");
        goto done;
    }
    for (uint32_t i = 0; i < sim.n; i++)
        sim.edge0[i + 1] = sim.edge0[i] + rumor_topology_degree(topo, i);
    /* The model of the average first: its size is the peers', for the codecs they share. */
    rumor_model_spec_t spec;
    if ((rc = rumor_model_spec_parse(sc->model, data.train.dim, data.train.classes, &spec, em)))
        goto done;
    if ((rc = rumor_model_create(&spec, RUMOR_PEER_EVAL_ROWS, &sim.avg_model))) {
        rumor_errmsg_set(em, rc, "simulation: the model of the average: %s", rumor_strerror(rc));
        goto done;
    }
    sim.d = rumor_model_nparams(sim.avg_model);
    if (!(sim.grads = malloc(((size_t)sim.threads * sim.d + 1) * sizeof *sim.grads))) {
        rc = rumor_errmsg_set(em, RUMOR_ENOMEM, "simulation: out of memory");
        goto done;
    }
    /* a codec's buffers are scratch between calls, and so are a step's gradient and the message
     * it produces once encoded: one of each a worker, warm in its cache */
    for (uint32_t w = 0; w < sim.threads; w++) {
        if ((rc = rumor_codec_create((uint32_t)sim.d, &sim.codecs[w]))) {
            rumor_errmsg_set(em, rc, "simulation: a codec: %s", rumor_strerror(rc));
            goto done;
        }
        if (rumor_cmsg_init(&sim.outs[w], (uint32_t)sim.d)) {
            rc = rumor_errmsg_set(em, RUMOR_ENOMEM, "simulation: out of memory");
            goto done;
        }
    }
    for (uint32_t i = 0; i < sim.n; i++) {
        rumor_peer_cfg_t pc = rumor_peer_data_cfg(&data, sc, topo, i, RUMOR_PEER_EVAL_ROWS);
        pc.rows = sim.rows + (size_t)(i % sim.threads) * batch_rows;
        pc.codec = sim.codecs[i % sim.threads];
        pc.out = &sim.outs[i % sim.threads];
        pc.grad = sim.grads + (size_t)(i % sim.threads) * sim.d;
        if ((rc = rumor_peer_create(&pc, &sim.peers[i], em))) goto done;
        if (!clocked) rumor_peer_set_cpu_clock(sim.peers[i], 0); /* the workers' passes read it */
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
        if ((rc = rumor_peer_create(&pc, &sim.saved[k], em))) goto done;
    }
    sim.avg = malloc(sim.d * sizeof *sim.avg);
    sim.grad_m = data.train.n < RUMOR_SIM_GRAD_ROWS ? data.train.n : RUMOR_SIM_GRAD_ROWS;
    sim.grad_idx = malloc(sim.grad_m * sizeof *sim.grad_idx);
    sim.grad_x = malloc((size_t)RUMOR_PEER_EVAL_ROWS * data.train.dim * sizeof *sim.grad_x);
    sim.grad_y = malloc(RUMOR_PEER_EVAL_ROWS * sizeof *sim.grad_y);
    sim.grad_chunk = malloc(sim.d * sizeof *sim.grad_chunk);
    sim.grad = malloc(sim.d * sizeof *sim.grad);
    if (!sim.avg || !sim.grad_idx || !sim.grad_x || !sim.grad_y || !sim.grad_chunk || !sim.grad) {
        rc = rumor_errmsg_set(em, RUMOR_ENOMEM, "simulation: out of memory");
        goto done;
    }
    for (uint32_t k = 0; k < sim.grad_m; k++)
        sim.grad_idx[k] = (uint32_t)((uint64_t)k * data.train.n / sim.grad_m);
    if ((rc = rumor_simnet_init(&sim.net, sc, topo, sim.peers, sim.edge0, em))) goto done;
    for (uint32_t w = 0; w < sim.threads; w++)
        sim.workers[w] = (s_worker_t){.sim = &sim, .w = w, .fail_round = UINT32_MAX};
    atomic_store(&sim.sig_round, UINT32_MAX);
    char desc[384];
    rumor_peer_announce(sim.peers[0], "", desc, sizeof desc);
    if (opts->progress)
        fprintf(opts->progress,
                "rumor sim: %s: %u peers (%s), %s; %u train / %u test samples, %u threads\n",
                sc->name, sim.n, topo->name, desc, data.train.n, data.test.n, sim.threads);
    sim.ck.sc = sc;
    sim.ck.opts = opts;
    sim.ck.n = sim.n;
    sim.ck.threads = sim.threads;
    sim.ck.peers = sim.peers;
    sim.ck.saved = sim.saved;
    sim.ck.net = &sim.net;
    if (opts->checkpoint_dir) {
        rumor_topology_hash(topo, sim.ck.topo_hash);
        if ((rc = rumor_sim_ckpt_resume(&sim.ck, em)) < 0) goto done;
        rc = 0;
        if (sim.ck.start == sc->rounds && opts->progress)
            fprintf(opts->progress,
                    "rumor sim: %s holds the finished run (round %u): evaluating its models "
                    "again (no training loss: no round is run)\n",
                    opts->checkpoint_dir, sim.ck.start);
        else if (sim.ck.start && opts->progress)
            fprintf(opts->progress, "rumor sim: resuming from %s at round %u\n",
                    opts->checkpoint_dir, sim.ck.start);
    }

    if ((rc = clocked ? rumor_sim_clock_run(&sim, em) : s_run_workers(&sim, em))) goto done;

    *result = sim.last;
    if (atomic_load(&sim.ck.failed))
        rc = rumor_errmsg_set(em, atomic_load(&sim.ck.failed), "checkpoint after round %u: %s",
                              sim.last.round, sim.ck.em.msg);
    else if (sim.net.failed)
        rc = rumor_errmsg_set(em, sim.net.failed,
                              sim.net.failed == RUMOR_ENONFINITE
                                  ? "a peer's model diverged"
                                  : "a peer could not decode a neighbour's message");
    else if (atomic_load(&sim.dropped))
        rc = rumor_errmsg_set(
            em, RUMOR_EINTR, "interrupted inside round %u, which is dropped%s%s%s",
            atomic_load(&sim.dropped) - 1, opts->checkpoint_dir ? " (the last checkpoint in " : "",
            opts->checkpoint_dir ? opts->checkpoint_dir : "",
            opts->checkpoint_dir ? " stands; the same command resumes)" : "");
    else if (s_stopped(&sim) && opts->checkpoint_dir)
        rc = rumor_errmsg_set(em, RUMOR_EINTR,
                              "interrupted at round %u, checkpointed in %s (the same command "
                              "resumes)",
                              sim.last.round, opts->checkpoint_dir);
    else if (s_stopped(&sim))
        rc = rumor_errmsg_set(em, RUMOR_EINTR, "interrupted at round %u", sim.last.round);
    if (opts->models_out && !sim.net.failed && !atomic_load(&sim.ck.failed) &&
        !atomic_load(&sim.dropped)) {
        const int wrc = s_write_models(&sim, opts->models_out, em);
        if (wrc) rc = wrc;
    }
done:
    rumor_simnet_free(&sim.net);
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
    free(sim.acc);
    free(sim.test_loss);
    free(sim.workers);
    free(sim.edge0);
    free(sim.smp);
    free(sim.x);
    free(sim.mark);
    free(sim.rows);
    if (sim.codecs) /* after the peers that used them */
        for (uint32_t w = 0; w < sim.threads; w++) rumor_codec_destroy(&sim.codecs[w]);
    free(sim.codecs);
    if (sim.outs)
        for (uint32_t w = 0; w < sim.threads; w++) rumor_cmsg_free(&sim.outs[w]);
    free(sim.outs);
    free(sim.grads);
    rumor_peer_data_free(&data);
    rumor_topology_destroy(&topo);
    return rc;
}
