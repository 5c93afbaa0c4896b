/* rumor — `rumor keygen`: CurveZMQ key files for one node or for every node of a topology.
 *
 *   rumor keygen -o FILE [--force]          new key pair in FILE, public key on stdout
 *   rumor keygen --public FILE              public key of an existing, checked key file
 *   rumor keygen --topology T.json --dir KEYDIR -o OUT.json [--force]
 *                                           KEYDIR/node<ID>.key for every node of T, and a
 *                                           copy of T with each node's public_key filled in
 *
 * The topology mode edits the JSON document itself (jansson) rather than going through the
 * topology module, so every other field of the user's file survives unchanged.
 */
#include "rumor/cli.h"
#include "rumor/file.h"
#include "rumor/keys.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void s_usage(FILE *f)
{
    fprintf(f, "usage: rumor keygen -o FILE [--force]\n"
               "       rumor keygen --public FILE\n"
               "       rumor keygen --topology T.json --dir KEYDIR -o OUT.json [--force]\n\n"
               "Creates CurveZMQ key pairs for `rumor peer --key FILE`.\n\n"
               "  -o FILE          write a new key pair to FILE (mode 0600) and print its public\n"
               "                   key; an existing FILE is only replaced with --force\n"
               "  --public FILE    print the public key of an existing key file\n"
               "  --topology T     create KEYDIR/node<ID>.key for every node of topology T\n"
               "                   (existing key files are kept and reused unless --force) and\n"
               "                   write T with every node's public_key filled in to OUT.json\n"
               "  --dir KEYDIR     where the node key files go (created with mode 0700)\n"
               "  --force          replace existing key files\n\n"
               "Key files hold 'public-key = <z85>' and 'secret-key = <z85>' lines and must not\n"
               "be readable by group or others; copy each node<ID>.key only to its node.\n");
}

static int s_one(const char *out, int force)
{
    rumor_keypair_t kp;
    rumor_errmsg_t em = {{0}};
    int rc = rumor_keys_generate(&kp, &em);
    if (rc == 0) rc = rumor_keys_save(&kp, out, force, &em);
    if (rc != 0) {
        fprintf(stderr, "rumor keygen: %s\n", em.msg);
        rumor_keys_wipe(&kp);
        return 1;
    }
    printf("%s\n", kp.public_key);
    rumor_keys_wipe(&kp);
    return fflush(stdout) == 0 ? 0 : 1;
}

static int s_public(const char *path)
{
    rumor_keypair_t kp;
    rumor_errmsg_t em = {{0}};
    if (rumor_keys_load(path, &kp, &em) != 0) {
        fprintf(stderr, "rumor keygen: %s\n", em.msg);
        return 1;
    }
    printf("%s\n", kp.public_key);
    rumor_keys_wipe(&kp);
    return 0;
}

/* Writes one JSON value on one line ("[0, 1]", {"id": 0, ...}); 0 or -1. */
static int s_dump_line(FILE *f, const json_t *v)
{
    char *text = json_dumps(v, JSON_ENCODE_ANY);
    if (!text) return -1;
    const int rc = fputs(text, f) >= 0 ? 0 : -1;
    free(text);
    return rc;
}

static int s_put(FILE *f, const char *s)
{
    return fputs(s, f) >= 0 ? 0 : -1;
}

/* Writes the topology document the way people write them by hand: one top-level field per
 * line and the elements of arrays (nodes, edges, weights) one per line, in the document's
 * own key order. */
static int s_dump_topology(FILE *f, json_t *root)
{
    const char *key;
    json_t *v;
    size_t i = 0;
    const size_t n = json_object_size(root);
    int rc = s_put(f, "{\n");
    json_object_foreach(root, key, v)
    {
        json_t *k = json_string(key);
        rc |= s_put(f, "  ");
        rc |= k ? s_dump_line(f, k) : -1;
        json_decref(k);
        rc |= s_put(f, ": ");
        const size_t m = json_is_array(v) ? json_array_size(v) : 0;
        if (m > 0) {
            rc |= s_put(f, "[\n");
            for (size_t e = 0; e < m; e++) {
                rc |= s_put(f, "    ");
                rc |= s_dump_line(f, json_array_get(v, e));
                rc |= s_put(f, e + 1 < m ? ",\n" : "\n");
            }
            rc |= s_put(f, "  ]");
        } else {
            rc |= s_dump_line(f, v);
        }
        rc |= s_put(f, ++i < n ? ",\n" : "\n");
    }
    rc |= s_put(f, "}\n");
    return rc;
}

/* Writes the topology to path, whole or not at all. */
static int s_write_topology(const char *path, json_t *root)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    int ok = f && s_dump_topology(f, root) == 0;
    ok = f && fclose(f) == 0 && ok;
    rumor_errmsg_t em = {""};
    int rc = RUMOR_ENOMEM;
    /* The topology holds public keys only: readable like any configuration file. */
    const rumor_file_piece_t piece = {text, len};
    if (ok) rc = rumor_file_save(path, 0644, 0, &piece, 1, &em);
    free(text);
    if (rc) fprintf(stderr, "rumor keygen: %s\n", em.msg[0] ? em.msg : "out of memory");
    return rc ? -1 : 0;
}

static int s_topology(const char *topo, const char *dir, const char *out, int force)
{
    json_error_t jerr;
    json_t *root = json_load_file(topo, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        fprintf(stderr, "rumor keygen: %s:%d:%d: %s\n", topo, jerr.line, jerr.column, jerr.text);
        return 1;
    }
    int status = 1;
    json_t *nodes = json_object_get(root, "nodes");
    size_t n = json_is_array(nodes) ? json_array_size(nodes) : 0;
    if (!json_is_object(root) || !json_is_array(nodes) || n == 0) {
        fprintf(stderr, "rumor keygen: %s: nodes: expected a non-empty array\n", topo);
        goto done;
    }
    /* Check every node before creating any file. */
    for (size_t i = 0; i < n; i++) {
        json_t *id = json_object_get(json_array_get(nodes, i), "id");
        if (!json_is_integer(id) || json_integer_value(id) < 0 ||
            json_integer_value(id) > (json_int_t)UINT32_MAX) {
            fprintf(stderr,
                    "rumor keygen: %s: nodes[%zu].id: expected a node id (an integer "
                    ">= 0)\n",
                    topo, i);
            goto done;
        }
        for (size_t j = 0; j < i; j++) {
            if (json_integer_value(json_object_get(json_array_get(nodes, j), "id")) ==
                json_integer_value(id)) {
                fprintf(stderr,
                        "rumor keygen: %s: nodes[%zu].id: %lld already used by "
                        "nodes[%zu]\n",
                        topo, i, (long long)json_integer_value(id), j);
                goto done;
            }
        }
    }
    rumor_errmsg_t mem = {""};
    if (rumor_file_mkdir(dir, 0700, &mem)) {
        fprintf(stderr, "rumor keygen: %s\n", mem.msg);
        goto done;
    }
    size_t reused = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *node = json_array_get(nodes, i);
        const long long id = (long long)json_integer_value(json_object_get(node, "id"));
        char path[4096];
        if (snprintf(path, sizeof path, "%s/node%lld.key", dir, id) >= (int)sizeof path) {
            fprintf(stderr, "rumor keygen: %s: path too long\n", dir);
            goto done;
        }
        rumor_keypair_t kp;
        rumor_errmsg_t em = {{0}};
        struct stat st;
        int rc;
        if (!force && stat(path, &st) == 0) {
            rc = rumor_keys_load(path, &kp, &em);
            reused += rc == 0;
        } else {
            rc = rumor_keys_generate(&kp, &em);
            if (rc == 0) rc = rumor_keys_save(&kp, path, force, &em);
        }
        if (rc != 0) {
            fprintf(stderr, "rumor keygen: %s\n", em.msg);
            goto done;
        }
        json_object_set_new(node, "public_key", json_string(kp.public_key));
        rumor_keys_wipe(&kp);
    }
    if (s_write_topology(out, root) != 0) goto done;
    fprintf(stderr,
            "rumor keygen: %zu key files in %s (%zu new, %zu kept); %s lists their public "
            "keys\n",
            n, dir, n - reused, reused, out);
    status = 0;
done:
    json_decref(root);
    return status;
}

int rumor_cmd_keygen(int argc, char **argv)
{
    const char *out = NULL, *pub = NULL, *topo = NULL, *dir = NULL;
    int force = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const int has_value = i + 1 < argc;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            s_usage(stdout);
            return 0;
        } else if (!strcmp(a, "--force")) {
            force = 1;
        } else if ((!strcmp(a, "-o") || !strcmp(a, "--output")) && has_value) {
            out = argv[++i];
        } else if (!strcmp(a, "--public") && has_value) {
            pub = argv[++i];
        } else if (!strcmp(a, "--topology") && has_value) {
            topo = argv[++i];
        } else if (!strcmp(a, "--dir") && has_value) {
            dir = argv[++i];
        } else {
            const int wants_value = !strcmp(a, "-o") || !strcmp(a, "--output") ||
                                    !strcmp(a, "--public") || !strcmp(a, "--topology") ||
                                    !strcmp(a, "--dir");
            fprintf(stderr, "rumor keygen: %s '%s'\n\n",
                    wants_value ? "missing value for" : "unknown argument", a);
            s_usage(stderr);
            return 2;
        }
    }
    if (pub && !out && !topo && !dir && !force) return s_public(pub);
    if (topo && dir && out && !pub) return s_topology(topo, dir, out, force);
    if (out && !pub && !topo && !dir) return s_one(out, force);
    fprintf(stderr, "rumor keygen: expected -o FILE, --public FILE, or --topology T --dir D "
                    "-o OUT\n\n");
    s_usage(stderr);
    return 2;
}
