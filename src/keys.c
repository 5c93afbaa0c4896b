/* rumor — CurveZMQ key pairs and secret-key files (see keys.h for the format).
 *
 * Buffers that held a secret key are wiped with sodium_memzero before they are released.
 */
#include "rumor/keys.h"

#include "rumor/file.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#define S_FILE_MAX 4096 /* a key file is ~130 bytes; anything much larger is not one */

static const char s_z85_alphabet[] =
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    ".-:+=^!/*?&<>()[]{}@%$#";

const char *rumor_keys_z85_problem(const char *s, char *why, size_t cap)
{
    const size_t len = strlen(s);
    if (len != RUMOR_KEY_Z85_LEN) {
        snprintf(why, cap, "expected %d Z85 characters, got %zu", RUMOR_KEY_Z85_LEN, len);
        return why;
    }
    for (size_t g = 0; g < len; g += 5) {
        uint64_t v = 0;
        for (size_t k = g; k < g + 5; k++) {
            const char *pos = strchr(s_z85_alphabet, s[k]);
            if (!pos) {
                /* printable ASCII quoted, anything else (a control byte, a byte of UTF-8) as
                 * its value, so that the message stays readable text */
                const unsigned char c = (unsigned char)s[k];
                char shown[16];
                if (c >= ' ' && c <= '~')
                    snprintf(shown, sizeof shown, "'%c'", c);
                else
                    snprintf(shown, sizeof shown, "byte 0x%02x", c);
                snprintf(why, cap, "expected %d Z85 characters (character %zu, %s, is not Z85)",
                         RUMOR_KEY_Z85_LEN, k + 1, shown);
                sodium_memzero(shown, sizeof shown);
                return why;
            }
            v = v * 85 + (uint64_t)(pos - s_z85_alphabet);
        }
        /* Groups such as "#####" use only the alphabet but exceed 2^32 - 1. */
        if (v > UINT32_MAX) {
            snprintf(why, cap, "characters %zu-%zu do not encode 4 bytes (not a Z85 key)", g + 1,
                     g + 5);
            return why;
        }
    }
    return NULL;
}

int rumor_keys_is_z85(const char *s)
{
    if (!s) return 0;
    char why[128];
    const int ok = rumor_keys_z85_problem(s, why, sizeof why) == NULL;
    sodium_memzero(why, sizeof why); /* it may quote a character of a secret key */
    return ok;
}

void rumor_keys_wipe(rumor_keypair_t *kp)
{
    sodium_memzero(kp, sizeof *kp);
}

int rumor_keys_generate(rumor_keypair_t *kp, rumor_errmsg_t *em)
{
    memset(kp, 0, sizeof *kp);
    if (!zmq_has("curve") || zmq_curve_keypair(kp->public_key, kp->secret_key) != 0)
        return rumor_errmsg_set(em, RUMOR_EIO,
                                "cannot generate a CURVE key pair: libzmq was built without "
                                "CURVE support");
    return 0;
}

int rumor_keys_public_of(const char *secret, char pub[RUMOR_KEY_Z85_LEN + 1])
{
    if (!rumor_keys_is_z85(secret)) return RUMOR_EFORMAT;
    if (zmq_curve_public(pub, secret) != 0) return RUMOR_EFORMAT;
    return 0;
}

/* ---- saving ----------------------------------------------------------------------------- */

int rumor_keys_save(const rumor_keypair_t *kp, const char *path, int force, rumor_errmsg_t *em)
{
    char pub[RUMOR_KEY_Z85_LEN + 1];
    if (!rumor_keys_is_z85(kp->public_key) || rumor_keys_public_of(kp->secret_key, pub) != 0 ||
        strcmp(pub, kp->public_key) != 0)
        return rumor_errmsg_set(em, RUMOR_EINVAL, "%s: refusing to write an invalid key pair",
                                path);
    char text[256];
    const int len = snprintf(text, sizeof text,
                             "# rumor CurveZMQ key pair; keep this file private (mode 0600)\n"
                             "public-key = %s\nsecret-key = %s\n",
                             kp->public_key, kp->secret_key);
    RUMOR_ASSERT(len > 0 && (size_t)len < sizeof text);
    const rumor_file_piece_t piece = {text, (size_t)len};
    const int rc = rumor_file_save(path, 0600, force ? 0 : RUMOR_FILE_KEEP, &piece, 1, em);
    sodium_memzero(text, sizeof text);
    return rc;
}

/* ---- loading ---------------------------------------------------------------------------- */

static char *s_trim(char *s)
{
    while (*s == ' ' || *s == '\t' || *s == '\r') s++;
    char *e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r')) *--e = '\0';
    return s;
}

/* Parses the text of a key file (NUL-terminated, modified in place). */
static int s_parse(char *text, const char *path, rumor_keypair_t *kp, rumor_errmsg_t *em)
{
    int have_pub = 0, have_sec = 0;
    int lineno = 0;
    char *save = NULL;
    for (char *p = text; p; p = save) {
        char *nl = strchr(p, '\n');
        save = nl ? nl + 1 : NULL;
        if (nl) *nl = '\0';
        lineno++;
        char *line = s_trim(p);
        if (*line == '\0' || *line == '#') continue;
        char *eq = strchr(line, '=');
        if (!eq)
            return rumor_errmsg_set(em, RUMOR_EFORMAT, "%s:%d: expected 'name = value'", path,
                                    lineno);
        *eq = '\0';
        const char *name = s_trim(line);
        const char *value = s_trim(eq + 1);
        /* Z85 contains '=', so a damaged line can have one inside its key: accept only a
         * plain word as the name (and never echo what may be key material). */
        if (*name == '\0' || strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                          "0123456789-_") != strlen(name))
            return rumor_errmsg_set(em, RUMOR_EFORMAT, "%s:%d: expected 'name = value'", path,
                                    lineno);
        char *dst;
        int *seen;
        if (!strcmp(name, "public-key")) {
            dst = kp->public_key;
            seen = &have_pub;
        } else if (!strcmp(name, "secret-key")) {
            dst = kp->secret_key;
            seen = &have_sec;
        } else {
            return rumor_errmsg_set(em, RUMOR_EFORMAT,
                                    "%s:%d: unknown name '%.40s' (expected public-key or "
                                    "secret-key)",
                                    path, lineno, name);
        }
        if (*seen)
            return rumor_errmsg_set(em, RUMOR_EFORMAT, "%s:%d: %s given twice", path, lineno, name);
        if (!rumor_keys_is_z85(value))
            return rumor_errmsg_set(em, RUMOR_EFORMAT,
                                    "%s:%d: %s: expected %d Z85 characters, got %zu characters "
                                    "that are not a Z85 key",
                                    path, lineno, name, RUMOR_KEY_Z85_LEN, strlen(value));
        memcpy(dst, value, RUMOR_KEY_Z85_LEN + 1);
        *seen = 1;
    }
    if (!have_pub || !have_sec)
        return rumor_errmsg_set(em, RUMOR_EFORMAT, "%s: missing %s", path,
                                have_pub ? "secret-key" : "public-key");
    char derived[RUMOR_KEY_Z85_LEN + 1];
    if (rumor_keys_public_of(kp->secret_key, derived) != 0 || strcmp(derived, kp->public_key))
        return rumor_errmsg_set(em, RUMOR_EAUTH,
                                "%s: public-key does not belong to secret-key (the file is "
                                "corrupt or was edited; generate a new one with rumor keygen)",
                                path);
    return 0;
}

int rumor_keys_load(const char *path, rumor_keypair_t *kp, rumor_errmsg_t *em)
{
    memset(kp, 0, sizeof *kp);
    const int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return rumor_errmsg_set(em, RUMOR_EIO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return rumor_errmsg_set(em, RUMOR_EIO, "%s: not a regular file", path);
    }
    if (st.st_mode & 077) {
        close(fd);
        return rumor_errmsg_set(em, RUMOR_EAUTH,
                                "%s: permissions %04o are too open; run chmod 600 %s", path,
                                (unsigned)(st.st_mode & 07777), path);
    }
    if (st.st_size > S_FILE_MAX) {
        close(fd);
        return rumor_errmsg_set(em, RUMOR_EFORMAT, "%s: %lld bytes is too large for a key file",
                                path, (long long)st.st_size);
    }
    char text[S_FILE_MAX + 1];
    size_t len = 0;
    for (;;) {
        const ssize_t r = read(fd, text + len, S_FILE_MAX - len);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            const int e = errno;
            close(fd);
            sodium_memzero(text, len);
            return rumor_errmsg_set(em, RUMOR_EIO, "%s: cannot read: %s", path, strerror(e));
        }
        if (r == 0 || (len += (size_t)r) == S_FILE_MAX) break;
    }
    close(fd);
    int rc = 0;
    if (memchr(text, '\0', len))
        rc = rumor_errmsg_set(em, RUMOR_EFORMAT, "%s: not a text file", path);
    text[len] = '\0';
    if (rc == 0) rc = s_parse(text, path, kp, em);
    sodium_memzero(text, sizeof text);
    if (rc != 0) rumor_keys_wipe(kp);
    return rc;
}
