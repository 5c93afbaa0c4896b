/* rumor — float vector kernels (see vec.h). */
#include "rumor/vec.h"

#include <math.h>
#include <string.h>

void rumor_vec_zero(float *x, size_t n)
{
    memset(x, 0, n * sizeof *x);
}

void rumor_vec_copy(float *restrict dst, const float *restrict src, size_t n)
{
    memcpy(dst, src, n * sizeof *dst);
}

void rumor_vec_axpy(float *restrict y, float a, const float *restrict x, size_t n)
{
    for (size_t i = 0; i < n; i++) y[i] += a * x[i];
}

void rumor_vec_sub(float *out, const float *a, const float *b, size_t n)
{
    for (size_t i = 0; i < n; i++) out[i] = a[i] - b[i];
}

void rumor_vec_scale(float *x, float a, size_t n)
{
    for (size_t i = 0; i < n; i++) x[i] *= a;
}

double rumor_vec_dot(const float *a, const float *b, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

double rumor_vec_nrm2(const float *x, size_t n)
{
    return sqrt(rumor_vec_dot(x, x, n));
}

double rumor_vec_nrm1(const float *x, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += fabs((double)x[i]);
    return s;
}

double rumor_vec_nrm_inf(const float *x, size_t n)
{
    float m = 0.0f;
    for (size_t i = 0; i < n; i++) {
        const float a = fabsf(x[i]);
        if (a > m) m = a;
    }
    return m;
}

double rumor_vec_dist2(const float *a, const float *b, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++) {
        const double t = (double)a[i] - b[i];
        s += t * t;
    }
    return s;
}

void rumor_vec_soft_threshold(float *x, float t, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const float a = fabsf(x[i]) - t;
        x[i] = a > 0.0f ? copysignf(a, x[i]) : 0.0f;
    }
}

size_t rumor_vec_count_nonzero(const float *x, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++) c += x[i] != 0.0f;
    return c;
}
