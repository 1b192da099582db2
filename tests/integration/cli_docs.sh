#!/usr/bin/env bash
# The bash completion and the man page the build generates from the commands' --help
# (scripts/gen_cli_docs.py): the completion, run in a real bash, offers exactly the
# commands of main.c's table (the hidden _exec aside), each command's verbs and flags,
# and file names after a file flag; the man page renders without a warning and has a
# section for every command and sub-command.
source "$(dirname "$0")/lib.sh"
SRC=${PLATELET_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
DOC="$(dirname "$(readlink -f "$PLATELET")")/doc"
[ -f "$DOC/platelet.bash" ] && [ -f "$DOC/platelet.1" ] ||
    fail "the build made no $DOC/platelet.bash or platelet.1 (target cli_docs)"

# complete WORDS...: what the completion offers for the command line WORDS, the last word
# being the one under the cursor; one per line, sorted.
complete_words() {
    bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _platelet
             printf "%s\n" "${COMPREPLY[@]}" | sort' _ "$DOC/platelet.bash" "$@"
}

# main.c's table: {"name", cmd_fn, "summary"}; entries with a NULL summary are hidden.
table=$(grep -oE '^\s*\{"[a-z][a-z0-9-]*", cmd_[a-z_]+, "' "$SRC/node/main.c" |
    sed -E 's/^\s*\{"([^"]+)".*/\1/' | sort)
[ "$(echo "$table" | wc -l)" -ge 20 ] || fail "read too few commands from main.c: $table"
offered=$(complete_words platelet "")
[ "$offered" = "$table" ] || fail "completion offers:
$offered
main.c's table has:
$table"
grep -q '"_exec", cmd_exec, NULL' "$SRC/node/main.c" || fail "main.c's hidden _exec entry changed"
grep -qx _exec <<<"$offered" && fail "completion offers the hidden _exec"
pass "completion offers every command of main.c's table ($(echo "$table" | wc -l)), no hidden one"

[ "$(complete_words platelet ra)" = raft ] || fail "'platelet ra' does not complete to raft"
[ "$(complete_words platelet raft "" | tr '\n' ' ')" = "add-voter remove status transfer " ] ||
    fail "raft verbs: $(complete_words platelet raft "")"
[ "$(complete_words platelet ledger "" | tr '\n' ' ')" = "append check consistency proof status " ] ||
    fail "ledger sub-commands: $(complete_words platelet ledger "")"
[ "$(complete_words platelet agent --data)" = --data-dir ] || fail "'agent --data' does not complete"
[ "$(complete_words platelet ledger proof --in)" = --index ] || fail "'ledger proof --in' does not complete"
grep -qx -- --direction <<<"$(complete_words platelet fault --)" || fail "fault's flags are missing"
mkdir "$TEST_DIR/cwd" && touch "$TEST_DIR/cwd/agent.json"
[ "$(cd "$TEST_DIR/cwd" && complete_words platelet agent --config ag)" = agent.json ] ||
    fail "no file names after --config"
# Every flag of 'platelet agent --help' is offered.
# A here-string, not a pipe: grep -q stops reading at the first match, and under pipefail
# the writer's SIGPIPE would fail the line.
agent_offered=$(complete_words platelet agent --)
for flag in $("$PLATELET" agent --help | grep -oE '^\s+--[a-z-]+' | tr -d ' '); do
    grep -qx -- "$flag" <<<"$agent_offered" || fail "agent flag $flag not offered"
done
pass "verbs, sub-commands, flags and file names complete"

warnings=$(LC_ALL=C.UTF-8 MANWIDTH=100 man --warnings -l "$DOC/platelet.1" 2>&1 >"$TEST_DIR/man.txt") ||
    fail "man could not render the page: $warnings"
[ -z "$warnings" ] || fail "man warns: $warnings"
for c in $table; do
    grep -qE "^   platelet $c\$" "$TEST_DIR/man.txt" || fail "the man page has no section for $c"
done
for sub in "ledger append" "audit export" "bench heal"; do
    grep -qE "^   platelet $sub\$" "$TEST_DIR/man.txt" || fail "the man page has no section for $sub"
done
grep -q -- "--data-dir" "$TEST_DIR/man.txt" || fail "the man page lists no flags"
cmp -s <(gzip -dc "$DOC/platelet.1.gz") "$DOC/platelet.1" || fail "platelet.1.gz is not platelet.1"
pass "the man page renders without a warning and covers every command"
