/*
 * Command-line flags for the `platelet` subcommands.
 *
 * Each command declares a table of flags; cli_parse() fills them in and gathers the
 * positional arguments. Every mistake is one clear line on stderr naming the command and
 * the flag ("platelet ledger proof: --index: 'x' is not a non-negative integer") and a
 * PL_EUSAGE return, so the command exits 2 having changed nothing.
 */
#ifndef PL_CLI_H
#define PL_CLI_H

#include <stdbool.h>
#include <stdint.h>

enum cli_type {
    CLI_STR,   /* const char ** */
    CLI_U64,   /* uint64_t * */
    CLI_BOOL,  /* bool *; takes no value */
    CLI_MULTI, /* struct cli_list *; repeatable string */
    CLI_DOUBLE /* double * */
};

#define CLI_LIST_MAX 32
struct cli_list {
    const char *items[CLI_LIST_MAX];
    int n;
};

struct cli_flag {
    const char *name; /* "--data-dir" or "-o" */
    enum cli_type type;
    void *dst;
    const char *help;
    bool required;
    bool seen; /* set by cli_parse */
};

#define CLI_POS_MAX 16
struct cli_args {
    const char *pos[CLI_POS_MAX];
    int npos;
};

/*
 * Parses argv[0..argc) (the words after the command's name). `cmd` is the full command
 * ("platelet ledger proof") for messages; `usage` is printed for --help. Returns 0,
 * PL_EUSAGE after printing an error, or 1 when --help was printed (exit 0).
 * `min_pos`/`max_pos` bound the positional arguments.
 */
int cli_parse(const char *cmd, const char *usage, struct cli_flag *flags, int argc, char **argv,
              int min_pos, int max_pos, struct cli_args *out);

/* Prints "<cmd>: <message>" to stderr; returns PL_EUSAGE for `return cli_fail(...)`. */
int cli_fail(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Maps a return code to the process exit status: 0 -> 0, PL_EUSAGE -> 2, else 1. */
int cli_exit_code(int rc);

#endif
