/* Tests of whole-or-nothing files: contents and permission bits as asked, an existing file
 * kept when asked, failures that leave the old file and no temporary behind, a writer killed
 * at random moments that never leaves a torn file, and whole-file reads with a size limit. */
#define _GNU_SOURCE /* unshare */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "rumor/file.h"
#include "support.h"

#include <dirent.h>
#include <fcntl.h>
#include <jansson.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int s_setup(void **state)
{
    (void)state;
    return s_scratch_make("file");
}

static int s_teardown(void **state)
{
    (void)state;
    return s_scratch_remove();
}

/* Number of entries in the test directory (temporary files included). */
static int s_entries(void)
{
    DIR *d = opendir(s_dir);
    assert_non_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

static void s_assert_contents(const char *path, const char *want)
{
    char *got;
    size_t len;
    assert_int_equal(rumor_file_read(path, 1 << 20, &got, &len, NULL), 0);
    assert_int_equal(len, strlen(want));
    assert_memory_equal(got, want, len);
    assert_int_equal(got[len], '\0');
    free(got);
}

static void s_save_text(const char *path, unsigned mode, int flags, const char *text, int want_rc)
{
    const rumor_file_piece_t piece = {text, strlen(text)};
    rumor_errmsg_t em = {""};
    assert_int_equal(rumor_file_save(path, mode, flags, &piece, 1, &em), want_rc);
}

static void test_pieces_are_written_in_order_with_the_mode_asked(void **state)
{
    (void)state;
    const mode_t old = umask(077);
    const rumor_file_piece_t pieces[] = {{"head", 4}, {"", 0}, {"-body-", 6}, {"tail", 4}};
    const char *path = s_scratch("pieces");
    assert_int_equal(rumor_file_save(path, 0644, 0, pieces, 4, NULL), 0);
    s_assert_contents(path, "head-body-tail");
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644); /* the umask does not apply */
    s_save_text(path, 0600, 0, "second", 0);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    s_assert_contents(path, "second");
    umask(old);
    assert_int_equal(s_entries(), 1);
    unlink(path);
}

static void test_keep_refuses_an_existing_file_and_leaves_it(void **state)
{
    (void)state;
    const char *path = s_scratch("kept");
    s_save_text(path, 0600, RUMOR_FILE_KEEP, "first", 0);
    const rumor_file_piece_t piece = {"second", 6};
    rumor_errmsg_t em = {""};
    assert_int_equal(rumor_file_save(path, 0600, RUMOR_FILE_KEEP, &piece, 1, &em), RUMOR_EINVAL);
    assert_non_null(strstr(em.msg, "kept: already exists; use --force to replace it"));
    s_assert_contents(path, "first");
    assert_int_equal(s_entries(), 1);
    s_save_text(path, 0600, 0, "second", 0);
    s_assert_contents(path, "second");
    unlink(path);
}

static void test_failures_leave_the_old_file_and_no_temporary(void **state)
{
    (void)state;
    /* No such directory: nothing can be created. */
    rumor_errmsg_t em = {""};
    const rumor_file_piece_t small = {"x", 1};
    assert_int_equal(rumor_file_save(s_scratch("missing/f"), 0644, 0, &small, 1, &em), RUMOR_EIO);
    assert_non_null(strstr(em.msg, "missing/f: cannot create a file next to it"));

    /* A write that fails halfway (file size limit): the old contents stay. */
    const char *path = s_scratch("limited");
    s_save_text(path, 0644, 0, "old contents", 0);
    const pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        signal(SIGXFSZ, SIG_IGN);
        const struct rlimit lim = {4096, 4096};
        setrlimit(RLIMIT_FSIZE, &lim);
        static char big[65536];
        memset(big, 'n', sizeof big);
        const rumor_file_piece_t piece = {big, sizeof big};
        rumor_errmsg_t cem = {""};
        const int rc = rumor_file_save(path, 0644, 0, &piece, 1, &cem);
        _exit(rc == RUMOR_EIO && strstr(cem.msg, "limited: cannot write") ? 0 : 1);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    s_assert_contents(path, "old contents");
    assert_int_equal(s_entries(), 1);
    unlink(path);
}

/* A child rewrites one file over and over, alternating two versions of 1 MiB; it is killed
 * at a random moment, many times. The file must always be one whole version. */
static void test_a_killed_writer_never_leaves_a_torn_file(void **state)
{
    (void)state;
    enum { SIZE = 1 << 20, KILLS = 20 };
    const char *path = s_scratch("torn");
    static char ver[2][SIZE];
    memset(ver[0], 'a', SIZE);
    memset(ver[1], 'b', SIZE);
    srand((unsigned)time(NULL));
    int seen[2] = {0, 0};
    for (int k = 0; k < KILLS; k++) {
        const pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            for (unsigned i = 0;; i++) {
                const rumor_file_piece_t piece = {ver[i & 1], SIZE};
                if (rumor_file_save(path, 0644, 0, &piece, 1, NULL) != 0) _exit(1);
            }
        }
        usleep(20000 + (useconds_t)(rand() % 60000));
        assert_int_equal(kill(pid, SIGKILL), 0);
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFSIGNALED(status)); /* it was still writing, not failing */
        char *got;
        size_t len;
        if (rumor_file_read(path, 2 * SIZE, &got, &len, NULL) != 0) continue; /* not yet made */
        assert_int_equal(len, SIZE);
        const int which = got[0] == 'b';
        assert_memory_equal(got, ver[which], SIZE);
        seen[which]++;
        free(got);
    }
    assert_true(seen[0] + seen[1] > 0);
}

/* rumor_file_json writes what json_dumps writes, with the flags rumor's files use, for text
 * long enough to grow its buffer several times; what jansson cannot write, or a NULL value, fails.
 */
static void test_json_text_is_json_dumps_text(void **state)
{
    (void)state;
    json_t *j = json_pack("{s:s, s:f, s:[i, b, n], s:{s:s}}", "name", "a \"quoted\"\tname/é", "lr",
                          0.1, "list", 3, 1, "nested", "key", "value");
    assert_non_null(j);
    for (int i = 0; i < 300; i++) {
        char key[16];
        snprintf(key, sizeof key, "k%03d", i);
        assert_int_equal(json_object_set_new(j, key, json_real(1.0 / (i + 3))), 0);
    }
    const size_t flags[] = {JSON_COMPACT, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_REAL_PRECISION(17),
                            JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10)};
    for (size_t f = 0; f < sizeof flags / sizeof *flags; f++) {
        char *want = json_dumps(j, flags[f]), *got;
        size_t len;
        assert_int_equal(rumor_file_json(j, flags[f], "x.json", &got, &len, NULL), 0);
        assert_string_equal(got, want);
        assert_int_equal(len, strlen(want));
        free(want);
        free(got);
    }
    json_t *s = json_string("plain");
    char *got = (char *)&got;
    size_t len = 1;
    rumor_errmsg_t em = {""};
    assert_int_equal(rumor_file_json(s, JSON_COMPACT, "x.json", &got, &len, &em), RUMOR_ENOMEM);
    assert_null(got);
    assert_int_equal(len, 0);
    assert_string_equal(em.msg, "x.json: out of memory");
    assert_int_equal(rumor_file_json(s, JSON_ENCODE_ANY, "x.json", &got, &len, NULL), 0);
    assert_string_equal(got, "\"plain\"");
    free(got);
    /* a value jansson could not build, with any flags */
    em.msg[0] = '\0';
    assert_int_equal(rumor_file_json(NULL, JSON_ENCODE_ANY, "y.json", &got, &len, &em),
                     RUMOR_ENOMEM);
    assert_null(got);
    assert_string_equal(em.msg, "y.json: out of memory");
    json_decref(s);
    json_decref(j);
}

static void test_read_limits_and_errors(void **state)
{
    (void)state;
    const char *path = s_scratch("sized");
    s_save_text(path, 0644, 0, "0123456789", 0);
    char *got = (char *)1;
    size_t len = 99;
    assert_int_equal(rumor_file_read(path, 10, &got, &len, NULL), 0);
    assert_int_equal(len, 10);
    assert_string_equal(got, "0123456789");
    free(got);
    rumor_errmsg_t em = {""};
    assert_int_equal(rumor_file_read(path, 9, &got, &len, &em), RUMOR_ERANGE);
    assert_null(got);
    assert_non_null(strstr(em.msg, "sized: larger than 9 bytes"));

    s_save_text(path, 0644, 0, "", 0);
    assert_int_equal(rumor_file_read(path, 10, &got, &len, NULL), 0);
    assert_int_equal(len, 0);
    assert_string_equal(got, "");
    free(got);

    assert_int_equal(rumor_file_read(s_scratch("absent"), 10, &got, &len, &em), RUMOR_EIO);
    assert_non_null(strstr(em.msg, "absent: cannot open"));
    assert_int_equal(rumor_file_read(s_dir, 10, &got, &len, &em), RUMOR_EIO);
    unlink(path);
}

/* A directory is made with the mode asked, and making it again is fine; a missing parent is
 * an error that names the path. */
static void test_mkdir(void **state)
{
    (void)state;
    rumor_errmsg_t em = {""};
    const char *dir = s_scratch("made");
    assert_int_equal(rumor_file_mkdir(dir, 0700, &em), 0);
    struct stat st;
    assert_int_equal(stat(dir, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0700);
    assert_int_equal(rumor_file_mkdir(dir, 0755, &em), 0);
    const char *deep = s_scratch("absent/made");
    assert_int_equal(rumor_file_mkdir(deep, 0755, &em), RUMOR_EIO);
    assert_non_null(strstr(em.msg, deep));
    assert_non_null(strstr(em.msg, "cannot create"));
}

static void test_directory_of_a_path(void **state)
{
    (void)state;
    char d[16];
    assert_int_equal(rumor_file_dir("sims/a.json", d, sizeof d), 0);
    assert_string_equal(d, "sims");
    assert_int_equal(rumor_file_dir("a/b/c.json", d, sizeof d), 0);
    assert_string_equal(d, "a/b");
    assert_int_equal(rumor_file_dir("c.json", d, sizeof d), 0);
    assert_string_equal(d, ".");
    assert_int_equal(rumor_file_dir("/c.json", d, sizeof d), 0);
    assert_string_equal(d, "/");
    assert_int_equal(rumor_file_dir("a-long-directory/c", d, sizeof d), RUMOR_ENOSPC);
    assert_int_equal(rumor_file_dir("x", d, 1), RUMOR_ENOSPC);
}

static void s_touch(const char *path)
{
    const int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    close(fd);
}

static int s_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* A writer killed between mkstemp and rename leaves NAME.tmp.XXXXXX behind; a restart removes
 * its own (and only its own: another peer may be writing its checkpoint in the same
 * directory right now). */
static void test_stale_temporaries_removed(void **state)
{
    (void)state;
    const char *dir = s_scratch("stale");
    assert_int_equal(rumor_file_mkdir(dir, 0755, NULL), 0);
    char p[6][256];
    const char *names[6] = {"node3.safetensors.tmp.Ab12Cd",   "node3.safetensors.tmp.zzzzzz",
                            "node4.safetensors.tmp.Ab12Cd",   "node3.safetensors",
                            "node3.safetensors.tmp.toolong1", "a"};
    for (int i = 0; i < 6; i++) {
        snprintf(p[i], sizeof p[i], "%s/%s", dir, names[i]);
        if (i < 5) s_touch(p[i]);
    }
    assert_int_equal(rumor_file_mkdir(p[5], 0755, NULL), 0);
    char sub[300];
    snprintf(sub, sizeof sub, "%s/sim.json.tmp.x1y2z3", p[5]);
    s_touch(sub);
    assert_int_equal(rumor_file_remove_stale(p[3]), 2);
    assert_false(s_exists(p[0]));
    assert_false(s_exists(p[1]));
    assert_true(s_exists(p[2]) && s_exists(p[3]) && s_exists(p[4]) && s_exists(sub));
    /* Every name, and one level down (rumor sim's checkpoint slots). */
    assert_int_equal(rumor_file_remove_stale_in(dir), 2);
    assert_false(s_exists(p[2]));
    assert_false(s_exists(sub));
    assert_true(s_exists(p[3]) && s_exists(p[4]));
    assert_int_equal(rumor_file_remove_stale_in(s_scratch("absent")), 0);
}

/* Where a run will write at its end is checked at its start. */
static void test_output_paths_checked_before_use(void **state)
{
    (void)state;
    rumor_errmsg_t em = {""};
    assert_int_equal(rumor_file_check_output(s_scratch("model.bin"), &em), 0);
    assert_false(s_exists(s_scratch("model.bin"))); /* nothing is created */
    assert_int_equal(rumor_file_check_output("model.bin", &em), 0);
    const char *missing = s_scratch("nowhere/model.bin");
    assert_int_equal(rumor_file_check_output(missing, &em), RUMOR_EIO);
    assert_non_null(strstr(em.msg, missing));
    assert_non_null(strstr(em.msg, "does not exist"));
    assert_int_equal(rumor_file_check_output(s_dir, &em), RUMOR_EINVAL);
    assert_non_null(strstr(em.msg, "is a directory"));

    const char *file = s_scratch("plain");
    s_touch(file);
    assert_int_equal(rumor_file_check_dir(s_dir, &em), 0);
    assert_int_equal(rumor_file_check_dir(s_scratch("to-be-made"), &em), 0);
    assert_int_equal(rumor_file_check_dir(file, &em), RUMOR_EINVAL);
    assert_non_null(strstr(em.msg, file));
    assert_non_null(strstr(em.msg, "not a directory"));
    assert_int_equal(rumor_file_check_dir(s_scratch("nowhere/ckpt"), &em), RUMOR_EIO);
    assert_non_null(strstr(em.msg, "does not exist"));
    char under[300];
    snprintf(under, sizeof under, "%s/x/y", file);
    assert_int_equal(rumor_file_check_output(under, &em), RUMOR_EIO);
}

/* A full disk is said as such, with the path (a tmpfs of 16 KiB in a mount namespace of a
 * child process; skipped where namespaces are not allowed). */
static void test_full_disk_is_named(void **state)
{
    (void)state;
    const char *dir = s_scratch("full");
    assert_int_equal(rumor_file_mkdir(dir, 0755, NULL), 0);
    const pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
            mount("tmpfs", dir, "tmpfs", 0, "size=16k") != 0)
            _exit(77);
        static char big[1 << 16];
        const rumor_file_piece_t piece = {big, sizeof big};
        char path[300];
        snprintf(path, sizeof path, "%s/node0.safetensors", dir);
        rumor_errmsg_t em = {""};
        const int rc = rumor_file_save(path, 0644, 0, &piece, 1, &em);
        const int ok = rc == RUMOR_EDISKFULL && strstr(em.msg, path) &&
                       strstr(em.msg, "no space left on device") &&
                       !strcmp(rumor_strerror(rc), "no space left on device");
        if (!ok) fprintf(stderr, "rc %d: %s\n", rc, em.msg);
        DIR *d = opendir(dir);
        int n = 0;
        for (struct dirent *e; d && (e = readdir(d));) n += e->d_name[0] != '.';
        if (d) closedir(d);
        _exit(ok && n == 0 ? 0 : 1);
    }
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    if (WEXITSTATUS(st) == 77) skip();
    assert_int_equal(WEXITSTATUS(st), 0);
}

/* `rumor peer` and `rumor sim` check their output paths (and option values) before a run
 * starts, rather than lose its result at the end; a peer removes its own stale temporaries. */
static void test_commands_check_paths_at_start(void **state)
{
    (void)state;
    const char *bin = getenv("RUMOR_BIN");
    if (!bin || access(bin, X_OK) != 0) skip();
    const char *dir = s_scratch("cli");
    assert_int_equal(rumor_file_mkdir(dir, 0755, NULL), 0);
    char cmd[2048], out[8192];
    /* A run that would take minutes. */
    snprintf(cmd, sizeof cmd,
             "cd '%s' && printf '%%s' '{\"name\": \"paths\", \"topology\": \"topo.json\", "
             "\"data\": {\"name\": \"synthetic\", \"n\": 400, \"test_n\": 100, \"dim\": 8, "
             "\"classes\": 2}, \"algorithm\": {\"rounds\": 10000000}, \"eval_every\": 10000000}' "
             "> sc.json && '%s' topo gen ring --n 2 --port-base %u -o topo.json && : > afile && "
             "mkdir -p ck ck2/a && : > ck/node7.safetensors.tmp.Ab12Cd && "
             ": > ck/node1.safetensors.tmp.Ab12Cd && : > ck2/a/node0.safetensors.tmp.Ab12Cd",
             dir, bin, s_port_block());
    assert_int_equal(s_capture(cmd, out, sizeof out), 0);
    const struct {
        const char *args;
        int rc;
        const char *says;
    } cases[] = {
        {"peer --config sc.json --id 0 --insecure --wait 2 --model-out nowhere/m.bin", 2,
         "--model-out nowhere/m.bin: directory nowhere does not exist"},
        {"peer --config sc.json --id 0 --insecure --wait 2 --checkpoint afile", 2,
         "--checkpoint afile: not a directory"},
        {"peer --config sc.json --id 0 --checkpoint --insecure", 2, "--checkpoint needs a value"},
        {"peer --config sc.json --id 0 --insecure --metrics", 2, "--metrics needs a value"},
        {"sim sc.json --quiet --models nowhere/m.bin", 2,
         "--models nowhere/m.bin: directory nowhere does not exist"},
        {"sim sc.json --quiet --checkpoint afile", 2, "--checkpoint afile: not a directory"},
        {"sim sc.json --quiet --metrics nowhere/x.jsonl", 2, "--metrics nowhere/x.jsonl"},
        {"sim sc.json --checkpoint --quiet", 2, "--checkpoint needs a value"},
        /* Not a node of the topology: fails in setup, after removing its own temporaries. */
        {"peer --config sc.json --id 7 --insecure --checkpoint ck", 1, "7"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        snprintf(cmd, sizeof cmd, "cd '%s' && timeout 20 '%s' %s", dir, bin, cases[k].args);
        const int rc = s_capture(cmd, out, sizeof out);
        if (rc != cases[k].rc || !strstr(out, cases[k].says))
            fail_msg("rumor %s: exit %d, expected %d and \"%s\":\n%s", cases[k].args, rc,
                     cases[k].rc, cases[k].says, out);
    }
    char p[512];
    snprintf(p, sizeof p, "%s/ck/node7.safetensors.tmp.Ab12Cd", dir);
    assert_false(s_exists(p));
    snprintf(p, sizeof p, "%s/ck/node1.safetensors.tmp.Ab12Cd", dir);
    assert_true(s_exists(p));
    snprintf(cmd, sizeof cmd,
             "cd '%s' && timeout 60 '%s' sim sc.json --quiet --rounds 2 --checkpoint ck2", dir,
             bin);
    if (s_capture(cmd, out, sizeof out) != 0) fail_msg("rumor sim --checkpoint ck2:\n%s", out);
    snprintf(p, sizeof p, "%s/ck2/a/node0.safetensors.tmp.Ab12Cd", dir);
    assert_false(s_exists(p));
    /* A full disk under the metrics and the checkpoints is named (a 16 KiB tmpfs in a mount
     * namespace, where allowed). */
    snprintf(cmd, sizeof cmd,
             "cd '%s' && mkdir -p full && unshare -m sh -c 'mount -t tmpfs -o size=16k tmpfs full"
             " || exit 77; timeout 60 %s sim sc.json --quiet --rounds 400 --eval-every 1"
             " --metrics full/m.jsonl; echo rc=$?; timeout 60 %s sim sc.json --quiet --rounds 2"
             " --checkpoint full/ck; echo rc=$?'",
             dir, bin, bin);
    const int rc = s_capture(cmd, out, sizeof out);
    if (rc == 77) skip();
    if (!strstr(out, "full/m.jsonl: no space left on device") || !strstr(out, "full/ck/a/node") ||
        !strstr(out, ": no space left on device (writing") || strstr(out, "rc=0"))
        fail_msg("%s", out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pieces_are_written_in_order_with_the_mode_asked),
        cmocka_unit_test(test_keep_refuses_an_existing_file_and_leaves_it),
        cmocka_unit_test(test_failures_leave_the_old_file_and_no_temporary),
        cmocka_unit_test(test_a_killed_writer_never_leaves_a_torn_file),
        cmocka_unit_test(test_json_text_is_json_dumps_text),
        cmocka_unit_test(test_read_limits_and_errors),
        cmocka_unit_test(test_mkdir),
        cmocka_unit_test(test_directory_of_a_path),
        cmocka_unit_test(test_stale_temporaries_removed),
        cmocka_unit_test(test_output_paths_checked_before_use),
        cmocka_unit_test(test_full_disk_is_named),
        cmocka_unit_test(test_commands_check_paths_at_start),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
