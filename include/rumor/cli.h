/* rumor — the `rumor` command: a dispatch table of subcommands. Each entry point takes the
 * arguments after the subcommand name (argv[0] is the subcommand) and returns the process
 * exit status: 0 success, 1 failure, 2 usage error. */
#ifndef RUMOR_CLI_H
#define RUMOR_CLI_H

int rumor_cli_main(int argc, char **argv);

int rumor_cmd_peer(int argc, char **argv);
int rumor_cmd_sim(int argc, char **argv);
int rumor_cmd_topo(int argc, char **argv);
int rumor_cmd_bench(int argc, char **argv);
int rumor_cmd_keygen(int argc, char **argv);

#endif
