/*
 * Files replaced whole: a write goes to PATH.tmp, is fsynced and renamed over PATH, then the
 * directory is fsynced, so a crash leaves the old file or the new one, never a mix.
 */
#ifndef PL_FILE_H
#define PL_FILE_H

#include <stddef.h>
#include <sys/types.h>

/* Replaces `path` with the n bytes at p, created with `mode` (umask ignored). 0 or -errno;
 * on failure the old file is untouched and no temporary is left. */
int pl_file_write_atomic(const char *path, const void *p, size_t n, mode_t mode);

#endif
