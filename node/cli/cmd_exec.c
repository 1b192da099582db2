/*
 * `platelet _exec AGENT_PID COMMAND [ARGS...]`: internal, not listed. The agent starts each
 * supervised service through it so that the service dies with the agent: an agent killed
 * by SIGKILL must not leave an unsupervised copy holding the service's port, for the
 * restarted agent starts a fresh one. PR_SET_PDEATHSIG survives execve; a parent that is
 * already gone when it is set is caught by comparing getppid() with AGENT_PID.
 */
#include "cli.h"
#include "commands.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

int cmd_exec(int argc, char **argv)
{
    const char *cmd = "platelet _exec";
    if (argc < 2)
        return cli_fail(cmd, "usage: platelet _exec AGENT_PID COMMAND [ARGS...]");
    char *end = NULL;
    long agent = strtol(argv[0], &end, 10);
    if (end == argv[0] || *end != '\0' || agent <= 1)
        return cli_fail(cmd, "AGENT_PID: not a process id: '%s'", argv[0]);
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) {
        fprintf(stderr, "platelet _exec: prctl: %s\n", strerror(errno));
        return 1;
    }
    if (getppid() != (pid_t)agent)
        return 1; /* the agent died before we could tie ourselves to it */
    execvp(argv[1], argv + 1);
    fprintf(stderr, "platelet _exec: cannot run %s: %s\n", argv[1], strerror(errno));
    _exit(127); /* the shell's "command not found" */
}
