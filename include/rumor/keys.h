/* rumor — CurveZMQ key pairs and the secret-key file.
 *
 * A node proves who it is with a Curve25519 key pair (CurveZMQ, via libzmq and libsodium).
 * Keys travel as Z85 text, 40 characters for 32 bytes. The public key goes into the topology
 * file (nodes[i].public_key); the secret key stays in a file only its owner can read.
 *
 * Secret-key file format (UTF-8 text, written by `rumor keygen`):
 *
 *   # rumor CurveZMQ key pair; keep this file private (mode 0600)
 *   public-key = rR4]e?kLw...   (40 Z85 characters)
 *   secret-key = D:)Q[IlAW...   (40 Z85 characters)
 *
 * Lines are `name = value`; blank lines and lines starting with '#' are ignored; spaces around
 * the '=' and at either end are optional. Both keys are required, each exactly once; any other
 * name is an error (Z85 itself may contain '#' and '=', but a value is everything after the
 * first '=', so that is unambiguous). The file is written atomically with mode 0600 (temporary
 * file in the same directory, fsync, rename), and loading refuses a file that group or others
 * can read or write, the way ssh does, because a leaked secret key lets anyone impersonate the
 * node to its neighbours.
 */
#ifndef RUMOR_KEYS_H
#define RUMOR_KEYS_H

#include "rumor/err.h"

#include <stddef.h>
#include <stdint.h>

#define RUMOR_KEY_Z85_LEN 40 /* characters of a 32-byte key in Z85 */

typedef struct {
    char public_key[RUMOR_KEY_Z85_LEN + 1]; /* Z85, NUL-terminated */
    char secret_key[RUMOR_KEY_Z85_LEN + 1]; /* Z85, NUL-terminated */
} rumor_keypair_t;

/* Generates a fresh key pair (zmq_curve_keypair). Returns 0, or RUMOR_EIO if libzmq was built
 * without CURVE support (em says so). */
int rumor_keys_generate(rumor_keypair_t *kp, rumor_errmsg_t *em);

/* 1 if s is a well-formed Z85 key (40 characters of the Z85 alphabet, each group of five
 * encoding 4 bytes), else 0. */
int rumor_keys_is_z85(const char *s);

/* NULL if s is a well-formed Z85 key, else why not, written into why (cap bytes) and
 * returned: "expected 40 Z85 characters, got 39", "... (character 7, '"', is not Z85)". The
 * reason quotes the offending character, so use it for public keys only. */
const char *rumor_keys_z85_problem(const char *s, char *why, size_t cap);

/* Derives the public key of a Z85 secret key (zmq_curve_public) into pub (41 bytes).
 * Returns 0 or RUMOR_EFORMAT if secret is not a Z85 key. */
int rumor_keys_public_of(const char *secret, char pub[RUMOR_KEY_Z85_LEN + 1]);

/* Writes kp to path in the format above, mode 0600, atomically. Unless `force`, refuses
 * (RUMOR_EINVAL, "key.sec: already exists; use --force to replace it") when path exists;
 * with `force` an existing file is replaced in one step. Returns 0 or a negative code with em
 * filled (RUMOR_EIO for file system errors, naming the path and the system error). */
int rumor_keys_save(const rumor_keypair_t *kp, const char *path, int force, rumor_errmsg_t *em);

/* Loads and checks a key file: permissions (RUMOR_EAUTH, "key.sec: permissions 0644 are too
 * open; run chmod 600 key.sec"), syntax (RUMOR_EFORMAT, "key.sec:3: expected 'name = value'"),
 * Z85 validity, and that the public key is the one derived from the secret key (RUMOR_EAUTH).
 * On failure *kp is cleared. */
RUMOR_NODISCARD int rumor_keys_load(const char *path, rumor_keypair_t *kp, rumor_errmsg_t *em);

/* Overwrites the key pair with zeros (in a way the compiler may not elide). */
void rumor_keys_wipe(rumor_keypair_t *kp);

#endif
