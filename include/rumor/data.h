/* rumor — datasets.
 *
 * A dataset is dense float features in [0, 1]-ish scale with integer labels, held in memory
 * (Fashion-MNIST: 60000 x 784 floats = 188 MB), or, loaded compact, as the IDX file's pixel
 * bytes (47 MB) that become floats as rows are gathered. Readers: IDX (optionally gzip), LIBSVM
 * text, and a seeded synthetic generator. Loading allocates; gathering does not. Splitting the
 * samples across peers is partition.h; drawing minibatches from one peer's share is sampler.h.
 */
#ifndef RUMOR_DATA_H
#define RUMOR_DATA_H

#include "rumor/err.h"

#include <stddef.h>
#include <stdint.h>

#define RUMOR_FASHION_MNIST_DIR "/usr/share/datasets/fashion-mnist"

typedef struct {
    uint32_t n;       /* samples */
    uint32_t dim;     /* features per sample */
    uint32_t classes; /* labels are in [0, classes) */
    float *x;         /* (n, dim) row-major; NULL in a compact dataset */
    int32_t *y;       /* (n) */
    uint8_t *px;      /* compact: (n, dim) row-major pixels, feature = px / 255.0f; else NULL */
} rumor_dataset_t;

/* Picks the samples a load keeps, once the labels are known: `labels` has n, dim, classes
 * and y of the whole file and x NULL. Sets *rows to *n_rows distinct indices below
 * labels->n, in the order the loaded dataset gets them; the array stays the chooser's and
 * must live until the load returns. Returns 0, or a negative code with em filled, which
 * fails the load. A peer that needs only its shard chooses it this way and never holds the
 * rest of the images as floats. */
typedef struct {
    int (*fn)(const rumor_dataset_t *labels, void *arg, const uint32_t **rows, uint32_t *n_rows,
              rumor_errmsg_t *em);
    void *arg;
} rumor_data_chooser_t;

/* Reads an IDX image file (magic 0x00000803, uint8 pixels, scaled to [0,1]) and an IDX label
 * file (0x00000801); either may be gzip-compressed (detected by content, not name). Errors
 * name the file and what is wrong (bad magic, truncated, count mismatch, label >= 10...).
 * classes is set to max label + 1 of the whole file. With a chooser (NULL: every sample) the
 * dataset holds the chosen samples only; the whole file is still read and checked. */
RUMOR_NODISCARD int rumor_data_load_idx(const char *images_path, const char *labels_path,
                                        const rumor_data_chooser_t *choose, rumor_dataset_t **out,
                                        rumor_errmsg_t *em);

/* Loads Fashion-MNIST's "train" or "t10k" split from dir (RUMOR_FASHION_MNIST_DIR when NULL),
 * i.e. dir/<split>-images-idx3-ubyte.gz and dir/<split>-labels-idx1-ubyte.gz, keeping the
 * samples choose picks (NULL: all). */
RUMOR_NODISCARD int rumor_data_load_fashion(const char *dir, const char *split,
                                            const rumor_data_chooser_t *choose,
                                            rumor_dataset_t **out, rumor_errmsg_t *em);

/* The whole of Fashion-MNIST's split, compact: the pixels stay bytes (px, x NULL), and become
 * the floats rumor_data_load_fashion would give as rumor_data_gather copies rows. */
RUMOR_NODISCARD int rumor_data_load_fashion_compact(const char *dir, const char *split,
                                                    rumor_dataset_t **out, rumor_errmsg_t *em);

/* x[0..n) = px[0..n) / 255.0f: IDX pixels as the loaders' floats. */
void rumor_data_pixels(const uint8_t *px, size_t n, float *x);

/* Reads LIBSVM text ("label idx:val idx:val ...", 1-based ascending indices). Labels are
 * mapped to 0..classes-1 in ascending order of their numeric value (so {-1,+1} -> {0,1}).
 * dim = max(dim_hint, largest index seen). Errors name file:line:column. */
RUMOR_NODISCARD int rumor_data_load_libsvm(const char *path, uint32_t dim_hint,
                                           rumor_dataset_t **out, rumor_errmsg_t *em);

/* Synthetic classification data: `classes` Gaussian clusters in `dim` dimensions whose means
 * are drawn from the stream (seed, 0, 0, RUMOR_RNG_DATA); `sep` scales the distance between
 * means relative to the unit noise. Deterministic for a seed. */
int rumor_data_synthetic(uint32_t n, uint32_t dim, uint32_t classes, double sep, uint64_t seed,
                         rumor_dataset_t **out);

void rumor_dataset_destroy(rumor_dataset_t **ds_p);

/* A new dataset of rows idx[0..n) of ds in that order (idx NULL: rows 0..n-1), with ds's
 * dim and classes, holding floats (a compact ds's rows are converted). NULL when out of
 * memory. */
rumor_dataset_t *rumor_data_subset(const rumor_dataset_t *ds, const uint32_t *idx, uint32_t n);

/* Copies the rows idx[0..b) into x (b, dim) and y (b); a compact dataset's pixels become
 * floats on the way. */
void rumor_data_gather(const rumor_dataset_t *ds, const uint32_t *idx, uint32_t b, float *x,
                       int32_t *y);

#endif
