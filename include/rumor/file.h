/* rumor — files that are written whole or not at all.
 *
 * Everything rumor writes for later use (checkpoints, key files, model files, topologies)
 * goes to a temporary file next to its destination, is flushed to disk and renamed into
 * place, and the directory is flushed too. A crash, a kill or a full disk therefore leaves
 * either the previous file or the complete new one, never a torn one. */
#ifndef RUMOR_FILE_H
#define RUMOR_FILE_H

#include "rumor/err.h"

#include <stddef.h>

struct json_t; /* jansson's */

/* One piece of a file's contents; a file is written as the concatenation of its pieces. */
typedef struct {
    const void *data;
    size_t len;
} rumor_file_piece_t;

enum {
    RUMOR_FILE_KEEP = 1, /* refuse if path exists (checked atomically, not before writing) */
};

/* Writes the n pieces to path with permission bits mode (e.g. 0600, 0644; the umask does not
 * apply), atomically as above. flags is 0 (replace what is there) or RUMOR_FILE_KEEP. On
 * failure nothing at path has changed, no temporary file is left, and em names the path and
 * the cause; an existing path under RUMOR_FILE_KEEP is RUMOR_EINVAL "PATH: already exists;
 * use --force to replace it", a full disk (or quota) RUMOR_EDISKFULL "PATH: no space left on
 * device", any other failure RUMOR_EIO. */
RUMOR_NODISCARD int rumor_file_save(const char *path, unsigned mode, int flags,
                                    const rumor_file_piece_t *pieces, size_t n, rumor_errmsg_t *em);

/* The JSON text of j, as json_dumps(j, flags) writes it, for a file at path (or the output
 * that path names): into *out, malloc'd and '\0'-terminated, *len bytes without the '\0'.
 * Unlike json_dumps it never gives malformed text: jansson 2.14's dumper goes on when it
 * cannot write an object's key (out of memory), leaving the key out. Returns 0, or
 * RUMOR_ENOMEM "PATH: out of memory", also for a NULL j (a value jansson could not build) and
 * for what is the caller's bug (a cycle in j, or a j that is neither an array nor an object
 * without JSON_ENCODE_ANY); *out is then NULL. */
RUMOR_NODISCARD int rumor_file_json(const struct json_t *j, size_t flags, const char *path,
                                    char **out, size_t *len, rumor_errmsg_t *em);

/* 1 when the errno value err says a write failed for a full disk (or quota), else 0. */
int rumor_file_disk_full(int err);

/* Reads the whole file at path into *out (malloc'd, with a '\0' after the last byte, which
 * the length *len does not count). A file larger than max bytes is RUMOR_ERANGE and an
 * unreadable one RUMOR_EIO; em names the path. On failure *out is NULL. */
RUMOR_NODISCARD int rumor_file_read(const char *path, size_t max, char **out, size_t *len,
                                    rumor_errmsg_t *em);

/* A source of bytes for rumor_file_read_from: reads up to cap bytes into buf and sets *got,
 * 0 only at the end of the input. Returns 0, or a negative RUMOR_E* code with em filled. */
typedef int (*rumor_file_source_fn)(void *src, void *buf, size_t cap, size_t *got,
                                    rumor_errmsg_t *em);

/* rumor_file_read over any source of bytes (a decompressor, say): calls source(src, ...) until
 * it reports the end, with the same result, bound (max; SIZE_MAX for none) and messages
 * naming path; the source's own errors pass through. */
RUMOR_NODISCARD int rumor_file_read_from(const char *path, size_t max, rumor_file_source_fn source,
                                         void *src, char **out, size_t *len, rumor_errmsg_t *em);

/* Creates directory path with permission bits mode (less the umask) unless it exists already (its
 * parent must exist). Returns 0, or RUMOR_EIO with em naming the path and the cause. */
int rumor_file_mkdir(const char *path, unsigned mode, rumor_errmsg_t *em);

/* Checks, before a run, that rumor_file_save(path) can work at its end: path's directory
 * exists and is writable and path is not a directory. Creates nothing. Returns 0, or
 * RUMOR_EINVAL / RUMOR_EIO with em naming the path ("out/m.bin: directory out does not
 * exist", "m: is a directory"). */
int rumor_file_check_output(const char *path, rumor_errmsg_t *em);

/* The same for a directory that rumor_file_mkdir(path) is about to make or reuse: path is a
 * writable directory, or does not exist and its parent is one ("ck: not a directory"). */
int rumor_file_check_dir(const char *path, rumor_errmsg_t *em);

/* Removes what rumor_file_save(path) leaves behind when killed while writing: the files
 * "PATH.tmp.XXXXXX". Returns how many it removed. */
int rumor_file_remove_stale(const char *path);

/* The same for every file in directory dir and its subdirectories one level down ("*.tmp.XXXXXX"),
 * for a directory that one run owns. Returns how many it removed (a missing dir: 0). */
int rumor_file_remove_stale_in(const char *dir);

/* Writes the directory part of path into out ("." when there is none, "/" for a file in the
 * root), for resolving names relative to the file. Returns 0, or RUMOR_ENOSPC when it does
 * not fit in cap bytes. */
int rumor_file_dir(const char *path, char *out, size_t cap);

#endif
