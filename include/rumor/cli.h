/* rumor — the `rumor` command: a dispatch table of subcommands. Each entry point takes the
 * arguments after the subcommand name (argv[0] is the subcommand) and returns the process
 * exit status: 0 success, 1 failure, 2 usage error. */
#ifndef RUMOR_CLI_H
#define RUMOR_CLI_H

#include <stdint.h>

int rumor_cli_main(int argc, char **argv);

/* Strict parses of option values, shared by every command; nothing is printed, the caller
 * names the option in its message. Whole numbers: decimal digits only (no sign, no blanks,
 * no trailing text) within [lo, hi]. Reals: a finite number within (0, hi]. Each returns 0,
 * or -1 for NULL or anything else. */
int rumor_cli_parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out);
int rumor_cli_parse_u32(const char *s, uint32_t lo, uint32_t hi, uint32_t *out);
int rumor_cli_parse_double(const char *s, double hi, double *out);

/* The value of option argv[*i] of command `cmd`, advancing *i past it. NULL, after printing
 * "rumor CMD: OPT needs a value" to stderr, when there is none or the next argument is an
 * option itself (it starts with '-' and is not "-"), which is then not swallowed. */
const char *rumor_cli_value(const char *cmd, int argc, char **argv, int *i);

int rumor_cmd_peer(int argc, char **argv);
int rumor_cmd_sim(int argc, char **argv);
int rumor_cmd_sweep(int argc, char **argv);
int rumor_cmd_topo(int argc, char **argv);
int rumor_cmd_bench(int argc, char **argv);
int rumor_cmd_keygen(int argc, char **argv);
int rumor_cmd_eval(int argc, char **argv);

#endif
