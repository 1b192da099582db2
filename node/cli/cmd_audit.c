/*
 * `platelet audit export|verify`: the audit trail out of a data directory, and its offline
 * verification from the file alone (replay/audit.h has the format and what is checked).
 */
#include "audit.h"
#include "pl_err.h"
#include "pl_text.h"
#include "cli.h"
#include "commands.h"
#include "ledger.h"
#include "pl_json.h"
#include "pl_store.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int cmd_audit_export(int argc, char **argv)
{
    const char *cmd = "platelet audit export";
    const char *data_dir = NULL, *since = NULL, *until = NULL, *format = "jsonl", *path = NULL;
    uint64_t from = 0, to = 0;
    bool proofs = false;
    struct cli_flag flags[] = {
        {"--data-dir", CLI_STR, &data_dir, "the node's data directory", true, false},
        {"--from", CLI_U64, &from, "first entry index (default 0)", false, false},
        {"--to", CLI_U64, &to, "last entry index, inclusive (default: the newest)", false, false},
        {"--since", CLI_STR, &since, "only entries at or after this time (RFC 3339 or ms)", false,
         false},
        {"--until", CLI_STR, &until, "only entries at or before this time (RFC 3339 or ms)", false,
         false},
        {"--format", CLI_STR, &format, "jsonl (default, verifiable) or csv", false, false},
        {"--proofs", CLI_BOOL, &proofs, "add each entry's inclusion proof (jsonl)", false, false},
        {"-o", CLI_STR, &path, "write to this file instead of stdout", false, false},
        {0},
    };
    struct cli_args args;
    int rc = cli_parse(cmd,
                       "platelet audit export --data-dir D [--from I] [--to J] [--since TIME] "
                       "[--until TIME] [--format jsonl|csv] [--proofs] [-o FILE]",
                       flags, argc, argv, 0, 0, &args);
    if (rc != 0)
        return rc == 1 ? 0 : rc;
    struct audit_export_opts o = {
        .from = from, .to = to, .has_to = flags[2].seen, .proofs = proofs};
    if (strcmp(format, "jsonl") == 0)
        o.format = AUDIT_JSONL;
    else if (strcmp(format, "csv") == 0)
        o.format = AUDIT_CSV;
    else
        return cli_fail(cmd, "--format: '%s' is not jsonl or csv", format);
    if (proofs && o.format == AUDIT_CSV)
        return cli_fail(cmd, "--proofs needs --format jsonl");
    if (since != NULL) {
        if (pl_time_parse(since, &o.since_ms) != 0)
            return cli_fail(cmd, "--since: '%s' is not an RFC 3339 time or milliseconds", since);
        o.has_since = true;
    }
    if (until != NULL) {
        if (pl_time_parse(until, &o.until_ms) != 0)
            return cli_fail(cmd, "--until: '%s' is not an RFC 3339 time or milliseconds", until);
        o.has_until = true;
    }

    struct pl_store store;
    rc = pl_store_open(&store, data_dir, PL_STORE_READ_ONLY);
    if (rc != 0) {
        fprintf(stderr, "%s: %s\n", cmd, store.err_text);
        return rc;
    }
    struct ledger l;
    rc = ledger_open(&l, &store, NULL);
    if (rc != 0) {
        fprintf(stderr, "%s: cannot open the ledger: %s (run 'platelet ledger check')\n", cmd,
                l.err_text[0] ? l.err_text : pl_strerror(rc));
        pl_store_close(&store);
        return rc;
    }
    /* Write to a temporary file and rename, so a failed export leaves no half file. */
    FILE *out = stdout;
    char tmp[4096] = "";
    if (path != NULL) {
        if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof(tmp)) {
            rc = cli_fail(cmd, "-o: path too long");
            goto done;
        }
        out = fopen(tmp, "w");
        if (out == NULL) {
            fprintf(stderr, "%s: cannot write %s: %s\n", cmd, path, strerror(errno));
            rc = -errno;
            goto done;
        }
    }
    char err[256] = "";
    uint64_t count = 0;
    rc = audit_export(&l, &o, out, &count, err, sizeof(err));
    if (path != NULL) {
        if (fclose(out) != 0 && rc == 0) {
            rc = -EIO;
            snprintf(err, sizeof(err), "cannot write %s", path);
        }
        if (rc == 0 && rename(tmp, path) != 0) {
            rc = -errno;
            snprintf(err, sizeof(err), "cannot rename to %s: %s", path, strerror(errno));
        }
        if (rc != 0)
            unlink(tmp);
    }
    if (rc != 0) {
        fprintf(stderr, "%s: %s\n", cmd, err[0] ? err : pl_strerror(rc));
        goto done;
    }
    if (path != NULL)
        fprintf(stderr, "exported %" PRIu64 " entries (head size %" PRIu64 ") to %s\n", count,
                l.size, path);
done:
    ledger_close(&l);
    pl_store_close(&store);
    return rc;
}

static int cmd_audit_verify(int argc, char **argv)
{
    const char *cmd = "platelet audit verify";
    const char *key_hex = NULL;
    bool json = false;
    struct cli_flag flags[] = {
        {"--public-key", CLI_STR, &key_hex, "require the head to be signed by this key (hex)",
         false, false},
        {"--json", CLI_BOOL, &json, "print one JSON document", false, false},
        {0},
    };
    struct cli_args args;
    int rc = cli_parse(cmd, "platelet audit verify FILE [--public-key HEX] [--json]", flags, argc,
                       argv, 1, 1, &args);
    if (rc != 0)
        return rc == 1 ? 0 : rc;
    uint8_t key[LEDGER_KEY_BYTES];
    if (key_hex != NULL && pl_hex_decode(key_hex, strlen(key_hex), key, sizeof(key)) != 0)
        return cli_fail(cmd, "--public-key: not 64 hex digits");
    const char *path = args.pos[0];
    FILE *in = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (in == NULL) {
        fprintf(stderr, "%s: cannot read %s: %s\n", cmd, path, strerror(errno));
        return -errno;
    }
    struct audit_verify_report r;
    rc = audit_verify(in, key_hex ? key : NULL, &r);
    if (in != stdin)
        fclose(in);
    if (rc != 0 && rc != PL_EVERIFY) {
        fprintf(stderr, "%s: reading %s failed: %s\n", cmd, path, pl_strerror(rc));
        return rc;
    }
    char root[65], pk[65];
    pl_hex_encode(r.head.root, 32, root);
    pl_hex_encode(r.head.public_key, 32, pk);
    if (json) {
        printf("{\"ok\":%s,\"entries\":%" PRIu64 ",\"proofs_verified\":%" PRIu64
               ",\"root_recomputed\":%s,\"inclusion_checked\":%s",
               r.ok ? "true" : "false", r.entries, r.proofs_verified,
               r.root_recomputed ? "true" : "false", r.inclusion_checked ? "true" : "false");
        if (!r.ok) {
            struct pl_buf b;
            pl_buf_init(&b, 4096);
            if (pl_json_write_string(&b, r.reason, strlen(r.reason)) != 0) {
                pl_buf_reset(&b);
                pl_buf_append_str(&b, "\"?\"");
            }
            printf(",\"line\":%" PRIu64 ",\"reason\":%.*s", r.fail_line, (int)b.len,
                   (const char *)b.data);
            pl_buf_close(&b);
        }
        printf("}\n");
    }
    if (!r.ok) {
        fprintf(stderr, "%s: %s: line %" PRIu64 ": %s\n", cmd, path, r.fail_line, r.reason);
        return PL_EVERIFY;
    }
    if (!json) {
        printf("head: size %" PRIu64 ", root %s\n  signed by %s%s: signature valid\n", r.head.size,
               root, pk, key_hex ? " (the pinned key)" : "");
        printf("entries: %" PRIu64
               " lines, each byte-for-byte the rendering of its leaf; leaf "
               "hashes recomputed\n",
               r.entries);
        if (r.proofs_verified > 0)
            printf("inclusion: %" PRIu64 " audit paths verified against the signed head\n",
                   r.proofs_verified);
        else if (r.root_recomputed)
            printf("inclusion: the head's root recomputed from all %" PRIu64 " leaves matches\n",
                   r.entries);
        else
            printf(
                "NOT checked: that these entries are in the signed tree (the file has no "
                "proofs and not the full range 0..%" PRIu64 "; export with --proofs)\n",
                r.head.size ? r.head.size - 1 : 0);
        if (key_hex == NULL)
            printf(
                "note: the key was taken from the file; pin it with --public-key to check "
                "who signed\n");
        printf("OK\n");
    }
    return 0;
}

int cmd_audit(int argc, char **argv)
{
    if (argc >= 1 && strcmp(argv[0], "export") == 0)
        return cmd_audit_export(argc - 1, argv + 1);
    if (argc >= 1 && strcmp(argv[0], "verify") == 0)
        return cmd_audit_verify(argc - 1, argv + 1);
    if (argc >= 1 && (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0)) {
        printf(
            "usage: platelet audit <command> [flags]\n\ncommands:\n"
            "  export       write the audit trail (jsonl with signed head, or csv)\n"
            "  verify       verify an exported jsonl trail offline\n");
        return 0;
    }
    if (argc < 1)
        return cli_fail("platelet audit", "missing command: export or verify");
    return cli_fail("platelet audit", "unknown command '%s' (export, verify)", argv[0]);
}
