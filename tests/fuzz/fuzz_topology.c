/* libFuzzer target for the topology parser: arbitrary bytes must give either an error with a
 * message or a valid topology, never a crash, leak or sanitizer report. A topology that
 * parses must also survive a save/parse round trip unchanged (same W bits, same hash).
 *
 * Build with -DRUMOR_FUZZ=ON (clang) and run, for example:
 *   build-fuzz/fuzz_topology -max_total_time=60 tests/fuzz/corpus-run tests/fuzz/corpus/topology
 */
#include "rumor/topology.h"
#include "fuzz_text.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *json = fuzz_text(data, size);
    if (!json) return 0;
    rumor_topology_t *t = NULL;
    rumor_errmsg_t em = {{0}};
    if (rumor_topology_parse(json, "fuzz.json", &t, &em) != 0) {
        RUMOR_ASSERT(t == NULL && em.msg[0] != '\0');
        free(json);
        return 0;
    }
    RUMOR_ASSERT(rumor_topology_validate(t, "fuzz.json", NULL) == 0);
    char *again = rumor_topology_to_json(t);
    RUMOR_ASSERT(again);
    rumor_topology_t *u = NULL;
    RUMOR_ASSERT(rumor_topology_parse(again, "again.json", &u, NULL) == 0);
    RUMOR_ASSERT(u->n == t->n && u->n_edges == t->n_edges);
    RUMOR_ASSERT(memcmp(u->w, t->w, (size_t)t->n * t->n * sizeof *t->w) == 0);
    uint8_t h1[32], h2[32];
    rumor_topology_hash(t, h1);
    rumor_topology_hash(u, h2);
    RUMOR_ASSERT(memcmp(h1, h2, sizeof h1) == 0);
    for (uint32_t i = 0; i < t->n; i++) {
        const uint32_t d = rumor_topology_degree(t, i);
        const uint32_t *nb = rumor_topology_neighbors(t, i);
        for (uint32_t k = 0; k < d; k++) RUMOR_ASSERT(nb[k] < t->n && nb[k] != i);
    }
    /* The eigenvalue solver is O(n^3); keep executions fast. */
    if (t->n <= 48) {
        const double gap = rumor_topology_spectral_gap(t);
        RUMOR_ASSERT(gap >= -1e-9 && gap <= 1.0 + 1e-9);
    }
    rumor_topology_destroy(&u);
    rumor_topology_destroy(&t);
    free(again);
    free(json);
    return 0;
}
