/* rumor — the `rumor` program: global options (--log, --version) and the dispatch table of
 * subcommands (cmd.h). Returns the process exit status: 0 success, 1 failure, 2 usage error. */
#ifndef RUMOR_CLI_H
#define RUMOR_CLI_H

int rumor_cli_main(int argc, char **argv);

#endif
