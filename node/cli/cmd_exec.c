/*
 * `platelet _exec [--lease FD:SIGNAL:GRACE_MS] AGENT_PID COMMAND [ARGS...]`: internal, not
 * listed. The agent starts each supervised service through it so that the service dies
 * with the agent: an agent killed by SIGKILL must not leave an unsupervised copy holding
 * the service's port, for the restarted agent starts a fresh one. PR_SET_PDEATHSIG survives
 * execve; a parent that is already gone when it is set is caught by comparing getppid()
 * with AGENT_PID.
 *
 * With --lease (placed services, node/agent/placement.c) it first forks a lease keeper,
 * then execs the service as before, so the service keeps the pid, parent, process group,
 * exit status and signals the agent supervises. The keeper is the service's child and
 * dies with it (PR_SET_PDEATHSIG). It reads lease deadlines from the pipe FD: each a
 * native uint64_t, milliseconds on CLOCK_BOOTTIME, written by the agent while it holds
 * the placement lease (a pipe write of 8 bytes is atomic, so a record never tears). When
 * the newest deadline passes (the agent is paused, hung or dead and renews nothing), the
 * keeper sends SIGNAL to the service, and SIGKILL GRACE_MS later: a stopped agent's copy
 * ends before the majority's lease does (docs/ARCHITECTURE.md, "The lease keeper").
 * CLOCK_BOOTTIME, on a timerfd, because it counts a suspended machine too: the majority's
 * clocks ran on meanwhile.
 */
#include "cli.h"
#include "commands.h"
#include "pl_clock.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define CMD "platelet _exec"
#define RECORDS_READ_MAX 64

struct lease_opts {
    int fd;
    int stop_signal;
    uint64_t grace_ms;
};

static int parse_long(const char *s, long min, long max, long *out)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || errno != 0 || v < min || v > max)
        return -1;
    *out = v;
    return (int)(end - s);
}

/* FD:SIGNAL:GRACE_MS, three decimal numbers. */
static int parse_lease(const char *s, struct lease_opts *o)
{
    long fd, sig, grace;
    int n = parse_long(s, 3, 1023, &fd);
    if (n < 0 || s[n] != ':')
        return -1;
    s += n + 1;
    n = parse_long(s, 1, SIGRTMAX, &sig);
    if (n < 0 || s[n] != ':')
        return -1;
    s += n + 1;
    n = parse_long(s, 0, 3600000, &grace);
    if (n < 0 || s[n] != '\0')
        return -1;
    o->fd = (int)fd;
    o->stop_signal = (int)sig;
    o->grace_ms = (uint64_t)grace;
    return 0;
}

static void timer_arm(int tfd, uint64_t at_ms)
{
    struct itimerspec it;
    memset(&it, 0, sizeof(it));
    /* 0 would disarm the timer: a deadline at the clock's zero has long passed. */
    it.it_value.tv_sec = (time_t)(at_ms / 1000);
    it.it_value.tv_nsec = (long)(at_ms % 1000) * 1000000L + (at_ms == 0);
    timerfd_settime(tfd, TFD_TIMER_ABSTIME, &it, NULL);
}

/* Signals the service while it is still our parent: once it has died we are its orphan,
 * about to be killed by PR_SET_PDEATHSIG, and its pid may be someone else's later. */
static void signal_service(pid_t service, int sig)
{
    if (getppid() == service)
        kill(service, sig);
}

/* The keeper's life: wait for the newest deadline to pass, then stop the service. Never
 * returns; it ends when the service does (PR_SET_PDEATHSIG). */
static void __attribute__((noreturn)) keeper_run(const struct lease_opts *o, pid_t service)
{
    prctl(PR_SET_NAME, "platelet-lease");
    /* A terminal's ^C or hang-up reaches the whole process group; the keeper outlives
     * nothing but must not die before the service it guards. */
    signal(SIGINT, SIG_IGN);
    signal(SIGQUIT, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);
    close(STDIN_FILENO);
    close(STDOUT_FILENO);
    int tfd = timerfd_create(CLOCK_BOOTTIME, TFD_CLOEXEC);
    /* The agent wrote the first deadline before it started us: read it now. With no
     * timer or no first deadline, the lease is over at once (fail closed). */
    uint64_t deadline = 0;
    bool open = tfd >= 0;
    while (open) {
        uint64_t recs[RECORDS_READ_MAX];
        struct pollfd pf[2] = {{.fd = o->fd, .events = POLLIN}, {.fd = tfd, .events = POLLIN}};
        timer_arm(tfd, deadline);
        if (poll(pf, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        /* A renewal read first: the timer may have fired for the deadline it replaces. */
        if (!(pf[0].revents & (POLLIN | POLLHUP | POLLERR))) {
            if ((pf[1].revents & POLLIN) && pl_clock_boot_ms() >= deadline)
                break;
            continue;
        }
        ssize_t n = read(o->fd, recs, sizeof(recs));
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n <= 0) {
            /* The agent closed its end (it died): the last deadline stands. */
            close(o->fd);
            struct pollfd t = {.fd = tfd, .events = POLLIN};
            while (poll(&t, 1, -1) < 0 && errno == EINTR) {
            }
            break;
        }
        /* Whole records only (writes of 8 bytes are atomic); the newest is the agent's
         * latest word, later or earlier. */
        if (n >= (ssize_t)sizeof(uint64_t))
            deadline = recs[(size_t)n / sizeof(uint64_t) - 1];
    }
    uint64_t now = pl_clock_boot_ms();
    fprintf(stderr,
            "platelet _exec: placement lease over (deadline %" PRIu64 " ms ago, no renewal "
            "from the agent): signal %d to the service (pid %d), SIGKILL after %" PRIu64
            " ms\n",
            now > deadline ? now - deadline : 0, o->stop_signal, (int)service, o->grace_ms);
    signal_service(service, o->stop_signal);
    struct timespec g = {(time_t)(o->grace_ms / 1000), (long)(o->grace_ms % 1000) * 1000000L};
    while (nanosleep(&g, &g) != 0 && errno == EINTR) {
    }
    signal_service(service, SIGKILL);
    for (;;)
        pause();
}

/* Forks the lease keeper; the caller goes on to exec the service. */
static int keeper_start(const struct lease_opts *o)
{
    pid_t service = getpid();
    pid_t k = fork();
    if (k < 0) {
        fprintf(stderr, CMD ": cannot start the lease keeper: %s\n", strerror(errno));
        return -1;
    }
    if (k == 0) {
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != service)
            _exit(1); /* the service is gone already; nothing to guard */
        keeper_run(o, service);
    }
    close(o->fd);
    return 0;
}

int cmd_exec(int argc, char **argv)
{
    struct lease_opts lease = {.fd = -1};
    if (argc >= 2 && strcmp(argv[0], "--lease") == 0) {
        if (parse_lease(argv[1], &lease) != 0)
            return cli_fail(CMD, "--lease: expected FD:SIGNAL:GRACE_MS, got '%s'", argv[1]);
        argc -= 2;
        argv += 2;
    }
    if (argc < 2)
        return cli_fail(CMD, "usage: " CMD " [--lease FD:SIGNAL:GRACE_MS] AGENT_PID COMMAND "
                             "[ARGS...]");
    char *end = NULL;
    long agent = strtol(argv[0], &end, 10);
    if (end == argv[0] || *end != '\0' || agent <= 1)
        return cli_fail(CMD, "AGENT_PID: not a process id: '%s'", argv[0]);
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) {
        fprintf(stderr, CMD ": prctl: %s\n", strerror(errno));
        return 1;
    }
    if (getppid() != (pid_t)agent)
        return 1; /* the agent died before we could tie ourselves to it */
    /* No service without its keeper: a placed copy must not outlive a paused agent. */
    if (lease.fd >= 0 && keeper_start(&lease) != 0)
        return 1;
    execvp(argv[1], argv + 1);
    fprintf(stderr, CMD ": cannot run %s: %s\n", argv[1], strerror(errno));
    _exit(127); /* the shell's "command not found" */
}
