/*
 * The flag parser of cli.h.
 */
#include "cli.h"

#include "pl_err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cli_fail(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return PL_EUSAGE;
}

int cli_exit_code(int rc)
{
    if (rc == 0)
        return 0;
    return rc == PL_EUSAGE ? 2 : 1;
}

static int set_value(const char *cmd, struct cli_flag *f, const char *value)
{
    switch (f->type) {
    case CLI_STR:
        *(const char **)f->dst = value;
        return 0;
    case CLI_MULTI: {
        struct cli_list *l = f->dst;
        if (l->n >= CLI_LIST_MAX)
            return cli_fail(cmd, "%s: given more than %d times", f->name, CLI_LIST_MAX);
        l->items[l->n++] = value;
        return 0;
    }
    case CLI_U64: {
        char *end = NULL;
        errno = 0;
        if (value[0] == '\0' || value[0] == '-')
            return cli_fail(cmd, "%s: '%s' is not a non-negative integer", f->name, value);
        unsigned long long v = strtoull(value, &end, 10);
        if (errno != 0 || *end != '\0')
            return cli_fail(cmd, "%s: '%s' is not a non-negative integer", f->name, value);
        *(uint64_t *)f->dst = v;
        return 0;
    }
    case CLI_DOUBLE: {
        char *end = NULL;
        errno = 0;
        double v = strtod(value, &end);
        if (value[0] == '\0' || errno != 0 || *end != '\0')
            return cli_fail(cmd, "%s: '%s' is not a number", f->name, value);
        *(double *)f->dst = v;
        return 0;
    }
    case CLI_BOOL:
        *(bool *)f->dst = true;
        return 0;
    }
    return PL_EUSAGE;
}

int cli_parse(const char *cmd, const char *usage, struct cli_flag *flags, int argc, char **argv,
              int min_pos, int max_pos, struct cli_args *out)
{
    out->npos = 0;
    int only_pos = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!only_pos && (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)) {
            printf("usage: %s\n", usage);
            for (struct cli_flag *f = flags; f != NULL && f->name != NULL; f++)
                printf("  %-18s %s%s\n", f->name, f->help, f->required ? " (required)" : "");
            return 1;
        }
        if (!only_pos && strcmp(a, "--") == 0) {
            only_pos = 1;
            continue;
        }
        if (!only_pos && a[0] == '-' && a[1] != '\0') {
            const char *eq = strchr(a, '=');
            size_t name_len = eq ? (size_t)(eq - a) : strlen(a);
            struct cli_flag *f = flags;
            for (; f != NULL && f->name != NULL; f++)
                if (strlen(f->name) == name_len && strncmp(f->name, a, name_len) == 0)
                    break;
            if (f == NULL || f->name == NULL)
                return cli_fail(cmd, "unknown flag '%.*s' (see '%s --help')", (int)name_len, a,
                                cmd);
            if (f->seen && f->type != CLI_MULTI)
                return cli_fail(cmd, "%s given twice", f->name);
            f->seen = true;
            const char *value = NULL;
            if (f->type == CLI_BOOL) {
                if (eq != NULL)
                    return cli_fail(cmd, "%s takes no value", f->name);
            } else if (eq != NULL) {
                value = eq + 1;
            } else if (i + 1 < argc) {
                value = argv[++i];
            } else {
                return cli_fail(cmd, "%s needs a value", f->name);
            }
            int rc = set_value(cmd, f, value);
            if (rc != 0)
                return rc;
            continue;
        }
        if (out->npos >= max_pos || out->npos >= CLI_POS_MAX)
            return cli_fail(cmd, "unexpected argument '%s' (see '%s --help')", a, cmd);
        out->pos[out->npos++] = a;
    }
    for (struct cli_flag *f = flags; f != NULL && f->name != NULL; f++)
        if (f->required && !f->seen)
            return cli_fail(cmd, "%s is required (see '%s --help')", f->name, cmd);
    if (out->npos < min_pos)
        return cli_fail(cmd, "missing argument (usage: %s)", usage);
    return 0;
}
