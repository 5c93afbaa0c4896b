/* rumor — a run's data for its peers: loading, partitioning and narrowing to one peer's shard
 * (see rumor_peer_data_load in peer.h). */
#include "rumor/peer.h"
#include "rumor/partition.h"

#include <stdlib.h>
#include <string.h>

/* The partition of the training set over peers, as every peer computes it from the seed. */
static int s_partition(const rumor_scenario_t *sc, const rumor_dataset_t *train, uint32_t peers,
                       rumor_partition_t **out, rumor_errmsg_t *em)
{
    if (train->n < peers)
        return rumor_errmsg_set(
            em, RUMOR_EINVAL, "%u training samples cannot be split over %u peers", train->n, peers);
    const int rc =
        sc->dirichlet_alpha > 0.0
            ? rumor_data_partition_dirichlet(train, peers, sc->dirichlet_alpha, sc->seed, out)
            : rumor_data_partition_iid(train, peers, sc->seed, out);
    if (rc)
        return rumor_errmsg_set(em, rc, "partition over %u peers: %s", peers, rumor_strerror(rc));
    return 0;
}

/* After the training set became peer self's shard of n rows: self owns rows 0..n-1. */
static void s_narrow_partition(rumor_partition_t *part, uint32_t self, uint32_t n)
{
    for (uint32_t i = 0; i <= part->peers; i++) part->off[i] = i <= self ? 0 : n;
    for (uint32_t j = 0; j < n; j++) part->idx[j] = j;
}

typedef struct {
    const rumor_scenario_t *sc;
    uint32_t peers, self;
    rumor_partition_t *part;
} s_shard_choice_t;

/* Partitions the labels and picks peer self's shard (see rumor_data_chooser_t). */
static int s_choose_shard(const rumor_dataset_t *labels, void *arg, const uint32_t **rows,
                          uint32_t *n_rows, rumor_errmsg_t *em)
{
    s_shard_choice_t *c = arg;
    if (c->self == RUMOR_PEER_NONE) { /* the shape and the labels' classes are all it needs */
        *n_rows = 0;
        return 0;
    }
    const int rc = s_partition(c->sc, labels, c->peers, &c->part, em);
    if (rc) return rc;
    *rows = c->part->idx + c->part->off[c->self];
    *n_rows = c->part->off[c->self + 1] - c->part->off[c->self];
    return 0;
}

/* Narrows loaded data to peer self's shard (see rumor_peer_data_load). */
static int s_keep_shard(rumor_peer_data_t *data, uint32_t self, rumor_errmsg_t *em)
{
    rumor_partition_t *part = data->part;
    const uint32_t first = part->off[self], n = part->off[self + 1] - first;
    rumor_dataset_t *shard = rumor_data_subset(&data->train, part->idx + first, n);
    /* Synthetic test rows live in the training set's storage: they get their own. */
    rumor_dataset_t *test =
        data->owned[1] ? NULL : rumor_data_subset(&data->test, NULL, data->test.n);
    if (!shard || (!data->owned[1] && !test)) {
        rumor_dataset_destroy(&shard);
        rumor_dataset_destroy(&test);
        return rumor_errmsg_set(em, RUMOR_ENOMEM, "out of memory keeping the shard of peer %u",
                                self);
    }
    rumor_dataset_destroy(&data->owned[0]);
    data->owned[0] = shard;
    data->train = *shard;
    if (test) {
        data->owned[1] = test;
        data->test = *test;
    }
    s_narrow_partition(part, self, n);
    return 0;
}

int rumor_peer_data_load(const rumor_scenario_t *sc, uint32_t peers, uint32_t self,
                         rumor_peer_data_t *data, rumor_errmsg_t *em)
{
    memset(data, 0, sizeof *data);
    if (self < RUMOR_PEER_NONE && self >= peers)
        return rumor_errmsg_set(em, RUMOR_EINVAL, "peer %u of %u", self, peers);
    /* A coded peer reads the shards it holds, which only the topology names: it keeps all. */
    if (sc->redundancy > 1 && self < RUMOR_PEER_NONE) self = RUMOR_PEER_ALL;
    int rc = 0;
    switch (sc->data) {
    case RUMOR_DATA_FASHION: {
        /* One peer reads its shard straight from the file, never the whole set as floats; the
         * whole set stays pixel bytes, a quarter of the floats' memory and of a batch's
         * reads. */
        s_shard_choice_t choice = {sc, peers, self, NULL};
        const rumor_data_chooser_t chooser = {s_choose_shard, &choice};
        rc = self == RUMOR_PEER_ALL
                 ? rumor_data_load_fashion_compact(sc->data_path, "train", &data->owned[0], em)
                 : rumor_data_load_fashion(sc->data_path, "train", &chooser, &data->owned[0], em);
        data->part = choice.part;
        if (!rc) rc = rumor_data_load_fashion(sc->data_path, "t10k", NULL, &data->owned[1], em);
        if (rc) break;
        data->train = *data->owned[0];
        data->test = *data->owned[1];
        if (data->part) {
            s_narrow_partition(data->part, self, data->train.n);
            return 0;
        }
        break;
    }
    case RUMOR_DATA_LIBSVM:
        rc = rumor_data_load_libsvm(sc->data_path, 0, &data->owned[0], em);
        if (!rc)
            rc = rumor_data_load_libsvm(sc->test_path, data->owned[0]->dim, &data->owned[1], em);
        if (rc) break;
        if (data->owned[1]->dim != data->owned[0]->dim) {
            rc =
                rumor_errmsg_set(em, RUMOR_EFORMAT, "%s: %u features, but the training file has %u",
                                 sc->test_path, data->owned[1]->dim, data->owned[0]->dim);
            break;
        }
        data->train = *data->owned[0];
        data->test = *data->owned[1];
        if (data->test.classes < data->train.classes) data->test.classes = data->train.classes;
        data->train.classes = data->test.classes;
        break;
    case RUMOR_DATA_SYNTHETIC: {
        /* One draw split in two, so training and test rows come from the same clusters. */
        rc = rumor_data_synthetic(sc->synth_n + sc->synth_test_n, sc->synth_dim, sc->synth_classes,
                                  sc->synth_sep, sc->seed, &data->owned[0]);
        if (rc) {
            rumor_errmsg_set(em, rc, "synthetic data: %s", rumor_strerror(rc));
            break;
        }
        const rumor_dataset_t *all = data->owned[0];
        data->train = *all;
        data->train.n = sc->synth_n;
        data->test = *all;
        data->test.n = sc->synth_test_n;
        data->test.x = all->x + (size_t)sc->synth_n * all->dim;
        data->test.y = all->y + sc->synth_n;
        break;
    }
    }
    if (!rc && self == RUMOR_PEER_NONE) { /* (a Fashion-MNIST load chose no rows already) */
        data->train.n = 0;
        return 0;
    }
    if (!rc) rc = s_partition(sc, &data->train, peers, &data->part, em);
    if (!rc && self != RUMOR_PEER_ALL) rc = s_keep_shard(data, self, em);
    if (!rc) return 0;
    rumor_peer_data_free(data);
    return rc;
}

rumor_peer_cfg_t rumor_peer_data_cfg(const rumor_peer_data_t *data, const rumor_scenario_t *sc,
                                     const rumor_topology_t *topo, uint32_t self,
                                     uint32_t eval_batch)
{
    const uint32_t *off = data->part->off;
    return (rumor_peer_cfg_t){.sc = sc,
                              .topo = topo,
                              .self = self,
                              .train = &data->train,
                              .shard = data->part->idx + off[self],
                              .shard_n = off[self + 1] - off[self],
                              .part = data->part,
                              .eval_batch = eval_batch};
}

void rumor_peer_data_free(rumor_peer_data_t *data)
{
    rumor_dataset_destroy(&data->owned[0]);
    rumor_dataset_destroy(&data->owned[1]);
    rumor_partition_destroy(&data->part);
    memset(data, 0, sizeof *data);
}
