#!/usr/bin/env bash
# tests/tools/groupby.sh MEMGOV - `memgov groupby` and `memgov bench agg`
# end to end.  The reference is GNU datamash (scripts/deps.sh requires
# it): `memgov groupby -k K --sum F ...` sorted equals `datamash -s -g K sum
# F ...` sorted, byte for byte, on generated text: count, sum, min, max and
# mean, one and two key fields in either order, repeated operations,
# integers (negative, with a '+' or leading zeros), 2-decimal numbers,
# fields mixing integers and decimals, empty key fields, tab, comma, colon
# and space separators, no final newline, several files and standard
# input; at --memory 1M, where the aggregation spills partitions, with
# each codec the build has, and at 1G, where it spills nothing.  --sorted
# equals datamash -s's output as it is (its order) and `sort` of the
# unsorted output.  Errors exit 2 with one line on stderr: bad lines
# (missing fields, non-numbers: file and line named; --skip-bad skips and
# counts them), an integer sum out of 64 bits, bad options, inputs that
# cannot be read, a full spill quota (nothing left behind), a full
# stdout; SIGTERM in the middle of a spill leaves nothing behind.  Then
# `memgov bench agg` at 1 MiB and 64 MiB passes its checks.  Inputs are
# small enough to run in well under a minute under ASan.
set -u
memgov=$1
# shellcheck source=tests/tools/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
scratch groupby
export LC_ALL=C
unset MEMGOV_PROGRESS MEMGOV_BUDGET

if ! command -v datamash >/dev/null 2>&1; then
    echo "groupby: datamash is missing (scripts/deps.sh installs it)"
    exit 1
fi

# same WHAT MEMGOV_ARGS... -- DATAMASH_ARGS... -- FILES...: `memgov groupby
# MEMGOV_ARGS FILES` equals `datamash -s DATAMASH_ARGS` over the FILES, both
# sorted (awk 1 gives each file a final newline before datamash reads them)
same() {
    local what=$1; shift
    local margs=() dargs=()
    while [ "$1" != "--" ]; do margs+=("$1"); shift; done
    shift
    while [ "$1" != "--" ]; do dargs+=("$1"); shift; done
    shift
    awk 1 "$@" | datamash -s "${dargs[@]}" | sort >"$work/expected" ||
        { fail "$what: datamash failed"; return 1; }
    expect 0 groupby "${margs[@]}" "$@" || return 1
    sort "$out" | cmp -s "$work/expected" - ||
        { fail "$what: differs from datamash -s ${dargs[*]}"; sort "$out" | diff "$work/expected" - | head -6; return 1; }
    return 0
}

# ---------------------------------------------------------------- inputs

# gen SEED N: N tab-separated lines, no newline after the last:
#   1: a key from 40 ("" and a .. z, aa .. mm)    2: a key 0 .. 9
#   3: an integer, -50000 .. 50000, a few as +12 or 007
#   4: a number with 2 decimals, -1000 .. 1000
#   5: an integer -100 .. 99, 3% of them 12.5 or 7e2 (that group's column
#      then prints as a double)
#   6: a word
gen() {
    perl -e '
        my ($seed, $n) = @ARGV; srand($seed);
        my @k1 = ("", map { chr(97 + $_ % 26) x (1 + int($_ / 26)) } 0 .. 38);
        my @out;
        for (1 .. $n) {
            my $c = int(rand 100001) - 50000;
            my $cs = $c >= 0 && rand() < 0.03 ? "+$c" : $c >= 0 && $c < 100 && rand() < 0.3 ? sprintf("%03d", $c) : $c;
            my $d; do { $d = sprintf("%.2f", rand(2000) - 1000) } while ($d eq "-0.00");
            my $e = rand() < 0.03 ? (rand() < 0.5 ? sprintf("%.1f", rand(100)) : (1 + int rand 9) . "e2")
                                  : int(rand 200) - 100;
            push @out, join("\t", $k1[int rand @k1], int(rand 10), $cs, $d, $e, "w" . int(rand 5));
        }
        print join("\n", @out);
    ' "$1" "$2"
}

# many SEED N: N lines over about N/2.5 keys (field 1 and 2), an integer
# (3) and a 2-decimal number (4): enough groups to spill at --memory 1M
many() {
    perl -e '
        my ($seed, $n) = @ARGV; srand($seed);
        for (1 .. $n) {
            my $d; do { $d = sprintf("%.2f", rand(200) - 100) } while ($d eq "-0.00");
            printf "g%d\t%d\t%d\t%s\n", int(rand($n / 7.5)), int(rand 3), int(rand 20001) - 10000, $d;
        }
    ' "$1" "$2"
}

gen 1 20000 >"$work/t.tsv"
tr '\t' ',' <"$work/t.tsv" >"$work/t.csv"
tr '\t' ':' <"$work/t.tsv" >"$work/t.colon"
tr '\t' ' ' <"$work/t.tsv" >"$work/t.space"
gen 2 700 >"$work/p1.tsv"; printf '\n' >>"$work/p1.tsv"
gen 3 500 >"$work/p2.tsv"                       # no final newline
gen 4 600 >"$work/p3.tsv"; printf '\n' >>"$work/p3.tsv"
many 5 150000 >"$work/many.tsv"                 # about 60000 groups: spills at 1M
printf 'a\t1\t2.5' >"$work/one-nonl.tsv"
: >"$work/empty.tsv"

# --------------------------------------------------- the same as datamash

all_ops=(--sum 3 --min 3 --max 3 --mean 3 --count)
dm_ops=(sum 3 min 3 max 3 mean 3 count 3)
same "integers" -k 1 "${all_ops[@]}" -- -g 1 "${dm_ops[@]}" -- "$work/t.tsv"
same "2-decimal numbers, two keys" -k 1,2 --sum 4 --mean 4 --min 4 --max 4 --count -- \
    -g 1,2 sum 4 mean 4 min 4 max 4 count 4 -- "$work/t.tsv"
same "mixed integers and decimals, keys 2,1" -k 2,1 --sum 5 --mean 5 --max 5 --min 5 -- \
    -g 2,1 sum 5 mean 5 max 5 min 5 -- "$work/t.tsv"
same "repeated operations, in order" -k 2 --count --sum 3 --sum 4 --count --mean 3 --max 4 --sum 3 -- \
    -g 2 count 2 sum 3 sum 4 count 2 mean 3 max 4 sum 3 -- "$work/t.tsv"
same "the key printed twice" -k 2,2 --sum 5 -- -g 2,2 sum 5 -- "$work/t.tsv"
# keys only (datamash needs an operation): the distinct keys, as sort -u
expect 0 groupby -k 6,2 "$work/t.tsv" && {
    cut -f 6,2 "$work/t.tsv" | awk -F'\t' '{print $2 "\t" $1}' | sort -u >"$work/expected"
    sort "$out" | cmp -s "$work/expected" - || fail "keys only: not the distinct keys"; }
same "comma" -t , -k 1,2 --sum 3 --mean 4 --min 5 -- -t , -g 1,2 sum 3 mean 4 min 5 -- "$work/t.csv"
same "colon" -t : -k 2 --sum 4 --max 3 -- -t : -g 2 sum 4 max 3 -- "$work/t.colon"
same "space" -t ' ' -k 1 --mean 3 --sum 5 -- -t ' ' -g 1 mean 3 sum 5 -- "$work/t.space"
same "one line without newline" -k 1 --sum 2 --sum 3 -- -g 1 sum 2 sum 3 -- "$work/one-nonl.tsv"
expect 0 groupby -k 1 --sum 3 "$work/empty.tsv" && [ -s "$out" ] && fail "empty input: output"
grep -q $'^\t' "$work/t.tsv" || fail "the input has no empty key field"

# several files and standard input (p2 has no final newline)
awk 1 "$work/p1.tsv" "$work/p3.tsv" "$work/p2.tsv" | datamash -s -g 1 sum 3 mean 4 count 1 | sort \
    >"$work/expected"
"$memgov" groupby -k 1 --sum 3 --mean 4 --count "$work/p1.tsv" - "$work/p2.tsv" <"$work/p3.tsv" \
    >"$out" 2>"$err" || fail "files and stdin: exit $?"
sort "$out" | cmp -s "$work/expected" - || fail "files and stdin: differs"
# shellcheck disable=SC2002 # a pipe on purpose: input of unknown size
cat "$work/t.tsv" | "$memgov" groupby -k 1,2 --sum 4 2>"$err" | sort |
    cmp -s - <(datamash -s -g 1,2 sum 4 <"$work/t.tsv" | sort) || fail "a pipe: differs"

# a budget that spills, and one that does not
if same "1M: spills" --memory 1M --stats -k 1,2 --sum 3 --mean 4 --min 4 --count -- \
    -g 1,2 sum 3 mean 4 min 4 count 3 -- "$work/many.tsv"; then
    [ "$(stat_of "partitions spilled")" -ge 1 ] 2>/dev/null ||
        fail "1M: did not spill ($(stat_of "partitions spilled") partitions)"
fi
same "1G: in RAM" --memory 1G --stats -k 1,2 --sum 3 --mean 4 --min 4 --count -- \
    -g 1,2 sum 3 mean 4 min 4 count 3 -- "$work/many.tsv" &&
    { [ "$(stat_of "partitions spilled")" = 0 ] || fail "1G: spilled"; }
for codec in lz4 zstd; do
    "$memgov" groupby --memory 1M --compress "$codec" -k 1 --sum 4 "$work/many.tsv" >"$out" 2>"$err"
    rc=$?
    if [ $rc -eq 2 ] && grep -q "no $codec support" "$err"; then
        echo "note: this build has no $codec"
        continue
    fi
    [ $rc -eq 0 ] || { fail "--compress $codec at --memory 1M exited $rc"; sed 's/^/  stderr: /' "$err"; continue; }
    sort "$out" | cmp -s - <(datamash -s -g 1 sum 4 <"$work/many.tsv" | sort) ||
        fail "--compress $codec: differs"
done
mkdir "$work/spill"
expect 0 groupby --memory 1M --spill-dir "$work/spill" -k 1 --count "$work/many.tsv" &&
    { [ -z "$(ls -A "$work/spill")" ] || fail "groupby left files in its spill directory: $(ls -A "$work/spill")"; }

# --sorted: datamash -s's order as it is, and sort(1) of the unsorted output
for mem in "" "--memory 1M"; do
    # shellcheck disable=SC2086
    expect 0 groupby $mem --sorted -k 2,1 --sum 3 --mean 4 "$work/many.tsv" &&
        { datamash -s -g 2,1 sum 3 mean 4 <"$work/many.tsv" | cmp -s - "$out" ||
            fail "--sorted $mem: not datamash -s's output"; }
    cp "$out" "$work/sorted"
    # shellcheck disable=SC2086
    expect 0 groupby $mem -k 2,1 --sum 3 --mean 4 "$work/many.tsv" &&
        { sort "$out" | cmp -s - "$work/sorted" || fail "--sorted $mem: not sort of the output"; }
done
expect 0 groupby --sorted -k 1,2 --sum 4 "$work/t.tsv" &&
    { datamash -s -g 1,2 sum 4 <"$work/t.tsv" | cmp -s - "$out" || fail "--sorted, empty keys: differs"; }
expect 0 groupby --sorted -t , -k 1,2 --count "$work/t.csv" &&
    { datamash -s -t , -g 1,2 count 1 <"$work/t.csv" | cmp -s - "$out" || fail "--sorted -t ,: differs"; }

# ------------------------------------------------------------ bad lines

# bad.tsv: lines 3 and 6 lack field 4, line 5 is empty (no field), the
# others are good
printf 'a\t1\t2\t3\nb\t1\t2\t3.5\nc\t1\nb\t2\t3\t4\n\na\t1\t2\nc\t2\t-1\t-2\n' >"$work/bad.tsv"
awk -F'\t' 'NF >= 4' "$work/bad.tsv" >"$work/bad-good.tsv"
expect 2 groupby -k 1 --sum 4 "$work/bad.tsv" && {
    contains "$err" "line 3 of '$work/bad.tsv': field 4 is missing (the line has 2 fields)" "missing field"
    [ "$(wc -l <"$err")" = 1 ] || fail "missing field: more than one line on stderr"
    [ -s "$out" ] && fail "missing field: wrote to stdout"; }
expect 2 groupby -k 5 --sum 4 "$work/bad.tsv" &&
    contains "$err" "line 1 of '$work/bad.tsv': field 5 is missing (the line has 4 fields)" "missing key field"
datamash -s -g 1 sum 4 count 1 <"$work/bad-good.tsv" | sort >"$work/expected"
expect 0 groupby --skip-bad -k 1 --sum 4 --count "$work/bad.tsv" && {
    sort "$out" | cmp -s "$work/expected" - || fail "--skip-bad: not the good lines' groups"
    contains "$err" "skipped 3 bad lines; the first: line 3 of '$work/bad.tsv': field 4 is missing" "--skip-bad"; }
if printf 'a\t\n' | expect 0 groupby -k 1,2 --count; then
    [ "$(cat "$out")" = $'a\t\t1' ] || fail "an empty key field: $(cat "$out")"
fi

# non-numbers: each one, in line 2 of standard input
for v in abc "" " 5" "5 " 1e 0x10 inf nan - . 1.2.3 1e5x "1,5"; do
    printf 'a\t1\nb\t%s\nc\t3\n' "$v" | expect 2 groupby -k 1 --sum 2 &&
        contains "$err" "line 2 of standard input: field 2 is not a number: '$v'" "'$v'"
    printf 'a\t1\nb\t%s\nc\t3\n' "$v" | expect 0 groupby --skip-bad -k 1 --sum 2 && {
        [ "$(sort "$out" | tr '\n' ' ')" = $'a\t1 c\t3 ' ] || fail "'$v' skipped: $(cat "$out")"
        contains "$err" "skipped 1 bad line; the first: line 2 of standard input" "'$v' skipped"; }
done
printf 'a\t1e999\n' | expect 2 groupby -k 1 --mean 2 &&
    contains "$err" "field 2 is out of the range of a double: '1e999'" "1e999"
# accepted spellings, as datamash reads them
printf 'a\t+5\na\t007\na\t-.5\na\t3.\na\t1E2\na\t-2e-1\n' >"$work/forms.tsv"
same "number forms" -k 1 --sum 2 --min 2 --max 2 --mean 2 -- -g 1 sum 2 min 2 max 2 mean 2 -- "$work/forms.tsv"
cp "$work/bad-good.tsv" "$work/x.tsv"; printf 'd\t1\tnope\t2\n' >>"$work/x.tsv"
expect 2 groupby -k 1 --sum 3 "$work/p1.tsv" "$work/x.tsv" &&
    contains "$err" "line 5 of '$work/x.tsv': field 3 is not a number: 'nope'" "the file and line named"

# an integer sum out of 64 bits: printed as datamash does, an error
printf 'x\t9223372036854775807\nx\t1\ny\t5\nz\t-9223372036854775808\nz\t-1\n' >"$work/ovf.tsv"
expect 2 groupby -k 1 --sum 2 --mean 2 "$work/ovf.tsv" && {
    sort "$out" | cmp -s - <(datamash -s -g 1 sum 2 mean 2 <"$work/ovf.tsv") || fail "overflow: output differs"
    contains "$err" "group 'x': the sum of field 2 does not fit in 64 bits; printed as a double, 9.2233720368548e+18" "overflow"
    contains "$err" "group 'z': the sum of field 2 does not fit in 64 bits" "negative overflow"; }

# ------------------------------------------------------ usage and failures

for bad in "" "-k 0" "-k ''" "-k 1,,2" "-k 1," "-k ,1" "-k a" "-k 65537" "-k 1 -k 2" "-k 1 --sum x" \
    "-k 1 --sum 0" "-k 1 --sum" "-k 1 --mean 1.5" "-k 1 -t ab" "-k 1 -t ''" "-k 1 --memory 1" \
    "-k 1 --memory lots" "-k 1 --compress nope" "-k 1 --spill-quota 0" "-k 1 --nope" "-k 1 -x" \
    "-k 1 --count=3" "-k 1 --sum 1 --sum 2 --sum 3 --sum 4 --sum 5 --sum 6 --sum 7 --sum 8 --sum 9" \
    "-k 1 $(for f in 1 2 3 4 5; do printf -- '--min %d --max %d --sum %d ' $f $f $f; done)"; do
    eval "set -- $bad"
    if expect 2 groupby "$@" "$work/t.tsv"; then
        [ -s "$out" ] && fail "memgov groupby $bad wrote to stdout"
        contains "$err" "Try 'memgov groupby --help'" "memgov groupby $bad"
    fi
done
expect 2 groupby --sum 2 "$work/t.tsv" && contains "$err" "missing -k FIELDS" "no -k"
expect 2 groupby -k 1 --sum 1 --sum 2 --sum 3 --sum 4 --sum 5 --sum 6 --sum 7 --sum 8 --sum 9 "$work/t.tsv" &&
    contains "$err" "too many value fields: at most 8" "9 value fields"
# shellcheck disable=SC2046
expect 2 groupby -k 1 $(for f in 1 2 3 4 5; do printf -- '--min %d --max %d --sum %d ' $f $f $f; done) \
    "$work/t.tsv" && contains "$err" "too many operations: these need 35 of the 32" "35 aggregates"
# 8 value fields, and all five operations over 4, fit
if printf 'k\t1\t2\t3\t4\t5\t6\t7\t8\n' | expect 0 groupby -k 1 --sum 2 --sum 3 --sum 4 \
    --sum 5 --sum 6 --sum 7 --sum 8 --sum 9; then
    [ "$(cat "$out")" = $'k\t1\t2\t3\t4\t5\t6\t7\t8' ] || fail "8 value fields: $(cat "$out")"
fi
# shellcheck disable=SC2046
printf 'k\t1\t2\t3\t4\n' | expect 0 groupby -k 1 --count $(for f in 2 3 4 5; do
    printf -- '--sum %d --min %d --max %d --mean %d ' $f $f $f $f; done) ||
    fail "all operations over 4 fields: $(cat "$err")"
expect 2 groupby -k 1 --sum 3 "$work/nope.tsv" && {
    contains "$err" "cannot read '$work/nope.tsv': No such file or directory" "a missing input"
    [ -s "$out" ] && fail "a missing input: wrote to stdout"; }
expect 2 groupby -k 1 --sum 3 "$work/t.tsv" "$work/nope.tsv" &&
    { [ -s "$out" ] && fail "a missing second input: wrote to stdout"; }
expect 2 groupby -k 1 --sum 3 "$work" && contains "$err" "cannot read '$work': Is a directory" "a directory"
cp "$work/t.tsv" "$work/locked.tsv"; chmod 000 "$work/locked.tsv"
if [ -r "$work/locked.tsv" ]; then
    echo "note: running as root, an unreadable file cannot be made"
    # a file that opens but fails to read instead
    expect 2 groupby -k 1 --sum 3 /proc/self/mem &&
        contains "$err" "cannot read '/proc/self/mem': Input/output error" "an input that fails to read"
else
    expect 2 groupby -k 1 --sum 3 "$work/locked.tsv" &&
        contains "$err" "cannot read '$work/locked.tsv': Permission denied" "an unreadable input"
fi
"$memgov" groupby -k 1 --sum 3 "$work/t.tsv" >/dev/full 2>"$err"
rc=$?
if [ $rc -ne 2 ] || ! grep -q "cannot write to standard output: No space left on device" "$err"; then
    fail "stdout on /dev/full: exit $rc, $(cat "$err")"
fi

# a full spill quota: exit 2, a message, nothing left in the spill directory
expect 2 groupby --memory 1M --spill-quota 64K --spill-dir "$work/spill" -k 1,2 --sum 3 "$work/many.tsv" && {
    contains "$err" "spill failed: no space (quota or disk full)" "a full spill quota"
    [ -z "$(ls -A "$work/spill")" ] || fail "a full spill quota left files: $(ls -A "$work/spill")"; }
expect 2 groupby --spill-dir "$work/t.tsv" -k 1 --sum 3 "$work/t.tsv" &&
    contains "$err" "cannot use spill directory '$work/t.tsv'" "--spill-dir on a file"

# SIGTERM while it spills: exit 143, nothing said, nothing left
mkdir "$work/sig"
mkfifo "$work/fifo"
perl -e 'print while <STDIN>; sleep 60' <"$work/many.tsv" >"$work/fifo" &
writer=$!
kids+=("$writer")
"$memgov" groupby --memory 1M --spill-dir "$work/sig" -k 1,2 --sum 3 <"$work/fifo" >"$out" 2>"$err" &
pid=$!
for _ in $(seq 300); do
    find "$work/sig" -name 'spill-*' | grep -q . && break
    sleep 0.1
done
find "$work/sig" -name 'spill-*' | grep -q . || fail "SIGTERM: no spill file appeared"
kill -TERM "$pid"
wait "$pid"
rc=$?
[ $rc -eq 143 ] || fail "SIGTERM: exit $rc, expected 143"
[ -s "$err" ] && fail "SIGTERM: said $(head -3 "$err")"
[ -z "$(ls -A "$work/sig")" ] || fail "SIGTERM left files: $(ls -A "$work/sig")"
kill "$writer" 2>/dev/null; wait "$writer" 2>/dev/null; kids=()

# ------------------------------------------------------- progress and help

MEMGOV_PROGRESS=1 "$memgov" groupby --memory 1M -k 1 --sum 3 "$work/many.tsv" >"$out" 2>"$err" ||
    fail "progress: exit $?"
grep -q "memgov groupby: read" "$err" || fail "MEMGOV_PROGRESS=1: no progress line on stderr"
grep -q $'\r' "$err" || fail "MEMGOV_PROGRESS=1: the line is not redrawn with CR"
"$memgov" groupby --memory 1M -k 1 --sum 3 "$work/many.tsv" >/dev/null 2>"$err" || fail "no tty: exit $?"
[ -s "$err" ] && fail "stderr is not a terminal, yet something was written to it"

expect 0 groupby --help && contains "$out" "Usage: memgov groupby" "groupby --help"
printf 'a\t1\n' | expect 0 groupby -k 1 --count --help &&
    { [ "$(head -c 21 "$out")" = "Usage: memgov groupby" ] || fail "--help with options: ran the command"; }
expect 0 help groupby && contains "$out" "Exit status, as memgov sort" "help groupby"
expect 0 --help && contains "$out" "groupby" "--help lists groupby"

# ------------------------------------------------------------- bench agg

for mem in 1MiB 64MiB; do
    expect 0 bench agg --rows 200000 --groups 20000 --memory $mem &&
        { contains "$out" "check        ok" "bench agg at $mem"; contains "$out" "peak RSS" "bench agg at $mem"; }
done
expect 0 bench agg --rows 300000 --groups 200000 --memory 1MiB --json && {
    contains "$out" '"ok": true' "bench agg --json"
    grep -q '"partitions_spilled": 0,' "$out" && fail "bench agg at 1MiB with 200000 groups: did not spill"; }
expect 0 bench --help && contains "$out" "agg" "bench --help lists agg"
for bad in "bench agg --rows 0" "bench agg --rows x" "bench agg --groups 0" "bench agg --memory 1" \
    "bench agg --compress nope" "bench agg extra"; do
    # shellcheck disable=SC2086
    if expect 2 $bad; then
        [ -s "$out" ] && fail "memgov $bad wrote to stdout"
        [ -s "$err" ] || fail "memgov $bad said nothing on stderr"
    fi
done

finish groupby
