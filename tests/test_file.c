/* Tests of whole-or-nothing files: contents and permission bits as asked, an existing file
 * kept when asked, failures that leave the old file and no temporary behind, a writer killed
 * at random moments that never leaves a torn file, and whole-file reads with a size limit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "rumor/file.h"
#include "support.h"

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pieces_are_written_in_order_with_the_mode_asked),
        cmocka_unit_test(test_keep_refuses_an_existing_file_and_leaves_it),
        cmocka_unit_test(test_failures_leave_the_old_file_and_no_temporary),
        cmocka_unit_test(test_a_killed_writer_never_leaves_a_torn_file),
        cmocka_unit_test(test_read_limits_and_errors),
        cmocka_unit_test(test_mkdir),
        cmocka_unit_test(test_directory_of_a_path),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
