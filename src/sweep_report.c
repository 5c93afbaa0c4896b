/* rumor — experiment grids: results rows, the summary table and the mean curves (see
 * sweep.h). */
#include "rumor/sweep.h"
#include "rumor/file.h"
#include "rumor/scenario.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- results ------------------------------------------------------------------------------ */

/* The elements of array a as JSON Lines (RUMOR_SWEEP_ROW_JSON), for the file at path: *text
 * (malloc'd; NULL when a is empty) and its length *len. Returns 0 or RUMOR_ENOMEM. */
static int s_jsonl(const json_t *a, const char *path, char **text, size_t *len, rumor_errmsg_t *em)
{
    *text = NULL;
    *len = 0;
    char *buf = NULL;
    size_t used = 0;
    for (size_t i = 0; i < json_array_size(a); i++) {
        char *t;
        size_t tl;
        const int rc =
            rumor_file_json(json_array_get(a, i), RUMOR_SWEEP_ROW_JSON, path, &t, &tl, em);
        char *grown = rc ? NULL : realloc(buf, used + tl + 1);
        if (!grown) {
            free(t);
            free(buf);
            return rc ? rc : rumor_errmsg_set(em, RUMOR_ENOMEM, "%s: out of memory", path);
        }
        buf = grown;
        memcpy(buf + used, t, tl);
        buf[used + tl] = '\n';
        used += tl + 1;
        free(t);
    }
    *text = buf;
    *len = used;
    return 0;
}

long rumor_sweep_row_cell(const rumor_sweep_t *s, const json_t *row)
{
    const char *var = json_string_value(json_object_get(row, "variation"));
    const char *cfg = json_string_value(json_object_get(row, "config"));
    const json_t *seed = json_object_get(row, "seed");
    if (!var || !cfg || !json_is_integer(seed)) return -1;
    for (size_t c = 0; c < s->n_cells; c++) {
        const rumor_sweep_cell_t *cell = &s->cells[c];
        if ((json_int_t)cell->seed == json_integer_value(seed) &&
            !strcmp(s->variation[cell->variation], var) && !strcmp(cell->config, cfg))
            return (long)c;
    }
    return -1;
}

int rumor_sweep_read_results(const rumor_sweep_t *s, const char *path, json_t **rows,
                             size_t *dropped, rumor_errmsg_t *em)
{
    *rows = NULL;
    *dropped = 0;
    json_t **slot = calloc(s->n_cells, sizeof *slot);
    if (!slot) return rumor_errmsg_set(em, RUMOR_ENOMEM, "%s: out of memory", path);
    char *text = NULL;
    size_t len = 0;
    int rc = 0;
    if (access(path, F_OK) == 0 && (rc = rumor_file_read(path, (size_t)1 << 30, &text, &len, em)))
        goto done;
    for (char *line = text; line && line < text + len;) {
        char *nl = memchr(line, '\n', (size_t)(text + len - line));
        const size_t n = nl ? (size_t)(nl - line) : (size_t)(text + len - line);
        json_t *row = nl ? json_loadb(line, n, 0, NULL) : NULL; /* no newline: torn */
        const long c = row ? rumor_sweep_row_cell(s, row) : -1;
        if (c < 0 || slot[c]) (*dropped)++;
        if (c >= 0) {
            json_decref(slot[c]);
            slot[c] = row;
        } else {
            json_decref(row);
        }
        line += n + 1;
    }
    json_t *all = json_array();
    int bad = !all;
    for (size_t c = 0; c < s->n_cells && !bad; c++)
        if (slot[c]) bad = json_array_append(all, slot[c]);
    if (bad) rc = rumor_errmsg_set(em, RUMOR_ENOMEM, "%s: out of memory", path);
    if (!rc && *dropped) { /* rewrite with the rows kept */
        char *buf;
        size_t used;
        rc = s_jsonl(all, path, &buf, &used, em);
        const rumor_file_piece_t piece = {buf, used};
        if (!rc) rc = rumor_file_save(path, 0644, 0, &piece, 1, em);
        free(buf);
    }
    if (rc)
        json_decref(all);
    else
        *rows = all;
done:
    for (size_t c = 0; c < s->n_cells; c++) json_decref(slot[c]);
    free(slot);
    free(text);
    return rc;
}

json_t *rumor_sweep_row(const rumor_sweep_t *s, size_t c, const json_t *summary, const char *error,
                        double wall_s)
{
    const rumor_sweep_cell_t *cell = &s->cells[c];
    json_t *row = json_pack("{s:s, s:I, s:s, s:s}", "variation", s->variation[cell->variation],
                            "seed", (json_int_t)cell->seed, "status", summary ? "ok" : "failed",
                            "config", cell->config);
    if (!row) return NULL;
    if (summary) {
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)summary, k, v)
        {
            if (strcmp(k, "wall_s")) json_object_set(row, k, v);
        }
    } else {
        json_object_set_new(row, "error", json_string(error ? error : "unknown"));
    }
    json_object_set_new(row, "wall_s", json_real(round(wall_s * 10) / 10));
    return row;
}

/* ---- summary ------------------------------------------------------------------------------ */

typedef struct {
    const char *key, *head;
    double scale;
    int prec;
    char conv; /* 'f' or 'e' */
} s_fig_t;

static const s_fig_t s_main_figs[] = {
    {"acc_avg_model", "acc_avg_model", 1, 4, 'f'},
    {"acc_min", "acc_min", 1, 4, 'f'},
    {"density", "density", 1, 3, 'f'},
    {"density_copy", "density_copy", 1, 3, 'f'},
    {"bytes_sent", "MB sent/peer", 1e-6, 3, 'f'},
    {"wall_s", "wall s", 1, 1, 'f'},
};

static const s_fig_t s_more_figs[] = {
    {"loss", "loss", 1, 4, 'f'},
    {"objective", "objective", 1, 4, 'f'},
    {"grad_norm_avg", "grad_norm_avg", 1, 2, 'e'},
    {"consensus_dist", "consensus_dist", 1, 2, 'e'},
    {"compress_err", "compress_err", 1, 4, 'f'},
    {"delta_hat", "delta_hat", 1, 2, 'f'},
    {"bits_per_param", "bits/param", 1, 3, 'f'},
};

/* Runs with Byzantine peers (scenario faults): the honest peers' figures and the clipping. */
static const s_fig_t s_byz_figs[] = {
    {"acc_mean_honest", "acc_mean_honest", 1, 4, 'f'},
    {"acc_min_honest", "acc_min_honest", 1, 4, 'f'},
    {"clipped_frac_honest", "clipped from honest", 1, 3, 'f'},
    {"clipped_frac_byz", "clipped from Byzantine", 1, 3, 'f'},
};

/* "mean ± std" (sample std) of the n values; the mean alone for one; "—" for none. */
static void s_stat(const double *x, size_t n, int prec, char conv, char *buf, size_t cap)
{
    if (n == 0) {
        snprintf(buf, cap, "—");
        return;
    }
    double mean = 0, ss = 0;
    for (size_t i = 0; i < n; i++) mean += x[i] / (double)n;
    for (size_t i = 0; i < n; i++) ss += (x[i] - mean) * (x[i] - mean);
    const char *fmt = conv == 'e' ? "%.*e" : "%.*f";
    int used = snprintf(buf, cap, fmt, prec, mean);
    if (n > 1 && used > 0 && (size_t)used < cap) {
        used += snprintf(buf + used, cap - (size_t)used, " ± ");
        if (used > 0 && (size_t)used < cap)
            snprintf(buf + used, cap - (size_t)used, fmt, prec, sqrt(ss / (double)(n - 1)));
    }
}

static int s_ok(const json_t *row)
{
    const char *st = json_string_value(json_object_get(row, "status"));
    return st && !strcmp(st, "ok");
}

/* The values of key (times scale) in the "ok" rows of variation v; returns how many. */
static size_t s_values(const rumor_sweep_t *s, const json_t *rows, uint32_t v, const char *key,
                       double scale, double *x)
{
    size_t n = 0;
    for (size_t i = 0; i < json_array_size(rows); i++) {
        const json_t *row = json_array_get(rows, i), *val = json_object_get(row, key);
        const long c = rumor_sweep_row_cell(s, row);
        if (c < 0 || s->cells[c].variation != v || !s_ok(row) || !json_is_number(val)) continue;
        x[n++] = json_number_value(val) * scale;
    }
    return n;
}

static void s_table(const rumor_sweep_t *s, const json_t *rows, const s_fig_t *figs, size_t nf,
                    int with_target, FILE *f, double *x)
{
    fprintf(f, "| variation | seeds |");
    if (with_target) fprintf(f, " target | MB/peer to target (reached) | rounds to target |");
    for (size_t k = 0; k < nf; k++) fprintf(f, " %s |", figs[k].head);
    fprintf(f, "\n| --- | --- |");
    if (with_target) fprintf(f, " --- | --- | --- |");
    for (size_t k = 0; k < nf; k++) fprintf(f, " --- |");
    fprintf(f, "\n");
    for (uint32_t v = 0; v < s->n_variations; v++) {
        const size_t ok = s_values(s, rows, v, "round", 1, x);
        size_t all = 0;
        for (size_t i = 0; i < json_array_size(rows); i++) {
            const long c = rumor_sweep_row_cell(s, json_array_get(rows, i));
            all += c >= 0 && s->cells[c].variation == v;
        }
        char buf[96];
        fprintf(f, "| %s | %zu", s->variation[v], ok);
        if (all > ok) fprintf(f, " (+%zu failed)", all - ok);
        fprintf(f, " |");
        if (with_target) {
            const size_t nt = s_values(s, rows, v, "target_acc", 1, x);
            if (nt)
                fprintf(f, " %g |", x[0]);
            else
                fprintf(f, " — |");
            const size_t reached = s_values(s, rows, v, "target_bytes", 1e-6, x);
            s_stat(x, reached, 3, 'f', buf, sizeof buf);
            fprintf(f, " %s (%zu/%zu) |", buf, reached, ok);
            s_stat(x, s_values(s, rows, v, "target_round", 1, x), 0, 'f', buf, sizeof buf);
            fprintf(f, " %s |", buf);
        }
        for (size_t k = 0; k < nf; k++) {
            s_stat(x, s_values(s, rows, v, figs[k].key, figs[k].scale, x), figs[k].prec,
                   figs[k].conv, buf, sizeof buf);
            fprintf(f, " %s |", buf);
        }
        fprintf(f, "\n");
    }
}

void rumor_sweep_summary(const rumor_sweep_t *s, const json_t *rows, FILE *f)
{
    double *x = calloc(s->n_seeds + 1, sizeof *x);
    if (!x) return;
    int with_target = 0, with_byz = 0;
    for (size_t i = 0; i < json_array_size(rows); i++) {
        with_target |= json_object_get(json_array_get(rows, i), "target_acc") != NULL;
        with_byz |= json_object_get(json_array_get(rows, i), "acc_min_honest") != NULL;
    }
    fprintf(f, "# %s\n\n", s->name);
    if (s->description) fprintf(f, "%s\n\n", s->description);
    fprintf(f, "`rumor sweep %s`: %zu of %zu cells (%u variations x %u seeds:", s->path,
            json_array_size(rows), s->n_cells, s->n_variations, s->n_seeds);
    for (uint32_t i = 0; i < s->n_seeds; i++)
        fprintf(f, "%s%llu", i ? ", " : " ", (unsigned long long)s->seeds[i]);
    fprintf(f, ").%s\n\n",
            json_array_size(rows) < s->n_cells ? " **Incomplete: the figures below are of the "
                                                 "cells that finished.**"
                                               : "");
    fprintf(f, "Mean ± sample standard deviation (n − 1) over the seeds that finished; MB are "
               "10^6 bytes sent per peer (all edges).");
    if (with_target)
        fprintf(f, " \"To target\" is the first evaluation at which acc_avg_model reached the "
                   "target, over the seeds that reached it (reached/finished).");
    fprintf(f, "\n\n");
    s_table(s, rows, s_main_figs, sizeof s_main_figs / sizeof *s_main_figs, with_target, f, x);
    fprintf(f, "\n");
    s_table(s, rows, s_more_figs, sizeof s_more_figs / sizeof *s_more_figs, 0, f, x);
    if (with_byz) {
        fprintf(f, "\nByzantine peers (scenario faults): the figures of the honest peers, and "
                   "the fraction of mixed terms that were clipped, from honest and from "
                   "Byzantine neighbours.\n\n");
        s_table(s, rows, s_byz_figs, sizeof s_byz_figs / sizeof *s_byz_figs, 0, f, x);
    }
    free(x);
}

/* ---- curves ------------------------------------------------------------------------------- */

static const char *const s_curve_keys[] = {"acc_avg_model", "acc_min", "density", "bytes_sent",
                                           "grad_norm_avg"};
enum { S_CURVE_KEYS = 5 };

/* The records of a metrics file, as a JSON array (NULL with em filled on failure). */
static json_t *s_load_records(const char *path, rumor_errmsg_t *em)
{
    char *text;
    size_t len;
    if (rumor_file_read(path, (size_t)1 << 30, &text, &len, em)) return NULL;
    json_t *all = json_array();
    for (char *line = text; all && line < text + len;) {
        char *nl = memchr(line, '\n', (size_t)(text + len - line));
        const size_t n = nl ? (size_t)(nl - line) : (size_t)(text + len - line);
        json_t *rec = json_loadb(line, n, 0, NULL);
        if (!json_is_integer(json_object_get(rec, "round"))) {
            rumor_errmsg_set(em, RUMOR_EFORMAT, "%s: a line that is not a metrics record", path);
            json_decref(rec);
            json_decref(all);
            all = NULL;
            break;
        }
        json_array_append_new(all, rec);
        line += n + 1;
    }
    free(text);
    return all;
}

/* The record of round r in recs, or NULL. */
static const json_t *s_at_round(const json_t *recs, json_int_t r)
{
    for (size_t i = 0; i < json_array_size(recs); i++)
        if (json_integer_value(json_object_get(json_array_get(recs, i), "round")) == r)
            return json_array_get(recs, i);
    return NULL;
}

/* The mean curve of variation v over its "ok" cells, appended to *text as JSON Lines. */
static int s_curve(const rumor_sweep_t *s, const json_t *rows, uint32_t v, const char *out,
                   json_t *curve, rumor_errmsg_t *em)
{
    json_t *runs = json_array();
    int rc = 0;
    for (size_t i = 0; i < json_array_size(rows) && !rc; i++) {
        const json_t *row = json_array_get(rows, i);
        const long c = rumor_sweep_row_cell(s, row);
        if (c < 0 || s->cells[c].variation != v || !s_ok(row)) continue;
        char path[RUMOR_PATH_MAX];
        if (rumor_sweep_cell_path(s, out, (size_t)c, "metrics.jsonl", path, sizeof path)) {
            rc = rumor_errmsg_set(em, RUMOR_EINVAL, "%s: path too long", out);
            break;
        }
        json_t *recs = s_load_records(path, em);
        if (!recs) rc = RUMOR_EFORMAT;
        json_array_append_new(runs, recs);
    }
    const json_t *first = json_array_get(runs, 0);
    for (size_t i = 0; !rc && i < json_array_size(first); i++) {
        const json_int_t r = json_integer_value(json_object_get(json_array_get(first, i), "round"));
        double sum[S_CURVE_KEYS] = {0};
        int all = 1, have[S_CURVE_KEYS];
        for (int f = 0; f < S_CURVE_KEYS; f++) have[f] = 1;
        for (size_t k = 0; k < json_array_size(runs) && all; k++) {
            const json_t *rec = s_at_round(json_array_get(runs, k), r);
            for (int f = 0; f < S_CURVE_KEYS && rec; f++) {
                const json_t *x = json_object_get(rec, s_curve_keys[f]);
                have[f] &= json_is_number(x);
                sum[f] += json_number_value(x);
            }
            all = rec != NULL;
        }
        if (!all) continue;
        /* A field some run lacks (grad_norm_avg of an older binary, say) stays out. */
        json_t *point = json_pack("{s:I}", "round", r);
        int bad = !point;
        for (int f = 0; f < S_CURVE_KEYS; f++)
            if (have[f])
                bad |= json_object_set_new(point, s_curve_keys[f],
                                           json_real(sum[f] / (double)json_array_size(runs)));
        bad |= json_object_set_new(point, "seeds", json_integer((json_int_t)json_array_size(runs)));
        bad |= json_array_append_new(curve, point);
        if (bad) rc = rumor_errmsg_set(em, RUMOR_ENOMEM, "%s: out of memory", out);
    }
    json_decref(runs);
    return rc;
}

int rumor_sweep_curves(const rumor_sweep_t *s, const json_t *rows, const char *out, size_t *written,
                       rumor_errmsg_t *em)
{
    *written = 0;
    char dir[RUMOR_PATH_MAX];
    if (snprintf(dir, sizeof dir, "%s/curves", out) >= (int)sizeof dir)
        return rumor_errmsg_set(em, RUMOR_EINVAL, "%s: path too long", out);
    int rc = rumor_file_mkdir(dir, 0755, em);
    for (uint32_t v = 0; v < s->n_variations && !rc; v++) {
        json_t *curve = json_array();
        rc = s_curve(s, rows, v, out, curve, em);
        char *text = NULL;
        size_t len = 0;
        char path[RUMOR_PATH_MAX + RUMOR_SWEEP_NAME_MAX];
        snprintf(path, sizeof path, "%s/%s.jsonl", dir, s->slug[v]);
        if (!rc) rc = s_jsonl(curve, path, &text, &len, em);
        if (!rc && len) {
            const rumor_file_piece_t piece = {text, len};
            if (!(rc = rumor_file_save(path, 0644, 0, &piece, 1, em))) (*written)++;
        }
        free(text);
        json_decref(curve);
    }
    return rc;
}
