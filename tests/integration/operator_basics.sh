#!/usr/bin/env bash
# What a new operator tries first, with real processes: the version flags.
source "$(dirname "$0")/lib.sh"

want="platelet $("$PLATELET" version | cut -d' ' -f2)"
[ "$("$PLATELET" --version)" = "$want" ] || fail "--version: $("$PLATELET" --version 2>&1)"
[ "$("$PLATELET" -v)" = "$want" ] || fail "-v: $("$PLATELET" -v 2>&1)"
expect_fail 2 "takes no arguments" "$PLATELET" --version extra
"$PLATELET" --help | grep -q -- "--version" || fail "--help does not mention --version"
pass "platelet --version and -v print the version"
