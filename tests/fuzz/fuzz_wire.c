/* libFuzzer target for frame parsing: arbitrary bytes must be either refused with a drop
 * reason or accepted as a frame whose fields are consistent with the bytes, never a crash,
 * out-of-bounds read or sanitizer report. An accepted frame must re-encode to exactly the
 * input bytes, and its HELLO, STATE or BYE payload must decode or be refused cleanly.
 *
 * Build with -DRUMOR_FUZZ=ON (clang) and run, for example:
 *   build-fuzz/fuzz_wire -max_total_time=60 tests/fuzz/corpus-run tests/fuzz/corpus/wire
 */
#include "rumor/wire.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_NODES       64
#define FUZZ_MAX_PAYLOAD (1u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rumor_wire_header_t h;
    const uint8_t *payload = NULL;
    rumor_wire_drop_t why = RUMOR_WIRE_DROP_COUNT;
    const int rc = rumor_wire_parse(data, size, FUZZ_NODES, FUZZ_MAX_PAYLOAD, &h, &payload, &why);
    if (rc != 0) {
        RUMOR_ASSERT(rc < 0 && why > RUMOR_WIRE_DROP_NONE && why < RUMOR_WIRE_DROP_COUNT);
        RUMOR_ASSERT(strcmp(rumor_wire_drop_name(why), "unknown") != 0);
        return 0;
    }
    RUMOR_ASSERT(why == RUMOR_WIRE_DROP_NONE);
    RUMOR_ASSERT(h.len == size - RUMOR_WIRE_HEADER_BYTES && h.len <= FUZZ_MAX_PAYLOAD);
    RUMOR_ASSERT(h.sender < FUZZ_NODES);
    RUMOR_ASSERT((h.len == 0) == (payload == NULL));

    uint8_t *again = malloc(size);
    RUMOR_ASSERT(again);
    size_t w = 0;
    RUMOR_ASSERT(rumor_wire_encode_frame(&h, payload, h.len, again, size, &w) == 0);
    RUMOR_ASSERT(w == size && memcmp(again, data, size) == 0);
    free(again);

    if (h.type == RUMOR_WIRE_HELLO) {
        rumor_wire_hello_t hello;
        RUMOR_ASSERT(rumor_wire_decode_hello(payload, h.len, &hello) == 0);
        char msg[160];
        rumor_wire_hello_explain(rumor_wire_hello_compare(&hello, &hello), &hello, &hello, msg,
                                 sizeof msg);
    } else if (h.type == RUMOR_WIRE_STATE) {
        const uint32_t d = (h.len - RUMOR_WIRE_STATE_HEADER) / 4;
        float *x = malloc(d ? (size_t)d * sizeof *x : 1);
        RUMOR_ASSERT(x);
        uint32_t round;
        const int src = rumor_wire_decode_state(payload, h.len, d, &round, x);
        RUMOR_ASSERT(src == 0 || src == RUMOR_EFORMAT || src == RUMOR_EMISMATCH);
        free(x);
    } else if (h.type == RUMOR_WIRE_BYE) {
        rumor_wire_bye_t bye;
        if (rumor_wire_decode_bye(payload, h.len, FUZZ_NODES, &bye) == 0)
            RUMOR_ASSERT(bye.origin < FUZZ_NODES && bye.code <= 0 && bye.code >= RUMOR_ELOWEST);
    }
    return 0;
}
