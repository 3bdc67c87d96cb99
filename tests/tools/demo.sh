#!/usr/bin/env bash
# tests/tools/demo.sh MEMGOV - `memgov demo`, the mixed workload, short and
# small (3 s, a 32 MiB ceiling, a 24 MiB vector index: larger than its
# region's limit, so shards spill and reload): it must pass its own checks
# (exit 0: no region over its limit at any sample, reference queries and
# analytics results right, points aggregated == ingested, nothing leaked,
# peak RSS within 105% of the ceiling outside sanitizer builds), report
# each engine, log plain status lines when stdout is not a terminal, write
# the TSV and the PNG; without gnuplot in PATH it still writes the TSV and
# says why there is no picture; bad options and an unwritable TSV fail
# cleanly; SIGTERM ends it by the signal with nothing left behind.
set -u
memgov=$1
# shellcheck source=tests/tools/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
scratch demo
unset MEMGOV_BUDGET
# the governor's private spill directory goes here: the test can see it is gone
export TMPDIR=$work/tmp
mkdir "$TMPDIR"

small=(--seconds 3 --memory 32M --index 24M)

if expect 0 demo "${small[@]}" --tsv "$work/d.tsv" --png "$work/d.png"; then
    contains "$out" "all checks passed" "demo"
    for what in "vector search" "time series" "analytics" "query cache" "peak RSS (VmHWM)" \
        "untracked memory" "points aggregated of"; do
        contains "$out" "$what" "demo report"
    done
    # not a terminal: plain status lines, no carriage returns
    contains "$out" "| RSS " "demo status log"
    grep -q $'\r' "$out" && fail "demo: carriage returns in a log that is not a terminal"
    rows=$(($(wc -l <"$work/d.tsv") - 1))
    [ "$rows" -ge 20 ] || fail "demo: $rows samples in the TSV, expected at least 20 in 3 s"
    header=$(printf '%s\t' seconds vectors timeseries analytics cache spill_staging used rss \
        level spills)reloads
    [ "$(head -n1 "$work/d.tsv")" = "$header" ] ||
        fail "demo: the TSV's header is not the one documented"
    # the shards must have moved: spills and reloads in the vectors region
    awk '$1 == "vector" && $2 == "search" { ok = $(NF-3) > 0 && $(NF-2) > 0 }
         END { exit !ok }' "$out" ||
        fail "demo: the vector index was not spilled and reloaded"
    if command -v gnuplot >/dev/null 2>&1; then
        contains "$out" "picture: $work/d.png" "demo picture"
        [ "$(head -c 4 "$work/d.png" | od -An -tx1 | tr -d ' ')" = 89504e47 ] ||
            fail "demo: $work/d.png is not a PNG"
    fi
fi
[ -z "$(ls -A "$TMPDIR")" ] || fail "demo left files in TMPDIR: $(ls -A "$TMPDIR")"

# without gnuplot: the TSV, and a note instead of the picture
if PATH=/nonexistent expect 0 demo --seconds 1 --memory 32M --index 24M --quiet \
    --tsv "$work/n.tsv" --png "$work/n.png"; then
    contains "$out" "gnuplot is not installed" "demo without gnuplot"
    [ -s "$work/n.tsv" ] || fail "demo without gnuplot: no TSV"
    [ -e "$work/n.png" ] && fail "demo without gnuplot: a PNG appeared"
fi

# an unwritable TSV: a clear error before any work, nothing left behind
if expect 1 demo --seconds 1 --memory 32M --tsv "$work/no/such/dir.tsv"; then
    contains "$err" "cannot write '$work/no/such/dir.tsv'" "demo with an unwritable TSV"
fi
[ -z "$(ls -A "$TMPDIR")" ] || fail "demo left files in TMPDIR: $(ls -A "$TMPDIR")"

# a $TMPDIR where the spill directory cannot be made: said before any work
if TMPDIR=$work/none expect 1 demo --seconds 1 --memory 32M --tsv "$work/t.tsv"; then
    contains "$err" "cannot make a spill directory under $work/none" "demo without a spill directory"
fi

# interrupted (SIGTERM; SIGINT would be ignored in a background job of a
# script), while it builds or runs: it tears down, removes its
# spill files and private directory, and dies of the signal
"$memgov" demo --seconds 30 --memory 32M --index 24M --quiet --tsv "$work/i.tsv" \
    --png "$work/i.png" >"$out" 2>"$err" &
pid=$!
sleep 2
kill -TERM "$pid"
wait "$pid"
got=$?
if [ "$got" -ne 143 ]; then
    fail "demo interrupted exited $got, expected 143"
    sed 's/^/  stderr: /' "$err"
fi
[ -z "$(ls -A "$TMPDIR")" ] || fail "demo interrupted left files in TMPDIR: $(ls -A "$TMPDIR")"

for bad in "--memory 1M" "--memory 31M" "--memory lots" "--seconds 0" "--seconds 3601" \
    "--index 1K" "--png" "--tsv=" "extra"; do
    # shellcheck disable=SC2086
    if expect 2 demo $bad; then
        [ -s "$out" ] && fail "memgov demo $bad wrote to stdout"
        [ -s "$err" ] || fail "memgov demo $bad said nothing on stderr"
    fi
done
expect 0 demo --help && contains "$out" "memgov demo --tour" "demo --help"

finish demo.sh
