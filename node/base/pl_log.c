/*
 * The shell-side logger of pl_log.h: a text or JSON-lines writer on stderr.
 */
#include "pl_log.h"

#include "pl_err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static enum pl_log_level log_level = PL_LOG_INFO;
static int log_json;
static char log_node[64] = "-";

static const char *const level_names[] = {"TRACE", "DEBUG", "INFO", "WARN", "ERROR", "OFF"};

void pl_log_set_level(enum pl_log_level level) { log_level = level; }
enum pl_log_level pl_log_get_level(void) { return log_level; }
void pl_log_set_json(int on) { log_json = on; }

void pl_log_set_node(const char *name)
{
    snprintf(log_node, sizeof(log_node), "%s", name != NULL && name[0] ? name : "-");
}

int pl_log_level_parse(const char *text, enum pl_log_level *out)
{
    static const char *const lower[] = {"trace", "debug", "info", "warn", "error", "off"};
    for (int i = 0; i <= PL_LOG_OFF; i++) {
        if (strcmp(text, lower[i]) == 0) {
            *out = (enum pl_log_level)i;
            return 0;
        }
    }
    return PL_EMALFORMED;
}

int pl_ratelimit_ok(struct pl_ratelimit *rl, uint64_t now_ms, uint32_t burst, uint64_t window_ms)
{
    if (now_ms - rl->window_start_ms >= window_ms) {
        rl->window_start_ms = now_ms;
        rl->in_window = 0;
    }
    if (rl->in_window < burst) {
        rl->in_window++;
        return 1;
    }
    rl->suppressed++;
    return 0;
}

/* Writes `s` as the inside of a JSON string. */
static void json_escape(FILE *f, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
}

void pl_log(enum pl_log_level level, const char *mod, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);

    uint64_t now = pl_clock_wall_ms();
    time_t secs = (time_t)(now / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char stamp[32];
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);

    if (level > PL_LOG_OFF)
        level = PL_LOG_ERROR;
    flockfile(stderr);
    if (log_json) {
        fprintf(stderr, "{\"time\":\"%s.%03uZ\",\"level\":\"%s\",\"node\":\"", stamp,
                (unsigned)(now % 1000), level_names[level]);
        json_escape(stderr, log_node);
        fputs("\",\"mod\":\"", stderr);
        json_escape(stderr, mod);
        fputs("\",\"msg\":\"", stderr);
        json_escape(stderr, msg);
        fputs("\"}\n", stderr);
    } else {
        fprintf(stderr, "%s.%03uZ %s node=%s mod=%s %s\n", stamp, (unsigned)(now % 1000),
                level_names[level], log_node, mod, msg);
    }
    funlockfile(stderr);
}

_Noreturn void pl_assert_fail(const char *expr, const char *file, int line)
{
    fprintf(stderr, "platelet: assertion failed: %s (%s:%d) node=%s\n", expr, file, line,
            log_node);
    fflush(stderr);
    __builtin_trap();
}
