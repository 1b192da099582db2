/*
 * The disk nemeses of `platelet chaos run` (disk_full, disk_stall): each agent the run
 * starts gets its data directory on a small file system of its own, mounted by the harness
 * in a private mount namespace (so nothing outside the run sees it), which a nemesis then
 * fills or freezes. Needs root.
 *
 *   disk_full    a tmpfs of CHAOS_DISK_BYTES per agent; the nemesis writes a filler file
 *                until the file system has no byte left (ENOSPC), and deletes it at the end.
 *   disk_stall   an ext4 image of CHAOS_DISK_BYTES per agent on a loop device; the nemesis
 *                freezes the file system (FIFREEZE, as fsfreeze(8)): every write to it
 *                blocks in the kernel until FITHAW at the end. tmpfs cannot be frozen.
 *
 * A scenario with both puts every agent on ext4 (filled the same way). A frozen file system
 * left frozen would hold its writers forever, unkillable: a guard process, forked once the
 * file systems are mounted, thaws them all when the harness dies without doing it.
 *
 * Call everything from the main thread; chaos_disk_enter() before any thread starts (a
 * mount namespace entered by one thread of many is that thread's alone).
 */
#ifndef PL_CHAOS_DISK_H
#define PL_CHAOS_DISK_H

#include "chaos_scenario.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Each agent's file system: room for RocksDB's first files and the agent's default free-
 * space reserve (store.reserve_bytes, 32 MiB) with some to spare, so an agent is below its
 * reserve only when a nemesis fills its disk. */
#define CHAOS_DISK_BYTES (128ull << 20)
/* The filler's name in a full data directory. */
#define CHAOS_DISK_FILLER ".chaos-disk-filler"

enum chaos_disk_fs { CHAOS_FS_NONE, CHAOS_FS_TMPFS, CHAOS_FS_EXT4 };

struct chaos_disk {
    enum chaos_disk_fs fs;
    char dir[CHAOS_NODES_MAX][300]; /* each agent's data directory ("": not mounted) */
    int n;
    char mkfs[256]; /* mkfs.ext4 and mount(8), found on PATH (ext4 only) */
    char mount[256];
    pid_t guard_pid;
    int guard_fd; /* the write end of the guard's pipe, -1 when none */
};

/* What the scenario's disk nemeses need: none, tmpfs (disk_full only) or ext4. */
enum chaos_disk_fs chaos_disk_needed(const struct chaos_scenario *sc);

/*
 * Checks what `fs` needs (root; for ext4 mkfs.ext4, mount(8) and /dev/loop-control) and
 * moves this process into a private mount namespace of its own. 0, or PL_EUSAGE with one
 * line in err naming the first disk nemesis and what is missing.
 */
int chaos_disk_enter(struct chaos_disk *d, const struct chaos_scenario *sc, char *err,
                     size_t err_size);

/*
 * Mounts node i's file system at `dir` (created), with the ext4 image at `image` (made;
 * unused for tmpfs). 0, or a negative code with one line in err.
 */
int chaos_disk_mount(struct chaos_disk *d, int i, const char *dir, const char *image, char *err,
                     size_t err_size);

/* Starts the guard that thaws every mounted file system if this process dies first. 0, or
 * a negative code. */
int chaos_disk_guard(struct chaos_disk *d);

/* Fills node i's file system to its last byte: *filled bytes written, *left bytes still free
 * (statvfs's f_bavail). 0, or a negative code. */
int chaos_disk_fill(const struct chaos_disk *d, int i, uint64_t *filled, uint64_t *left);
/* Deletes node i's filler. 0, or a negative code. */
int chaos_disk_unfill(const struct chaos_disk *d, int i);

/* Freezes (true) or thaws node i's file system. 0, or -errno. */
int chaos_disk_freeze(const struct chaos_disk *d, int i, bool freeze);

/* Thaws and unmounts everything (lazily: a file still open keeps it until closed), ends the
 * guard. Safe to call twice. */
void chaos_disk_down(struct chaos_disk *d);

#endif
