/* rumor — `rumor keygen`: CurveZMQ key files for one node or for every node of a topology.
 *
 *   rumor keygen -o FILE [--force]          new key pair in FILE, public key on stdout
 *   rumor keygen --public FILE              public key of an existing, checked key file
 *   rumor keygen --topology T.json --dir KEYDIR -o OUT.json [--force]
 *                                           KEYDIR/node<ID>.key for every node of T, and a
 *                                           copy of T with each node's public_key filled in
 *
 * The topology mode loads and checks T like every command that reads a topology (so a file
 * that `rumor peer` would refuse is refused here, before any key file is written), fills in
 * the public keys and writes it with the topology module's one writer.
 */
#include "rumor/cmd.h"
#include "rumor/file.h"
#include "rumor/keys.h"
#include "rumor/opt.h"
#include "rumor/topology.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

typedef struct {
    const char *out, *pub, *topo, *dir;
    int force;
} s_opts_t;

static const rumor_opt_t s_opts[] = {
    {RUMOR_OPT_STR("--output", s_opts_t, out, "FILE",
                   "write a new key pair to FILE (mode 0600) and print its public\n"
                   "key; an existing FILE is only replaced with --force"),
     .alias = "-o"},
    {RUMOR_OPT_STR("--public", s_opts_t, pub, "FILE",
                   "print the public key of an existing key file")},
    {RUMOR_OPT_STR("--topology", s_opts_t, topo, "T",
                   "create KEYDIR/node<ID>.key for every node of topology T\n"
                   "(existing key files are kept and reused unless --force) and\n"
                   "write T with every node's public_key filled in to OUT.json")},
    {RUMOR_OPT_STR("--dir", s_opts_t, dir, "KEYDIR",
                   "where the node key files go (created with mode 0700)")},
    {RUMOR_OPT_FLAG("--force", s_opts_t, force, "replace existing key files")},
};

static const rumor_opt_cmd_t s_cmd = {
    .prog = "rumor keygen",
    .usage = "rumor keygen -o FILE [--force]\n"
             "       rumor keygen --public FILE\n"
             "       rumor keygen --topology T.json --dir KEYDIR -o OUT.json [--force]",
    .about = "Creates CurveZMQ key pairs for `rumor peer --key FILE`.",
    .after = "Key files hold 'public-key = <z85>' and 'secret-key = <z85>' lines and must not\n"
             "be readable by group or others; copy each node<ID>.key only to its node.",
    .opts = s_opts,
    .n_opts = sizeof s_opts / sizeof s_opts[0],
};

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

static int s_topology(const char *topo, const char *dir, const char *out, int force)
{
    rumor_errmsg_t em = {{0}};
    rumor_topology_t *t = NULL;
    if (rumor_topology_load(topo, &t, &em) != 0) {
        fprintf(stderr, "rumor keygen: %s\n", em.msg);
        return 1;
    }
    int status = 1;
    if (rumor_file_mkdir(dir, 0700, &em)) {
        fprintf(stderr, "rumor keygen: %s\n", em.msg);
        goto done;
    }
    uint32_t reused = 0;
    for (uint32_t i = 0; i < t->n; i++) {
        char path[4096];
        if (snprintf(path, sizeof path, "%s/node%u.key", dir, i) >= (int)sizeof path) {
            fprintf(stderr, "rumor keygen: %s: path too long\n", dir);
            goto done;
        }
        rumor_keypair_t kp;
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
        memcpy(t->nodes[i].public_key, kp.public_key, sizeof t->nodes[i].public_key);
        rumor_keys_wipe(&kp);
    }
    /* The topology holds public keys only: readable like any configuration file. */
    if (rumor_topology_save(t, out, &em) != 0) {
        fprintf(stderr, "rumor keygen: %s\n", em.msg);
        goto done;
    }
    fprintf(stderr,
            "rumor keygen: %u key files in %s (%u new, %u kept); %s lists their public keys\n",
            t->n, dir, t->n - reused, reused, out);
    status = 0;
done:
    rumor_topology_destroy(&t);
    return status;
}

int rumor_cmd_keygen(int argc, char **argv)
{
    s_opts_t o = {0};
    int n_pos;
    const int parsed = rumor_opt_parse(&s_cmd, argc, argv, &o, NULL, &n_pos);
    if (parsed) return rumor_opt_exit(parsed);
    const char *out = o.out, *pub = o.pub, *topo = o.topo, *dir = o.dir;
    const int force = o.force;
    if (pub && !out && !topo && !dir && !force) return s_public(pub);
    if (topo && dir && out && !pub) return s_topology(topo, dir, out, force);
    if (out && !pub && !topo && !dir) return s_one(out, force);
    fprintf(stderr, "rumor keygen: expected -o FILE, --public FILE, or --topology T --dir D "
                    "-o OUT\n\n");
    rumor_opt_help(&s_cmd, stderr);
    return 2;
}
