/* rumor — the subcommands of the `rumor` program (cli.h dispatches to them). Each entry point
 * takes the arguments after the subcommand name (argv[0] is the subcommand) and returns the
 * process exit status: 0 success, 1 failure, 2 usage error. Options are parsed with opt.h. */
#ifndef RUMOR_CMD_H
#define RUMOR_CMD_H

#include <signal.h>

int rumor_cmd_peer(int argc, char **argv);
int rumor_cmd_sim(int argc, char **argv);
int rumor_cmd_sweep(int argc, char **argv);
int rumor_cmd_topo(int argc, char **argv);
int rumor_cmd_bench(int argc, char **argv); /* bench.c: train, codec or round (bench.h) */
int rumor_cmd_keygen(int argc, char **argv);
int rumor_cmd_eval(int argc, char **argv);

/* SIGINT and SIGTERM set the returned flag from now on (cmd_stop.c); a command passes it to
 * the run (rumor_sim_opts_t.stop, rumor_node_opts_t.stop), which ends at its next round.
 * rumor_cmd_stop_end puts the previous handlers back. */
volatile sig_atomic_t *rumor_cmd_stop_begin(void);
void rumor_cmd_stop_end(void);

#endif
