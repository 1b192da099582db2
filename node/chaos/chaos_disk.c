/*
 * The disk nemeses' file systems (chaos_disk.h): a private mount namespace, a tmpfs or a
 * loop-mounted ext4 image per agent, the filler that makes one full, FIFREEZE/FITHAW that
 * stall one, and the guard that thaws them if the harness dies.
 */
#include "chaos_disk.h"
#include "chaos_netns.h"

#include "pl_err.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

/* <linux/fs.h>'s, which clashes with <sys/mount.h> on some C libraries. */
#ifndef FIFREEZE
#define FIFREEZE _IOWR('X', 119, int)
#endif
#ifndef FITHAW
#define FITHAW _IOWR('X', 120, int)
#endif

static int fail(char *err, size_t err_size, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(char *err, size_t err_size, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_size, fmt, ap);
    va_end(ap);
    return rc;
}

static bool is_disk(enum chaos_kind k) { return k == CHAOS_DISK_FULL || k == CHAOS_DISK_STALL; }

enum chaos_disk_fs chaos_disk_needed(const struct chaos_scenario *sc)
{
    enum chaos_disk_fs fs = CHAOS_FS_NONE;
    for (int k = 0; k < sc->n; k++) {
        if (sc->nemeses[k].kind == CHAOS_DISK_STALL)
            return CHAOS_FS_EXT4; /* only ext4 freezes; it fills as well */
        if (sc->nemeses[k].kind == CHAOS_DISK_FULL)
            fs = CHAOS_FS_TMPFS;
    }
    return fs;
}

int chaos_disk_enter(struct chaos_disk *d, const struct chaos_scenario *sc, char *err,
                     size_t err_size)
{
    memset(d, 0, sizeof(*d));
    d->guard_fd = -1;
    d->fs = chaos_disk_needed(sc);
    if (d->fs == CHAOS_FS_NONE)
        return 0;
    int k = 0;
    while (k < sc->n && !is_disk(sc->nemeses[k].kind))
        k++;
    const struct chaos_nemesis *nm = &sc->nemeses[k];
    char who[160];
    snprintf(who, sizeof(who), "nemeses[%d] (%s, %s)", k, chaos_kind_name(nm->kind), nm->label);
    if (geteuid() != 0)
        return fail(err, err_size, PL_EUSAGE,
                    "%s needs root: each agent's data directory gets a file system of its own "
                    "(%s), mounted in a private mount namespace",
                    who, d->fs == CHAOS_FS_EXT4 ? "an ext4 image on a loop device" : "a tmpfs");
    if (d->fs == CHAOS_FS_EXT4) {
        if (!chaos_tool_find("mkfs.ext4", d->mkfs, sizeof(d->mkfs)) ||
            !chaos_tool_find("mount", d->mount, sizeof(d->mount)))
            return fail(err, err_size, PL_EUSAGE,
                        "%s needs mkfs.ext4 and mount(8) on PATH (e2fsprogs, util-linux)", who);
        if (access("/dev/loop-control", R_OK | W_OK) != 0)
            return fail(err, err_size, PL_EUSAGE, "%s needs loop devices: /dev/loop-control: %s",
                        who, strerror(errno));
    }
    if (unshare(CLONE_NEWNS) != 0)
        return fail(err, err_size, PL_EUSAGE, "%s: no private mount namespace (unshare): %s",
                    who, strerror(errno));
    /* Private from the root down: our mounts reach no other namespace, nor theirs ours. */
    if (mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
        return fail(err, err_size, PL_EUSAGE, "%s: cannot make the mounts private: %s", who,
                    strerror(errno));
    return 0;
}

int chaos_disk_mount(struct chaos_disk *d, int i, const char *dir, const char *image, char *err,
                     size_t err_size)
{
    if (i < 0 || i >= CHAOS_NODES_MAX)
        return fail(err, err_size, PL_ESTATE, "node %d out of range", i);
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return fail(err, err_size, -errno, "mkdir %s: %s", dir, strerror(errno));
    if (d->fs == CHAOS_FS_TMPFS) {
        char opts[64];
        snprintf(opts, sizeof(opts), "size=%llu,mode=0700", (unsigned long long)CHAOS_DISK_BYTES);
        if (mount("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NODEV, opts) != 0)
            return fail(err, err_size, -errno, "mount a tmpfs on %s: %s", dir, strerror(errno));
    } else if (d->fs == CHAOS_FS_EXT4) {
        int fd = open(image, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0)
            return fail(err, err_size, -errno, "%s: %s", image, strerror(errno));
        int rc = ftruncate(fd, (off_t)CHAOS_DISK_BYTES) != 0 ? -errno : 0;
        close(fd);
        if (rc != 0)
            return fail(err, err_size, rc, "%s: %s", image, strerror(-rc));
        /* No blocks reserved for root: the agents run as root here, and a full disk must
         * be full for them too. */
        char out[512];
        char *mkfs[] = {d->mkfs, "-q", "-F", "-m", "0", (char *)image, NULL};
        if ((rc = chaos_tool_run(mkfs, out, sizeof(out))) != 0)
            return fail(err, err_size, rc, "mkfs.ext4 %s: %s", image, out);
        char *mnt[] = {d->mount, "-o", "loop", (char *)image, (char *)dir, NULL};
        if ((rc = chaos_tool_run(mnt, out, sizeof(out))) != 0)
            return fail(err, err_size, rc, "mount -o loop %s %s: %s", image, dir, out);
    } else {
        return fail(err, err_size, PL_ESTATE, "no disk nemesis in the scenario");
    }
    snprintf(d->dir[i], sizeof(d->dir[i]), "%s", dir);
    if (i >= d->n)
        d->n = i + 1;
    return 0;
}

static int freeze(const char *dir, bool on)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = ioctl(fd, on ? FIFREEZE : FITHAW, 0) != 0 ? -errno : 0;
    close(fd);
    return rc;
}

int chaos_disk_guard(struct chaos_disk *d)
{
    if (d->fs != CHAOS_FS_EXT4 || d->guard_pid > 0)
        return 0; /* only ext4 is ever frozen */
    int fd = -1;
    pid_t pid = 0;
    int rc = chaos_guard_fork(-1, &pid, &fd);
    if (rc < 0)
        return rc;
    if (rc == 0) {
        /* The end of the pipe, when the harness closes it or dies: thaw either way, as
         * thawing what is not frozen changes nothing. */
        char c;
        while (read(fd, &c, 1) < 0 && errno == EINTR)
            ;
        for (int i = 0; i < d->n; i++)
            if (d->dir[i][0] != '\0')
                freeze(d->dir[i], false);
        _exit(0);
    }
    d->guard_pid = pid;
    d->guard_fd = fd;
    return 0;
}

int chaos_disk_fill(const struct chaos_disk *d, int i, uint64_t *filled, uint64_t *left)
{
    if (i < 0 || i >= d->n || d->dir[i][0] == '\0')
        return PL_ESTATE;
    char path[400];
    snprintf(path, sizeof(path), "%s/%s", d->dir[i], CHAOS_DISK_FILLER);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    static const char zeros[1 << 20];
    /* Big writes until ENOSPC, then smaller ones for what is left of the last blocks. */
    static const size_t chunks[] = {sizeof(zeros), 64 << 10, 4 << 10, 512, 1};
    uint64_t n = 0;
    int rc = 0;
    for (size_t c = 0; c < sizeof(chunks) / sizeof(chunks[0]);) {
        ssize_t w = write(fd, zeros, chunks[c]);
        if (w > 0) {
            n += (uint64_t)w;
        } else if (w < 0 && errno == EINTR) {
            continue;
        } else if (w == 0 || errno == ENOSPC || errno == EDQUOT) {
            c++;
        } else {
            rc = -errno;
            break;
        }
    }
    /* ext4 allocates at writeback; what it accepted it has already reserved. */
    if (rc == 0 && fsync(fd) != 0 && errno != ENOSPC)
        rc = -errno;
    close(fd);
    struct statvfs vfs;
    if (rc == 0 && statvfs(d->dir[i], &vfs) != 0)
        rc = -errno;
    if (rc == 0) {
        *filled = n;
        *left = (uint64_t)vfs.f_bavail * (uint64_t)vfs.f_frsize;
    }
    return rc;
}

int chaos_disk_unfill(const struct chaos_disk *d, int i)
{
    if (i < 0 || i >= d->n || d->dir[i][0] == '\0')
        return PL_ESTATE;
    char path[400];
    snprintf(path, sizeof(path), "%s/%s", d->dir[i], CHAOS_DISK_FILLER);
    return unlink(path) == 0 || errno == ENOENT ? 0 : -errno;
}

int chaos_disk_freeze(const struct chaos_disk *d, int i, bool on)
{
    if (i < 0 || i >= d->n || d->dir[i][0] == '\0' || d->fs != CHAOS_FS_EXT4)
        return PL_ESTATE;
    return freeze(d->dir[i], on);
}

void chaos_disk_down(struct chaos_disk *d)
{
    for (int i = 0; i < d->n; i++) {
        if (d->dir[i][0] == '\0')
            continue;
        if (d->fs == CHAOS_FS_EXT4)
            freeze(d->dir[i], false); /* EINVAL when not frozen */
        umount2(d->dir[i], MNT_DETACH);
        d->dir[i][0] = '\0';
    }
    d->n = 0;
    if (d->guard_fd >= 0) {
        close(d->guard_fd); /* its end of file: it thaws (nothing, now) and exits */
        d->guard_fd = -1;
    }
    if (d->guard_pid > 0) {
        while (waitpid(d->guard_pid, NULL, 0) < 0 && errno == EINTR)
            ;
        d->guard_pid = 0;
    }
}
