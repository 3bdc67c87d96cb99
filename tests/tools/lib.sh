# tests/tools/lib.sh - what the tests of the memgov command share: sourced
# by the scripts beside it, not run on its own.
#
# The caller sets `memgov` (the executable) and calls scratch, which makes
# its directory and `out` and `err` (files that take the last command's
# stdout and stderr), before it calls expect.

failures=0
kids=() # processes the script started in the background: killed at exit

# scratch NAME: a fresh directory $work (under $TMPDIR) with $out and $err
# in it; at exit the processes in kids are killed and $work is removed,
# made writable first (a test may have taken its permissions away).
scratch() {
    work=$(mktemp -d "${TMPDIR:-/tmp}/memgov-$1-test.XXXXXX") || exit 1
    out=$work/out err=$work/err
    trap scratch_cleanup EXIT
}
# shellcheck disable=SC2317 # called by the trap
scratch_cleanup() {
    local k
    for k in "${kids[@]}"; do kill "$k" 2>/dev/null; done
    chmod -R u+rwx "$work" 2>/dev/null
    rm -rf "$work"
}

# fail MESSAGE: counts one failed check and says which.
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# expect STATUS ARGS...: runs memgov ARGS (stdin as the caller gives it)
# and checks its exit status; on a mismatch shows the start of its stderr.
# Returns 0 when the status was the one expected.
expect() {
    local want=$1; shift
    "$memgov" "$@" >"$out" 2>"$err"
    local got=$?
    if [ "$got" -ne "$want" ]; then
        fail "memgov $* exited $got, expected $want"; sed 's/^/  stderr: /' "$err" | head -20
        return 1
    fi
    return 0
}

# contains FILE TEXT WHAT: checks that FILE has a line with TEXT (a basic
# regular expression, as grep takes it); on a miss shows its first lines.
contains() {
    grep -q -- "$2" "$1" || { fail "$3: no '$2' in $(basename "$1")"; sed 's/^/  /' "$1" | head -5; }
}

# stat_of FIELD: a figure of the last --stats line on $err ("runs",
# "partitions spilled").
stat_of() { sed -n "s/.*; $1 \([0-9]*\).*/\1/p" "$err" | tail -1; }

# finish NAME: the closing line; exits 1 when a check failed.
finish() {
    if [ "$failures" -ne 0 ]; then
        echo "$1: $failures check(s) failed"
        exit 1
    fi
    echo "$1: all checks passed"
    exit 0
}
