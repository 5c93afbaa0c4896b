/* rumor — `rumor sweep`: run an experiment grid (sweep.h), each cell a `rumor sim` process.
 *
 * Cells run as children (this same executable, /proc/self/exe), at most -j at a time, each on
 * one thread. A cell's row goes into results.jsonl as soon as it finishes (one write, then
 * fsync), so a sweep stopped at any point keeps every finished cell, and the same command
 * runs only the cells without a row. SIGINT and SIGTERM stop the children (which end their
 * round and exit) and write the summary of what finished.
 */
#include "rumor/clock.h"
#include "rumor/cmd.h"
#include "rumor/file.h"
#include "rumor/opt.h"
#include "rumor/scenario.h"
#include "rumor/sweep.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct {
    const char *out;
    uint32_t jobs, rounds;
} s_opts_t;

static const rumor_opt_t s_opts[] = {
    {RUMOR_OPT_U32("-j", s_opts_t, jobs, "N", 1, 256,
                   "cells at a time (default: number of cores)")},
    {RUMOR_OPT_STR("--out", s_opts_t, out, "DIR", "output directory (default: results/GRID-NAME)")},
    {RUMOR_OPT_U32("--rounds", s_opts_t, rounds, "N", 1, 100000000,
                   "override the rounds of every cell (a quick trial of a grid)")},
};

static const rumor_opt_cmd_t s_cmd = {
    .prog = "rumor sweep",
    .usage = "rumor sweep GRID.json [OPTIONS]",
    .about =
        "Runs every (variation, seed) cell of an experiment grid as a `rumor sim` process and\n"
        "writes, in the output directory:\n"
        "  results.jsonl    one row per finished cell: variation, seed, status, the run's\n"
        "                   final summary (target_round, target_bytes, acc_avg_model,\n"
        "                   acc_min, density, bytes_sent per peer, ...) and wall_s\n"
        "  summary.md       per variation, mean ± std over seeds, and bytes to the target\n"
        "  curves/*.jsonl   acc_avg_model, acc_min, grad_norm_avg and bytes per peer at each\n"
        "                   evaluation, mean of seeds\n"
        "  accuracy-mb.png, acc-min-mb.png, grad-norm-mb.png ... their plots (scripts/plot)\n"
        "  cells/VARIATION/seed-S/  scenario.json, metrics.jsonl, summary.json, log.txt\n"
        "A stopped sweep (Ctrl-C, a crash) started again runs only the cells without a row.\n"
        "The grid format is in docs/experiments.md.",
    .after = "environment:\n"
             "  RUMOR_PLOT    the plot script (default: scripts/plot of the source tree)",
    .opts = s_opts,
    .n_opts = sizeof s_opts / sizeof s_opts[0],
    .args = "GRID.json",
    .min_args = 1,
    .max_args = 1,
};

typedef struct {
    pid_t pid;
    size_t cell;
    double t0;
} s_child_t;

/* Starts cell c: `rumor sim scenario.json --metrics metrics.jsonl --threads 1`, stdout into
 * summary.json, stderr into log.txt. Returns the pid, or -1 with em filled. */
static pid_t s_spawn(const rumor_sweep_t *s, const char *out, size_t c, rumor_errmsg_t *em)
{
    char sc[RUMOR_PATH_MAX], metrics[RUMOR_PATH_MAX], summary[RUMOR_PATH_MAX], log[RUMOR_PATH_MAX];
    if (rumor_sweep_cell_path(s, out, c, "scenario.json", sc, sizeof sc) ||
        rumor_sweep_cell_path(s, out, c, "metrics.jsonl", metrics, sizeof metrics) ||
        rumor_sweep_cell_path(s, out, c, "summary.json", summary, sizeof summary) ||
        rumor_sweep_cell_path(s, out, c, "log.txt", log, sizeof log)) {
        rumor_errmsg_set(em, RUMOR_EINVAL, "%s: path too long", out);
        return -1;
    }
    const int fo = open(summary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    const int fe = fo < 0 ? -1 : open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fo < 0 || fe < 0) {
        rumor_errmsg_set(em, RUMOR_EIO, "%s: %s", fo < 0 ? summary : log, strerror(errno));
        if (fo >= 0) close(fo);
        return -1;
    }
    /* The stop signals wait until the child has its own dispositions: one that came between
     * fork and exec would otherwise run the sweep's handler in the child and be lost. */
    sigset_t stops, old;
    sigemptyset(&stops);
    sigaddset(&stops, SIGINT);
    sigaddset(&stops, SIGTERM);
    sigprocmask(SIG_BLOCK, &stops, &old);
    const pid_t pid = fork();
    if (pid == 0) {
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        sigprocmask(SIG_SETMASK, &old, NULL);
        prctl(PR_SET_PDEATHSIG, SIGTERM); /* a sweep killed outright takes its cells along */
        if (dup2(fo, 1) < 0 || dup2(fe, 2) < 0) _exit(127);
        setenv("OPENBLAS_NUM_THREADS", "1", 1);
        execl("/proc/self/exe", "rumor", "sim", sc, "--metrics", metrics, "--threads", "1",
              (char *)NULL);
        fprintf(stderr, "rumor sweep: cannot run /proc/self/exe: %s\n", strerror(errno));
        _exit(127);
    }
    sigprocmask(SIG_SETMASK, &old, NULL);
    close(fo);
    close(fe);
    if (pid < 0) rumor_errmsg_set(em, RUMOR_EIO, "fork: %s", strerror(errno));
    return pid;
}

/* The last non-empty line of cell c's log, for a failed cell's row. */
static void s_last_line(const rumor_sweep_t *s, const char *out, size_t c, char *buf, size_t cap)
{
    char path[RUMOR_PATH_MAX], *text = NULL;
    size_t len = 0;
    snprintf(buf, cap, "no output");
    if (rumor_sweep_cell_path(s, out, c, "log.txt", path, sizeof path) ||
        rumor_file_read(path, (size_t)64 << 20, &text, &len, NULL))
        return;
    while (len && (text[len - 1] == '\n' || text[len - 1] == ' ')) text[--len] = '\0';
    const char *nl = strrchr(text, '\n');
    if (len) snprintf(buf, cap, "%s", nl ? nl + 1 : text);
    free(text);
}

/* Appends one row to the results file, whole, and flushes it to disk. */
static int s_append(const char *path, const json_t *row, rumor_errmsg_t *em)
{
    char *t;
    size_t n;
    int rc = rumor_file_json(row, RUMOR_SWEEP_ROW_JSON, path, &t, &n, em);
    if (rc) return rc;
    const int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0 || write(fd, t, n) != (ssize_t)n || write(fd, "\n", 1) != 1 || fsync(fd) != 0)
        rc = rumor_errmsg_set(em, RUMOR_EIO, "%s: %s", path, strerror(errno));
    if (fd >= 0) close(fd);
    free(t);
    return rc;
}

/* Cell c ended with wait status st after wall seconds: its row, or NULL when it was stopped
 * by the sweep's own stop (`stopped`; it runs again next time). */
static json_t *s_finish(const rumor_sweep_t *s, const char *out, size_t c, int st, double wall,
                        int stopped)
{
    char path[RUMOR_PATH_MAX], why[RUMOR_PATH_MAX + 64];
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0 &&
        !rumor_sweep_cell_path(s, out, c, "summary.json", path, sizeof path)) {
        json_t *summary = json_load_file(path, 0, NULL);
        json_t *row = json_is_object(summary) ? rumor_sweep_row(s, c, summary, NULL, wall) : NULL;
        json_decref(summary);
        if (row) return row;
        snprintf(why, sizeof why, "%s: not a rumor sim summary", path);
        return rumor_sweep_row(s, c, NULL, why, wall);
    }
    if (stopped) return NULL;
    if (WIFSIGNALED(st))
        snprintf(why, sizeof why, "killed by signal %d", WTERMSIG(st));
    else
        s_last_line(s, out, c, why, sizeof why);
    return rumor_sweep_row(s, c, NULL, why, wall);
}

/* One progress line for a finished cell. */
static void s_report(const rumor_sweep_t *s, size_t c, const json_t *row, size_t done, size_t total,
                     const char *eta)
{
    const rumor_sweep_cell_t *cell = &s->cells[c];
    fprintf(stderr, "[%*zu/%zu] %s, seed %llu: ",
            total >= 100  ? 3
            : total >= 10 ? 2
                          : 1,
            done, total, s->variation[cell->variation], (unsigned long long)cell->seed);
    const json_t *err = json_object_get(row, "error");
    if (err) {
        fprintf(stderr, "failed: %s", json_string_value(err));
    } else {
        fprintf(stderr, "acc_avg_model %.4f (min %.4f), %.3f MB/peer",
                json_number_value(json_object_get(row, "acc_avg_model")),
                json_number_value(json_object_get(row, "acc_min")),
                json_number_value(json_object_get(row, "bytes_sent")) / 1e6);
        const json_t *tr = json_object_get(row, "target_round");
        if (json_is_integer(tr))
            fprintf(stderr, ", target %g at round %lld (%.3f MB)",
                    json_number_value(json_object_get(row, "target_acc")),
                    (long long)json_integer_value(tr),
                    json_number_value(json_object_get(row, "target_bytes")) / 1e6);
        else if (tr)
            fprintf(stderr, ", target %g not reached",
                    json_number_value(json_object_get(row, "target_acc")));
    }
    fprintf(stderr, ", %.1f s%s%s\n", json_number_value(json_object_get(row, "wall_s")),
            eta[0] ? "  " : "", eta);
}

/* Runs the cells without a row in results, at most jobs at a time. Returns 0, RUMOR_EINTR
 * when stopped by a signal, or an error with em filled. */
static int s_run_cells(const rumor_sweep_t *s, const char *out, const char *results,
                       const uint8_t *have, size_t done, uint32_t jobs, volatile sig_atomic_t *stop,
                       rumor_errmsg_t *em)
{
    s_child_t *kids = calloc(jobs, sizeof *kids);
    if (!kids) return rumor_errmsg_set(em, RUMOR_ENOMEM, "out of memory");
    const size_t todo = s->n_cells - done;
    size_t next = 0, running = 0, finished = 0;
    const double t_start = rumor_clock_now();
    int rc = 0, forwarded = 0;
    while (running || (next < s->n_cells && !*stop && !rc)) {
        while (running < jobs && next < s->n_cells && !*stop && !rc) {
            const size_t c = next++;
            if (have[c]) continue;
            if ((rc = rumor_sweep_prepare_cell(s, out, c, em))) break;
            uint32_t k = 0;
            while (kids[k].pid) k++;
            kids[k] =
                (s_child_t){.pid = s_spawn(s, out, c, em), .cell = c, .t0 = rumor_clock_now()};
            if (kids[k].pid < 0) {
                kids[k].pid = 0;
                rc = RUMOR_EIO;
                break;
            }
            running++;
        }
        if (!running) break;
        /* Checked before every wait: a signal that came while a finished cell was handled
         * interrupts no wait; one that comes during the wait ends it (EINTR) and is seen here
         * on the next turn. */
        if ((*stop || rc) && !forwarded) { /* stop every cell; each ends its round and exits */
            for (uint32_t k = 0; k < jobs; k++)
                if (kids[k].pid) kill(kids[k].pid, SIGTERM);
            forwarded = 1;
        }
        int st;
        const pid_t pid = waitpid(-1, &st, 0);
        if (pid < 0) continue; /* EINTR */
        uint32_t k = 0;
        while (k < jobs && kids[k].pid != pid) k++;
        if (k == jobs) continue;
        const size_t c = kids[k].cell;
        kids[k].pid = 0;
        running--;
        json_t *row = s_finish(s, out, c, st, rumor_clock_now() - kids[k].t0, *stop);
        if (!row) {
            fprintf(stderr, "rumor sweep: %s, seed %llu: stopped; it runs again next time\n",
                    s->variation[s->cells[c].variation], (unsigned long long)s->cells[c].seed);
            continue;
        }
        rumor_errmsg_t aem = {""};
        const int arc = s_append(results, row, &aem);
        if (arc && !rc) {
            rc = arc;
            *em = aem;
        }
        finished++;
        char eta[32];
        const double el = rumor_clock_now() - t_start;
        rumor_clock_eta(el > 0 ? finished / el : 0, (uint32_t)(todo - finished), eta, sizeof eta);
        s_report(s, c, row, done + finished, s->n_cells, eta);
        json_decref(row);
    }
    free(kids);
    return rc ? rc : *stop ? RUMOR_EINTR : 0;
}

/* Runs the plot script over the curves: PNGs in out, its output in out/plot.log. */
static void s_plot(const rumor_sweep_t *s, const char *out)
{
    const char *script = getenv("RUMOR_PLOT");
    if (!script) script = RUMOR_SOURCE_DIR "/scripts/plot";
    if (access(script, X_OK) != 0) {
        fprintf(stderr,
                "rumor sweep: no plots: %s is not there (set RUMOR_PLOT); the curves are in "
                "%s/curves\n",
                script, out);
        return;
    }
    char cmd[4 * RUMOR_PATH_MAX], title[2 * RUMOR_SWEEP_NAME_MAX];
    snprintf(title, sizeof title, "%s: acc_avg_model, mean of %u seeds", s->name, s->n_seeds);
    /* Paths and the title go through the environment, never through the shell's parser. */
    setenv("RUMOR_SWEEP_OUT", out, 1);
    setenv("RUMOR_SWEEP_TITLE", title, 1);
    snprintf(cmd, sizeof cmd,
             "'%s' --acc acc_avg_model --title \"$RUMOR_SWEEP_TITLE\" --out \"$RUMOR_SWEEP_OUT\" "
             "\"$RUMOR_SWEEP_OUT\"/curves/*.jsonl >\"$RUMOR_SWEEP_OUT/plot.log\" 2>&1",
             script);
    if (strchr(script, '\'') || system(cmd) != 0)
        fprintf(stderr, "rumor sweep: plotting failed; see %s/plot.log\n", out);
    unsetenv("RUMOR_SWEEP_OUT");
    unsetenv("RUMOR_SWEEP_TITLE");
}

/* Writes summary.md, the curves and the plots of the rows in results. */
static int s_report_all(const rumor_sweep_t *s, const char *out, const char *results,
                        rumor_errmsg_t *em)
{
    json_t *rows;
    size_t dropped;
    int rc = rumor_sweep_read_results(s, results, &rows, &dropped, em);
    if (rc) return rc;
    char path[RUMOR_PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/summary.md", out);
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    if (!mem) {
        json_decref(rows);
        return rumor_errmsg_set(em, RUMOR_ENOMEM, "%s: out of memory", path);
    }
    rumor_sweep_summary(s, rows, mem);
    fclose(mem);
    const rumor_file_piece_t piece = {text, len};
    rc = rumor_file_save(path, 0644, 0, &piece, 1, em);
    free(text);
    size_t curves = 0;
    if (!rc && json_array_size(rows)) rc = rumor_sweep_curves(s, rows, out, &curves, em);
    json_decref(rows);
    if (!rc && curves) s_plot(s, out);
    if (!rc) fprintf(stderr, "rumor sweep: %s written\n", path);
    return rc;
}

int rumor_cmd_sweep(int argc, char **argv)
{
    const long cores = sysconf(_SC_NPROCESSORS_ONLN);
    s_opts_t o = {.jobs = cores > 0 ? (uint32_t)cores : 1};
    const char *grid;
    int n_pos;
    const int parsed = rumor_opt_parse(&s_cmd, argc, argv, &o, &grid, &n_pos);
    if (parsed) return rumor_opt_exit(parsed);
    const char *out_opt = o.out;
    const uint32_t rounds = o.rounds, jobs = o.jobs;
    rumor_errmsg_t em = {""};
    rumor_sweep_t *s;
    if (rumor_sweep_load(grid, rounds, &s, &em)) {
        fprintf(stderr, "rumor sweep: %s\n", em.msg);
        return 1;
    }
    char out[RUMOR_PATH_MAX], results[RUMOR_PATH_MAX + 16];
    snprintf(out, sizeof out, "%s", out_opt ? out_opt : "results");
    int rc = out_opt ? 0 : rumor_file_mkdir(out, 0755, &em);
    if (!out_opt) snprintf(out, sizeof out, "results/%s", s->name);
    if (!rc) rc = rumor_file_mkdir(out, 0755, &em);
    snprintf(results, sizeof results, "%s/results.jsonl", out);
    json_t *rows = NULL;
    size_t dropped = 0;
    uint8_t *have = calloc(s->n_cells, 1);
    if (!rc && !have) rc = rumor_errmsg_set(&em, RUMOR_ENOMEM, "out of memory");
    if (!rc) rc = rumor_sweep_read_results(s, results, &rows, &dropped, &em);
    for (size_t i = 0; !rc && i < json_array_size(rows); i++)
        have[rumor_sweep_row_cell(s, json_array_get(rows, i))] = 1;
    const size_t done = json_array_size(rows);
    json_decref(rows);
    if (rc) {
        fprintf(stderr, "rumor sweep: %s\n", em.msg);
        free(have);
        rumor_sweep_destroy(&s);
        return 1;
    }
    if (dropped)
        fprintf(stderr,
                "rumor sweep: %s: %zu rows of other cells or older scenarios (or a torn line) "
                "dropped\n",
                results, dropped);
    fprintf(stderr,
            "rumor sweep: %s: %u variations x %u seeds = %zu cells, %zu done already, %zu to "
            "run, %u at a time, in %s\n",
            s->name, s->n_variations, s->n_seeds, s->n_cells, done, s->n_cells - done, jobs, out);
    volatile sig_atomic_t *stop = rumor_cmd_stop_begin();
    rc = s_run_cells(s, out, results, have, done, jobs, stop, &em);
    rumor_cmd_stop_end();
    free(have);
    if (rc == RUMOR_EINTR)
        fprintf(stderr, "rumor sweep: interrupted; the same command runs the cells left\n");
    else if (rc)
        fprintf(stderr, "rumor sweep: %s\n", em.msg);
    rumor_errmsg_t rem = {""};
    if (s_report_all(s, out, results, &rem)) {
        fprintf(stderr, "rumor sweep: %s\n", rem.msg);
        if (!rc) rc = RUMOR_EIO;
    }
    rumor_sweep_destroy(&s);
    return rc ? 1 : 0;
}
