/*
 * libFuzzer target for incident records (heal_incident_decode): whatever the bytes, decoding
 * never crashes or over-allocates, and a record that decodes re-encodes to bytes that decode
 * to the same record and re-encode to the same bytes (the encoding is canonical, which the
 * Raft log and the ledger's leaf hashes rely on).
 */
#include "pl_assert.h"
#include "pl_buf.h"
#include "heal_incident.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct heal_incident a, b;
    if (heal_incident_decode(data, size, &a) != 0)
        return 0;
    struct pl_buf e1, e2;
    pl_buf_init(&e1, HEAL_INCIDENT_BYTES_MAX * 2);
    pl_buf_init(&e2, HEAL_INCIDENT_BYTES_MAX * 2);
    PL_ASSERT(heal_incident_encode(&a, &e1) == 0);
    PL_ASSERT(heal_incident_decode(e1.data, e1.len, &b) == 0);
    PL_ASSERT(heal_incident_encode(&b, &e2) == 0);
    PL_ASSERT(e1.len == e2.len && memcmp(e1.data, e2.data, e1.len) == 0);
    PL_ASSERT(strcmp(a.id, b.id) == 0 && a.nevents == b.nevents && a.state == b.state);
    pl_buf_close(&e1);
    pl_buf_close(&e2);
    return 0;
}
