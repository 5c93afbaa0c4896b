/* rumor — the decentralized algorithms by name: what a scenario chooses and gossip runs.
 *
 * Kept apart from gossip.h so that a run's configuration (scenario.h) names the algorithm
 * without depending on the gossip state machine. */
#ifndef RUMOR_ALGO_H
#define RUMOR_ALGO_H

typedef enum {
    RUMOR_ALGO_DPSGD = 0,
    RUMOR_ALGO_CHOCO = 1,
    RUMOR_ALGO_MALCOM = 2,
    RUMOR_ALGO_DCD = 3,
    RUMOR_ALGO_DEEPSQUEEZE = 4,
    RUMOR_ALGO_BEER = 5,
} rumor_algo_t;

/* Parses "dpsgd", "choco", "malcom", "dcd", "deepsqueeze" or "beer" into *algo: 0, or
 * RUMOR_EINVAL for any other name (*algo unchanged). */
int rumor_algo_parse(const char *s, rumor_algo_t *algo);

/* The name rumor_algo_parse takes for algo; "?" for a value outside the enum. */
const char *rumor_algo_name(rumor_algo_t algo);

#endif
