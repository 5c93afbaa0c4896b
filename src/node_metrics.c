/* rumor — a networked peer's metrics records and progress lines (see node_internal.h): one
 * JSON object per evaluation with the peer's counters, its links' and its CPU shares. */
#include "node_internal.h"

#include "rumor/clock.h"
#include "rumor/err.h"
#include "rumor/file.h"
#include "rumor/log.h"
#include "rumor/vec.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <string.h>

static const char *const s_drop_names[RUMOR_NODE_DROP_COUNT] = {"transport", "impostor"};

/* "%.6f" of v, or null when v is not finite (a diverged model), into buf[32]. */
static const char *s_json_num(double v, char *buf)
{
    snprintf(buf, 32, isfinite(v) ? "%.6f" : "null", v);
    return buf;
}

void rumor_node_write_metrics(rumor_node_session_t *n, double loss, double test_loss, double acc,
                              const char *stop)
{
    n->recorded = rumor_peer_round(n->peer);
    rumor_peer_t *p = n->peer;
    const rumor_peer_stats_t *st = rumor_peer_stats(p);
    const uint32_t r = rumor_peer_round(p);
    const double density = (double)rumor_vec_count_nonzero(rumor_peer_params(p), n->d) / n->d;
    const double wall = rumor_clock_now() - n->t_start;
    uint64_t ldrops[RUMOR_LINK_DROP_COUNT] = {0};
    uint64_t recv = 0, resyncs = 0, late = 0, beats = 0, downs = 0;
    for (uint32_t k = 0; k < n->deg; k++) {
        const rumor_link_t *l = &n->nb[k];
        for (int j = 0; j < RUMOR_LINK_DROP_COUNT; j++) ldrops[j] += l->drops[j];
        recv += l->bytes_recv;
        resyncs += l->resyncs;
        late += l->late_applied;
        beats += l->heartbeats;
        downs += l->downs;
    }
    uint64_t dropped = 0; /* every frame dropped, for any reason */
    for (int k = 0; k < RUMOR_WIRE_DROP_COUNT; k++) dropped += n->wire_drops[k];
    for (int k = 0; k < RUMOR_NODE_DROP_COUNT; k++) dropped += n->drops[k];
    for (int k = 0; k < RUMOR_LINK_DROP_COUNT; k++) dropped += ldrops[k];
    if (n->o->progress) {
        char pace[64]; /* since training began */
        rumor_clock_pace(r - n->round0, rumor_clock_now() - n->t_train, n->sc.rounds - r, pace,
                         sizeof pace);
        fprintf(n->o->progress,
                "node %u: round %6u/%u  loss %.4f  acc %.4f  density %.3f  sent %.2f MB  "
                "drops %" PRIu64 "  %s\n",
                n->self, r, n->sc.rounds, loss, acc, density, st->bytes_sent / 1e6, dropped, pace);
    }
    if (!n->metrics) return;
    FILE *f = n->metrics;
    char nums[3][32];
    fprintf(f,
            "{\"peer\": %u, \"round\": %u, \"loss\": %s, \"test_loss\": %s, \"acc\": %s, "
            "\"density\": %.6f, \"bytes_sent\": %" PRIu64 ", \"wire_bytes\": %" PRIu64
            ", \"bytes_recv\": %" PRIu64
            ", \"entropy_bound_bytes\": %.1f, \"bits_per_param\": %.6f, \"resyncs\": %" PRIu64
            ", \"stale_rounds\": %" PRIu64 ", \"late_applied\": %" PRIu64
            ", \"heartbeats_sent\": %" PRIu64 ", \"neighbours_down\": %" PRIu64 ", \"dropped\": {",
            n->self, r, s_json_num(loss, nums[0]), s_json_num(test_loss, nums[1]),
            s_json_num(acc, nums[2]), density, st->bytes_sent, n->wire_bytes, recv,
            st->entropy_bits / 8.0, rumor_peer_bits_per_param((double)st->bytes_sent, r, n->d),
            resyncs, n->stale_rounds, late, beats, downs);
    int first = 1;
    for (int k = 1; k < RUMOR_WIRE_DROP_COUNT; k++) {
        fprintf(f, "%s\"%s\": %" PRIu64, first ? "" : ", ",
                rumor_wire_drop_name((rumor_wire_drop_t)k), n->wire_drops[k]);
        first = 0;
    }
    for (int k = 0; k < RUMOR_NODE_DROP_COUNT; k++)
        fprintf(f, ", \"%s\": %" PRIu64, s_drop_names[k], n->drops[k]);
    for (int k = 0; k < RUMOR_LINK_DROP_COUNT; k++)
        fprintf(f, ", \"%s\": %" PRIu64, rumor_link_drop_name((rumor_link_drop_t)k), ldrops[k]);
    fprintf(f, "}, \"edges\": {");
    for (uint32_t k = 0; k < n->deg; k++) { /* with what each neighbour sent that was dropped */
        const rumor_link_t *l = &n->nb[k];
        fprintf(f, "%s\"%u\": {\"sent\": %" PRIu64 ", \"recv\": %" PRIu64 ", \"dropped\": {",
                k ? ", " : "", l->cfg.id, l->bytes_sent, l->bytes_recv);
        const char *sep = "";
        for (int j = 0; j < RUMOR_LINK_DROP_COUNT; j++) {
            if (!l->drops[j]) continue;
            fprintf(f, "%s\"%s\": %" PRIu64, sep, rumor_link_drop_name((rumor_link_drop_t)j),
                    l->drops[j]);
            sep = ", ";
        }
        fprintf(f, "}}");
    }
    /* CPU of every thread since training began that was neither the peer's compute, its
     * codec nor evaluation: frame handling, polling, checkpoints, ZeroMQ's I/O and ZAP
     * threads. */
    const double cpu_other =
        rumor_clock_process_cpu() - n->cpu_start - st->cpu_compute - st->cpu_codec - n->cpu_eval;
    fputc('}', f);
    rumor_peer_write_times(f, st->t_compute, st->t_codec, st->t_wait, st->cpu_compute,
                           st->cpu_codec);
    fprintf(f, ", \"cpu_other_s\": %.3f, \"cpu_eval_s\": %.3f, \"wall_s\": %.3f", cpu_other,
            n->cpu_eval, wall);
    if (stop) {
        fprintf(f, ", \"stop\": \"");
        for (const char *c = stop; *c; c++)
            fputc(*c == '"' ? '\'' : *c == '\\' ? '/' : (unsigned char)*c < 32 ? ' ' : *c, f);
        fputc('"', f);
    }
    fprintf(f, "}\n");
    /* A full disk loses records, never the run: warn once and train on. */
    if ((fflush(f) != 0 || ferror(f)) && !n->metrics_lost) {
        n->metrics_lost = 1;
        rumor_warn("node %u: %s: metrics from round %u on could not be written (%s); training "
                   "goes on and checkpoints are unaffected",
                   n->self, n->o->metrics, r,
                   rumor_file_disk_full(errno) ? rumor_strerror(RUMOR_EDISKFULL) : strerror(errno));
    }
}
