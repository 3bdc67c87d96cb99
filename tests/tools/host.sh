#!/usr/bin/env bash
# host.sh <memgov> - `memgov host`: the view of a budget shared by
# processes, --watch, --demo (workers share a budget, one is killed with
# SIGKILL, the others go on, the budget comes back whole and the segment is
# removed at the end), --bench's figures, and the command's usage errors.
set -uo pipefail
memgov=${1:?usage: host.sh <memgov>}
source "$(dirname "$0")/lib.sh"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/memgov-host.XXXXXX")
trap 'kill "$demo" 2>/dev/null; rm -rf "$tmp"' EXIT
out=$tmp/out err=$tmp/err demo=
contains() { grep -qF -- "$2" <<<"$1" || fail "$3: no '$2' in: $(head -c 400 <<<"$1")"; }
uid=$(id -u)

for bad in "host" "host a/b" "host .x" "host x y" "host --demo --bench" "host --demo x" \
           "host --demo --workers 1" "host --demo --memory 1M" "host --nope x"; do
    eval "expect 2 $bad" || true
done
expect 1 host "nosuch-$$" && contains "$(cat "$err")" "no host budget named 'nosuch-$$'" "host NAME"

# a demo running: its budget seen from outside
"$memgov" host --demo --seconds 3 >"$tmp/demo" 2>&1 &
demo=$!
name=demo-$demo
for _ in $(seq 1 100); do
    [ -e "/dev/shm/memgov.$uid.$name" ] && break
    sleep 0.02
done
sleep 0.3
expect 0 host "$name"
view=$(cat "$out")
contains "$view" "host $name: budget 64.0 MiB" "host NAME"
contains "$view" "PID      COMMAND" "host NAME"
contains "$view" "events:" "host NAME"
grep -qE "(joined|asked|refused|answered)" <<<"$view" || fail "host NAME: no events"
[ "$(stat -c %a "/dev/shm/memgov.$uid.$name")" = 600 ] || fail "the segment is not 0600"
timeout --preserve-status -s INT 1 "$memgov" host --watch --interval 200 "$name" >"$out" 2>"$err"
[ $? -eq 0 ] || fail "host --watch did not end cleanly on SIGINT"
contains "$(cat "$out")" "host $name: budget" "host --watch"
wait "$demo" || fail "the demo failed: $(tail -5 "$tmp/demo")"
demo=
contains "$(cat "$tmp/demo")" "demo passed: the budget was whole again after the death" "host --demo"
contains "$(cat "$tmp/demo")" "the shared segment after the last worker: removed" "host --demo"
[ ! -e "/dev/shm/memgov.$uid.$name" ] || fail "the demo's segment outlived it"

expect 0 host --bench --pairs 20000 --rounds 1
contains "$(cat "$out")" "host/local" "host --bench"
contains "$(cat "$out")" "death of a member" "host --bench"
[ -z "$(compgen -G "/dev/shm/memgov.$uid.bench-*")$(compgen -G "/dev/shm/memgov.$uid.death-*")" ] ||
    fail "the benchmark left segments behind"
finish host.sh
