#!/usr/bin/env bash
# tests/tools/cli.sh MEMGOV - the memgov command end to end: the demo checks
# itself (exit 0 only when every check passed, the bytes of its index
# section after each move included) at small, default and large budgets,
# and says when the index is spilled, reloaded, and not spilled while
# pinned; info prints text and valid-looking JSON; bad usage exits 2 with a
# message on stderr and nothing on stdout.
set -u
memgov=$1
# shellcheck source=tests/tools/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
out=$(mktemp) err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT

contains() { # FILE TEXT WHAT
    grep -q -- "$2" "$1" || fail "$3: no '$2' in its output"
}

for budget in 1M 16M 64M 1G; do
    expect 0 demo --budget "$budget" --quiet && contains "$out" "^total" "demo --budget $budget"
done
expect 0 demo && {
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

for bad in "demo --budget 0" "demo --budget lots" "demo extra" "demo --nope" "bogus" "info --nope" \
    "sections" "sections --nope"; do
    # shellcheck disable=SC2086
    if expect 2 $bad; then
        [ -s "$out" ] && fail "memgov $bad wrote to stdout"
        [ -s "$err" ] || fail "memgov $bad said nothing on stderr"
    fi
done

finish cli
