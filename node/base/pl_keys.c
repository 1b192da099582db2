/*
 * pl_keys.h: the node key pair on disk. Writes replace files whole (pl_file.h), so the
 * key is either wholly there or absent.
 */
#include "pl_keys.h"

#include "pl_err.h"
#include "pl_file.h"
#include "pl_text.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void set_err(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_err(char *buf, size_t size, const char *fmt, ...)
{
    if (buf == NULL || size == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, size, fmt, ap);
    va_end(ap);
}

/* Writes dir/name whole (pl_file.h). */
static int write_file_atomic(const char *dir, const char *name, const void *p, size_t n,
                             mode_t mode)
{
    char path[4096];
    if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path))
        return -ENAMETOOLONG;
    return pl_file_write_atomic(path, p, n, mode);
}

/* Reads at most cap bytes; *n gets the size. -EFBIG when the file is longer. */
static int read_file(const char *path, void *p, size_t cap, size_t *n, struct stat *st)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = 0;
    if (fstat(fd, st) != 0) {
        rc = -errno;
        goto done;
    }
    size_t got = 0;
    for (;;) {
        uint8_t tmp[256];
        ssize_t r = read(fd, tmp, sizeof(tmp));
        if (r < 0) {
            if (errno == EINTR)
                continue;
            rc = -errno;
            goto done;
        }
        if (r == 0)
            break;
        if (got + (size_t)r > cap) {
            rc = -EFBIG;
            sodium_memzero(tmp, sizeof(tmp));
            goto done;
        }
        memcpy((uint8_t *)p + got, tmp, (size_t)r);
        sodium_memzero(tmp, sizeof(tmp));
        got += (size_t)r;
    }
    *n = got;
done:
    close(fd);
    return rc;
}

static int create_keys(struct pl_keys *k, const char *dir, char *err, size_t err_size)
{
    if (crypto_sign_keypair(k->public_key, k->secret_key) != 0) {
        set_err(err, err_size, "cannot generate a key pair");
        return PL_ECRYPTO;
    }
    char hex[2 * PL_KEYS_PUBLIC_BYTES + 2];
    pl_hex_encode(k->public_key, PL_KEYS_PUBLIC_BYTES, hex);
    strcat(hex, "\n");
    /* The public half first: a crash between the two leaves no secret key, and the next
     * start makes a fresh pair. */
    int rc = write_file_atomic(dir, "node.pub", hex, strlen(hex), 0644);
    if (rc == 0)
        rc = write_file_atomic(dir, "node.key", k->secret_key, PL_KEYS_SECRET_BYTES, 0600);
    if (rc != 0) {
        set_err(err, err_size, "cannot write the node key in %s: %s", dir, strerror(-rc));
        return rc;
    }
    return 0;
}

int pl_keys_open(struct pl_keys *k, const char *data_dir, bool create, char *err, size_t err_size)
{
    if (sodium_init() < 0) {
        set_err(err, err_size, "libsodium failed to initialise");
        return PL_ECRYPTO;
    }
    memset(k, 0, sizeof(*k));
    k->secret_key = sodium_malloc(PL_KEYS_SECRET_BYTES);
    if (k->secret_key == NULL) {
        set_err(err, err_size, "out of memory for the secret key");
        return -ENOMEM;
    }
    char path[4096];
    if (snprintf(path, sizeof(path), "%s/node.key", data_dir) >= (int)sizeof(path)) {
        set_err(err, err_size, "data dir path is too long");
        goto fail_free;
    }
    size_t n = 0;
    struct stat st;
    int rc = read_file(path, k->secret_key, PL_KEYS_SECRET_BYTES, &n, &st);
    if (rc == -ENOENT && create) {
        rc = create_keys(k, data_dir, err, err_size);
        if (rc != 0)
            goto fail_rc;
        return 0;
    }
    if (rc == -ENOENT) {
        set_err(err, err_size, "no node key in %s", data_dir);
        rc = PL_ENOTFOUND;
        goto fail_rc;
    }
    if (rc != 0 || n != PL_KEYS_SECRET_BYTES) {
        set_err(err, err_size, "cannot read node key %s: %s", path,
                rc != 0 ? strerror(-rc) : "wrong size");
        rc = rc != 0 ? rc : PL_ECORRUPT;
        goto fail_rc;
    }
    if ((st.st_mode & 077) != 0) {
        set_err(err, err_size, "node key %s is readable by others (mode %03o); chmod 600 it", path,
                (unsigned)(st.st_mode & 0777));
        rc = PL_ECORRUPT;
        goto fail_rc;
    }
    crypto_sign_ed25519_sk_to_pk(k->public_key, k->secret_key);
    char pub_path[4096], text[2 * PL_KEYS_PUBLIC_BYTES + 8];
    snprintf(pub_path, sizeof(pub_path), "%s/node.pub", data_dir);
    size_t tn = 0;
    struct stat pst;
    uint8_t pub[PL_KEYS_PUBLIC_BYTES];
    rc = read_file(pub_path, text, sizeof(text) - 1, &tn, &pst);
    if (rc == 0) {
        while (tn > 0 && (text[tn - 1] == '\n' || text[tn - 1] == '\r'))
            tn--;
        if (pl_hex_decode(text, tn, pub, sizeof(pub)) != 0 ||
            memcmp(pub, k->public_key, sizeof(pub)) != 0) {
            set_err(err, err_size, "%s does not match the secret key in %s", pub_path, path);
            rc = PL_ECORRUPT;
            goto fail_rc;
        }
    } else if (rc == -ENOENT) {
        /* The public half is derived; put it back. */
        char hex[2 * PL_KEYS_PUBLIC_BYTES + 2];
        pl_hex_encode(k->public_key, PL_KEYS_PUBLIC_BYTES, hex);
        strcat(hex, "\n");
        if (!create || write_file_atomic(data_dir, "node.pub", hex, strlen(hex), 0644) != 0) {
            /* Read-only callers do without the file. */
        }
    } else {
        set_err(err, err_size, "cannot read %s: %s", pub_path, strerror(-rc));
        goto fail_rc;
    }
    return 0;

fail_rc:
    sodium_free(k->secret_key);
    k->secret_key = NULL;
    return rc;
fail_free:
    sodium_free(k->secret_key);
    k->secret_key = NULL;
    return PL_EUSAGE;
}

void pl_keys_close(struct pl_keys *k)
{
    if (k->secret_key != NULL)
        sodium_free(k->secret_key);
    k->secret_key = NULL;
}

int pl_keys_sign(const struct pl_keys *k,
                 const uint8_t *msg,
                 size_t len,
                 uint8_t sig[PL_KEYS_SIGNATURE_BYTES])
{
    if (k->secret_key == NULL)
        return PL_ESTATE;
    if (crypto_sign_detached(sig, NULL, msg, len, k->secret_key) != 0)
        return PL_ECRYPTO;
    return 0;
}

int pl_keys_verify(const uint8_t public_key[PL_KEYS_PUBLIC_BYTES],
                   const uint8_t *msg,
                   size_t len,
                   const uint8_t sig[PL_KEYS_SIGNATURE_BYTES])
{
    if (sodium_init() < 0)
        return PL_ECRYPTO;
    return crypto_sign_verify_detached(sig, msg, len, public_key) == 0 ? 0 : PL_EVERIFY;
}
