# Shared helpers of the CLI integration tests (ledger_cli.sh, replay_cli.sh), sourced with
# the binary's path as $1: a scratch folder $T removed on exit, failures counted rather
# than fatal so one run reports them all, and `cli_done` to end with the verdict.
set -u
P="$1"
T="$(mktemp -d "${TMPDIR:-/tmp}/$(basename "$0" .sh).XXXXXX")"
trap 'rm -rf "$T"' EXIT
failures=0

fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
# expect CODE DESCRIPTION -- command...: runs it, checks the exit code, keeps stdout/stderr
# in $T/out and $T/err; a failure must say so in exactly one line.
expect() {
    local want="$1" what="$2"; shift 3
    "$@" >"$T/out" 2>"$T/err"
    local got=$?
    if [ "$got" != "$want" ]; then
        fail "$what: exit $got, want $want; stderr: $(head -c 300 "$T/err")"
    fi
    if [ "$want" != 0 ] && [ "$(wc -l <"$T/err")" != 1 ]; then
        fail "$what: want exactly one line on stderr, got: $(cat "$T/err")"
    fi
}
# cli_done MESSAGE: exits 1 when anything failed, else prints MESSAGE.
cli_done() {
    if [ "$failures" != 0 ]; then
        echo "$failures failure(s)" >&2
        exit 1
    fi
    echo "$1"
}
