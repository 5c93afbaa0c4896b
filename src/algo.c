/* rumor — the decentralized algorithms by name (see algo.h). */
#include "rumor/algo.h"
#include "rumor/err.h"

#include <string.h>

/* Indexed by rumor_algo_t. */
static const char *const s_names[] = {"dpsgd", "choco", "malcom", "dcd", "deepsqueeze", "beer"};
enum { S_ALGOS = sizeof s_names / sizeof s_names[0] };

int rumor_algo_parse(const char *s, rumor_algo_t *algo)
{
    for (int i = 0; i < S_ALGOS; i++) {
        if (!strcmp(s, s_names[i])) {
            *algo = (rumor_algo_t)i;
            return 0;
        }
    }
    return RUMOR_EINVAL;
}

const char *rumor_algo_name(rumor_algo_t algo)
{
    return (unsigned)algo < S_ALGOS ? s_names[algo] : "?";
}
