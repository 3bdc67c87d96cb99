#!/usr/bin/env bash
# tests/tools/join.sh MEMGOV - `memgov join` and `memgov bench join` end to
# end.  The reference is GNU join(1) under LC_ALL=C on the inputs sorted
# stably on their join fields (`sort -s -t SEP -k F,F`): memgov join's
# output, sorted, equals join's, sorted, byte for byte, with --build 1 and
# --build 2, and `memgov join --sorted` equals join's output as it is
# (join(1)'s order: by key, then by line of FILE1, then of FILE2).  Cases:
# plain, -a 1, -a 2, -a 1 -a 2, -v 1, -v 2, -v 1 -v 2, -a 1 -v 2; -1/-2/-j
# on other fields; separators tab, comma, colon, space (-t ' '), blanks
# (no -t: runs of blanks, leading and trailing ones), the whole line (-t
# '') and NUL (-t '\0'); empty fields, empty and missing join fields,
# duplicate keys on both sides (cross products), keys that are prefixes of
# others, empty files, no matches, no final newline, standard input; at
# --memory 1M with enough lines to spill, and a hot key whose build rows
# do not fit (the chunked join); with each codec the build has.  Errors
# exit 2 with one line on stderr: bad options, missing and unreadable
# inputs (before any output), a full spill quota and SIGTERM while spilling
# (nothing left behind), a full stdout; a closed pipe ends it by SIGPIPE.
# Then `memgov bench join` at 1 MiB and 64 MiB passes its checks.
# Inputs are small enough to run in about a minute under ASan.
set -u
memgov=$1
# shellcheck source=tests/tools/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
scratch join
mkdir "$work/tmp"
export TMPDIR=$work/tmp LC_ALL=C
unset MEMGOV_PROGRESS MEMGOV_BUDGET

# nothing_left WHAT DIR: DIR (a spill directory) holds no file
nothing_left() {
    [ -z "$(ls -A "$2")" ] || fail "$1: left files in $2: $(ls -A "$2" | head -5)"
}

# keysort SEP FIELD FILE: FILE sorted stably on its join field as join(1)
# reads it ("blank": runs of blanks, no -t; "": the whole line)
keysort() {
    case $1 in
    blank) sort -s -b -k "$2,$2" "$3" ;;
    "") sort -s "$3" ;;
    *) sort -s -t "$1" -k "$2,$2" "$3" ;;
    esac
}

# same WHAT SEP F1 F2 FILE1 FILE2 [OPTION]... [-- MEMGOV_OPTION...]: `memgov
# join -t SEP -1 F1 -2 F2 OPTION... MEMGOV_OPTION... FILE1 FILE2` (no -t for
# SEP "blank") equals `join` with the same options on the files sorted on
# their join fields, after sorting both, with --build 1 and --build 2; and
# with --sorted (the build side chosen by size), as join writes it.
same() {
    local what=$1 sep=$2 f1=$3 f2=$4 a=$5 b=$6
    shift 6
    local jargs=() margs=()
    while [ $# -gt 0 ] && [ "$1" != "--" ]; do jargs+=("$1"); shift; done
    [ $# -gt 0 ] && shift
    margs=("$@")
    local targs=()
    [ "$sep" != blank ] && targs=(-t "$sep")
    keysort "$sep" "$f1" "$a" >"$work/s1"
    keysort "$sep" "$f2" "$b" >"$work/s2"
    join "${targs[@]}" -1 "$f1" -2 "$f2" "${jargs[@]}" "$work/s1" "$work/s2" >"$work/expected" 2>"$work/join-err" ||
        { fail "$what: join(1) failed: $(head -2 "$work/join-err")"; return 1; }
    sort "$work/expected" >"$work/expected-sorted"
    local ok=0 build
    for build in "--build 1" "--build 2"; do
        # shellcheck disable=SC2086
        expect 0 join "${targs[@]}" -1 "$f1" -2 "$f2" "${jargs[@]}" $build "${margs[@]}" "$a" "$b" || { ok=1; continue; }
        sort "$out" | cmp -s "$work/expected-sorted" - ||
            { fail "$what ($build): differs from join ${jargs[*]}"
              sort "$out" | diff "$work/expected-sorted" - | head -6; ok=1; }
    done
    cp "$out" "$work/unsorted"
    if expect 0 join "${targs[@]}" -1 "$f1" -2 "$f2" "${jargs[@]}" --sorted "${margs[@]}" "$a" "$b"; then
        cmp -s "$work/expected" "$out" ||
            { fail "$what (--sorted): not join ${jargs[*]}'s output"; diff "$work/expected" "$out" | head -6; ok=1; }
        sort "$out" | cmp -s - <(sort "$work/unsorted") || { fail "$what: --sorted has other lines"; ok=1; }
    else
        ok=1
    fi
    return $ok
}

# ---------------------------------------------------------------- inputs

# gen SEED N SEP: N lines of 0 to 5 fields separated by SEP, no newline
# after the last.  Every field is drawn from one vocabulary, so any field
# can be a join field: "" (1%), words over a small alphabet with prefixes
# of each other (a, ab, abc, a!, a-b, b, ...), k0 .. k80, and 15% from
# words of this file only (sSEED-0 .. sSEED-200, mostly unpaired); 4% of
# lines have no field (empty lines), some have fewer fields than the join
# field.
gen() {
    perl -e '
        my ($seed, $n, $sep) = @ARGV; srand($seed);
        my @voc = ("", qw(a ab abc a! a-b a0 b ba bab c x xy xyz z zz));
        push @voc, map { "k$_" } 0 .. 80;
        my $word = sub { rand() < 0.15 ? "s$seed-" . int(rand 200) : $voc[int rand @voc] };
        my @out;
        for (1 .. $n) {
            my $nf = rand() < 0.04 ? 0 : 1 + int rand 5;
            push @out, join($sep, map { $word->() } 1 .. $nf);
        }
        print join("\n", @out);
    ' "$1" "$2" "$3"
}

# blanks SEED FILE: FILE (tab-separated, no empty field but perhaps a last
# one) with every tab turned into 1 to 3 blanks and blanks added at the
# start and end of some lines
blanks() {
    perl -e '
        srand($ARGV[0]);
        while (<STDIN>) {
            chomp;
            my @f = grep { length } split /\t/, $_, -1;
            my $l = join "", map { $_ . join("", map { rand() < 0.5 ? " " : "\t" } 0 .. int rand 3) } @f;
            $l =~ s/[ \t]+$// if rand() < 0.6;
            $l = " " x (1 + int rand 2) . $l if rand() < 0.3;
            print "$l\n";
        }
    ' "$1" <"$2"
}

# many SEED N KEYS: N comma-separated lines "key,i,text" over KEYS keys
many() {
    perl -e '
        my ($seed, $n, $keys) = @ARGV; srand($seed);
        for (1 .. $n) { printf "k%d,%d,%s\n", int(rand $keys), $_, "t" x int(rand 12) }
    ' "$1" "$2" "$3"
}

gen 1 1500 $'\t' >"$work/a.tsv"
gen 2 1200 $'\t' >"$work/b.tsv"; printf '\n' >>"$work/b.tsv"
for f in a b; do
    tr '\t' ',' <"$work/$f.tsv" >"$work/$f.csv"
    tr '\t' ':' <"$work/$f.tsv" >"$work/$f.colon"
    tr '\t' ' ' <"$work/$f.tsv" >"$work/$f.space"
    tr '\t' '\0' <"$work/$f.tsv" >"$work/$f.nul"
done
blanks 3 "$work/a.tsv" >"$work/a.blank"
blanks 4 "$work/b.tsv" >"$work/b.blank"
: >"$work/empty"
printf 'q1,x\nq2,y' >"$work/nomatch.csv"          # no key of b.csv; no final newline
grep -q $'^\t' "$work/a.tsv" || fail "the input has no empty join field"
grep -q '^$' "$work/a.tsv" || fail "the input has no empty line"
grep -q $'^[ \t]' "$work/a.blank" || fail "the blank input has no leading blank"
grep -q $'[ \t]$' "$work/a.blank" || fail "the blank input has no trailing blank"

# ------------------------------------------------ the same as join(1)

types=("" "-a 1" "-a 2" "-a 1 -a 2" "-v 1" "-v 2" "-v 1 -v 2" "-a 1 -v 2")
for t in "${types[@]}"; do
    # shellcheck disable=SC2086
    same "tab [$t]" $'\t' 1 1 "$work/a.tsv" "$work/b.tsv" $t
done
for t in "" "-a 1 -a 2" "-v 1" "-v 2"; do
    # shellcheck disable=SC2086
    {
        same "comma, -1 2 -2 3 [$t]" , 2 3 "$work/a.csv" "$work/b.csv" $t
        same "colon, -1 3 -2 1 [$t]" : 3 1 "$work/a.colon" "$work/b.colon" $t
        same "-t ' ', -1 2 -2 2 [$t]" ' ' 2 2 "$work/a.space" "$work/b.space" $t
        same "blanks, no -t [$t]" blank 1 1 "$work/a.blank" "$work/b.blank" $t
        same "blanks, -1 2 -2 3 [$t]" blank 2 3 "$work/a.blank" "$work/b.blank" $t
        same "NUL, -t '\\0' [$t]" '\0' 1 2 "$work/a.nul" "$work/b.nul" $t
        same "whole lines, -t '' [$t]" "" 1 1 "$work/a.tsv" "$work/b.tsv" $t
        same "a field beyond every line (-1 9) [$t]" , 9 1 "$work/a.csv" "$work/b.csv" $t
    }
done
# -j F is -1 F -2 F
expect 0 join -t , -j 2 "$work/a.csv" "$work/b.csv" && sort "$out" >"$work/j" &&
    expect 0 join -t , -1 2 -2 2 "$work/a.csv" "$work/b.csv" &&
    { sort "$out" | cmp -s - "$work/j" || fail "-j 2 is not -1 2 -2 2"; }
# empty files, no matches
for t in "" "-a 1 -a 2" "-v 1" "-v 2"; do
    # shellcheck disable=SC2086
    {
        same "FILE1 empty [$t]" , 1 1 "$work/empty" "$work/b.csv" $t
        same "FILE2 empty [$t]" , 1 1 "$work/a.csv" "$work/empty" $t
        same "both empty [$t]" , 1 1 "$work/empty" "$work/empty" $t
        same "no match [$t]" , 1 1 "$work/nomatch.csv" "$work/b.csv" $t
    }
done
# hand-made lines: empty fields around the key, a missing join field, an
# empty line, a line of blanks, keys that are prefixes of others, the
# cross product of repeated keys, no final newline
printf 'a,1\n,e1\nab,2\na,3\n\nb\nb,,\n,\na!,4\na,' >"$work/h1.csv"
printf 'a,x,\nb,y\n,e2\nab\na,z\n\n,,\nc,w' >"$work/h2.csv"
for t in "${types[@]}"; do
    # shellcheck disable=SC2086
    same "hand-made lines [$t]" , 1 1 "$work/h1.csv" "$work/h2.csv" $t
done
if printf 'a,1\na,2\n' | expect 0 join -t , --sorted - <(printf 'a,x\na,y\n'); then
    [ "$(cat "$out")" = "$(printf 'a,1,x\na,1,y\na,2,x\na,2,y')" ] ||
        fail "the cross product of a,1 a,2 and a,x a,y: $(cat "$out" | tr '\n' ' ')"
fi
# standard input as either file
keysort , 1 "$work/a.csv" >"$work/s1"; keysort , 1 "$work/b.csv" >"$work/s2"
join -t , -a 1 -a 2 "$work/s1" "$work/s2" | sort >"$work/expected"
"$memgov" join -t , -a 1 -a 2 - "$work/b.csv" <"$work/a.csv" 2>"$err" | sort | cmp -s - "$work/expected" ||
    fail "FILE1 on standard input: differs"
# shellcheck disable=SC2002 # a pipe on purpose: input of unknown size
cat "$work/b.csv" | "$memgov" join -t , -a 1 -a 2 --stats "$work/a.csv" - 2>"$err" | sort |
    cmp -s - "$work/expected" || fail "FILE2 on a pipe: differs"
contains "$err" "build FILE1" "a pipe counts as the larger file"

# the build side by size: the smaller file, or --build
head -c 1000 "$work/a.csv" >"$work/small.csv"
expect 0 join -t , --stats "$work/small.csv" "$work/b.csv" && contains "$err" "build FILE1 '$work/small.csv'" "the smaller FILE1 builds"
expect 0 join -t , --stats "$work/b.csv" "$work/small.csv" && contains "$err" "build FILE2 '$work/small.csv'" "the smaller FILE2 builds"
expect 0 join -t , --stats --build 1 "$work/b.csv" "$work/small.csv" && contains "$err" "build FILE1" "--build 1"
expect 0 join -t , --stats - "$work/b.csv" <"$work/small.csv" &&
    contains "$err" "build FILE2" "standard input, even a small file, counts as the larger"
# each mapping onto the join types, as --stats names it
check_type() { # BUILD OPTIONS TYPE
    # shellcheck disable=SC2086
    expect 0 join -t , --stats --build "$1" $2 "$work/a.csv" "$work/b.csv" &&
        contains "$err" "build FILE$1 '$work/[ab].csv' ($3)" "--build $1 $2"
}
dropped="join, pairs dropped"
check_type 1 "" "inner join";               check_type 2 "" "inner join"
check_type 1 "-a 1" "build-outer join";     check_type 2 "-a 1" "probe-outer join"
check_type 1 "-a 2" "probe-outer join";     check_type 2 "-a 2" "build-outer join"
check_type 1 "-a 1 -a 2" "full join";       check_type 2 "-a 1 -a 2" "full join"
check_type 1 "-v 1" "build-outer $dropped"; check_type 2 "-v 1" "anti join"
check_type 1 "-v 2" "anti join";            check_type 2 "-v 2" "build-outer $dropped"
check_type 1 "-v 1 -v 2" "full $dropped";   check_type 2 "-v 1 -v 2" "full $dropped"

# ------------------------------------------------------ spilling at 1M

many 5 60000 45000 >"$work/m1.csv"
many 6 60000 45000 | awk -F , '{print $2 "," $3 "," $1}' >"$work/m2.csv"   # key in field 3
for t in "" "-a 1 -a 2" "-v 1" "-v 2"; do
    # shellcheck disable=SC2086
    if same "1M, spilling [$t]" , 1 3 "$work/m1.csv" "$work/m2.csv" $t -- --memory 1M --stats; then
        [ "$(stat_of "partitions spilled")" -ge 1 ] 2>/dev/null ||
            fail "1M [$t]: did not spill ($(stat_of "partitions spilled") partitions)"
    fi
done
same "1G: in RAM" , 1 3 "$work/m1.csv" "$work/m2.csv" -a 1 -- --memory 1G --stats &&
    { [ "$(stat_of "partitions spilled")" = 0 ] || fail "1G: spilled"; }
# a hot key: 25000 build lines of one key (about 1.4 MB, more than the
# budget) against 10 probe lines: joined in chunks
perl -e 'for (1 .. 25000) { print "hot,$_,", "p" x 40, "\n" } print "cold,1\n"' >"$work/hot1.csv"
perl -e 'for (1 .. 10) { print "hot,q$_\n" } print "cold,2\nnone,3\n"' >"$work/hot2.csv"
if same "a hot key at 1M" , 1 1 "$work/hot1.csv" "$work/hot2.csv" -a 2 -- --memory 1M --stats --build 1; then
    [ "$(stat_of "partitions spilled")" -ge 1 ] 2>/dev/null || fail "hot key: did not spill"
    grep -q "chunked [1-9]" "$err" || fail "hot key: not joined in chunks: $(cat "$err")"
fi
for codec in lz4 zstd; do
    "$memgov" join -t , -2 3 --memory 1M --compress "$codec" "$work/m1.csv" "$work/m2.csv" >"$out" 2>"$err"
    rc=$?
    if [ $rc -eq 2 ] && grep -q "no $codec support" "$err"; then
        echo "note: this build has no $codec"
        continue
    fi
    [ $rc -eq 0 ] || { fail "--compress $codec at --memory 1M exited $rc"; sed 's/^/  stderr: /' "$err"; continue; }
    sort "$out" | cmp -s - <(join -t , -2 3 <(keysort , 1 "$work/m1.csv") <(keysort , 3 "$work/m2.csv") | sort) ||
        fail "--compress $codec: differs"
done
mkdir "$work/spill"
expect 0 join -t , -2 3 --memory 1M --spill-dir "$work/spill" "$work/m1.csv" "$work/m2.csv" &&
    nothing_left "--spill-dir" "$work/spill"

# ------------------------------------------------------ usage and failures

for bad in "$work/a.csv" "-1 0" "-1 x" "-2 -1" "-j 0" "-a 3" "-a 0" "-v x" "-t ab" "-t ,,"  \
    "--build 3" "--build 0" "--memory 1" "--memory lots" "--compress nope" "--spill-quota 0" \
    "--nope" "-x" "--sorted=1"; do
    eval "set -- $bad"
    if expect 2 join "$@" "$work/a.csv" "$work/b.csv"; then
        [ -s "$out" ] && fail "memgov join $bad wrote to stdout"
        contains "$err" "Try 'memgov join --help'" "memgov join $bad"
    fi
done
expect 2 join && contains "$err" "missing operands FILE1 FILE2" "no operands"
expect 2 join "$work/a.csv" && contains "$err" "missing operand FILE2 after '$work/a.csv'" "one operand"
expect 2 join "$work/a.csv" "$work/b.csv" "$work/a.csv" && contains "$err" "extra operand '$work/a.csv'" "three operands"
expect 2 join - - </dev/null && contains "$err" "cannot both be standard input" "both on stdin"
expect 2 join -1 0 "$work/a.csv" "$work/b.csv" && contains "$err" "invalid field number '0' for -1" "-1 0"
expect 2 join -a 3 "$work/a.csv" "$work/b.csv" && contains "$err" "invalid file number '3' for -a (1 or 2)" "-a 3"
expect 2 join -t ab "$work/a.csv" "$work/b.csv" && contains "$err" "invalid separator 'ab' for -t" "-t ab"
# a missing or unreadable FILE2 fails before FILE1 is read: nothing written
for f in "$work/nope.csv" "$work"; do
    expect 2 join -t , "$work/a.csv" "$f" && [ -s "$out" ] && fail "an input '$f': wrote to stdout"
done
contains "$err" "cannot read '$work': Is a directory" "a directory"
expect 2 join -t , "$work/nope.csv" "$work/b.csv" &&
    contains "$err" "cannot read '$work/nope.csv': No such file or directory" "a missing input"
cp "$work/b.csv" "$work/locked.csv"; chmod 000 "$work/locked.csv"
if [ -r "$work/locked.csv" ]; then
    echo "note: running as root, an unreadable file cannot be made"
    # a file that opens but fails to read instead: after the build, before any output
    expect 2 join -t , "$work/a.csv" /proc/self/mem &&
        { contains "$err" "cannot read '/proc/self/mem': Input/output error" "an input that fails to read"
          [ -s "$out" ] && fail "an input that fails to read: wrote to stdout"; }
else
    expect 2 join -t , "$work/a.csv" "$work/locked.csv" && {
        contains "$err" "cannot read '$work/locked.csv': Permission denied" "an unreadable input"
        [ -s "$out" ] && fail "an unreadable input: wrote to stdout"; }
fi
"$memgov" join -t , "$work/a.csv" "$work/b.csv" >/dev/full 2>"$err"
rc=$?
if [ $rc -ne 2 ] || ! grep -q "cannot write to standard output: No space left on device" "$err"; then
    fail "stdout on /dev/full: exit $rc, $(cat "$err")"
fi
# a closed pipe: SIGPIPE, no message, nothing left
"$memgov" join -t , -2 3 --memory 1M "$work/m1.csv" "$work/m2.csv" 2>"$err" | head -1 >/dev/null
rc=${PIPESTATUS[0]}
[ "$rc" -eq 141 ] || fail "join | head -1: exit $rc, expected 141"
[ -s "$err" ] && fail "join | head -1: said $(head -2 "$err")"

# a full spill quota: exit 2, a message, nothing left in the spill directory
expect 2 join -t , -2 3 --memory 1M --spill-quota 64K --spill-dir "$work/spill" "$work/m1.csv" "$work/m2.csv" && {
    contains "$err" "spill failed: no space (quota or disk full)" "a full spill quota"
    nothing_left "a full spill quota" "$work/spill"; }
expect 2 join --spill-dir "$work/a.csv" -t , "$work/a.csv" "$work/b.csv" &&
    contains "$err" "cannot use spill directory '$work/a.csv'" "--spill-dir on a file"

# SIGTERM while it spills (FILE1, a pipe, is built): exit 143, nothing
# said, nothing left in the spill directory or TMPDIR
mkdir "$work/sig"
mkfifo "$work/fifo"
perl -e 'print while <STDIN>; sleep 60' <"$work/m1.csv" >"$work/fifo" &
writer=$!
kids+=("$writer")
"$memgov" join -t , -2 3 --memory 1M --build 1 --spill-dir "$work/sig" "$work/fifo" "$work/m2.csv" >"$out" 2>"$err" &
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
nothing_left "SIGTERM" "$work/sig"
kill "$writer" 2>/dev/null; wait "$writer" 2>/dev/null; kids=()
nothing_left "every run so far, in TMPDIR" "$work/tmp"

# ------------------------------------------------------- progress and help

MEMGOV_PROGRESS=1 "$memgov" join -t , -2 3 --memory 1M "$work/m1.csv" "$work/m2.csv" >"$out" 2>"$err" ||
    fail "progress: exit $?"
grep -q "memgov join: building from" "$err" || fail "MEMGOV_PROGRESS=1: no progress line on stderr"
grep -q $'\r' "$err" || fail "MEMGOV_PROGRESS=1: the line is not redrawn with CR"
"$memgov" join -t , -2 3 --memory 1M "$work/m1.csv" "$work/m2.csv" >/dev/null 2>"$err" || fail "no tty: exit $?"
[ -s "$err" ] && fail "stderr is not a terminal, yet something was written to it"

expect 0 join --help && contains "$out" "Usage: memgov join" "join --help"
expect 0 join -t , --help "$work/a.csv" "$work/b.csv" &&
    { [ "$(head -c 18 "$out")" = "Usage: memgov join" ] || fail "--help with operands: ran the join"; }
expect 0 help join && contains "$out" "Exit status, as memgov sort" "help join"
expect 0 --help && contains "$out" "join" "--help lists join"

# ------------------------------------------------------------- bench join

for mem in 1MiB 64MiB; do
    expect 0 bench join --rows 200000 --memory $mem &&
        { contains "$out" "check        ok" "bench join at $mem"; contains "$out" "peak RSS" "bench join at $mem"; }
done
expect 0 bench join --rows 100000 --memory 1MiB --json && {
    contains "$out" '"ok": true' "bench join --json"
    grep -q '"partitions_spilled": 0,' "$out" && fail "bench join at 1MiB: did not spill"; }
expect 0 bench --help && contains "$out" "join" "bench --help lists join"
for bad in "bench join --rows 0" "bench join --rows x" "bench join --memory 1" \
    "bench join --compress nope" "bench join extra"; do
    # shellcheck disable=SC2086
    if expect 2 $bad; then
        [ -s "$out" ] && fail "memgov $bad wrote to stdout"
        [ -s "$err" ] || fail "memgov $bad said nothing on stderr"
    fi
done
nothing_left "at the end, in TMPDIR" "$work/tmp"

finish join
