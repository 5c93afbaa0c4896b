/* rumor — compressed vectors (see cmsg.h). */
#include "rumor/cmsg.h"
#include "rumor/err.h"

#include <stdlib.h>
#include <string.h>

int rumor_cmsg_init(rumor_cmsg_t *m, uint32_t d)
{
    memset(m, 0, sizeof *m);
    const size_t n = d ? d : 1;
    m->q = calloc(n, sizeof *m->q);
    m->idx = calloc(n, sizeof *m->idx);
    m->val = calloc(n, sizeof *m->val);
    if (!m->q || !m->idx || !m->val) {
        rumor_cmsg_free(m);
        return RUMOR_ENOMEM;
    }
    m->d = d;
    m->cap_d = d;
    m->kind = RUMOR_CMSG_DENSE;
    m->nnz = d;
    return 0;
}

void rumor_cmsg_free(rumor_cmsg_t *m)
{
    free(m->q);
    free(m->idx);
    free(m->val);
    memset(m, 0, sizeof *m);
}

void rumor_cmsg_axpy(const rumor_cmsg_t *m, float alpha, float *y)
{
    switch (m->kind) {
    case RUMOR_CMSG_DENSE:
        for (uint32_t k = 0; k < m->d; k++) y[k] += alpha * m->val[k];
        break;
    case RUMOR_CMSG_INT: {
        const float a = alpha * m->scale;
        for (uint32_t k = 0; k < m->d; k++) y[k] += a * (float)m->q[k];
        break;
    }
    case RUMOR_CMSG_SPARSE:
        for (uint32_t j = 0; j < m->nnz; j++) y[m->idx[j]] += alpha * m->val[j];
        break;
    }
}

void rumor_cmsg_to_dense(const rumor_cmsg_t *m, float *out)
{
    memset(out, 0, (size_t)m->d * sizeof *out);
    rumor_cmsg_axpy(m, 1.0f, out);
}

int rumor_cmsg_check(const rumor_cmsg_t *m)
{
    if (m->d > m->cap_d) return RUMOR_EFORMAT;
    switch (m->kind) {
    case RUMOR_CMSG_DENSE:
        return m->nnz == m->d ? 0 : RUMOR_EFORMAT;
    case RUMOR_CMSG_INT: {
        uint32_t nz = 0;
        for (uint32_t k = 0; k < m->d; k++) nz += m->q[k] != 0;
        return nz == m->nnz ? 0 : RUMOR_EFORMAT;
    }
    case RUMOR_CMSG_SPARSE:
        if (m->nnz > m->d) return RUMOR_EFORMAT;
        for (uint32_t j = 0; j < m->nnz; j++) {
            if (m->idx[j] >= m->d) return RUMOR_EFORMAT;
            if (j > 0 && m->idx[j] <= m->idx[j - 1]) return RUMOR_EFORMAT;
        }
        return 0;
    }
    return RUMOR_EFORMAT;
}
