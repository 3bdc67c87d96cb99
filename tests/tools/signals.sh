#!/usr/bin/env bash
# tests/tools/signals.sh MEMGOV - the commands that spill end cleanly on a
# signal (D3 of the reliability probe): `memgov sort` on an input that
# spills at --memory 8M, its output piped into `head -1` (SIGPIPE: exit
# 141, as GNU sort), stopped by SIGTERM, SIGINT and SIGHUP while it spills
# (exit 128 + signo), while it waits on standard input (timeout -s TERM)
# and while its output pipe is full; `memgov bench sort` stopped by
# SIGTERM.  After each, nothing is left in the TMPDIR it was given (no
# memgov-* directory, no spill file), nor in a --spill-dir, and an -o
# file the run created is gone.
set -u
memgov=$1
# shellcheck source=tests/tools/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
scratch signals
mkdir "$work/tmp" "$work/spill"
export TMPDIR=$work/tmp
unset MEMGOV_BUDGET MEMGOV_PROGRESS

# 40 MB of 76-byte lines: about five runs at --memory 8M before the merge
head -c 30000000 /dev/urandom | base64 -w 76 >"$work/big.txt"

# empty WHAT: nothing memgov made is left in TMPDIR or the spill directory
empty() {
    local left
    left=$(find "$work/tmp" "$work/spill" -mindepth 1 2>/dev/null)
    [ -z "$left" ] || { fail "$1: left behind: $(echo "$left" | head -5)"; rm -rf "${work:?}/tmp/"* "$work/spill/"*; }
}
# spilling: waits (up to 60 s) until a spill file exists in TMPDIR or the
# spill directory, so the signal comes in the middle of the work
spilling() {
    for _ in $(seq 600); do
        find "$work/tmp" "$work/spill" -name 'spill-*' 2>/dev/null | grep -q . && return 0
        sleep 0.1
    done
    fail "$1: no spill file appeared"
    return 1
}
# run_bg ARGS...: memgov ARGS in the background with SIGINT at its default
# (a non-interactive shell starts background jobs with it ignored); pid in $pid
run_bg() {
    perl -e '$SIG{INT} = "DEFAULT"; exec @ARGV or die "exec: $!"' "$memgov" "$@" \
        >"$out" 2>"$err" &
    pid=$!
    kids+=("$pid")
}
# ended WHAT STATUS: waits for $pid and checks it ended by the signal
ended() {
    wait "$pid" 2>/dev/null
    local got=$?
    [ "$got" -eq "$2" ] || { fail "$1: exit $got, expected $2"; sed 's/^/  stderr: /' "$err" | head -5; }
    [ -s "$err" ] && { fail "$1: said something on stderr"; sed 's/^/  stderr: /' "$err" | head -5; }
    empty "$1"
}

# ------------------------------------------------------------- SIGPIPE
"$memgov" sort --memory 8M "$work/big.txt" 2>"$err" | head -1 >"$out"
st=("${PIPESTATUS[@]}")
[ "${st[0]}" -eq 141 ] || fail "sort | head -1: exit ${st[0]}, expected 141 (SIGPIPE, as GNU sort)"
[ -s "$err" ] && fail "sort | head -1: said something on stderr: $(head -2 "$err")"
[ "$(wc -l <"$out")" -eq 1 ] || fail "sort | head -1: no line came out"
empty "sort | head -1"

"$memgov" sort --memory 8M --spill-dir "$work/spill" "$work/big.txt" 2>"$err" | head -1 >/dev/null
st=("${PIPESTATUS[@]}")
[ "${st[0]}" -eq 141 ] || fail "sort --spill-dir | head -1: exit ${st[0]}, expected 141"
empty "sort --spill-dir | head -1"

# with SIGPIPE ignored from the start, EPIPE is a write error: exit 2
(trap '' PIPE; "$memgov" sort --memory 8M "$work/big.txt" 2>"$err" | head -1 >/dev/null
 exit "${PIPESTATUS[0]}")
rc=$?
[ $rc -eq 2 ] || fail "sort | head -1 with SIGPIPE ignored: exit $rc, expected 2"
grep -q "cannot write to standard output: Broken pipe" "$err" ||
    fail "sort | head -1 with SIGPIPE ignored: no 'Broken pipe' message"
empty "sort | head -1 with SIGPIPE ignored"

# --------------------------------------------- SIGTERM, SIGINT, SIGHUP
for sig in TERM:143 INT:130 HUP:129; do
    run_bg sort --memory 8M -o "$work/out.txt" "$work/big.txt"
    if spilling "SIG${sig%:*}"; then
        kill -"${sig%:*}" "$pid"
        ended "SIG${sig%:*} while spilling" "${sig#*:}"
        [ -e "$work/out.txt" ] && fail "SIG${sig%:*}: the -o file this run created is left"
    fi
done

run_bg sort --memory 8M --spill-dir "$work/spill" "$work/big.txt"
spilling "SIGTERM, --spill-dir" && { kill -TERM "$pid"; ended "SIGTERM with --spill-dir" 143; }

# a read of standard input that waits does not hide the signal: a feeder
# writes 20 MB (enough to spill) and then keeps the pipe open, silent
mkfifo "$work/in" "$work/fifo"
perl -e 'open(my $f, "<", $ARGV[0]) or die; read($f, my $b, 20000000); $| = 1;
         print $b; sleep 120' "$work/big.txt" >"$work/in" 2>/dev/null &
kids+=("$!")
timeout --preserve-status -s TERM 5 "$memgov" sort --memory 8M <"$work/in" >/dev/null 2>"$err"
rc=$?
[ $rc -eq 143 ] || fail "SIGTERM while reading a silent pipe: exit $rc, expected 143"
[ -s "$err" ] && fail "SIGTERM while reading a silent pipe: said something: $(head -2 "$err")"
empty "SIGTERM while reading a silent pipe"

# nor does a write to a pipe nobody reads (the writer thread is blocked)
sleep 120 <"$work/fifo" >/dev/null 2>&1 &
kids+=("$!")
run_bg sort --memory 8M -o "$work/fifo" "$work/big.txt"
if spilling "SIGINT, output blocked"; then
    sleep 3 # time to get to its output, which blocks
    kill -INT "$pid"
    ended "SIGINT while the output is blocked" 130
fi

# ---------------------------------------------------------- bench sort
run_bg bench sort --records 20000000 --memory 8M
spilling "bench sort" && { kill -TERM "$pid"; ended "SIGTERM to bench sort" 143; }

finish signals
