#!/usr/bin/env bash
# tests/tools/cli.sh MEMGOV - the memgov command end to end: the demo's
# scripted tour (demo --tour; the mixed workload is demo.sh) checks
# itself (exit 0 only when every check passed, the bytes of its index
# section after each move included) at small, default and large budgets,
# and says when the index is spilled, reloaded, and not spilled while
# pinned; info prints text and valid-looking JSON; bad usage exits 2 with a
# message on stderr and nothing on stdout.
set -u
memgov=$1
# shellcheck source=tests/tools/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
scratch cli
unset MEMGOV_BUDGET

for budget in 1M 16M 64M 1G; do
    expect 0 demo --tour --budget "$budget" --quiet && contains "$out" "^total" "demo --tour --budget $budget"
done
expect 0 demo --tour && {
    contains "$out" "all released, mgov_destroy: success" "demo"
    contains "$out" "mgov_arena_reset" "demo (arena step)"
    contains "$out" "writer waiting" "demo (buffer pool step)"
    # the index is a real section: spilled to a file, read back, reloaded
    contains "$out" "index: spilled to disk (.* file, generation 1); read back .*: intact" "demo (index spilled)"
    contains "$out" "index: reloaded into RAM .*: intact" "demo (index reloaded)"
    contains "$out" "spill failed for index (index_buffers): resource busy" "demo (pinned index)"
    [ "$(grep -c "index: reloaded into RAM" "$out")" -eq 2 ] || fail "demo: the index was not reloaded twice"
}
expect 0 info && contains "$out" "budget" "info"
expect 0 info --json && contains "$out" '"budget"' "info --json"
expect 0 --version && contains "$out" "memgov" "--version"
expect 0 help demo && contains "$out" "Usage: memgov demo" "help demo"

for bad in "demo --tour --budget 0" "demo --tour --budget lots" "demo --tour extra" "demo --nope" \
    "demo extra" "demo --memory 1M" "demo --seconds 0" "demo --tsv" "bogus" "info --nope" \
    "sections" "sections --nope"; do
    # shellcheck disable=SC2086
    if expect 2 $bad; then
        [ -s "$out" ] && fail "memgov $bad wrote to stdout"
        [ -s "$err" ] || fail "memgov $bad said nothing on stderr"
    fi
done

# ------------------------------------------ option values: one strict parser
# Every count and size is the value and nothing else: no sign, no space
# anywhere, the same rule for every command (D12 of the reliability probe).
printf 'b\na\n' >"$work/two.txt"
# operand COMMAND: what the command is given after the option (sort: a file)
operand() { case $1 in sort*) echo "$work/two.txt" ;; *) echo "--quiet" ;; esac; }
for bad in "bench sort --memory" "demo --tour --budget" "sort --memory" "sort --spill-quota"; do
    for v in "+5M" " 5M" "5 M" "5M " $'5M\n' "-5M" "5e6" "0x10M" ""; do
        [ "$bad" = "bench sort --memory" ] && set -- --json || set -- "$(operand "$bad")"
        # shellcheck disable=SC2086
        expect 2 $bad "$v" "$@" && contains "$err" "invalid size" "memgov $bad '$v'"
    done
done
for bad in "bench sort --records" "sort --records"; do
    for v in "+5" " 5" "5 " "05x" "1e3" "0x10" "-1" ""; do
        [ "$bad" = "sort --records" ] && set -- "$work/two.txt" || set -- --json
        # shellcheck disable=SC2086
        expect 2 $bad "$v" "$@" && contains "$err" "invalid" "memgov $bad '$v'"
    done
done
expect 0 bench sort --records 1000 --memory 1M && contains "$out" "check        ok" "bench sort --records 1000"
expect 0 demo --tour --budget 1.5M --quiet
expect 0 sort --memory 1.5MiB --spill-quota 1G "$work/two.txt"

# ------------------------------------------------ budgets: the real range
# MEMGOV_BUDGET is checked as --memory is: what the governor or the
# commands would refuse, info refuses too (exit 1), and the largest budget
# is said as it is, 2^46 - 1 bytes (D8).
for v in 65T 100T 64T 1 1K 0 abc ""; do
    if MEMGOV_BUDGET=$v expect 1 info; then
        contains "$err" "MEMGOV_BUDGET='$v' is not a usable budget" "MEMGOV_BUDGET=$v info"
        [ -s "$out" ] && fail "MEMGOV_BUDGET=$v info wrote to stdout"
    fi
    MEMGOV_BUDGET=$v expect 1 info --json
done
MEMGOV_BUDGET=1 expect 2 sort "$work/two.txt" && {
    contains "$err" "MEMGOV_BUDGET='1' is not a usable budget" "MEMGOV_BUDGET=1 sort"
    grep -q -- "--memory" "$err" && fail "MEMGOV_BUDGET=1 sort: the message names --memory"; }
MEMGOV_BUDGET=64M expect 0 info && contains "$out" "set by MEMGOV_BUDGET=64M" "MEMGOV_BUDGET=64M info"
MEMGOV_BUDGET=70368744177663 expect 0 info && contains "$out" "(70368744177663 bytes)" "the largest budget"
for cmd in "sort --memory" "demo --tour --budget" "bench sort --memory"; do
    # shellcheck disable=SC2086
    expect 2 $cmd 64T "$(operand "$cmd")" &&
        contains "$err" "out of range (1.00 MiB to 64.0 TiB minus 1 byte)" "$cmd 64T"
done

# ------------------------------------------- output that cannot be written
# Every command checks its output, help and version included: with stdout
# closed or full it says so and fails (D9); memgov sort fails with 2.
# lost STATUS REDIRECT ARGS...: runs memgov ARGS with stdout closed
# (REDIRECT "closed") or on /dev/full ("full").
lost() {
    local want=$1 how=$2; shift 2
    if [ "$how" = closed ]; then
        "$memgov" "$@" 2>"$err" >&-
    else
        "$memgov" "$@" 2>"$err" >/dev/full
    fi
    local got=$?
    [ "$got" -eq "$want" ] || fail "memgov $* with stdout $how exited $got, expected $want"
    grep -q "cannot write to standard output" "$err" ||
        fail "memgov $* with stdout $how: no 'cannot write to standard output' on stderr"
}
for how in closed full; do
    lost 1 "$how" demo --tour -q
    lost 1 "$how" demo --tour --budget 1M
    lost 1 "$how" help
    lost 1 "$how" help sort
    lost 1 "$how" --version
    lost 1 "$how" --help
    lost 1 "$how" demo --help
    lost 1 "$how" info
    lost 1 "$how" info --json
    lost 1 "$how" bench --help
    lost 1 "$how" bench sort --records 1000 --memory 1M
    lost 2 "$how" sort --help
    lost 2 "$how" sort "$work/two.txt"
done

# ---------------------------------------------------------- error texts
# One line per message, whatever it quotes: control characters are shown
# escaped; the reason given is the one that applies, once (D10).
expect 2 sort --memory $'5M\n' "$work/two.txt" && {
    [ "$(wc -l <"$err")" -eq 2 ] || fail "--memory '5M<newline>': the message is split over lines"
    grep -qF "invalid size '5M\\n' for --memory" "$err" || fail "--memory '5M<newline>': not escaped"; }
expect 2 sort $'bad\x1bname\t.txt' && {
    grep -q $'\x1b' "$err" && fail "a file name's ESC reached stderr raw"
    grep -qF "cannot read 'bad\\x1bname\\t.txt'" "$err" || fail "a file name's control characters: not escaped"; }
if [ -d /proc/self ]; then # files cannot be created in /proc, even by root
    expect 2 sort --spill-dir /proc "$work/two.txt" &&
        contains "$err" "cannot use spill directory '/proc': cannot create files in it: " "--spill-dir /proc"
    TMPDIR=/proc expect 2 sort "$work/two.txt" &&
        contains "$err" "cannot make a spill directory under /proc: cannot create files in it: " "TMPDIR=/proc"
    expect 1 sections /proc && {
        contains "$err" "cannot use '/proc': cannot create files in it: " "sections /proc"
        grep -q "input/output error" "$err" && fail "sections /proc: two reasons glued together"; }
fi
mkdir "$work/fifo" && mkfifo "$work/fifo/memgov.lock" && {
    expect 1 sections "$work/fifo" &&
        contains "$err" "its lock file memgov.lock is not a regular file" "sections, lock is a FIFO"
    expect 2 sort --spill-dir "$work/fifo" "$work/two.txt" &&
        contains "$err" "its lock file memgov.lock is not a regular file" "sort, lock is a FIFO"; }
expect 1 bench sort --records 10 --spill-dir "$work/two.txt" &&
    contains "$err" "cannot use spill directory '$work/two.txt': not a directory" "bench sort --spill-dir FILE"
expect 1 bench sort --records 10 --spill-dir "$work/none/a" &&
    contains "$err" "cannot use spill directory '$work/none/a': cannot create it: No such file or directory" \
        "bench sort --spill-dir in a missing directory"
expect 2 bench sort --records 10 --spill-dir "" && contains "$err" "needs a directory" "bench sort --spill-dir ''"
mkdir "$work/sec"
"$memgov" sections "$work/sec" --put x - 2>"$err" >"$out" <&-
rc=$?
[ $rc -eq 1 ] || fail "sections --put x - with stdin closed exited $rc, expected 1"
contains "$err" "cannot read 'standard input': Bad file descriptor" "sections --put with stdin closed"
ls "$work/sec" | grep -q . && fail "sections --put with stdin closed left files: $(ls "$work/sec")"

finish cli
