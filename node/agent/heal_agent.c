/*
 * The healing shell (heal_agent.h): libuv callbacks in, the machine's outputs carried out.
 *
 * Every fact about a service becomes one heal_input fed to the service's case through
 * feed(); pump() steps the machine, logs the new incident events, hands the record to the
 * incident writer, and queues the outputs behind that write: they run once the record is
 * durable (persist before act). Inputs that acting produces (a start that failed at once)
 * are queued and fed after the walk, in order, so the machine is never re-entered.
 *
 * The machine's clock is the wall clock at start plus the loop's monotonic time since, so
 * records carry wall times while a jump of the wall clock moves no deadline.
 */
#include "heal_agent.h"

#include "agent_gossip.h"
#include "agent_raft.h"
#include "heal_json.h"
#include "pl_assert.h"
#include "pl_clock.h"
#include "pl_err.h"
#include "pl_file.h"
#include "pl_log.h"
#include "prom.h"
#include "swarm_learn_heal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

extern char **environ;

#define MOD "heal"
#define TICK_MS 1000
#define LOG_CHUNK 65536
/* A changed config file becomes the known-good copy after this long healthy. */
#define CONFIG_ADOPT_MS 10000

static void check_timer_cb(uv_timer_t *t);
static void feed(struct heal_svc *s, const struct heal_input *in);

/* ---- small helpers ---- */

/* No new checks, actions or starts once the agent began to stop: the other modules stop
 * first (gossip announces its leave) while the services keep serving until heal_stop. */
static bool halting(const struct heal *h)
{
    return h->stopping || h->a->stopping;
}

static uint64_t now_ms(const struct heal *h)
{
    PL_UNUSED(h);
    return pl_clock_mono_ms();
}

uint64_t heal_now(const struct heal *h)
{
    return h->clock_wall0_ms + (now_ms(h) - h->clock_loop0_ms);
}

static uint64_t wall_ms(void)
{
    return pl_clock_wall_ms();
}

static void input_init(struct heal_input *in, enum heal_input_kind kind)
{
    memset(in, 0, sizeof(*in));
    in->kind = kind;
    in->signal.host_cpu = in->signal.host_memory = -1;
    in->signal.proc_cpu = in->signal.proc_memory_fraction = -1;
}

static bool proc_up(const struct heal_svc *s)
{
    return !s->cfg->supervised || s->mc.proc == HEAL_PROC_RUNNING;
}

/* ---- the rotating log of a supervised service ---- */

static void log_path(const struct heal_svc *s, int gen, char *out, size_t n)
{
    if (gen == 0)
        snprintf(out, n, "%s/%s.log", s->h->dir, s->cfg->name);
    else
        snprintf(out, n, "%s/%s.log.%d", s->h->dir, s->cfg->name, gen);
}

static void log_open(struct heal_svc *s)
{
    char path[PATH_MAX + 64];
    log_path(s, 0, path, sizeof(path));
    s->log_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    struct stat st;
    s->log_bytes = (s->log_fd >= 0 && fstat(s->log_fd, &st) == 0) ? (uint64_t)st.st_size : 0;
    if (s->log_fd < 0)
        PL_LOG_RATELIMITED(PL_LOG_WARN, MOD, "cannot open log service=%s path=%s err=%s",
                           s->cfg->name, path, strerror(errno));
}

static void log_rotate(struct heal_svc *s)
{
    if (s->log_fd >= 0)
        close(s->log_fd);
    s->log_fd = -1;
    char from[PATH_MAX + 64], to[PATH_MAX + 64];
    if (s->cfg->log_keep == 0) {
        log_path(s, 0, from, sizeof(from));
        unlink(from);
    }
    for (int g = (int)s->cfg->log_keep - 1; g >= 0; g--) {
        log_path(s, g, from, sizeof(from));
        log_path(s, g + 1, to, sizeof(to));
        rename(from, to); /* a missing generation is fine */
    }
    log_open(s);
}

static void log_write(struct heal_svc *s, const char *p, size_t n)
{
    /* A local file: a short blocking write is acceptable on the loop (the bytes are already
     * in memory and the page cache takes them). No file grows past max_bytes: a chunk that
     * does not fit is split across the rotation. */
    while (n > 0) {
        if (s->log_bytes >= s->cfg->log_max_bytes)
            log_rotate(s);
        if (s->log_fd < 0)
            return;
        size_t room = (size_t)(s->cfg->log_max_bytes - s->log_bytes);
        ssize_t w = write(s->log_fd, p, n < room ? n : room);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return;
        }
        p += w;
        n -= (size_t)w;
        s->log_bytes += (uint64_t)w;
    }
}

/* ---- one run of a supervised process ---- */

struct heal_run {
    struct heal_svc *svc; /* NULL once the service no longer cares */
    uv_process_t proc;
    uv_pipe_t out, err;
    int open;             /* handles not yet closed */
    struct heal_run *next;
    bool exited;
    /* A placed service's lease keeper (`platelet _exec --lease`): our end of its pipe
     * (-1: none), and the last deadline it was given (pl_clock_boot_ms). */
    int lease_fd;
    uint64_t lease_sent_ms;
};

static struct heal_run *runs_all; /* every run not yet freed, for the module's free() */

static void run_handle_closed(uv_handle_t *hd)
{
    struct heal_run *r = hd->data;
    if (--r->open > 0)
        return;
    for (struct heal_run **pp = &runs_all; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == r) {
            *pp = r->next;
            break;
        }
    }
    free(r);
}

static void pipe_alloc_cb(uv_handle_t *hd, size_t suggested, uv_buf_t *buf)
{
    (void)hd;
    (void)suggested;
    static char chunk[LOG_CHUNK];
    *buf = uv_buf_init(chunk, sizeof(chunk));
}

static void pipe_read_cb(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
    struct heal_run *r = st->data;
    if (n > 0 && r->svc != NULL) {
        log_write(r->svc, buf->base, (size_t)n);
        return;
    }
    if (n < 0 && !uv_is_closing((uv_handle_t *)st))
        uv_close((uv_handle_t *)st, run_handle_closed);
}

static void proc_exit_cb(uv_process_t *p, int64_t exit_status, int term_signal);

/* ---- the placement lease keeper (node/cli/cmd_exec.c) ---- */

/* The keeper's pipe for a new run of a placed service, its first deadline already in it
 * (the keeper reads it as it starts). fds[0] goes to the child as fd 3. */
static int lease_pipe_open(struct heal_svc *s, struct heal_run *r, int fds[2])
{
    if (pipe2(fds, O_CLOEXEC) != 0)
        return -errno;
    /* A keeper that does not read (stopped with the service) must not block the loop. */
    int fl = fcntl(fds[1], F_GETFL);
    uint64_t until = s->lease_until_ms;
    if (fl < 0 || fcntl(fds[1], F_SETFL, fl | O_NONBLOCK) != 0 ||
        write(fds[1], &until, sizeof(until)) != (ssize_t)sizeof(until)) {
        int err = -errno;
        close(fds[0]);
        close(fds[1]);
        return err;
    }
    r->lease_fd = fds[1];
    r->lease_sent_ms = until;
    return 0;
}

static void lease_close(struct heal_run *r)
{
    if (r->lease_fd >= 0)
        close(r->lease_fd);
    r->lease_fd = -1;
}

/* Hands the keeper of the running copy its new deadline. A keeper gone (EPIPE: killed by
 * someone) would let this copy outlive a pause of the agent: the copy is stopped, and the
 * healing machine starts it again with a new keeper. A full pipe (the keeper stopped
 * reading) keeps its older deadline, the safe way. */
static void lease_send(struct heal_svc *s)
{
    struct heal_run *r = s->run;
    if (r == NULL || r->lease_fd < 0)
        return;
    uint64_t until = s->lease_until_ms;
    ssize_t n = write(r->lease_fd, &until, sizeof(until));
    if (n == (ssize_t)sizeof(until)) {
        r->lease_sent_ms = until;
        return;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    PL_ERROR(MOD, "the lease keeper of service=%s pid=%d is gone (%s): stopping the service, "
             "which would outlive a pause of this agent", s->cfg->name, s->pid,
             n < 0 ? strerror(errno) : "short write");
    lease_close(r);
    if (s->pid > 0)
        uv_kill(s->pid, s->cfg->stop_signal);
}

/* A placed copy that exited after the deadline its keeper last had: the lease ended with
 * no renewal (the agent was paused, stalled, or cut off from the majority), and the keeper
 * stopped it, or it died when it had to stop anyway. No crash: placement holds it until
 * the lease holds again, so the healing machine neither opens an incident nor restarts it. */
static bool lease_ended(const struct heal_svc *s, const struct heal_run *r)
{
    return s->cfg->placement.enabled && s->placed_here && r->lease_fd >= 0 &&
           pl_clock_boot_ms() >= r->lease_sent_ms;
}

static char **build_env(const struct heal_argv *extra)
{
    size_t n = 0;
    while (environ[n] != NULL)
        n++;
    char **envp = calloc(n + (size_t)extra->n + 1, sizeof(char *));
    if (envp == NULL)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        /* The configured value wins over an inherited one of the same name. */
        const char *eq = strchr(environ[i], '=');
        size_t len = eq ? (size_t)(eq - environ[i]) : strlen(environ[i]);
        bool overridden = false;
        for (int j = 0; j < extra->n; j++)
            overridden |= strncmp(extra->v[j], environ[i], len) == 0 && extra->v[j][len] == '=';
        if (!overridden)
            envp[k++] = environ[i];
    }
    for (int j = 0; j < extra->n; j++)
        envp[k++] = extra->v[j];
    envp[k] = NULL;
    return envp;
}

/* What execvp will find for `file` with the PATH of `envp`: 0, -ENOENT or -EACCES, so that
 * a missing command is still refused when the service is started (it runs under `_exec`). */
static int command_check(const char *file, const char *cwd, char *const *envp)
{
    if (strchr(file, '/') != NULL) {
        char full[PATH_MAX + 256];
        if (file[0] != '/' && cwd[0] != '\0')
            snprintf(full, sizeof(full), "%s/%s", cwd, file);
        else
            snprintf(full, sizeof(full), "%s", file);
        return access(full, X_OK) == 0 ? 0 : -errno;
    }
    const char *path = "/usr/local/bin:/usr/bin:/bin";
    for (size_t i = 0; envp[i] != NULL; i++)
        if (strncmp(envp[i], "PATH=", 5) == 0)
            path = envp[i] + 5;
    int err = -ENOENT;
    for (;;) {
        size_t len = strcspn(path, ":");
        char full[PATH_MAX];
        snprintf(full, sizeof(full), "%.*s/%s", (int)(len ? len : 1), len ? path : ".", file);
        if (access(full, X_OK) == 0)
            return 0;
        if (errno == EACCES)
            err = -EACCES;
        if (path[len] == '\0')
            return err;
        path += len + 1;
    }
}

/* ---- feeding the machine, persisting, acting ---- */

static void act(struct heal_svc *s, const struct heal_output *o);
static void deadline_cb(uv_timer_t *t);

/* The host's context that diagnosis weighs (filled into every input that may open an
 * incident). */
static uint64_t mem_limit(const struct heal_svc *s)
{
    return s->cfg->policy.memory_limit_bytes ? s->cfg->policy.memory_limit_bytes
                                             : s->h->host_mem_total;
}

static uint32_t services_failing(const struct heal *h, const struct heal_svc *except)
{
    uint32_t n = 0;
    for (int i = 0; i < h->nsvcs; i++)
        if (&h->svcs[i] != except &&
            (heal_case_incident(&h->svcs[i].mc) != NULL || !h->svcs[i].mc.healthy))
            n++;
    return n;
}

static void add_context(struct heal_svc *s, struct heal_signal *sig)
{
    struct heal *h = s->h;
    sig->host_cpu = h->host_cpu;
    sig->host_memory = h->host_mem;
    uint64_t limit = mem_limit(s);
    sig->proc_memory_fraction = limit && s->rss_bytes ? (double)s->rss_bytes / (double)limit : -1;
    sig->proc_cpu = s->cpu;
    sig->services_failing = services_failing(h, s);
    sig->services_total = (uint32_t)h->nsvcs;
}

/* ---- the outbox: what this node did, carried to the council ---- */

#define OUTBOX_MAX 4096
#define OUTBOX_RETRY_MIN_MS 100
#define OUTBOX_RETRY_MAX_MS 5000

static void outbox_key(uint64_t seq, uint8_t key[8])
{
    pl_be64_put(key, seq);
}

/* An event of the record as a swarm `incident` step (swarm_incident_step_of). */
static int outbox_body(const struct heal_incident *inc, uint32_t i, struct pl_buf *out)
{
    struct swarm_incident_event b;
    swarm_incident_step_of(inc, i, &b);
    return swarm_incident_event_encode(&b, out);
}

static void outbox_pump(struct heal *h);

static void outbox_append(struct heal *h, struct heal_outbox_item *it)
{
    if (h->outbox_tail != NULL)
        h->outbox_tail->next = it;
    else
        h->outbox_head = it;
    h->outbox_tail = it;
    h->outbox_count++;
}

/* The record, and with it (in the same synced batch) the new steps for the outbox when the
 * node belongs to a council: nothing the node did is lost, even while there is no quorum. */
static void persist_from(struct heal_svc *s, const struct heal_incident *inc, uint32_t from)
{
    struct heal *h = s->h;
    if (h->writer == NULL)
        return;
    struct pl_buf rec, steps[HEAL_WRITER_SUBMIT_MAX - 1];
    struct heal_write w[HEAL_WRITER_SUBMIT_MAX];
    int n = 0, nsteps = 0;
    pl_buf_init(&rec, HEAL_INCIDENT_BYTES_MAX);
    int rc = heal_incident_encode(inc, &rec);
    w[n++] = (struct heal_write){.cf = PL_CF_INCIDENTS, .key = inc->id, .key_len = strlen(inc->id),
                                 .val = rec.data, .len = rec.len};
    uint8_t keys[HEAL_WRITER_SUBMIT_MAX - 1][8];
    /* The Raft module (a voter's council or a member's client) proposes them; it starts
     * after this module, and is up from the loop's first turn. */
    bool council = agent_module_state(h->a, "raft") != NULL;
    uint64_t first_seq = h->outbox_next_seq;
    for (uint32_t i = from; council && rc == 0 && i < inc->nevents && i < HEAL_TIMELINE_MAX &&
                            nsteps < HEAL_WRITER_SUBMIT_MAX - 1 &&
                            h->outbox_count + (uint64_t)nsteps < OUTBOX_MAX;
         i++) {
        pl_buf_init(&steps[nsteps], SWARM_BODY_BYTES_MAX);
        rc = outbox_body(inc, i, &steps[nsteps]);
        outbox_key(first_seq + (uint64_t)nsteps, keys[nsteps]);
        w[n++] = (struct heal_write){.cf = PL_CF_OUTBOX, .key = keys[nsteps], .key_len = 8,
                                     .val = steps[nsteps].data, .len = steps[nsteps].len};
        nsteps++;
    }
    uint64_t ticket = 0;
    if (rc == 0)
        rc = heal_writer_submit(h->writer, w, n, &ticket);
    if (rc == 0) {
        s->last_ticket = ticket;
        h->outbox_next_seq = first_seq + (uint64_t)nsteps;
        for (int i = 0; i < nsteps; i++) {
            struct heal_outbox_item *it = calloc(1, sizeof(*it));
            if (it == NULL)
                continue; /* on disk: the next start sends it */
            it->seq = first_seq + (uint64_t)i;
            it->body = pl_buf_steal(&steps[i], &it->len);
            outbox_append(h, it);
        }
    } else {
        /* Healing goes on without its record (a full disk must not stop it); said loudly. */
        PL_LOG_RATELIMITED(PL_LOG_ERROR, MOD, "cannot queue incident id=%s err=%s", inc->id,
                           pl_err_name(rc));
    }
    for (int i = 0; i < nsteps; i++)
        pl_buf_close(&steps[i]);
    pl_buf_close(&rec);
    if (nsteps > 0)
        outbox_pump(h);
}

static void persist(struct heal_svc *s, const struct heal_incident *inc)
{
    persist_from(s, inc, inc->nevents);
}

static void outbox_timer_cb(uv_timer_t *t)
{
    outbox_pump(t->data);
}

static void outbox_done_cb(void *data, int err, uint64_t index)
{
    struct heal *h = data;
    h->outbox_in_flight = false;
    if (h->stopping)
        return;
    struct heal_outbox_item *it = h->outbox_head;
    if (err != 0) {
        h->outbox_backoff_ms = h->outbox_backoff_ms ? PL_MIN(h->outbox_backoff_ms * 2,
                                                             OUTBOX_RETRY_MAX_MS)
                                                    : OUTBOX_RETRY_MIN_MS;
        PL_LOG_RATELIMITED(PL_LOG_INFO, MOD, "outbox: %" PRIu64 " step(s) wait for the council "
                           "(%s); again in %u ms", h->outbox_count, pl_err_name(err),
                           h->outbox_backoff_ms);
        uv_timer_start(&h->outbox_timer, outbox_timer_cb, h->outbox_backoff_ms, 0);
        return;
    }
    (void)index;
    h->outbox_backoff_ms = 0;
    if (it != NULL) {
        /* Committed: the swarm applies it once, so deleting later than this is harmless. */
        uint8_t key[8];
        outbox_key(it->seq, key);
        struct heal_write del = {.cf = PL_CF_OUTBOX, .key = key, .key_len = 8, .del = true};
        uint64_t ticket;
        if (h->writer != NULL && heal_writer_submit(h->writer, &del, 1, &ticket) != 0)
            PL_LOG_RATELIMITED(PL_LOG_WARN, MOD, "outbox: cannot delete a sent step (it is "
                               "sent again after a restart, and applied once)");
        h->outbox_head = it->next;
        if (h->outbox_head == NULL)
            h->outbox_tail = NULL;
        h->outbox_count--;
        free(it->body);
        free(it);
    }
    outbox_pump(h);
}

/* Proposes the outbox's oldest step through the council (one at a time, in order). */
static void outbox_pump(struct heal *h)
{
    if (h->outbox_in_flight || h->outbox_head == NULL || h->stopping ||
        uv_is_active((uv_handle_t *)&h->outbox_timer))
        return;
    struct agent_raft *ar = agent_module_state(h->a, "raft");
    if (ar == NULL)
        return;
    h->outbox_in_flight = true;
    int rc = agent_raft_propose(ar, swarm_kind_name(SWARM_K_INCIDENT), h->outbox_head->body,
                                h->outbox_head->len, outbox_done_cb, h);
    if (rc != 0)
        outbox_done_cb(h, rc, 0);
}

/* At start: what the last run left in the outbox is sent first, in order. */
static void outbox_load(struct heal *h)
{
    struct pl_store_iter it;
    pl_store_iter_init(h->store, &it, PL_CF_OUTBOX);
    for (pl_store_iter_seek_first(&it); pl_store_iter_valid(&it); pl_store_iter_next(&it)) {
        size_t klen, vlen;
        const uint8_t *k = pl_store_iter_key(&it, &klen);
        const uint8_t *v = pl_store_iter_value(&it, &vlen);
        struct heal_outbox_item *x = calloc(1, sizeof(*x));
        if (klen != 8 || x == NULL || (x->body = malloc(vlen ? vlen : 1)) == NULL) {
            free(x);
            continue;
        }
        x->seq = pl_be64_get(k);
        memcpy(x->body, v, vlen);
        x->len = vlen;
        outbox_append(h, x);
        h->outbox_next_seq = x->seq + 1;
    }
    pl_store_iter_close(&it);
    if (h->outbox_count > 0)
        PL_INFO(MOD, "outbox: %" PRIu64 " incident step(s) from the last run to send",
                h->outbox_count);
}

static void outbox_free(struct heal *h)
{
    while (h->outbox_head != NULL) {
        struct heal_outbox_item *x = h->outbox_head;
        h->outbox_head = x->next;
        free(x->body);
        free(x);
    }
    h->outbox_tail = NULL;
}

static void log_events(struct heal_svc *s, const struct heal_incident *inc, uint32_t from)
{
    for (uint32_t i = from; i < inc->nevents && i < HEAL_TIMELINE_MAX; i++) {
        const struct heal_event *e = &inc->events[i];
        PL_INFO(MOD, "incident %s service=%s id=%s action=%s result=%s %s",
                heal_event_kind_name(e->kind), s->cfg->name, inc->id, heal_action_name(e->action),
                e->result ? pl_err_name(e->result) : "ok", e->detail);
    }
}

static void arm_deadline(struct heal_svc *s, uint64_t deadline_ms)
{
    if (deadline_ms == 0 || halting(s->h)) {
        uv_timer_stop(&s->deadline);
        return;
    }
    uint64_t now = heal_now(s->h);
    uv_timer_start(&s->deadline, deadline_cb, deadline_ms > now ? deadline_ms - now : 0, 0);
}

/* Steps the machine through the queued inputs and runs the outputs whose record is
 * durable, until neither is left. */
static void pump(struct heal_svc *s)
{
    struct heal *h = s->h;
    if (s->pumping)
        return;
    s->pumping = true;
    for (;;) {
        uint64_t durable = h->writer != NULL ? heal_writer_done(h->writer) : UINT64_MAX;
        if (s->pend_count > 0 && s->pending[s->pend_head].ticket <= durable) {
            struct heal_output o = s->pending[s->pend_head].out;
            s->pend_head = (s->pend_head + 1) % HEAL_PENDING_MAX;
            s->pend_count--;
            if (!halting(h))
                act(s, &o);
            continue;
        }
        if (s->in_count == 0)
            break;
        struct heal_input in = s->inputs[s->in_head];
        s->in_head = (s->in_head + 1) % HEAL_INPUTS_QUEUED_MAX;
        s->in_count--;
        in.now_ms = heal_now(h);
        in.seq = ++h->seq;
        in.rand = pl_rand_next(&h->a->rand);
        in.learned = heal_learned_for(s);
        struct heal_outputs out;
        int rc = heal_step(&s->mc, &in, &out);
        if (rc != 0 && rc != PL_ESTATE)
            PL_LOG_RATELIMITED(PL_LOG_WARN, MOD, "service=%s input %s refused: %s", s->cfg->name,
                               heal_input_kind_name(in.kind), pl_err_name(rc));
        if (out.persist) {
            const struct heal_incident *inc = heal_case_last_incident(&s->mc);
            log_events(s, inc, out.first_event);
            heal_stats_count(h, inc, out.first_event);
            persist_from(s, inc, out.first_event);
        }
        for (int i = 0; i < out.n; i++) {
            if (s->pend_count == HEAL_PENDING_MAX) {
                /* The writer is stalled this long: act without waiting rather than stall
                 * healing (the record follows when the disk does). */
                PL_LOG_RATELIMITED(PL_LOG_ERROR, MOD, "service=%s acting before its record "
                                   "is durable: the incident writer is stalled", s->cfg->name);
                act(s, &s->pending[s->pend_head].out);
                s->pend_head = (s->pend_head + 1) % HEAL_PENDING_MAX;
                s->pend_count--;
            }
            int slot = (s->pend_head + s->pend_count) % HEAL_PENDING_MAX;
            s->pending[slot].out = out.v[i];
            s->pending[slot].ticket = s->last_ticket;
            s->pend_count++;
        }
        arm_deadline(s, out.deadline_ms);
    }
    s->pumping = false;
}

static void feed(struct heal_svc *s, const struct heal_input *in)
{
    if (halting(s->h))
        return;
    if (s->in_count == HEAL_INPUTS_QUEUED_MAX) {
        /* Each output produces at most one input: the bound holds unless a bug loops. */
        PL_NEVER(true);
        PL_LOG_RATELIMITED(PL_LOG_ERROR, MOD, "service=%s input queue full; dropped %s",
                           s->cfg->name, heal_input_kind_name(in->kind));
        return;
    }
    s->inputs[(s->in_head + s->in_count) % HEAL_INPUTS_QUEUED_MAX] = *in;
    s->in_count++;
    pump(s);
}

static void deadline_cb(uv_timer_t *t)
{
    struct heal_svc *s = t->data;
    struct heal_input in;
    input_init(&in, HEAL_IN_TIMER);
    feed(s, &in);
}

static void feed_signal(struct heal_svc *s, struct heal_signal *sig)
{
    struct heal_input in;
    input_init(&in, HEAL_IN_SIGNAL);
    add_context(s, sig);
    in.signal = *sig;
    feed(s, &in);
}

static void writer_done_cb(struct heal_writer *w, uint64_t ticket, int err, void *data)
{
    (void)w;
    (void)ticket;
    struct heal *h = data;
    if (err != 0)
        PL_LOG_RATELIMITED(PL_LOG_ERROR, MOD, "cannot write incident records: %s: %s "
                           "(healing goes on; the records are not durable)", pl_err_name(err),
                           pl_strerror(err));
    for (int i = 0; i < h->nsvcs; i++)
        pump(&h->svcs[i]);
}

static int spawn_run(struct heal_svc *s)
{
    struct heal *h = s->h;
    char **envp = build_env(&s->cfg->env);
    if (envp == NULL)
        return -ENOMEM;
    int rc = command_check(s->cfg->argv.v[0], s->cfg->cwd, envp);
    if (rc != 0) {
        free(envp);
        return rc;
    }
    struct heal_run *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        free(envp);
        return -ENOMEM;
    }
    r->svc = s;
    r->lease_fd = -1;
    /* platelet _exec [--lease 3:SIGNAL:GRACE_MS] AGENT_PID COMMAND ARGS...: the service
     * dies with this agent, and a placed one also when its lease is not renewed. */
    int lease_fds[2] = {-1, -1};
    char lease_arg[48];
    if (s->cfg->placement.enabled && (rc = lease_pipe_open(s, r, lease_fds)) != 0) {
        free(envp);
        free(r);
        return rc;
    }
    char agent_pid[24];
    snprintf(agent_pid, sizeof(agent_pid), "%d", (int)getpid());
    char *args[HEAL_ARGV_MAX + 6];
    int na = 0;
    args[na++] = "platelet";
    args[na++] = "_exec";
    if (lease_fds[0] >= 0) {
        snprintf(lease_arg, sizeof(lease_arg), "3:%d:%" PRIu64, s->cfg->stop_signal,
                 s->cfg->grace_ms);
        args[na++] = "--lease";
        args[na++] = lease_arg;
    }
    args[na++] = agent_pid;
    for (int i = 0; i < s->cfg->argv.n; i++)
        args[na++] = s->cfg->argv.v[i];
    args[na] = NULL;
    uv_pipe_init(&h->a->loop, &r->out, 0);
    uv_pipe_init(&h->a->loop, &r->err, 0);
    r->out.data = r->err.data = r->proc.data = r;
    uv_stdio_container_t stdio[4];
    stdio[0].flags = UV_IGNORE;
    stdio[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
    stdio[1].data.stream = (uv_stream_t *)&r->out;
    stdio[2].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
    stdio[2].data.stream = (uv_stream_t *)&r->err;
    stdio[3].flags = UV_INHERIT_FD;
    stdio[3].data.fd = lease_fds[0];
    uv_process_options_t o;
    memset(&o, 0, sizeof(o));
    o.file = "/proc/self/exe";
    o.args = args;
    o.env = envp;
    o.cwd = s->cfg->cwd[0] ? s->cfg->cwd : NULL;
    o.stdio = stdio;
    o.stdio_count = lease_fds[0] >= 0 ? 4 : 3;
    o.exit_cb = proc_exit_cb;
    rc = uv_spawn(&h->a->loop, &r->proc, &o);
    free(envp);
    if (lease_fds[0] >= 0)
        close(lease_fds[0]); /* the keeper's end is the child's now */
    r->next = runs_all;
    runs_all = r;
    if (rc != 0) {
        lease_close(r);
        /* libuv wants the process handle closed even after a failed spawn. */
        r->open = 3;
        r->svc = NULL;
        uv_close((uv_handle_t *)&r->proc, run_handle_closed);
        uv_close((uv_handle_t *)&r->out, run_handle_closed);
        uv_close((uv_handle_t *)&r->err, run_handle_closed);
        return rc;
    }
    r->open = 3;
    uv_read_start((uv_stream_t *)&r->out, pipe_alloc_cb, pipe_read_cb);
    uv_read_start((uv_stream_t *)&r->err, pipe_alloc_cb, pipe_read_cb);
    s->run = r;
    s->pid = r->proc.pid;
    s->proc_started_ms = now_ms(h);
    s->prev_cpu_ticks = 0;
    s->prev_cpu_ms = 0;
    s->cpu = -1;
    s->rss_bytes = 0;
    h->cmds_running++;
    /* A new process: old trends and counters describe someone else. */
    heal_trend_reset(&s->mem_trend);
    heal_rate_reset(&s->metrics.rate);
    s->metrics.have_prev_hist = false;
    for (int i = 0; i < s->nchecks; i++) {
        struct heal_check_rt *c = &s->checks[i];
        /* First judged start_ms after the process started. */
        if (uv_is_active((uv_handle_t *)&c->timer))
            uv_timer_start(&c->timer, check_timer_cb, s->cfg->start_ms, c->cfg->interval_ms);
    }
    return 0;
}

static void maybe_stop_done(struct heal *h);

static void proc_exit_cb(uv_process_t *p, int64_t exit_status, int term_signal)
{
    struct heal_run *r = p->data;
    struct heal_svc *s = r->svc;
    r->exited = true;
    uv_close((uv_handle_t *)p, run_handle_closed);
    if (s == NULL)
        return;
    struct heal *h = s->h;
    h->cmds_running--;
    s->run = NULL;
    s->pid = 0;
    s->last_exit_status = exit_status;
    s->last_term_signal = term_signal;
    PL_INFO(MOD, "process exited service=%s status=%" PRId64 " signal=%d", s->cfg->name,
            exit_status, term_signal);
    bool lease_over = lease_ended(s, r);
    lease_close(r);
    if (halting(h)) {
        maybe_stop_done(h);
        return;
    }
    struct heal_input in;
    if (lease_over) {
        uint64_t now = pl_clock_boot_ms();
        PL_WARN(MOD, "lease over: service=%s stopped by its lease keeper (no renewal for "
                "%" PRIu64 " ms past its deadline); placement starts it when the lease holds",
                s->cfg->name, now - r->lease_sent_ms);
        /* As placement's own stop: no crash, no restart, until placement says run. */
        s->placed_here = false;
        input_init(&in, HEAL_IN_STOP);
        feed(s, &in);
    }
    input_init(&in, HEAL_IN_EXITED);
    in.exit_status = term_signal ? -1 : exit_status;
    in.term_signal = term_signal;
    if (term_signal)
        snprintf(in.detail, sizeof(in.detail), "%s", strsignal(term_signal));
    add_context(s, &in.signal);
    feed(s, &in);
}

/* The agent's own shortage (descriptors, memory, processes) is no evidence against a
 * service: a check that could not even run says nothing about it. */
static bool agent_fault(int err)
{
    return err == UV_EMFILE || err == UV_ENFILE || err == UV_ENOMEM || err == UV_EAGAIN ||
           err == -ENOMEM;
}

static void act_start(struct heal_svc *s)
{
    struct heal_input in;
    int rc = spawn_run(s);
    if (rc != 0) {
        PL_ERROR(MOD, "cannot start service=%s command=%s err=%s", s->cfg->name,
                 s->cfg->argv.v[0], uv_strerror(rc));
        input_init(&in, HEAL_IN_START_FAILED);
        in.err = rc;
        snprintf(in.detail, sizeof(in.detail), "%s: %s", s->cfg->argv.v[0], uv_strerror(rc));
    } else {
        PL_INFO(MOD, "started service=%s pid=%d", s->cfg->name, s->pid);
        input_init(&in, HEAL_IN_STARTED);
        snprintf(in.detail, sizeof(in.detail), "pid %d", s->pid);
    }
    feed(s, &in);
}

static void act_signal(struct heal_svc *s, int sig, uint64_t grace_ms)
{
    if (s->pid <= 0)
        return;
    if (sig == SIGKILL)
        PL_WARN(MOD, "grace period over; SIGKILL service=%s pid=%d", s->cfg->name, s->pid);
    else
        PL_INFO(MOD, "stopping service=%s pid=%d signal=%d grace_ms=%" PRIu64, s->cfg->name,
                s->pid, sig, grace_ms);
    uv_kill(s->pid, sig);
}

/* ---- commands (exec checks and configured actions) ---- */

struct heal_cmd {
    uv_process_t proc;
    uv_timer_t timer;
    int open;
    bool done;
    void (*cb)(struct heal_cmd *c, int err, int64_t status, int term_signal);
    void *data;
    int extra;
    struct heal_cmd *next;
};

/* Every command not yet freed: a stop can end the loop with some still open, and the
 * agent then closes their handles without telling us. */
static struct heal_cmd *cmds_all;

static void cmd_closed(uv_handle_t *hd)
{
    struct heal_cmd *c = hd->data;
    if (--c->open > 0)
        return;
    for (struct heal_cmd **pp = &cmds_all; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    }
    free(c);
}

static void cmd_finish(struct heal_cmd *c, int err, int64_t status, int sig)
{
    if (c->done)
        return;
    c->done = true;
    uv_timer_stop(&c->timer);
    c->cb(c, err, status, sig);
}

static void cmd_exit_cb(uv_process_t *p, int64_t status, int sig)
{
    struct heal_cmd *c = p->data;
    uv_close((uv_handle_t *)&c->proc, cmd_closed);
    uv_close((uv_handle_t *)&c->timer, cmd_closed);
    cmd_finish(c, 0, status, sig);
}

static void cmd_timeout_cb(uv_timer_t *t)
{
    struct heal_cmd *c = t->data;
    uv_process_kill(&c->proc, SIGKILL);
    cmd_finish(c, PL_ETIMEOUT, -1, SIGKILL);
}

/* Runs argv with a timeout; cb runs exactly once unless this returns an error. */
static int cmd_run(struct heal *h, const struct heal_argv *argv, uint64_t timeout_ms,
                   void (*cb)(struct heal_cmd *, int, int64_t, int), void *data, int extra)
{
    struct heal_cmd *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return -ENOMEM;
    c->cb = cb;
    c->data = data;
    c->extra = extra;
    c->proc.data = c->timer.data = c;
    uv_process_options_t o;
    memset(&o, 0, sizeof(o));
    uv_stdio_container_t stdio[3] = {{.flags = UV_IGNORE}, {.flags = UV_IGNORE},
                                     {.flags = UV_IGNORE}};
    o.file = argv->v[0];
    o.args = (char **)argv->v;
    o.stdio = stdio;
    o.stdio_count = 3;
    o.exit_cb = cmd_exit_cb;
    uv_timer_init(&h->a->loop, &c->timer);
    int rc = uv_spawn(&h->a->loop, &c->proc, &o);
    c->open = 2;
    c->next = cmds_all;
    cmds_all = c;
    if (rc != 0) {
        c->done = true;
        uv_close((uv_handle_t *)&c->proc, cmd_closed);
        uv_close((uv_handle_t *)&c->timer, cmd_closed);
        return rc;
    }
    uv_timer_start(&c->timer, cmd_timeout_cb, timeout_ms, 0);
    return 0;
}

/* ---- checks ---- */

static void check_result(struct heal_check_rt *c, bool ok, enum heal_check_failure why,
                         uint64_t elapsed_ms, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void check_result(struct heal_check_rt *c, bool ok, enum heal_check_failure why,
                         uint64_t elapsed_ms, const char *fmt, ...)
{
    struct heal_svc *s = c->svc;
    struct heal *h = s->h;
    bool fault = c->agent_fault;
    c->in_flight = false;
    c->agent_fault = false;
    if (halting(h))
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->last_detail, sizeof(c->last_detail), fmt, ap);
    va_end(ap);
    c->last_ok = ok;
    if (!ok)
        c->last_failure = why;
    c->ever_ran = true;
    c->last_t_wall_ms = wall_ms();
    c->last_elapsed_ms = elapsed_ms;
    if (fault)
        PL_LOG_RATELIMITED(PL_LOG_WARN, MOD, "service=%s checks[%d] not run: %s (the agent's "
                           "own shortage, not counted against the service)", s->cfg->name,
                           c->index, c->last_detail);
    struct heal_input in;
    input_init(&in, HEAL_IN_CHECK);
    in.check = c->index;
    in.ok = ok;
    in.failure = ok ? HEAL_CHECKFAIL_NONE : why;
    in.agent_fault = fault;
    in.check_started_ms = h->clock_wall0_ms + (c->started_ms - h->clock_loop0_ms);
    snprintf(in.detail, sizeof(in.detail), "%s", c->last_detail);
    add_context(s, &in.signal);
    static const char *const types[] = {"http", "tcp", "exec"};
    snprintf(in.signal.ev.source, sizeof(in.signal.ev.source), "check:%s", types[c->cfg->type]);
    feed(s, &in);
}

static void http_check_cb(const struct http_client_result *res, void *data)
{
    struct heal_check_rt *c = data;
    if (res->err == -ECANCELED) {
        c->in_flight = false;
        return;
    }
    if (res->err != 0) {
        enum heal_check_failure why = res->err == PL_ETIMEOUT       ? HEAL_CHECKFAIL_TIMEOUT
                                      : res->err == -ECONNREFUSED ? HEAL_CHECKFAIL_REFUSED
                                                                  : HEAL_CHECKFAIL_OTHER;
        check_result(c, false, why, res->elapsed_ms, "%s %s: %s", c->cfg->method, c->cfg->url,
                     res->error[0] ? res->error : pl_strerror(res->err));
        return;
    }
    bool ok = res->status == c->cfg->status;
    /* 503 is the service's own word that it cannot serve for now: a signature of its own. */
    check_result(c, ok, res->status == 503 ? HEAL_CHECKFAIL_UNAVAILABLE : HEAL_CHECKFAIL_STATUS,
                 res->elapsed_ms, "%s %s: status %ld in %" PRIu64
                 " ms", c->cfg->method, c->cfg->url, res->status, res->elapsed_ms);
}

static void tcp_closed_cb(uv_handle_t *hd)
{
    struct heal_check_rt *c = hd->data;
    c->tcp_open = 0;
}

static void tcp_connect_cb(uv_connect_t *req, int status)
{
    struct heal_check_rt *c = req->data;
    uint64_t elapsed = now_ms(c->svc->h) - c->started_ms;
    if (!uv_is_closing((uv_handle_t *)&c->tcp))
        uv_close((uv_handle_t *)&c->tcp, tcp_closed_cb);
    if (!c->in_flight || status == UV_ECANCELED)
        return;
    uv_timer_stop(&c->deadline);
    if (status == 0)
        check_result(c, true, HEAL_CHECKFAIL_NONE, elapsed, "connected to %s:%d in %" PRIu64
                     " ms", c->cfg->host, c->cfg->port, elapsed);
    else
        check_result(c, false,
                     status == UV_ECONNREFUSED ? HEAL_CHECKFAIL_REFUSED : HEAL_CHECKFAIL_OTHER,
                     elapsed, "connect %s:%d: %s", c->cfg->host, c->cfg->port,
                     uv_strerror(status));
}

static void tcp_deadline_cb(uv_timer_t *t)
{
    struct heal_check_rt *c = t->data;
    if (!c->in_flight)
        return;
    if (c->tcp_open && !uv_is_closing((uv_handle_t *)&c->tcp))
        uv_close((uv_handle_t *)&c->tcp, tcp_closed_cb);
    check_result(c, false, HEAL_CHECKFAIL_TIMEOUT, c->cfg->timeout_ms,
                 "connect %s:%d: no answer in %" PRIu64 " ms", c->cfg->host, c->cfg->port,
                 c->cfg->timeout_ms);
}

static void exec_check_cb(struct heal_cmd *cmd, int err, int64_t status, int sig)
{
    struct heal_check_rt *c = cmd->data;
    uint64_t elapsed = now_ms(c->svc->h) - c->started_ms;
    if (err == PL_ETIMEOUT)
        check_result(c, false, HEAL_CHECKFAIL_TIMEOUT, elapsed, "%s: no exit in %" PRIu64 " ms",
                     c->cfg->command.v[0], c->cfg->timeout_ms);
    else if (sig != 0)
        check_result(c, false, HEAL_CHECKFAIL_OTHER, elapsed, "%s: killed by signal %d",
                     c->cfg->command.v[0], sig);
    else
        check_result(c, status == 0, HEAL_CHECKFAIL_STATUS, elapsed, "%s: exit status %" PRId64,
                     c->cfg->command.v[0], status);
}

static void check_timer_cb(uv_timer_t *t)
{
    struct heal_check_rt *c = t->data;
    struct heal_svc *s = c->svc;
    struct heal *h = s->h;
    if (halting(h) || c->in_flight)
        return;
    /* A supervised process that is down is the exit's business, not the check's; and a
     * process just started gets start_ms before it is judged. */
    if (s->cfg->supervised &&
        (!proc_up(s) || now_ms(h) - s->proc_started_ms < s->cfg->start_ms))
        return;
    c->started_ms = now_ms(h);
    c->in_flight = true;
    int rc = 0;
    switch (c->cfg->type) {
    case HEAL_CHECK_HTTP:
        rc = http_client_request(h->http, c->cfg->method, c->cfg->url, NULL, NULL, 0,
                                 c->cfg->timeout_ms, 65536, http_check_cb, c);
        break;
    case HEAL_CHECK_TCP: {
        if (c->tcp_open) {
            c->in_flight = false;
            return;
        }
        struct sockaddr_storage addr;
        rc = uv_ip4_addr(c->cfg->host, c->cfg->port, (struct sockaddr_in *)&addr);
        if (rc != 0)
            rc = uv_ip6_addr(c->cfg->host, c->cfg->port, (struct sockaddr_in6 *)&addr);
        if (rc != 0)
            break;
        rc = uv_tcp_init(&h->a->loop, &c->tcp);
        if (rc != 0)
            break;
        c->tcp.data = c;
        c->tcp_open = 1;
        c->connect.data = c;
        rc = uv_tcp_connect(&c->connect, &c->tcp, (struct sockaddr *)&addr, tcp_connect_cb);
        if (rc != 0) {
            uv_close((uv_handle_t *)&c->tcp, tcp_closed_cb);
            break;
        }
        uv_timer_start(&c->deadline, tcp_deadline_cb, c->cfg->timeout_ms, 0);
        break;
    }
    case HEAL_CHECK_EXEC:
        rc = cmd_run(h, &c->cfg->command, c->cfg->timeout_ms, exec_check_cb, c, 0);
        break;
    }
    if (rc != 0) {
        c->agent_fault = agent_fault(rc);
        check_result(c, false, HEAL_CHECKFAIL_OTHER, 0, "cannot run the check: %s",
                     rc < -1000 ? pl_strerror(rc) : uv_strerror(rc));
    }
}

/* ---- metrics ---- */

struct scrape {
    const struct heal_metrics_cfg *cfg;
    double requests, errors;
    bool have_requests, have_errors;
    double le[32], cum[32];
    int n;
    char err_name[HEAL_METRIC_NAME_MAX];
    char err_key[64], err_val[64];
    bool err_prefix;
};

/* "name" or "name{key=\"value\"}" (a value ending in '*' matches a prefix). */
static void split_selector(struct scrape *sc)
{
    const char *sel = sc->cfg->errors;
    const char *brace = strchr(sel, '{');
    size_t n = brace ? (size_t)(brace - sel) : strlen(sel);
    snprintf(sc->err_name, sizeof(sc->err_name), "%.*s", (int)n, sel);
    sc->err_key[0] = sc->err_val[0] = '\0';
    if (brace == NULL)
        return;
    const char *eq = strchr(brace, '=');
    if (eq == NULL)
        return;
    snprintf(sc->err_key, sizeof(sc->err_key), "%.*s", (int)(eq - brace - 1), brace + 1);
    const char *v = eq + 1;
    if (*v == '"')
        v++;
    size_t vl = strcspn(v, "\"}");
    snprintf(sc->err_val, sizeof(sc->err_val), "%.*s", (int)vl, v);
    size_t l = strlen(sc->err_val);
    sc->err_prefix = l > 0 && sc->err_val[l - 1] == '*';
    if (sc->err_prefix)
        sc->err_val[l - 1] = '\0';
}

static int scrape_sample_cb(const struct prom_sample *smp, void *data)
{
    struct scrape *sc = data;
    if (sc->cfg->requests[0] && strcmp(smp->name, sc->cfg->requests) == 0) {
        sc->requests += smp->value;
        sc->have_requests = true;
    }
    if (sc->err_name[0] && strcmp(smp->name, sc->err_name) == 0) {
        bool match = true;
        if (sc->err_key[0]) {
            char v[64];
            match = prom_label_get(smp->labels, sc->err_key, v, sizeof(v)) == 0 &&
                    (sc->err_prefix ? strncmp(v, sc->err_val, strlen(sc->err_val)) == 0
                                    : strcmp(v, sc->err_val) == 0);
        }
        if (match) {
            sc->errors += smp->value;
            sc->have_errors = true;
        }
    }
    if (sc->cfg->latency[0]) {
        size_t ln = strlen(sc->cfg->latency);
        if (strncmp(smp->name, sc->cfg->latency, ln) == 0 &&
            strcmp(smp->name + ln, "_bucket") == 0) {
            char le[32];
            if (prom_label_get(smp->labels, "le", le, sizeof(le)) != 0)
                return 0;
            double bound = strcmp(le, "+Inf") == 0 ? INFINITY : strtod(le, NULL);
            /* Sum the same bucket over all label sets (methods, codes). */
            for (int i = 0; i < sc->n; i++) {
                if (sc->le[i] == bound) {
                    sc->cum[i] += smp->value;
                    return 0;
                }
            }
            if (sc->n < 32) {
                sc->le[sc->n] = bound;
                sc->cum[sc->n] = smp->value;
                sc->n++;
            }
        }
    }
    return 0;
}

static void sort_buckets(struct scrape *sc)
{
    for (int i = 1; i < sc->n; i++)
        for (int j = i; j > 0 && sc->le[j - 1] > sc->le[j]; j--) {
            double t = sc->le[j];
            sc->le[j] = sc->le[j - 1];
            sc->le[j - 1] = t;
            t = sc->cum[j];
            sc->cum[j] = sc->cum[j - 1];
            sc->cum[j - 1] = t;
        }
}

static void metrics_cb(const struct http_client_result *res, void *data)
{
    struct heal_svc *s = data;
    struct heal_metrics_rt *m = &s->metrics;
    struct heal *h = s->h;
    m->in_flight = false;
    if (res->err == -ECANCELED || halting(h))
        return;
    if (res->err != 0 || res->status != 200) {
        snprintf(m->last_error, sizeof(m->last_error), "scrape %s: %s", s->cfg->metrics.url,
                 res->err ? (res->error[0] ? res->error : pl_strerror(res->err)) : "bad status");
        return;
    }
    struct scrape sc;
    memset(&sc, 0, sizeof(sc));
    sc.cfg = &s->cfg->metrics;
    split_selector(&sc);
    char perr[160];
    int rc = prom_parse(res->body, res->body_len, scrape_sample_cb, &sc, perr, sizeof(perr));
    if (rc != 0) {
        snprintf(m->last_error, sizeof(m->last_error), "scrape %s: %s", s->cfg->metrics.url, perr);
        return;
    }
    m->last_error[0] = '\0';
    uint64_t now = now_ms(h);
    const struct heal_policy *p = &s->cfg->policy;
    if (sc.have_requests) {
        m->last_requests = sc.requests;
        m->last_errors = sc.errors;
        struct heal_rate_verdict v;
        int fired = heal_rate_feed(&m->rate, now, sc.requests, sc.have_errors ? sc.errors : 0, &v);
        /* The rate over what the window holds, for `platelet services`. */
        if (m->rate.count >= 2) {
            uint32_t oldest = (m->rate.head + HEAL_WINDOW_MAX - m->rate.count) % HEAL_WINDOW_MAX;
            double dr = sc.requests - m->rate.ring[oldest].total;
            double de = (sc.have_errors ? sc.errors : 0) - m->rate.ring[oldest].errors;
            m->last_error_rate = dr > 0 ? de / dr : 0;
        }
        if (fired && proc_up(s)) {
            struct heal_signal sig;
            memset(&sig, 0, sizeof(sig));
            sig.kind = HEAL_SIG_ERROR_RATE;
            snprintf(sig.ev.source, sizeof(sig.ev.source), "metric");
            snprintf(sig.ev.metric, sizeof(sig.ev.metric), "error_rate");
            sig.ev.value = v.rate;
            sig.ev.threshold = p->error_rate;
            snprintf(sig.ev.detail, sizeof(sig.ev.detail),
                     "%.0f of %.0f requests failed (%.1f %%) over %.1f s (%s / %s)", v.errors,
                     v.requests, v.rate * 100, (double)v.span_ms / 1000.0, sc.err_name,
                     s->cfg->metrics.requests);
            feed_signal(s, &sig);
        }
    }
    if (sc.n > 0) {
        sort_buckets(&sc);
        double scale = strstr(s->cfg->metrics.latency, "seconds") != NULL ? 1000.0 : 1.0;
        double p95 = NAN;
        if (m->have_prev_hist && m->prev_n == sc.n) {
            double delta[32];
            bool reset = false;
            for (int i = 0; i < sc.n; i++) {
                delta[i] = sc.cum[i] - m->prev_cum[i];
                reset |= delta[i] < 0 || sc.le[i] != m->prev_le[i];
            }
            if (!reset)
                p95 = prom_histogram_quantile(0.95, sc.le, delta, sc.n) * scale;
        }
        memcpy(m->prev_le, sc.le, sizeof(sc.le));
        memcpy(m->prev_cum, sc.cum, sizeof(sc.cum));
        m->prev_n = sc.n;
        m->have_prev_hist = true;
        if (isfinite(p95)) {
            m->last_p95_ms = p95;
            struct heal_latency_verdict v;
            if (heal_latency_feed(&m->latency, now, p95, &v) && proc_up(s)) {
                struct heal_signal sig;
                memset(&sig, 0, sizeof(sig));
                sig.kind = HEAL_SIG_LATENCY;
                snprintf(sig.ev.source, sizeof(sig.ev.source), "metric");
                snprintf(sig.ev.metric, sizeof(sig.ev.metric), "p95_ms");
                sig.ev.value = v.p95_ms;
                sig.ev.threshold = v.bound_ms;
                snprintf(sig.ev.detail, sizeof(sig.ev.detail),
                         "p95 %.1f ms above %.1f ms (baseline %.1f ms) for %.1f s", v.p95_ms,
                         v.bound_ms, v.baseline_ms, (double)v.for_ms / 1000.0);
                feed_signal(s, &sig);
            }
        }
    }
}

static void metrics_timer_cb(uv_timer_t *t)
{
    struct heal_svc *s = t->data;
    struct heal *h = s->h;
    if (halting(h) || s->metrics.in_flight || !proc_up(s))
        return;
    s->metrics.in_flight = true;
    int rc = http_client_request(h->http, "GET", s->cfg->metrics.url, NULL, NULL, 0,
                                 s->cfg->metrics.timeout_ms, 4 << 20, metrics_cb, s);
    if (rc != 0)
        s->metrics.in_flight = false;
}

/* ---- /proc ---- */

static int read_file(const char *path, char *buf, size_t n)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t r = read(fd, buf, n - 1);
    int e = errno;
    close(fd);
    if (r < 0)
        return -e;
    buf[r] = '\0';
    return 0;
}

static void host_sample(struct heal *h)
{
    char buf[4096];
    if (read_file("/proc/stat", buf, sizeof(buf)) == 0) {
        unsigned long long v[10] = {0};
        if (sscanf(buf, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
                   &v[4], &v[5], &v[6], &v[7]) >= 5) {
            uint64_t total = 0;
            for (int i = 0; i < 8; i++)
                total += v[i];
            uint64_t idle = v[3] + v[4];
            uint64_t busy = total - idle;
            if (h->host_prev_total != 0 && total > h->host_prev_total)
                h->host_cpu = (double)(busy - h->host_prev_busy) /
                              (double)(total - h->host_prev_total);
            h->host_prev_busy = busy;
            h->host_prev_total = total;
        }
    }
    if (read_file("/proc/meminfo", buf, sizeof(buf)) == 0) {
        unsigned long long total = 0, avail = 0;
        char *p = strstr(buf, "MemTotal:");
        if (p)
            sscanf(p, "MemTotal: %llu", &total);
        p = strstr(buf, "MemAvailable:");
        if (p)
            sscanf(p, "MemAvailable: %llu", &avail);
        if (total > 0) {
            h->host_mem_total = total * 1024;
            h->host_mem = 1.0 - (double)avail / (double)total;
        }
    }
}

static void proc_sample(struct heal_svc *s, uint64_t now)
{
    if (s->pid <= 0 || !proc_up(s))
        return;
    char path[64], buf[2048];
    snprintf(path, sizeof(path), "/proc/%d/stat", s->pid);
    if (read_file(path, buf, sizeof(buf)) == 0) {
        /* Fields after the command name in parentheses; utime and stime are 14 and 15. */
        char *p = strrchr(buf, ')');
        unsigned long long ut = 0, st = 0;
        if (p != NULL &&
            sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) == 2) {
            uint64_t ticks = ut + st;
            long hz = sysconf(_SC_CLK_TCK);
            if (s->prev_cpu_ms != 0 && now > s->prev_cpu_ms && hz > 0)
                s->cpu = (double)(ticks - s->prev_cpu_ticks) / (double)hz /
                         ((double)(now - s->prev_cpu_ms) / 1000.0);
            s->prev_cpu_ticks = ticks;
            s->prev_cpu_ms = now;
        }
    }
    snprintf(path, sizeof(path), "/proc/%d/statm", s->pid);
    if (read_file(path, buf, sizeof(buf)) == 0) {
        unsigned long long size = 0, resident = 0;
        if (sscanf(buf, "%llu %llu", &size, &resident) == 2)
            s->rss_bytes = resident * (uint64_t)sysconf(_SC_PAGESIZE);
    }
}

static void resource_detect(struct heal_svc *s, uint64_t now)
{
    if (s->pid <= 0 || !proc_up(s) || heal_case_incident(&s->mc) != NULL)
        return;
    const struct heal_policy *p = &s->cfg->policy;
    uint64_t for_ms;
    struct heal_signal sig;
    if (s->cpu >= 0 && heal_sustain_feed(&s->cpu_sustain, now, s->cpu, &for_ms)) {
        memset(&sig, 0, sizeof(sig));
        sig.kind = HEAL_SIG_CPU;
        snprintf(sig.ev.source, sizeof(sig.ev.source), "process");
        snprintf(sig.ev.metric, sizeof(sig.ev.metric), "cpu");
        sig.ev.value = s->cpu;
        sig.ev.threshold = p->cpu;
        snprintf(sig.ev.detail, sizeof(sig.ev.detail), "CPU above %.0f %% for %.0f s (peak %.0f %%)",
                 p->cpu * 100, (double)for_ms / 1000.0, s->cpu_sustain.peak * 100);
        heal_sustain_init(&s->cpu_sustain, p->cpu, p->resource_window_ms);
        feed_signal(s, &sig);
        return;
    }
    uint64_t limit = mem_limit(s);
    if (limit == 0 || s->rss_bytes == 0)
        return;
    double frac = (double)s->rss_bytes / (double)limit;
    if (heal_sustain_feed(&s->mem_sustain, now, frac, &for_ms)) {
        memset(&sig, 0, sizeof(sig));
        sig.kind = HEAL_SIG_MEMORY;
        snprintf(sig.ev.source, sizeof(sig.ev.source), "process");
        snprintf(sig.ev.metric, sizeof(sig.ev.metric), "memory_fraction");
        sig.ev.value = frac;
        sig.ev.threshold = p->memory;
        snprintf(sig.ev.detail, sizeof(sig.ev.detail),
                 "RSS %" PRIu64 " MiB above %.0f %% of %" PRIu64 " MiB for %.0f s",
                 s->rss_bytes >> 20, p->memory * 100, limit >> 20, (double)for_ms / 1000.0);
        heal_sustain_init(&s->mem_sustain, p->memory, p->resource_window_ms);
        feed_signal(s, &sig);
        return;
    }
    heal_trend_add(&s->mem_trend, now, (double)s->rss_bytes);
    struct heal_trend_verdict v;
    if (heal_trend_eta(&s->mem_trend, now, (double)limit, &v) == 0 && v.eta_ms < p->horizon_ms) {
        memset(&sig, 0, sizeof(sig));
        sig.kind = HEAL_SIG_PREDICT_MEMORY;
        snprintf(sig.ev.source, sizeof(sig.ev.source), "process");
        snprintf(sig.ev.metric, sizeof(sig.ev.metric), "memory_eta_ms");
        sig.ev.value = (double)v.eta_ms;
        sig.ev.threshold = (double)p->horizon_ms;
        snprintf(sig.ev.detail, sizeof(sig.ev.detail),
                 "RSS %" PRIu64 " MiB growing %.2f MiB/s (r2 %.2f, %u samples): %" PRIu64
                 " MiB limit in %.1f s",
                 s->rss_bytes >> 20, v.slope_per_s / 1048576.0, v.r2, v.samples, limit >> 20,
                 (double)v.eta_ms / 1000.0);
        heal_trend_reset(&s->mem_trend);
        feed_signal(s, &sig);
    }
}

/* A file system filling up: the same least-squares trend on its used bytes. */
static void disk_detect(struct heal_svc *s, uint64_t now)
{
    if (s->cfg->disk_path[0] == '\0')
        return;
    struct statvfs st;
    if (statvfs(s->cfg->disk_path, &st) != 0 || st.f_blocks == 0)
        return;
    s->disk_total = (uint64_t)st.f_blocks * st.f_frsize;
    s->disk_used = (uint64_t)(st.f_blocks - st.f_bfree) * st.f_frsize;
    if (heal_case_incident(&s->mc) != NULL)
        return;
    heal_trend_add(&s->disk_trend, now, (double)s->disk_used);
    const struct heal_policy *p = &s->cfg->policy;
    struct heal_trend_verdict v;
    if (heal_trend_eta(&s->disk_trend, now, (double)s->disk_total, &v) != 0 ||
        v.eta_ms >= p->horizon_ms)
        return;
    struct heal_signal sig;
    memset(&sig, 0, sizeof(sig));
    sig.kind = HEAL_SIG_PREDICT_DISK;
    snprintf(sig.ev.source, sizeof(sig.ev.source), "host");
    snprintf(sig.ev.metric, sizeof(sig.ev.metric), "disk_eta_ms");
    sig.ev.value = (double)v.eta_ms;
    sig.ev.threshold = (double)p->horizon_ms;
    snprintf(sig.ev.detail, sizeof(sig.ev.detail),
             "%s: %" PRIu64 " of %" PRIu64 " MiB used, growing %.2f MiB/s (r2 %.2f): full in %.0f s",
             s->cfg->disk_path, s->disk_used >> 20, s->disk_total >> 20, v.slope_per_s / 1048576.0,
             v.r2, (double)v.eta_ms / 1000.0);
    heal_trend_reset(&s->disk_trend);
    feed_signal(s, &sig);
}

/* ---- config file: known-good copies by hash ---- */

static int file_hash(const char *path, char hex[65], uint8_t **data, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return -errno;
    struct pl_buf b;
    pl_buf_init(&b, 16 << 20);
    char chunk[8192];
    size_t n;
    int rc = 0;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        if ((rc = pl_buf_append(&b, chunk, n)) != 0)
            break;
    fclose(f);
    if (rc != 0) {
        pl_buf_close(&b);
        return rc;
    }
    uint8_t h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, b.data ? b.data : (const uint8_t *)"", b.len);
    sodium_bin2hex(hex, 65, h, sizeof(h));
    if (data != NULL) {
        *data = pl_buf_steal(&b, len);
    }
    pl_buf_close(&b);
    return 0;
}

static void good_copy_path(const struct heal_svc *s, const char *hash, char *out, size_t n)
{
    snprintf(out, n, "%s/%s.config.%s", s->h->dir, s->cfg->name, hash);
}

static void config_watch(struct heal_svc *s, uint64_t now)
{
    if (s->cfg->config_file[0] == '\0')
        return;
    /* Hash only what changed: reading and hashing the file every second stalls the loop
     * for nothing (size, inode and change time say whether it may have changed). */
    struct stat st;
    int st_rc = stat(s->cfg->config_file, &st);
    if (st_rc == 0 && s->file_stat_known &&
        st.st_size == s->file_size && st.st_ino == s->file_ino &&
        st.st_ctim.tv_sec == s->file_ctime.tv_sec && st.st_ctim.tv_nsec == s->file_ctime.tv_nsec &&
        s->file_seen_ms == 0)
        return;
    char hex[65];
    uint8_t *data = NULL;
    size_t len = 0;
    s->file_stat_known = false;
    if (file_hash(s->cfg->config_file, hex, &data, &len) != 0) {
        s->drifted = s->good_hash[0] != '\0';
        return;
    }
    if (strcmp(hex, s->good_hash) == 0) {
        s->drifted = false;
        s->file_seen_ms = 0;
        s->file_stat_known = st_rc == 0;
        s->file_size = st.st_size;
        s->file_ino = st.st_ino;
        s->file_ctime = st.st_ctim;
        free(data);
        return;
    }
    /* A new version: known-good once the service has run healthy with it for a while. */
    if (s->file_seen_ms == 0)
        s->file_seen_ms = now;
    bool adopt = s->good_hash[0] == '\0' ||
                 (s->mc.healthy && s->mc.healthy_since_ms <= s->file_seen_ms &&
                  now - s->file_seen_ms >= CONFIG_ADOPT_MS && heal_case_incident(&s->mc) == NULL);
    if (adopt) {
        char path[PATH_MAX + 128];
        good_copy_path(s, hex, path, sizeof(path));
        if (pl_file_write_atomic(path, data, len, 0600) == 0) {
            memcpy(s->good_hash, hex, sizeof(hex));
            s->drifted = false;
            s->file_seen_ms = 0;
            PL_INFO(MOD, "config known-good service=%s file=%s sha256=%s", s->cfg->name,
                    s->cfg->config_file, hex);
        }
    } else {
        s->drifted = true;
    }
    free(data);
}

static int config_sync(struct heal_svc *s, char *detail, size_t n)
{
    if (s->good_hash[0] == '\0') {
        snprintf(detail, n, "no known-good copy of %s", s->cfg->config_file);
        return PL_ENOTFOUND;
    }
    char hex[65] = "";
    if (file_hash(s->cfg->config_file, hex, NULL, NULL) == 0 && strcmp(hex, s->good_hash) == 0) {
        snprintf(detail, n, "%s already matches known-good sha256 %.12s", s->cfg->config_file,
                 hex);
        return 0;
    }
    char path[PATH_MAX + 128];
    good_copy_path(s, s->good_hash, path, sizeof(path));
    uint8_t *data = NULL;
    size_t len = 0;
    char got[65];
    int rc = file_hash(path, got, &data, &len);
    if (rc == 0 && strcmp(got, s->good_hash) != 0)
        rc = PL_ECORRUPT; /* the copy itself was damaged: never put back a wrong file */
    if (rc == 0)
        rc = pl_file_write_atomic(s->cfg->config_file, data, len, 0600);
    free(data);
    if (rc != 0) {
        snprintf(detail, n, "cannot restore %s from %s: %s", s->cfg->config_file, path,
                 pl_strerror(rc));
        return rc;
    }
    snprintf(detail, n, "restored %s to known-good sha256 %.12s (was %.12s)", s->cfg->config_file,
             s->good_hash, hex[0] ? hex : "missing");
    s->drifted = false;
    s->file_seen_ms = 0;
    return 0;
}

/* Tells the machine what the config watch found, when it changed. */
static void config_tell(struct heal_svc *s)
{
    bool good = s->good_hash[0] != '\0';
    if (s->drifted == s->told_drifted && good == s->told_good)
        return;
    s->told_drifted = s->drifted;
    s->told_good = good;
    struct heal_input in;
    input_init(&in, HEAL_IN_CONFIG);
    in.drifted = s->drifted;
    in.has_good_copy = good;
    feed(s, &in);
}

/* ---- escalation ---- */

/* One webhook delivery: of a service's incident (svc), or of a cluster incident. */
struct hook_ctx {
    struct heal_svc *svc; /* NULL for a cluster incident */
    char id[HEAL_INCIDENT_ID_MAX];
    char url[HEAL_URL_MAX];
};
_Static_assert(HEAL_INCIDENT_ID_MAX >= SWARM_ID_MAX, "hook_ctx holds cluster incident ids");

/* POSTs `doc` (deleted here) to every webhook whose min_level `level` reaches; `cb` gets
 * each delivery's hook_ctx and frees it. */
static void webhooks_post(struct heal *h, enum heal_level level, cJSON *doc,
                          struct heal_svc *svc, const char *id, http_client_cb cb)
{
    char *body = cJSON_PrintUnformatted(doc);
    cJSON_Delete(doc);
    for (int i = 0; body != NULL && i < h->cfg.nwebhooks; i++) {
        const struct heal_webhook_cfg *w = &h->cfg.webhooks[i];
        if (w->min_level > (int)level)
            continue;
        struct hook_ctx *x = calloc(1, sizeof(*x));
        if (x == NULL)
            continue;
        x->svc = svc;
        snprintf(x->id, sizeof(x->id), "%s", id);
        snprintf(x->url, sizeof(x->url), "%s", w->url);
        if (http_client_request(h->http, "POST", w->url, "application/json", body, strlen(body),
                                h->cfg.webhook_timeout_ms, 65536, cb, x) != 0)
            free(x);
    }
    free(body);
}

/* The delivery is a step of the incident too: told to the machine while the incident is
 * open, or appended to the stored record when it closed meanwhile. */
static void hook_cb(const struct http_client_result *res, void *data)
{
    struct hook_ctx *x = data;
    struct heal_svc *s = x->svc;
    bool ok = res->err == 0 && res->status >= 200 && res->status < 300;
    int32_t result = ok ? 0 : res->err != 0 ? res->err : PL_EPROTO;
    char detail[HEAL_TEXT_MAX];
    if (res->err != 0)
        snprintf(detail, sizeof(detail), "webhook %s: %s", x->url,
                 res->error[0] ? res->error : pl_strerror(res->err));
    else
        snprintf(detail, sizeof(detail), "webhook %s answered %ld", x->url, res->status);
    if (ok)
        PL_INFO(MOD, "webhook delivered id=%s url=%s status=%ld", x->id, x->url, res->status);
    else
        PL_WARN(MOD, "webhook failed id=%s %s", x->id, detail);
    const struct heal_incident *open = heal_case_incident(&s->mc);
    if (res->err == -ECANCELED || halting(s->h)) {
        /* The agent is stopping: nothing more is recorded. */
    } else if (open != NULL && strcmp(open->id, x->id) == 0) {
        struct heal_input in;
        input_init(&in, HEAL_IN_WEBHOOK);
        in.err = result;
        snprintf(in.detail, sizeof(in.detail), "%s", detail);
        feed(s, &in);
    } else {
        struct heal_incident *inc = malloc(sizeof(*inc));
        if (inc != NULL && heal_incident_load(s->h, x->id, inc) == 0) {
            heal_incident_event(inc, heal_now(s->h), HEAL_EV_RESULT, HEAL_ACT_ESCALATE, result,
                                "%s", detail);
            persist(s, inc);
        }
        free(inc);
    }
    free(x);
}

static void act_webhook(struct heal_svc *s, enum heal_level level)
{
    struct heal *h = s->h;
    const struct heal_incident *inc = heal_case_last_incident(&s->mc);
    if (inc == NULL)
        return;
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddStringToObject(doc, "event", "escalation");
    cJSON_AddNumberToObject(doc, "level", level);
    cJSON_AddStringToObject(doc, "level_name", heal_level_name(level));
    /* Why: the detail of the escalation event the machine recorded with this output. */
    const char *reason = "";
    for (uint32_t i = inc->nevents; i-- > 0 && i < HEAL_TIMELINE_MAX;) {
        if (inc->events[i].kind == HEAL_EV_ESCALATED) {
            const char *d = inc->events[i].detail;
            const char *colon = strstr(d, "): ");
            reason = colon != NULL ? colon + 3 : d;
            break;
        }
    }
    cJSON_AddStringToObject(doc, "reason", reason);
    cJSON_AddStringToObject(doc, "node", h->a->cfg.name);
    cJSON_AddStringToObject(doc, "service", s->cfg->name);
    cJSON_AddItemToObject(doc, "incident", heal_incident_json(inc));
    webhooks_post(h, level, doc, s, inc->id, hook_cb);
}

/* ---- the cluster incident's one escalation ---- */

static void cluster_hook_cb(const struct http_client_result *res, void *data)
{
    struct hook_ctx *x = data;
    if (res->err == 0 && res->status >= 200 && res->status < 300)
        PL_INFO(MOD, "webhook delivered cluster_incident=%s url=%s status=%ld", x->id, x->url,
                res->status);
    else if (res->err != -ECANCELED)
        PL_WARN(MOD, "webhook failed cluster_incident=%s url=%s: %s", x->id, x->url,
                res->err != 0 ? pl_strerror(res->err) : "status not 2xx");
    free(x);
}

void heal_cluster_escalate(struct heal *h, const struct swarm_cluster_body *b)
{
    if (h == NULL || halting(h))
        return;
    enum heal_level level = HEAL_LEVEL_OPERATOR;
    PL_ERROR(MOD, "cluster incident %s: %s on %u of %u nodes (%s), cause %s: escalated once "
             "for the cluster (level %s); restarts are held", b->id, b->sig, b->nodes,
             b->members, b->detail, heal_cause_name((enum heal_cause)b->cause),
             heal_level_name(level));
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddStringToObject(doc, "event", "escalation");
    cJSON_AddNumberToObject(doc, "level", level);
    cJSON_AddStringToObject(doc, "level_name", heal_level_name(level));
    cJSON_AddStringToObject(doc, "reason", "the same failure on many nodes");
    cJSON_AddStringToObject(doc, "node", h->a->cfg.name);
    cJSON_AddStringToObject(doc, "service", b->service);
    cJSON *ci = cJSON_AddObjectToObject(doc, "cluster_incident");
    cJSON_AddStringToObject(ci, "id", b->id);
    cJSON_AddStringToObject(ci, "signature", b->sig);
    cJSON_AddStringToObject(ci, "cause", heal_cause_name((enum heal_cause)b->cause));
    cJSON_AddNumberToObject(ci, "nodes", b->nodes);
    cJSON_AddNumberToObject(ci, "members", b->members);
    cJSON_AddStringToObject(ci, "node_names", b->detail);
    webhooks_post(h, level, doc, NULL, b->id, cluster_hook_cb);
}

/* ---- configured commands as actions ---- */

static void action_cmd_cb(struct heal_cmd *c, int err, int64_t status, int sig)
{
    struct heal_svc *s = c->data;
    s->h->cmds_running--;
    struct heal_input in;
    input_init(&in, HEAL_IN_ACTION_DONE);
    in.action = (enum heal_action)c->extra;
    in.err = err != 0 ? err : (sig != 0 || status != 0) ? PL_ESTATE : 0;
    if (err != 0)
        snprintf(in.detail, sizeof(in.detail), "%s", pl_strerror(err));
    else if (sig != 0)
        snprintf(in.detail, sizeof(in.detail), "killed by signal %d", sig);
    else if (status != 0)
        snprintf(in.detail, sizeof(in.detail), "exit status %" PRId64, status);
    feed(s, &in);
}

static void act_run(struct heal_svc *s, enum heal_action a, uint64_t timeout_ms)
{
    const struct heal_argv *argv = a == HEAL_ACT_RESTART        ? &s->cfg->restart_cmd
                                   : a == HEAL_ACT_ISOLATE      ? &s->cfg->isolate_cmd
                                   : a == HEAL_ACT_SCALE        ? &s->cfg->scale_cmd
                                   : a == HEAL_ACT_CLEANUP      ? &s->cfg->cleanup_cmd
                                                                : &s->cfg->state_repair_cmd;
    s->h->cmds_running++;
    int rc = argv->n > 0 ? cmd_run(s->h, argv, timeout_ms, action_cmd_cb, s, a) : PL_ECONFIG;
    if (rc != 0) {
        struct heal_cmd failed = {.data = s, .extra = a};
        action_cmd_cb(&failed, rc, -1, 0);
    }
}

static void act_config_sync(struct heal_svc *s)
{
    struct heal_input in;
    input_init(&in, HEAL_IN_ACTION_DONE);
    in.action = HEAL_ACT_CONFIG_SYNC;
    in.err = config_sync(s, in.detail, sizeof(in.detail));
    config_tell(s);
    feed(s, &in);
}

/* Detectors' windows belong to the incident that just closed. */
static void reset_detectors(struct heal_svc *s)
{
    const struct heal_policy *p = &s->cfg->policy;
    heal_rate_reset(&s->metrics.rate);
    s->metrics.latency.anomalous = false;
    s->metrics.latency.anomalous_since_ms = 0;
    heal_sustain_init(&s->cpu_sustain, p->cpu, p->resource_window_ms);
    heal_sustain_init(&s->mem_sustain, p->memory, p->resource_window_ms);
    heal_trend_reset(&s->mem_trend);
    heal_trend_reset(&s->disk_trend);
}

/* One output of the machine, in the order it gave them, once its record is durable. */
static void act(struct heal_svc *s, const struct heal_output *o)
{
    switch (o->kind) {
    case HEAL_OUT_START:
        act_start(s);
        break;
    case HEAL_OUT_STOP:
        act_signal(s, o->signal, o->grace_ms);
        break;
    case HEAL_OUT_KILL:
        act_signal(s, SIGKILL, 0);
        break;
    case HEAL_OUT_RUN:
        act_run(s, o->action, o->timeout_ms);
        break;
    case HEAL_OUT_CONFIG_SYNC:
        act_config_sync(s);
        break;
    case HEAL_OUT_WEBHOOK:
        act_webhook(s, o->level);
        break;
    case HEAL_OUT_RESET_DETECTORS:
        reset_detectors(s);
        break;
    default:
        PL_NEVER(true);
        break;
    }
}

/* ---- operator stop and start (the API's POST) ---- */

int heal_service_control(struct heal *h, const char *name, bool stop, char *err, size_t err_size)
{
    for (int i = 0; i < h->nsvcs; i++) {
        struct heal_svc *s = &h->svcs[i];
        if (strcmp(s->cfg->name, name) != 0)
            continue;
        if (halting(h)) {
            snprintf(err, err_size, "the agent is stopping");
            return PL_ESTATE;
        }
        if (!stop && s->cfg->placement.enabled && !s->placed_here) {
            /* A second copy is what placement exists to prevent; where it is placed, an
             * operator may start again what an operator stopped. */
            snprintf(err, err_size, "%s is placed by the council: it runs where `platelet "
                                    "placement` says, and starts there by itself", name);
            return PL_ESTATE;
        }
        PL_INFO(MOD, "operator %s service=%s", stop ? "stop" : "start", name);
        struct heal_input in;
        input_init(&in, stop ? HEAL_IN_STOP : HEAL_IN_START);
        feed(s, &in);
        return 0;
    }
    snprintf(err, err_size, "no service %s", name);
    return PL_ENOTFOUND;
}

void heal_placed_lease(struct heal *h, int index, uint64_t until_ms)
{
    if (index < 0 || index >= h->nsvcs || !h->svcs[index].cfg->placement.enabled)
        return;
    struct heal_svc *s = &h->svcs[index];
    s->lease_until_ms = until_ms;
    lease_send(s);
}

int heal_placed_run(struct heal *h, int index, bool run)
{
    if (index < 0 || index >= h->nsvcs || !h->svcs[index].cfg->placement.enabled)
        return PL_ENOTFOUND;
    if (halting(h))
        return PL_ESTATE;
    struct heal_svc *s = &h->svcs[index];
    s->placed_here = run;
    struct heal_input in;
    input_init(&in, run ? HEAL_IN_START : HEAL_IN_STOP);
    feed(s, &in);
    return 0;
}

int heal_service_state(struct heal *h, const char *name, enum heal_proc *proc, bool *healthy)
{
    for (int i = 0; i < h->nsvcs; i++) {
        const struct heal_case *c = &h->svcs[i].mc;
        if (strcmp(h->svcs[i].cfg->name, name) != 0)
            continue;
        bool ran = true;
        for (int k = 0; k < c->cfg.nchecks; k++)
            ran = ran && c->check_ran[k];
        *proc = c->proc;
        *healthy = c->healthy && ran;
        return 0;
    }
    return PL_ENOTFOUND;
}

/* ---- approval (the API's POST) ---- */

int heal_approve(struct heal *h, const char *id, char *err, size_t err_size)
{
    for (int i = 0; i < h->nsvcs; i++) {
        struct heal_svc *s = &h->svcs[i];
        const struct heal_incident *inc = heal_case_incident(&s->mc);
        if (inc == NULL || strcmp(inc->id, id) != 0)
            continue;
        if (s->mc.phase != HEAL_PHASE_APPROVAL) {
            snprintf(err, err_size, "incident %s is not waiting for approval (it is %s)", id,
                     heal_phase_name(s->mc.phase));
            return PL_ESTATE;
        }
        struct heal_input in;
        input_init(&in, HEAL_IN_APPROVE);
        feed(s, &in);
        return 0;
    }
    static struct heal_incident inc;
    if (heal_incident_load(h, id, &inc) == 0) {
        snprintf(err, err_size, "incident %s is not waiting for approval (it is %s)", id,
                 heal_incident_state_name(inc.state));
        return PL_ESTATE;
    }
    snprintf(err, err_size, "no incident %s", id);
    return PL_ENOTFOUND;
}

int heal_incident_load(struct heal *h, const char *id, struct heal_incident *out)
{
    for (int i = 0; i < h->nsvcs; i++) {
        const struct heal_incident *inc = heal_case_last_incident(&h->svcs[i].mc);
        if (inc != NULL && strcmp(inc->id, id) == 0) {
            *out = *inc;
            return 0;
        }
    }
    if (h->store == NULL)
        return PL_ENOTFOUND;
    uint8_t *val = NULL;
    size_t len = 0;
    int rc = pl_store_get(h->store, PL_CF_INCIDENTS, id, strlen(id), &val, &len);
    if (rc != 0)
        return rc;
    rc = heal_incident_decode(val, len, out);
    free(val);
    return rc;
}

/* ---- the 1 s tick ---- */

static void launch(struct heal *h)
{
    h->launched = true;
    for (int i = 0; i < h->nsvcs; i++) {
        struct heal_svc *s = &h->svcs[i];
        config_watch(s, heal_now(h));
        config_tell(s);
        if (s->cfg->supervised)
            log_open(s);
        struct heal_input in;
        if (s->cfg->placement.enabled) {
            /* Held until the council places it here (placement.c): a node that comes back
             * learns the placement from the log before it starts anything. */
            input_init(&in, HEAL_IN_STOP);
            feed(s, &in);
        }
        input_init(&in, HEAL_IN_LAUNCH);
        feed(s, &in);
        for (int k = 0; k < s->nchecks; k++)
            uv_timer_start(&s->checks[k].timer, check_timer_cb, s->cfg->start_ms,
                           s->checks[k].cfg->interval_ms);
        if (s->cfg->metrics.enabled)
            uv_timer_start(&s->metrics.timer, metrics_timer_cb, s->cfg->metrics.interval_ms,
                           s->cfg->metrics.interval_ms);
    }
    PL_INFO(MOD, "started services=%d webhooks=%d", h->nsvcs, h->cfg.nwebhooks);
}

/* ---- correlated failures (swarm_correlate.h) ---- */

#define CORRELATE_MS 250
/* Baselines alone change all the time: republished at most this often. */
#define RECORD_REFRESH_MS 10000
/* While it shows a signature the record is published again this often (a new version, a
 * new broadcast): gossip's broadcasts are best effort, and a node that missed one must not
 * wait for push-pull to learn that the cluster fails together. */
#define RECORD_SIGS_REFRESH_MS 1000

static const char *checkfail_name(enum heal_check_failure f)
{
    switch (f) {
    case HEAL_CHECKFAIL_TIMEOUT:
        return "timeout";
    case HEAL_CHECKFAIL_REFUSED:
        return "refused";
    case HEAL_CHECKFAIL_STATUS:
        return "status";
    case HEAL_CHECKFAIL_UNAVAILABLE:
        return "unavailable";
    default:
        return "other";
    }
}

/* The signatures the service shows now: each failing check by how it fails (from the first
 * failed result, before the machine's threshold, so the cluster sees it early), and an open
 * incident set off by anything but a check. Each keeps the time it began. */
static bool svc_sigs_update(struct heal_svc *s)
{
    char now[HEAL_SVC_SIGS_MAX][SWARM_SIG_MAX];
    int n = 0;
    for (int k = 0; k < s->nchecks && n < HEAL_SVC_SIGS_MAX; k++) {
        const struct heal_check_rt *c = &s->checks[k];
        if (!c->ever_ran || c->last_ok || c->agent_fault)
            continue;
        snprintf(now[n], SWARM_SIG_MAX, "%.60s:check:%s", s->cfg->name,
                 checkfail_name(c->last_failure));
        bool dup = false;
        for (int i = 0; i < n && !dup; i++)
            dup = strcmp(now[i], now[n]) == 0;
        n += !dup;
    }
    const struct heal_incident *inc = heal_case_incident(&s->mc);
    /* Not an exit or a failed start: a process that is down comes back only by a start. */
    if (inc != NULL && n < HEAL_SVC_SIGS_MAX && inc->diag.signal != HEAL_SIG_CHECK &&
        inc->diag.signal != HEAL_SIG_NONE && inc->diag.signal != HEAL_SIG_EXIT &&
        inc->diag.signal != HEAL_SIG_START_FAILED)
        snprintf(now[n++], SWARM_SIG_MAX, "%.60s:%s", s->cfg->name,
                 heal_signal_name(inc->diag.signal));
    struct swarm_heal_sig next[HEAL_SVC_SIGS_MAX];
    bool changed = n != s->nsigs;
    for (int i = 0; i < n; i++) {
        memset(&next[i], 0, sizeof(next[i]));
        snprintf(next[i].sig, sizeof(next[i].sig), "%s", now[i]);
        snprintf(next[i].service, sizeof(next[i].service), "%s", s->cfg->name);
        next[i].since_ms = heal_now(s->h);
        bool found = false;
        for (int j = 0; j < s->nsigs && !found; j++) {
            if (strcmp(s->sigs[j].sig, now[i]) == 0) {
                next[i].since_ms = s->sigs[j].since_ms;
                found = true;
            }
        }
        changed |= !found;
    }
    memcpy(s->sigs, next, (size_t)n * sizeof(next[0]));
    s->nsigs = n;
    return changed;
}

static uint32_t clamp_u32(double v)
{
    return v <= 0 || v != v ? 0 : v >= 4e9 ? UINT32_MAX : (uint32_t)v;
}

/* Our heal record: per-service baselines and the signatures shown now. Published when a
 * signature comes or goes at once, else when the baselines moved, every RECORD_REFRESH_MS. */
static void record_publish(struct heal *h, struct agent_gossip *ag, bool sigs_changed)
{
    static uint64_t last_ms; /* one heal module per process */
    uint64_t now = now_ms(h);
    bool showing = false;
    for (int i = 0; i < h->nsvcs; i++)
        showing |= h->svcs[i].nsigs > 0;
    bool refresh = showing && now - last_ms >= RECORD_SIGS_REFRESH_MS;
    if (!sigs_changed && !refresh && h->record != NULL && now - last_ms < RECORD_REFRESH_MS)
        return;
    struct swarm_heal_record *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return;
    r->t_ms = heal_now(h);
    for (int i = 0; i < h->nsvcs; i++) {
        struct heal_svc *s = &h->svcs[i];
        if (r->nbase < SWARM_HEAL_BASE_MAX && strlen(s->cfg->name) < SWARM_NAME_MAX) {
            struct swarm_heal_base *b = &r->base[r->nbase++];
            snprintf(b->service, sizeof(b->service), "%s", s->cfg->name);
            double p95 = s->metrics.latency.baseline_ms > 0 ? s->metrics.latency.baseline_ms
                                                            : s->metrics.last_p95_ms;
            b->p95_ms = clamp_u32(p95);
            b->error_ppm = clamp_u32(s->metrics.last_error_rate * 1e6);
            b->cpu_permille = clamp_u32(s->cpu * 1000);
            b->rss_mb = clamp_u32((double)(s->rss_bytes >> 20));
        }
        for (int k = 0; k < s->nsigs && r->nsigs < SWARM_HEAL_SIGS_MAX; k++)
            if (strlen(s->sigs[k].service) < SWARM_NAME_MAX)
                r->sigs[r->nsigs++] = s->sigs[k];
    }
    /* What the record says, without its time: unchanged, nothing is published. */
    uint64_t t = r->t_ms;
    r->t_ms = 0;
    struct pl_buf content, b;
    pl_buf_init(&content, SWARM_HEAL_RECORD_BYTES_MAX);
    pl_buf_init(&b, SWARM_HEAL_RECORD_BYTES_MAX);
    int rc = swarm_heal_record_encode(r, &content);
    r->t_ms = t;
    if (rc == 0)
        rc = swarm_heal_record_encode(r, &b);
    free(r);
    if (rc == 0 && (h->record == NULL || refresh || h->record_len != content.len ||
                    memcmp(h->record, content.data, content.len) != 0) &&
        agent_gossip_state_set_bytes(ag, CORRELATE_RECORD_KEY, b.data, b.len) == 0) {
        free(h->record);
        h->record = content.data;
        h->record_len = content.len;
        content.data = NULL;
        last_ms = now;
    }
    pl_buf_close(&content);
    pl_buf_close(&b);
}

static void feed_hold(struct heal_svc *s, bool hold, const char *id)
{
    struct heal_input in;
    input_init(&in, HEAL_IN_HOLD);
    in.hold = hold;
    snprintf(in.detail, sizeof(in.detail), "%s", id);
    feed(s, &in);
}

static void correlate_cb(uv_timer_t *t)
{
    struct heal *h = t->data;
    struct agent_gossip *ag = agent_module_state(h->a, "gossip");
    if (halting(h) || !h->launched || ag == NULL)
        return;
    bool changed = false;
    for (int i = 0; i < h->nsvcs; i++)
        changed |= svc_sigs_update(&h->svcs[i]);
    record_publish(h, ag, changed);
    heal_learned_tick(h);
    const struct gossip *g = agent_gossip_core(ag);
    struct correlate_hit strict[CORRELATE_HITS_MAX], loose[CORRELATE_HITS_MAX];
    int ns, nl;
    swarm_correlate_scan(g, &h->cfg.correlate, strict, &ns, loose, &nl, CORRELATE_HITS_MAX,
                         &h->records_bad);
    for (int i = 0; i < h->nsvcs; i++) {
        struct heal_svc *s = &h->svcs[i];
        if (s->mc.cluster_hold) {
            /* Kept while the signature still stands on min_nodes (no flapping as nodes
             * recover one by one); lifted when it is gone. */
            bool still = false;
            for (int k = 0; k < nl && !still; k++)
                still = strcmp(loose[k].sig, s->mc.hold_id) == 0;
            if (!still) {
                PL_INFO(MOD, "service=%s the cluster no longer shows %s: hold lifted",
                        s->cfg->name, s->mc.hold_id);
                feed_hold(s, false, s->mc.hold_id);
            }
            continue;
        }
        for (int k = 0; k < ns; k++) {
            bool mine = false;
            for (int j = 0; j < s->nsigs && !mine; j++)
                mine = strcmp(s->sigs[j].sig, strict[k].sig) == 0;
            if (!mine || (s->mc.hold_spent && strcmp(s->mc.hold_id, strict[k].sig) == 0))
                continue;
            struct heal_input in;
            input_init(&in, HEAL_IN_HOLD);
            in.hold = true;
            in.cluster_cause = (enum heal_cause)strict[k].cause;
            in.signal.ev.value = strict[k].nodes;
            in.signal.ev.threshold = strict[k].members;
            snprintf(in.signal.ev.detail, sizeof(in.signal.ev.detail), "%s on %s",
                     strict[k].sig, strict[k].names);
            snprintf(in.detail, sizeof(in.detail), "%s", strict[k].sig);
            feed(s, &in);
            if (s->mc.cluster_hold) {
                h->holds++;
                PL_INFO(MOD, "service=%s %s on %u of %u nodes (%s): restarts held for the "
                        "cluster, %" PRIu64 " ms at most", s->cfg->name, strict[k].sig,
                        strict[k].nodes, strict[k].members, strict[k].names,
                        s->mc.cfg.policy.cluster_wait_ms);
            }
            break;
        }
    }
}

static void tick_cb(uv_timer_t *t)
{
    struct heal *h = t->data;
    if (halting(h))
        return;
    if (!h->launched) {
        launch(h);
        return;
    }
    uint64_t now = now_ms(h);
    /* Steps left by the last run, or waiting while the council module was not up yet. */
    outbox_pump(h);
    host_sample(h);
    for (int i = 0; i < h->nsvcs; i++) {
        struct heal_svc *s = &h->svcs[i];
        proc_sample(s, now);
        config_watch(s, heal_now(h));
        config_tell(s);
        resource_detect(s, now);
        disk_detect(s, now);
    }
}

/* ---- module lifecycle ---- */

/* Incidents left open by a previous run cannot be continued: their timers died with it. */
static void close_abandoned(struct heal *h)
{
    struct pl_store_iter it;
    pl_store_iter_init(h->store, &it, PL_CF_INCIDENTS);
    int n = 0;
    static struct heal_incident inc;
    for (pl_store_iter_seek_first(&it); pl_store_iter_valid(&it); pl_store_iter_next(&it)) {
        size_t len;
        const uint8_t *v = pl_store_iter_value(&it, &len);
        if (heal_incident_decode(v, len, &inc) != 0 || inc.state == HEAL_INC_CLOSED)
            continue;
        heal_incident_event(&inc, wall_ms(), HEAL_EV_NOTE, HEAL_ACT_NONE, 0,
                            "the agent restarted while this incident was open");
        heal_incident_close(&inc, wall_ms(), "abandoned");
        struct pl_buf b;
        pl_buf_init(&b, HEAL_INCIDENT_BYTES_MAX);
        if (heal_incident_encode(&inc, &b) == 0)
            pl_store_put(h->store, PL_CF_INCIDENTS, inc.id, strlen(inc.id), b.data, b.len);
        pl_buf_close(&b);
        n++;
    }
    pl_store_iter_close(&it);
    if (n > 0)
        PL_WARN(MOD, "closed %d incident(s) left open by the previous run", n);
}

/* The machine's view of a service, copied from its config. */
static void case_cfg(const struct heal *h, const struct heal_service_cfg *sc,
                     struct heal_case_cfg *out)
{
    memset(out, 0, sizeof(*out));
    snprintf(out->node, sizeof(out->node), "%s", h->a->cfg.name);
    snprintf(out->service, sizeof(out->service), "%s", sc->name);
    out->supervised = sc->supervised;
    out->caps = (struct heal_caps){
        .can_restart = sc->supervised || sc->restart_cmd.n > 0,
        .has_isolate = sc->isolate_cmd.n > 0,
        .has_scale = sc->scale_cmd.n > 0,
        .has_state_repair = sc->state_repair_cmd.n > 0,
        .has_cleanup = sc->cleanup_cmd.n > 0,
        .has_config_file = false, /* until a known-good copy exists (HEAL_IN_CONFIG) */
    };
    out->stop_signal = sc->stop_signal;
    out->grace_ms = sc->grace_ms;
    out->start_ms = sc->start_ms;
    out->verify_ms = sc->verify_ms;
    out->command_timeout_ms = PL_MAX(sc->grace_ms, 10000);
    out->nchecks = sc->nchecks;
    for (int i = 0; i < sc->nchecks; i++) {
        out->checks[i].failures = sc->checks[i].failures;
        out->checks[i].successes = sc->checks[i].successes;
        out->checks[i].kill_grace_ms = sc->checks[i].kill_grace_ms;
    }
    out->policy = sc->policy;
}

static void svc_init(struct heal *h, struct heal_svc *s, int index)
{
    uv_loop_t *loop = &h->a->loop;
    const struct heal_policy *p;
    s->h = h;
    s->index = index;
    s->cfg = &h->cfg.services[index];
    p = &s->cfg->policy;
    struct heal_case_cfg cc;
    case_cfg(h, s->cfg, &cc);
    heal_case_init(&s->mc, &cc);
    s->log_fd = -1;
    s->cpu = -1;
    uv_timer_init(loop, &s->deadline);
    s->deadline.data = s;
    heal_sustain_init(&s->cpu_sustain, p->cpu, p->resource_window_ms);
    heal_sustain_init(&s->mem_sustain, p->memory, p->resource_window_ms);
    heal_trend_init(&s->mem_trend, p->trend_window_ms, p->trend_min_samples, p->trend_min_r2);
    heal_trend_init(&s->disk_trend, p->trend_window_ms, p->trend_min_samples, p->trend_min_r2);
    heal_rate_init(&s->metrics.rate, p->error_window_ms, p->error_rate,
                   (double)p->error_min_requests);
    heal_latency_init(&s->metrics.latency, p->ewma_alpha, p->latency_factor, p->latency_ms,
                      p->latency_warmup, p->latency_window_ms);
    s->metrics.last_error_rate = -1;
    s->metrics.last_p95_ms = -1;
    uv_timer_init(loop, &s->metrics.timer);
    s->metrics.timer.data = s;
    s->nchecks = s->cfg->nchecks;
    for (int i = 0; i < s->nchecks; i++) {
        struct heal_check_rt *c = &s->checks[i];
        c->svc = s;
        c->cfg = &s->cfg->checks[i];
        c->index = i;
        uv_timer_init(loop, &c->timer);
        uv_timer_init(loop, &c->deadline);
        c->timer.data = c->deadline.data = c;
    }
}

int heal_agent_start(struct agent *a, void **state, char *err, size_t err_size)
{
    struct heal *h = calloc(1, sizeof(*h));
    if (h == NULL) {
        snprintf(err, err_size, "heal: out of memory");
        return -ENOMEM;
    }
    h->a = a;
    h->host_cpu = h->host_mem = -1;
    h->clock_wall0_ms = wall_ms();
    h->clock_loop0_ms = now_ms(h);
    heal_stats_init(&h->stats);
    int rc = heal_config_parse(a->cfg.root, a->cfg.source, &h->cfg, err, err_size);
    if (rc != 0)
        goto fail_free;
    snprintf(h->dir, sizeof(h->dir), "%s/heal", a->cfg.data_dir);
    if (mkdir(h->dir, 0700) != 0 && errno != EEXIST) {
        rc = -errno;
        snprintf(err, err_size, "heal: cannot create %s: %s", h->dir, strerror(errno));
        goto fail_config;
    }
    /* The agent opened the node's one RocksDB; incidents live in its `incidents` family. */
    h->store = a->store_open ? &a->store : NULL;
    if (h->store != NULL) {
        close_abandoned(h);
        outbox_load(h);
        rc = heal_writer_new(&a->loop, h->store, writer_done_cb, h, &h->writer);
        if (rc != 0) {
            snprintf(err, err_size, "heal: cannot start the incident writer: %s",
                     uv_strerror(rc));
            goto fail_config;
        }
    }
    rc = http_client_new(&a->loop, &h->http);
    if (rc != 0) {
        snprintf(err, err_size, "heal: cannot start the HTTP client: %s", pl_strerror(rc));
        goto fail_writer;
    }
    h->nsvcs = h->cfg.nservices;
    h->svcs = calloc((size_t)(h->nsvcs > 0 ? h->nsvcs : 1), sizeof(*h->svcs));
    if (h->svcs == NULL) {
        rc = -ENOMEM;
        snprintf(err, err_size, "heal: out of memory");
        goto fail_http;
    }
    /* Nothing below can fail: handles exist from here on and the agent closes them. */
    uv_timer_init(&a->loop, &h->tick);
    h->tick.data = h;
    uv_timer_init(&a->loop, &h->outbox_timer);
    h->outbox_timer.data = h;
    uv_timer_init(&a->loop, &h->correlate_timer);
    h->correlate_timer.data = h;
    host_sample(h);
    for (int i = 0; i < h->nsvcs; i++)
        svc_init(h, &h->svcs[i], i);
    /* The services start on the loop's first turn, once every module has started: a bad
     * config of a later module, or a port it cannot bind, then stops the agent before any
     * service was started. */
    uv_timer_start(&h->tick, tick_cb, 0, TICK_MS);
    uv_timer_start(&h->correlate_timer, correlate_cb, CORRELATE_MS, CORRELATE_MS);
    PL_INFO(MOD, "config checked services=%d webhooks=%d", h->nsvcs, h->cfg.nwebhooks);
    *state = h;
    return 0;

fail_http:
    http_client_free(h->http);
fail_writer:
    heal_writer_free(h->writer);
fail_config:
    heal_config_free(&h->cfg);
fail_free:
    free(h);
    return rc;
}

static void maybe_stop_done(struct heal *h)
{
    if (!h->stopping || h->stop_done == NULL)
        return;
    for (int i = 0; i < h->nsvcs; i++)
        if (h->svcs[i].pid > 0)
            return;
    void (*done)(struct agent *) = h->stop_done;
    h->stop_done = NULL;
    if (h->http != NULL) {
        http_client_free(h->http);
        h->http = NULL;
    }
    /* Every record queued so far reaches the disk before the agent closes the store. */
    heal_writer_stop(h->writer);
    PL_INFO(MOD, "stopped");
    done(h->a);
}

static void kill_timer_cb(uv_timer_t *t)
{
    struct heal_svc *s = t->data;
    if (s->pid > 0) {
        PL_WARN(MOD, "grace period over at stop; SIGKILL service=%s pid=%d", s->cfg->name,
                s->pid);
        uv_kill(s->pid, SIGKILL);
    }
}

void heal_agent_stop(struct agent *a, void *state, void (*done)(struct agent *a))
{
    (void)a;
    struct heal *h = state;
    h->stopping = true;
    h->stop_done = done;
    uv_timer_stop(&h->tick);
    uv_timer_stop(&h->outbox_timer);
    uv_timer_stop(&h->correlate_timer);
    for (int i = 0; i < h->nsvcs; i++) {
        struct heal_svc *s = &h->svcs[i];
        uv_timer_stop(&s->metrics.timer);
        for (int k = 0; k < s->nchecks; k++)
            uv_timer_stop(&s->checks[k].timer);
        /* The machine's deadline timer becomes the stop's SIGKILL timer. */
        uv_timer_stop(&s->deadline);
        if (s->pid > 0) {
            uv_kill(s->pid, s->cfg->stop_signal);
            uv_timer_start(&s->deadline, kill_timer_cb, s->cfg->grace_ms, 0);
        }
    }
    maybe_stop_done(h);
}

void heal_agent_free(struct agent *a, void *state)
{
    (void)a;
    struct heal *h = state;
    if (h == NULL)
        return;
    /* The loop has ended: every handle is closed, so what is left is plain memory. */
    while (runs_all != NULL) {
        struct heal_run *r = runs_all;
        runs_all = r->next;
        lease_close(r);
        free(r);
    }
    while (cmds_all != NULL) {
        struct heal_cmd *c = cmds_all;
        cmds_all = c->next;
        free(c);
    }
    heal_writer_free(h->writer);
    outbox_free(h);
    free(h->record);
    heal_learned_free(h);
    for (int i = 0; i < h->nsvcs; i++) {
        struct heal_svc *s = &h->svcs[i];
        /* Only when the agent failed after we started (no stop): leave no orphan behind. */
        if (s->pid > 0)
            kill(s->pid, SIGKILL);
        const struct heal_incident *open = heal_case_incident(&s->mc);
        if (open != NULL && h->store != NULL) {
            struct heal_incident *inc = malloc(sizeof(*inc));
            if (inc != NULL) {
                *inc = *open;
                heal_incident_event(inc, wall_ms(), HEAL_EV_NOTE, HEAL_ACT_NONE, 0,
                                    "the agent stopped while this incident was open");
                heal_incident_close(inc, wall_ms(), "abandoned");
                struct pl_buf b;
                pl_buf_init(&b, HEAL_INCIDENT_BYTES_MAX);
                if (heal_incident_encode(inc, &b) == 0)
                    pl_store_put(h->store, PL_CF_INCIDENTS, inc->id, strlen(inc->id), b.data,
                                 b.len);
                pl_buf_close(&b);
                free(inc);
            }
        }
        if (s->log_fd >= 0)
            close(s->log_fd);
    }
    free(h->svcs);
    heal_config_free(&h->cfg);
    free(h);
}
