/* rumor — what the files of the data module share; no other module includes this.
 *
 * data.c holds the dataset object, synthetic data and row gathering; data_gz.c reads files
 * through zlib; data_idx.c and data_libsvm.c are the two file readers.
 *
 * Files are untrusted. The readers never size an allocation from a header alone: buffers
 * grow as bytes actually arrive, so a header that claims four billion images costs no more
 * memory than the file really holds. Every failure returns a RUMOR_E* code and, through the
 * optional rumor_errmsg_t, names the file and what was wrong with it.
 *
 * Error codes used by the readers:
 *   RUMOR_EIO      the file cannot be opened or read (missing, a directory, I/O error)
 *   RUMOR_EFORMAT  bad magic, wrong dimension count, corrupt gzip data, image/label count
 *                  mismatch, zero images, trailing bytes, malformed LIBSVM text
 *   RUMOR_ETRUNC   the file ends before the data its header declares
 *   RUMOR_ERANGE   a value beyond its bound (IDX label >= 10, image too large, LIBSVM index
 *                  or value overflow, a dense matrix too large to hold)
 *   RUMOR_ENOMEM   allocation failed
 */
#ifndef RUMOR_DATA_INTERNAL_H
#define RUMOR_DATA_INTERNAL_H

#include "rumor/data.h"

#include <stddef.h>
#include <stdint.h>
#include <zlib.h>

#define RUMOR_DATA_MAX_FLOATS ((uint64_t)1 << 31) /* dense matrix bound: 8 GiB of floats */

/* Returns buf grown to hold at least need elements of elem bytes (capacity doubling from
 * first, never beyond limit), or NULL with buf untouched when that fails. */
void *rumor_data_grow(void *buf, size_t *cap, size_t need, size_t first, size_t limit, size_t elem);

/* Opens path for reading through zlib (a plain file passes through unchanged). Returns 0, or
 * RUMOR_EIO / RUMOR_ENOMEM with em naming the path. */
int rumor_data_gz_open(const char *path, gzFile *out, rumor_errmsg_t *em);

/* Reads up to len bytes into buf and sets *got. A short count means end of file, including
 * the end of a gzip stream that stops early (the caller reports that as truncation with its
 * own context). Returns 0 or an error for unreadable or corrupt input. */
int rumor_data_gz_read(gzFile gz, const char *path, void *buf, size_t len, size_t *got,
                       rumor_errmsg_t *em);

/* Reads the whole (possibly gzip-compressed) file at path into *out, malloc'd with a '\0'
 * after the *len bytes; a gzip stream cut short is RUMOR_ETRUNC. */
int rumor_data_gz_read_all(const char *path, char **out, size_t *len, rumor_errmsg_t *em);

#endif
