/*
 * pl_store.h over the RocksDB C API. Every RocksDB error string is turned into one of our
 * codes here, copied into err_text and freed at once.
 */
#include "pl_store.h"

#include "pl_assert.h"
#include "pl_err.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>

static const char *const cf_names[PL_CF_COUNT] = {
    [PL_CF_DEFAULT] = "default",           [PL_CF_RAFT_LOG] = "raft_log",
    [PL_CF_RAFT_META] = "raft_meta",       [PL_CF_LEDGER_LEAVES] = "ledger_leaves",
    [PL_CF_LEDGER_NODES] = "ledger_nodes", [PL_CF_LEDGER_HEADS] = "ledger_heads",
    [PL_CF_SNAPSHOTS] = "snapshots",       [PL_CF_NODE] = "node",
    [PL_CF_INCIDENTS] = "incidents",
    [PL_CF_OUTBOX] = "outbox",
};

const char *pl_store_cf_name(enum pl_store_cf cf)
{
    if (PL_NEVER((int)cf < 0 || cf >= PL_CF_COUNT))
        return "?";
    return cf_names[cf];
}

/* Translates a RocksDB error string (and frees it). The LOCK file is how RocksDB keeps a
 * second process out; its message reads "While lock file: .../LOCK: Resource temporarily
 * unavailable" (or "lock hold by current process" within one process). */
static int store_error(struct pl_store *s, char *err, const char *what)
{
    int rc = PL_ESTORE;
    if (err != NULL && (strstr(err, "lock file") != NULL || strstr(err, "LOCK") != NULL ||
                        strcasestr(err, "lock hold") != NULL))
        rc = PL_ELOCKED;
    snprintf(s->err_text, sizeof(s->err_text), "%s: %s", what, err ? err : "unknown error");
    free(err);
    return rc;
}

/* mkdir -p with mode 0700 for the components it creates. */
static int make_dirs(const char *path)
{
    char tmp[4096];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof(tmp))
        return -ENAMETOOLONG;
    memcpy(tmp, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (tmp[i] != '/' && tmp[i] != '\0')
            continue;
        char saved = tmp[i];
        tmp[i] = '\0';
        if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
            return -errno;
        tmp[i] = saved;
    }
    struct stat st;
    if (stat(path, &st) != 0)
        return -errno;
    if (!S_ISDIR(st.st_mode))
        return -ENOTDIR;
    return 0;
}

static void free_options(struct pl_store *s)
{
    if (s->ro)
        rocksdb_readoptions_destroy(s->ro);
    if (s->ro_scan)
        rocksdb_readoptions_destroy(s->ro_scan);
    if (s->wo_sync)
        rocksdb_writeoptions_destroy(s->wo_sync);
    if (s->wo_nosync)
        rocksdb_writeoptions_destroy(s->wo_nosync);
    s->wo_nosync = NULL;
    if (s->opts)
        rocksdb_options_destroy(s->opts);
    if (s->table_opts)
        rocksdb_block_based_options_destroy(s->table_opts);
    if (s->cache)
        rocksdb_cache_destroy(s->cache);
    s->table_opts = NULL;
    s->cache = NULL;
    s->ro = NULL;
    s->ro_scan = NULL;
    s->wo_sync = NULL;
    s->opts = NULL;
}

void pl_store_limits_default(struct pl_store_limits *l)
{
    l->block_cache_bytes = PL_STORE_BLOCK_CACHE_DEFAULT;
    l->write_buffer_bytes = PL_STORE_WRITE_BUFFER_DEFAULT;
    l->max_write_buffers = PL_STORE_MAX_WRITE_BUFFERS_DEFAULT;
}

int pl_store_open(struct pl_store *s, const char *data_dir, unsigned flags)
{
    struct pl_store_limits l;
    pl_store_limits_default(&l);
    return pl_store_open_limits(s, data_dir, flags, &l);
}

int pl_store_memory_get(struct pl_store *s, struct pl_store_memory *out)
{
    PL_ASSERT(s->db != NULL);
    struct pl_store_memory m = {0};
    for (int c = 0; c < PL_CF_COUNT; c++) {
        uint64_t v = 0;
        if (s->cf[c] == NULL)
            continue;
        if (rocksdb_property_int_cf(s->db, s->cf[c], "rocksdb.cur-size-all-mem-tables", &v) != 0)
            return PL_ESTORE;
        m.memtables_bytes += v;
        if (rocksdb_property_int_cf(s->db, s->cf[c], "rocksdb.estimate-table-readers-mem", &v) != 0)
            return PL_ESTORE;
        m.table_readers_bytes += v;
    }
    m.block_cache_bytes = s->cache != NULL ? rocksdb_cache_get_usage(s->cache) : 0;
    *out = m;
    return 0;
}

int pl_store_open_limits(struct pl_store *s, const char *data_dir, unsigned flags,
                         const struct pl_store_limits *limits)
{
    memset(s, 0, sizeof(*s));
    bool create = (flags & PL_STORE_CREATE) != 0;
    s->read_only = (flags & PL_STORE_READ_ONLY) != 0;
    PL_ASSERT(!(create && s->read_only));

    char db_path[4096];
    if (snprintf(db_path, sizeof(db_path), "%s/db", data_dir) >= (int)sizeof(db_path)) {
        snprintf(s->err_text, sizeof(s->err_text), "data dir path is too long");
        return PL_EUSAGE;
    }
    snprintf(s->dir, sizeof(s->dir), "%s", data_dir);
    struct stat st;
    if (create) {
        int rc = make_dirs(data_dir);
        if (rc != 0) {
            snprintf(s->err_text, sizeof(s->err_text), "cannot create data dir %s: %s", data_dir,
                     strerror(-rc));
            return rc;
        }
    } else {
        if (stat(data_dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
            snprintf(s->err_text, sizeof(s->err_text), "data dir %s does not exist", data_dir);
            return PL_ENOTFOUND;
        }
        if (stat(db_path, &st) != 0) {
            snprintf(s->err_text, sizeof(s->err_text), "no database in data dir %s (no %s)",
                     data_dir, "db/");
            return PL_ENOTFOUND;
        }
    }

    s->opts = rocksdb_options_create();
    s->wo_sync = rocksdb_writeoptions_create();
    s->ro = rocksdb_readoptions_create();
    /* A long scan in key order (replay, a snapshot's leaves) reads each block once: its
     * blocks stay out of the small shared cache, where inserting them costs CPU and pushes
     * out what point reads use. (A 2 MiB readahead as well cost more system time than it
     * saved, see BENCHMARKS.md "Replay", so RocksDB's own automatic readahead stays.) */
    s->ro_scan = rocksdb_readoptions_create();
    rocksdb_readoptions_set_fill_cache(s->ro_scan, 0);
    rocksdb_writeoptions_set_sync(s->wo_sync, 1);
    s->wo_nosync = rocksdb_writeoptions_create();
    rocksdb_options_set_create_if_missing(s->opts, create);
    rocksdb_options_set_create_missing_column_families(s->opts, create);
    rocksdb_options_set_paranoid_checks(s->opts, 1);
    rocksdb_options_set_max_open_files(s->opts, 256);
    /* RocksDB's own LOG lives on the data disk too. Debian's RocksDB 7.8 aborts in close
     * (an assertion in WritableFileWriter) when a write of that LOG failed earlier, as on a
     * full disk; at WARN it writes only at open and on trouble, so a full disk that the
     * reserve keeps our writes off (pl_store_space_check) leaves the LOG untouched. */
    rocksdb_options_set_info_log_level(s->opts, 2 /* WARN_LEVEL */);
    /* Ten families with RocksDB's default 64 MiB memtable each would let one node grow to
     * hundreds of MiB under load; a node's writes are small and each commit is synced, so
     * big memtables buy nothing: cap each (write_buffer_bytes) and all together
     * (max_write_buffers of them; then RocksDB flushes the largest). One small block cache
     * serves every family instead of RocksDB's default cache per table factory. */
    rocksdb_options_set_write_buffer_size(s->opts, limits->write_buffer_bytes);
    rocksdb_options_set_db_write_buffer_size(
        s->opts, limits->write_buffer_bytes * (uint64_t)limits->max_write_buffers);
    rocksdb_options_set_max_total_wal_size(s->opts, 64u << 20);
    s->cache = rocksdb_cache_create_lru(limits->block_cache_bytes);
    s->table_opts = rocksdb_block_based_options_create();
    rocksdb_block_based_options_set_block_cache(s->table_opts, s->cache);
    rocksdb_options_set_block_based_table_factory(s->opts, s->table_opts);

    /* RocksDB insists that every family on disk is opened, so open the union of ours and
     * whatever a newer build may have added. */
    const char *names[PL_CF_COUNT + PL_STORE_EXTRA_CF_MAX];
    int n_names = 0;
    bool exists[PL_CF_COUNT] = {false};
    size_t n_disk = 0;
    char *err = NULL;
    char **disk = rocksdb_list_column_families(s->opts, db_path, &n_disk, &err);
    if (err != NULL) {
        /* A database that does not exist yet has nothing to list (RocksDB still returns
         * malloc(0) for the empty list). */
        free(err);
        free(disk);
        err = NULL;
        disk = NULL;
        n_disk = 0;
    }
    char *extra_names[PL_STORE_EXTRA_CF_MAX];
    int n_extra = 0;
    for (size_t i = 0; i < n_disk; i++) {
        int known = -1;
        for (int c = 0; c < PL_CF_COUNT; c++)
            if (strcmp(disk[i], cf_names[c]) == 0)
                known = c;
        if (known >= 0) {
            exists[known] = true;
        } else if (n_extra < PL_STORE_EXTRA_CF_MAX) {
            extra_names[n_extra++] = strdup(disk[i]);
        }
    }
    if (disk != NULL)
        rocksdb_list_column_families_destroy(disk, n_disk);

    int slot_of[PL_CF_COUNT];
    for (int c = 0; c < PL_CF_COUNT; c++) {
        slot_of[c] = -1;
        if (s->read_only && !exists[c] && c != PL_CF_DEFAULT)
            continue;
        slot_of[c] = n_names;
        names[n_names++] = cf_names[c];
    }
    int extra_first = n_names;
    for (int i = 0; i < n_extra; i++)
        names[n_names++] = extra_names[i];

    const rocksdb_options_t *cf_opts[PL_CF_COUNT + PL_STORE_EXTRA_CF_MAX];
    rocksdb_column_family_handle_t *handles[PL_CF_COUNT + PL_STORE_EXTRA_CF_MAX];
    for (int i = 0; i < n_names; i++)
        cf_opts[i] = s->opts;

    if (s->read_only)
        s->db = rocksdb_open_for_read_only_column_families(s->opts, db_path, n_names, names,
                                                           cf_opts, handles, 0, &err);
    else
        s->db =
            rocksdb_open_column_families(s->opts, db_path, n_names, names, cf_opts, handles, &err);
    for (int i = 0; i < n_extra; i++)
        free(extra_names[i]);
    if (err != NULL || s->db == NULL) {
        int rc = store_error(s, err, "cannot open database");
        if (rc == PL_ELOCKED)
            snprintf(s->err_text, sizeof(s->err_text),
                     "data dir %s is locked by another process (%s/LOCK is held)", data_dir,
                     db_path);
        free_options(s);
        s->db = NULL;
        return rc;
    }
    for (int c = 0; c < PL_CF_COUNT; c++)
        s->cf[c] = slot_of[c] >= 0 ? handles[slot_of[c]] : NULL;
    s->extra_cf_count = n_extra;
    for (int i = 0; i < n_extra; i++)
        s->extra_cf[i] = handles[extra_first + i];
    return 0;
}

void pl_store_close(struct pl_store *s)
{
    if (s->db == NULL)
        return;
    for (int c = 0; c < PL_CF_COUNT; c++)
        if (s->cf[c] != NULL)
            rocksdb_column_family_handle_destroy(s->cf[c]);
    for (int i = 0; i < s->extra_cf_count; i++)
        rocksdb_column_family_handle_destroy(s->extra_cf[i]);
    rocksdb_close(s->db);
    s->db = NULL;
    free_options(s);
}

int pl_store_get(struct pl_store *s,
                 enum pl_store_cf cf,
                 const void *key,
                 size_t key_len,
                 uint8_t **val_out,
                 size_t *val_len_out)
{
    PL_ASSERT(s->db != NULL && cf < PL_CF_COUNT);
    if (s->cf[cf] == NULL)
        return PL_ENOTFOUND;
    char *err = NULL;
    size_t len = 0;
    char *v = rocksdb_get_cf(s->db, s->ro, s->cf[cf], key, key_len, &len, &err);
    if (err != NULL)
        return store_error(s, err, "read failed");
    if (v == NULL)
        return PL_ENOTFOUND;
    *val_out = (uint8_t *)v;
    *val_len_out = len;
    return 0;
}

int pl_store_get_fixed(struct pl_store *s,
                       enum pl_store_cf cf,
                       const void *key,
                       size_t key_len,
                       void *val,
                       size_t val_len)
{
    uint8_t *v = NULL;
    size_t len = 0;
    int rc = pl_store_get(s, cf, key, key_len, &v, &len);
    if (rc != 0)
        return rc;
    if (len != val_len) {
        free(v);
        return PL_ECORRUPT;
    }
    memcpy(val, v, len);
    free(v);
    return 0;
}

int pl_store_put(struct pl_store *s,
                 enum pl_store_cf cf,
                 const void *key,
                 size_t key_len,
                 const void *val,
                 size_t val_len)
{
    struct pl_store_batch b;
    pl_store_batch_init(&b);
    pl_store_batch_put(s, &b, cf, key, key_len, val, val_len);
    int rc = pl_store_batch_commit(s, &b);
    pl_store_batch_close(&b);
    return rc;
}

void pl_store_batch_init(struct pl_store_batch *b)
{
    b->wb = rocksdb_writebatch_create();
}

void pl_store_batch_close(struct pl_store_batch *b)
{
    if (b->wb)
        rocksdb_writebatch_destroy(b->wb);
    b->wb = NULL;
}

void pl_store_batch_clear(struct pl_store_batch *b)
{
    rocksdb_writebatch_clear(b->wb);
}

void pl_store_batch_put(struct pl_store *s,
                        struct pl_store_batch *b,
                        enum pl_store_cf cf,
                        const void *key,
                        size_t key_len,
                        const void *val,
                        size_t val_len)
{
    PL_ASSERT(cf < PL_CF_COUNT && s->cf[cf] != NULL);
    rocksdb_writebatch_put_cf(b->wb, s->cf[cf], key, key_len, val, val_len);
}

void pl_store_batch_delete(struct pl_store *s,
                           struct pl_store_batch *b,
                           enum pl_store_cf cf,
                           const void *key,
                           size_t key_len)
{
    PL_ASSERT(cf < PL_CF_COUNT && s->cf[cf] != NULL);
    rocksdb_writebatch_delete_cf(b->wb, s->cf[cf], key, key_len);
}

/* Whether the data dir's file system has the reserve free; *free_bytes gets what it has. */
static bool space_ok(const struct pl_store *s, uint64_t *free_bytes)
{
    *free_bytes = 0;
    if (s->reserve_bytes == 0)
        return true;
    struct statvfs vfs;
    if (statvfs(s->dir, &vfs) != 0)
        return true; /* cannot tell: let RocksDB try and report */
    *free_bytes = (uint64_t)vfs.f_bavail * (uint64_t)vfs.f_frsize;
    return *free_bytes >= s->reserve_bytes;
}

bool pl_store_space_ok(const struct pl_store *s)
{
    uint64_t free_bytes;
    return space_ok(s, &free_bytes);
}

int pl_store_space_check(struct pl_store *s)
{
    uint64_t free_bytes;
    if (space_ok(s, &free_bytes))
        return 0;
    snprintf(s->err_text, sizeof(s->err_text),
             "no space: %llu bytes free in %s, below the reserve of %llu bytes "
             "(store.reserve_bytes)",
             (unsigned long long)free_bytes, s->dir, (unsigned long long)s->reserve_bytes);
    return PL_ENOSPACE;
}

static int batch_write(struct pl_store *s, struct pl_store_batch *b, rocksdb_writeoptions_t *wo)
{
    if (s->read_only) {
        snprintf(s->err_text, sizeof(s->err_text), "database is open read-only");
        return PL_ESTATE;
    }
    int rc = pl_store_space_check(s);
    if (rc != 0)
        return rc;
    char *err = NULL;
    rocksdb_write(s->db, wo, b->wb, &err);
    if (err != NULL)
        return store_error(s, err, "write failed");
    return 0;
}

int pl_store_batch_commit(struct pl_store *s, struct pl_store_batch *b)
{
    return batch_write(s, b, s->wo_sync);
}

int pl_store_batch_commit_nosync(struct pl_store *s, struct pl_store_batch *b)
{
    return batch_write(s, b, s->wo_nosync);
}

void pl_store_iter_init(struct pl_store *s, struct pl_store_iter *it, enum pl_store_cf cf)
{
    PL_ASSERT(cf < PL_CF_COUNT);
    it->it = s->cf[cf] ? rocksdb_create_iterator_cf(s->db, s->ro, s->cf[cf]) : NULL;
}

void pl_store_iter_init_scan(struct pl_store *s, struct pl_store_iter *it, enum pl_store_cf cf)
{
    PL_ASSERT(cf < PL_CF_COUNT);
    it->it = s->cf[cf] ? rocksdb_create_iterator_cf(s->db, s->ro_scan, s->cf[cf]) : NULL;
}

void pl_store_iter_close(struct pl_store_iter *it)
{
    if (it->it)
        rocksdb_iter_destroy(it->it);
    it->it = NULL;
}

void pl_store_iter_seek_first(struct pl_store_iter *it)
{
    if (it->it)
        rocksdb_iter_seek_to_first(it->it);
}

void pl_store_iter_seek_last(struct pl_store_iter *it)
{
    if (it->it)
        rocksdb_iter_seek_to_last(it->it);
}

void pl_store_iter_seek(struct pl_store_iter *it, const void *key, size_t key_len)
{
    if (it->it)
        rocksdb_iter_seek(it->it, key, key_len);
}

void pl_store_iter_seek_for_prev(struct pl_store_iter *it, const void *key, size_t key_len)
{
    if (it->it)
        rocksdb_iter_seek_for_prev(it->it, key, key_len);
}

bool pl_store_iter_valid(const struct pl_store_iter *it)
{
    return it->it != NULL && rocksdb_iter_valid(it->it);
}

void pl_store_iter_next(struct pl_store_iter *it)
{
    rocksdb_iter_next(it->it);
}
void pl_store_iter_prev(struct pl_store_iter *it)
{
    rocksdb_iter_prev(it->it);
}

const uint8_t *pl_store_iter_key(const struct pl_store_iter *it, size_t *len_out)
{
    return (const uint8_t *)rocksdb_iter_key(it->it, len_out);
}

const uint8_t *pl_store_iter_value(const struct pl_store_iter *it, size_t *len_out)
{
    return (const uint8_t *)rocksdb_iter_value(it->it, len_out);
}

int pl_store_iter_status(const struct pl_store_iter *it)
{
    if (it->it == NULL)
        return 0;
    char *err = NULL;
    rocksdb_iter_get_error(it->it, &err);
    if (err != NULL) {
        free(err);
        return PL_ESTORE;
    }
    return 0;
}
