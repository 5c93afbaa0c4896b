/* rumor — float vector kernels.
 *
 * Called several times per round on model-sized vectors (d from 1e4 to 1e6); none allocates.
 * Element-wise kernels are plain loops the compiler vectorises; reductions accumulate in
 * double in a fixed order so that results are identical across runs and thread counts.
 */
#ifndef RUMOR_VEC_H
#define RUMOR_VEC_H

#include <stddef.h>
#include <stdint.h>

void rumor_vec_zero(float *x, size_t n);
void rumor_vec_copy(float *restrict dst, const float *restrict src, size_t n);
/* y += a * x */
void rumor_vec_axpy(float *restrict y, float a, const float *restrict x, size_t n);
/* y = (((v + a[0] c[0]) + a[1] c[1]) + ...) + a[m-1] c[m-1], every product and sum rounded
 * to float in that order: bit for bit a copy of v into y and m axpys, in one pass over the
 * vectors. v may be y (in place); the c[j] must not overlap y. */
void rumor_vec_lincomb(float *y, const float *v, size_t m, const float *const *c, const float *a,
                       size_t n);
/* out = a - b */
void rumor_vec_sub(float *out, const float *a, const float *b, size_t n);
/* x *= a */
void rumor_vec_scale(float *x, float a, size_t n);
double rumor_vec_dot(const float *a, const float *b, size_t n);
/* sqrt of the squares added in index order in double: bit for bit that loop, computed in
 * blocks whose exact roundings are summed side by side (it is not latency bound). */
double rumor_vec_nrm2(const float *x, size_t n);
/* rumor_vec_nrm2 of the float vector a - b (bit for bit), without forming it. */
double rumor_vec_nrm2_diff(const float *a, const float *b, size_t n);
double rumor_vec_nrm1(const float *x, size_t n);
/* max |x_i|; NaN when any x_i is NaN, as the other norms are, so that no caller takes a
 * vector holding NaNs for a finite one. */
double rumor_vec_nrm_inf(const float *x, size_t n);
/* Squared Euclidean distance, in double: differences (double)a_i - b_i squared, the square of
 * entry i (i below n rounded down to 32) added to running sum i mod 32, the 32 sums reduced in
 * a fixed order (S[k] + S[k + 8]) + (S[k + 16] + S[k + 24]), then halves of the eight lanes
 * left to right, and the rest of the entries added one by one to a sum of their own, added
 * last. A fixed order, so the figure is the same on every thread and run, without the chain of
 * dependent additions of the sequential loop (a statistic: nothing trains on it). */
double rumor_vec_dist2(const float *a, const float *b, size_t n);
/* Proximal map of t*||x||_1: x_k = sign(x_k) * max(|x_k| - t, 0), in place. */
void rumor_vec_soft_threshold(float *x, float t, size_t n);
/* Number of entries that are not exactly zero. */
size_t rumor_vec_count_nonzero(const float *x, size_t n);

#endif
