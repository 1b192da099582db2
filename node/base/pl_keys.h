/*
 * The node's Ed25519 identity key pair, kept in its data directory.
 *
 * Made at first start (libsodium's crypto_sign_keypair) and loaded afterwards:
 * `<data-dir>/node.key` holds the 64-byte secret key (file mode 0600, written to a temporary
 * file, fsynced and renamed into place so a crash never leaves half a key), and
 * `<data-dir>/node.pub` the public key as hex. The secret key lives in sodium_malloc memory
 * (guard pages, wiped on free). The ledger signs its tree heads with it.
 */
#ifndef PL_KEYS_H
#define PL_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PL_KEYS_PUBLIC_BYTES 32
#define PL_KEYS_SECRET_BYTES 64
#define PL_KEYS_SIGNATURE_BYTES 64

struct pl_keys
{
    uint8_t public_key[PL_KEYS_PUBLIC_BYTES];
    uint8_t *secret_key; /* sodium_malloc()ed, PL_KEYS_SECRET_BYTES */
};

/*
 * Loads the key pair of `data_dir`, or with `create` makes and stores one when there is
 * none. A secret key file readable by group or others, of the wrong size, or whose public
 * half disagrees with node.pub is PL_ECORRUPT (we do not sign with a key we cannot trust).
 * `err_text` (may be NULL) receives a one-line reason on failure. pl_keys_close() after.
 */
int pl_keys_open(struct pl_keys *k,
                 const char *data_dir,
                 bool create,
                 char *err_text,
                 size_t err_text_size);
void pl_keys_close(struct pl_keys *k);

/* Detached Ed25519 signature of msg. */
int pl_keys_sign(const struct pl_keys *k,
                 const uint8_t *msg,
                 size_t len,
                 uint8_t sig[PL_KEYS_SIGNATURE_BYTES]);
/* 0 when `sig` is a valid signature of msg by `public_key`, PL_EVERIFY otherwise. */
int pl_keys_verify(const uint8_t public_key[PL_KEYS_PUBLIC_BYTES],
                   const uint8_t *msg,
                   size_t len,
                   const uint8_t sig[PL_KEYS_SIGNATURE_BYTES]);

#endif
