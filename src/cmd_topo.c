/* rumor — `rumor topo`: generate topology files and check them before a run.
 *
 *   rumor topo gen KIND --n N [...] [-o FILE]   writes a topology as JSON
 *   rumor topo check FILE...                     validates files and describes them
 *
 * Exit status: 0 success, 1 an invalid file or a failed generation, 2 a usage error.
 */
#include "rumor/cmd.h"
#include "rumor/opt.h"
#include "rumor/topology.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const rumor_opt_cmd_t s_topo_cmd = {
    .prog = "rumor topo",
    .usage = "rumor topo gen KIND --n N [OPTIONS] [-o FILE]\n"
             "       rumor topo check FILE...",
    .about = "Generate communication graphs and check topology files.\n\n"
             "  gen    write a generated topology (ring, torus, er, regular, complete,\n"
             "         hypercube, exp) as JSON\n"
             "  check  validate topology files and print their size, degrees and spectral gap",
    .after = "Run `rumor topo gen --help` or `rumor topo check --help` for details.",
    .args = "gen or check",
    .min_args = 1,
    .max_args = 1,
    .subcommand = 1,
};

typedef struct {
    rumor_topology_gen_t g;
    const char *out, *ipc, *name;
    int have_n, have_rows, have_p, have_k, have_seed;
} s_gen_opts_t;

static const rumor_opt_t s_gen_opts[] = {
    {RUMOR_OPT_U32("--n", s_gen_opts_t, g.n, "N", 0, UINT32_MAX,
                   "number of nodes (required, 2 to 4096)"),
     .seen = RUMOR_OPT_SEEN(s_gen_opts_t, have_n)},
    {RUMOR_OPT_U32("--rows", s_gen_opts_t, g.rows, "R", 1, UINT32_MAX,
                   "torus: number of rows (n must be a multiple of R)"),
     .seen = RUMOR_OPT_SEEN(s_gen_opts_t, have_rows)},
    {RUMOR_OPT_REAL("--p", s_gen_opts_t, g.p, "P", 1.0, "er: edge probability in (0, 1]"),
     .seen = RUMOR_OPT_SEEN(s_gen_opts_t, have_p), .want = "a probability in (0, 1]"},
    {RUMOR_OPT_U32("--k", s_gen_opts_t, g.k, "K", 0, UINT32_MAX,
                   "regular: degree (k*n even, k < n)"),
     .seen = RUMOR_OPT_SEEN(s_gen_opts_t, have_k)},
    {RUMOR_OPT_U64("--seed", s_gen_opts_t, g.seed, "S", 0, UINT64_MAX,
                   "er, regular: random seed (default 1)"),
     .seen = RUMOR_OPT_SEEN(s_gen_opts_t, have_seed)},
    {RUMOR_OPT_U32("--port-base", s_gen_opts_t, g.port_base, "P", 1, 65535,
                   "endpoints tcp://127.0.0.1:<P + id>"),
     .want = "a port from 1 to 65535"},
    {RUMOR_OPT_STR("--ipc", s_gen_opts_t, ipc, "DIR", "endpoints ipc://DIR/<name>-<id>.sock")},
    {RUMOR_OPT_STR("--name", s_gen_opts_t, name, "NAME",
                   "topology name (default: kind and size, e.g. ring16, torus4x4)")},
    {RUMOR_OPT_STR("--output", s_gen_opts_t, out, "F", "write to F instead of standard output"),
     .alias = "-o"},
};

static const rumor_opt_cmd_t s_gen_cmd = {
    .prog = "rumor topo gen",
    .usage = "rumor topo gen KIND --n N [OPTIONS] [-o FILE]",
    .about = "Writes a generated topology with Metropolis-Hastings weights as JSON.\n\n"
             "kinds:\n"
             "  ring      cycle 0-1-...-(n-1)-0 (n = 2 is a single edge)\n"
             "  torus     2-D grid with wraparound, n = rows x cols (square unless --rows)\n"
             "  er        Erdos-Renyi G(n, p), redrawn until connected (needs --p)\n"
             "  regular   random k-regular graph, redrawn until connected (needs --k)\n"
             "  complete  every pair of nodes\n"
             "  hypercube i and i XOR 2^j (n a power of two; degree log2 n)\n"
             "  exp       exponential graph: i and i + 2^j mod n (degree about 2 log2 n)",
    .after = "Without --port-base or --ipc the nodes have no endpoints. Public keys are never\n"
             "generated: add them for secure runs (see `rumor keygen`).\n\n"
             "example:\n"
             "  rumor topo gen torus --n 16 --port-base 7600 -o torus16.json",
    .opts = s_gen_opts,
    .n_opts = sizeof s_gen_opts / sizeof s_gen_opts[0],
    .args = "KIND",
    .min_args = 1,
    .max_args = 1,
};

static const rumor_opt_cmd_t s_check_cmd = {
    .prog = "rumor topo check",
    .usage = "rumor topo check FILE...",
    .about = "Validates each topology file (ids, edges, connectivity, endpoints, keys, and\n"
             "that W is symmetric and doubly stochastic) and prints its name, size, degree\n"
             "range, spectral gap 1 - max(|lambda_2|, |lambda_n|) of W, how many nodes have\n"
             "endpoints and public keys, and the hash peers compare in their handshake.\n"
             "Exits 1 if any file is invalid, after checking all of them.",
    .args = "FILE...",
    .min_args = 1,
    .max_args = INT_MAX,
};

static int s_cmd_gen(int argc, char **argv)
{
    s_gen_opts_t o = {.g = {.seed = 1}};
    const char *kind;
    int n_pos;
    const int parsed = rumor_opt_parse(&s_gen_cmd, argc, argv, &o, &kind, &n_pos);
    if (parsed) return rumor_opt_exit(parsed);
    if (!o.have_n) {
        fprintf(stderr, "rumor topo gen: missing --n N\n\n");
        rumor_opt_help(&s_gen_cmd, stderr);
        return 2;
    }
    rumor_topology_gen_t g = o.g;
    rumor_errmsg_t em = {{0}};
    if (rumor_topology_kind_parse(kind, &g.kind, &em)) {
        fprintf(stderr, "rumor topo gen: %s\n", em.msg);
        return 1;
    }
    const char *out_path = o.out, *ipc_dir = o.ipc, *name = o.name;
    const int have_rows = o.have_rows, have_p = o.have_p, have_k = o.have_k,
              have_seed = o.have_seed;
    const char *misplaced = NULL;
    const int er = g.kind == RUMOR_TOPOLOGY_ER, regular = g.kind == RUMOR_TOPOLOGY_REGULAR;
    if (have_rows && g.kind != RUMOR_TOPOLOGY_TORUS) misplaced = "--rows applies only to torus";
    if (have_p && !er) misplaced = "--p applies only to er";
    if (have_k && !regular) misplaced = "--k applies only to regular";
    if (have_seed && !er && !regular) misplaced = "--seed applies only to er and regular";
    if (!have_p && er) misplaced = "er needs --p P";
    if (!have_k && regular) misplaced = "regular needs --k K";
    if (ipc_dir && g.port_base) misplaced = "--ipc and --port-base exclude each other";
    if (name && (name[0] == '\0' || strlen(name) >= sizeof(((rumor_topology_t *)0)->name)))
        misplaced = "--name: expected 1 to 63 characters";
    if (misplaced) {
        fprintf(stderr, "rumor topo gen: %s\n", misplaced);
        return 2;
    }

    rumor_topology_t *t = NULL;
    if (rumor_topology_generate(&g, &t, &em) != 0) {
        fprintf(stderr, "rumor topo gen: %s\n", em.msg);
        return 1;
    }
    if (name) snprintf(t->name, sizeof t->name, "%s", name);
    int status = 0;
    if (ipc_dir) {
        size_t dlen = strlen(ipc_dir);
        while (dlen > 1 && ipc_dir[dlen - 1] == '/') dlen--;
        for (uint32_t i = 0; i < t->n && status == 0; i++) {
            const int len = snprintf(t->nodes[i].endpoint, sizeof t->nodes[i].endpoint,
                                     "ipc://%.*s/%s-%u.sock", (int)dlen, ipc_dir, t->name, i);
            if (len < 0 || (size_t)len >= sizeof t->nodes[i].endpoint) {
                fprintf(stderr, "rumor topo gen: --ipc: '%s' makes endpoints too long\n", ipc_dir);
                status = 1;
            }
        }
        /* The library knows the Unix socket path limit; let it judge the result. */
        if (status == 0 && rumor_topology_validate(t, "rumor topo gen --ipc", &em) != 0) {
            fprintf(stderr, "%s\n", em.msg);
            status = 1;
        }
    }
    if (status == 0) {
        if (out_path) {
            if (rumor_topology_save(t, out_path, &em) != 0) {
                fprintf(stderr, "rumor topo gen: %s\n", em.msg);
                status = 1;
            } else {
                fprintf(stderr, "rumor topo gen: wrote %s (%s: %u nodes, %u edges)\n", out_path,
                        t->name, t->n, t->n_edges);
            }
        } else {
            char *json = rumor_topology_to_json(t);
            if (!json || fputs(json, stdout) == EOF || fflush(stdout) != 0) {
                fprintf(stderr, "rumor topo gen: %s\n",
                        json ? "cannot write to standard output" : "out of memory");
                status = 1;
            }
            free(json);
        }
    }
    rumor_topology_destroy(&t);
    return status;
}

static void s_describe(const char *path, const rumor_topology_t *t)
{
    uint32_t dmin = UINT32_MAX, dmax = 0, n_ep = 0, n_key = 0;
    int schemes = 0; /* bit 0 tcp, 1 ipc, 2 inproc */
    for (uint32_t i = 0; i < t->n; i++) {
        const uint32_t d = rumor_topology_degree(t, i);
        dmin = d < dmin ? d : dmin;
        dmax = d > dmax ? d : dmax;
        const char *ep = t->nodes[i].endpoint;
        if (ep[0]) {
            n_ep++;
            schemes |= !strncmp(ep, "tcp:", 4) ? 1 : !strncmp(ep, "ipc:", 4) ? 2 : 4;
        }
        n_key += t->nodes[i].public_key[0] != '\0';
    }
    uint8_t h[32];
    rumor_topology_hash(t, h);
    char hex[65];
    sodium_bin2hex(hex, sizeof hex, h, sizeof h);
    const double gap = rumor_topology_spectral_gap(t);

    printf("%s: ok\n", path);
    printf("  name          %s\n", t->name);
    printf("  nodes         %u\n", t->n);
    printf("  edges         %u\n", t->n_edges);
    printf("  degree        min %u, max %u, mean %.2f\n", dmin, dmax,
           2.0 * t->n_edges / (double)t->n);
    printf("  weights       %s\n", t->weights_explicit ? "explicit" : "metropolis");
    if (isnan(gap))
        printf("  spectral gap  (eigenvalue computation failed)\n");
    else
        printf("  spectral gap  %.9f\n", gap);
    static const char *const names[3] = {"tcp", "ipc", "inproc"};
    char kinds[32] = "";
    for (int k = 0; k < 3; k++)
        if (schemes & (1 << k))
            snprintf(kinds + strlen(kinds), sizeof kinds - strlen(kinds), "%s%s",
                     kinds[0] ? ", " : " (", names[k]);
    printf("  endpoints     %u of %u%s%s\n", n_ep, t->n, kinds, kinds[0] ? ")" : "");
    printf("  public keys   %u of %u%s\n", n_key, t->n,
           n_key == t->n ? "" : " (secure runs need every node's key)");
    printf("  hash          %s\n", hex);
}

static int s_cmd_check(int argc, char **argv)
{
    const char **files = calloc((size_t)argc, sizeof *files);
    if (!files) {
        fprintf(stderr, "rumor topo check: out of memory\n");
        return 1;
    }
    int n_files;
    const int parsed = rumor_opt_parse(&s_check_cmd, argc, argv, NULL, files, &n_files);
    int status = parsed ? rumor_opt_exit(parsed) : 0;
    for (int i = 0; !parsed && i < n_files; i++) {
        rumor_errmsg_t em = {{0}};
        rumor_topology_t *t = NULL;
        if (rumor_topology_load(files[i], &t, &em) != 0) {
            fflush(stdout);
            fprintf(stderr, "rumor topo check: %s\n", em.msg);
            status = 1;
            continue;
        }
        s_describe(files[i], t);
        rumor_topology_destroy(&t);
    }
    free(files);
    return status;
}

int rumor_cmd_topo(int argc, char **argv)
{
    const char *sub = NULL;
    int at = 0;
    const int parsed = rumor_opt_parse(&s_topo_cmd, argc, argv, NULL, &sub, &at);
    if (parsed) return rumor_opt_exit(parsed);
    static const rumor_opt_sub_t subs[] = {{"gen", s_cmd_gen}, {"check", s_cmd_check}};
    return rumor_opt_run_sub(&s_topo_cmd, "subcommand", subs, sizeof subs / sizeof subs[0], sub,
                             argc, argv, at);
}
