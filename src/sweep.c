/* rumor — experiment grids: loading a grid file into its cells (see sweep.h; the results,
 * summary and curves are in sweep_report.c). */
#include "rumor/sweep.h"
#include "rumor/file.h"
#include "rumor/scenario.h"

#include <limits.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define S_MAX_CELLS 10000u

/* ---- paths -------------------------------------------------------------------------------- */

/* The absolute directory of the file at path. */
static int s_abs_dir(const char *path, char *out, size_t cap)
{
    char dir[RUMOR_PATH_MAX], cwd[RUMOR_PATH_MAX];
    if (rumor_file_dir(path, dir, sizeof dir)) return RUMOR_ENOSPC;
    if (dir[0] == '/') return snprintf(out, cap, "%s", dir) < (int)cap ? 0 : RUMOR_ENOSPC;
    if (!getcwd(cwd, sizeof cwd)) return RUMOR_EIO;
    return snprintf(out, cap, "%s/%s", cwd, dir) < (int)cap ? 0 : RUMOR_ENOSPC;
}

/* rel resolved against the absolute directory dir, canonical when it exists. */
static int s_resolve(const char *dir, const char *rel, char *out, size_t cap)
{
    char joined[2 * RUMOR_PATH_MAX];
    if (rel[0] == '/')
        snprintf(joined, sizeof joined, "%s", rel);
    else
        snprintf(joined, sizeof joined, "%s/%s", dir, rel);
    char real[PATH_MAX];
    const char *best = realpath(joined, real) ? real : joined;
    return snprintf(out, cap, "%s", best) < (int)cap ? 0 : RUMOR_ENOSPC;
}

/* The scenario keys that hold paths (scenario.h): relative ones become absolute against dir,
 * so that a cell's scenario means the same wherever it is written. 0, or RUMOR_ENOSPC (a path
 * too long) or RUMOR_ENOMEM with em naming where. */
static int s_absolutize(json_t *sc, const char *dir, const char *where, rumor_errmsg_t *em)
{
    json_t *data = json_object_get(sc, "data");
    json_t *slots[3][2] = {{sc, json_object_get(sc, "topology")},
                           {data, json_object_get(data, "path")},
                           {data, json_object_get(data, "test_path")}};
    const char *keys[3] = {"topology", "path", "test_path"};
    for (int k = 0; k < 3; k++) {
        const char *v = json_string_value(slots[k][1]);
        if (!v || !v[0] || v[0] == '/') continue;
        char abs[RUMOR_PATH_MAX];
        if (s_resolve(dir, v, abs, sizeof abs))
            return rumor_errmsg_set(em, RUMOR_ENOSPC, "%s: path too long", where);
        if (json_object_set_new(slots[k][0], keys[k], json_string(abs)))
            return rumor_errmsg_set(em, RUMOR_ENOMEM, "%s: out of memory", where);
    }
    return 0;
}

/* ---- merging ------------------------------------------------------------------------------ */

/* Sets the dotted key (prefix names what is above it, for messages) of obj to val: an object
 * over an object merges member by member, anything else replaces. */
static int s_set(json_t *obj, const char *prefix, const char *key, json_t *val, const char *where,
                 rumor_errmsg_t *em)
{
    const char *dot = strchr(key, '.');
    const size_t len = dot ? (size_t)(dot - key) : strlen(key);
    char head[RUMOR_SWEEP_NAME_MAX], path[512]; /* path: prefix, head and a dot */
    const int pn = snprintf(path, sizeof path, "%s%.*s.", prefix, (int)len, key);
    if (len == 0 || len >= sizeof head || pn < 0 || (size_t)pn >= sizeof path)
        return rumor_errmsg_set(em, RUMOR_EINVAL, "%s: %s%s: empty or too long a key", where,
                                prefix, key);
    memcpy(head, key, len);
    head[len] = '\0';
    json_t *old = json_object_get(obj, head);
    if (dot) {
        if (!old && json_object_set_new(obj, head, old = json_object()))
            return rumor_errmsg_set(em, RUMOR_ENOMEM, "%s: out of memory", where);
        if (!json_is_object(old))
            return rumor_errmsg_set(em, RUMOR_EINVAL, "%s: %s%s: %.*s is not an object", where,
                                    prefix, key, pn - 1, path);
        return s_set(old, path, dot + 1, val, where, em);
    }
    if (json_is_object(val) && json_is_object(old)) {
        const char *k;
        json_t *v;
        json_object_foreach(val, k, v)
        {
            const int rc = s_set(old, path, k, v, where, em);
            if (rc) return rc;
        }
        return 0;
    }
    if (json_object_set_new(obj, head, json_deep_copy(val)))
        return rumor_errmsg_set(em, RUMOR_ENOMEM, "%s: out of memory", where);
    return 0;
}

/* Merges every member of set (NULL: nothing) over sc, then makes new relative paths
 * absolute against dir. where names set in messages ("g.json: variations[1].set"). */
static int s_merge(json_t *sc, const json_t *set, const char *dir, const char *where,
                   rumor_errmsg_t *em)
{
    if (!set) return 0;
    if (!json_is_object(set))
        return rumor_errmsg_set(em, RUMOR_EINVAL, "%s: expected an object", where);
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)set, k, v)
    {
        const int rc = s_set(sc, "", k, v, where, em);
        if (rc) return rc;
    }
    return s_absolutize(sc, dir, where, em);
}

/* ---- the grid ----------------------------------------------------------------------------- */

typedef struct {
    const char *path; /* the grid file, for messages */
    char dir[RUMOR_PATH_MAX];
    rumor_errmsg_t *em;
} s_ctx_t;

static int s_fail(const s_ctx_t *c, const char *key, const char *what)
{
    return rumor_errmsg_set(c->em, RUMOR_EINVAL, "%s: %s: %s", c->path, key, what);
}

/* An error naming the first member of obj (at the dotted place `at`, "" at the top) that is
 * not in allowed; 0 when there is none. */
static int s_check_keys(const s_ctx_t *c, const json_t *obj, const char *const *allowed,
                        const char *at)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)obj, k, v)
    {
        int ok = 0;
        for (const char *const *x = allowed; *x; x++) ok |= !strcmp(*x, k);
        if (!ok) {
            char where[160];
            snprintf(where, sizeof where, "%s%s%s", at, at[0] ? "." : "", k);
            return s_fail(c, where, "unknown key");
        }
    }
    return 0;
}

/* A label for an axis value: strings as they are, numbers as %g, anything else as JSON. */
static void s_label(const json_t *v, char *buf, size_t cap)
{
    if (json_is_string(v)) {
        snprintf(buf, cap, "%s", json_string_value(v));
    } else if (json_is_number(v)) {
        snprintf(buf, cap, "%g", json_number_value(v));
    } else {
        char *t;
        size_t len;
        const int rc = rumor_file_json(v, JSON_COMPACT | JSON_ENCODE_ANY, "label", &t, &len, NULL);
        snprintf(buf, cap, "%s", rc ? "?" : t);
        free(t);
    }
}

/* Checks the axes array: each {"key", "values", "name"?, "labels"?}; *combos is the product of
 * the numbers of values. */
static int s_check_axes(const s_ctx_t *c, const json_t *axes, size_t *combos)
{
    static const char *const keys[] = {"key", "values", "name", "labels", NULL};
    if (!json_is_array(axes) || json_array_size(axes) == 0)
        return s_fail(c, "axes", "expected a non-empty array");
    *combos = 1;
    for (size_t a = 0; a < json_array_size(axes); a++) {
        const json_t *ax = json_array_get(axes, a);
        char at[64];
        snprintf(at, sizeof at, "axes[%zu]", a);
        if (!json_is_object(ax)) return s_fail(c, at, "expected an object");
        const int rc = s_check_keys(c, ax, keys, at);
        if (rc) return rc;
        const json_t *values = json_object_get(ax, "values"),
                     *labels = json_object_get(ax, "labels");
        const json_t *name = json_object_get(ax, "name");
        char where[96];
        snprintf(where, sizeof where, "%s.key", at);
        if (!json_is_string(json_object_get(ax, "key")) ||
            !json_string_length(json_object_get(ax, "key")))
            return s_fail(c, where, "expected a scenario key such as \"algorithm.lambda\"");
        snprintf(where, sizeof where, "%s.values", at);
        if (!json_is_array(values) || json_array_size(values) == 0)
            return s_fail(c, where, "expected a non-empty array");
        snprintf(where, sizeof where, "%s.labels", at);
        if (labels &&
            (!json_is_array(labels) || json_array_size(labels) != json_array_size(values)))
            return s_fail(c, where, "expected an array of strings, one per value");
        for (size_t i = 0; labels && i < json_array_size(labels); i++)
            if (!json_is_string(json_array_get(labels, i)))
                return s_fail(c, where, "expected an array of strings, one per value");
        snprintf(where, sizeof where, "%s.name", at);
        if (name && !json_is_string(name)) return s_fail(c, where, "expected a string");
        *combos *= json_array_size(values);
        if (*combos > S_MAX_CELLS) return s_fail(c, "axes", "more than 10000 combinations");
    }
    return 0;
}

/* Merges the values of axis combination `combo` (mixed radix, the last axis fastest) over sc
 * and appends their labels to name ("lambda=0 codec=raw"). */
static int s_apply_combo(const s_ctx_t *c, const json_t *axes, size_t combo, json_t *sc, char *name,
                         size_t cap)
{
    const size_t n = json_array_size(axes);
    for (size_t a = 0; a < n; a++) {
        const json_t *ax = json_array_get(axes, a);
        size_t stride = 1;
        for (size_t b = a + 1; b < n; b++)
            stride *= json_array_size(json_object_get(json_array_get(axes, b), "values"));
        const json_t *values = json_object_get(ax, "values");
        const size_t i = combo / stride % json_array_size(values);
        const char *key = json_string_value(json_object_get(ax, "key"));
        char where[1100];
        snprintf(where, sizeof where, "%s: axes[%zu]", c->path, a);
        int rc = s_set(sc, "", key, json_array_get(values, i), where, c->em);
        if (!rc) rc = s_absolutize(sc, c->dir, where, c->em);
        if (rc) return rc;
        /* name=label, the name defaulting to the key's last part */
        const char *an = json_string_value(json_object_get(ax, "name"));
        if (!an) an = strrchr(key, '.') ? strrchr(key, '.') + 1 : key;
        char label[96];
        const json_t *labels = json_object_get(ax, "labels");
        if (labels)
            snprintf(label, sizeof label, "%s", json_string_value(json_array_get(labels, i)));
        else
            s_label(json_array_get(values, i), label, sizeof label);
        const size_t used = strlen(name);
        snprintf(name + used, cap - used, "%s%s=%s", used ? " " : "", an, label);
    }
    return 0;
}

/* A directory name for a variation: letters, digits and . _ = + - kept, anything else '_'. */
static void s_slug(const char *name, char *out, size_t cap)
{
    size_t n = 0;
    for (const char *p = name; *p && n + 1 < cap; p++) {
        const int keep = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                         (*p >= '0' && *p <= '9') || strchr("._=+-", *p);
        out[n++] = keep ? *p : '_';
    }
    out[n] = '\0';
}

/* The grid's seeds: 3 or more distinct whole numbers. */
static int s_seeds(const s_ctx_t *c, const json_t *seeds, rumor_sweep_t *s)
{
    char what[96];
    snprintf(what, sizeof what, "expected an array of %d or more distinct whole numbers",
             RUMOR_SWEEP_MIN_SEEDS);
    if (!json_is_array(seeds) || json_array_size(seeds) < RUMOR_SWEEP_MIN_SEEDS)
        return s_fail(c, "seeds", what);
    s->n_seeds = (uint32_t)json_array_size(seeds);
    if (!(s->seeds = calloc(s->n_seeds, sizeof *s->seeds)))
        return rumor_errmsg_set(c->em, RUMOR_ENOMEM, "%s: out of memory", c->path);
    for (uint32_t i = 0; i < s->n_seeds; i++) {
        const json_t *v = json_array_get(seeds, i);
        if (!json_is_integer(v) || json_integer_value(v) < 0) return s_fail(c, "seeds", what);
        s->seeds[i] = (uint64_t)json_integer_value(v);
        for (uint32_t j = 0; j < i; j++)
            if (s->seeds[j] == s->seeds[i]) return s_fail(c, "seeds", what);
    }
    return 0;
}

/* Every variation's scenario (without its seed) into scs[v], and its name and slug. */
static int s_variations(const s_ctx_t *c, const json_t *root, const json_t *base, rumor_sweep_t *s,
                        uint32_t rounds, json_t ***scs)
{
    static const char *const vkeys[] = {"name", "set", NULL};
    const json_t *vars = json_object_get(root, "variations"), *axes = json_object_get(root, "axes");
    size_t combos = 1, nv = 1;
    int rc;
    if (vars && (!json_is_array(vars) || json_array_size(vars) == 0))
        return s_fail(c, "variations", "expected a non-empty array of {\"name\", \"set\"}");
    if (vars) nv = json_array_size(vars);
    if (axes && (rc = s_check_axes(c, axes, &combos))) return rc;
    if (nv * combos > S_MAX_CELLS) return s_fail(c, "variations", "more than 10000 variations");
    s->n_variations = (uint32_t)(nv * combos);
    s->variation = calloc(s->n_variations, sizeof *s->variation);
    s->slug = calloc(s->n_variations, sizeof *s->slug);
    *scs = calloc(s->n_variations, sizeof **scs);
    if (!s->variation || !s->slug || !*scs)
        return rumor_errmsg_set(c->em, RUMOR_ENOMEM, "%s: out of memory", c->path);
    char where[1200];
    for (size_t i = 0; i < nv; i++) {
        const json_t *var = vars ? json_array_get(vars, i) : NULL;
        const char *vname = "base";
        if (vars) {
            snprintf(where, sizeof where, "variations[%zu]", i);
            if (!json_is_object(var)) return s_fail(c, where, "expected {\"name\", \"set\"}");
            if ((rc = s_check_keys(c, var, vkeys, where))) return rc;
            vname = json_string_value(json_object_get(var, "name"));
            snprintf(where, sizeof where, "variations[%zu].name", i);
            if (!vname || !vname[0] || strlen(vname) >= RUMOR_SWEEP_NAME_MAX / 2)
                return s_fail(c, where, "expected a string of 1 to 63 characters");
        }
        for (size_t k = 0; k < combos; k++) {
            const size_t v = i * combos + k;
            json_t *sc = (*scs)[v] = json_deep_copy(base);
            if (!sc) return rumor_errmsg_set(c->em, RUMOR_ENOMEM, "%s: out of memory", c->path);
            snprintf(where, sizeof where, "%s: set", c->path);
            if ((rc = s_merge(sc, json_object_get(root, "set"), c->dir, where, c->em))) return rc;
            snprintf(where, sizeof where, "%s: variations[%zu].set", c->path, i);
            if (var && (rc = s_merge(sc, json_object_get(var, "set"), c->dir, where, c->em)))
                return rc;
            snprintf(s->variation[v], sizeof s->variation[v], "%s", vars || !axes ? vname : "");
            if (axes &&
                (rc = s_apply_combo(c, axes, k, sc, s->variation[v], sizeof s->variation[v])))
                return rc;
            if (rounds) {
                json_t *r = json_integer(rounds);
                rc = s_set(sc, "", "algorithm.rounds", r, c->path, c->em);
                json_decref(r);
                if (rc) return rc;
            }
            s_slug(s->variation[v], s->slug[v], sizeof s->slug[v]);
            for (size_t u = 0; u < v; u++)
                if (!strcmp(s->slug[u], s->slug[v])) {
                    snprintf(where, sizeof where,
                             "\"%s\" and \"%s\" are one name (or directory name) twice",
                             s->variation[u], s->variation[v]);
                    return s_fail(c, vars ? "variations" : "axes", where);
                }
        }
    }
    return 0;
}

/* The cells: every seed of every variation, seed-major, checked as scenarios. */
static int s_cells(const s_ctx_t *c, rumor_sweep_t *s, json_t *const *scs)
{
    s->n_cells = (size_t)s->n_variations * s->n_seeds;
    if (s->n_cells > S_MAX_CELLS) return s_fail(c, "seeds", "more than 10000 cells");
    if (!(s->cells = calloc(s->n_cells, sizeof *s->cells)))
        return rumor_errmsg_set(c->em, RUMOR_ENOMEM, "%s: out of memory", c->path);
    for (size_t i = 0; i < s->n_cells; i++) {
        rumor_sweep_cell_t *cell = &s->cells[i];
        cell->variation = (uint32_t)(i % s->n_variations);
        cell->seed = s->seeds[i / s->n_variations];
        json_t *sc = scs[cell->variation];
        if (json_object_set_new(sc, "seed", json_integer((json_int_t)cell->seed)))
            return rumor_errmsg_set(c->em, RUMOR_ENOMEM, "%s: out of memory", c->path);
        size_t len;
        const int dumped =
            rumor_file_json(sc, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_REAL_PRECISION(17), c->path,
                            &cell->scenario, &len, c->em);
        if (dumped) return dumped;
        uint8_t h[32];
        crypto_generichash(h, sizeof h, (const uint8_t *)cell->scenario, len, NULL, 0);
        sodium_bin2hex(cell->config, sizeof cell->config, h, sizeof h);
        char origin[RUMOR_PATH_MAX];
        snprintf(origin, sizeof origin, "%s: variation \"%s\"", c->path,
                 s->variation[cell->variation]);
        /* The whole scenario is checked as it loads, as rumor sim will check it. */
        rumor_scenario_t parsed;
        const int rc = rumor_scenario_parse(cell->scenario, origin, c->dir, &parsed, c->em);
        if (rc) return rc;
    }
    return 0;
}

int rumor_sweep_load(const char *path, uint32_t rounds, rumor_sweep_t **out, rumor_errmsg_t *em)
{
    *out = NULL;
    s_ctx_t c = {.path = path, .em = em};
    if (s_abs_dir(path, c.dir, sizeof c.dir))
        return rumor_errmsg_set(em, RUMOR_EINVAL, "%s: path too long", path);
    json_error_t jerr;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr), *base = NULL;
    json_t **scs = NULL;
    rumor_sweep_t *s = calloc(1, sizeof *s);
    int rc = 0;
    if (!s) {
        json_decref(root);
        return rumor_errmsg_set(em, RUMOR_ENOMEM, "%s: out of memory", path);
    }
    snprintf(s->path, sizeof s->path, "%s", path);
    if (!root) {
        rc = jerr.line < 1 ? rumor_errmsg_set(em, RUMOR_EIO, "%s: %s", path, jerr.text)
                           : rumor_errmsg_set(em, RUMOR_EFORMAT, "%s:%d:%d: %s", path, jerr.line,
                                              jerr.column, jerr.text);
        goto done;
    }
    static const char *const keys[] = {"name", "description", "base",   "set", "variations",
                                       "axes", "seeds",       "rounds", NULL};
    if (!json_is_object(root)) {
        rc = rumor_errmsg_set(em, RUMOR_EINVAL, "%s: expected a JSON object", path);
        goto done;
    }
    if ((rc = s_check_keys(&c, root, keys, ""))) goto done;
    const json_t *desc = json_object_get(root, "description");
    if (desc && !json_is_string(desc)) {
        rc = s_fail(&c, "description", "expected a string");
        goto done;
    }
    if (desc && !(s->description = strdup(json_string_value(desc)))) {
        rc = rumor_errmsg_set(em, RUMOR_ENOMEM, "%s: out of memory", path);
        goto done;
    }
    /* name: the output directory's name, so a plain one */
    const json_t *name = json_object_get(root, "name");
    if (name) {
        char slug[RUMOR_SWEEP_NAME_MAX];
        const char *n = json_string_value(name);
        if (n) s_slug(n, slug, sizeof slug);
        if (!n || !n[0] || strlen(n) >= sizeof s->name || strcmp(n, slug) || n[0] == '.') {
            rc = s_fail(&c, "name", "expected letters, digits and . _ = + - only");
            goto done;
        }
        snprintf(s->name, sizeof s->name, "%s", n);
    } else {
        const char *slash = strrchr(path, '/'), *file = slash ? slash + 1 : path;
        s_slug(file, s->name, sizeof s->name);
        const size_t len = strlen(s->name);
        if (len > 5 && !strcmp(s->name + len - 5, ".json")) s->name[len - 5] = '\0';
    }
    const json_t *rj = json_object_get(root, "rounds");
    if (rj && (!json_is_integer(rj) || json_integer_value(rj) < 1 ||
               json_integer_value(rj) > 100000000)) {
        rc = s_fail(&c, "rounds", "expected a whole number from 1 to 100000000");
        goto done;
    }
    if (!rounds && rj) rounds = (uint32_t)json_integer_value(rj);
    if ((rc = s_seeds(&c, json_object_get(root, "seeds"), s))) goto done;
    /* base: a scenario file rumor sim accepts */
    const char *bp = json_string_value(json_object_get(root, "base"));
    char bpath[RUMOR_PATH_MAX], bdir[RUMOR_PATH_MAX];
    if (!bp || !bp[0]) {
        rc = s_fail(&c, "base", "expected the path of a scenario file");
        goto done;
    }
    if (s_resolve(c.dir, bp, bpath, sizeof bpath) || s_abs_dir(bpath, bdir, sizeof bdir)) {
        rc = s_fail(&c, "base", "path too long");
        goto done;
    }
    rumor_scenario_t parsed;
    rumor_errmsg_t inner = {""};
    if ((rc = rumor_scenario_load(bpath, &parsed, &inner))) {
        rumor_errmsg_set(em, rc, "%s: base: %s", path, inner.msg);
        goto done;
    }
    if (!(base = json_load_file(bpath, JSON_REJECT_DUPLICATES, &jerr))) {
        rc = rumor_errmsg_set(em, RUMOR_EIO, "%s: base: %s: cannot read it back", path, bpath);
        goto done;
    }
    char where[RUMOR_PATH_MAX + 16];
    snprintf(where, sizeof where, "%s: base", path);
    if ((rc = s_absolutize(base, bdir, where, em))) goto done;
    if ((rc = s_variations(&c, root, base, s, rounds, &scs))) goto done;
    rc = s_cells(&c, s, scs);
done:
    for (uint32_t i = 0; scs && i < s->n_variations; i++) json_decref(scs[i]);
    free(scs);
    json_decref(base);
    json_decref(root);
    if (rc)
        rumor_sweep_destroy(&s);
    else
        *out = s;
    return rc;
}

void rumor_sweep_destroy(rumor_sweep_t **s_p)
{
    if (!s_p || !*s_p) return;
    rumor_sweep_t *s = *s_p;
    for (size_t i = 0; s->cells && i < s->n_cells; i++) free(s->cells[i].scenario);
    free(s->cells);
    free(s->variation);
    free(s->slug);
    free(s->seeds);
    free(s->description);
    free(s);
    *s_p = NULL;
}

int rumor_sweep_cell_path(const rumor_sweep_t *s, const char *out, size_t c, const char *file,
                          char *buf, size_t cap)
{
    const rumor_sweep_cell_t *cell = &s->cells[c];
    const int n = snprintf(buf, cap, "%s/cells/%s/seed-%llu%s%s", out, s->slug[cell->variation],
                           (unsigned long long)cell->seed, file[0] ? "/" : "", file);
    return n < 0 || (size_t)n >= cap ? RUMOR_ENOSPC : 0;
}

/* mkdir -p path (mode 0755). */
static int s_mkdirs(const char *path, rumor_errmsg_t *em)
{
    char p[RUMOR_PATH_MAX];
    if (snprintf(p, sizeof p, "%s", path) >= (int)sizeof p)
        return rumor_errmsg_set(em, RUMOR_EINVAL, "%s: path too long", path);
    for (char *q = p + 1; *q; q++) {
        if (*q != '/') continue;
        *q = '\0';
        const int rc = rumor_file_mkdir(p, 0755, em);
        *q = '/';
        if (rc) return rc;
    }
    return rumor_file_mkdir(p, 0755, em);
}

int rumor_sweep_prepare_cell(const rumor_sweep_t *s, const char *out, size_t c, rumor_errmsg_t *em)
{
    char dir[RUMOR_PATH_MAX], path[RUMOR_PATH_MAX];
    if (rumor_sweep_cell_path(s, out, c, "", dir, sizeof dir) ||
        rumor_sweep_cell_path(s, out, c, "scenario.json", path, sizeof path))
        return rumor_errmsg_set(em, RUMOR_EINVAL, "%s: path too long", out);
    int rc = s_mkdirs(dir, em);
    if (rc) return rc;
    const rumor_file_piece_t pieces[2] = {{s->cells[c].scenario, strlen(s->cells[c].scenario)},
                                          {"\n", 1}};
    return rumor_file_save(path, 0644, 0, pieces, 2, em);
}
