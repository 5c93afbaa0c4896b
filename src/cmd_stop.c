/* rumor — the commands' stop flag: SIGINT and SIGTERM ask a run to stop at its next round
 * (see cmd.h). The only signal handlers of the program; the library installs none. */
#include "rumor/cmd.h"

#include <signal.h>
#include <stddef.h>

static volatile sig_atomic_t s_stop;
static struct sigaction s_old_int, s_old_term;

static void s_on_signal(int sig)
{
    (void)sig;
    s_stop = 1;
}

volatile sig_atomic_t *rumor_cmd_stop_begin(void)
{
    s_stop = 0;
    struct sigaction sa = {.sa_handler = s_on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &s_old_int);
    sigaction(SIGTERM, &sa, &s_old_term);
    return &s_stop;
}

void rumor_cmd_stop_end(void)
{
    sigaction(SIGINT, &s_old_int, NULL);
    sigaction(SIGTERM, &s_old_term, NULL);
}
