/*
 * `platelet token create`: makes an API token (api_token.h) and puts it where the agent
 * and a client read it.
 */
#include "api_token.h"
#include "pl_err.h"
#include "pl_file.h"
#include "cli.h"
#include "commands.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static int token_create(int argc, char **argv)
{
    static const char cmd[] = "platelet token create";
    static const char usage[] =
        "platelet token create --scope read|operate [--tokens AGENT_FILE] [--out CLIENT_FILE]";
    const char *scope_name = NULL, *tokens = NULL, *out = NULL;
    struct cli_flag flags[] = {
        {"--scope", CLI_STR, &scope_name, "read (GET only) or operate (everything)", true, false},
        {"--tokens", CLI_STR, &tokens, "the agent's api_token_file: add the token to it", false, false},
        {"--out", CLI_STR, &out, "write the token alone to this new file (for --token-file)", false, false},
        {NULL, 0, NULL, NULL, false, false},
    };
    struct cli_args args;
    int rc = cli_parse(cmd, usage, flags, argc, argv, 0, 0, &args);
    if (rc != 0)
        return rc == 1 ? 0 : rc;
    enum api_scope scope;
    if (api_scope_parse(scope_name, &scope) != 0)
        return cli_fail(cmd, "--scope: expected read or operate, got '%s'", scope_name);
    struct stat st;
    if (out != NULL && lstat(out, &st) == 0)
        return cli_fail(cmd, "--out: %s exists; remove it or choose another path", out);
    if (sodium_init() < 0) {
        fprintf(stderr, "%s: libsodium failed to initialise\n", cmd);
        return PL_ECRYPTO;
    }
    char token[API_TOKEN_NEW_CHARS + 2];
    api_token_new(token);
    char err[512];
    if (tokens != NULL && (rc = api_tokens_append(tokens, scope, token, err, sizeof(err))) != 0) {
        fprintf(stderr, "%s: --tokens: %s\n", cmd, err);
        goto done;
    }
    if (out != NULL) {
        strcat(token, "\n");
        rc = pl_file_write_atomic(out, token, strlen(token), 0600);
        if (rc != 0)
            fprintf(stderr, "%s: --out: cannot write %s: %s\n", cmd, out, strerror(-rc));
    } else {
        printf("%s\n", token);
    }
done:
    sodium_memzero(token, sizeof(token));
    return rc;
}

int cmd_token(int argc, char **argv)
{
    static const char usage[] = "platelet token create --scope read|operate [--tokens FILE] "
                                "[--out FILE]";
    if (argc >= 1 && (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0)) {
        printf("usage: %s\n", usage);
        return 0;
    }
    if (argc < 1 || strcmp(argv[0], "create") != 0)
        return cli_fail("platelet token", "expected 'create' (usage: %s)", usage);
    return token_create(argc - 1, argv + 1);
}
