/* rumor — the simulator's checkpoints (see sim_internal.h). */
#include "sim_internal.h"

#include "rumor/checkpoint.h"
#include "rumor/file.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---- checkpoints --------------------------------------------------------------------------
 * DIR/sim.json names the last complete checkpoint: its round, its slot (DIR/a or DIR/b, used
 * in turn, each holding every peer's rumor_checkpoint file, and fault<k>.safetensors for a
 * CRASH fault k whose peer is still to restart, and links.bin, the state of every peer's links
 * as rumor_link_export words in this machine's byte order) and the simulator's own state
 * (messages lost). It is replaced atomically once the slot is complete, so a crash while a
 * checkpoint is written leaves the previous one whole. Frames in flight at a round's end (only
 * DELAY faults leave any) are not kept, nor the per-edge frame counts that DELAY faults draw
 * from: a resume that would need them is refused (s_delay_in_reach) rather than run inexactly. */

#define S_STATE_FORMAT "rumor-sim-checkpoint-2"

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

static void s_ckpt_fail(rumor_sim_ckpt_t *ck, int rc, const rumor_errmsg_t *em)
{
    int none = 0;
    if (atomic_compare_exchange_strong(&ck->failed, &none, rc)) ck->em = *em;
}

/* Worker 0, with every peer's file of the slot written: DIR/sim.json for round done. */
static int s_write_state(const rumor_sim_ckpt_t *ck, uint32_t done, rumor_errmsg_t *em)
{
    const char *dir = ck->opts->checkpoint_dir;
    char path[RUMOR_PATH_MAX], cfg[65];
    if (s_state_path(path, sizeof path, dir))
        return rumor_errmsg_set(em, RUMOR_EINVAL, "%s: path too long", dir);
    sodium_bin2hex(cfg, sizeof cfg, ck->sc->hash, sizeof ck->sc->hash);
    json_t *lost = json_array();
    if (!lost) return rumor_errmsg_set(em, RUMOR_ENOMEM, "%s: out of memory", path);
    int bad = 0;
    for (uint32_t i = 0; !bad && i < ck->n; i++)
        bad = json_array_append_new(lost, json_integer((json_int_t)ck->net->lost[i]));
    if (bad) json_decref(lost);
    json_t *j = bad ? NULL
                    : json_pack("{s:s, s:I, s:s, s:I, s:s, s:o}", "format", S_STATE_FORMAT, "round",
                                (json_int_t)done, "slot", ck->slot ? "b" : "a", "peers",
                                (json_int_t)ck->n, "config_hash", cfg, "messages_lost", lost);
    /* The target reached so far, which a resumed run cannot see again; kept with its target. */
    if (j && ck->target_round &&
        json_object_set_new(j, "target",
                            json_pack("{s:f, s:I, s:f}", "acc", ck->sc->target_acc, "round",
                                      (json_int_t)ck->target_round, "bytes", ck->target_bytes))) {
        json_decref(j);
        j = NULL;
    }
    char *text = NULL;
    size_t len = 0;
    int rc = rumor_file_json(j, JSON_COMPACT, path, &text, &len, em);
    json_decref(j);
    if (rc) return rc;
    const rumor_file_piece_t piece = {text, len};
    rc = rumor_file_save(path, 0644, 0, &piece, 1, em);
    free(text);
    return rc;
}

/* DIR/a|b/links.bin: the links' state. */
static int s_links_path(char *buf, size_t cap, const char *dir, int slot)
{
    char sd[RUMOR_PATH_MAX];
    if (s_slot_dir(sd, sizeof sd, dir, slot)) return RUMOR_ENOSPC;
    const int n = snprintf(buf, cap, "%s/links.bin", sd);
    return n < 0 || (size_t)n >= cap ? RUMOR_ENOSPC : 0;
}

/* Worker 0, between barriers: the links' state into the slot being written. */
static int s_write_links(const rumor_sim_ckpt_t *ck, rumor_errmsg_t *em)
{
    const char *dir = ck->opts->checkpoint_dir;
    char path[RUMOR_PATH_MAX + 64];
    if (s_links_path(path, sizeof path, dir, ck->slot))
        return rumor_errmsg_set(em, RUMOR_EINVAL, "%s: path too long", dir);
    const size_t bytes = (size_t)ck->net->edge0[ck->n] * RUMOR_LINK_WORDS * sizeof(uint64_t);
    uint64_t *w = malloc(bytes ? bytes : 1);
    if (!w) return rumor_errmsg_set(em, RUMOR_ENOMEM, "%s: out of memory", path);
    rumor_simnet_export(ck->net, w);
    const rumor_file_piece_t piece = {w, bytes};
    const int rc = rumor_file_save(path, 0644, 0, &piece, 1, em);
    free(w);
    return rc;
}

/* Reads the links' state of a slot into the simulator's links. */
static int s_read_links(rumor_sim_ckpt_t *ck, const char *dir, int slot, rumor_errmsg_t *em)
{
    char path[RUMOR_PATH_MAX + 64];
    if (s_links_path(path, sizeof path, dir, slot))
        return rumor_errmsg_set(em, RUMOR_EINVAL, "%s: path too long", dir);
    const size_t bytes = (size_t)ck->net->edge0[ck->n] * RUMOR_LINK_WORDS * sizeof(uint64_t);
    char *text;
    size_t len;
    int rc = rumor_file_read(path, bytes + 1, &text, &len, em);
    if (rc) return rc;
    if (len != bytes)
        rc = rumor_errmsg_set(em, RUMOR_EFORMAT, "%s: %zu bytes, expected %zu", path, len, bytes);
    else if (rumor_simnet_import(ck->net, (const uint64_t *)(void *)text))
        rc = rumor_errmsg_set(em, RUMOR_EFORMAT, "%s: malformed link state", path);
    free(text);
    return rc;
}

/* Saves p to path, whose construction returned path_rc; a failure goes to s_ckpt_fail. */
static void s_save(rumor_sim_ckpt_t *ck, int path_rc, const char *path, rumor_peer_t *p)
{
    rumor_errmsg_t em = {""};
    int rc = path_rc;
    if (rc) rumor_errmsg_set(&em, rc, "%s: path too long", ck->opts->checkpoint_dir);
    if (rc || (rc = rumor_checkpoint_save(path, p, ck->topo_hash, &em))) s_ckpt_fail(ck, rc, &em);
}

void rumor_sim_ckpt_save_peers(rumor_sim_ckpt_t *ck, uint32_t w, uint32_t done)
{
    const char *dir = ck->opts->checkpoint_dir;
    char path[RUMOR_PATH_MAX + 64];
    for (uint32_t i = w; i < ck->n; i += ck->threads)
        s_save(ck, s_peer_ckpt_path(path, sizeof path, dir, ck->slot, i), path, ck->peers[i]);
    for (uint32_t k = w; k < ck->sc->n_faults; k += ck->threads)
        if (s_saved_pending(&ck->sc->faults[k], done))
            s_save(ck, s_saved_ckpt_path(path, sizeof path, dir, ck->slot, k), path, ck->saved[k]);
}

void rumor_sim_ckpt_commit(rumor_sim_ckpt_t *ck, uint32_t done)
{
    if (atomic_load(&ck->failed)) return;
    rumor_errmsg_t em = {""};
    int rc;
    if ((rc = s_write_links(ck, &em)) || (rc = s_write_state(ck, done, &em)))
        s_ckpt_fail(ck, rc, &em);
    else
        ck->slot ^= 1;
}

/* The DELAY fault of sc whose frames a resume from round `round` would need (frames in flight
 * at the checkpoint, or frame counts its draws depend on), or -1 when there is none. A frame
 * sent in round r arrives by round r + delay (by rounds), or within ceil(hi / round) + 1
 * rounds (milliseconds). A checkpoint of round 0, or of the finished run, needs none. (Runs on
 * per-peer clocks, SLOW faults' among them, take no checkpoints.) */
static int s_delay_in_reach(const rumor_scenario_t *sc, uint32_t round)
{
    if (round == 0 || round >= sc->rounds) return -1;
    const double round_ms = sc->deadline ? sc->deadline_ms : 1000.0;
    for (uint32_t k = 0; k < sc->n_faults; k++) {
        const rumor_fault_t *f = &sc->faults[k];
        if (f->kind != RUMOR_FAULT_DELAY) continue;
        const double reach = f->delay ? f->delay : ceil(f->delay_hi / round_ms) + 1.0;
        if (f->to + reach > round) return (int)k;
    }
    return -1;
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
    const int delay = s_delay_in_reach(sc, *round);
    if (delay >= 0) {
        json_decref(j);
        return rumor_errmsg_set(em, RUMOR_EINVAL,
                                "%s: cannot resume at round %u: faults[%d] (a DELAY) has frames "
                                "in flight across it, which checkpoints do not keep, so the run "
                                "would not be bit-exact; remove the directory to start over",
                                dir, *round, delay);
    }
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
static int s_round_fits(const rumor_sim_ckpt_t *ck, uint32_t i, uint32_t r, uint32_t round)
{
    return r == round || (r < round && rumor_scenario_node_down(ck->sc, i, r) &&
                          rumor_scenario_node_down(ck->sc, i, round - 1));
}

/* Before the workers start: the directory and its slots exist, and a checkpoint there, if
 * any, is loaded into every peer and the simulator (ck->start). */
int rumor_sim_ckpt_resume(rumor_sim_ckpt_t *ck, rumor_errmsg_t *em)
{
    const char *dir = ck->opts->checkpoint_dir;
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
    rc = s_read_state(dir, ck->sc, &j, &round, em);
    if (rc <= 0) return rc;
    const char *slot = json_string_value(json_object_get(j, "slot"));
    json_t *lost = json_object_get(j, "messages_lost");
    rc = 0;
    if (json_integer_value(json_object_get(j, "peers")) != (json_int_t)ck->n || !slot ||
        (strcmp(slot, "a") && strcmp(slot, "b")) || json_array_size(lost) != ck->n ||
        round > ck->sc->rounds)
        rc = rumor_errmsg_set(em, RUMOR_EFORMAT, "%s/sim.json: malformed checkpoint state", dir);
    json_t *target = json_object_get(j, "target");
    json_t *target_round = json_object_get(target, "round");
    if (!rc && target &&
        (!json_is_number(json_object_get(target, "acc")) || !json_is_integer(target_round) ||
         json_integer_value(target_round) < 1 || json_integer_value(target_round) > round ||
         !json_is_number(json_object_get(target, "bytes"))))
        rc = rumor_errmsg_set(em, RUMOR_EFORMAT, "%s/sim.json: malformed target", dir);
    if (!rc && target && json_number_value(json_object_get(target, "acc")) == ck->sc->target_acc) {
        ck->target_round = (uint32_t)json_integer_value(target_round);
        ck->target_bytes = json_number_value(json_object_get(target, "bytes"));
    }
    for (uint32_t i = 0; i < ck->n && !rc; i++) {
        json_t *v = json_array_get(lost, i);
        if (!json_is_integer(v) || json_integer_value(v) < 0)
            rc = rumor_errmsg_set(em, RUMOR_EFORMAT, "%s/sim.json: messages_lost[%u]", dir, i);
        else
            ck->net->lost[i] = (uint64_t)json_integer_value(v);
    }
    for (uint32_t i = 0; i < ck->n && !rc; i++) {
        char path[RUMOR_PATH_MAX + 64];
        if (s_peer_ckpt_path(path, sizeof path, dir, slot[0] == 'b', i))
            rc = rumor_errmsg_set(em, RUMOR_EINVAL, "%s: path too long", dir);
        else if (!(rc = rumor_checkpoint_load(path, ck->peers[i], ck->topo_hash, em)) &&
                 !s_round_fits(ck, i, rumor_peer_round(ck->peers[i]), round))
            rc = rumor_errmsg_set(em, RUMOR_EFORMAT, "%s: round %u, but sim.json says %u", path,
                                  rumor_peer_round(ck->peers[i]), round);
    }
    for (uint32_t k = 0; k < ck->sc->n_faults && !rc; k++) {
        if (!s_saved_pending(&ck->sc->faults[k], round)) continue;
        char path[RUMOR_PATH_MAX + 64];
        if (s_saved_ckpt_path(path, sizeof path, dir, slot[0] == 'b', k))
            rc = rumor_errmsg_set(em, RUMOR_EINVAL, "%s: path too long", dir);
        else
            rc = rumor_checkpoint_load(path, ck->saved[k], ck->topo_hash, em);
    }
    if (!rc) rc = s_read_links(ck, dir, slot[0] == 'b', em);
    if (!rc) {
        ck->start = round;
        ck->slot = slot[0] == 'a'; /* the other slot is written next */
    }
    json_decref(j);
    return rc;
}

int rumor_sim_ckpt_due(const rumor_sim_ckpt_t *ck, uint32_t done)
{
    const uint32_t k =
        ck->opts->checkpoint_every ? ck->opts->checkpoint_every : RUMOR_CHECKPOINT_EVERY;
    return ck->opts->checkpoint_dir && (done % k == 0 || done == ck->sc->rounds);
}
