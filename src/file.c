/* rumor — files written whole or not at all (see file.h). */
#include "rumor/file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int rumor_file_dir(const char *path, char *out, size_t cap)
{
    const char *slash = strrchr(path, '/');
    const size_t n = !slash ? 1 : slash == path ? 1 : (size_t)(slash - path);
    if (n >= cap) return RUMOR_ENOSPC;
    if (!slash)
        memcpy(out, ".", 1);
    else
        memcpy(out, path, n);
    out[n] = '\0';
    return 0;
}

int rumor_file_read_from(const char *path, size_t max, rumor_file_source_fn source, void *src,
                         char **out, size_t *len, rumor_errmsg_t *em)
{
    *out = NULL;
    *len = 0;
    /* One byte past max shows that the input is too large. */
    const size_t limit = max < SIZE_MAX - 1 ? max + 1 : SIZE_MAX - 1;
    char *buf = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    for (;;) {
        if (n == cap) {
            const size_t want = !cap ? 8192 : cap > limit / 2 ? limit : 2 * cap;
            const size_t ncap = want > limit ? limit : want;
            if (ncap <= cap) {
                rc = rumor_errmsg_set(em, RUMOR_ERANGE, "%s: larger than %zu bytes", path, max);
                break;
            }
            char *grown = realloc(buf, ncap + 1);
            if (!grown) {
                rc = rumor_errmsg_set(em, RUMOR_ENOMEM, "%s: out of memory", path);
                break;
            }
            buf = grown;
            cap = ncap;
        }
        size_t got = 0;
        rc = source(src, buf + n, cap - n, &got, em);
        if (rc) break;
        n += got;
        if (got == 0) break;
    }
    if (rc) {
        free(buf);
        return rc;
    }
    if (!buf && !(buf = malloc(1)))
        return rumor_errmsg_set(em, RUMOR_ENOMEM, "%s: out of memory", path);
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}

typedef struct {
    FILE *f;
    const char *path;
} s_stdio_src_t;

static int s_stdio_read(void *src, void *buf, size_t cap, size_t *got, rumor_errmsg_t *em)
{
    const s_stdio_src_t *s = src;
    *got = fread(buf, 1, cap, s->f);
    if (*got < cap && ferror(s->f))
        return rumor_errmsg_set(em, RUMOR_EIO, "%s: read error: %s", s->path, strerror(errno));
    return 0;
}

int rumor_file_read(const char *path, size_t max, char **out, size_t *len, rumor_errmsg_t *em)
{
    *out = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return rumor_errmsg_set(em, RUMOR_EIO, "%s: cannot open: %s", path, strerror(errno));
    s_stdio_src_t src = {f, path};
    const int rc = rumor_file_read_from(path, max, s_stdio_read, &src, out, len, em);
    fclose(f);
    return rc;
}

static int s_write_all(int fd, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    while (len > 0) {
        const ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return RUMOR_EIO;
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

/* Flushes the directory holding path, so that a rename into it survives a crash. */
static void s_sync_dir(const char *path)
{
    char dir[4096];
    if (rumor_file_dir(path, dir, sizeof dir) != 0) return;
    const int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return;
    (void)fsync(fd);
    close(fd);
}

/* Puts the finished temporary file in place: a rename, or under RUMOR_FILE_KEEP a link,
 * which never replaces an existing file (file systems without hard links fall back to a
 * rename after checking). */
static int s_place(const char *tmp, const char *path, int flags, rumor_errmsg_t *em)
{
    if (flags & RUMOR_FILE_KEEP) {
        struct stat st;
        if (link(tmp, path) == 0) return 0;
        if (errno == EEXIST || lstat(path, &st) == 0)
            return rumor_errmsg_set(em, RUMOR_EINVAL,
                                    "%s: already exists; use --force to replace it", path);
    }
    if (rename(tmp, path) != 0)
        return rumor_errmsg_set(em, RUMOR_EIO, "%s: cannot rename %s to it: %s", path, tmp,
                                strerror(errno));
    return 0;
}

/* A growing buffer for json_dump_callback. A failed write sets `failed` for good: jansson does
 * not always look at what its callback returns (an object key), so the flag, not the dumper's
 * result, says whether the text is whole. */
typedef struct {
    char *p;
    size_t len, cap;
    int failed;
} s_json_buf_t;

static int s_json_append(const char *bytes, size_t n, void *data)
{
    s_json_buf_t *b = data;
    if (!b->failed && n >= b->cap - b->len) {
        const size_t want = b->len + n + 1, cap = want > SIZE_MAX / 2 ? 0 : 2 * want;
        char *grown = cap ? realloc(b->p, cap) : NULL;
        if (grown) {
            b->p = grown;
            b->cap = cap;
        } else {
            b->failed = 1;
        }
    }
    if (b->failed) return -1;
    memcpy(b->p + b->len, bytes, n);
    b->len += n;
    return 0;
}

int rumor_file_json(const json_t *j, size_t flags, const char *path, char **out, size_t *len,
                    rumor_errmsg_t *em)
{
    *out = NULL;
    *len = 0;
    s_json_buf_t b = {0};
    if (!j || json_dump_callback(j, s_json_append, &b, flags) != 0 || b.failed ||
        s_json_append("", 1, &b) != 0) {
        free(b.p);
        return rumor_errmsg_set(em, RUMOR_ENOMEM, "%s: out of memory", path);
    }
    *out = b.p;
    *len = b.len - 1; /* the '\0' */
    return 0;
}

int rumor_file_disk_full(int err)
{
    return err == ENOSPC || err == EDQUOT;
}

/* The failure to write tmp (for path) that errno says: a full disk by its name, since that
 * is what an operator can act on, anything else as an I/O error. */
static int s_write_failed(const char *path, const char *tmp, rumor_errmsg_t *em)
{
    if (rumor_file_disk_full(errno))
        return rumor_errmsg_set(em, RUMOR_EDISKFULL, "%s: no space left on device (writing %s: %s)",
                                path, tmp, strerror(errno));
    return rumor_errmsg_set(em, RUMOR_EIO, "%s: cannot write %s: %s", path, tmp, strerror(errno));
}

int rumor_file_save(const char *path, unsigned mode, int flags, const rumor_file_piece_t *pieces,
                    size_t n, rumor_errmsg_t *em)
{
    if (!path || (n && !pieces))
        return rumor_errmsg_set(em, RUMOR_EINVAL, "rumor_file_save: nothing to write");
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", path) >= (int)sizeof tmp)
        return rumor_errmsg_set(em, RUMOR_EINVAL, "%s: path too long", path);
    const int fd = mkstemp(tmp); /* created 0600, so nothing leaks before the fchmod */
    if (fd < 0 && rumor_file_disk_full(errno)) return s_write_failed(path, tmp, em);
    if (fd < 0)
        return rumor_errmsg_set(em, RUMOR_EIO, "%s: cannot create a file next to it: %s", path,
                                strerror(errno));
    int bad = fchmod(fd, (mode_t)mode) != 0;
    for (size_t i = 0; i < n && !bad; i++) bad = s_write_all(fd, pieces[i].data, pieces[i].len);
    bad = bad || fsync(fd) != 0;
    int rc = bad ? s_write_failed(path, tmp, em) : 0;
    if (close(fd) != 0 && rc == 0) rc = s_write_failed(path, tmp, em);
    if (rc == 0) rc = s_place(tmp, path, flags, em);
    unlink(tmp); /* after a link, or after a failure; a no-op after a rename */
    if (rc == 0) s_sync_dir(path);
    return rc;
}

/* 0 if dir is a directory this process may create files in; else em names what (the
 * directory of `path`, or path itself when they are the same). */
static int s_writable_dir(const char *path, const char *dir, rumor_errmsg_t *em)
{
    struct stat st;
    const int same = !strcmp(path, dir);
    if (stat(dir, &st) != 0) {
        if (errno != ENOENT)
            return rumor_errmsg_set(em, RUMOR_EIO, "%s: %s", path, strerror(errno));
        return same ? rumor_errmsg_set(em, RUMOR_EIO, "%s: does not exist", path)
                    : rumor_errmsg_set(em, RUMOR_EIO, "%s: directory %s does not exist", path, dir);
    }
    if (!S_ISDIR(st.st_mode))
        return same ? rumor_errmsg_set(em, RUMOR_EINVAL, "%s: not a directory", path)
                    : rumor_errmsg_set(em, RUMOR_EIO, "%s: %s is not a directory", path, dir);
    if (access(dir, W_OK | X_OK) != 0)
        return rumor_errmsg_set(em, RUMOR_EIO, "%s: cannot write into %s: %s", path, dir,
                                strerror(errno));
    return 0;
}

int rumor_file_check_output(const char *path, rumor_errmsg_t *em)
{
    char dir[4096];
    struct stat st;
    if (rumor_file_dir(path, dir, sizeof dir) != 0)
        return rumor_errmsg_set(em, RUMOR_EINVAL, "%s: path too long", path);
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return rumor_errmsg_set(em, RUMOR_EINVAL, "%s: is a directory", path);
    return s_writable_dir(path, dir, em);
}

int rumor_file_check_dir(const char *path, rumor_errmsg_t *em)
{
    struct stat st;
    if (stat(path, &st) == 0) return s_writable_dir(path, path, em);
    char parent[4096];
    if (rumor_file_dir(path, parent, sizeof parent) != 0)
        return rumor_errmsg_set(em, RUMOR_EINVAL, "%s: path too long", path);
    return s_writable_dir(path, parent, em);
}

/* 1 if entry is "<name>.tmp.XXXXXX" (any name when name is NULL), as mkstemp makes them. */
static int s_is_stale(const char *entry, const char *name)
{
    const size_t el = strlen(entry), tail = strlen(".tmp.XXXXXX");
    if (el <= tail || strncmp(entry + el - tail, ".tmp.", 5) != 0) return 0;
    for (size_t i = el - 6; i < el; i++)
        if (!(entry[i] >= '0' && entry[i] <= '9') && !(entry[i] >= 'a' && entry[i] <= 'z') &&
            !(entry[i] >= 'A' && entry[i] <= 'Z'))
            return 0;
    return !name || (strlen(name) == el - tail && !strncmp(entry, name, el - tail));
}

static int s_remove_stale(const char *dir, const char *name, int depth)
{
    DIR *d = opendir(dir);
    if (!d) return 0;
    int removed = 0;
    char p[4096];
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.' && (!e->d_name[1] || !strcmp(e->d_name, ".."))) continue;
        if (snprintf(p, sizeof p, "%s/%s", dir, e->d_name) >= (int)sizeof p) continue;
        struct stat st;
        if (lstat(p, &st) != 0) continue;
        if (S_ISDIR(st.st_mode)) {
            if (depth > 0) removed += s_remove_stale(p, name, depth - 1);
        } else if (S_ISREG(st.st_mode) && s_is_stale(e->d_name, name) && unlink(p) == 0) {
            removed++;
        }
    }
    closedir(d);
    return removed;
}

int rumor_file_remove_stale(const char *path)
{
    char dir[4096];
    const char *slash = strrchr(path, '/');
    if (rumor_file_dir(path, dir, sizeof dir) != 0) return 0;
    return s_remove_stale(dir, slash ? slash + 1 : path, 0);
}

int rumor_file_remove_stale_in(const char *dir)
{
    return s_remove_stale(dir, NULL, 1);
}

int rumor_file_mkdir(const char *path, unsigned mode, rumor_errmsg_t *em)
{
    if (mkdir(path, (mode_t)mode) != 0 && errno != EEXIST)
        return rumor_errmsg_set(em, RUMOR_EIO, "%s: cannot create: %s", path, strerror(errno));
    return 0;
}
