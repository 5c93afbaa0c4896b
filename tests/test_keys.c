/* Tests of keys and `rumor keygen`: key files are written private (0600), loading refuses
 * files others can read, mismatched or corrupt files with a message that says where, and the
 * topology mode fills in every node's public key from the key files it writes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "rumor/cmd.h"
#include "rumor/keys.h"
#include "rumor/topology.h"
#include "support.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static int s_setup(void **state)
{
    (void)state;
    return s_scratch_make("keys");
}

static int s_teardown(void **state)
{
    (void)state;
    return s_scratch_remove();
}

static void s_write(const char *path, const char *text, mode_t mode)
{
    unlink(path);
    const int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    assert_int_equal(fchmod(fd, mode), 0);
    close(fd);
}

/* Runs rumor_cmd_keygen with stdout and stderr captured into out/err (NUL-terminated). */
static int s_keygen(char *out, size_t out_cap, char *err, size_t err_cap, int argc,
                    const char **argv)
{
    return s_call_captured(rumor_cmd_keygen, argc, (char **)argv, out, out_cap, err, err_cap);
}

/* The reason names what is wrong and where, as topology files report it. */
static void test_z85_problem_names_the_fault(void **state)
{
    (void)state;
    char key[] = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7", why[128];
    assert_null(rumor_keys_z85_problem(key, why, sizeof why));
    assert_ptr_equal(rumor_keys_z85_problem("short", why, sizeof why), why);
    assert_string_equal(why, "expected 40 Z85 characters, got 5");
    key[6] = '"';
    assert_non_null(rumor_keys_z85_problem(key, why, sizeof why));
    assert_string_equal(why, "expected 40 Z85 characters (character 7, '\"', is not Z85)");
    /* A byte that is not printable ASCII (a pasted non-breaking space, a control byte) is named
     * by its value, not written into the message as it is. */
    key[6] = '\xc2';
    assert_non_null(rumor_keys_z85_problem(key, why, sizeof why));
    assert_string_equal(why, "expected 40 Z85 characters (character 7, byte 0xc2, is not Z85)");
    key[6] = '\x1b';
    assert_non_null(rumor_keys_z85_problem(key, why, sizeof why));
    assert_string_equal(why, "expected 40 Z85 characters (character 7, byte 0x1b, is not Z85)");
    memcpy(key + 5, "#####", 5); /* 85^5 - 1 > 2^32 - 1 */
    assert_non_null(rumor_keys_z85_problem(key, why, sizeof why));
    assert_string_equal(why, "characters 6-10 do not encode 4 bytes (not a Z85 key)");
}

static void test_generate(void **state)
{
    (void)state;
    rumor_keypair_t a, b;
    assert_int_equal(rumor_keys_generate(&a, NULL), 0);
    assert_int_equal(rumor_keys_generate(&b, NULL), 0);
    assert_true(rumor_keys_is_z85(a.public_key) && rumor_keys_is_z85(a.secret_key));
    assert_string_not_equal(a.public_key, b.public_key);
    assert_string_not_equal(a.secret_key, b.secret_key);
    char pub[RUMOR_KEY_Z85_LEN + 1];
    assert_int_equal(rumor_keys_public_of(a.secret_key, pub), 0);
    assert_string_equal(pub, a.public_key);
    assert_false(rumor_keys_is_z85("short"));
    assert_false(rumor_keys_is_z85("0123456789012345678901234567890123456789 "));
    assert_false(rumor_keys_is_z85("012345678901234567890123456789012345678\""));
    assert_false(rumor_keys_is_z85("#####01234567890123456789012345678901234")); /* > 2^32 */
    assert_int_equal(rumor_keys_public_of("nope", pub), RUMOR_EFORMAT);
    rumor_keys_wipe(&a);
    for (size_t i = 0; i < sizeof a; i++) assert_int_equal(((unsigned char *)&a)[i], 0);
}

static void test_save_is_private_and_loads_back(void **state)
{
    (void)state;
    const char *path = s_scratch("a.key");
    rumor_keypair_t kp, got;
    assert_int_equal(rumor_keys_generate(&kp, NULL), 0);
    const mode_t old = umask(0); /* the file must be 0600 even under a permissive umask */
    const int rc = rumor_keys_save(&kp, path, 0, NULL);
    umask(old);
    assert_int_equal(rc, 0);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(rumor_keys_load(path, &got, NULL), 0);
    assert_string_equal(got.public_key, kp.public_key);
    assert_string_equal(got.secret_key, kp.secret_key);

    /* The documented format. */
    FILE *f = fopen(path, "r");
    char text[512];
    const size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = '\0';
    fclose(f);
    char line[128];
    snprintf(line, sizeof line, "\npublic-key = %s\n", kp.public_key);
    assert_non_null(strstr(text, line));
    snprintf(line, sizeof line, "\nsecret-key = %s\n", kp.secret_key);
    assert_non_null(strstr(text, line));

    /* No temporary files left behind. */
    char cmd[600];
    snprintf(cmd, sizeof cmd, "ls '%s' | grep -q tmp", s_dir);
    assert_int_not_equal(system(cmd), 0);
}

static void test_no_overwrite_without_force(void **state)
{
    (void)state;
    const char *path = s_scratch("b.key");
    rumor_keypair_t k1, k2, got;
    assert_int_equal(rumor_keys_generate(&k1, NULL), 0);
    assert_int_equal(rumor_keys_generate(&k2, NULL), 0);
    assert_int_equal(rumor_keys_save(&k1, path, 0, NULL), 0);
    rumor_errmsg_t em = {{0}};
    assert_int_equal(rumor_keys_save(&k2, path, 0, &em), RUMOR_EINVAL);
    assert_non_null(strstr(em.msg, "already exists; use --force"));
    assert_int_equal(rumor_keys_load(path, &got, NULL), 0);
    assert_string_equal(got.public_key, k1.public_key);
    assert_int_equal(rumor_keys_save(&k2, path, 1, NULL), 0);
    assert_int_equal(rumor_keys_load(path, &got, NULL), 0);
    assert_string_equal(got.public_key, k2.public_key);
    /* A key pair whose halves do not match is never written. */
    memcpy(k2.public_key, k1.public_key, sizeof k2.public_key);
    assert_int_equal(rumor_keys_save(&k2, s_scratch("c.key"), 0, NULL), RUMOR_EINVAL);
    assert_int_not_equal(access(s_scratch("c.key"), F_OK), 0);
}

static void test_open_permissions_refused(void **state)
{
    (void)state;
    rumor_keypair_t kp, got;
    assert_int_equal(rumor_keys_generate(&kp, NULL), 0);
    char text[256];
    snprintf(text, sizeof text, "public-key = %s\nsecret-key = %s\n", kp.public_key, kp.secret_key);
    const char *path = s_scratch("key.sec");
    s_write(path, text, 0644);
    rumor_errmsg_t em = {{0}};
    assert_int_equal(rumor_keys_load(path, &got, &em), RUMOR_EAUTH);
    char want[1200];
    snprintf(want, sizeof want, "%s: permissions 0644 are too open; run chmod 600 %s", path, path);
    assert_string_equal(em.msg, want);
    assert_string_equal(got.secret_key, ""); /* nothing handed out */
    const mode_t modes[] = {0640, 0604, 0620, 0602, 0660};
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        assert_int_equal(chmod(path, modes[i]), 0);
        assert_int_equal(rumor_keys_load(path, &got, NULL), RUMOR_EAUTH);
    }
    assert_int_equal(chmod(path, 0400), 0);
    assert_int_equal(rumor_keys_load(path, &got, NULL), 0);
    assert_int_equal(chmod(path, 0600), 0);
    assert_int_equal(rumor_keys_load(path, &got, NULL), 0);
    assert_string_equal(got.secret_key, kp.secret_key);
}

static void test_mismatched_pair_refused(void **state)
{
    (void)state;
    rumor_keypair_t a, b, got;
    assert_int_equal(rumor_keys_generate(&a, NULL), 0);
    assert_int_equal(rumor_keys_generate(&b, NULL), 0);
    char text[256];
    snprintf(text, sizeof text, "public-key = %s\nsecret-key = %s\n", b.public_key, a.secret_key);
    const char *path = s_scratch("mixed.key");
    s_write(path, text, 0600);
    rumor_errmsg_t em = {{0}};
    assert_int_equal(rumor_keys_load(path, &got, &em), RUMOR_EAUTH);
    assert_non_null(strstr(em.msg, "public-key does not belong to secret-key"));
}

static void test_corrupt_files_name_the_line(void **state)
{
    (void)state;
    rumor_keypair_t kp, got;
    assert_int_equal(rumor_keys_generate(&kp, NULL), 0);
    char bad_z85[RUMOR_KEY_Z85_LEN + 1];
    memcpy(bad_z85, kp.secret_key, sizeof bad_z85);
    bad_z85[7] = '"'; /* not in the Z85 alphabet */
    char cases[6][400];
    const char *want[6];
    snprintf(cases[0], 400, "# comment\npublic-key = %s\nsecret-key %s\n", kp.public_key,
             "D:)Q[IlAW!ahhC2ac:9*A}h:p?([4%wOTJ%JR%cs");
    want[0] = ":3: expected 'name = value'";
    snprintf(cases[1], 400, "public-key = %s\nsecret-key %s\n", kp.public_key,
             "D:)Q[IlAW!ahhC2ac:9*A}h=p?([4%wOTJ%JR%cs"); /* a '=' inside the key */
    s_write(s_scratch("eq.key"), cases[1], 0600);
    rumor_errmsg_t em_eq = {{0}};
    assert_int_equal(rumor_keys_load(s_scratch("eq.key"), &got, &em_eq), RUMOR_EFORMAT);
    assert_non_null(strstr(em_eq.msg, ":2: expected 'name = value'"));
    snprintf(cases[1], 400, "public-key = %s\n\nsecret-key = %s\n", kp.public_key, bad_z85);
    want[1] = ":3: secret-key: expected 40 Z85 characters";
    snprintf(cases[2], 400, "public-key = %s\nsecret-key = %.39s\n", kp.public_key, kp.secret_key);
    want[2] = ":2: secret-key: expected 40 Z85 characters, got 39";
    snprintf(cases[3], 400, "public-key = %s\nsecret = %s\n", kp.public_key, kp.secret_key);
    want[3] = ":2: unknown name 'secret'";
    snprintf(cases[4], 400, "public-key = %s\npublic-key = %s\nsecret-key = %s\n", kp.public_key,
             kp.public_key, kp.secret_key);
    want[4] = ":2: public-key given twice";
    snprintf(cases[5], 400, "public-key = %s\n", kp.public_key);
    want[5] = ": missing secret-key";
    const char *path = s_scratch("corrupt.key");
    for (int i = 0; i < 6; i++) {
        s_write(path, cases[i], 0600);
        rumor_errmsg_t em = {{0}};
        assert_int_equal(rumor_keys_load(path, &got, &em), RUMOR_EFORMAT);
        char full[1024];
        snprintf(full, sizeof full, "%s%s", path, want[i]);
        if (strncmp(em.msg, full, strlen(full)) != 0)
            fail_msg("case %d: got '%s', want it to start with '%s'", i, em.msg, full);
    }
    /* Binary junk and an empty file. */
    s_write(path, "public-key = \001\002\n", 0600);
    assert_int_equal(rumor_keys_load(path, &got, NULL), RUMOR_EFORMAT);
    s_write(path, "", 0600);
    assert_int_equal(rumor_keys_load(path, &got, NULL), RUMOR_EFORMAT);
    /* Whitespace, CRLF line ends and comments are fine. */
    char ok[400];
    snprintf(ok, sizeof ok, "\r\n  # mine\r\n\tsecret-key=%s  \r\npublic-key   =   %s\r\n",
             kp.secret_key, kp.public_key);
    s_write(path, ok, 0600);
    assert_int_equal(rumor_keys_load(path, &got, NULL), 0);
    assert_string_equal(got.public_key, kp.public_key);
    /* A missing file says so. */
    rumor_errmsg_t em = {{0}};
    assert_int_equal(rumor_keys_load(s_scratch("absent.key"), &got, &em), RUMOR_EIO);
    assert_non_null(strstr(em.msg, "cannot open"));
}

static void test_keygen_command(void **state)
{
    (void)state;
    char out[512], err[1024];
    const char *path = s_scratch("cmd.key");
    const char *argv[] = {"keygen", "-o", path, NULL};
    assert_int_equal(s_keygen(out, sizeof out, err, sizeof err, 3, argv), 0);
    rumor_keypair_t kp;
    assert_int_equal(rumor_keys_load(path, &kp, NULL), 0);
    char want[64];
    snprintf(want, sizeof want, "%s\n", kp.public_key);
    assert_string_equal(out, want); /* stdout is the public key alone, for scripts */
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);

    /* A second run refuses to overwrite; --force replaces. */
    assert_int_equal(s_keygen(out, sizeof out, err, sizeof err, 3, argv), 1);
    assert_non_null(strstr(err, "use --force"));
    rumor_keypair_t again;
    assert_int_equal(rumor_keys_load(path, &again, NULL), 0);
    assert_string_equal(again.secret_key, kp.secret_key);
    const char *argv_force[] = {"keygen", "-o", path, "--force", NULL};
    assert_int_equal(s_keygen(out, sizeof out, err, sizeof err, 4, argv_force), 0);
    assert_int_equal(rumor_keys_load(path, &again, NULL), 0);
    assert_string_not_equal(again.secret_key, kp.secret_key);

    /* --public prints the key of an existing file; usage errors exit 2. */
    const char *argv_pub[] = {"keygen", "--public", path, NULL};
    assert_int_equal(s_keygen(out, sizeof out, err, sizeof err, 3, argv_pub), 0);
    snprintf(want, sizeof want, "%s\n", again.public_key);
    assert_string_equal(out, want);
    const char *argv_none[] = {"keygen", NULL};
    assert_int_equal(s_keygen(out, sizeof out, err, sizeof err, 1, argv_none), 2);
    const char *argv_bad[] = {"keygen", "-o", NULL};
    assert_int_equal(s_keygen(out, sizeof out, err, sizeof err, 2, argv_bad), 2);
    assert_non_null(strstr(err, "-o needs a value"));
}

static const char s_topo[] = "{\n"
                             "  \"name\": \"tri\",\n"
                             "  \"nodes\": [\n"
                             "    {\"id\": 0, \"endpoint\": \"tcp://127.0.0.1:7400\"},\n"
                             "    {\"id\": 1, \"endpoint\": \"tcp://127.0.0.1:7401\"},\n"
                             "    {\"id\": 2, \"endpoint\": \"tcp://127.0.0.1:7402\"}\n"
                             "  ],\n"
                             "  \"edges\": [[0, 1], [1, 2], [0, 2]],\n"
                             "  \"weights\": \"metropolis\"\n"
                             "}\n";

/* Checks that out_json is a topology that loads, with the graph and endpoints of s_topo and,
 * for nodes 0..2, the public key of keydir/node<i>.key; copies the keys into pubs. */
static void s_check_topology(const char *out_json, const char *keydir, char pubs[3][41])
{
    rumor_errmsg_t em = {{0}};
    rumor_topology_t *t = NULL;
    if (rumor_topology_load(out_json, &t, &em) != 0) fail_msg("%s", em.msg);
    assert_string_equal(t->name, "tri");
    assert_int_equal(t->n, 3);
    assert_int_equal(t->n_edges, 3);
    for (uint32_t i = 0; i < 3; i++) {
        char kpath[600], ep[64];
        snprintf(kpath, sizeof kpath, "%s/node%u.key", keydir, i);
        rumor_keypair_t kp;
        if (rumor_keys_load(kpath, &kp, &em) != 0) fail_msg("%s", em.msg);
        assert_string_equal(t->nodes[i].public_key, kp.public_key);
        snprintf(ep, sizeof ep, "tcp://127.0.0.1:%u", 7400 + i);
        assert_string_equal(t->nodes[i].endpoint, ep);
        memcpy(pubs[i], kp.public_key, 41);
        rumor_keys_wipe(&kp);
    }
    rumor_topology_destroy(&t);
}

static void test_keygen_topology(void **state)
{
    (void)state;
    char out[512], err[2048];
    const char *topo = s_scratch("tri.json");
    s_write(topo, s_topo, 0644);
    char keydir[600], out_json[600];
    snprintf(keydir, sizeof keydir, "%s/keys", s_dir);
    snprintf(out_json, sizeof out_json, "%s/tri-keys.json", s_dir);
    const char *argv[] = {"keygen", "--topology", topo, "--dir", keydir, "-o", out_json, NULL};
    if (s_keygen(out, sizeof out, err, sizeof err, 7, argv) != 0) fail_msg("%s", err);
    struct stat st;
    assert_int_equal(stat(keydir, &st), 0);
    assert_int_equal(st.st_mode & 077, 0);
    char first[3][41], second[3][41];
    s_check_topology(out_json, keydir, first);
    assert_string_not_equal(first[0], first[1]);

    /* A rerun keeps the existing keys; --force makes new ones. */
    assert_int_equal(s_keygen(out, sizeof out, err, sizeof err, 7, argv), 0);
    s_check_topology(out_json, keydir, second);
    for (int i = 0; i < 3; i++) assert_string_equal(first[i], second[i]);
    const char *argv_force[] = {"keygen", "--topology", topo,      "--dir", keydir,
                                "-o",     out_json,     "--force", NULL};
    assert_int_equal(s_keygen(out, sizeof out, err, sizeof err, 8, argv_force), 0);
    s_check_topology(out_json, keydir, second);
    for (int i = 0; i < 3; i++) assert_string_not_equal(first[i], second[i]);

    /* Bad input, anything `rumor peer` would refuse, is refused before any key file is
     * written. */
    const char *bad = s_scratch("bad.json");
    s_write(bad, "{\"nodes\": [{\"id\": 0}, {\"id\": 0}], \"edges\": [[0, 1]]}", 0644);
    char keydir2[600];
    snprintf(keydir2, sizeof keydir2, "%s/keys2", s_dir);
    const char *argv_bad[] = {"keygen", "--topology", bad, "--dir", keydir2, "-o", out_json, NULL};
    assert_int_equal(s_keygen(out, sizeof out, err, sizeof err, 7, argv_bad), 1);
    assert_non_null(strstr(err, "nodes[1].id: expected 1 (ids must be 0..n-1 in order)"));
    assert_int_not_equal(access(keydir2, F_OK), 0);
    s_write(bad, "{\"nodes\": [{\"id\": 0}], \"edges\": [], \"comment\": \"x\"}", 0644);
    assert_int_equal(s_keygen(out, sizeof out, err, sizeof err, 7, argv_bad), 1);
    assert_non_null(strstr(err, "unknown field 'comment'"));
    assert_int_not_equal(access(keydir2, F_OK), 0);
    s_write(bad, "{\"nodes\": [", 0644);
    assert_int_equal(s_keygen(out, sizeof out, err, sizeof err, 7, argv_bad), 1);
    assert_non_null(strstr(err, "bad.json:"));
}

static void test_keygen_topology_script(void **state)
{
    (void)state;
    const char *bin = getenv("RUMOR_BIN");
    const char *src = getenv("RUMOR_SOURCE_DIR");
    if (!bin || !src || access(bin, X_OK) != 0) {
        print_message("rumor binary not built (RUMOR_BIN=%s); skipping the script test\n",
                      bin ? bin : "unset");
        skip();
    }
    const char *topo = s_scratch("tri2.json");
    s_write(topo, s_topo, 0644);
    char cmd[2048], keydir[600], out_json[700];
    snprintf(keydir, sizeof keydir, "%s/skeys", s_dir);
    snprintf(out_json, sizeof out_json, "%s/tri2.json", keydir);
    snprintf(cmd, sizeof cmd, "RUMOR_BIN='%s' '%s/scripts/keygen-topology' '%s' '%s' >/dev/null",
             bin, src, topo, keydir);
    const int rc = system(cmd);
    assert_true(WIFEXITED(rc) && WEXITSTATUS(rc) == 0);
    char pubs[3][41];
    s_check_topology(out_json, keydir, pubs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_generate),
        cmocka_unit_test(test_z85_problem_names_the_fault),
        cmocka_unit_test(test_save_is_private_and_loads_back),
        cmocka_unit_test(test_no_overwrite_without_force),
        cmocka_unit_test(test_open_permissions_refused),
        cmocka_unit_test(test_mismatched_pair_refused),
        cmocka_unit_test(test_corrupt_files_name_the_line),
        cmocka_unit_test(test_keygen_command),
        cmocka_unit_test(test_keygen_topology),
        cmocka_unit_test(test_keygen_topology_script),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
