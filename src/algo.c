/* rumor — the decentralized algorithms by name (see algo.h). */
#include "rumor/algo.h"
#include "rumor/err.h"

#include <string.h>

int rumor_algo_parse(const char *s, rumor_algo_t *algo)
{
    static const char *const names[] = {"dpsgd", "choco", "malcom", "dcd", "deepsqueeze", "beer"};
    for (int i = 0; i < 6; i++) {
        if (!strcmp(s, names[i])) {
            *algo = (rumor_algo_t)i;
            return 0;
        }
    }
    return RUMOR_EINVAL;
}

const char *rumor_algo_name(rumor_algo_t algo)
{
    switch (algo) {
    case RUMOR_ALGO_DPSGD:
        return "dpsgd";
    case RUMOR_ALGO_CHOCO:
        return "choco";
    case RUMOR_ALGO_MALCOM:
        return "malcom";
    case RUMOR_ALGO_DCD:
        return "dcd";
    case RUMOR_ALGO_DEEPSQUEEZE:
        return "deepsqueeze";
    case RUMOR_ALGO_BEER:
        return "beer";
    }
    return "?";
}
