/* libFuzzer target for the scenario parser: arbitrary bytes must give either an error with a
 * message or a scenario whose fields respect the documented bounds, never a crash, leak or
 * sanitizer report. A scenario that parses must parse again to the same run-config hash, and
 * its faults must answer queries consistently with their rounds (a straggler with probability 1
 * straggles).
 *
 * Build with -DRUMOR_FUZZ=ON (clang) and run, for example:
 *   build-fuzz/fuzz_scenario -max_total_time=60 tests/fuzz/corpus-run tests/fuzz/corpus/scenario
 */
#include "rumor/scenario.h"
#include "fuzz_text.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *json = fuzz_text(data, size);
    if (!json) return 0;
    static rumor_scenario_t s, again;
    rumor_errmsg_t em = {{0}};
    if (rumor_scenario_parse(json, "fuzz.json", "/base", &s, &em) != 0) {
        RUMOR_ASSERT(em.msg[0] != '\0');
        free(json);
        return 0;
    }
    RUMOR_ASSERT(s.lr >= 0 && isfinite(s.lr) && s.gamma > 0 && s.batch >= 1 && s.rounds >= 1);
    RUMOR_ASSERT(s.eval_every >= 1 && s.n_faults <= RUMOR_SCENARIO_FAULTS);
    RUMOR_ASSERT(!s.deadline || s.deadline_ms >= 1);
    for (uint32_t i = 0; i < s.n_faults; i++) {
        const rumor_fault_t *f = &s.faults[i];
        RUMOR_ASSERT(f->from < f->to);
        if (f->kind == RUMOR_FAULT_DOWN || f->kind == RUMOR_FAULT_CRASH) {
            RUMOR_ASSERT(rumor_scenario_node_down(&s, f->node, f->from));
            RUMOR_ASSERT(rumor_scenario_node_down(&s, f->node, f->to - 1));
            if (f->kind == RUMOR_FAULT_CRASH) {
                RUMOR_ASSERT(f->every >= 1);
                const uint32_t ck = rumor_fault_checkpoint_round(f);
                RUMOR_ASSERT(ck <= f->from && ck % f->every == 0);
            }
        } else if (f->kind == RUMOR_FAULT_DROP) {
            RUMOR_ASSERT(f->drop >= 0 && f->drop <= 1);
            const double p = rumor_scenario_drop_rate(&s, f->from);
            RUMOR_ASSERT(p >= f->drop - 1e-12 && p <= 1.0);
        } else if (f->kind == RUMOR_FAULT_STRAGGLE) {
            RUMOR_ASSERT(f->drop >= 0 && f->drop <= 1 && f->late >= -1);
            const uint32_t node = f->n_nodes ? f->nodes[0] : 0;
            const double p = rumor_scenario_straggle_rate(&s, node, f->from);
            RUMOR_ASSERT(p >= f->drop - 1e-12 && p <= 1.0);
            RUMOR_ASSERT(f->drop < 1 || rumor_scenario_straggler(&s, node, f->to - 1));
        }
    }
    RUMOR_ASSERT(rumor_scenario_parse(json, "again.json", "/elsewhere", &again, NULL) == 0);
    RUMOR_ASSERT(memcmp(s.hash, again.hash, sizeof s.hash) == 0);
    rumor_scenario_rehash(&again);
    RUMOR_ASSERT(memcmp(s.hash, again.hash, sizeof s.hash) == 0);
    free(json);
    return 0;
}
