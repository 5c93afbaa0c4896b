/* rumor — libFuzzer target for key files and Z85 keys: `rumor peer --key` and `rumor keygen
 * --public` load any file they are given, and topology files carry public keys as Z85 text.
 *
 * Each input is used twice:
 *  - as a string (up to its first NUL byte) for the Z85 check: rumor_keys_z85_problem and
 *    rumor_keys_is_z85 agree; a refusal says why, in printable ASCII (and into a buffer too
 *    small for it, cut short); on 40-character strings the check agrees with libzmq's
 *    decoder: a key it accepts decodes and encodes back to the same text, a string it refuses
 *    does not decode;
 *  - as the whole of a key file (mode 0600) for rumor_keys_load: a failure leaves the pair
 *    cleared and says why; a success gives two Z85 keys, the public one derived from the
 *    secret one, that save and load back unchanged.
 *
 * Run: scripts/fuzz 60 fuzz_keys
 */
#include "rumor/keys.h"
#include "fuzz_text.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

/* The harness's scratch directory and its two files: the input and a saved copy. */
static struct {
    char dir[64], path[96], saved[96];
} s;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void s_cleanup(void)
{
    unlink(s.path);
    unlink(s.saved);
    rmdir(s.dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    snprintf(s.dir, sizeof s.dir, "/tmp/rumor_fuzz_keys_XXXXXX");
    if (!mkdtemp(s.dir)) abort();
    snprintf(s.path, sizeof s.path, "%s/node.key", s.dir);
    snprintf(s.saved, sizeof s.saved, "%s/saved.key", s.dir);
    atexit(s_cleanup);
    return 0;
}

static void s_z85(const char *text)
{
    char why[128], tiny[8];
    const char *problem = rumor_keys_z85_problem(text, why, sizeof why);
    RUMOR_ASSERT(problem == NULL || (problem == why && why[0] != '\0'));
    for (const char *c = problem; c && *c; c++) /* it quotes what it saw, but printably */
        RUMOR_ASSERT(*c >= ' ' && *c <= '~');
    RUMOR_ASSERT(rumor_keys_is_z85(text) == (problem == NULL));
    const char *short_problem = rumor_keys_z85_problem(text, tiny, sizeof tiny);
    RUMOR_ASSERT((short_problem == NULL) == (problem == NULL));
    RUMOR_ASSERT(!short_problem || strlen(tiny) == sizeof tiny - 1);
    if (strlen(text) != RUMOR_KEY_Z85_LEN) {
        RUMOR_ASSERT(problem != NULL);
        return;
    }
    uint8_t raw[32];
    const int decodes = zmq_z85_decode(raw, text) != NULL;
    RUMOR_ASSERT(decodes == (problem == NULL));
    if (!decodes) return;
    char again[RUMOR_KEY_Z85_LEN + 1];
    RUMOR_ASSERT(zmq_z85_encode(again, raw, sizeof raw) && strcmp(again, text) == 0);
}

static void s_write(const uint8_t *p, size_t n)
{
    const int fd = open(s.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) abort();
    if (n && write(fd, p, n) != (ssize_t)n) abort();
    if (close(fd)) abort();
}

static int s_cleared(const rumor_keypair_t *kp)
{
    const uint8_t *b = (const uint8_t *)kp;
    for (size_t i = 0; i < sizeof *kp; i++)
        if (b[i]) return 0;
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_text(data, size);
    if (!text) return 0;
    s_z85(text);
    free(text);

    s_write(data, size);
    rumor_keypair_t kp;
    memset(&kp, 0xa5, sizeof kp);
    rumor_errmsg_t em = {{0}};
    if (rumor_keys_load(s.path, &kp, &em) != 0) {
        RUMOR_ASSERT(s_cleared(&kp) && em.msg[0] != '\0');
        return 0;
    }
    RUMOR_ASSERT(rumor_keys_is_z85(kp.public_key) && rumor_keys_is_z85(kp.secret_key));
    char pub[RUMOR_KEY_Z85_LEN + 1];
    RUMOR_ASSERT(rumor_keys_public_of(kp.secret_key, pub) == 0 && !strcmp(pub, kp.public_key));
    rumor_keypair_t back;
    RUMOR_ASSERT(rumor_keys_save(&kp, s.saved, 1, NULL) == 0);
    RUMOR_ASSERT(rumor_keys_load(s.saved, &back, NULL) == 0);
    RUMOR_ASSERT(memcmp(&back, &kp, sizeof kp) == 0);
    return 0;
}
