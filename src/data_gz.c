/* rumor — dataset files read through zlib, so that every reader takes plain or
 * gzip-compressed files alike (detected by content, not name). See data_internal.h.
 */
#include "data_internal.h"

#include "rumor/file.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int rumor_data_gz_open(const char *path, gzFile *out, rumor_errmsg_t *em)
{
    errno = 0;
    gzFile gz = gzopen(path, "rb");
    if (!gz) {
        if (errno == 0 || errno == ENOMEM)
            return rumor_errmsg_set(em, RUMOR_ENOMEM, "%s: out of memory opening the file", path);
        return rumor_errmsg_set(em, RUMOR_EIO, "%s: cannot open: %s", path, strerror(errno));
    }
    (void)gzbuffer(gz, 1u << 17); /* larger reads than zlib's 8 KB default pay off here */
    *out = gz;
    return 0;
}

int rumor_data_gz_read(gzFile gz, const char *path, void *buf, size_t len, size_t *got,
                       rumor_errmsg_t *em)
{
    size_t done = 0;
    while (done < len) {
        const size_t want = len - done < (1u << 30) ? len - done : (1u << 30);
        errno = 0;
        const int r = gzread(gz, (char *)buf + done, (unsigned)want);
        if (r < 0) {
            const int sys_errno = errno;
            int zerr = Z_OK;
            const char *zmsg = gzerror(gz, &zerr);
            *got = done;
            if (zerr == Z_ERRNO)
                return rumor_errmsg_set(em, RUMOR_EIO, "%s: read failed: %s", path,
                                        strerror(sys_errno ? sys_errno : EIO));
            if (zerr == Z_MEM_ERROR)
                return rumor_errmsg_set(em, RUMOR_ENOMEM, "%s: out of memory decompressing", path);
            if (zerr == Z_BUF_ERROR) return 0; /* gzip stream cut short: a truncation */
            return rumor_errmsg_set(em, RUMOR_EFORMAT, "%s: corrupt gzip data: %s", path,
                                    zmsg ? zmsg : "unknown zlib error");
        }
        if (r == 0) break;
        done += (size_t)r;
    }
    *got = done;
    return 0;
}

typedef struct {
    gzFile gz;
    const char *path;
} s_gz_src_t;

static int s_gz_source(void *src, void *buf, size_t cap, size_t *got, rumor_errmsg_t *em)
{
    const s_gz_src_t *s = src;
    return rumor_data_gz_read(s->gz, s->path, buf, cap, got, em);
}

int rumor_data_gz_read_all(const char *path, char **out, size_t *len, rumor_errmsg_t *em)
{
    gzFile gz = NULL;
    int rc = rumor_data_gz_open(path, &gz, em);
    if (rc) return rc;
    s_gz_src_t src = {gz, path};
    rc = rumor_file_read_from(path, SIZE_MAX, s_gz_source, &src, out, len, em);
    /* A gzip stream cut short is reported by zlib only as an early end; say so. */
    int zerr = Z_OK;
    (void)gzerror(gz, &zerr);
    if (!rc && zerr == Z_BUF_ERROR) {
        free(*out);
        *out = NULL;
        *len = 0;
        rc = rumor_errmsg_set(em, RUMOR_ETRUNC, "%s: truncated: the gzip stream ends early", path);
    }
    gzclose(gz);
    return rc;
}
