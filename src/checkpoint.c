/* rumor — peer checkpoints in the safetensors layout (see checkpoint.h).
 *
 * Written every K rounds and at shutdown: (degree + 5) d floats per file at most, a few MB,
 * so allocating here is fine.
 */
#include "rumor/checkpoint.h"
#include "rumor/bytes.h"
#include "rumor/file.h"
#include "rumor/sampler.h"
#include "rumor/gossip.h"
#include "rumor/model.h"
#include "rumor/robust.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "checkpoints store float32 little-endian; add byte swapping for this target"
#endif

#define S_FORMAT     "rumor-checkpoint-1"
#define S_MAX_HEADER (64u << 20)
/* model, copies, momentum, extra, the robust rule's 9, byzantine.public */
#define S_MAX_TENSORS (2 * RUMOR_MODEL_MAX_HIDDEN + 2 + 13 + 4096)

/* The element types: float32 for the model and every vector, float64 for the robust rule's
 * running means and cut fractions (exact, NaN kept), uint64 for its counts. */
typedef enum { S_F32 = 0, S_F64, S_U64 } s_dtype_t;
static const char *const s_dtype_name[] = {"F32", "F64", "U64"};
static const size_t s_dtype_size[] = {4, 8, 8};

typedef struct {
    char name[40];
    uint32_t ndim, shape[4];
    void *data; /* inside the peer */
    size_t count;
    s_dtype_t dtype;
    /* F64: the values accepted on load, lo to hi and finite, or NaN when nan_ok (an F32 tensor
     * must be finite; U64 takes any value) */
    double lo, hi;
    int nan_ok;
    /* absent from checkpoints written before it was kept: then left as it is, or, when
     * fallback is not NULL, a copy of fallback's data */
    int optional;
    const float *fallback;
    int absent; /* on load: not in the file */
} s_tensor_t;

static size_t s_bytes(const s_tensor_t *t)
{
    return t->count * s_dtype_size[t->dtype];
}

/* The room t takes where a load stages it: its bytes rounded up to 8, so that every tensor
 * starts aligned for its values. */
static size_t s_staged(const s_tensor_t *t)
{
    return (s_bytes(t) + 7) & ~(size_t)7;
}

/* The tensors of model m whose parameters are x, in file order; returns their count. out
 * has room for 2 * RUMOR_MODEL_MAX_HIDDEN + 2. */
static size_t s_model_tensors(const rumor_model_t *m, float *x, s_tensor_t *out)
{
    const size_t nt = rumor_model_tensors(m, NULL, 0);
    rumor_tensor_info_t info[2 * RUMOR_MODEL_MAX_HIDDEN + 2];
    RUMOR_ASSERT(nt <= sizeof info / sizeof *info);
    rumor_model_tensors(m, info, nt);
    for (size_t i = 0; i < nt; i++) {
        out[i] = (s_tensor_t){.data = x + info[i].offset, .count = info[i].count}; /* float32 */
        _Static_assert(sizeof out[i].name >= sizeof info[i].name, "tensor name size");
        memcpy(out[i].name, info[i].name, sizeof info[i].name);
        out[i].ndim = info[i].ndim;
        _Static_assert(sizeof out[i].shape == sizeof info[i].shape, "tensor shape size");
        memcpy(out[i].shape, info[i].shape, sizeof out[i].shape);
    }
    return nt;
}

/* A tensor of `rows` rows of d floats at data: shape (d) for one row, else (rows, d). */
static s_tensor_t s_rows(uint32_t rows, size_t d, float *data)
{
    return rows == 1
               ? (s_tensor_t){.ndim = 1, .shape = {(uint32_t)d}, .count = d, .data = data}
               : (s_tensor_t){
                     .ndim = 2, .shape = {rows, (uint32_t)d}, .count = rows * d, .data = data};
}

/* The robust rule's state r as tensors of one value per neighbour slot, into out: its counts
 * "robust.mixed" and "robust.clipped", "robust.cut", with "+shift" "robust.shift", with
 * "+origin" "robust.origin" and with "+jump" "robust.seen", "robust.jumped", "robust.fast" and
 * "robust.slow" (see rumor_robust_state). Returns their count. */
static size_t s_robust_tensors(rumor_robust_t *r, s_tensor_t *out)
{
    const rumor_robust_state_t st = rumor_robust_state(r);
    const s_tensor_t row = {.ndim = 1, .shape = {st.deg}, .count = st.deg, .optional = 1};
    /* the running means are NaN for a slot that has not been mixed yet */
    const struct {
        const char *name;
        void *data; /* NULL: not kept by this rule */
        s_dtype_t dtype;
        double lo, hi;
        int nan_ok;
    } t[] = {
        {"robust.mixed", st.mixed, S_U64, 0.0, 0.0, 0},
        {"robust.clipped", st.clipped, S_U64, 0.0, 0.0, 0},
        {"robust.cut", st.cut, S_F64, 0.0, INFINITY, 0},
        {"robust.seen", st.seen, S_U64, 0.0, 0.0, 0},
        {"robust.jumped", st.jumped, S_U64, 0.0, 0.0, 0},
        {"robust.shift", st.shift, S_F64, -1.0, 1.0, 1}, /* cosines */
        {"robust.origin", st.origin, S_F64, -1.0, 1.0, 1},
        {"robust.fast", st.fast, S_F64, 0.0, INFINITY, 1}, /* distances over the radius */
        {"robust.slow", st.slow, S_F64, 0.0, INFINITY, 1},
    };
    size_t n = 0;
    for (size_t k = 0; k < sizeof t / sizeof *t; k++) {
        if (!t[k].data) continue;
        out[n] = row;
        out[n].dtype = t[k].dtype;
        out[n].data = t[k].data;
        out[n].lo = t[k].lo;
        out[n].hi = t[k].hi;
        out[n].nan_ok = t[k].nan_ok;
        snprintf(out[n++].name, sizeof out->name, "%s", t[k].name);
    }
    return n;
}

/* The tensors of p in file order: the robust rule's state if any (first, so that its 8-byte
 * values sit 8-byte aligned), model tensors, own public copy, neighbours' copies (BEER: rows
 * model and tracker), the momentum buffer, the gossip's extra state (DCD, DeepSqueeze, BEER)
 * if any and an ALIE peer's view of its public copy. Returns the count, or 0 if there are
 * more than cap. */
static size_t s_tensors(rumor_peer_t *p, s_tensor_t *out, size_t cap)
{
    rumor_model_t *m = rumor_peer_model(p);
    const rumor_topology_t *t = rumor_peer_topology(p);
    const uint32_t self = rumor_peer_id(p), deg = rumor_topology_degree(t, self);
    const uint32_t *nb = rumor_topology_neighbors(t, self);
    float *mom = rumor_peer_momentum(p);
    if (rumor_model_tensors(m, NULL, 0) + 9 + deg > cap) return 0;
    rumor_gossip_t *g = rumor_peer_gossip(p);
    rumor_robust_t *r = rumor_gossip_robust(g);
    size_t n = r ? s_robust_tensors(r, out) : 0;
    n += s_model_tensors(m, rumor_peer_params_mut(p), out + n);
    const size_t d = rumor_peer_dim(p);
    for (uint32_t s = 0; s <= deg; s++, n++) {
        const uint32_t id = s == 0 ? self : nb[s - 1];
        out[n] = s_rows(rumor_gossip_public_dim(g) / (uint32_t)d, d, rumor_gossip_copy_mut(g, id));
        if (s == 0)
            snprintf(out[n].name, sizeof out[n].name, "gossip.self");
        else
            snprintf(out[n].name, sizeof out[n].name, "gossip.node%u", id);
    }
    if (mom) {
        out[n] = (s_tensor_t){.ndim = 1, .shape = {(uint32_t)d}, .count = d, .data = mom};
        snprintf(out[n].name, sizeof out[n].name, "optim.momentum");
        n++;
    }
    const char *extra_name;
    float *extra = rumor_gossip_extra(g, &extra_name);
    if (extra) {
        out[n] = s_rows(rumor_gossip_extra_rows(g), d, extra);
        snprintf(out[n].name, sizeof out[n].name, "gossip.%s", extra_name);
        n++;
    }
    float *byz = rumor_peer_byzantine_public(p);
    if (byz) { /* absent: taken to be its own public copy, as it is until the attack starts */
        out[n] = (s_tensor_t){.ndim = 1,
                              .shape = {(uint32_t)d},
                              .count = d,
                              .data = byz,
                              .optional = 1,
                              .fallback = rumor_gossip_copy(g, self)};
        snprintf(out[n].name, sizeof out[n].name, "byzantine.public");
        n++;
    }
    return n;
}

/* The safetensors header of the n tensors ts of p, or NULL when out of memory. */
static json_t *s_header(rumor_peer_t *p, const s_tensor_t *ts, size_t n,
                        const uint8_t topo_hash[32])
{
    json_t *h = json_object();
    if (!h) return NULL;
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *shape = json_array();
        int bad = !shape;
        for (uint32_t k = 0; !bad && k < ts[i].ndim; k++)
            bad = json_array_append_new(shape, json_integer((json_int_t)ts[i].shape[k]));
        if (bad) json_decref(shape);
        const size_t bytes = s_bytes(&ts[i]);
        if (bad ||
            json_object_set_new(h, ts[i].name,
                                json_pack("{s:s, s:o, s:[II]}", "dtype", s_dtype_name[ts[i].dtype],
                                          "shape", shape, "data_offsets", (json_int_t)off,
                                          (json_int_t)(off + bytes)))) {
            json_decref(h);
            return NULL;
        }
        off += bytes;
    }
    const rumor_scenario_t *sc = rumor_peer_scenario(p);
    const rumor_peer_stats_t *st = rumor_peer_stats(p);
    uint64_t epoch;
    uint32_t offset;
    rumor_sampler_get_pos(rumor_peer_sampler(p), &epoch, &offset);
    char cfg[65], topo[65], model[128], v[8][32];
    sodium_bin2hex(cfg, sizeof cfg, sc->hash, sizeof sc->hash);
    sodium_bin2hex(topo, sizeof topo, topo_hash, 32);
    rumor_model_spec_describe(rumor_model_spec(rumor_peer_model(p)), model, sizeof model);
    snprintf(v[0], 32, "%u", rumor_peer_id(p));
    snprintf(v[1], 32, "%u", rumor_peer_round(p));
    snprintf(v[2], 32, "%" PRIu64, epoch);
    snprintf(v[3], 32, "%u", offset);
    snprintf(v[4], 32, "%" PRIu64, st->bytes_sent);
    snprintf(v[5], 32, "%" PRIu64, st->bytes_recv);
    snprintf(v[6], 32, "%" PRIu64, st->msgs_sent);
    snprintf(v[7], 32, "%.17g", st->entropy_bits);
    if (json_object_set_new(
            h, "__metadata__",
            json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "format",
                      S_FORMAT, "node", v[0], "round", v[1], "sampler_epoch", v[2],
                      "sampler_offset", v[3], "config_hash", cfg, "topology_hash", topo, "model",
                      model, "bytes_sent", v[4], "bytes_recv", v[5], "msgs_sent", v[6],
                      "entropy_bits", v[7]))) {
        json_decref(h);
        return NULL;
    }
    return h;
}

int rumor_checkpoint_path(char *buf, size_t cap, const char *dir, uint32_t node)
{
    const int n = snprintf(buf, cap, "%s/node%u.safetensors", dir, node);
    return n < 0 || (size_t)n >= cap ? RUMOR_ENOSPC : 0;
}

int rumor_checkpoint_save(const char *path, rumor_peer_t *p, const uint8_t topo_hash[32],
                          rumor_errmsg_t *em)
{
    s_tensor_t *ts = calloc(S_MAX_TENSORS, sizeof *ts);
    if (!ts) return rumor_errmsg_set(em, RUMOR_ENOMEM, "%s: out of memory", path);
    const size_t n = s_tensors(p, ts, S_MAX_TENSORS);
    json_t *h = s_header(p, ts, n, topo_hash);
    char *hj = NULL;
    size_t hl = 0;
    int rc = rumor_file_json(h, JSON_COMPACT, path, &hj, &hl, em);
    json_decref(h);
    if (rc) {
        free(ts);
        return rc;
    }
    /* Pad the header with spaces so the data starts 8-byte aligned. */
    const size_t padded = (hl + 7) & ~(size_t)7;
    uint8_t len8[8];
    rumor_store64le(len8, (uint64_t)padded);
    static const char spaces[8] = "        ";
    rumor_file_piece_t *pieces = malloc((n + 3) * sizeof *pieces);
    rc = rumor_errmsg_set(em, RUMOR_ENOMEM, "%s: out of memory", path);
    if (pieces) {
        pieces[0] = (rumor_file_piece_t){len8, 8};
        pieces[1] = (rumor_file_piece_t){hj, hl};
        pieces[2] = (rumor_file_piece_t){spaces, padded - hl};
        for (size_t i = 0; i < n; i++)
            pieces[3 + i] = (rumor_file_piece_t){ts[i].data, s_bytes(&ts[i])};
        rc = rumor_file_save(path, 0644, 0, pieces, n + 3, em);
    }
    free(pieces);
    free(hj);
    free(ts);
    return rc;
}

int rumor_checkpoint_check_finite(const char *path, const char *what, const float *x, size_t n,
                                  rumor_errmsg_t *em)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return rumor_errmsg_set(em, RUMOR_EFORMAT,
                                    "%s: %s %zu is %g: a damaged file or a diverged run", path,
                                    what, i, (double)x[i]);
    return 0;
}

/* Reads a decimal metadata string into *out (<= max). */
static int s_meta_u64(json_t *meta, const char *key, uint64_t max, uint64_t *out)
{
    const char *s = json_string_value(json_object_get(meta, key));
    if (!s || !*s) return -1;
    char *end;
    errno = 0;
    const unsigned long long v = strtoull(s, &end, 10);
    if (*end || errno || v > max || s[0] == '-') return -1;
    *out = v;
    return 0;
}

/* Opens path and parses its safetensors header as a rumor checkpoint: on success *f is open,
 * *h holds the header (caller decrefs both), *base is the file offset of the data section
 * and *data_bytes its length. On failure nothing is left open. */
static int s_open(const char *path, FILE **f_out, json_t **h_out, long *base, uint64_t *data_bytes,
                  rumor_errmsg_t *em)
{
    int rc = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return rumor_errmsg_set(em, RUMOR_EIO, "%s: cannot open: %s", path, strerror(errno));
    char *hbuf = NULL;
    json_t *h = NULL;
    struct stat st;
    uint8_t len8[8];
    if (fstat(fileno(f), &st) != 0 || fread(len8, 1, 8, f) != 8) {
        rc = rumor_errmsg_set(em, RUMOR_ETRUNC, "%s: shorter than a safetensors header", path);
        goto done;
    }
    const uint64_t hl = rumor_load64le(len8);
    if (hl == 0 || hl > S_MAX_HEADER) {
        rc = rumor_errmsg_set(em, RUMOR_EFORMAT, "%s: header length %" PRIu64 " is impossible",
                              path, hl);
        goto done;
    }
    if (hl > (uint64_t)st.st_size - 8) {
        rc = rumor_errmsg_set(em, RUMOR_EFORMAT,
                              "%s: header length %" PRIu64
                              " runs past the end of the file (%" PRIu64 " bytes): truncated?",
                              path, hl, (uint64_t)st.st_size);
        goto done;
    }
    if (!(hbuf = malloc(hl))) {
        rc = rumor_errmsg_set(em, RUMOR_ENOMEM, "%s: out of memory", path);
        goto done;
    }
    if (fread(hbuf, 1, hl, f) != hl) {
        rc = rumor_errmsg_set(em, RUMOR_ETRUNC, "%s: truncated header", path);
        goto done;
    }
    json_error_t jerr;
    h = json_loadb(hbuf, hl, JSON_REJECT_DUPLICATES, &jerr);
    if (!h || !json_is_object(h)) {
        rc = rumor_errmsg_set(em, RUMOR_EFORMAT, "%s: header is not a JSON object (%s)", path,
                              h ? "wrong type" : jerr.text);
        goto done;
    }
    const char *fmt =
        json_string_value(json_object_get(json_object_get(h, "__metadata__"), "format"));
    if (!fmt || strcmp(fmt, S_FORMAT)) {
        rc = rumor_errmsg_set(em, RUMOR_EFORMAT, "%s: not a rumor checkpoint (format '%s')", path,
                              fmt ? fmt : "missing");
        goto done;
    }
    *base = (long)(8 + hl);
    *data_bytes = (uint64_t)st.st_size - 8 - hl;
done:
    free(hbuf);
    if (rc) {
        json_decref(h);
        fclose(f);
        return rc;
    }
    *f_out = f;
    *h_out = h;
    return 0;
}

/* RUMOR_EFORMAT naming path and tensor t unless each of the t->count doubles at x is finite
 * and within [t->lo, t->hi], or NaN where t allows it. */
static int s_check_f64(const char *path, const s_tensor_t *t, const double *x, rumor_errmsg_t *em)
{
    for (size_t i = 0; i < t->count; i++)
        if (isnan(x[i]) ? !t->nan_ok : !(isfinite(x[i]) && x[i] >= t->lo && x[i] <= t->hi))
            return rumor_errmsg_set(em, RUMOR_EFORMAT,
                                    "%s: tensor '%s' element %zu is %g: expected %sa finite "
                                    "number from %g to %g",
                                    path, t->name, i, x[i], t->nan_ok ? "NaN or " : "", t->lo,
                                    t->hi);
    return 0;
}

/* Checks tensor t's header entry (t's dtype and shape, offsets of its t.count values inside
 * the data section) and reads its values into dst (aligned for them), then checks them (see
 * s_tensor_t). An optional tensor that is not in the file is marked absent. */
static int s_read_tensor(FILE *f, json_t *h, long base, uint64_t data_bytes, s_tensor_t *t,
                         void *dst, const char *path, rumor_errmsg_t *em)
{
    json_t *e = json_object_get(h, t->name);
    t->absent = !e && t->optional;
    if (t->absent) return 0;
    const char *dtype = json_string_value(json_object_get(e, "dtype"));
    json_t *shape = json_object_get(e, "shape"), *offs = json_object_get(e, "data_offsets");
    int ok = dtype && !strcmp(dtype, s_dtype_name[t->dtype]) && json_is_array(shape) &&
             json_array_size(shape) == t->ndim && json_is_array(offs) && json_array_size(offs) == 2;
    for (uint32_t k = 0; ok && k < t->ndim; k++)
        ok = json_integer_value(json_array_get(shape, k)) == (json_int_t)t->shape[k];
    const json_int_t b = ok ? json_integer_value(json_array_get(offs, 0)) : -1;
    const json_int_t end = ok ? json_integer_value(json_array_get(offs, 1)) : -1;
    ok = ok && b >= 0 && end >= b && (uint64_t)end <= data_bytes &&
         (uint64_t)(end - b) == s_bytes(t);
    if (!ok)
        return rumor_errmsg_set(em, RUMOR_EFORMAT,
                                "%s: tensor '%s' is missing or has the wrong dtype, shape or "
                                "offsets",
                                path, t->name);
    if (fseek(f, base + (long)b, SEEK_SET) != 0 ||
        fread(dst, s_dtype_size[t->dtype], t->count, f) != t->count)
        return rumor_errmsg_set(em, RUMOR_ETRUNC, "%s: tensor '%s' is truncated", path, t->name);
    if (t->dtype == S_F64) return s_check_f64(path, t, dst, em);
    if (t->dtype == S_U64) return 0;
    char what[64];
    snprintf(what, sizeof what, "tensor '%s' element", t->name);
    return rumor_checkpoint_check_finite(path, what, dst, t->count, em);
}

/* RUMOR_EMISMATCH unless the checkpoint's metadata names model m. */
static int s_check_model(json_t *meta, const rumor_model_t *m, const char *path, rumor_errmsg_t *em)
{
    char model[128];
    rumor_model_spec_describe(rumor_model_spec(m), model, sizeof model);
    const char *fmodel = json_string_value(json_object_get(meta, "model"));
    if (!fmodel || strcmp(fmodel, model))
        return rumor_errmsg_set(em, RUMOR_EMISMATCH, "%s: model '%s' differs from '%s'", path,
                                fmodel ? fmodel : "missing", model);
    return 0;
}

int rumor_checkpoint_load(const char *path, rumor_peer_t *p, const uint8_t topo_hash[32],
                          rumor_errmsg_t *em)
{
    FILE *f = NULL;
    json_t *h = NULL;
    long base;
    uint64_t data_bytes;
    int rc = s_open(path, &f, &h, &base, &data_bytes, em);
    if (rc) return rc;
    uint8_t *data = NULL;
    s_tensor_t *ts = calloc(S_MAX_TENSORS, sizeof *ts);
    if (!ts) {
        rc = rumor_errmsg_set(em, RUMOR_ENOMEM, "%s: out of memory", path);
        goto done;
    }
    json_t *meta = json_object_get(h, "__metadata__");
    uint64_t node, round, epoch, offset, bsent = 0, brecv = 0, msent = 0;
    if (s_meta_u64(meta, "node", UINT32_MAX, &node) ||
        s_meta_u64(meta, "round", UINT32_MAX, &round) ||
        s_meta_u64(meta, "sampler_epoch", UINT64_MAX, &epoch) ||
        s_meta_u64(meta, "sampler_offset", UINT32_MAX, &offset)) {
        rc = rumor_errmsg_set(em, RUMOR_EFORMAT,
                              "%s: __metadata__ needs decimal node, round, sampler_epoch and "
                              "sampler_offset",
                              path);
        goto done;
    }
    s_meta_u64(meta, "bytes_sent", UINT64_MAX, &bsent);
    s_meta_u64(meta, "bytes_recv", UINT64_MAX, &brecv);
    s_meta_u64(meta, "msgs_sent", UINT64_MAX, &msent);
    double ebits = 0.0; /* checkpoints written before it was recorded lack it */
    const char *es = json_string_value(json_object_get(meta, "entropy_bits"));
    if (es) {
        char *end;
        ebits = strtod(es, &end);
        if (end == es || *end || !(ebits >= 0) || !isfinite(ebits)) {
            rc = rumor_errmsg_set(em, RUMOR_EFORMAT,
                                  "%s: __metadata__.entropy_bits: expected a "
                                  "finite number >= 0",
                                  path);
            goto done;
        }
    }
    char cfg[65], topo[65];
    sodium_bin2hex(cfg, sizeof cfg, rumor_peer_scenario(p)->hash, 32);
    sodium_bin2hex(topo, sizeof topo, topo_hash, 32);
    const char *fcfg = json_string_value(json_object_get(meta, "config_hash"));
    const char *ftopo = json_string_value(json_object_get(meta, "topology_hash"));
    if (node != rumor_peer_id(p)) {
        rc = rumor_errmsg_set(em, RUMOR_EMISMATCH, "%s: checkpoint of node %" PRIu64 ", not %u",
                              path, node, rumor_peer_id(p));
        goto done;
    }
    if ((rc = s_check_model(meta, rumor_peer_model(p), path, em))) goto done;
    if (!fcfg || strcmp(fcfg, cfg)) {
        rc = rumor_errmsg_set(em, RUMOR_EMISMATCH, "%s: written under another run config", path);
        goto done;
    }
    if (!ftopo || strcmp(ftopo, topo)) {
        rc = rumor_errmsg_set(em, RUMOR_EMISMATCH, "%s: written for another topology", path);
        goto done;
    }
    if (round > rumor_peer_scenario(p)->rounds) {
        rc = rumor_errmsg_set(em, RUMOR_EFORMAT,
                              "%s: __metadata__.round: %" PRIu64 " is past the run's last round %u",
                              path, round, rumor_peer_scenario(p)->rounds);
        goto done;
    }
    const uint32_t shard = rumor_sampler_size(rumor_peer_sampler(p));
    if (offset >= shard) {
        rc = rumor_errmsg_set(em, RUMOR_EFORMAT,
                              "%s: __metadata__.sampler_offset: %" PRIu64
                              " is outside node %u's shard of %u samples",
                              path, offset, rumor_peer_id(p), shard);
        goto done;
    }
    const size_t n = s_tensors(p, ts, S_MAX_TENSORS);
    size_t total = 0; /* each tensor's values 8-byte aligned in data */
    for (size_t i = 0; i < n; i++) total += s_staged(&ts[i]);
    data = malloc(total + 1);
    if (!data) {
        rc = rumor_errmsg_set(em, RUMOR_ENOMEM, "%s: out of memory", path);
        goto done;
    }
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        if ((rc = s_read_tensor(f, h, base, data_bytes, &ts[i], data + at, path, em))) goto done;
        at += s_staged(&ts[i]);
    }
    /* Everything checked: install, in file order (a fallback is installed before it is used). */
    at = 0;
    for (size_t i = 0; i < n; i++) {
        if (!ts[i].absent)
            memcpy(ts[i].data, data + at, s_bytes(&ts[i]));
        else if (ts[i].fallback)
            memcpy(ts[i].data, ts[i].fallback, s_bytes(&ts[i]));
        at += s_staged(&ts[i]);
    }
    rumor_peer_set_round(p, (uint32_t)round);
    /* ALIE's point of this round, from the copies as the round before left them: a resumed
     * peer may take STATEs holding its neighbours' DIFFs of this round before it steps */
    rumor_peer_byzantine_refresh(p);
    rumor_sampler_set_pos(rumor_peer_sampler(p), epoch, (uint32_t)offset);
    rumor_peer_stats_t *pst = rumor_peer_stats(p);
    pst->bytes_sent = bsent;
    pst->bytes_recv = brecv;
    pst->msgs_sent = msent;
    pst->entropy_bits = ebits;
done:
    json_decref(h);
    free(data);
    free(ts);
    fclose(f);
    return rc;
}

int rumor_checkpoint_sniff(const uint8_t *head, size_t len, uint64_t file_size)
{
    if (len < 9 || file_size < 9 || head[8] != '{') return 0;
    const uint64_t hl = rumor_load64le(head);
    return hl >= 2 && hl <= S_MAX_HEADER;
}

int rumor_checkpoint_load_model(const char *path, const rumor_model_t *m, float *params,
                                rumor_checkpoint_info_t *info, rumor_errmsg_t *em)
{
    FILE *f = NULL;
    json_t *h = NULL;
    long base;
    uint64_t data_bytes;
    int rc = s_open(path, &f, &h, &base, &data_bytes, em);
    if (rc) return rc;
    float *data = NULL;
    json_t *meta = json_object_get(h, "__metadata__");
    uint64_t node, round;
    if (s_meta_u64(meta, "node", UINT32_MAX, &node) ||
        s_meta_u64(meta, "round", UINT32_MAX, &round)) {
        rc = rumor_errmsg_set(em, RUMOR_EFORMAT, "%s: __metadata__ needs decimal node and round",
                              path);
        goto done;
    }
    if ((rc = s_check_model(meta, m, path, em))) goto done;
    /* Only the model tensors are read, but a file cut short anywhere is still refused. */
    const char *key;
    json_t *e;
    json_object_foreach(h, key, e)
    {
        if (!strcmp(key, "__metadata__")) continue;
        json_t *offs = json_object_get(e, "data_offsets");
        const json_int_t end = json_integer_value(json_array_get(offs, 1));
        if (json_array_size(offs) == 2 && end >= 0 && (uint64_t)end > data_bytes) {
            rc = rumor_errmsg_set(em, RUMOR_ETRUNC, "%s: tensor '%s' is truncated", path, key);
            goto done;
        }
    }
    const size_t d = rumor_model_nparams(m);
    data = malloc(d * sizeof *data + 1);
    if (!data) {
        rc = rumor_errmsg_set(em, RUMOR_ENOMEM, "%s: out of memory", path);
        goto done;
    }
    s_tensor_t ts[2 * RUMOR_MODEL_MAX_HIDDEN + 2];
    const size_t nt = s_model_tensors(m, data, ts);
    for (size_t i = 0; i < nt; i++)
        if ((rc = s_read_tensor(f, h, base, data_bytes, &ts[i], ts[i].data, path, em))) goto done;
    memcpy(params, data, d * sizeof *data);
    if (info) {
        info->node = (uint32_t)node;
        info->round = (uint32_t)round;
    }
done:
    json_decref(h);
    free(data);
    fclose(f);
    return rc;
}
