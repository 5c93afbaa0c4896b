/* rumor — error codes.
 *
 * Every fallible function returns 0 on success or a negative RUMOR_E* code. Failures caused
 * by input (files, peers, users) are reported through these codes, never by aborting;
 * broken invariants inside rumor itself abort through RUMOR_ASSERT with file and line.
 * Functions that parse untrusted bytes are marked RUMOR_NODISCARD.
 */
#ifndef RUMOR_ERR_H
#define RUMOR_ERR_H

#include <stdio.h>
#include <stdlib.h>

#define RUMOR_NODISCARD __attribute__((warn_unused_result))

enum {
    RUMOR_OK = 0,
    RUMOR_ENOMEM = -1,      /* allocation failed */
    RUMOR_EINVAL = -2,      /* invalid argument or configuration */
    RUMOR_EIO = -3,         /* a file or socket operation failed */
    RUMOR_EFORMAT = -4,     /* malformed input bytes (file, message) */
    RUMOR_ETRUNC = -5,      /* input ended early */
    RUMOR_ERANGE = -6,      /* a count or length exceeds its bound */
    RUMOR_ENOSPC = -7,      /* the caller's output buffer is too small */
    RUMOR_EVERSION = -8,    /* unsupported format or protocol version */
    RUMOR_EMISMATCH = -9,   /* peers disagree (topology, config, dimension) */
    RUMOR_ETIMEOUT = -10,   /* a deadline passed */
    RUMOR_EAUTH = -11,      /* authentication or key failure */
    RUMOR_EINTR = -12,      /* interrupted by a signal */
    RUMOR_ESTATE = -13,     /* operation not valid in the current state */
    RUMOR_ENONFINITE = -14, /* a message carries NaN or infinite values (a diverged model) */
    RUMOR_EDISKFULL = -15,  /* a file could not be written: no space left on device (or quota) */
    RUMOR_ELOWEST = RUMOR_EDISKFULL, /* the lowest code; codes from the wire are checked */
};

/* Name of an error code; never NULL. */
const char *rumor_strerror(int code);

/* A human-readable account of a failure: what was wrong and where
 * ("ring8.json: nodes[3].endpoint: expected a string"). Functions that read user or network
 * input take an optional rumor_errmsg_t * (NULL allowed) and fill it when they fail. */
typedef struct {
    char msg[512];
} rumor_errmsg_t;

/* Formats into em->msg when em is not NULL; returns code, so callers can write
 * `return rumor_errmsg_set(em, RUMOR_EFORMAT, "%s: ...", path);`. */
int rumor_errmsg_set(rumor_errmsg_t *em, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Invariant check that stays on in release builds. */
#define RUMOR_ASSERT(x)                                                                            \
    do {                                                                                           \
        if (!(x)) {                                                                                \
            fprintf(stderr, "rumor: %s:%d: assertion failed: %s\n", __FILE__, __LINE__, #x);       \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#endif
