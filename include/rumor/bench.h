/* rumor — benchmarks behind `rumor bench` (cmd.h's rumor_cmd_bench dispatches to them). Each
 * prints its figures to stdout as a table and, with --json, as one JSON object per line.
 * Returns a process exit status; options are parsed with opt.h. */
#ifndef RUMOR_BENCH_H
#define RUMOR_BENCH_H

/* rumor bench train [--model SPEC] [--batch B] [--seconds S] [--threads T] */
int rumor_bench_train_main(int argc, char **argv);

/* rumor bench codec [--residuals FILE] [--d D] [--seconds S] */
int rumor_bench_codec_main(int argc, char **argv);

/* rumor bench round [--model SPEC] [--degree K] [--density F] [--compressor SPEC] ... */
int rumor_bench_round_main(int argc, char **argv);

#endif
