/*
 * Error codes shared by every Platelet module.
 *
 * Functions return 0 on success and a negative code on failure: -errno for system
 * errors, or one of the project codes below. The codes come from one X-macro table so
 * the enum, pl_strerror() and pl_err_name() can never disagree. Codes are only ever
 * appended: their numbers appear in logs and on the wire of the local API.
 */
#ifndef PL_ERR_H
#define PL_ERR_H

/* X(name, value, message) */
#define PL_ERR_TABLE(X)                                                        \
    X(PL_EMALFORMED, -1000, "malformed input")                                 \
    X(PL_ECORRUPT, -1001, "stored data is corrupt")                            \
    X(PL_ENOTFOUND, -1002, "not found")                                        \
    X(PL_ETOOBIG, -1003, "size limit exceeded")                                \
    X(PL_ESTORE, -1004, "storage engine error")                                \
    X(PL_ECRYPTO, -1005, "cryptographic operation failed")                     \
    X(PL_EVERSION, -1006, "unsupported version")                               \
    X(PL_EAUTH, -1007, "authentication failed")                                \
    X(PL_ELOCKED, -1008, "data directory is locked by another process")        \
    X(PL_EUSAGE, -1009, "bad command-line usage")                              \
    X(PL_EVERIFY, -1010, "verification failed")                                \
    X(PL_ERANGE, -1011, "value out of range")                                  \
    X(PL_ENOLEADER, -1012, "no leader")                                        \
    X(PL_ETIMEOUT, -1013, "timed out")                                         \
    X(PL_ECONFIG, -1014, "bad configuration")                                  \
    X(PL_ESTATE, -1015, "operation not valid in the current state")            \
    X(PL_EFULL, -1016, "queue or buffer is full")                              \
    X(PL_ECLUSTER, -1017, "message from another cluster")                      \
    X(PL_ESTALE, -1018, "stale term or version")                               \
    X(PL_EPROTO, -1019, "protocol error")                                      \
    X(PL_ENOSPACE, -1020, "no space left for the data directory")

enum pl_err {
    PL_OK = 0,
#define PL_ERR_ENUM(name, value, msg) name = value,
    PL_ERR_TABLE(PL_ERR_ENUM)
#undef PL_ERR_ENUM
};

/* A human-readable message for any code (project or -errno). Never NULL. */
const char *pl_strerror(int err);

/* The symbolic name ("PL_ECORRUPT", "ENOENT"), never NULL. */
const char *pl_err_name(int err);

#endif
