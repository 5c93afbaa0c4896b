/* rumor — `rumor topo`: generate topology files and check them before a run.
 *
 *   rumor topo gen KIND --n N [...] [-o FILE]   writes a topology as JSON
 *   rumor topo check FILE...                     validates files and describes them
 *
 * Exit status: 0 success, 1 an invalid file or a failed generation, 2 a usage error.
 */
#include "rumor/cli.h"
#include "rumor/topology.h"

#include <errno.h>
#include <math.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void s_usage(FILE *f)
{
    fprintf(f, "usage: rumor topo gen KIND --n N [OPTIONS] [-o FILE]\n"
               "       rumor topo check FILE...\n\n"
               "Generate communication graphs and check topology files.\n\n"
               "  gen    write a generated topology (ring, torus, er, regular, complete,\n"
               "         hypercube, exp) as JSON\n"
               "  check  validate topology files and print their size, degrees and spectral gap\n\n"
               "Run `rumor topo gen --help` or `rumor topo check --help` for details.\n");
}

static void s_gen_usage(FILE *f)
{
    fprintf(f, "usage: rumor topo gen KIND --n N [OPTIONS] [-o FILE]\n\n"
               "Writes a generated topology with Metropolis-Hastings weights as JSON.\n\n"
               "kinds:\n"
               "  ring      cycle 0-1-...-(n-1)-0 (n = 2 is a single edge)\n"
               "  torus     2-D grid with wraparound, n = rows x cols (square unless --rows)\n"
               "  er        Erdos-Renyi G(n, p), redrawn until connected (needs --p)\n"
               "  regular   random k-regular graph, redrawn until connected (needs --k)\n"
               "  complete  every pair of nodes\n"
               "  hypercube i and i XOR 2^j (n a power of two; degree log2 n)\n"
               "  exp       exponential graph: i and i + 2^j mod n (degree about 2 log2 n)\n\n"
               "options:\n"
               "  --n N            number of nodes (required, 2 to 4096)\n"
               "  --rows R         torus: number of rows (n must be a multiple of R)\n"
               "  --p P            er: edge probability in (0, 1]\n"
               "  --k K            regular: degree (k*n even, k < n)\n"
               "  --seed S         er, regular: random seed (default 1)\n"
               "  --port-base P    endpoints tcp://127.0.0.1:<P + id>\n"
               "  --ipc DIR        endpoints ipc://DIR/<name>-<id>.sock\n"
               "  --name NAME      topology name (default: kind and size, e.g. ring16, torus4x4)\n"
               "  -o, --output F   write to F instead of standard output\n"
               "  -h, --help       show this help\n\n"
               "Without --port-base or --ipc the nodes have no endpoints. Public keys are never\n"
               "generated: add them for secure runs (see `rumor keygen`).\n\n"
               "example:\n"
               "  rumor topo gen torus --n 16 --port-base 7600 -o torus16.json\n");
}

static void s_check_usage(FILE *f)
{
    fprintf(f, "usage: rumor topo check FILE...\n\n"
               "Validates each topology file (ids, edges, connectivity, endpoints, keys, and\n"
               "that W is symmetric and doubly stochastic) and prints its name, size, degree\n"
               "range, spectral gap 1 - max(|lambda_2|, |lambda_n|) of W, how many nodes have\n"
               "endpoints and public keys, and the hash peers compare in their handshake.\n"
               "Exits 1 if any file is invalid, after checking all of them.\n\n"
               "options:\n"
               "  -h, --help  show this help\n");
}

static bool s_is_help(const char *a)
{
    return !strcmp(a, "--help") || !strcmp(a, "-h");
}

/* Matches `--opt VALUE` and `--opt=VALUE`; advances *i past what it consumed. Returns 1 on a
 * match with *val set, 0 if argv[*i] is another option, -1 if the value is missing. */
static int s_opt(int argc, char **argv, int *i, const char *name, const char **val)
{
    const char *a = argv[*i];
    const size_t len = strlen(name);
    if (strncmp(a, name, len) != 0) return 0;
    if (a[len] == '=') {
        *val = a + len + 1;
        return 1;
    }
    if (a[len] != '\0') return 0;
    if (*i + 1 >= argc) {
        fprintf(stderr, "rumor topo gen: %s: missing value\n", name);
        return -1;
    }
    *val = argv[++*i];
    return 1;
}

static int s_parse_u64(const char *opt, const char *s, uint64_t max, uint64_t *out)
{
    if (rumor_cli_parse_u64(s, 0, max, out) == 0) return 0;
    fprintf(stderr, "rumor topo gen: %s: expected an integer from 0 to %llu, got '%s'\n", opt,
            (unsigned long long)max, s);
    return -1;
}

static int s_parse_u32(const char *opt, const char *s, uint32_t *out)
{
    uint64_t v;
    if (s_parse_u64(opt, s, UINT32_MAX, &v)) return -1;
    *out = (uint32_t)v;
    return 0;
}

static int s_cmd_gen(int argc, char **argv)
{
    rumor_topology_gen_t g = {.seed = 1};
    const char *out_path = NULL, *ipc_dir = NULL, *name = NULL;
    bool have_n = false, have_rows = false, have_p = false, have_k = false, have_seed = false;
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        int r;
        if (s_is_help(argv[i])) {
            s_gen_usage(stdout);
            return 0;
        } else if ((r = s_opt(argc, argv, &i, "--n", &v)) != 0) {
            if (r < 0 || s_parse_u32("--n", v, &g.n)) return 2;
            have_n = true;
        } else if ((r = s_opt(argc, argv, &i, "--rows", &v)) != 0) {
            if (r < 0 || s_parse_u32("--rows", v, &g.rows)) return 2;
            if (g.rows == 0) {
                fprintf(stderr, "rumor topo gen: --rows: must be at least 1\n");
                return 2;
            }
            have_rows = true;
        } else if ((r = s_opt(argc, argv, &i, "--p", &v)) != 0) {
            if (r < 0) return 2;
            char *end;
            g.p = strtod(v, &end);
            if (end == v || *end != '\0' || !(g.p > 0.0 && g.p <= 1.0)) {
                fprintf(stderr, "rumor topo gen: --p: expected a probability in (0, 1], got '%s'\n",
                        v);
                return 2;
            }
            have_p = true;
        } else if ((r = s_opt(argc, argv, &i, "--k", &v)) != 0) {
            if (r < 0 || s_parse_u32("--k", v, &g.k)) return 2;
            have_k = true;
        } else if ((r = s_opt(argc, argv, &i, "--seed", &v)) != 0) {
            if (r < 0 || s_parse_u64("--seed", v, UINT64_MAX, &g.seed)) return 2;
            have_seed = true;
        } else if ((r = s_opt(argc, argv, &i, "--port-base", &v)) != 0) {
            if (r < 0 || s_parse_u32("--port-base", v, &g.port_base)) return 2;
            if (g.port_base == 0 || g.port_base > 65535) {
                fprintf(stderr, "rumor topo gen: --port-base: expected a port from 1 to 65535\n");
                return 2;
            }
        } else if ((r = s_opt(argc, argv, &i, "--ipc", &v)) != 0) {
            if (r < 0) return 2;
            ipc_dir = v;
        } else if ((r = s_opt(argc, argv, &i, "--name", &v)) != 0) {
            if (r < 0) return 2;
            name = v;
        } else if ((r = s_opt(argc, argv, &i, "--output", &v)) != 0 ||
                   (r = s_opt(argc, argv, &i, "-o", &v)) != 0) {
            if (r < 0) return 2;
            out_path = v;
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "rumor topo gen: unknown option '%s'\n\n", argv[i]);
            s_gen_usage(stderr);
            return 2;
        } else if (!g.kind) {
            g.kind = argv[i];
        } else {
            fprintf(stderr, "rumor topo gen: unexpected argument '%s' (kind is already '%s')\n",
                    argv[i], g.kind);
            return 2;
        }
    }
    if (!g.kind || !have_n) {
        fprintf(stderr, "rumor topo gen: %s\n\n", !g.kind ? "missing KIND" : "missing --n N");
        s_gen_usage(stderr);
        return 2;
    }
    const char *misplaced = NULL;
    if (have_rows && strcmp(g.kind, "torus")) misplaced = "--rows applies only to torus";
    if (have_p && strcmp(g.kind, "er")) misplaced = "--p applies only to er";
    if (have_k && strcmp(g.kind, "regular")) misplaced = "--k applies only to regular";
    if (have_seed && strcmp(g.kind, "er") && strcmp(g.kind, "regular"))
        misplaced = "--seed applies only to er and regular";
    if (!have_p && !strcmp(g.kind, "er")) misplaced = "er needs --p P";
    if (!have_k && !strcmp(g.kind, "regular")) misplaced = "regular needs --k K";
    if (ipc_dir && g.port_base) misplaced = "--ipc and --port-base exclude each other";
    if (name && (name[0] == '\0' || strlen(name) >= sizeof(((rumor_topology_t *)0)->name)))
        misplaced = "--name: expected 1 to 63 characters";
    if (misplaced) {
        fprintf(stderr, "rumor topo gen: %s\n", misplaced);
        return 2;
    }

    rumor_errmsg_t em = {{0}};
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
    int files = 0;
    for (int i = 1; i < argc; i++) {
        if (s_is_help(argv[i])) {
            s_check_usage(stdout);
            return 0;
        }
        if (argv[i][0] == '-' && argv[i][1] != '\0') {
            fprintf(stderr, "rumor topo check: unknown option '%s'\n\n", argv[i]);
            s_check_usage(stderr);
            return 2;
        }
        files++;
    }
    if (files == 0) {
        fprintf(stderr, "rumor topo check: no files given\n\n");
        s_check_usage(stderr);
        return 2;
    }
    int status = 0;
    for (int i = 1; i < argc; i++) {
        rumor_errmsg_t em = {{0}};
        rumor_topology_t *t = NULL;
        if (rumor_topology_load(argv[i], &t, &em) != 0) {
            fflush(stdout);
            fprintf(stderr, "rumor topo check: %s\n", em.msg);
            status = 1;
            continue;
        }
        s_describe(argv[i], t);
        rumor_topology_destroy(&t);
    }
    return status;
}

int rumor_cmd_topo(int argc, char **argv)
{
    if (argc < 2) {
        s_usage(stderr);
        return 2;
    }
    if (s_is_help(argv[1])) {
        s_usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "gen")) return s_cmd_gen(argc - 1, argv + 1);
    if (!strcmp(argv[1], "check")) return s_cmd_check(argc - 1, argv + 1);
    fprintf(stderr, "rumor topo: unknown subcommand '%s'\n\n", argv[1]);
    s_usage(stderr);
    return 2;
}
