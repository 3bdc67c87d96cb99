#!/usr/bin/env bash
# top.sh <memgov> - `memgov top` and `memgov info`'s pressure sources.
#
# A `memgov sort` that waits on its input (a FIFO held open) runs with
# MEMGOV_STATS pointing at a private directory, so its governor writes its
# stats file there; `memgov top --once PID` must show it (budget, regions),
# the file must be 0600 in a 0700 directory, and must be gone once the
# process is.  Also: top's usage errors, a PID with no file (exit 1), and
# info's pressure-source section in text and JSON.
set -uo pipefail
memgov=${1:?usage: top.sh <memgov>}
source "$(dirname "$0")/lib.sh"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/memgov-top.XXXXXX")
trap 'exec 3>&- 2>/dev/null; kill "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
out=$tmp/out err=$tmp/err
contains() { grep -qF -- "$2" <<<"$1" || fail "$3: no '$2' in: $(head -c 400 <<<"$1")"; }

dir=$tmp/stats
mkfifo "$tmp/in"
MEMGOV_STATS=$dir MEMGOV_STATS_INTERVAL_MS=50 "$memgov" sort --memory 64M -o "$tmp/sorted" \
    <"$tmp/in" &
pid=$!
exec 3>"$tmp/in"   # the sort waits for input while this stays open
echo b >&3
for _ in $(seq 1 200); do
    compgen -G "$dir/$pid-*.json" >/dev/null && break
    sleep 0.05
done
file=$(compgen -G "$dir/$pid-*.json" | head -n1)
[ -n "$file" ] || fail "no stats file for $pid in $dir"
if [ -n "$file" ]; then
    [ "$(stat -c %a "$dir")" = 700 ] || fail "stats directory is $(stat -c %a "$dir"), not 700"
    [ "$(stat -c %a "$file")" = 600 ] || fail "stats file is $(stat -c %a "$file"), not 600"
    expect 0 top --once --dir "$dir" "$pid"
    view=$(cat "$out")
    contains "$view" "memgov top: process $pid, 1 governor" "top --once"
    contains "$view" "budget 64.0 MiB" "top --once"
    contains "$view" "pressure normal" "top --once"
    contains "$view" "untracked" "top --once"
    contains "$view" "execution_buffers" "top --once"
    MEMGOV_STATS=$dir expect 0 top --once "$pid" && contains "$(cat "$out")" "governor 1" "top from MEMGOV_STATS"
fi
echo a >&3
exec 3>&-
wait "$pid" || fail "the sort failed"
[ "$(cat "$tmp/sorted")" = "$(printf 'a\nb\n')" ] || fail "the sort's output"
[ -z "$(compgen -G "$dir/$pid-*.json")" ] || fail "the stats file outlived its governor"
expect 1 top --once --dir "$dir" "$pid" && contains "$(cat "$err")" "no stats file for process $pid" "top after exit"

for bad in "top" "top 0" "top abc" "top 1 2" "top --interval 1 5" "top --dir '' 5" "top --nope 5"; do
    eval "expect 2 $bad" || true
done

expect 0 info && contains "$(cat "$out")" "pressure sources" "info"
contains "$(cat "$out")" "psi:system" "info"
expect 0 info --json && contains "$(cat "$out")" '"pressure_sources": [' "info --json"
MEMORY_PRESSURE_WATCH=$tmp/in expect 0 info && contains "$(cat "$out")" "systemd          $tmp/in" "info with MEMORY_PRESSURE_WATCH"
finish top.sh
