/* Tests for the model module: gradients against finite differences of a double-precision
 * reference forward pass, parameter layout, initialisation, end-to-end training on a
 * separable problem, evaluate/loss_grad agreement, determinism and spec parsing; and the
 * `rumor bench train` entry point built on it. */
#include "rumor/bench.h"
#include "rumor/model.h"
#include "rumor/rng.h"

#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

static rumor_model_spec_t s_spec(const char *str, uint32_t in, uint32_t out)
{
    rumor_model_spec_t spec;
    rumor_errmsg_t em = {{0}};
    const int rc = rumor_model_spec_parse(str, in, out, &spec, &em);
    if (rc != 0) fail_msg("spec '%s': %s", str, em.msg);
    return spec;
}

static void s_fill(rumor_rng_t *r, float *x, size_t n, float lo, float hi)
{
    for (size_t i = 0; i < n; i++) x[i] = lo + (hi - lo) * rumor_rng_uniform(r);
}

/* Cross-entropy of one row of double logits z (out) with label y. */
static double s_ref_xent(const double *z, uint32_t out, int32_t y)
{
    double mx = z[0];
    for (uint32_t j = 1; j < out; j++) mx = fmax(mx, z[j]);
    double se = 0.0;
    for (uint32_t j = 0; j < out; j++) se += exp(z[j] - mx);
    return mx + log(se) - z[y];
}

/* One valid 5x5 convolution, ReLU and 2x2 max pooling (floor) of in (ci, side, side) with w
 * (co, ci, 5, 5) and b (co), PyTorch's layouts, into out (co, p, p), p = (side - 4) / 2. */
static void s_ref_conv_pool(const double *in, uint32_t ci, uint32_t side, const double *w,
                            const double *b, uint32_t co, double *out)
{
    const uint32_t c = side - 4, p = c / 2;
    for (uint32_t o = 0; o < co; o++)
        for (uint32_t py = 0; py < p; py++)
            for (uint32_t px = 0; px < p; px++) {
                double best = -INFINITY;
                for (uint32_t dy = 0; dy < 2; dy++)
                    for (uint32_t dx = 0; dx < 2; dx++) {
                        const uint32_t y = 2 * py + dy, x = 2 * px + dx;
                        double z = b[o];
                        for (uint32_t i = 0; i < ci; i++)
                            for (uint32_t ky = 0; ky < 5; ky++)
                                for (uint32_t kx = 0; kx < 5; kx++)
                                    z += w[((o * ci + i) * 5 + ky) * 5 + kx] *
                                         in[(i * side + y + ky) * side + x + kx];
                        best = fmax(best, fmax(z, 0.0));
                    }
                out[(o * p + py) * p + px] = best;
            }
}

/* The CNN's loss by direct convolution in double, from its documented tensors: conv0 (k1, 1,
 * 5, 5), conv0 bias, conv1 (k2, k1, 5, 5), conv1 bias, fc0 (out, k2 p2 p2) over the pooled
 * maps flattened channel by channel, fc0 bias. */
static double s_ref_cnn_loss(const rumor_model_spec_t *sp, const double *p, const float *x,
                             const int32_t *y, uint32_t b)
{
    uint32_t s = 1;
    while (s * s < sp->in) s++;
    const uint32_t k1 = sp->hidden[0], k2 = sp->hidden[1];
    const uint32_t p1 = (s - 4) / 2, p2 = (p1 - 4) / 2, f = k2 * p2 * p2;
    const double *w1 = p, *b1 = w1 + k1 * 25, *w2 = b1 + k1, *b2 = w2 + k2 * k1 * 25;
    const double *wf = b2 + k2, *bf = wf + (size_t)sp->out * f;
    double *img = malloc(sp->in * sizeof *img), *a1 = malloc(k1 * p1 * p1 * sizeof *a1);
    double *a2 = malloc(f * sizeof *a2), *z = malloc(sp->out * sizeof *z);
    double total = 0.0;
    for (uint32_t r = 0; r < b; r++) {
        for (uint32_t k = 0; k < sp->in; k++) img[k] = x[(size_t)r * sp->in + k];
        s_ref_conv_pool(img, 1, s, w1, b1, k1, a1);
        s_ref_conv_pool(a1, k1, p1, w2, b2, k2, a2);
        for (uint32_t j = 0; j < sp->out; j++) {
            z[j] = bf[j];
            for (uint32_t i = 0; i < f; i++) z[j] += wf[(size_t)j * f + i] * a2[i];
        }
        total += s_ref_xent(z, sp->out, y[r]);
    }
    free(img), free(a1), free(a2), free(z);
    return total / b;
}

/* Plain double-precision forward pass and mean cross-entropy, written independently of
 * model.c from the documented layout: per layer W (out, in) row-major, then b (out). */
static double s_ref_loss(const rumor_model_spec_t *sp, const double *p, const float *x,
                         const int32_t *y, uint32_t b)
{
    if (sp->kind == RUMOR_MODEL_CNN) return s_ref_cnn_loss(sp, p, x, y, b);
    uint32_t dims[RUMOR_MODEL_MAX_HIDDEN + 2];
    uint32_t L = 0;
    dims[L++] = sp->in;
    for (uint32_t i = 0; i < sp->n_hidden; i++) dims[L++] = sp->hidden[i];
    dims[L] = sp->out;
    double total = 0.0;
    double a[256], z[256];
    for (uint32_t l = 0; l <= L; l++) assert_true(dims[l] <= 256);
    for (uint32_t r = 0; r < b; r++) {
        for (uint32_t k = 0; k < sp->in; k++) a[k] = x[(size_t)r * sp->in + k];
        const double *w = p;
        for (uint32_t l = 0; l < L; l++) {
            const uint32_t in = dims[l], out = dims[l + 1];
            const double *bias = w + (size_t)in * out;
            for (uint32_t j = 0; j < out; j++) {
                double s = bias[j];
                for (uint32_t k = 0; k < in; k++) s += w[(size_t)j * in + k] * a[k];
                z[j] = (l + 1 < L && s < 0.0) ? 0.0 : s;
            }
            memcpy(a, z, out * sizeof *a);
            w = bias + out;
        }
        total += s_ref_xent(a, sp->out, y[r]);
    }
    return total / b;
}

/* Compares loss_grad's gradient with central differences of the reference loss in double, for
 * every parameter. The float gradient should match to about float precision; a wrong index,
 * transpose or missing term gives errors of order one. */
static void s_check_grad(const char *str, uint32_t in, uint32_t out, uint32_t max_batch, uint32_t b,
                         uint64_t seed)
{
    const rumor_model_spec_t sp = s_spec(str, in, out);
    rumor_model_t *m = rumor_model_new(&sp, max_batch);
    assert_non_null(m);
    const size_t n = rumor_model_nparams(m);
    float *params = malloc(n * sizeof *params), *grad = malloc(n * sizeof *grad);
    double *pd = calloc(n, sizeof *pd), *fd = calloc(n, sizeof *fd);
    float *x = malloc((size_t)b * in * sizeof *x);
    int32_t *y = malloc(b * sizeof *y);
    rumor_rng_t r;
    rumor_rng_seed(&r, seed, 0, 0, RUMOR_RNG_TEST);
    s_fill(&r, params, n, -0.8f, 0.8f);
    s_fill(&r, x, (size_t)b * in, -1.0f, 1.0f);
    for (uint32_t i = 0; i < b; i++) y[i] = (int32_t)rumor_rng_below(&r, out);
    for (size_t k = 0; k < n; k++) pd[k] = params[k];

    const float loss = rumor_model_loss_grad(m, params, x, y, b, grad);
    const double ref = s_ref_loss(&sp, pd, x, y, b);
    assert_true(fabs(loss - ref) <= 1e-5 * fmax(1.0, fabs(ref)));

    const double h = 1e-6;
    double num = 0.0, den = 0.0, gmax = 0.0;
    for (size_t k = 0; k < n; k++) {
        const double v = pd[k];
        pd[k] = v + h;
        const double lp = s_ref_loss(&sp, pd, x, y, b);
        pd[k] = v - h;
        const double lm = s_ref_loss(&sp, pd, x, y, b);
        pd[k] = v;
        fd[k] = (lp - lm) / (2.0 * h);
        gmax = fmax(gmax, fabs(fd[k]));
    }
    assert_true(gmax > 1e-3); /* a vanishing gradient would make the check vacuous */
    for (size_t k = 0; k < n; k++) {
        const double e = fabs(grad[k] - fd[k]);
        /* relative error per parameter, with a floor for entries near zero */
        if (e > 2e-4 * fabs(fd[k]) + 2e-6 * gmax)
            fail_msg("%s: param %zu: grad %.8g, finite difference %.8g", str, k, grad[k], fd[k]);
        num += e * e;
        den += fd[k] * fd[k];
    }
    assert_true(sqrt(num / den) < 2e-5);

    rumor_model_destroy(&m);
    assert_null(m);
    free(params), free(grad), free(pd), free(fd), free(x), free(y);
}

static void test_grad_softmax(void **state)
{
    (void)state;
    s_check_grad("softmax", 7, 4, 8, 5, 1);
    s_check_grad("softmax", 13, 2, 3, 3, 2);
}

static void test_grad_mlp(void **state)
{
    (void)state;
    s_check_grad("mlp:9", 6, 3, 8, 8, 3);
    s_check_grad("mlp:5,4", 6, 3, 16, 7, 4);
    s_check_grad("mlp:12,7,5", 10, 4, 8, 1, 5);
    /* Hidden layers of 32 and 48 lanes: the ReLU backward runs whole blocks of 16 with mixed
     * signs in each half, where a masked-load miscompilation picked up stale values. */
    for (uint64_t seed = 6; seed < 10; seed++) s_check_grad("mlp:48,32", 20, 5, 16, 16, seed);
}

/* 16x16: the smallest image; 40 rows: two blocks of the batch; 17x17: pooling drops the last
 * row and column of odd maps. */
static void test_grad_cnn(void **state)
{
    (void)state;
    s_check_grad("cnn:2,3", 256, 4, 64, 5, 6);
    s_check_grad("cnn:2,3", 256, 3, 64, 40, 7);
    s_check_grad("cnn:3,4", 400, 5, 8, 3, 8);
    s_check_grad("cnn:2,2", 289, 3, 4, 2, 9);
}

static void test_layout(void **state)
{
    (void)state;
    const rumor_model_spec_t sp = s_spec("mlp:128", 784, 10);
    rumor_model_t *m = rumor_model_new(&sp, 64);
    assert_non_null(m);
    assert_int_equal(rumor_model_nparams(m), 784 * 128 + 128 + 128 * 10 + 10);
    assert_int_equal(rumor_model_tensors(m, NULL, 0), 4);
    rumor_model_destroy(&m);

    const rumor_model_spec_t sp3 = s_spec("mlp:32,16,8", 20, 5);
    m = rumor_model_new(&sp3, 4);
    assert_non_null(m);
    rumor_tensor_info_t t[8];
    const size_t nt = rumor_model_tensors(m, t, 8);
    assert_int_equal(nt, 8);
    const uint32_t dims[] = {20, 32, 16, 8, 5};
    size_t off = 0;
    for (size_t i = 0; i < nt; i++) {
        char name[32];
        snprintf(name, sizeof name, "fc%zu.%s", i / 2, i % 2 ? "bias" : "weight");
        assert_string_equal(t[i].name, name);
        assert_int_equal(t[i].offset, off);
        if (i % 2 == 0) {
            assert_int_equal(t[i].ndim, 2);
            assert_int_equal(t[i].shape[0], dims[i / 2 + 1]);
            assert_int_equal(t[i].shape[1], dims[i / 2]);
            assert_int_equal(t[i].count, (size_t)t[i].shape[0] * t[i].shape[1]);
        } else {
            assert_int_equal(t[i].ndim, 1);
            assert_int_equal(t[i].shape[0], dims[i / 2 + 1]);
            assert_int_equal(t[i].count, t[i].shape[0]);
        }
        off += t[i].count;
    }
    assert_int_equal(off, rumor_model_nparams(m));
    /* cap smaller than the count: only cap entries written, the count still returned */
    rumor_tensor_info_t two[3];
    memset(&two[2], 0x5a, sizeof two[2]);
    assert_int_equal(rumor_model_tensors(m, two, 2), 8);
    assert_string_equal(two[1].name, "fc0.bias");
    assert_int_equal(two[2].ndim, 0x5a5a5a5a);
    rumor_model_destroy(&m);

    /* The CNN's tensors in PyTorch's shapes: conv (out, in, 5, 5), then fc over 16 x 4 x 4. */
    const rumor_model_spec_t sc = s_spec("cnn:8,16", 784, 10);
    m = rumor_model_new(&sc, 64);
    assert_non_null(m);
    assert_int_equal(rumor_model_tensors(m, t, 8), 6);
    static const struct {
        const char *name;
        uint32_t ndim, shape[4];
    } cnn[] = {{"conv0.weight", 4, {8, 1, 5, 5}},  {"conv0.bias", 1, {8}},
               {"conv1.weight", 4, {16, 8, 5, 5}}, {"conv1.bias", 1, {16}},
               {"fc0.weight", 2, {10, 256}},       {"fc0.bias", 1, {10}}};
    off = 0;
    for (size_t i = 0; i < 6; i++) {
        assert_string_equal(t[i].name, cnn[i].name);
        assert_int_equal(t[i].ndim, cnn[i].ndim);
        size_t count = 1;
        for (uint32_t k = 0; k < cnn[i].ndim; k++) {
            assert_int_equal(t[i].shape[k], cnn[i].shape[k]);
            count *= cnn[i].shape[k];
        }
        assert_int_equal(t[i].count, count);
        assert_int_equal(t[i].offset, off);
        off += count;
    }
    assert_int_equal(rumor_model_nparams(m), off);
    assert_int_equal(off, 208 + 3216 + 2570);
    rumor_model_destroy(&m);

    const rumor_model_spec_t ss = s_spec("softmax", 784, 10);
    m = rumor_model_new(&ss, 1);
    assert_int_equal(rumor_model_nparams(m), 7850);
    assert_int_equal(rumor_model_tensors(m, t, 8), 2);
    assert_string_equal(t[0].name, "fc0.weight");
    assert_int_equal(t[1].offset, 7840);
    assert_int_equal(rumor_model_spec(m)->kind, RUMOR_MODEL_SOFTMAX);
    rumor_model_destroy(&m);
    rumor_model_destroy(&m); /* NULL is fine */
    rumor_model_destroy(NULL);
}

/* rumor_model_create's code for sp and max_batch, checking that a failure leaves no model. */
static int s_create_rc(const rumor_model_spec_t *sp, uint32_t max_batch)
{
    static char sentinel;
    rumor_model_t *m = (rumor_model_t *)(void *)&sentinel;
    const int rc = rumor_model_create(sp, max_batch, &m);
    if (rc) assert_null(m);
    rumor_model_destroy(&m);
    return rc;
}

static void test_new_rejects(void **state)
{
    (void)state;
    rumor_model_spec_t sp = s_spec("mlp:4", 3, 2);
    assert_int_equal(s_create_rc(&sp, 4), 0);
    assert_int_equal(s_create_rc(&sp, 0), RUMOR_EINVAL);
    assert_int_equal(s_create_rc(NULL, 4), RUMOR_EINVAL);
    sp.hidden[0] = 0;
    assert_int_equal(s_create_rc(&sp, 4), RUMOR_EINVAL);
    assert_null(rumor_model_new(&sp, 4));
    sp = s_spec("mlp:4", 3, 2);
    sp.n_hidden = RUMOR_MODEL_MAX_HIDDEN + 1;
    assert_int_equal(s_create_rc(&sp, 4), RUMOR_EINVAL);
    sp.n_hidden = 0;
    assert_int_equal(s_create_rc(&sp, 4), RUMOR_EINVAL);
    sp = s_spec("softmax", 3, 2);
    sp.out = 1;
    assert_int_equal(s_create_rc(&sp, 4), RUMOR_EINVAL);
    sp = s_spec("softmax", 3, 2);
    sp.kind = (rumor_model_kind_t)7;
    assert_int_equal(s_create_rc(&sp, 4), RUMOR_EINVAL);
    sp = s_spec("cnn:2,3", 256, 4);
    assert_int_equal(s_create_rc(&sp, 4), 0);
    sp.hidden[1] = 0;
    assert_int_equal(s_create_rc(&sp, 4), RUMOR_EINVAL);
    sp = s_spec("external:5", 0, 0);
    assert_int_equal(s_create_rc(&sp, 4), 0);
    sp.in = 0;
    assert_int_equal(s_create_rc(&sp, 4), RUMOR_EINVAL);
}

static void test_zero_softmax_loss(void **state)
{
    (void)state;
    const uint32_t in = 30, out = 10, b = 16;
    const rumor_model_spec_t sp = s_spec("softmax", in, out);
    rumor_model_t *m = rumor_model_new(&sp, b);
    const size_t n = rumor_model_nparams(m);
    float *params = malloc(n * sizeof *params), *grad = malloc(n * sizeof *grad);
    float x[16 * 30];
    int32_t y[16];
    rumor_rng_t r;
    rumor_rng_seed(&r, 7, 0, 0, RUMOR_RNG_TEST);
    s_fill(&r, params, n, -1.0f, 1.0f);
    rumor_model_init(m, params, &r);
    for (size_t k = 0; k < n; k++) assert_true(params[k] == 0.0f);
    s_fill(&r, x, b * in, 0.0f, 1.0f);
    for (uint32_t i = 0; i < b; i++) y[i] = (int32_t)(i % 3);
    const float loss = rumor_model_loss_grad(m, params, x, y, b, grad);
    assert_float_equal(loss, log(10.0), 1e-6);
    /* bias gradient at zero is mean(1/C - onehot): 0.1 - (count of class j)/b */
    const float *db = grad + (size_t)in * out;
    const int cnt[10] = {6, 5, 5};
    for (uint32_t j = 0; j < out; j++) assert_float_equal(db[j], 0.1 - cnt[j] / 16.0, 1e-6);
    double l, acc;
    rumor_model_evaluate(m, params, x, y, b, &l, &acc);
    assert_float_equal(l, log(10.0), 1e-6);
    rumor_model_destroy(&m);
    free(params), free(grad);
}

/* Initialisation of spec: deterministic, biases zero, each weight tensor He-uniform for its
 * fan-in (count over output size: in, or in channels x 25). */
static void s_check_init(const char *spec, uint32_t in, uint32_t out)
{
    const rumor_model_spec_t sp = s_spec(spec, in, out);
    rumor_model_t *m = rumor_model_new(&sp, 8);
    const size_t n = rumor_model_nparams(m);
    float *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
    rumor_rng_t r1, r2;
    rumor_rng_seed(&r1, 11, 0, 0, RUMOR_RNG_INIT);
    rumor_rng_seed(&r2, 11, 0, 0, RUMOR_RNG_INIT);
    memset(b, 0x7f, n * sizeof *b); /* init must overwrite everything */
    rumor_model_init(m, a, &r1);
    rumor_model_init(m, b, &r2);
    assert_memory_equal(a, b, n * sizeof *a);
    rumor_tensor_info_t t[8];
    const size_t nt = rumor_model_tensors(m, t, 8);
    assert_int_equal(nt, 6);
    for (size_t i = 0; i < nt; i++) {
        const float *p = a + t[i].offset;
        if (t[i].ndim == 1) {
            for (size_t k = 0; k < t[i].count; k++) assert_true(p[k] == 0.0f);
            continue;
        }
        const double fan_in = (double)t[i].count / t[i].shape[0], bound = sqrt(6.0 / fan_in);
        double s = 0.0, s2 = 0.0;
        for (size_t k = 0; k < t[i].count; k++) {
            assert_true(fabs(p[k]) <= bound);
            s += p[k];
            s2 += (double)p[k] * p[k];
        }
        const double mean = s / t[i].count, var = s2 / t[i].count;
        /* He: variance 2 / fan_in; loose bounds cover the sampling error of >= 200 draws */
        assert_true(fabs(mean) < 0.2 * bound);
        assert_true(var > 0.75 * 2.0 / fan_in && var < 1.25 * 2.0 / fan_in);
    }
    rumor_model_destroy(&m);
    free(a), free(b);
}

static void test_init(void **state)
{
    (void)state;
    s_check_init("mlp:64,32", 200, 10);
    s_check_init("cnn:8,16", 784, 10);
}

/* Gaussian blobs around well separated class means: linearly separable in practice. */
static void s_blobs(uint64_t sample_seed, uint32_t n, uint32_t dim, uint32_t classes, float *x,
                    int32_t *y)
{
    rumor_rng_t r;
    rumor_rng_seed(&r, 21, 0, 0, RUMOR_RNG_TEST);
    float means[8 * 16];
    for (uint32_t c = 0; c < classes; c++)
        for (uint32_t k = 0; k < dim; k++) means[c * dim + k] = 3.0f * (float)rumor_rng_normal(&r);
    rumor_rng_seed(&r, sample_seed, 1, 0, RUMOR_RNG_TEST);
    for (uint32_t i = 0; i < n; i++) {
        const uint32_t c = (uint32_t)rumor_rng_below(&r, classes);
        y[i] = (int32_t)c;
        for (uint32_t k = 0; k < dim; k++)
            x[(size_t)i * dim + k] = means[c * dim + k] + (float)rumor_rng_normal(&r);
    }
}

static void s_train(const char *str, double min_acc)
{
    enum { N = 2000, TEST = 1000, DIM = 16, C = 5, B = 32 };
    static float x[N * DIM], xt[TEST * DIM];
    static int32_t y[N], yt[TEST];
    s_blobs(1, N, DIM, C, x, y);
    s_blobs(2, TEST, DIM, C, xt, yt); /* same class means, fresh samples */
    const rumor_model_spec_t sp = s_spec(str, DIM, C);
    rumor_model_t *m = rumor_model_new(&sp, B);
    const size_t n = rumor_model_nparams(m);
    float *p = malloc(n * sizeof *p), *g = malloc(n * sizeof *g);
    rumor_rng_t r;
    rumor_rng_seed(&r, 5, 0, 0, RUMOR_RNG_INIT);
    rumor_model_init(m, p, &r);
    double loss0, acc0, loss1, acc1;
    rumor_model_evaluate(m, p, xt, yt, TEST, &loss0, &acc0);
    for (int epoch = 0; epoch < 5; epoch++) {
        for (uint32_t s = 0; s + B <= N; s += B) {
            const float l = rumor_model_loss_grad(m, p, x + (size_t)s * DIM, y + s, B, g);
            assert_true(isfinite(l));
            for (size_t k = 0; k < n; k++) p[k] -= 0.05f * g[k];
        }
    }
    rumor_model_evaluate(m, p, xt, yt, TEST, &loss1, &acc1);
    if (!(acc1 > min_acc) || !(loss1 < 0.5 * loss0))
        fail_msg("%s: accuracy %.3f -> %.3f, loss %.3f -> %.3f", str, acc0, acc1, loss0, loss1);
    rumor_model_destroy(&m);
    free(p), free(g);
}

static void test_train_separable(void **state)
{
    (void)state;
    s_train("softmax", 0.95);
    s_train("mlp:32", 0.95);
    s_train("mlp:32,16", 0.95);
}

/* evaluate in chunks of max_batch agrees with one loss_grad over all rows, and its accuracy
 * agrees with argmax of the double reference. */
static void test_evaluate_consistent(void **state)
{
    (void)state;
    enum { N = 103, IN = 12, OUT = 6 };
    const rumor_model_spec_t sp = s_spec("mlp:10", IN, OUT);
    rumor_model_t *big = rumor_model_new(&sp, N), *small = rumor_model_new(&sp, 16);
    const size_t n = rumor_model_nparams(big);
    float *p = malloc(n * sizeof *p), *g = malloc(n * sizeof *g);
    float x[N * IN];
    int32_t y[N];
    rumor_rng_t r;
    rumor_rng_seed(&r, 9, 0, 0, RUMOR_RNG_TEST);
    s_fill(&r, p, n, -0.7f, 0.7f);
    s_fill(&r, x, N * IN, -1.0f, 1.0f);
    for (int i = 0; i < N; i++) y[i] = (int32_t)rumor_rng_below(&r, OUT);
    const float lg = rumor_model_loss_grad(big, p, x, y, N, g);
    double le, acc;
    rumor_model_evaluate(small, p, x, y, N, &le, &acc);
    assert_float_equal(le, lg, 1e-5 * fabs(lg));

    /* accuracy: label each row with its reference argmax for one half, something else for
     * the other, so the expected accuracy is exactly known */
    double *pd = malloc(n * sizeof *pd);
    for (size_t k = 0; k < n; k++) pd[k] = p[k];
    int expect = 0;
    for (int i = 0; i < N; i++) {
        double best = -INFINITY;
        int32_t arg = 0;
        for (int32_t c = 0; c < OUT; c++) {
            const int32_t yc = c;
            /* the class minimising the row's loss is its argmax */
            const double l = s_ref_loss(&sp, pd, x + i * IN, &yc, 1);
            if (-l > best) best = -l, arg = c;
        }
        y[i] = i % 2 ? arg : (arg + 1) % OUT;
        expect += i % 2;
    }
    rumor_model_evaluate(small, p, x, y, N, &le, &acc);
    assert_float_equal(acc, (double)expect / N, 1e-12);
    rumor_model_evaluate(small, p, x, y, 0, &le, &acc);
    assert_true(le == 0.0 && acc == 0.0);

    rumor_model_destroy(&big);
    rumor_model_destroy(&small);
    free(p), free(g), free(pd);
}

static void test_deterministic(void **state)
{
    (void)state;
    enum { B = 64, IN = 784, OUT = 10 };
    const rumor_model_spec_t sp = s_spec("mlp:128,64", IN, OUT);
    rumor_model_t *m1 = rumor_model_new(&sp, B), *m2 = rumor_model_new(&sp, B);
    const size_t n = rumor_model_nparams(m1);
    float *p = malloc(n * sizeof *p), *g1 = malloc(n * sizeof *g1), *g2 = malloc(n * sizeof *g2);
    float *x = malloc((size_t)B * IN * sizeof *x);
    int32_t y[B];
    rumor_rng_t r;
    rumor_rng_seed(&r, 3, 0, 0, RUMOR_RNG_INIT);
    rumor_model_init(m1, p, &r);
    s_fill(&r, x, (size_t)B * IN, 0.0f, 1.0f);
    for (int i = 0; i < B; i++) y[i] = (int32_t)rumor_rng_below(&r, OUT);
    const float l1 = rumor_model_loss_grad(m1, p, x, y, B, g1);
    memset(g2, 0xff, n * sizeof *g2); /* grad is overwritten, not accumulated */
    const float l2 = rumor_model_loss_grad(m1, p, x, y, B, g2);
    assert_memory_equal(&l1, &l2, sizeof l1);
    assert_memory_equal(g1, g2, n * sizeof *g1);
    /* a different object, after a call on a smaller batch left other data in its workspace */
    rumor_model_loss_grad(m2, p, x + IN, y + 1, 17, g2);
    const float l3 = rumor_model_loss_grad(m2, p, x, y, B, g2);
    assert_memory_equal(&l1, &l3, sizeof l1);
    assert_memory_equal(g1, g2, n * sizeof *g1);
    double e1, a1, e2, a2;
    rumor_model_evaluate(m1, p, x, y, B, &e1, &a1);
    rumor_model_evaluate(m2, p, x, y, B, &e2, &a2);
    assert_memory_equal(&e1, &e2, sizeof e1);
    assert_memory_equal(&a1, &a2, sizeof a1);
    rumor_model_destroy(&m1);
    rumor_model_destroy(&m2);
    free(p), free(g1), free(g2), free(x);
}

static void test_spec_parse(void **state)
{
    (void)state;
    rumor_model_spec_t sp;
    rumor_errmsg_t em;
    char buf[128];
    assert_int_equal(rumor_model_spec_parse("softmax", 784, 10, &sp, NULL), 0);
    assert_int_equal(sp.kind, RUMOR_MODEL_SOFTMAX);
    assert_int_equal(sp.in, 784);
    assert_int_equal(sp.out, 10);
    assert_int_equal(sp.n_hidden, 0);
    rumor_model_spec_describe(&sp, buf, sizeof buf);
    assert_string_equal(buf, "softmax 784-10");

    assert_int_equal(rumor_model_spec_parse("mlp:128", 784, 10, &sp, NULL), 0);
    assert_int_equal(sp.kind, RUMOR_MODEL_MLP);
    assert_int_equal(sp.n_hidden, 1);
    assert_int_equal(sp.hidden[0], 128);
    rumor_model_spec_describe(&sp, buf, sizeof buf);
    assert_string_equal(buf, "mlp 784-128-10");

    assert_int_equal(rumor_model_spec_parse("mlp:256,128", 784, 10, &sp, NULL), 0);
    assert_int_equal(sp.n_hidden, 2);
    assert_int_equal(sp.hidden[0], 256);
    assert_int_equal(sp.hidden[1], 128);
    rumor_model_spec_describe(&sp, buf, sizeof buf);
    assert_string_equal(buf, "mlp 784-256-128-10");
    rumor_model_spec_describe(&sp, buf, 9); /* truncates, stays terminated */
    assert_string_equal(buf, "mlp 784-");

    assert_int_equal(rumor_model_spec_parse("mlp:1,2,3,4,5,6,7,8", 5, 2, &sp, NULL), 0);
    assert_int_equal(sp.n_hidden, 8);
    assert_int_equal(sp.hidden[7], 8);

    static const struct {
        const char *s;
        const char *needle; /* must appear in the message */
    } bad[] = {
        {"", "empty"},
        {"mlp", "missing hidden widths"},
        {"mlp:", "hidden width 1"},
        {"mlp:0", "hidden width 1 ('0')"},
        {"mlp:12x", "'12x'"},
        {"mlp:128,", "hidden width 2"},
        {"mlp:,128", "hidden width 1"},
        {"mlp:-5", "'-5'"},
        {"mlp: 5", "' 5'"},
        {"mlp:99999999999999999999", "hidden width 1"},
        {"mlp:1,2,3,4,5,6,7,8,9", "more than 8 hidden layers"},
        {"mlp:1048576,1048576", "1.1e+12 parameters (4401 GB as float32) will not fit"},
        {"softmax:3", "unknown model"},
        {"Softmax", "unknown model"},
        {"cnn", "missing channel counts"},
        {"cnn:8", "expected cnn:C1,C2"},
        {"cnn:8,16,4", "expected cnn:C1,C2"},
        {"cnn:0,4", "expected cnn:C1,C2"},
        {"cnn:8,1025", "from 1 to 1024"},
        {"cnn:8,", "expected cnn:C1,C2"},
        {"conv", "unknown model"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(&sp, 0x33, sizeof sp);
        const rumor_model_spec_t before = sp;
        em.msg[0] = '\0';
        assert_int_equal(rumor_model_spec_parse(bad[i].s, 784, 10, &sp, &em), RUMOR_EINVAL);
        if (!strstr(em.msg, bad[i].needle))
            fail_msg("'%s': message '%s' lacks '%s'", bad[i].s, em.msg, bad[i].needle);
        assert_memory_equal(&sp, &before, sizeof sp); /* untouched on failure */
        assert_int_equal(rumor_model_spec_parse(bad[i].s, 784, 10, &sp, NULL), RUMOR_EINVAL);
    }
    assert_int_equal(rumor_model_spec_parse("cnn:8,16", 784, 10, &sp, NULL), 0);
    assert_int_equal(sp.kind, RUMOR_MODEL_CNN);
    rumor_model_spec_describe(&sp, buf, sizeof buf);
    assert_string_equal(buf, "cnn 28x28-c8-c16-10");
    const uint32_t not_images[] = {20, 783, 225, 1025 * 1025};
    for (size_t i = 0; i < sizeof not_images / sizeof *not_images; i++) {
        assert_int_equal(rumor_model_spec_parse("cnn:8,16", not_images[i], 10, &sp, &em),
                         RUMOR_EINVAL);
        assert_non_null(strstr(em.msg, "needs square single-channel images from 16x16"));
    }
    assert_int_equal(rumor_model_spec_parse(NULL, 784, 10, &sp, NULL), RUMOR_EINVAL);
    assert_int_equal(rumor_model_spec_parse("softmax", 0, 10, &sp, &em), RUMOR_EINVAL);
    assert_non_null(strstr(em.msg, "input size"));
    assert_int_equal(rumor_model_spec_parse("softmax", 784, 1, &sp, &em), RUMOR_EINVAL);
    assert_non_null(strstr(em.msg, "2 classes"));
}

static void test_flops(void **state)
{
    (void)state;
    const rumor_model_spec_t sp = s_spec("mlp:128", 784, 10);
    rumor_model_t *m = rumor_model_new(&sp, 64);
    /* GEMMs: forward and dW for both layers, dA for the output layer only */
    const double gemm = 2.0 * 64 * (2.0 * 784 * 128 + 3.0 * 128 * 10);
    const double f = rumor_model_flops_per_step(m, 64);
    assert_true(f >= gemm && f < 1.01 * gemm);
    assert_float_equal(rumor_model_flops_per_step(m, 32), f / 2, 1e-9 * f);
    rumor_model_destroy(&m);
}

/* Runs rumor_bench_train_main with stdout captured into buf; returns its exit status. */
static int s_bench(char *buf, size_t cap, int argc, char **argv)
{
    fflush(stdout);
    FILE *tmp = tmpfile();
    assert_non_null(tmp);
    const int saved = dup(STDOUT_FILENO);
    assert_true(saved >= 0);
    assert_true(dup2(fileno(tmp), STDOUT_FILENO) >= 0);
    const int rc = rumor_bench_train_main(argc, argv);
    fflush(stdout);
    assert_true(dup2(saved, STDOUT_FILENO) >= 0);
    close(saved);
    rewind(tmp);
    const size_t n = fread(buf, 1, cap - 1, tmp);
    buf[n] = '\0';
    fclose(tmp);
    return rc;
}

static void test_bench_usage(void **state)
{
    (void)state;
    static char buf[4096];
    static const char *const bad[][3] = {
        {"--batch", "0", NULL},   {"--batch", "x", NULL},    {"--seconds", "-1", NULL},
        {"--threads", "0", NULL}, {"--model", "mlp:", NULL}, {"--model", "cnn", NULL},
        {"--lr", "0", NULL},      {"--frobnicate", NULL},    {"--batch", NULL},
        {"--seconds=nan", NULL},  {"--json=1", NULL},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *argv[4] = {"train", (char *)bad[i][0], (char *)bad[i][1], NULL};
        const int argc = bad[i][1] ? 3 : 2;
        assert_int_equal(s_bench(buf, sizeof buf, argc, argv), 2);
        assert_string_equal(buf, ""); /* errors go to stderr */
    }
    char *help[] = {"train", "--help", NULL};
    assert_int_equal(s_bench(buf, sizeof buf, 2, help), 0);
    assert_non_null(strstr(buf, "--model SPEC"));
    assert_non_null(strstr(buf, "--threads T"));
}

/* A short real run prints exactly one JSON object with the figures a user compares. */
static void test_bench_json(void **state)
{
    (void)state;
    static char buf[4096];
    char *argv[] = {"train", "--model=softmax", "--batch", "32", "--seconds",
                    "0.05",  "--json",          NULL};
    assert_int_equal(s_bench(buf, sizeof buf, 7, argv), 0);
    const char *nl = strchr(buf, '\n');
    assert_non_null(nl);
    assert_string_equal(nl + 1, "");
    json_error_t je;
    json_t *o = json_loads(buf, 0, &je);
    if (!o) fail_msg("bench output is not JSON (%s): %s", je.text, buf);
    assert_string_equal(json_string_value(json_object_get(o, "bench")), "train");
    assert_string_equal(json_string_value(json_object_get(o, "model")), "softmax");
    assert_int_equal(json_integer_value(json_object_get(o, "batch")), 32);
    assert_int_equal(json_integer_value(json_object_get(o, "threads")), 1);
    const json_int_t np = json_integer_value(json_object_get(o, "nparams"));
    const char *data = json_string_value(json_object_get(o, "data"));
    assert_non_null(data);
    assert_int_equal(np, 785 * 10); /* Fashion-MNIST or its synthetic stand-in: 784 -> 10 */
    const json_int_t steps = json_integer_value(json_object_get(o, "steps"));
    const double secs = json_number_value(json_object_get(o, "seconds"));
    const double sps = json_number_value(json_object_get(o, "samples_per_s"));
    assert_true(steps > 0 && secs >= 0.05);
    assert_float_equal(sps, steps * 32.0 / secs, 1e-3 * sps + 0.1);
    assert_true(json_number_value(json_object_get(o, "gflops")) > 0.0);
    assert_true(isfinite(json_number_value(json_object_get(o, "loss"))));
    json_decref(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grad_softmax),
        cmocka_unit_test(test_grad_mlp),
        cmocka_unit_test(test_grad_cnn),
        cmocka_unit_test(test_layout),
        cmocka_unit_test(test_new_rejects),
        cmocka_unit_test(test_zero_softmax_loss),
        cmocka_unit_test(test_init),
        cmocka_unit_test(test_train_separable),
        cmocka_unit_test(test_evaluate_consistent),
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_spec_parse),
        cmocka_unit_test(test_flops),
        cmocka_unit_test(test_bench_usage),
        cmocka_unit_test(test_bench_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
