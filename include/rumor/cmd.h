/* rumor — the subcommands of the `rumor` program (cli.h dispatches to them). Each entry point
 * takes the arguments after the subcommand name (argv[0] is the subcommand) and returns the
 * process exit status: 0 success, 1 failure, 2 usage error. Options are parsed with opt.h. */
#ifndef RUMOR_CMD_H
#define RUMOR_CMD_H

int rumor_cmd_peer(int argc, char **argv);
int rumor_cmd_sim(int argc, char **argv);
int rumor_cmd_sweep(int argc, char **argv);
int rumor_cmd_topo(int argc, char **argv);
int rumor_cmd_bench(int argc, char **argv); /* bench.c: train, codec or round (bench.h) */
int rumor_cmd_keygen(int argc, char **argv);
int rumor_cmd_eval(int argc, char **argv);

#endif
