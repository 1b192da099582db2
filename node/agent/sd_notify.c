/*
 * The systemd notify protocol of sd_notify.h: the datagram format is sd_notify(3)'s
 * ("KEY=VALUE" lines), sent on a fresh SOCK_DGRAM socket per message as libsystemd does,
 * so nothing stays open between states and a restarted systemd is simply reached anew.
 */
#include "sd_notify.h"

#include "pl_err.h"
#include "pl_log.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* "/path" or "@abstract" (the '@' stands for the leading NUL of an abstract name). */
static int addr_parse(const char *value, struct sockaddr_un *addr, socklen_t *len)
{
    size_t n = strlen(value);
    if (n < 2 || (value[0] != '/' && value[0] != '@') || n >= sizeof(addr->sun_path))
        return PL_ECONFIG;
    memset(addr, 0, sizeof(*addr));
    addr->sun_family = AF_UNIX;
    memcpy(addr->sun_path, value, n);
    if (value[0] == '@')
        addr->sun_path[0] = '\0';
    /* An abstract name is exactly its bytes; a path also carries its terminating NUL. */
    *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + (value[0] == '/'));
    return 0;
}

/* A decimal without sign, spaces or overflow; 0 on success. */
static int parse_u64(const char *text, uint64_t *out)
{
    if (text == NULL || text[0] < '0' || text[0] > '9')
        return -1;
    errno = 0;
    char *end = NULL;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno != 0 || *end != '\0')
        return -1;
    *out = v;
    return 0;
}

static void watchdog_parse(struct sd_notifier *n)
{
    const char *usec_text = getenv("WATCHDOG_USEC");
    const char *pid_text = getenv("WATCHDOG_PID");
    uint64_t usec = 0, pid = 0;
    if (usec_text == NULL) {
        snprintf(n->watchdog_why, sizeof(n->watchdog_why), "WATCHDOG_USEC not set");
        return;
    }
    if (parse_u64(usec_text, &usec) != 0 || usec == 0) {
        PL_WARN("agent", "systemd watchdog off: WATCHDOG_USEC=\"%s\" is not a positive integer",
                usec_text);
        snprintf(n->watchdog_why, sizeof(n->watchdog_why), "WATCHDOG_USEC malformed");
        return;
    }
    if (pid_text != NULL) {
        if (parse_u64(pid_text, &pid) != 0) {
            PL_WARN("agent", "systemd watchdog off: WATCHDOG_PID=\"%s\" is not a process id",
                    pid_text);
            snprintf(n->watchdog_why, sizeof(n->watchdog_why), "WATCHDOG_PID malformed");
            return;
        }
        /* The watchdog is meant for another process (a wrapper that exec'd us keeps the
         * pid, so this only happens when we were forked off one). */
        if (pid != (uint64_t)getpid()) {
            snprintf(n->watchdog_why, sizeof(n->watchdog_why),
                     "WATCHDOG_PID=%llu is another process", (unsigned long long)pid);
            return;
        }
    }
    /* Half the interval, as sd_watchdog_enabled(3) advises; at least 1 ms. */
    n->watchdog_ms = usec / 2000 > 0 ? usec / 2000 : 1;
}

int sd_notifier_init(struct sd_notifier *n, uv_loop_t *loop)
{
    memset(n, 0, sizeof(*n));
    const char *sock = getenv("NOTIFY_SOCKET");
    if (sock != NULL) {
        if (addr_parse(sock, &n->addr, &n->addr_len) == 0) {
            n->enabled = 1;
            snprintf(n->name, sizeof(n->name), "%s", sock);
            watchdog_parse(n);
        } else {
            PL_WARN("agent", "NOTIFY_SOCKET=\"%s\" ignored: expected an absolute path or "
                    "@abstract name shorter than %zu bytes", sock, sizeof(n->addr.sun_path));
        }
    }
    unsetenv("NOTIFY_SOCKET");
    unsetenv("WATCHDOG_USEC");
    unsetenv("WATCHDOG_PID");
    uv_timer_init(loop, &n->timer);
    uv_unref((uv_handle_t *)&n->timer); /* the watchdog never keeps the loop alive */
    n->timer.data = n;
    n->timer_init = 1;
    return 0;
}

int sd_notifier_send(struct sd_notifier *n, const char *state)
{
    if (!n->enabled)
        return 0;
    int rc = 0;
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        rc = -errno;
    else if (sendto(fd, state, strlen(state), MSG_NOSIGNAL, (const struct sockaddr *)&n->addr,
                    n->addr_len) < 0)
        rc = -errno;
    if (fd >= 0)
        close(fd);
    if (rc != 0) {
        n->send_failures++;
        PL_LOG_RATELIMITED(PL_LOG_WARN, "agent", "cannot notify systemd at %s: %s failures=%llu",
                           n->name, strerror(-rc), (unsigned long long)n->send_failures);
    }
    return rc;
}

static void watchdog_cb(uv_timer_t *t)
{
    sd_notifier_send(t->data, "WATCHDOG=1");
}

void sd_notifier_ready(struct sd_notifier *n, const char *status)
{
    if (!n->enabled)
        return;
    char msg[512];
    snprintf(msg, sizeof(msg), "READY=1\nSTATUS=%s", status);
    sd_notifier_send(n, msg);
    if (n->watchdog_ms > 0) {
        uv_timer_start(&n->timer, watchdog_cb, n->watchdog_ms, n->watchdog_ms);
        PL_INFO("agent", "told systemd we are ready socket=%s watchdog_ms=%llu", n->name,
                (unsigned long long)n->watchdog_ms);
    } else {
        PL_INFO("agent", "told systemd we are ready socket=%s watchdog=off (%s)", n->name,
                n->watchdog_why);
    }
}

void sd_notifier_stopping(struct sd_notifier *n)
{
    sd_notifier_send(n, "STOPPING=1\nSTATUS=stopping: leaving the cluster");
}

void sd_notifier_close(struct sd_notifier *n)
{
    if (n->timer_init && !uv_is_closing((uv_handle_t *)&n->timer))
        uv_close((uv_handle_t *)&n->timer, NULL);
    n->timer_init = 0;
}
