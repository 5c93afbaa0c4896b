/* rumor — softmax regression and ReLU MLP over one flat parameter vector (see model.h).
 *
 * Workload: rumor_model_loss_grad is called once per round per peer on a minibatch of
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
 * Determinism: every reduction runs in a fixed order and the GEMMs are OpenBLAS's, which is
 * bit-reproducible for a fixed thread count; the caller chooses that count.
 */
#include "rumor/model.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_MAX_LAYERS (RUMOR_MODEL_MAX_HIDDEN + 1)
/* Widths accepted by the spec parser; larger layers are better expressed as something else. */
#define S_MAX_WIDTH (1u << 20)

struct rumor_model {
    rumor_model_spec_t spec;
    uint32_t max_batch;
    uint32_t nlayers;
    uint32_t dims[S_MAX_LAYERS + 1]; /* dims[0] = in, dims[nlayers] = out */
    size_t w_off[S_MAX_LAYERS];      /* W_l offset in the parameter vector, in floats */
    size_t b_off[S_MAX_LAYERS];      /* b_l offset */
    size_t nparams;
    float *act[S_MAX_LAYERS]; /* (max_batch, dims[l + 1]): A_l, then G_l during backward */
    float *scratch;           /* (max_batch, max hidden width): G_l W_l; NULL for softmax */
    float *mem;               /* the one allocation behind act and scratch */
};

/* ---------------------------------------------------------------- spec */

/* Parses one decimal width in [1, S_MAX_WIDTH] from s; stops at ',' or the end. Digits only:
 * no sign, no spaces, so "mlp:-5" and "mlp: 5" are rejected rather than silently read. */
static int s_parse_width(const char **s_p, uint32_t *out)
{
    const char *s = *s_p;
    uint64_t v = 0;
    const char *p = s;
    for (; *p >= '0' && *p <= '9'; p++) {
        v = v * 10 + (uint64_t)(*p - '0');
        if (v > S_MAX_WIDTH) return -1;
    }
    if (p == s || (*p != ',' && *p != '\0') || v == 0) return -1;
    *out = (uint32_t)v;
    *s_p = p;
    return 0;
}

int rumor_model_spec_parse(const char *s, uint32_t in, uint32_t out, rumor_model_spec_t *spec,
                           rumor_errmsg_t *em)
{
    static const char *const forms = "expected softmax, mlp:H or mlp:H1,H2,...";
    if (!s || !*s) return rumor_errmsg_set(em, RUMOR_EINVAL, "model: empty spec (%s)", forms);
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
    } else {
        return rumor_errmsg_set(em, RUMOR_EINVAL, "model '%s': unknown model (%s)", s, forms);
    }
    *spec = sp;
    return 0;
}

void rumor_model_spec_describe(const rumor_model_spec_t *spec, char *buf, size_t len)
{
    if (!len) return;
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

/* ---------------------------------------------------------------- object */

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

rumor_model_t *rumor_model_new(const rumor_model_spec_t *spec, uint32_t max_batch)
{
    /* CBLAS takes int dimensions. */
    if (!spec || max_batch == 0 || max_batch > INT32_MAX) return NULL;
    if (spec->in == 0 || spec->in > INT32_MAX || spec->out < 2 || spec->out > INT32_MAX)
        return NULL;
    if (spec->kind != RUMOR_MODEL_SOFTMAX && spec->kind != RUMOR_MODEL_MLP) return NULL;
    const uint32_t nh = spec->kind == RUMOR_MODEL_MLP ? spec->n_hidden : 0;
    if (spec->kind == RUMOR_MODEL_MLP && (nh == 0 || nh > RUMOR_MODEL_MAX_HIDDEN)) return NULL;

    rumor_model_t *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    m->spec = *spec;
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
    return m;
fail:
    free(m);
    return NULL;
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

size_t rumor_model_tensors(const rumor_model_t *m, rumor_tensor_info_t *out, size_t cap)
{
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
    if (m->spec.kind == RUMOR_MODEL_SOFTMAX) return;
    /* He-uniform: U(-a, a) with a = sqrt(6 / fan_in) has variance 2 / fan_in, which keeps
     * the activation scale roughly constant through ReLU layers. */
    for (uint32_t l = 0; l < m->nlayers; l++) {
        const float a = (float)sqrt(6.0 / m->dims[l]);
        float *w = params + m->w_off[l];
        const size_t n = (size_t)m->dims[l + 1] * m->dims[l];
        for (size_t i = 0; i < n; i++) w[i] = a * (2.0f * rumor_rng_uniform(rng) - 1.0f);
    }
}

/* ---------------------------------------------------------------- forward / backward */

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

/* a[k] = a[k] > 0 ? s[k] : 0 over n floats: the ReLU derivative applied to s, stored in a. */
static void s_relu_mask(float *restrict a, const float *restrict s, size_t n)
{
    for (; n >= S_BLOCK; n -= S_BLOCK, a += S_BLOCK, s += S_BLOCK)
        for (int k = 0; k < S_BLOCK; k++) a[k] = a[k] > 0.0f ? s[k] : 0.0f;
    for (size_t k = 0; k < n; k++) a[k] = a[k] > 0.0f ? s[k] : 0.0f;
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

static void s_check_labels(const rumor_model_t *m, const int32_t *y, uint32_t b)
{
    for (uint32_t i = 0; i < b; i++) RUMOR_ASSERT(y[i] >= 0 && (uint32_t)y[i] < m->spec.out);
}

float rumor_model_loss_grad(rumor_model_t *m, const float *params, const float *x, const int32_t *y,
                            uint32_t b, float *grad)
{
    RUMOR_ASSERT(b > 0 && b <= m->max_batch);
    s_check_labels(m, y, b);
    const uint32_t L = m->nlayers, out = m->spec.out;
    float *g = s_forward(m, params, x, b);

    const float inv_b = 1.0f / (float)b;
    double loss = 0.0;
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
        memcpy(db, g, (size_t)o * sizeof *db);
        for (uint32_t i = 1; i < b; i++) s_add_row(db, g + (size_t)i * o, (uint32_t)o);
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
    const uint32_t out = m->spec.out, in = m->spec.in;
    double sum = 0.0;
    uint64_t correct = 0;
    for (uint64_t start = 0; start < n; start += m->max_batch) {
        const uint32_t b = n - start < m->max_batch ? (uint32_t)(n - start) : m->max_batch;
        const int32_t *yb = y + start;
        s_check_labels(m, yb, b);
        const float *z = s_forward(m, params, x + (size_t)start * in, b);
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
    for (uint32_t l = 0; l < m->nlayers; l++) {
        const double mn = (double)m->dims[l] * m->dims[l + 1];
        f += 2.0 * b * mn * (l ? 3.0 : 2.0) + 4.0 * b * m->dims[l + 1];
    }
    return f;
}
