/*
 * Logging for shells (cores never print; they emit through an injected tracer).
 *
 * One line per event: `2026-11-21T10:00:00.123Z INFO node=n1 mod=gossip msg key=value`,
 * or, with pl_log_set_json(1), one JSON object per line with the same fields.
 * Messages go to stderr. WARN lines can be rate-limited per call site with
 * PL_LOG_RATELIMITED so a flood of bad packets cannot flood the log.
 */
#ifndef PL_LOG_H
#define PL_LOG_H

#include "pl_clock.h"

#include <stdint.h>

enum pl_log_level { PL_LOG_TRACE, PL_LOG_DEBUG, PL_LOG_INFO, PL_LOG_WARN, PL_LOG_ERROR, PL_LOG_OFF };

void pl_log_set_level(enum pl_log_level level);
enum pl_log_level pl_log_get_level(void);
void pl_log_set_json(int on);
/* The node name put in every line; copied. */
void pl_log_set_node(const char *name);
/* Parses "trace".."error"/"off"; returns 0 or PL_EMALFORMED. */
int pl_log_level_parse(const char *text, enum pl_log_level *out);

/*
 * Writes one line. The message is printf-formatted and by convention reads
 * `what happened key=value key=value`; in JSON mode it is the "msg" member.
 */
void pl_log(enum pl_log_level level, const char *mod, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define PL_LOG(level, mod, ...)                 \
    do {                                        \
        if ((level) >= pl_log_get_level())      \
            pl_log((level), (mod), __VA_ARGS__); \
    } while (0)
#define PL_TRACE(mod, ...) PL_LOG(PL_LOG_TRACE, mod, __VA_ARGS__)
#define PL_DEBUGF(mod, ...) PL_LOG(PL_LOG_DEBUG, mod, __VA_ARGS__)
#define PL_INFO(mod, ...) PL_LOG(PL_LOG_INFO, mod, __VA_ARGS__)
#define PL_WARN(mod, ...) PL_LOG(PL_LOG_WARN, mod, __VA_ARGS__)
#define PL_ERROR(mod, ...) PL_LOG(PL_LOG_ERROR, mod, __VA_ARGS__)

/* A per-call-site limiter: at most `burst` lines per `window_ms`; counts what it drops. */
struct pl_ratelimit {
    uint64_t window_start_ms;
    uint32_t in_window;
    uint32_t suppressed;
};
/* Returns 1 when the caller may log now. */
int pl_ratelimit_ok(struct pl_ratelimit *rl, uint64_t now_ms, uint32_t burst, uint64_t window_ms);

#define PL_LOG_RATELIMITED(level, mod, ...)                                      \
    do {                                                                         \
        static struct pl_ratelimit pl_rl_;                                       \
        if ((level) >= pl_log_get_level() &&                                     \
            pl_ratelimit_ok(&pl_rl_, pl_clock_mono_ms(), 10, 10000))             \
            pl_log((level), (mod), __VA_ARGS__);                                 \
    } while (0)


#endif
