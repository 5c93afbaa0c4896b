/* rumor — peer checkpoints in the safetensors layout.
 *
 * A checkpoint is one file, written atomically (temp file in the same directory, fsync,
 * rename, fsync of the directory), so a crash leaves either the previous checkpoint or the
 * new one, never a torn file. Layout (safetensors, loadable with safetensors/PyTorch/NumPy):
 *   u64 LE header length N | N bytes of JSON header | raw little-endian data
 * Tensors, float32 unless said: the model's own ("fc0.weight" (out, in), "fc0.bias" (out), ...),
 * then "gossip.self" and "gossip.node<j>" for each neighbour j (public copies, d floats each),
 * "optim.momentum" (d floats) when the run has momentum, and "gossip.memory" (DeepSqueeze's
 * error-feedback memory) or "gossip.pending" (DCD's pending mix), d floats, for those two,
 * or BEER's "gossip.tracker" rows. With a robust rule, first (so that they sit 8-byte
 * aligned), one value per neighbour slot in the topology's order: "robust.mixed" and
 * "robust.clipped" (U64, the clip counts), "robust.cut" (F64), with "+shift"
 * "robust.shift" (F64, the running mean shifts, NaN before a slot's first term) and with
 * "+origin" or "+jump" "robust.origin" (F64, the running mean origin cosines, likewise), with
 * "+jump" "robust.seen" (U64, the rounds its running means took), "robust.fast" and
 * "robust.slow" (F64, the running means of the distance over the radius, NaN before a slot's
 * first); and last, for an ALIE peer, "byzantine.public" (d floats, its view of the copy its
 * neighbours hold of it). Those nine may be absent (checkpoints written before they were kept): the
 * robust state is then left as it is, and the ALIE view is the peer's own public copy.
 * "__metadata__" holds strings: format "rumor-checkpoint-1", node, round, sampler position,
 * run-config and topology hashes (hex), model description, cumulative byte counters and the
 * cumulative entropy bound of the messages sent ("entropy_bits", optional on load).
 *
 * Loading checks every length, offset, dtype and shape against the peer it restores into
 * and refuses a checkpoint of another node, model, topology or run config with a message
 * naming the mismatch. The numbers are checked too: every float32 tensor must be finite,
 * "robust.shift" and "robust.origin" NaN or within [-1, 1], "robust.fast" and "robust.slow" NaN
 * or finite and >= 0, "robust.cut" finite and >= 0, the round at most the run's last, the sampler
 * offset inside the peer's shard; a refusal names the file and the field. The file is untrusted
 * input: it never aborts the program.
 */
#ifndef RUMOR_CHECKPOINT_H
#define RUMOR_CHECKPOINT_H

#include "rumor/err.h"
#include "rumor/model.h"
#include "rumor/peer.h"

#include <stdint.h>

/* The checkpoint file of node `node` in directory dir, "DIR/node<I>.safetensors", as both
 * `rumor peer --checkpoint DIR` and `rumor sim --checkpoint DIR` name it. Returns 0, or
 * RUMOR_ENOSPC when it does not fit in cap bytes. */
int rumor_checkpoint_path(char *buf, size_t cap, const char *dir, uint32_t node);

/* RUMOR_EFORMAT with em naming path and "what n" (e.g. "parameter 83", "tensor 'fc0.bias'
 * element 2") for the first NaN or infinity among x[0..n), 0 if all are finite. The one check
 * every model read from a file goes through, checkpoint or raw. */
RUMOR_NODISCARD int rumor_checkpoint_check_finite(const char *path, const char *what,
                                                  const float *x, size_t n, rumor_errmsg_t *em);

/* Writes p's state to path atomically. */
int rumor_checkpoint_save(const char *path, rumor_peer_t *p, const uint8_t topo_hash[32],
                          rumor_errmsg_t *em);

/* Restores p's state from path. RUMOR_EIO if the file does not exist (errno ENOENT is left
 * for the caller to test), RUMOR_EFORMAT/RUMOR_EMISMATCH with em filled otherwise. p is
 * unchanged on failure. */
RUMOR_NODISCARD int rumor_checkpoint_load(const char *path, rumor_peer_t *p,
                                          const uint8_t topo_hash[32], rumor_errmsg_t *em);

/* Nonzero when a file whose first len bytes are head (len >= 9 needed) and whose size is
 * file_size starts like a safetensors file: a little-endian u64 header length within the
 * checkpoint bound, then '{'. A raw float32 model would need a denormal first value and a
 * zero second value to match, so this tells checkpoints from raw models by content. */
int rumor_checkpoint_sniff(const uint8_t *head, size_t len, uint64_t file_size);

/* What a checkpoint says about itself. */
typedef struct {
    uint32_t node;  /* the peer that wrote it */
    uint32_t round; /* rounds completed */
} rumor_checkpoint_info_t;

/* Reads only the model tensors of the checkpoint at path into params
 * (rumor_model_nparams(m) floats), without a peer: for evaluating or exporting a model.
 * Returns RUMOR_EIO if the file cannot be opened, RUMOR_EMISMATCH if it holds another model,
 * RUMOR_EFORMAT/RUMOR_ETRUNC for a damaged file, each with em filled naming the file. params
 * is unchanged on failure; info (may be NULL) receives the node and round on success. */
RUMOR_NODISCARD int rumor_checkpoint_load_model(const char *path, const rumor_model_t *m,
                                                float *params, rumor_checkpoint_info_t *info,
                                                rumor_errmsg_t *em);

#endif
