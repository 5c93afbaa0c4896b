/* rumor — softmax regression, ReLU MLP and a small CNN over one flat parameter vector (see
 * model.h).
 *
 * Workload: rumor_model_loss_grad is called once per local step per peer on a minibatch of
 * 32-256 rows; for Fashion-MNIST with mlp:128 nearly all of its time is the two large GEMMs
 * (input-layer forward and input-layer weight gradient), so the element-wise passes are
 * kept to one sweep each and the input-layer activation gradient is never formed.
 *
 * Layout. Layer l maps dims[l] -> dims[l + 1]; its parameters are W_l (dims[l+1], dims[l])
 * row-major followed by b_l (dims[l+1]). Activations are batch-major: (rows, features).
 *   forward:  Z_l = A_{l-1} W_l^T + b_l;  A_l = relu(Z_l) for hidden layers, A_{-1} = x
 *   backward: G_L = (softmax(Z_L) - onehot(y)) / b
 *             dW_l = G_l^T A_{l-1};  db_l = column sums of G_l
 *             G_{l-1} = (G_l W_l) * [A_{l-1} > 0]          (only for l > 0)
 * The workspace holds one activation buffer per layer and one scratch buffer for G_l W_l.
 * G_{l-1} overwrites A_{l-1} in place (A_{l-1} is last needed for its own ReLU mask), and the
 * output-layer gradient overwrites the logits.
 *
 * The CNN (s x s image, k1 and k2 channels): conv 5x5 -> (c1 = s - 4)^2 x k1, ReLU, 2x2 max
 * pool -> (p1 = c1 / 2)^2 x k1, conv 5x5 -> (c2 = p1 - 4)^2 x k2, ReLU, pool -> (p2 = c2 / 2)^2
 * x k2 = f features, linear -> classes. Each convolution is one GEMM over im2col rows (one
 * row per output position, its 25 k_in inputs in PyTorch's (channel, ky, kx) order). Feature
 * maps are position-major (NHWC), except that the last pooling writes PyTorch's flattening
 * (channel, y, x), so that the checkpoint's tensors load into the equivalent torch module.
 * Batches run in blocks of S_CNN_BLOCK samples, which bounds the im2col buffers; the weight
 * gradients accumulate block by block, in a fixed order.
 *
 * Determinism: every reduction runs in a fixed order and the GEMMs are OpenBLAS's, which is
 * bit-reproducible for a fixed thread count; the caller chooses that count.
 */
#include "rumor/model.h"

#include <cblas.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_MAX_LAYERS (RUMOR_MODEL_MAX_HIDDEN + 1)
/* Widths accepted by the spec parser; larger layers are better expressed as something else. */
#define S_MAX_WIDTH (1u << 20)

/* Kernel side and taps of the CNN's convolutions; samples per CNN block. */
enum { S_KS = 5, S_TAPS = S_KS * S_KS, S_CNN_BLOCK = 32 };
/* Image sides and channels the CNN accepts. */
#define S_CNN_MIN_SIDE     16u
#define S_CNN_MAX_SIDE     1024u
#define S_CNN_MAX_CHANNELS 1024u

typedef struct {
    uint32_t s, c1, p1, c2, p2, k1, k2, f;             /* geometry (see the file comment) */
    float *cols1, *z1, *a1, *cols2, *z2, *a2, *logits; /* forward, per block */
    float *da2, *dz2, *dcols2, *da1, *dz1;             /* backward */
    /* the second convolution's weights and their gradient with the taps in (ky, kx, channel)
     * order, the order of a position-major im2col row: (k2, 25 k1) */
    float *w2t, *g2t;
    uint32_t *arg1, *arg2; /* index in z1 / z2 of each pooled maximum */
} s_cnn_t;

struct rumor_model {
    rumor_model_spec_t spec;
    uint32_t max_batch;
    uint32_t block; /* rows per forward pass: max_batch, or the CNN's block */
    s_cnn_t cnn;
    uint32_t nlayers;
    uint32_t dims[S_MAX_LAYERS + 1]; /* dims[0] = in, dims[nlayers] = out */
    size_t w_off[S_MAX_LAYERS];      /* W_l offset in the parameter vector, in floats */
    size_t b_off[S_MAX_LAYERS];      /* b_l offset */
    size_t nparams;
    float *act[S_MAX_LAYERS]; /* (max_batch, dims[l + 1]): A_l, then G_l during backward */
    float *scratch;           /* (max_batch, max hidden width): G_l W_l; NULL for softmax */
    float *mem;               /* the one allocation behind act and scratch */
};

/* ---- spec ---------------------------------------------------------------------------- */

/* Parses one decimal width in [1, S_MAX_WIDTH] from s; stops at ',' or the end. Digits only:
 * no sign, no spaces, so "mlp:-5" and "mlp: 5" are rejected rather than silently read. */
static int s_parse_width(const char **s_p, uint32_t *out)
{
    const char *s = *s_p;
    uint64_t v = 0;
    const char *p = s;
    for (; *p >= '0' && *p <= '9'; p++) {
        v = v * 10 + (uint64_t)(*p - '0');
        if (v > S_MAX_WIDTH) return RUMOR_EINVAL;
    }
    if (p == s || (*p != ',' && *p != '\0') || v == 0) return RUMOR_EINVAL;
    *out = (uint32_t)v;
    *s_p = p;
    return 0;
}

/* The side of a square image of n pixels that the CNN accepts (S_CNN_MIN_SIDE to
 * S_CNN_MAX_SIDE), or 0 when n is no such square. */
static uint32_t s_cnn_side(uint32_t n)
{
    uint32_t side = (uint32_t)sqrt((double)n);
    while ((uint64_t)side * side < n) side++;
    while (side && (uint64_t)(side - 1) * (side - 1) >= n) side--;
    return (uint64_t)side * side == n && side >= S_CNN_MIN_SIDE && side <= S_CNN_MAX_SIDE ? side
                                                                                          : 0;
}

/* "external:D": D parameters owned by the caller, whatever the data. */
static int s_parse_external(const char *s, rumor_model_spec_t *spec, rumor_errmsg_t *em)
{
    const char *p = s + 8;
    char *end = NULL;
    errno = 0;
    const unsigned long long d =
        *p == ':' && p[1] >= '0' && p[1] <= '9' ? strtoull(p + 1, &end, 10) : 0;
    if (!end || *end || errno || d == 0 || d > RUMOR_MODEL_MAX_PARAMS)
        return rumor_errmsg_set(em, RUMOR_EINVAL,
                                "model '%s': expected external:D, the caller's parameter count "
                                "from 1 to %u",
                                s, RUMOR_MODEL_MAX_PARAMS);
    memset(spec, 0, sizeof *spec);
    spec->kind = RUMOR_MODEL_EXTERNAL;
    spec->in = (uint32_t)d;
    return 0;
}

int rumor_model_spec_parse(const char *s, uint32_t in, uint32_t out, rumor_model_spec_t *spec,
                           rumor_errmsg_t *em)
{
    static const char *const forms =
        "expected softmax, mlp:H, mlp:H1,H2,..., cnn:C1,C2 or external:D";
    if (!s || !*s) return rumor_errmsg_set(em, RUMOR_EINVAL, "model: empty spec (%s)", forms);
    if (!strncmp(s, "external", 8)) return s_parse_external(s, spec, em);
    if (in == 0)
        return rumor_errmsg_set(em, RUMOR_EINVAL, "model '%s': input size must be positive", s);
    if (out < 2)
        return rumor_errmsg_set(em, RUMOR_EINVAL, "model '%s': needs at least 2 classes, got %u", s,
                                out);
    rumor_model_spec_t sp;
    memset(&sp, 0, sizeof sp);
    sp.in = in;
    sp.out = out;
    if (!strcmp(s, "softmax")) {
        sp.kind = RUMOR_MODEL_SOFTMAX;
    } else if (!strcmp(s, "mlp")) {
        return rumor_errmsg_set(em, RUMOR_EINVAL,
                                "model 'mlp': missing hidden widths (e.g. mlp:128 or mlp:256,128)");
    } else if (!strncmp(s, "mlp:", 4)) {
        sp.kind = RUMOR_MODEL_MLP;
        const char *p = s + 4;
        for (;;) {
            if (sp.n_hidden == RUMOR_MODEL_MAX_HIDDEN)
                return rumor_errmsg_set(em, RUMOR_EINVAL, "model '%s': more than %d hidden layers",
                                        s, RUMOR_MODEL_MAX_HIDDEN);
            const char *start = p;
            if (s_parse_width(&p, &sp.hidden[sp.n_hidden]) != 0) {
                const size_t len = strcspn(start, ",");
                return rumor_errmsg_set(em, RUMOR_EINVAL,
                                        "model '%s': hidden width %u ('%.*s') must be an integer "
                                        "from 1 to %u",
                                        s, sp.n_hidden + 1, (int)(len > 64 ? 64 : len), start,
                                        S_MAX_WIDTH);
            }
            sp.n_hidden++;
            if (*p == '\0') break;
            p++; /* ',' */
        }
    } else if (!strcmp(s, "cnn")) {
        return rumor_errmsg_set(em, RUMOR_EINVAL,
                                "model 'cnn': missing channel counts (e.g. cnn:8,16)");
    } else if (!strncmp(s, "cnn:", 4)) {
        sp.kind = RUMOR_MODEL_CNN;
        const char *p = s + 4;
        for (uint32_t i = 0; i < 2; i++) {
            if (s_parse_width(&p, &sp.hidden[i]) != 0 || sp.hidden[i] > S_CNN_MAX_CHANNELS ||
                (*p == '\0') != (i == 1))
                return rumor_errmsg_set(em, RUMOR_EINVAL,
                                        "model '%s': expected cnn:C1,C2, two channel counts from "
                                        "1 to %u",
                                        s, S_CNN_MAX_CHANNELS);
            p++;
        }
        sp.n_hidden = 2;
        if (!s_cnn_side(in))
            return rumor_errmsg_set(em, RUMOR_EINVAL,
                                    "model '%s': needs square single-channel images from %ux%u "
                                    "to %ux%u pixels; the data has %u features",
                                    s, S_CNN_MIN_SIDE, S_CNN_MIN_SIDE, S_CNN_MAX_SIDE,
                                    S_CNN_MAX_SIDE, in);
    } else {
        return rumor_errmsg_set(em, RUMOR_EINVAL, "model '%s': unknown model (%s)", s, forms);
    }
    /* Said here, with the numbers, rather than as a bare "out of memory" later. */
    double np = 0, fan_in = in;
    for (uint32_t l = 0; sp.kind != RUMOR_MODEL_CNN && l <= sp.n_hidden; l++) {
        const double fan_out = l < sp.n_hidden ? sp.hidden[l] : out;
        np += fan_in * fan_out + fan_out;
        fan_in = fan_out;
    }
    if (np > RUMOR_MODEL_MAX_PARAMS)
        return rumor_errmsg_set(em, RUMOR_EINVAL,
                                "model '%s': %.4g parameters (%.4g GB as float32) will not fit: "
                                "at most %u (%.1f GB) are allowed",
                                s, np, np * 4e-9, RUMOR_MODEL_MAX_PARAMS,
                                RUMOR_MODEL_MAX_PARAMS * 4e-9);
    *spec = sp;
    return 0;
}

void rumor_model_spec_describe(const rumor_model_spec_t *spec, char *buf, size_t len)
{
    if (!len) return;
    if (spec->kind == RUMOR_MODEL_EXTERNAL) {
        snprintf(buf, len, "external %u", spec->in);
        return;
    }
    if (spec->kind == RUMOR_MODEL_CNN) {
        const uint32_t side = s_cnn_side(spec->in);
        snprintf(buf, len, "cnn %ux%u-c%u-c%u-%u", side, side, spec->hidden[0], spec->hidden[1],
                 spec->out);
        return;
    }
    size_t pos = 0;
    int n =
        snprintf(buf, len, "%s %u", spec->kind == RUMOR_MODEL_MLP ? "mlp" : "softmax", spec->in);
    const uint32_t nh = spec->kind == RUMOR_MODEL_MLP ? spec->n_hidden : 0;
    for (uint32_t i = 0; i <= nh && n >= 0; i++) {
        pos += (size_t)n;
        if (pos >= len) return;
        n = snprintf(buf + pos, len - pos, "-%u", i < nh ? spec->hidden[i] : spec->out);
    }
}

/* ---- object -------------------------------------------------------------------------- */

/* a * b + c with overflow detection; returns 0 on overflow. */
static int s_muladd(size_t a, size_t b, size_t c, size_t *out)
{
    if (b && a > (SIZE_MAX - c) / b) return 0;
    *out = a * b + c;
    return 1;
}

/* Rounds a float count up to a whole 64-byte line so that every view starts aligned. */
static size_t s_round16(size_t n)
{
    return (n + 15) & ~(size_t)15;
}

/* The CNN's object: geometry, parameter count and the block workspace, carved from one
 * allocation. NULL when the spec is not a valid CNN or a size overflows. */
static int s_cnn_create(const rumor_model_spec_t *spec, uint32_t max_batch, rumor_model_t **m_p)
{
    const uint32_t side = s_cnn_side(spec->in);
    if (spec->n_hidden != 2 || !side) return RUMOR_EINVAL;
    for (uint32_t i = 0; i < 2; i++)
        if (spec->hidden[i] == 0 || spec->hidden[i] > S_CNN_MAX_CHANNELS) return RUMOR_EINVAL;
    rumor_model_t *m = calloc(1, sizeof *m);
    if (!m) return RUMOR_ENOMEM;
    m->spec = *spec;
    m->max_batch = max_batch;
    s_cnn_t *c = &m->cnn;
    c->s = side;
    c->c1 = side - (S_KS - 1);
    c->p1 = c->c1 / 2;
    c->c2 = c->p1 - (S_KS - 1);
    c->p2 = c->c2 / 2;
    c->k1 = spec->hidden[0];
    c->k2 = spec->hidden[1];
    c->f = c->k2 * c->p2 * c->p2;
    m->block = max_batch < S_CNN_BLOCK ? max_batch : S_CNN_BLOCK;
    const uint64_t nb = m->block, out = spec->out;
    const uint64_t n1 = nb * c->c1 * c->c1, n2 = nb * c->c2 * c->c2, q1 = nb * c->p1 * c->p1;
    m->nparams = (size_t)c->k1 * S_TAPS + c->k1 + (size_t)c->k2 * c->k1 * S_TAPS + c->k2 +
                 (size_t)out * c->f + out;
    /* The views, carved in this order: counts of floats (or of 32-bit indices, which bound
     * every map to 2^32 entries). */
    const uint64_t w2 = (uint64_t)c->k2 * c->k1 * S_TAPS;
    const struct {
        uint64_t n;
        float **f;
        uint32_t **u;
    } views[] = {
        {n1 * S_TAPS, &c->cols1, NULL},
        {n1 * c->k1, &c->z1, NULL},
        {q1 * c->k1, &c->a1, NULL},
        {q1 * c->k1, NULL, &c->arg1},
        {n2 * S_TAPS * c->k1, &c->cols2, NULL},
        {n2 * c->k2, &c->z2, NULL},
        {nb * c->f, &c->a2, NULL},
        {nb * c->f, NULL, &c->arg2},
        {nb * out, &c->logits, NULL},
        {nb * c->f, &c->da2, NULL},
        {n2 * c->k2, &c->dz2, NULL},
        {n2 * S_TAPS * c->k1, &c->dcols2, NULL},
        {q1 * c->k1, &c->da1, NULL},
        {n1 * c->k1, &c->dz1, NULL},
        {w2, &c->w2t, NULL},
        {w2, &c->g2t, NULL},
    };
    _Static_assert(sizeof(uint32_t) == sizeof(float), "index and float views share the block");
    uint64_t total = 0;
    int rc = RUMOR_EINVAL;
    for (size_t i = 0; i < sizeof views / sizeof *views; i++) {
        if (views[i].n >= UINT32_MAX) goto fail;
        total += s_round16((size_t)views[i].n);
    }
    rc = RUMOR_ENOMEM;
    if (total > SIZE_MAX / sizeof(float)) goto fail;
    m->mem = aligned_alloc(64, (size_t)total * sizeof(float));
    if (!m->mem) goto fail;
    float *p = m->mem;
    for (size_t i = 0; i < sizeof views / sizeof *views; i++) {
        if (views[i].f)
            *views[i].f = p;
        else
            *views[i].u = (uint32_t *)(void *)p;
        p += s_round16((size_t)views[i].n);
    }
    *m_p = m;
    return 0;
fail:
    free(m);
    return rc;
}

/* An external model: its parameter count and nothing else (no workspace). */
static int s_external_create(const rumor_model_spec_t *spec, rumor_model_t **out)
{
    if (spec->in == 0 || spec->in > RUMOR_MODEL_MAX_PARAMS) return RUMOR_EINVAL;
    rumor_model_t *m = calloc(1, sizeof *m);
    if (!m) return RUMOR_ENOMEM;
    m->spec = *spec;
    m->nparams = spec->in;
    *out = m;
    return 0;
}

int rumor_model_create(const rumor_model_spec_t *spec, uint32_t max_batch, rumor_model_t **out)
{
    *out = NULL;
    /* CBLAS takes int dimensions. */
    if (!spec || max_batch == 0 || max_batch > INT32_MAX) return RUMOR_EINVAL;
    if (spec->kind == RUMOR_MODEL_EXTERNAL) return s_external_create(spec, out);
    if (spec->in == 0 || spec->in > INT32_MAX || spec->out < 2 || spec->out > INT32_MAX)
        return RUMOR_EINVAL;
    if (spec->kind == RUMOR_MODEL_CNN) return s_cnn_create(spec, max_batch, out);
    if (spec->kind != RUMOR_MODEL_SOFTMAX && spec->kind != RUMOR_MODEL_MLP) return RUMOR_EINVAL;
    const uint32_t nh = spec->kind == RUMOR_MODEL_MLP ? spec->n_hidden : 0;
    if (spec->kind == RUMOR_MODEL_MLP && (nh == 0 || nh > RUMOR_MODEL_MAX_HIDDEN))
        return RUMOR_EINVAL;

    rumor_model_t *m = calloc(1, sizeof *m);
    if (!m) return RUMOR_ENOMEM;
    int rc = RUMOR_EINVAL;
    m->spec = *spec;
    m->block = max_batch;
    if (spec->kind == RUMOR_MODEL_SOFTMAX) {
        m->spec.n_hidden = 0;
        memset(m->spec.hidden, 0, sizeof m->spec.hidden);
    }
    m->max_batch = max_batch;
    m->nlayers = nh + 1;
    m->dims[0] = spec->in;
    for (uint32_t i = 0; i < nh; i++) {
        if (spec->hidden[i] == 0 || spec->hidden[i] > INT32_MAX) goto fail;
        m->dims[i + 1] = spec->hidden[i];
    }
    m->dims[m->nlayers] = spec->out;

    /* sizes past the address space are as unallocatable as a failed allocation */
    rc = RUMOR_ENOMEM;
    size_t np = 0, ws = 0, scratch = 0;
    for (uint32_t l = 0; l < m->nlayers; l++) {
        const size_t fan_in = m->dims[l], fan_out = m->dims[l + 1];
        m->w_off[l] = np;
        if (!s_muladd(fan_out, fan_in, np, &np)) goto fail;
        m->b_off[l] = np;
        if (!s_muladd(1, fan_out, np, &np)) goto fail;
        size_t a;
        if (!s_muladd(max_batch, fan_out, 15, &a)) goto fail;
        a = s_round16(a - 15);
        if (!s_muladd(1, a, ws, &ws)) goto fail;
        if (l + 1 < m->nlayers && a > scratch) scratch = a;
    }
    m->nparams = np;
    size_t total;
    if (!s_muladd(1, ws, scratch, &total) || total > SIZE_MAX / sizeof(float)) goto fail;
    m->mem = aligned_alloc(64, total * sizeof(float));
    if (!m->mem) goto fail;
    float *p = m->mem;
    for (uint32_t l = 0; l < m->nlayers; l++) {
        m->act[l] = p;
        p += s_round16((size_t)max_batch * m->dims[l + 1]);
    }
    m->scratch = scratch ? p : NULL;
    *out = m;
    return 0;
fail:
    free(m);
    return rc;
}

void rumor_model_destroy(rumor_model_t **m_p)
{
    if (!m_p || !*m_p) return;
    free((*m_p)->mem);
    free(*m_p);
    *m_p = NULL;
}

size_t rumor_model_nparams(const rumor_model_t *m)
{
    return m->nparams;
}

const rumor_model_spec_t *rumor_model_spec(const rumor_model_t *m)
{
    return &m->spec;
}

/* The CNN's tensors: conv0, conv1 and fc0, each weight then bias. */
static size_t s_cnn_tensors(const rumor_model_t *m, rumor_tensor_info_t *out, size_t cap)
{
    const s_cnn_t *c = &m->cnn;
    const rumor_tensor_info_t t[6] = {
        {"conv0.weight", 4, {c->k1, 1, S_KS, S_KS}, 0, 0},     {"conv0.bias", 1, {c->k1}, 0, 0},
        {"conv1.weight", 4, {c->k2, c->k1, S_KS, S_KS}, 0, 0}, {"conv1.bias", 1, {c->k2}, 0, 0},
        {"fc0.weight", 2, {m->spec.out, c->f}, 0, 0},          {"fc0.bias", 1, {m->spec.out}, 0, 0},
    };
    size_t off = 0;
    for (size_t i = 0; i < 6 && out && i < cap; i++) {
        out[i] = t[i];
        out[i].count = 1;
        for (uint32_t k = 0; k < t[i].ndim; k++) out[i].count *= t[i].shape[k];
        out[i].offset = off;
        off += out[i].count;
    }
    return 6;
}

size_t rumor_model_tensors(const rumor_model_t *m, rumor_tensor_info_t *out, size_t cap)
{
    if (m->spec.kind == RUMOR_MODEL_CNN) return s_cnn_tensors(m, out, cap);
    if (m->spec.kind == RUMOR_MODEL_EXTERNAL) {
        if (out && cap) out[0] = (rumor_tensor_info_t){"params", 1, {m->spec.in}, 0, m->nparams};
        return 1;
    }
    const size_t n = 2 * (size_t)m->nlayers;
    if (!out) return n;
    for (size_t t = 0; t < n && t < cap; t++) {
        const uint32_t l = (uint32_t)(t / 2);
        rumor_tensor_info_t *ti = &out[t];
        memset(ti, 0, sizeof *ti);
        if (t % 2 == 0) {
            snprintf(ti->name, sizeof ti->name, "fc%u.weight", l);
            ti->ndim = 2;
            ti->shape[0] = m->dims[l + 1];
            ti->shape[1] = m->dims[l];
            ti->offset = m->w_off[l];
            ti->count = (size_t)m->dims[l + 1] * m->dims[l];
        } else {
            snprintf(ti->name, sizeof ti->name, "fc%u.bias", l);
            ti->ndim = 1;
            ti->shape[0] = m->dims[l + 1];
            ti->offset = m->b_off[l];
            ti->count = m->dims[l + 1];
        }
    }
    return n;
}

void rumor_model_init(const rumor_model_t *m, float *params, rumor_rng_t *rng)
{
    memset(params, 0, m->nparams * sizeof *params);
    if (m->spec.kind == RUMOR_MODEL_SOFTMAX || m->spec.kind == RUMOR_MODEL_EXTERNAL) return;
    /* He-uniform: U(-a, a) with a = sqrt(6 / fan_in) has variance 2 / fan_in, which keeps
     * the activation scale roughly constant through ReLU layers. Weights are the even
     * tensors; a weight's fan-in is its count over its output size. */
    rumor_tensor_info_t t[2 * RUMOR_MODEL_MAX_HIDDEN + 2];
    const size_t nt = rumor_model_tensors(m, t, sizeof t / sizeof *t);
    for (size_t k = 0; k < nt; k += 2) {
        const float a = (float)sqrt(6.0 * t[k].shape[0] / (double)t[k].count);
        float *w = params + t[k].offset;
        for (size_t i = 0; i < t[k].count; i++) w[i] = a * (2.0f * rumor_rng_uniform(rng) - 1.0f);
    }
}

/* ---- forward / backward -------------------------------------------------------------- */

/* Element-wise passes. GCC at -O2 vectorises only loops with a known trip count, so each pass
 * walks fixed blocks of S_BLOCK floats (pointer-stepped, which its dependence analysis
 * accepts) and finishes with a scalar tail. The selects compile to masks, not branches, which
 * matters because the ReLU's sign pattern is unpredictable. */
#define S_BLOCK 16

/* row[0..n) += bias, then ReLU when relu is set. */
static void s_bias_act_row(float *restrict row, const float *restrict bias, size_t n, int relu)
{
    if (relu) {
        for (; n >= S_BLOCK; n -= S_BLOCK, row += S_BLOCK, bias += S_BLOCK)
            for (int k = 0; k < S_BLOCK; k++) {
                const float v = row[k] + bias[k];
                row[k] = v > 0.0f ? v : 0.0f;
            }
        for (size_t k = 0; k < n; k++) {
            const float v = row[k] + bias[k];
            row[k] = v > 0.0f ? v : 0.0f;
        }
    } else {
        for (; n >= S_BLOCK; n -= S_BLOCK, row += S_BLOCK, bias += S_BLOCK)
            for (int k = 0; k < S_BLOCK; k++) row[k] += bias[k];
        for (size_t k = 0; k < n; k++) row[k] += bias[k];
    }
}

/* acc[0..n) += row[0..n) */
static void s_add_row(float *restrict acc, const float *restrict row, size_t n)
{
    for (; n >= S_BLOCK; n -= S_BLOCK, acc += S_BLOCK, row += S_BLOCK)
        for (int k = 0; k < S_BLOCK; k++) acc[k] += row[k];
    for (size_t k = 0; k < n; k++) acc[k] += row[k];
}

/* db (cols) = column sums of g (rows, cols), added to db when acc is set. */
static void s_col_sums(float *db, const float *g, size_t rows, size_t cols, int acc)
{
    if (!acc) {
        memcpy(db, g, cols * sizeof *db);
        g += cols;
        rows--;
    }
    for (size_t i = 0; i < rows; i++) s_add_row(db, g + i * cols, cols);
}

/* a[k] = a[k] > 0 ? s[k] : 0 over n floats: the ReLU derivative applied to s, stored in a.
 * s[k] is read whatever the sign, and the select is a bit mask: written as a conditional read,
 * gcc 12 with AVX-512 turns the block loop into masked loads that take the second half's
 * lanes under the first half's mask, so gradients picked up stale register contents. */
static inline float s_relu_select(float a, float s)
{
    uint32_t bits;
    memcpy(&bits, &s, sizeof bits);
    bits &= a > 0.0f ? UINT32_MAX : 0u;
    memcpy(&s, &bits, sizeof s);
    return s;
}

static void s_relu_mask(float *restrict a, const float *restrict s, size_t n)
{
    for (; n >= S_BLOCK; n -= S_BLOCK, a += S_BLOCK, s += S_BLOCK)
        for (int k = 0; k < S_BLOCK; k++) a[k] = s_relu_select(a[k], s[k]);
    for (size_t k = 0; k < n; k++) a[k] = s_relu_select(a[k], s[k]);
}

/* Runs the network on x (b, in); returns the logits (b, out), which live in m->act. */
static float *s_forward(rumor_model_t *m, const float *params, const float *x, uint32_t b)
{
    const float *a = x;
    for (uint32_t l = 0; l < m->nlayers; l++) {
        const int in = (int)m->dims[l], out = (int)m->dims[l + 1];
        float *z = m->act[l];
        /* Z (b, out) = A (b, in) . W^T, W stored (out, in). This and the backward calls use
         * the parameters and activations as they lie; for the 784-128-10 shapes every other
         * transpose combination ran within 3% on OpenBLAS 0.3.21, not worth keeping
         * transposed copies. */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)b, out, in, 1.0f, a, in,
                    params + m->w_off[l], in, 0.0f, z, out);
        const float *bias = params + m->b_off[l];
        const int relu = l + 1 < m->nlayers;
        for (uint32_t i = 0; i < b; i++)
            s_bias_act_row(z + (size_t)i * out, bias, (uint32_t)out, relu);
        a = z;
    }
    return m->act[m->nlayers - 1];
}

/* Cross-entropy of one row of logits with log-sum-exp shifted by the row maximum. When g is
 * not NULL, writes scale * (softmax(z) - onehot(y)) into g (which may alias z). */
static double s_xent_row(const float *z, int32_t y, uint32_t out, float *g, float scale)
{
    float mx = z[0];
    for (uint32_t j = 1; j < out; j++) mx = z[j] > mx ? z[j] : mx;
    const float zy = z[y];
    double sum = 0.0;
    if (g) {
        for (uint32_t j = 0; j < out; j++) {
            g[j] = expf(z[j] - mx);
            sum += g[j];
        }
        const float k = (float)(scale / sum);
        for (uint32_t j = 0; j < out; j++) g[j] *= k;
        g[y] -= scale;
    } else {
        for (uint32_t j = 0; j < out; j++) sum += expf(z[j] - mx);
    }
    return (double)mx + log(sum) - (double)zy;
}

/* ---- cnn ----------------------------------------------------------------------------- */

/* im2col of the first convolution: one row of 25 pixels per output position of each of the
 * nb images x (nb, s * s). */
static void s_cnn_cols1(const s_cnn_t *c, const float *x, uint32_t nb)
{
    float *row = c->cols1;
    for (uint32_t n = 0; n < nb; n++) {
        const float *img = x + (size_t)n * c->s * c->s;
        for (uint32_t y = 0; y < c->c1; y++)
            for (uint32_t xx = 0; xx < c->c1; xx++, row += S_TAPS)
                for (uint32_t ky = 0; ky < S_KS; ky++)
                    memcpy(row + ky * S_KS, img + (size_t)(y + ky) * c->s + xx, S_KS * sizeof *row);
    }
}

/* im2col of the second convolution over a1 (nb, p1, p1, k1), taps in (ky, kx, channel)
 * order, so that each kernel row is one run of 5 k1 floats; or its transpose (col2im): with
 * back set, the rows of dcols2 are added into da1 instead. */
static void s_cnn_cols2(s_cnn_t *c, uint32_t nb, int back)
{
    const size_t run = (size_t)S_KS * c->k1, width = S_KS * run;
    for (uint32_t n = 0; n < nb; n++)
        for (uint32_t y = 0; y < c->c2; y++)
            for (uint32_t x = 0; x < c->c2; x++) {
                const size_t r = ((size_t)n * c->c2 + y) * c->c2 + x;
                for (uint32_t ky = 0; ky < S_KS; ky++) {
                    const size_t at = (((size_t)n * c->p1 + y + ky) * c->p1 + x) * c->k1;
                    if (back)
                        s_add_row(c->da1 + at, c->dcols2 + r * width + ky * run, run);
                    else
                        memcpy(c->cols2 + r * width + ky * run, c->a1 + at, run * sizeof *c->a1);
                }
            }
}

/* Copies src into dst between PyTorch's (k2, k1, 5, 5) layout of the second convolution's
 * weights and the (k2, 5, 5, k1) of the im2col rows: with to_rows from the first to the
 * second, otherwise back. */
static void s_cnn_taps(const s_cnn_t *c, const float *src, float *dst, int to_rows)
{
    for (uint32_t o = 0; o < c->k2; o++)
        for (uint32_t ch = 0; ch < c->k1; ch++)
            for (uint32_t tap = 0; tap < S_TAPS; tap++) {
                const size_t iw = ((size_t)o * c->k1 + ch) * S_TAPS + tap;
                const size_t it = ((size_t)o * S_TAPS + tap) * c->k1 + ch;
                dst[to_rows ? it : iw] = src[to_rows ? iw : it];
            }
}

/* 2x2 max pooling of z (nb, side, side, k) into out, position-major or, with chw set, as
 * (nb, k, side / 2, side / 2); arg[o] is the index in z of out[o] (the first maximum). */
static void s_cnn_pool(const float *z, uint32_t nb, uint32_t side, uint32_t k, int chw, float *out,
                       uint32_t *arg)
{
    const uint32_t p = side / 2;
    for (uint32_t n = 0; n < nb; n++)
        for (uint32_t py = 0; py < p; py++)
            for (uint32_t px = 0; px < p; px++)
                for (uint32_t ch = 0; ch < k; ch++) {
                    const size_t i0 = (((size_t)n * side + 2 * py) * side + 2 * px) * k + ch;
                    const size_t cand[3] = {i0 + k, i0 + (size_t)side * k,
                                            i0 + (size_t)side * k + k};
                    size_t best = i0;
                    for (int j = 0; j < 3; j++) best = z[cand[j]] > z[best] ? cand[j] : best;
                    const size_t o = chw ? (((size_t)n * k + ch) * p + py) * p + px
                                         : (((size_t)n * p + py) * p + px) * k + ch;
                    out[o] = z[best];
                    arg[o] = (uint32_t)best;
                }
}

/* dz = 0, then the gradient d of each pooled maximum to its place in z where z > 0 (the
 * ReLU's derivative). The pooling windows do not overlap, so no place gets two. */
static void s_cnn_unpool(const float *z, const float *d, const uint32_t *arg, size_t n_pooled,
                         float *dz, size_t n_z)
{
    memset(dz, 0, n_z * sizeof *dz);
    for (size_t o = 0; o < n_pooled; o++)
        if (z[arg[o]] > 0.0f) dz[arg[o]] = d[o];
}

/* The CNN's parameter views in params (or a gradient of the same layout). */
typedef struct {
    float *w1, *b1, *w2, *b2, *wf, *bf;
} s_cnn_params_t;

static s_cnn_params_t s_cnn_params(const rumor_model_t *m, const float *params)
{
    const s_cnn_t *c = &m->cnn;
    s_cnn_params_t v;
    v.w1 = (float *)params;
    v.b1 = v.w1 + (size_t)c->k1 * S_TAPS;
    v.w2 = v.b1 + c->k1;
    v.b2 = v.w2 + (size_t)c->k2 * c->k1 * S_TAPS;
    v.wf = v.b2 + c->k2;
    v.bf = v.wf + (size_t)m->spec.out * c->f;
    return v;
}

/* Runs the CNN on the nb <= block images x; returns the logits (nb, out). */
static float *s_cnn_forward(rumor_model_t *m, const float *params, const float *x, uint32_t nb)
{
    s_cnn_t *c = &m->cnn;
    const s_cnn_params_t w = s_cnn_params(m, params);
    const int out = (int)m->spec.out, k1 = (int)c->k1, k2 = (int)c->k2, f = (int)c->f;
    const int w2 = S_TAPS * k1, rows1 = (int)(nb * c->c1 * c->c1),
              rows2 = (int)(nb * c->c2 * c->c2);
    s_cnn_cols1(c, x, nb);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows1, k1, S_TAPS, 1.0f, c->cols1, S_TAPS,
                w.w1, S_TAPS, 0.0f, c->z1, k1);
    for (int r = 0; r < rows1; r++) s_bias_act_row(c->z1 + (size_t)r * k1, w.b1, (size_t)k1, 1);
    s_cnn_pool(c->z1, nb, c->c1, c->k1, 0, c->a1, c->arg1);
    s_cnn_cols2(c, nb, 0);
    s_cnn_taps(c, w.w2, c->w2t, 1);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows2, k2, w2, 1.0f, c->cols2, w2, c->w2t,
                w2, 0.0f, c->z2, k2);
    for (int r = 0; r < rows2; r++) s_bias_act_row(c->z2 + (size_t)r * k2, w.b2, (size_t)k2, 1);
    s_cnn_pool(c->z2, nb, c->c2, c->k2, 1, c->a2, c->arg2);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nb, out, f, 1.0f, c->a2, f, w.wf, f,
                0.0f, c->logits, out);
    for (uint32_t i = 0; i < nb; i++)
        s_bias_act_row(c->logits + (size_t)i * out, w.bf, (size_t)out, 0);
    return c->logits;
}

/* Backward pass of the block last run forward, from the gradient of its logits (in
 * c->logits) into grad, except the second convolution's weights, whose gradient goes to
 * c->g2t in tap order; acc adds instead of overwriting. */
static void s_cnn_backward(rumor_model_t *m, const float *params, uint32_t nb, float *grad, int acc)
{
    s_cnn_t *c = &m->cnn;
    const s_cnn_params_t w = s_cnn_params(m, params), g = s_cnn_params(m, grad);
    const int out = (int)m->spec.out, k1 = (int)c->k1, k2 = (int)c->k2, f = (int)c->f;
    const int w2 = S_TAPS * k1, rows1 = (int)(nb * c->c1 * c->c1),
              rows2 = (int)(nb * c->c2 * c->c2);
    const float beta = acc ? 1.0f : 0.0f;
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, out, f, (int)nb, 1.0f, c->logits, out,
                c->a2, f, beta, g.wf, f);
    s_col_sums(g.bf, c->logits, nb, (size_t)out, acc);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nb, f, out, 1.0f, c->logits, out,
                w.wf, f, 0.0f, c->da2, f);
    s_cnn_unpool(c->z2, c->da2, c->arg2, (size_t)nb * f, c->dz2, (size_t)rows2 * k2);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, k2, w2, rows2, 1.0f, c->dz2, k2, c->cols2,
                w2, beta, c->g2t, w2);
    s_col_sums(g.b2, c->dz2, (size_t)rows2, (size_t)k2, acc);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows2, w2, k2, 1.0f, c->dz2, k2, c->w2t,
                w2, 0.0f, c->dcols2, w2);
    memset(c->da1, 0, (size_t)nb * c->p1 * c->p1 * c->k1 * sizeof *c->da1);
    s_cnn_cols2(c, nb, 1);
    s_cnn_unpool(c->z1, c->da1, c->arg1, (size_t)nb * c->p1 * c->p1 * c->k1, c->dz1,
                 (size_t)rows1 * k1);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, k1, S_TAPS, rows1, 1.0f, c->dz1, k1,
                c->cols1, S_TAPS, beta, g.w1, S_TAPS);
    s_col_sums(g.b1, c->dz1, (size_t)rows1, (size_t)k1, acc);
}

static void s_check_labels(const rumor_model_t *m, const int32_t *y, uint32_t b)
{
    for (uint32_t i = 0; i < b; i++) RUMOR_ASSERT(y[i] >= 0 && (uint32_t)y[i] < m->spec.out);
}

float rumor_model_loss_grad(rumor_model_t *m, const float *params, const float *x, const int32_t *y,
                            uint32_t b, float *grad)
{
    RUMOR_ASSERT(b > 0 && b <= m->max_batch && m->spec.kind != RUMOR_MODEL_EXTERNAL);
    s_check_labels(m, y, b);
    const uint32_t L = m->nlayers, out = m->spec.out;
    const float inv_b = 1.0f / (float)b;
    double loss = 0.0;
    if (m->spec.kind == RUMOR_MODEL_CNN) {
        for (uint32_t start = 0; start < b; start += m->block) {
            const uint32_t nb = b - start < m->block ? b - start : m->block;
            float *z = s_cnn_forward(m, params, x + (size_t)start * m->spec.in, nb);
            for (uint32_t i = 0; i < nb; i++)
                loss +=
                    s_xent_row(z + (size_t)i * out, y[start + i], out, z + (size_t)i * out, inv_b);
            s_cnn_backward(m, params, nb, grad, start > 0);
        }
        s_cnn_taps(&m->cnn, m->cnn.g2t, s_cnn_params(m, grad).w2, 0);
        return (float)(loss / b);
    }
    float *g = s_forward(m, params, x, b);

    for (uint32_t i = 0; i < b; i++) {
        float *row = g + (size_t)i * out;
        loss += s_xent_row(row, y[i], out, row, inv_b);
    }

    for (uint32_t l = L; l-- > 0;) {
        const int in = (int)m->dims[l], o = (int)m->dims[l + 1];
        const float *a_in = l ? m->act[l - 1] : x;
        /* dW (o, in) = G^T (o, b) . A_in (b, in) */
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, o, in, (int)b, 1.0f, g, o, a_in, in,
                    0.0f, grad + m->w_off[l], in);
        float *db = grad + m->b_off[l];
        s_col_sums(db, g, b, (size_t)o, 0);
        if (l == 0) break;
        /* G_{l-1} = (G (b, o) . W (o, in)) * [A_{l-1} > 0], written over A_{l-1}. */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)b, in, o, 1.0f, g, o,
                    params + m->w_off[l], in, 0.0f, m->scratch, in);
        s_relu_mask(m->act[l - 1], m->scratch, (size_t)b * (size_t)in);
        g = m->act[l - 1];
    }
    return (float)(loss / b);
}

void rumor_model_evaluate(rumor_model_t *m, const float *params, const float *x, const int32_t *y,
                          uint32_t n, double *loss, double *acc)
{
    RUMOR_ASSERT(m->spec.kind != RUMOR_MODEL_EXTERNAL);
    const uint32_t out = m->spec.out, in = m->spec.in;
    double sum = 0.0;
    uint64_t correct = 0;
    for (uint64_t start = 0; start < n; start += m->block) {
        const uint32_t b = n - start < m->block ? (uint32_t)(n - start) : m->block;
        const int32_t *yb = y + start;
        s_check_labels(m, yb, b);
        const float *xb = x + (size_t)start * in;
        const float *z = m->spec.kind == RUMOR_MODEL_CNN ? s_cnn_forward(m, params, xb, b)
                                                         : s_forward(m, params, xb, b);
        for (uint32_t i = 0; i < b; i++) {
            const float *row = z + (size_t)i * out;
            sum += s_xent_row(row, yb[i], out, NULL, 0.0f);
            uint32_t best = 0;
            for (uint32_t j = 1; j < out; j++) best = row[j] > row[best] ? j : best;
            correct += best == (uint32_t)yb[i];
        }
    }
    if (loss) *loss = n ? sum / n : 0.0;
    if (acc) *acc = n ? (double)correct / n : 0.0;
}

double rumor_model_flops_per_step(const rumor_model_t *m, uint32_t b)
{
    /* GEMMs at 2 flops per multiply-add: forward and weight gradient for every layer, the
     * activation gradient for all but the input layer. Element-wise passes (bias, ReLU,
     * softmax, bias gradient) add a few flops per activation and are counted as 4. */
    double f = 0.0;
    if (m->spec.kind == RUMOR_MODEL_EXTERNAL) return 0.0; /* the caller's */
    if (m->spec.kind == RUMOR_MODEL_CNN) {
        /* forward GEMMs once, weight gradients once, input gradients for conv1 and fc */
        const s_cnn_t *c = &m->cnn;
        const double conv1 = (double)c->c1 * c->c1 * S_TAPS * c->k1;
        const double conv2 = (double)c->c2 * c->c2 * S_TAPS * c->k1 * c->k2;
        const double fc = (double)c->f * m->spec.out;
        const double act = (double)c->c1 * c->c1 * c->k1 + (double)c->c2 * c->c2 * c->k2;
        return 2.0 * b * (2.0 * conv1 + 3.0 * conv2 + 3.0 * fc) + 4.0 * b * (act + m->spec.out);
    }
    for (uint32_t l = 0; l < m->nlayers; l++) {
        const double mn = (double)m->dims[l] * m->dims[l + 1];
        f += 2.0 * b * mn * (l ? 3.0 : 2.0) + 4.0 * b * m->dims[l + 1];
    }
    return f;
}
