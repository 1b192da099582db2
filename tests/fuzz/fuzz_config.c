/*
 * libFuzzer target for the agent's config loader: any bytes either load (then validate,
 * and the loaded config must survive validation without crashing) or are refused with an
 * error line that names the source. Never a crash, never an empty error.
 */
#include "agent_config.h"
#include "pl_assert.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct agent_config cfg;
    agent_config_init(&cfg);
    char err[512] = "";
    int rc = agent_config_load_text(&cfg, "fuzz.json", (const char *)data, size, err, sizeof(err));
    if (rc != 0) {
        PL_ASSERT(err[0] != '\0');
        PL_ASSERT(strncmp(err, "fuzz.json", 9) == 0);
    } else {
        err[0] = '\0';
        if (agent_config_validate(&cfg, err, sizeof(err)) != 0)
            PL_ASSERT(err[0] != '\0');
    }
    agent_config_close(&cfg);
    return 0;
}
