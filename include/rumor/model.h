/* rumor — models over one flat float parameter vector.
 *
 * Softmax regression, a ReLU MLP (any list of hidden widths) and a small convolutional
 * network behind one interface. Parameters live in one caller-owned vector of
 * rumor_model_nparams() floats, laid out tensor by tensor (rumor_model_tensors) in PyTorch's
 * layouts: a linear layer's W (out, in) row-major followed by b (out); a convolution's W
 * (out channels, in channels, 5, 5) followed by b. The model object only holds the spec and
 * the workspace for batches of up to max_batch rows, allocated once in rumor_model_new.
 * Forward and backward use CBLAS sgemm; nothing allocates per call.
 * A model object is not thread-safe; use one per peer thread.
 */
#ifndef RUMOR_MODEL_H
#define RUMOR_MODEL_H

#include "rumor/err.h"
#include "rumor/rng.h"

#include <stddef.h>
#include <stdint.h>

#define RUMOR_MODEL_MAX_HIDDEN 8
/* Largest MLP or softmax model a spec may describe: 1.6 GB per float32 copy, of which a peer
 * keeps several; a larger model's DIFF frames (up to 10 d bytes) would not fit the wire's 4 GiB. */
#define RUMOR_MODEL_MAX_PARAMS 400000000u

typedef enum {
    RUMOR_MODEL_SOFTMAX = 0,
    RUMOR_MODEL_MLP = 1,
    /* two 5x5 convolutions (valid, stride 1), each with ReLU and 2x2 max pooling, then a
     * linear layer; the input is a square single-channel image, row by row */
    RUMOR_MODEL_CNN = 2,
    /* "external:D": D parameters that the caller owns and steps (rumor.h); rumor only gossips
     * them: no data, no loss, one tensor "params" */
    RUMOR_MODEL_EXTERNAL = 3,
} rumor_model_kind_t;

typedef struct {
    rumor_model_kind_t kind;
    uint32_t in;                             /* input features; D for an external model */
    uint32_t out;                            /* classes */
    uint32_t n_hidden;                       /* MLP hidden layers (0 for softmax); 2 for the CNN */
    uint32_t hidden[RUMOR_MODEL_MAX_HIDDEN]; /* MLP widths; CNN channels of the convolutions */
} rumor_model_spec_t;

/* One named tensor inside the flat vector, for checkpoints (safetensors) and reports. */
typedef struct {
    char name[32]; /* "fc0.weight", "fc0.bias", "conv0.weight", ... */
    uint32_t ndim; /* 1, 2 or 4 */
    uint32_t shape[4];
    size_t offset; /* in floats */
    size_t count;  /* in floats */
} rumor_tensor_info_t;

typedef struct rumor_model rumor_model_t;

/* Parses "softmax", "mlp:128" / "mlp:256,128" or "cnn:C1,C2" (channels of the two
 * convolutions, 1 to 1024; the input size must be a square of 16 to 1024) with the given
 * input and output sizes, or "external:D" (which ignores them). */
int rumor_model_spec_parse(const char *s, uint32_t in, uint32_t out, rumor_model_spec_t *spec,
                           rumor_errmsg_t *em);

/* Writes "softmax 784-10" / "mlp 784-128-10" / "cnn 28x28-c8-c16-10" into buf. */
void rumor_model_spec_describe(const rumor_model_spec_t *spec, char *buf, size_t len);

/* Returns 0 with *out set, or with *out NULL RUMOR_EINVAL (a spec or max_batch the model
 * cannot take: no rows, sizes past the int dimensions CBLAS takes, a layer of width 0, an
 * unknown kind) or RUMOR_ENOMEM (including sizes past the address space). */
int rumor_model_create(const rumor_model_spec_t *spec, uint32_t max_batch, rumor_model_t **out);

/* The same, NULL on failure: for callers that need no code. */
static inline rumor_model_t *rumor_model_new(const rumor_model_spec_t *spec, uint32_t max_batch)
{
    rumor_model_t *m;
    return rumor_model_create(spec, max_batch, &m) ? NULL : m;
}
void rumor_model_destroy(rumor_model_t **m_p);

size_t rumor_model_nparams(const rumor_model_t *m);
const rumor_model_spec_t *rumor_model_spec(const rumor_model_t *m);

/* Number of tensors; fills up to cap entries of out when out is not NULL. */
size_t rumor_model_tensors(const rumor_model_t *m, rumor_tensor_info_t *out, size_t cap);

/* Initialises params: softmax to zero; MLP and CNN weights He-uniform, biases zero. */
void rumor_model_init(const rumor_model_t *m, float *params, rumor_rng_t *rng);

/* Mean cross-entropy over the b <= max_batch rows of x (b, in) with labels y; writes the
 * gradient of that mean into grad (nparams floats, overwritten). Returns the loss. */
float rumor_model_loss_grad(rumor_model_t *m, const float *params, const float *x, const int32_t *y,
                            uint32_t b, float *grad);

/* Mean loss and accuracy over n rows, processed in chunks of max_batch. */
void rumor_model_evaluate(rumor_model_t *m, const float *params, const float *x, const int32_t *y,
                          uint32_t n, double *loss, double *acc);

/* Floating-point operations of one loss_grad call on a batch of b (for benchmarks). */
double rumor_model_flops_per_step(const rumor_model_t *m, uint32_t b);

#endif
