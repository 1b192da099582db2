/*
 * `platelet postmortem`: one incident's chain and its contributing factors, from a data
 * directory (read-only) or a verified audit trail with proofs, as text, JSON or one HTML
 * page; and the check of a post-mortem's JSON form against its own signed head.
 *
 *   platelet postmortem INCIDENT (--data-dir D | --audit FILE) [--json] [--html FILE]
 *   platelet postmortem --verify FILE
 */
#include "cli.h"
#include "commands.h"
#include "pl_err.h"
#include "postmortem.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VERIFY_FILE_MAX (256u * 1024 * 1024)

static const char *const CMD = "platelet postmortem";

static int verify_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "%s: cannot read %s: %s\n", CMD, path, strerror(errno));
        return -errno;
    }
    char *text = NULL;
    size_t len = 0, cap = 0;
    int rc = 0;
    for (;;) {
        if (len + 65536 > cap) {
            if (cap >= VERIFY_FILE_MAX) {
                fprintf(stderr, "%s: %s is larger than %u bytes\n", CMD, path, VERIFY_FILE_MAX);
                rc = PL_ETOOBIG;
                goto done;
            }
            char *p = realloc(text, cap = cap ? cap * 2 : 1 << 20);
            if (p == NULL) {
                rc = -ENOMEM;
                goto done;
            }
            text = p;
        }
        size_t n = fread(text + len, 1, cap - len, f);
        len += n;
        if (n == 0)
            break;
    }
    if (ferror(f)) {
        fprintf(stderr, "%s: reading %s failed\n", CMD, path);
        rc = -EIO;
        goto done;
    }
    cJSON *doc = cJSON_ParseWithLength(text, len);
    if (doc == NULL || cJSON_GetObjectItemCaseSensitive(doc, "postmortem") == NULL) {
        fprintf(stderr, "%s: %s is not a post-mortem's JSON form (platelet postmortem --json)\n",
                CMD, path);
        cJSON_Delete(doc);
        rc = PL_EMALFORMED;
        goto done;
    }
    char err[256];
    uint64_t n = 0;
    rc = postmortem_verify(doc, &n, err, sizeof(err));
    if (rc != 0) {
        fprintf(stderr, "%s: %s: %s\n", CMD, path, err);
    } else {
        const cJSON *h = cJSON_GetObjectItemCaseSensitive(doc, "head");
        printf("ok: %" PRIu64 " entries of incident %s verified against the signed head of "
               "size %.0f\n", n, cJSON_GetStringValue(cJSON_GetObjectItem(doc, "incident")),
               cJSON_GetNumberValue(cJSON_GetObjectItem(h, "size")));
    }
    cJSON_Delete(doc);
done:
    free(text);
    fclose(f);
    return rc;
}

int cmd_postmortem(int argc, char **argv)
{
    const char *data_dir = NULL, *audit = NULL, *html = NULL, *verify = NULL;
    bool json = false, no_snapshots = false;
    struct cli_flag flags[] = {
        {"--data-dir", CLI_STR, &data_dir, "a node's data directory (read-only)", false, false},
        {"--audit", CLI_STR, &audit, "an audit trail exported with --proofs (verified first)",
         false, false},
        {"--json", CLI_BOOL, &json, "the JSON form, with every entry's inclusion proof", false,
         false},
        {"--html", CLI_STR, &html, "also write one self-contained HTML page to FILE", false,
         false},
        {"--verify", CLI_STR, &verify, "check a post-mortem's JSON form against its head", false,
         false},
        {"--no-snapshots", CLI_BOOL, &no_snapshots, "replay from the first entry, not from the "
         "nearest state snapshot before the incident", false, false},
        {0},
    };
    struct cli_args args;
    int rc = cli_parse(CMD,
                       "platelet postmortem INCIDENT (--data-dir D | --audit FILE) [--json] "
                       "[--html FILE] [--no-snapshots]\n       platelet postmortem --verify FILE",
                       flags, argc, argv, 0, 1, &args);
    if (rc != 0)
        return rc == 1 ? 0 : rc;
    if (verify != NULL) {
        if (args.npos != 0 || data_dir || audit || json || html)
            return cli_fail(CMD, "--verify FILE takes nothing else");
        return verify_file(verify);
    }
    if (args.npos != 1)
        return cli_fail(CMD, "give the incident's id (see `platelet replay` for the ids)");
    if ((data_dir == NULL) == (audit == NULL))
        return cli_fail(CMD, "give exactly one of --data-dir D and --audit FILE");
    const char *id = args.pos[0];
    if (id[0] == '\0' || strlen(id) >= SWARM_ID_MAX)
        return cli_fail(CMD, "incident id: 1 to %d bytes", SWARM_ID_MAX - 1);

    struct replay r;
    rc = data_dir ? replay_open_dir(&r, data_dir) : replay_open_audit(&r, audit);
    r.no_snapshots = no_snapshots;
    if (rc == 0)
        rc = replay_seek_incident(&r, id, POSTMORTEM_BEFORE_MS);
    if (rc != 0) {
        fprintf(stderr, "%s: %s\n", CMD, r.err);
        replay_close(&r);
        return rc;
    }
    struct postmortem pm;
    rc = postmortem_build(&pm, &r, id);
    replay_close(&r);
    if (rc != 0) {
        fprintf(stderr, "%s: %s\n", CMD, pm.err);
        postmortem_close(&pm);
        return rc == PL_EUSAGE ? PL_EUSAGE : rc;
    }
    cJSON *doc = postmortem_json(&pm);
    postmortem_close(&pm);
    if (doc == NULL)
        return -ENOMEM;
    if (html != NULL) {
        FILE *f = fopen(html, "w");
        if (f == NULL) {
            fprintf(stderr, "%s: cannot write %s: %s\n", CMD, html, strerror(errno));
            rc = -errno;
        } else {
            rc = postmortem_html(doc, f);
            if (fclose(f) != 0 && rc == 0)
                rc = -EIO;
            if (rc != 0)
                fprintf(stderr, "%s: writing %s failed: %s\n", CMD, html, pl_strerror(rc));
        }
    }
    if (rc == 0 && json) {
        char *t = cJSON_PrintUnformatted(doc);
        if (t == NULL) {
            rc = -ENOMEM;
        } else {
            printf("%s\n", t);
            free(t);
        }
    } else if (rc == 0) {
        postmortem_text(doc, stdout);
    }
    cJSON_Delete(doc);
    return rc;
}
