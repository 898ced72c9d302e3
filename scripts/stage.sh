#!/bin/sh
# One stage of `make demo`: announce it, run it, time it, and on failure say which
# stage failed and what to do next.
#
#   sh scripts/stage.sh "NAME" "WHAT TO DO IF IT FAILS" COMMAND [ARGS...]
#
# A command that needs a redirection is given as: sh -c '... > FILE'.
name=$1
hint=$2
shift 2
printf '\n==> %s\n' "$name"
start=$(date +%s)
"$@"
rc=$?
if [ "$rc" -ne 0 ]; then
    printf '\nstage "%s" failed (exit %s).\n%s\n' "$name" "$rc" "$hint" >&2
    exit "$rc"
fi
printf '==> %s: done in %s s\n' "$name" "$(( $(date +%s) - start ))"
