#!/usr/bin/env bash
# bench/groupby_join_vs_tools.sh MEMGOV [WORKDIR] - `memgov groupby` against
# `datamash -s -g 1 sum 2`, and `memgov join` against join(1) (on sorted
# files) and sort + sort + join (on unsorted ones), on the same text files,
# in the same script, one after the other.
#
#   MEMGOV   the memgov executable (e.g. build/tools/memgov)
#   WORKDIR  where the inputs, outputs and spill files go.  Default: a fresh
#            directory under ${TMPDIR:-/tmp}, removed at the end.  A given
#            WORKDIR is kept, and its inputs are reused by later runs.
#
# Inputs (made by a small C program; each line "key<TAB>value"):
#   groupby.txt  GROUPBY_LINES (default 20000000) lines: key = 16 hex digits
#                of splitmix64(i) mod GROUPBY_GROUPS (default 5000000), value = i
#   join1.txt    JOIN_LINES (default 5000000) lines: key of splitmix64(i) mod
#                JOIN_LINES, payload i;  join2.txt: key of splitmix64(i + 7)
#   join1.sorted, join2.sorted: the same, LC_ALL=C sort -s -k1,1 (stable)
#
# Commands, each timed with /usr/bin/time -f '%e %M %U %S' (wall seconds,
# peak RSS in KiB, user and system CPU seconds), inputs in the page cache:
#   datamash -s -g 1 sum 2 < groupby.txt
#   memgov groupby --memory BUDGET -k 1 --sum 2 groupby.txt
#   join -t TAB join1.sorted join2.sorted
#   memgov join --memory BUDGET -t TAB join1.sorted join2.sorted
#   sort join1.txt; sort join2.txt; join -t TAB (the three, timed apart)
#   memgov join --memory BUDGET -t TAB join1.txt join2.txt
# The outputs of each pair must be the same lines (compared after sort).
# Environment: ROUNDS (default 1) runs each that many times, alternating,
# and reports medians; BUDGET (default 256M).  Exit status: 0, or 1 when a
# command failed or outputs differ.
set -euo pipefail

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
    echo "usage: $0 MEMGOV [WORKDIR]" >&2
    exit 2
fi
memgov=$(realpath "$1")
rounds=${ROUNDS:-1}
budget=${BUDGET:-256M}
glines=${GROUPBY_LINES:-20000000}
groups=${GROUPBY_GROUPS:-5000000}
jlines=${JOIN_LINES:-5000000}
[ -x "$memgov" ] || { echo "$0: $1 is not executable" >&2; exit 2; }
for t in /usr/bin/time datamash join cc; do
    command -v "$t" >/dev/null || { echo "$0: needs $t (scripts/deps.sh installs it)" >&2; exit 2; }
done

if [ $# -ge 2 ]; then
    work=$2
    mkdir -p "$work"
    keep=1
else
    work=$(mktemp -d "${TMPDIR:-/tmp}/groupby-join.XXXXXX")
    keep=0
fi
work=$(realpath "$work")
cleanup() {
    rm -f "$work"/out-* "$work"/*.times "$work/time" "$work/gen" "$work/gen.c"
    [ "$keep" = 1 ] || rm -rf "$work"
}
trap cleanup EXIT

# ----------------------------------------------------------------- inputs
cat >"$work/gen.c" <<'EOF'
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
static uint64_t splitmix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}
int main(int argc, char **argv) /* gen LINES MOD SHIFT */
{
    static char buf[1 << 20];
    uint64_t n = strtoull(argv[1], NULL, 10), mod = strtoull(argv[2], NULL, 10);
    uint64_t shift = strtoull(argv[3], NULL, 10);
    setvbuf(stdout, buf, _IOFBF, sizeof buf);
    for (uint64_t i = 0; i < n; i++)
        printf("%016llx\t%llu\n", (unsigned long long)(splitmix64(i + shift) % mod),
               (unsigned long long)i);
    return fflush(stdout) != 0;
}
EOF
cc -O2 -o "$work/gen" "$work/gen.c"
make_input() { # FILE LINES MOD SHIFT
    [ -s "$1" ] && return 0
    echo "making $1..." >&2
    "$work/gen" "$2" "$3" "$4" >"$1.tmp" && mv "$1.tmp" "$1"
}
make_input "$work/groupby.txt" "$glines" "$groups" 0
make_input "$work/join1.txt" "$jlines" "$jlines" 0
make_input "$work/join2.txt" "$jlines" "$jlines" 7
for s in 1 2; do
    [ -s "$work/join$s.sorted" ] ||
        LC_ALL=C sort -s -t "$(printf '\t')" -k1,1 -o "$work/join$s.sorted" "$work/join$s.txt"
done
cat "$work"/groupby.txt "$work"/join* >/dev/null # into the page cache

# ------------------------------------------------------------------- runs
export TMPDIR=$work LC_ALL=C
tab=$(printf '\t')
run() { # NAME OUT CMD...: appends "wall rss user sys" to NAME.times
    local name=$1 out=$2; shift 2
    /usr/bin/time -f '%e %M %U %S' -o "$work/time" "$@" >"$out"
    cat "$work/time" >>"$work/$name.times"
}
same() { # A B: the same lines, in any order
    if ! cmp -s <(sort "$1") <(sort "$2"); then
        echo "$0: $1 and $2 differ" >&2
        exit 1
    fi
}
rm -f "$work"/*.times
for ((r = 1; r <= rounds; r++)); do
    run datamash "$work/out-dm" datamash -s -g 1 sum 2 <"$work/groupby.txt"
    run groupby "$work/out-gb" "$memgov" groupby --memory "$budget" -k 1 --sum 2 "$work/groupby.txt"
    same "$work/out-dm" "$work/out-gb"
    run join "$work/out-j" join -t "$tab" "$work/join1.sorted" "$work/join2.sorted"
    run mjoin_sorted "$work/out-mjs" "$memgov" join --memory "$budget" -t "$tab" \
        "$work/join1.sorted" "$work/join2.sorted"
    same "$work/out-j" "$work/out-mjs"
    run sort1 "$work/out-s1" sort -s -t "$tab" -k1,1 -S "$budget" "$work/join1.txt"
    run sort2 "$work/out-s2" sort -s -t "$tab" -k1,1 -S "$budget" "$work/join2.txt"
    run join_after_sort "$work/out-js" join -t "$tab" "$work/out-s1" "$work/out-s2"
    run mjoin "$work/out-mj" "$memgov" join --memory "$budget" -t "$tab" \
        "$work/join1.txt" "$work/join2.txt"
    same "$work/out-js" "$work/out-mj"
    rm -f "$work"/out-*
done

median() { # COLUMN NAME
    awk -v c="$1" '{ print $c }' "$work/$2.times" | sort -n |
        awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}
row() { # LABEL NAME
    printf "  %-52s %8.2f %10.1f MiB\n" "$1" "$(median 1 "$2")" \
        "$(awk -v k="$(median 2 "$2")" 'BEGIN { print k / 1024 }')"
}
echo "groupby_join_vs_tools: budget $budget, $(nproc) CPUs, median of $rounds round(s)"
printf "  %-52s %8s %14s\n" "command" "wall s" "peak RSS"
row "datamash -s -g 1 sum 2 ($glines lines, $groups groups)" datamash
row "memgov groupby -k 1 --sum 2" groupby
row "join (sorted $jlines-line files)" join
row "memgov join (the same sorted files)" mjoin_sorted
row "sort file 1" sort1
row "sort file 2" sort2
row "join (after the sorts)" join_after_sort
row "memgov join (unsorted files)" mjoin
s=$(awk -v a="$(median 1 sort1)" -v b="$(median 1 sort2)" -v c="$(median 1 join_after_sort)" \
    'BEGIN { print a + b + c }')
echo "  sort + sort + join, wall s: $s"
echo "  outputs: the same lines in each pair"
