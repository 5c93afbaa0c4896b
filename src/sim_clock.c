/* rumor — the simulator on per-peer clocks (see sim_internal.h): deadline rounds in which every
 * peer keeps its own round, as `rumor peer` processes do.
 *
 * Events on one virtual clock, in nanoseconds, run in the order of their times, and in the order
 * they were scheduled at equal times. Peer i's round k starts at T (its round k - 1 closed then):
 * its links' timers, its step (from its own state alone: what it heard is mixed at the close),
 * and a DEPART event at T + compute_ms + its SLOW faults' milliseconds. DEPART sends the DIFF,
 * hears the frames that came during the step, and closes the round at once if no neighbour's
 * DIFF of round k (or later) is awaited, else at the first ARRIVE that completes it or at the
 * DEADLINE, deadline_ms after DEPART, whichever comes first. A close hears every frame that has
 * arrived, runs the links' liveness, mixes, evaluates the peer in an evaluation round and
 * starts its next round; after its last round it says BYE and keeps hearing (answering a
 * RESYNC, as a lingering `rumor peer` does). So a peer slower than the deadline falls behind in
 * rounds and mixes its neighbours' DIFFs of later rounds, its neighbours' rounds last
 * compute_ms plus the deadline, and it finishes last.
 *
 * An evaluation record of round r is made of every peer's part at its own round r (its accuracy,
 * its counters and a copy of its model), written when the last peer reaches r. One thread; no
 * allocation per event but the heap's and the pending records' growth.
 */
#include "sim_internal.h"

#include "rumor/log.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef enum { S_DEPART, S_ARRIVE, S_DEADLINE } s_kind_t;

typedef struct {
    int64_t at; /* ns */
    uint64_t seq;
    uint32_t kind, who, round; /* who: a peer (DEPART, DEADLINE) or an edge (ARRIVE) */
} s_event_t;

/* An evaluation record being made: every peer's part at its own round `done`. */
typedef struct {
    uint32_t done, left;     /* left: peers yet to reach it (0: the slot is free) */
    rumor_sim_sample_t *smp; /* (n) */
    float *x;                /* (n, d) */
} s_pending_t;

typedef struct {
    s_sim_t *sim;
    rumor_simnet_worker_t *w;
    s_event_t *heap;
    size_t n_ev, cap_ev;
    uint64_t seq;
    int nomem;
    uint32_t *owner;      /* (edges) the peer whose link e is */
    uint8_t *state;       /* (n) S_STEPPING, S_WAITING or S_FINISHED */
    int64_t *sent;        /* (n) when the current round's DIFF left */
    const uint8_t **msg;  /* (n) the current round's message, until it leaves */
    size_t *len;          /* (n) */
    double *waited;       /* (n) ns waited over the rounds */
    uint64_t *missed;     /* (n) rounds closed at the deadline */
    int64_t *finished_at; /* (n) */
    s_pending_t *pend;
    uint32_t n_pend;
} s_clock_t;

enum { S_STEPPING = 0, S_WAITING, S_FINISHED };

static int64_t s_ns(double ms)
{
    return llround(ms * 1e6);
}

static double s_sec(int64_t ns)
{
    return (double)ns / 1e9;
}

static int s_before(const s_event_t *a, const s_event_t *b)
{
    return a->at < b->at || (a->at == b->at && a->seq < b->seq);
}

static void s_push(s_clock_t *c, int64_t at, s_kind_t kind, uint32_t who, uint32_t round)
{
    if (c->n_ev == c->cap_ev) {
        const size_t cap = 2 * c->cap_ev;
        s_event_t *h = realloc(c->heap, cap * sizeof *h);
        if (!h) {
            c->nomem = 1;
            return;
        }
        c->heap = h;
        c->cap_ev = cap;
    }
    size_t k = c->n_ev++;
    const s_event_t ev = {.at = at, .seq = c->seq++, .kind = kind, .who = who, .round = round};
    while (k && s_before(&ev, &c->heap[(k - 1) / 2])) {
        c->heap[k] = c->heap[(k - 1) / 2];
        k = (k - 1) / 2;
    }
    c->heap[k] = ev;
}

static s_event_t s_pop(s_clock_t *c)
{
    const s_event_t top = c->heap[0], last = c->heap[--c->n_ev];
    size_t k = 0;
    for (;;) {
        size_t m = 2 * k + 1;
        if (m >= c->n_ev) break;
        if (m + 1 < c->n_ev && s_before(&c->heap[m + 1], &c->heap[m])) m++;
        if (!s_before(&c->heap[m], &last)) break;
        c->heap[k] = c->heap[m];
        k = m;
    }
    if (c->n_ev) c->heap[k] = last;
    return top;
}

/* The network's note that a frame on link e arrives at `at` seconds (a whole nanosecond). */
static void s_arrive(void *ctx, uint32_t e, double at)
{
    s_clock_t *c = ctx;
    s_push(c, llround(at * 1e9), S_ARRIVE, e, 0);
}

/* Peer i hears what arrived on all its links by `now`, in ascending neighbour order. */
static void s_hear_all(s_clock_t *c, uint32_t i, int64_t now)
{
    rumor_simnet_t *net = &c->sim->net;
    const uint32_t t = rumor_peer_round(c->sim->peers[i]);
    for (uint32_t e = net->edge0[i]; e < net->edge0[i + 1]; e++)
        rumor_simnet_hear(net, c->w, i, e, t, s_sec(now));
}

/* Peer i's part of the record of round done (its evaluation just made); the record is written
 * when it is the last peer's. */
static void s_pend(s_clock_t *c, uint32_t i, uint32_t done)
{
    s_sim_t *sim = c->sim;
    const size_t d = sim->d;
    uint32_t k = 0;
    while (k < c->n_pend && !(c->pend[k].left && c->pend[k].done == done)) k++;
    if (k == c->n_pend) { /* the first peer there: a free slot, or a new one */
        k = 0;
        while (k < c->n_pend && c->pend[k].left) k++;
        if (k == c->n_pend) {
            s_pending_t *p = realloc(c->pend, (c->n_pend + 1) * sizeof *p);
            if (!p) {
                c->nomem = 1;
                return;
            }
            c->pend = p;
            p[k] = (s_pending_t){.smp = malloc(sim->n * sizeof *p[k].smp),
                                 .x = malloc(sim->n * d * sizeof *p[k].x)};
            c->n_pend++;
            if (!p[k].smp || !p[k].x) {
                c->nomem = 1;
                return;
            }
        }
        c->pend[k].done = done;
        c->pend[k].left = sim->n;
    }
    s_pending_t *p = &c->pend[k];
    rumor_peer_evaluate(sim->peers[i], &sim->data->test, sim->sc->eval_samples, &sim->test_loss[i],
                        &sim->acc[i]);
    rumor_sim_sample(sim, i, &p->smp[i]);
    memcpy(p->x + i * d, rumor_peer_params(sim->peers[i]), d * sizeof *p->x);
    if (--p->left) return;
    for (uint32_t j = 0; j < sim->n; j++) sim->x[j] = p->x + j * d;
    rumor_sim_record(sim, done, p->smp, sim->x);
}

/* Peer i starts its next round at `now`: timers, step, and the DIFF's departure scheduled. */
static void s_start(s_clock_t *c, uint32_t i, int64_t now)
{
    s_sim_t *sim = c->sim;
    const rumor_scenario_t *sc = sim->sc;
    rumor_peer_t *p = sim->peers[i];
    const uint32_t t = rumor_peer_round(p);
    c->state[i] = S_STEPPING;
    /* the compression error is a statistic of evaluations only */
    rumor_gossip_set_measure(rumor_peer_gossip(p), rumor_sim_eval_round(sim, t + 1));
    rumor_simnet_tick(&sim->net, c->w, i, t, 0, s_sec(now));
    const int rc = rumor_peer_step(p, &c->msg[i], &c->len[i]);
    if (rc) {
        int none = 0; /* the first failure only */
        if (atomic_compare_exchange_strong(&sim->net.failed, &none, rc))
            rumor_error("peer %u's model diverged in round %u: its SGD step left non-finite "
                        "parameters " RUMOR_PEER_DIVERGED_HINT,
                        i, t);
        return;
    }
    s_push(c, now + s_ns(sc->compute_ms + rumor_scenario_slow_ms(sc, i, t)), S_DEPART, i, t);
}

/* Peer i's round closes at `now`: what came by then, liveness, the mix; then its next round,
 * or its BYE after the last. */
static void s_close(s_clock_t *c, uint32_t i, int64_t now)
{
    s_sim_t *sim = c->sim;
    rumor_peer_t *p = sim->peers[i];
    const uint32_t t = rumor_peer_round(p);
    s_hear_all(c, i, now);
    c->waited[i] += (double)(now - c->sent[i]);
    rumor_simnet_close(&sim->net, c->w, i, t, s_sec(now));
    rumor_peer_finish(p);
    const uint32_t done = t + 1;
    if (rumor_sim_eval_round(sim, done)) s_pend(c, i, done);
    if (done < sim->sc->rounds) {
        s_start(c, i, now);
        return;
    }
    c->state[i] = S_FINISHED;
    c->finished_at[i] = now;
    rumor_simnet_say_done(&sim->net, c->w, i, done, s_sec(now));
}

static void s_event(s_clock_t *c, const s_event_t *ev)
{
    s_sim_t *sim = c->sim;
    rumor_simnet_t *net = &sim->net;
    if (ev->kind == S_DEPART) {
        const uint32_t i = ev->who;
        rumor_simnet_send_diff(net, c->w, i, ev->round, 0, c->msg[i], c->len[i], s_sec(ev->at));
        c->state[i] = S_WAITING;
        c->sent[i] = ev->at;
        s_hear_all(c, i, ev->at);
        if (!rumor_simnet_awaited(net, i, ev->round))
            s_close(c, i, ev->at);
        else
            s_push(c, ev->at + s_ns(sim->sc->deadline_ms), S_DEADLINE, i, ev->round);
    } else if (ev->kind == S_DEADLINE) {
        const uint32_t i = ev->who;
        if (c->state[i] != S_WAITING || rumor_peer_round(sim->peers[i]) != ev->round) return;
        c->missed[i]++;
        s_close(c, i, ev->at);
    } else {
        const uint32_t i = c->owner[ev->who];
        if (c->state[i] == S_STEPPING) return; /* heard when its DIFF leaves */
        const uint32_t t = rumor_peer_round(sim->peers[i]);
        rumor_simnet_hear(net, c->w, i, ev->who, t, s_sec(ev->at));
        if (c->state[i] == S_WAITING && !rumor_simnet_awaited(net, i, t)) s_close(c, i, ev->at);
    }
}

/* A progress line: how long the peers' rounds lasted and waited on the virtual clock. */
static void s_summary(const s_clock_t *c)
{
    const s_sim_t *sim = c->sim;
    FILE *f = sim->opts->progress;
    const uint32_t rounds = sim->sc->rounds;
    if (!f || !rounds) return;
    double lo = INFINITY, hi = 0, wlo = INFINITY, whi = 0, last = 0;
    uint64_t missed = 0;
    for (uint32_t i = 0; i < sim->n; i++) {
        const double r = (double)c->finished_at[i] / 1e6 / rounds, w = c->waited[i] / 1e6 / rounds;
        lo = fmin(lo, r);
        hi = fmax(hi, r);
        wlo = fmin(wlo, w);
        whi = fmax(whi, w);
        last = fmax(last, (double)c->finished_at[i] / 1e9);
        missed += c->missed[i];
    }
    fprintf(f,
            "rumor sim: per-peer clocks: rounds of %.1f to %.1f ms (a peer's mean), waits of %.1f "
            "to %.1f ms a round, %.1f%% of the rounds closed at the deadline, the last peer done "
            "at %.2f s\n",
            lo, hi, wlo, whi, 100.0 * (double)missed / ((double)rounds * sim->n), last);
}

int rumor_sim_clock_run(s_sim_t *sim, rumor_errmsg_t *em)
{
    const uint32_t n = sim->n, edges = sim->net.edge0[n];
    s_clock_t c = {.sim = sim, .w = &sim->workers[0].net};
    c.cap_ev = 4 * (size_t)edges + 2 * n + 16;
    c.heap = malloc(c.cap_ev * sizeof *c.heap);
    c.owner = malloc((edges ? edges : 1) * sizeof *c.owner);
    c.state = calloc(n, sizeof *c.state);
    c.sent = calloc(n, sizeof *c.sent);
    c.msg = calloc(n, sizeof *c.msg);
    c.len = calloc(n, sizeof *c.len);
    c.waited = calloc(n, sizeof *c.waited);
    c.missed = calloc(n, sizeof *c.missed);
    c.finished_at = calloc(n, sizeof *c.finished_at);
    int rc = 0;
    if (!c.heap || !c.owner || !c.state || !c.sent || !c.msg || !c.len || !c.waited || !c.missed ||
        !c.finished_at) {
        rc = rumor_errmsg_set(em, RUMOR_ENOMEM, "simulation: out of memory");
        goto done;
    }
    for (uint32_t i = 0; i < n; i++)
        for (uint32_t e = sim->net.edge0[i]; e < sim->net.edge0[i + 1]; e++) c.owner[e] = i;
    sim->net.arrive = s_arrive;
    sim->net.arrive_ctx = &c;
    sim->t_start = rumor_clock_now();
    if (!sim->sc->rounds) { /* the initial models' record */
        for (uint32_t i = 0; i < n; i++) s_pend(&c, i, 0);
    }
    for (uint32_t i = 0; i < n && sim->sc->rounds; i++) s_start(&c, i, 0);
    while (c.n_ev && !c.nomem && !atomic_load(&sim->net.failed) &&
           !(sim->opts->stop && *sim->opts->stop)) {
        const s_event_t ev = s_pop(&c);
        s_event(&c, &ev);
    }
    if (c.nomem)
        rc = rumor_errmsg_set(em, RUMOR_ENOMEM, "simulation: out of memory");
    else if (!c.n_ev)
        s_summary(&c);
done:
    for (uint32_t k = 0; k < c.n_pend; k++) {
        free(c.pend[k].smp);
        free(c.pend[k].x);
    }
    free(c.pend);
    free(c.heap);
    free(c.owner);
    free(c.state);
    free(c.sent);
    free(c.msg);
    free(c.len);
    free(c.waited);
    free(c.missed);
    free(c.finished_at);
    return rc;
}
