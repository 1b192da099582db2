/*
 * The systemd notify protocol, spoken by the agent itself (no libsystemd): one datagram
 * per state change to the AF_UNIX socket named by $NOTIFY_SOCKET (a path, or an abstract
 * name written with a leading '@'), and WATCHDOG=1 from the loop every half of
 * $WATCHDOG_USEC while the loop turns, so a wedged loop gets the unit restarted.
 *
 * The agent sends READY=1 once its modules started (gossip listens, the store is open),
 * STOPPING=1 when a graceful stop begins. Without $NOTIFY_SOCKET every call is a no-op.
 * The variables are removed from the environment at init, so supervised services do not
 * inherit a socket that is not theirs (sd_notify(3)'s unset_environment).
 */
#ifndef PL_SD_NOTIFY_H
#define PL_SD_NOTIFY_H

#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <uv.h>

struct sd_notifier {
    int enabled;                 /* $NOTIFY_SOCKET named a usable socket */
    struct sockaddr_un addr;
    socklen_t addr_len;
    char name[sizeof(((struct sockaddr_un *)0)->sun_path) + 1]; /* as given, for logs */
    uint64_t watchdog_ms;        /* the ping period (half of $WATCHDOG_USEC); 0: off */
    char watchdog_why[96];       /* why the watchdog is off, for the ready log line */
    uv_timer_t timer;            /* the watchdog ping; unreferenced, closed by its owner */
    int timer_init;
    uint64_t send_failures;
};

/* Reads and clears $NOTIFY_SOCKET, $WATCHDOG_USEC and $WATCHDOG_PID. A malformed value
 * is logged (WARN) and turns that part off: the agent runs unsupervised rather than not at
 * all. Always returns 0; `n` is caller-owned and needs sd_notifier_close() after. */
int sd_notifier_init(struct sd_notifier *n, uv_loop_t *loop);

/* Sends one state ("READY=1\nSTATUS=..."). 0, or a negative errno (also counted). */
int sd_notifier_send(struct sd_notifier *n, const char *state);

/* READY=1 with a STATUS line, then the watchdog pings start. */
void sd_notifier_ready(struct sd_notifier *n, const char *status);

/* STOPPING=1; the watchdog keeps pinging while the loop turns. */
void sd_notifier_stopping(struct sd_notifier *n);

/* Stops and closes the watchdog timer (safe if a uv_walk already closed it). */
void sd_notifier_close(struct sd_notifier *n);

#endif
