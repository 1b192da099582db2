/*
 * The network of `platelet chaos run --netns` (chaos_netns.h): a bridge, one
 * namespace per agent, nftables tables for the nemeses, and the guard that
 * removes them all when the harness dies. Every change is made by ip(8) or
 * nft(8), run as child processes (inside a node's namespace by setns() in the
 * child), so the kernel sees what an operator's commands would do and the run's
 * own process never leaves the machine's namespace.
 */
#include "chaos_netns.h"

#include "pl_err.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define PREFIX "plch"
#define ID_HEX 6
#define LOCK_DIR "/run/platelet-chaos-netns"
#define LOCK_PATH LOCK_DIR "/lock"
#define OUT_MAX 4096

static int fail(char *err, size_t err_size, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(char *err, size_t err_size, int rc, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, err_size, fmt, ap);
  va_end(ap);
  return rc;
}

/* `name` on PATH, into out. */
static bool find_tool(const char *name, char *out, size_t size) {
  const char *path = getenv("PATH");
  char dirs[4096];
  snprintf(dirs, sizeof(dirs), "%s",
           path != NULL ? path : "/usr/sbin:/usr/bin:/sbin:/bin");
  for (char *save = NULL, *d = strtok_r(dirs, ":", &save); d != NULL;
       d = strtok_r(NULL, ":", &save)) {
    if ((size_t)snprintf(out, size, "%s/%s", d, name) < size &&
        access(out, X_OK) == 0)
      return true;
  }
  out[0] = '\0';
  return false;
}

/*
 * Runs argv[0] (a full path) with argv, inside the namespace at `netns` when
 * not NULL; its stdout and stderr into out (NUL-terminated, cut at `size`,
 * NULL-able). 0 when it exits 0, else PL_ESTATE (-errno when it cannot start).
 */
static int run(const char *netns, char *const argv[], char *out, size_t size) {
  int nsfd = -1, p[2];
  if (netns != NULL && (nsfd = open(netns, O_RDONLY | O_CLOEXEC)) < 0)
    return -errno;
  if (pipe2(p, O_CLOEXEC) != 0) {
    int e = -errno;
    if (nsfd >= 0)
      close(nsfd);
    return e;
  }
  pid_t pid = fork();
  if (pid == 0) {
    int null = open("/dev/null", O_RDONLY);
    if ((nsfd >= 0 && setns(nsfd, CLONE_NEWNET) != 0) || null < 0 ||
        dup2(null, STDIN_FILENO) < 0 || dup2(p[1], STDOUT_FILENO) < 0 ||
        dup2(p[1], STDERR_FILENO) < 0)
      _exit(126);
    signal(SIGPIPE, SIG_DFL); /* the harness ignores it; the tool should not inherit that */
    execv(argv[0], argv);
    _exit(127);
  }
  int e = pid < 0 ? -errno : 0;
  close(p[1]);
  if (nsfd >= 0)
    close(nsfd);
  size_t n = 0;
  char sink[512];
  for (;;) {
    char *dst = out != NULL && n + 1 < size ? out + n : sink;
    size_t room = out != NULL && n + 1 < size ? size - 1 - n : sizeof(sink);
    ssize_t got = read(p[0], dst, room);
    if (got < 0 && errno == EINTR)
      continue;
    if (got <= 0)
      break;
    if (dst != sink)
      n += (size_t)got;
  }
  close(p[0]);
  if (out != NULL && size > 0)
    out[n] = '\0';
  if (e != 0)
    return e;
  int st;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
    ;
  return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : PL_ESTATE;
}

bool chaos_tool_find(const char *name, char *out, size_t size) {
  return find_tool(name, out, size);
}

int chaos_tool_run(char *const argv[], char *out, size_t size) {
  return run(NULL, argv, out, size);
}

/* Runs `ip ARGS... NULL` in the machine's namespace; its message, first line,
 * into err (NULL-able). */
static int ip(const struct chaos_netns *nn, char *err, size_t err_size, ...)
    __attribute__((sentinel));
static int ip(const struct chaos_netns *nn, char *err, size_t err_size, ...) {
  char *argv[16];
  int k = 0;
  argv[k++] = (char *)nn->ip;
  va_list ap;
  va_start(ap, err_size);
  for (char *a = va_arg(ap, char *); a != NULL && k < 15;
       a = va_arg(ap, char *))
    argv[k++] = a;
  va_end(ap);
  argv[k] = NULL;
  char out[OUT_MAX];
  int rc = run(NULL, argv, out, sizeof(out));
  if (rc != 0 && err != NULL) {
    out[strcspn(out, "\n")] = '\0';
    char cmd[300] = "ip";
    for (int i = 1; argv[i] != NULL; i++)
      snprintf(cmd + strlen(cmd), sizeof(cmd) - strlen(cmd), " %s", argv[i]);
    fail(err, err_size, rc, "%s: %s", cmd, out[0] ? out : pl_strerror(rc));
  }
  return rc;
}

int chaos_netns_check(struct chaos_netns *nn, char *err, size_t err_size) {
  if (geteuid() != 0)
    return fail(err, err_size, PL_EUSAGE,
                "--netns needs root (network namespaces, a bridge and "
                "nftables); run it as "
                "root, or drop --netns to cut links in the agents' transports");
  if (!find_tool("ip", nn->ip, sizeof(nn->ip)))
    return fail(err, err_size, PL_EUSAGE,
                "--netns needs ip(8) (Debian: iproute2) on PATH");
  if (!find_tool("nft", nn->nft, sizeof(nn->nft)))
    return fail(err, err_size, PL_EUSAGE,
                "--netns needs nft(8) (Debian: nftables) on PATH");
  return 0;
}

/* ---- names ---- */

/* The run id in one of our names ("plch" and ID_HEX hex digits, then anything)
 * into id, or false when the name is not ours. */
static bool id_of(const char *name, char id[CHAOS_NETNS_ID_MAX]) {
  size_t p = strlen(PREFIX);
  if (strncmp(name, PREFIX, p) != 0 ||
      strspn(name + p, "0123456789abcdef") < ID_HEX)
    return false;
  snprintf(id, CHAOS_NETNS_ID_MAX, "%.*s", (int)(p + ID_HEX), name);
  return true;
}

/* The machine-wide lock under which runs take ids and subnets. */
static int lock_take(void) {
  mkdir(LOCK_DIR, 0700);
  int fd = open(LOCK_PATH, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd >= 0 && flock(fd, LOCK_EX) != 0) {
    close(fd);
    fd = -1;
  }
  return fd;
}

/*
 * A run's own lock, LOCK_DIR/ID, held (flock) by its harness and its guard for
 * as long as either lives: what tells a live run's names from those a dead one
 * left behind, across PID namespaces (which share this machine's network
 * namespace and /run, but not PIDs). The fd, or a negative code; with `wait`
 * false, PL_ELOCKED when someone holds it.
 */
static int run_lock(const char *id, bool wait) {
  char path[128];
  snprintf(path, sizeof(path), LOCK_DIR "/%s", id);
  int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0)
    return -errno;
  if (flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB)) != 0) {
    int e = errno == EWOULDBLOCK ? PL_ELOCKED : -errno;
    close(fd);
    return e;
  }
  return fd;
}

/* Ours, and its run's lock is free: its harness and guard are gone. */
static bool stale(const char *name) {
  char id[CHAOS_NETNS_ID_MAX];
  if (!id_of(name, id))
    return false;
  int fd = run_lock(id, false);
  if (fd < 0)
    return false;
  close(fd);
  return true;
}

int chaos_netns_clean_stale(const struct chaos_netns *nn) {
  int removed = 0;
  /* Holding the lock: no run is between taking its id and locking it. */
  int lock = lock_take();
  if (lock < 0)
    return 0;
  DIR *d = opendir("/run/netns");
  struct dirent *e;
  while (d != NULL && (e = readdir(d)) != NULL)
    if (stale(e->d_name) &&
        ip(nn, NULL, 0, "netns", "del", e->d_name, NULL) == 0)
      removed++;
  if (d != NULL)
    closedir(d);
  /* The bridges (veths go with their namespaces; one left alone goes here too).
   */
  d = opendir("/sys/class/net");
  while (d != NULL && (e = readdir(d)) != NULL)
    if (stale(e->d_name) &&
        ip(nn, NULL, 0, "link", "del", e->d_name, NULL) == 0)
      removed++;
  if (d != NULL)
    closedir(d);
  /* The dead runs' lock files. */
  d = opendir(LOCK_DIR);
  while (d != NULL && (e = readdir(d)) != NULL)
    if (stale(e->d_name)) {
      char path[128];
      snprintf(path, sizeof(path), LOCK_DIR "/%s", e->d_name);
      unlink(path);
    }
  if (d != NULL)
    closedir(d);
  close(lock);
  return removed;
}

/* ---- addresses ---- */

/* Whether 198.18.0.0/15's /24 number c (0..511) overlaps a route of the
 * machine's main table (/proc/net/route: destination and mask as the kernel's
 * network-order words). */
static bool subnet_taken(uint32_t net) {
  FILE *f = fopen("/proc/net/route", "r");
  if (f == NULL)
    return false;
  char line[256];
  bool taken = false;
  while (!taken && fgets(line, sizeof(line), f)) {
    char ifname[32];
    unsigned dst, gw, flags, refcnt, use, metric, mask;
    if (sscanf(line, "%31s %x %x %x %u %u %u %x", ifname, &dst, &gw, &flags,
               &refcnt, &use, &metric, &mask) != 8)
      continue;
    uint32_t d = ntohl(dst), m = ntohl(mask);
    if (m != 0) /* the default route overlaps everything and says nothing */
      taken = ((d ^ net) & m & 0xffffff00u) == 0;
  }
  fclose(f);
  return taken;
}

static void addr_str(uint32_t a, char *out, size_t size) {
  snprintf(out, size, "%u.%u.%u.%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255,
           a & 255);
}

/* ---- tear-down ---- */

/* How many processes run in node i's namespace; with `sig`, each is sent it. */
static int procs_in(const struct chaos_netns *nn, int i, int sig) {
  char want[48], link[48], path[64];
  snprintf(want, sizeof(want), "net:[%llu]", (unsigned long long)nn->ino[i]);
  int n = 0;
  DIR *d = opendir("/proc");
  struct dirent *e;
  while (d != NULL && (e = readdir(d)) != NULL) {
    if (e->d_name[0] < '1' || e->d_name[0] > '9')
      continue;
    snprintf(path, sizeof(path), "/proc/%s/ns/net", e->d_name);
    ssize_t len = readlink(path, link, sizeof(link) - 1);
    if (len <= 0)
      continue;
    link[len] = '\0';
    if (strcmp(link, want) == 0) {
      n++;
      if (sig != 0)
        kill((pid_t)atoi(e->d_name), sig);
    }
  }
  if (d != NULL)
    closedir(d);
  return n;
}

/*
 * Removes the run's network in the order that leaves nothing: the processes in
 * the namespaces gone first (SIGTERM, SIGKILL after 10 s) while the bridge
 * still carries their connections' last packets (an orphaned TCP socket whose
 * FIN cannot be delivered holds its namespace alive for minutes), then the
 * namespaces, then, once their veths have gone with them (up to 10 s), the
 * bridge.
 */
static void teardown(struct chaos_netns *nn) {
  /* The guard's copy was made before the namespaces: it looks their inodes up
   * now. */
  for (int i = 0; i < nn->n; i++) {
    struct stat st;
    if (nn->ino[i] == 0 && stat(nn->path[i], &st) == 0)
      nn->ino[i] = (uint64_t)st.st_ino;
  }
  for (int t = 0; t < 200; t++) {
    int left = 0;
    for (int i = 0; i < nn->n; i++)
      if (nn->ino[i] != 0)
        left += procs_in(nn, i, t == 0 ? SIGTERM : t == 100 ? SIGKILL : 0);
    if (left == 0)
      break;
    usleep(100000);
  }
  for (int i = 0; i < nn->n; i++)
    if (access(nn->path[i], F_OK) == 0)
      ip(nn, NULL, 0, "netns", "del", nn->ns[i], NULL);
  for (int t = 0; t < 100; t++) {
    bool any = false;
    for (int i = 0; i < nn->n; i++) {
      char dev[80];
      snprintf(dev, sizeof(dev), "/sys/class/net/%sv%d", nn->id, i + 1);
      any |= access(dev, F_OK) == 0;
    }
    if (!any)
      break;
    usleep(100000);
  }
  char dev[80];
  snprintf(dev, sizeof(dev), "/sys/class/net/%s", nn->id);
  if (access(dev, F_OK) == 0)
    ip(nn, NULL, 0, "link", "del", nn->id, NULL);
}

/* ---- the guard ---- */

/*
 * Forks the guard: in its own session (a terminal's SIGINT does not reach it),
 * it waits on a pipe; when the pipe closes without the harness's "done" byte
 * (the harness died), it tears the network down. It is forked while the harness
 * has one thread (before the workload's), so it may do what the harness does.
 */
int chaos_guard_fork(int keep_fd, pid_t *pid_out, int *fd_out) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0)
    return -errno;
  pid_t pid = fork();
  if (pid < 0) {
    int e = -errno;
    close(p[0]);
    close(p[1]);
    return e;
  }
  if (pid == 0) {
    setsid();
    signal(SIGINT, SIG_IGN);
    signal(SIGTERM, SIG_IGN);
    int null = open("/dev/null", O_RDWR);
    if (null >= 0) {
      dup2(null, STDIN_FILENO);
      dup2(null, STDOUT_FILENO);
      dup2(null, STDERR_FILENO);
    }
    /* Nothing else of the harness's: another guard's pipe must see its end. */
    for (int fd = 3; fd < 1024; fd++)
      if (fd != p[0] && fd != keep_fd)
        close(fd);
    *fd_out = p[0];
    return 0;
  }
  close(p[0]);
  *pid_out = pid;
  *fd_out = p[1];
  return 1;
}

static int guard_start(struct chaos_netns *nn) {
  /* It keeps the run's lock: the names stay "in use" until it has removed
   * them. */
  int fd = -1;
  pid_t pid = 0;
  int rc = chaos_guard_fork(nn->lock_fd, &pid, &fd);
  if (rc < 0)
    return rc;
  if (rc == 0) {
    char b;
    ssize_t got;
    while ((got = read(fd, &b, 1)) < 0 && errno == EINTR)
      ;
    if (got != 1)
      teardown(nn);
    _exit(0);
  }
  nn->guard_pid = pid;
  nn->guard_fd = fd;
  return 0;
}

static void guard_stop(struct chaos_netns *nn) {
  if (nn->guard_fd < 0)
    return;
  ssize_t w = write(nn->guard_fd, "d", 1);
  (void)w;
  close(nn->guard_fd);
  nn->guard_fd = -1;
  int st;
  while (waitpid(nn->guard_pid, &st, 0) < 0 && errno == EINTR)
    ;
  nn->guard_pid = 0;
}

/* ---- up and down ---- */

static bool exists(const char *fmt, const char *id) {
  char path[128];
  snprintf(path, sizeof(path), fmt, id);
  return access(path, F_OK) == 0;
}

/* A fresh run id, its lock taken (under the machine-wide lock). */
static int id_take(struct chaos_netns *nn, char *err, size_t err_size) {
  for (int attempt = 0; attempt < 100; attempt++) {
    uint32_t r;
    if (getrandom(&r, sizeof(r), 0) != sizeof(r))
      r = (uint32_t)getpid() * 2654435761u + (uint32_t)attempt;
    snprintf(nn->id, sizeof(nn->id), PREFIX "%0*x", ID_HEX,
             r & ((1u << (4 * ID_HEX)) - 1));
    if (exists("/sys/class/net/%s", nn->id) ||
        exists("/run/netns/%sn1", nn->id) || exists(LOCK_DIR "/%s", nn->id))
      continue;
    nn->lock_fd = run_lock(nn->id, false);
    if (nn->lock_fd >= 0)
      return 0;
  }
  return fail(err, err_size, PL_EFULL, "no free run id under %s", LOCK_DIR);
}

static int make(struct chaos_netns *nn, char *err, size_t err_size) {
  /* The bridge and a free /24, under the lock: the route that marks the /24
   * taken exists once the bridge has its address. */
  int lock = lock_take();
  if (lock < 0)
    return fail(err, err_size, -EIO, "cannot lock %s: %s", LOCK_PATH,
                strerror(errno));
  uint32_t h = 2166136261u;
  for (const char *c = nn->id; *c; c++)
    h = (h ^ (uint8_t)*c) * 16777619u;
  uint32_t net = 0;
  for (uint32_t k = 0; k < 512 && net == 0; k++) {
    uint32_t c = (h + k) % 512,
             cand = (198u << 24) | ((18u + c / 256) << 16) | ((c % 256) << 8);
    if (!subnet_taken(cand))
      net = cand;
  }
  int rc = 0;
  char gw[24];
  if (net == 0)
    rc = fail(err, err_size, PL_EFULL,
              "every /24 of 198.18.0.0/15 is routed on this machine");
  if (rc == 0) {
    addr_str(net, nn->subnet, sizeof(nn->subnet));
    strncat(nn->subnet, "/24", sizeof(nn->subnet) - strlen(nn->subnet) - 1);
    addr_str(net | 1, nn->gw, sizeof(nn->gw));
    snprintf(gw, sizeof(gw), "%s/24", nn->gw);
    rc = ip(nn, err, err_size, "link", "add", nn->id, "type", "bridge", NULL);
  }
  if (rc == 0)
    rc = ip(nn, err, err_size, "addr", "add", gw, "dev", nn->id, NULL);
  close(lock);
  if (rc == 0)
    rc = ip(nn, err, err_size, "link", "set", nn->id, "up", NULL);
  for (int i = 0; i < nn->n && rc == 0; i++) {
    char veth[CHAOS_NETNS_ID_MAX + 4], a[24];
    snprintf(veth, sizeof(veth), "%sv%d", nn->id, i + 1);
    addr_str(net | (uint32_t)(11 + i), nn->addr[i], sizeof(nn->addr[i]));
    snprintf(a, sizeof(a), "%s/24", nn->addr[i]);
    rc = ip(nn, err, err_size, "netns", "add", nn->ns[i], NULL);
    struct stat st;
    if (rc == 0 && stat(nn->path[i], &st) == 0)
      nn->ino[i] = (uint64_t)st.st_ino;
    if (rc == 0)
      rc = ip(nn, err, err_size, "link", "add", veth, "type", "veth", "peer",
              "name", "eth0", "netns", nn->ns[i], NULL);
    if (rc == 0)
      rc = ip(nn, err, err_size, "link", "set", veth, "master", nn->id, "up",
              NULL);
    if (rc == 0)
      rc = ip(nn, err, err_size, "-n", nn->ns[i], "link", "set", "lo", "up",
              NULL);
    if (rc == 0)
      rc = ip(nn, err, err_size, "-n", nn->ns[i], "addr", "add", a, "dev",
              "eth0", NULL);
    if (rc == 0)
      rc = ip(nn, err, err_size, "-n", nn->ns[i], "link", "set", "eth0", "up",
              NULL);
  }
  if (rc != 0 || nn->n == 0)
    return rc;
  /* nf_tables in a namespace: the kernel may not have it. */
  char *argv[] = {nn->nft, "list", "ruleset", NULL};
  char out[OUT_MAX];
  if (run(nn->path[0], argv, out, sizeof(out)) != 0) {
    out[strcspn(out, "\n")] = '\0';
    return fail(err, err_size, PL_ESTATE,
                "nft list ruleset inside %s fails (does the kernel have "
                "nf_tables?): %s",
                nn->ns[0], out);
  }
  return 0;
}

/* Lets the run's lock go and removes its file. */
static void run_unlock(struct chaos_netns *nn) {
  if (nn->lock_fd < 0)
    return;
  char path[128];
  snprintf(path, sizeof(path), LOCK_DIR "/%s", nn->id);
  unlink(path);
  close(nn->lock_fd);
  nn->lock_fd = -1;
}

int chaos_netns_up(struct chaos_netns *nn, int n, char *err, size_t err_size) {
  nn->guard_fd = -1;
  nn->guard_pid = 0;
  nn->lock_fd = -1;
  nn->n = n;
  memset(nn->ino, 0, sizeof(nn->ino));
  int lock = lock_take();
  if (lock < 0)
    return fail(err, err_size, -EIO, "cannot lock %s: %s", LOCK_PATH,
                strerror(errno));
  int rc = id_take(nn, err, err_size);
  close(lock);
  if (rc != 0)
    return rc;
  for (int i = 0; i < n; i++) {
    snprintf(nn->ns[i], sizeof(nn->ns[i]), "%sn%d", nn->id, i + 1);
    snprintf(nn->path[i], sizeof(nn->path[i]), "/run/netns/%s", nn->ns[i]);
  }
  rc = guard_start(nn);
  if (rc != 0) {
    run_unlock(nn);
    return fail(err, err_size, rc, "cannot fork the clean-up guard: %s",
                pl_strerror(rc));
  }
  rc = make(nn, err, err_size);
  if (rc != 0)
    chaos_netns_down(nn);
  return rc;
}

void chaos_netns_down(struct chaos_netns *nn) {
  if (nn->guard_fd < 0)
    return;
  teardown(nn);
  guard_stop(nn);
  run_unlock(nn);
}

/* ---- nftables ---- */

static int nft(const struct chaos_netns *nn, int i, const char *script,
               char *out, size_t size) {
  char *argv[] = {(char *)nn->nft, (char *)script, NULL};
  return run(nn->path[i], argv, out, size);
}

int chaos_netns_drop(const struct chaos_netns *nn, int i, const char *table,
                     uint32_t peers, double rate, char *err, size_t err_size) {
  char set[CHAOS_NODES_MAX * (CHAOS_NETNS_ADDR_MAX + 2) + 4] = "";
  for (int j = 0; j < nn->n; j++)
    if (peers & (1u << j))
      snprintf(set + strlen(set), sizeof(set) - strlen(set), "%s%s",
               set[0] ? ", " : "", nn->addr[j]);
  if (set[0] == '\0')
    return 0;
  char when[64] = "";
  if (rate < 1)
    snprintf(when, sizeof(when), "numgen random mod 10000 < %u ",
             (unsigned)(rate * 10000 + 0.5));
  char script[1024], out[OUT_MAX];
  snprintf(script, sizeof(script),
           "add table netdev %1$s; "
           "add chain netdev %1$s in { type filter hook ingress device "
           "\"eth0\" priority -10; "
           "policy accept; }; "
           "add chain netdev %1$s out { type filter hook egress device "
           "\"eth0\" priority -10; "
           "policy accept; }; "
           "add rule netdev %1$s in ip saddr { %2$s } %3$scounter drop; "
           "add rule netdev %1$s out ip daddr { %2$s } %3$scounter drop",
           table, set, when);
  int rc = nft(nn, i, script, out, sizeof(out));
  if (rc != 0) {
    out[strcspn(out, "\n")] = '\0';
    fail(err, err_size, rc, "nft in %s: %s", nn->ns[i], out);
  }
  return rc;
}

int chaos_netns_undrop(const struct chaos_netns *nn, int i, const char *table,
                       uint64_t *dropped) {
  /* The counters first (nft -j: one JSON document), then the table. */
  char script[128];
  static char out[1 << 16];
  uint64_t sum = 0;
  char *argv[] = {(char *)nn->nft, "-j",          "list", "table",
                  "netdev",        (char *)table, NULL};
  if (run(nn->path[i], argv, out, sizeof(out)) == 0) {
    cJSON *doc = cJSON_Parse(out);
    const cJSON *o;
    cJSON_ArrayForEach(o, cJSON_GetObjectItemCaseSensitive(doc, "nftables")) {
      const cJSON *e;
      cJSON_ArrayForEach(
          e, cJSON_GetObjectItemCaseSensitive(
                 cJSON_GetObjectItemCaseSensitive(o, "rule"), "expr")) {
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(e, "counter"), "packets");
        if (cJSON_IsNumber(p) && p->valuedouble > 0)
          sum += (uint64_t)p->valuedouble;
      }
    }
    cJSON_Delete(doc);
  }
  if (dropped != NULL)
    *dropped = sum;
  snprintf(script, sizeof(script), "delete table netdev %s", table);
  return nft(nn, i, script, NULL, 0);
}
