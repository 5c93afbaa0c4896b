/* rumor — experiment grids: scenario variations x seeds, their results and their summary.
 *
 * A grid file (in experiments/, see docs/experiments.md) names a base scenario, variations of
 * it and seeds:
 *   {"name": "malcom-ablation", "description": "...",
 *    "base": "../sims/fashion-ring16-malcom.json",
 *    "set": {"target_acc": 0.82},
 *    "variations": [{"name": "raw", "set": {"codec": "raw"}}, ...],
 *    "axes": [{"key": "algorithm.lambda", "values": [0, 0.0003]}, ...],
 *    "seeds": [1, 2, 3], "rounds": 2000}
 * Each variation's scenario is the base with the grid's "set", then the variation's "set",
 * then one value of every axis merged over it; with both "variations" and "axes" every
 * variation is crossed with every combination of axis values. A "set" names keys by dotted
 * paths ("algorithm.lambda") or nested objects ({"algorithm": {"lambda": 0}}); an object
 * merged over an object merges member by member, anything else replaces what was there.
 * A cell is one variation with one seed; its scenario is checked as rumor sim would check it,
 * so an unknown key or a bad value is refused before anything runs.
 *
 * Results are JSON Lines, one row per finished cell (variation, seed, status, config, the
 * run's final summary and wall_s). `config` is a hash of the cell's scenario: a row counts
 * for a cell only while the grid still gives that cell the same scenario, which is what lets
 * a stopped sweep resume by running only the cells without a row.
 *
 * Workload: a few dozen cells, read and summarised once per sweep; nothing here is hot.
 */
#ifndef RUMOR_SWEEP_H
#define RUMOR_SWEEP_H

#include "rumor/err.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define RUMOR_SWEEP_NAME_MAX  128
#define RUMOR_SWEEP_MIN_SEEDS 3
/* How results rows are written: one compact line each, reals to 10 digits. */
#define RUMOR_SWEEP_ROW_JSON (JSON_COMPACT | JSON_REAL_PRECISION(10))

typedef struct {
    uint32_t variation; /* index into the grid's variations */
    uint64_t seed;
    char *scenario;  /* the cell's scenario as JSON text (owned) */
    char config[65]; /* hex hash of scenario */
} rumor_sweep_cell_t;

typedef struct {
    char name[RUMOR_SWEEP_NAME_MAX]; /* the grid's "name", or its file name without .json */
    char path[1024];                 /* the grid file */
    char *description;               /* the grid's "description" (a paragraph), or NULL */
    uint32_t n_variations, n_seeds;
    char (*variation)[RUMOR_SWEEP_NAME_MAX]; /* (n_variations) names, in grid order */
    char (*slug)[RUMOR_SWEEP_NAME_MAX];      /* (n_variations) the same as directory names */
    uint64_t *seeds;                         /* (n_seeds) */
    size_t n_cells;                          /* n_variations x n_seeds, seed-major */
    rumor_sweep_cell_t *cells;
} rumor_sweep_t;

/* Loads the grid file at path and builds every cell; rounds, when not 0, overrides the grid's
 * and the scenarios' rounds. Relative paths in the base scenario resolve against its file,
 * those in the grid against the grid file; the cells' scenarios hold absolute paths, so that
 * they can be written anywhere. Returns 0, or an error with em naming the file and the key
 * ("g.json: variations[1].set: topology.n: topology is not an object"). */
RUMOR_NODISCARD int rumor_sweep_load(const char *path, uint32_t rounds, rumor_sweep_t **out,
                                     rumor_errmsg_t *em);
void rumor_sweep_destroy(rumor_sweep_t **s_p);

/* The cell of a results row (matching variation, seed and config), or -1. */
long rumor_sweep_row_cell(const rumor_sweep_t *s, const json_t *row);

/* Reads the results file at path: a JSON array of the rows that belong to s's cells (the
 * last one of each cell), into *rows (the caller decrefs it). A missing file gives no rows.
 * When the file holds anything else (rows of other cells or configs, a line torn by a
 * crash), it is rewritten without it and *dropped says how many lines went. */
RUMOR_NODISCARD int rumor_sweep_read_results(const rumor_sweep_t *s, const char *path,
                                             json_t **rows, size_t *dropped, rumor_errmsg_t *em);

/* The results row of cell c: status "ok" with the members of the run's summary (a JSON
 * object, borrowed), or "failed" with error (summary NULL); wall_s as measured. New
 * reference. */
json_t *rumor_sweep_row(const rumor_sweep_t *s, size_t c, const json_t *summary, const char *error,
                        double wall_s);

/* Writes the Markdown summary of rows (rumor_sweep_read_results's array) to f: one table
 * row per variation with mean ± sample standard deviation over its "ok" seeds, and the
 * bytes to the target with how many seeds reached it. */
void rumor_sweep_summary(const rumor_sweep_t *s, const json_t *rows, FILE *f);

/* OUT/cells/<slug>/seed-<S>/<file> (file "" for the directory itself): where cell c's
 * scenario, metrics, summary and log go in the output directory out. 0, or RUMOR_ENOSPC when
 * it does not fit in cap bytes. */
int rumor_sweep_cell_path(const rumor_sweep_t *s, const char *out, size_t c, const char *file,
                          char *buf, size_t cap);

/* Makes cell c's directory (and those above it) and writes its scenario.json there. */
RUMOR_NODISCARD int rumor_sweep_prepare_cell(const rumor_sweep_t *s, const char *out, size_t c,
                                             rumor_errmsg_t *em);

/* For each variation with "ok" rows, the mean over those seeds of acc_avg_model, acc_min,
 * density and bytes_sent at every evaluation that all of them reached (read from the cells'
 * metrics.jsonl), as JSON Lines in OUT/curves/<slug>.jsonl; *written counts the files.
 * Returns 0 or an error naming the file. */
RUMOR_NODISCARD int rumor_sweep_curves(const rumor_sweep_t *s, const json_t *rows, const char *out,
                                       size_t *written, rumor_errmsg_t *em);

#endif
