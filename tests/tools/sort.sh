#!/usr/bin/env bash
# tests/tools/sort.sh MEMGOV - `memgov sort` and `memgov bench sort` end to
# end: the output is byte-identical to `LC_ALL=C sort` (plain, -r, -u,
# -r -u) on generated inputs (empty and long lines, NUL and bytes >= 0x80,
# duplicates, a last line without newline, several files and stdin, a
# line over 1 MiB), in RAM and at --memory 1M where it spills many runs and
# merges in passes, with every codec the build has; --records 16:8 against
# a stable reference sort in perl; the errors exit 2 with one line on
# stderr (missing input, unwritable output, bad options, a full spill
# quota, which must leave the spill directory empty); -o may name an input;
# the progress line shows only when asked for without a terminal.
# Inputs are small enough to run in well under a minute under ASan.
set -u
memgov=$1
# shellcheck source=tests/tools/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
scratch sort
export LC_ALL=C
unset MEMGOV_PROGRESS MEMGOV_BUDGET

# same WHAT MEMGOV_ARGS -- SORT_ARGS: memgov sort's output equals sort's
same() {
    local what=$1; shift
    local margs=() sargs=()
    while [ "$1" != "--" ]; do margs+=("$1"); shift; done
    shift
    sargs=("$@")
    sort "${sargs[@]}" >"$work/expected" 2>/dev/null || { fail "$what: sort(1) failed"; return 1; }
    if expect 0 sort "${margs[@]}"; then
        cmp -s "$work/expected" "$out" || { fail "$what: output differs from sort ${sargs[*]}"
            cmp "$work/expected" "$out" | head -2; return 1; }
    else
        return 1
    fi
    return 0
}

# ---------------------------------------------------------------- inputs

# gen_lines SEED N: N lines of many lengths: empty ones, over a 4-letter
# alphabet (long shared prefixes), raw bytes with NUL and >= 0x80, and
# duplicates of earlier lines.  No newline after the last line.
gen_lines() {
    perl -e '
        my ($seed, $n) = @ARGV; srand($seed);
        my $raw = pack("C*", map { int rand 256 } 1 .. 65536); $raw =~ tr/\n/\x00/;
        my $abc = join "", map { chr(97 + int rand 4) } 1 .. 65536;
        my (@pool, @out);
        for my $i (1 .. $n) {
            my $r = rand; my $line;
            if (@pool && $r < 0.2) { $line = $pool[int rand @pool]; }
            else {
                my $len = rand() < 0.05 ? 0 : int(rand() ** 3 * 300);
                my $src = $r < 0.6 ? $abc : $raw;
                $line = substr($src, int rand(65536 - $len), $len);
                push @pool, $line if @pool < 500;
            }
            push @out, $line;
        }
        print join("\n", @out);
    ' "$1" "$2"
}

# gen_records SEED N: N 16-byte records whose 8-byte keys repeat (a pool
# of N/4 keys, some sharing all but the last byte), the rest random.
gen_records() {
    perl -e '
        my ($seed, $n) = @ARGV; srand($seed);
        my @keys = map { pack("C*", map { int rand 256 } 1 .. 8) } 1 .. ($n / 4 + 1);
        for (@keys[0 .. $#keys / 2]) { substr($_, 0, 7) = "\x80\x00\xff\x00\x01\x02\x03"; }
        for (1 .. $n) {
            print $keys[int rand @keys], pack("C*", map { int rand 256 } 1 .. 8);
        }
    ' "$1" "$2"
}

# ref_records FILE [-r] [-u]: the reference: a stable sort by the first 8
# bytes of 16-byte records (-r: descending, still stable; -u: the first of
# each key).
ref_records() {
    perl -e '
        use sort "stable";
        my ($file, @flags) = @ARGV; my %f = map { $_ => 1 } @flags;
        open(my $fh, "<:raw", $file) or die; local $/; my $d = <$fh>;
        my @r = unpack("(a16)*", $d);
        @r = $f{"-r"} ? sort { substr($b, 0, 8) cmp substr($a, 0, 8) } @r
                      : sort { substr($a, 0, 8) cmp substr($b, 0, 8) } @r;
        if ($f{"-u"}) { my ($last, @u); for (@r) { my $k = substr($_, 0, 8);
            push @u, $_ if !defined $last || $k ne $last; $last = $k; } @r = @u; }
        binmode STDOUT; print @r;
    ' "$@"
}

gen_lines 1 20000 >"$work/mixed.txt"
gen_lines 2 40000 >"$work/big.txt"          # about 3 MB: many runs at --memory 1M
# 1.4 million short lines (12 MB): about 70 runs at --memory 1M, more than
# one pass can merge there
perl -e 'for my $i (1 .. 1400000) { printf "%x\n", ($i * 2654435761) & 0xfffffff }' >"$work/short.txt"
gen_lines 3 300 >"$work/small1.txt"
gen_lines 4 300 >"$work/small2.txt"
printf 'zeta\nalpha\n' >"$work/small3.txt"
: >"$work/empty.txt"
printf 'only line\n' >"$work/one.txt"
printf 'no newline' >"$work/one-nonl.txt"
printf '\n\n\n' >"$work/blank.txt"
printf 'a\0b\na\0a\n\0\n\0\0\na\n\0z\n' >"$work/nul.txt"
printf '\xff\n\x80\n\x7f\na\n\xc3\xa9\ne\n\xff\xfe\n' >"$work/high.txt"
perl -e 'print "m" x (3 << 20), "\n", "b\n", "m" x 100, "\n", "z" x (1 << 20), "x\n", "a"' \
    >"$work/long.txt"
gen_records 5 30000 >"$work/rec.bin"      # 480 KB
gen_records 6 200000 >"$work/rec-big.bin" # 3.2 MB: spills at --memory 1M

# ------------------------------------------------- same order as sort(1)

for flags in "" "-r" "-u" "-r -u"; do
    # shellcheck disable=SC2086
    same "mixed $flags" $flags "$work/mixed.txt" -- $flags "$work/mixed.txt"
    # shellcheck disable=SC2086
    same "mixed $flags at 1M" --memory 1M --stats $flags "$work/big.txt" -- $flags "$work/big.txt" &&
        { [ "$(stat_of runs)" -ge 2 ] 2>/dev/null || fail "mixed $flags at 1M: did not spill"; }
done
same "multi-pass merge at 1M" --memory 1M --stats "$work/short.txt" -- "$work/short.txt" &&
    { [ "$(stat_of "merge passes")" -ge 2 ] 2>/dev/null ||
        fail "short.txt at 1M: one merge pass only ($(stat_of runs) runs)"; }
same "large budget" --memory 1G --stats "$work/big.txt" -- "$work/big.txt" &&
    { [ "$(stat_of runs)" = 0 ] || fail "large budget: spilled"; }

for f in empty one one-nonl blank nul high long; do
    same "$f.txt" "$work/$f.txt" -- "$work/$f.txt"
    same "$f.txt -r -u" -r -u "$work/$f.txt" -- -r -u "$work/$f.txt"
done
expect 0 sort "$work/empty.txt" && [ -s "$out" ] && fail "empty input: output not empty"
same "long lines at 16M" --memory 16M "$work/long.txt" "$work/big.txt" -- "$work/long.txt" "$work/big.txt"

# several files and standard input, in order
same "three files" "$work/small1.txt" "$work/small2.txt" "$work/small3.txt" -- \
    "$work/small1.txt" "$work/small2.txt" "$work/small3.txt"
"$memgov" sort "$work/small1.txt" - "$work/one-nonl.txt" <"$work/small2.txt" >"$out" 2>"$err" ||
    fail "files and stdin: exit $?"
sort "$work/small1.txt" - "$work/one-nonl.txt" <"$work/small2.txt" | cmp -s - "$out" ||
    fail "files and stdin: output differs"
"$memgov" sort -u <"$work/mixed.txt" >"$out" 2>"$err" || fail "stdin: exit $?"
sort -u <"$work/mixed.txt" | cmp -s - "$out" || fail "stdin -u: output differs"
# shellcheck disable=SC2002 # a pipe on purpose: input of unknown size
cat "$work/big.txt" | "$memgov" sort --memory 1M 2>"$err" | cmp -s - <(sort "$work/big.txt") ||
    fail "pipe in and out at 1M: output differs"

# codecs: each the build has; the others must say so
for codec in none lz4 zstd; do
    "$memgov" sort --memory 1M --stats --compress "$codec" "$work/big.txt" >"$out" 2>"$err"
    rc=$?
    if [ $rc -eq 2 ] && grep -q "no $codec support" "$err"; then
        echo "note: this build has no $codec"
        continue
    fi
    [ $rc -eq 0 ] || { fail "--compress $codec exited $rc"; sed 's/^/  stderr: /' "$err"; continue; }
    sort "$work/big.txt" | cmp -s - "$out" || fail "--compress $codec: output differs"
    [ "$(stat_of runs)" -ge 2 ] 2>/dev/null || fail "--compress $codec: did not spill"
    grep -q "($codec)" "$err" || fail "--compress $codec: stats do not name the codec"
done

# -o, including an output that is also an input
cp "$work/mixed.txt" "$work/inout.txt"
expect 0 sort -o "$work/inout.txt" "$work/inout.txt" && {
    [ -s "$out" ] && fail "-o: wrote to stdout"
    sort "$work/mixed.txt" | cmp -s - "$work/inout.txt" || fail "-o the input: file differs"; }
cp "$work/big.txt" "$work/inout.txt"
expect 0 sort --memory 1M -o "$work/inout.txt" "$work/small3.txt" "$work/inout.txt" &&
    { sort "$work/small3.txt" "$work/big.txt" | cmp -s - "$work/inout.txt" || fail "-o the input at 1M: differs"; }
cp "$work/big.txt" "$work/longer.txt"
expect 0 sort -o "$work/longer.txt" "$work/small3.txt" &&
    { sort "$work/small3.txt" | cmp -s - "$work/longer.txt" || fail "-o an existing longer file: not truncated"; }
expect 0 sort -o - "$work/small3.txt" && { sort "$work/small3.txt" | cmp -s - "$out" || fail "-o -: differs"; }

# --records LEN:KEYLEN against the reference
for flags in "" "-r" "-u" "-r -u"; do
    for mem in "" "--memory 1M"; do
        f=$work/rec.bin; [ -n "$mem" ] && f=$work/rec-big.bin
        # shellcheck disable=SC2086
        if expect 0 sort --records 16:8 --stats $mem $flags "$f"; then
            # shellcheck disable=SC2086
            ref_records "$f" $flags | cmp -s - "$out" || fail "--records 16:8 $mem $flags: differs"
            [ -z "$mem" ] || [ "$(stat_of runs)" -ge 2 ] 2>/dev/null || fail "--records at 1M: did not spill"
        fi
    done
done
if expect 0 sort --records 16 "$work/rec.bin"; then
    perl -e 'open(my $f, "<:raw", $ARGV[0]); local $/; binmode STDOUT;
             print sort unpack("(a16)*", <$f>)' "$work/rec.bin" | cmp -s - "$out" ||
        fail "--records 16 (the whole record as key): differs"
fi
head -c 17 "$work/rec.bin" >"$work/rec17.bin"
expect 2 sort --records 16:8 "$work/rec17.bin" && {
    contains "$err" "rec17.bin" "--records on 17 bytes"; contains "$err" "1 byte(s) left over" "--records on 17 bytes"; }

# ----------------------------------------------------------------- errors

expect 2 sort "$work/small3.txt" "$work/nope.txt" && {
    contains "$err" "cannot read '$work/nope.txt': No such file or directory" "missing input"
    [ -s "$out" ] && fail "missing input: wrote to stdout"; }
expect 2 sort -o "$work/nodir/out.txt" "$work/small3.txt" &&
    contains "$err" "cannot write '$work/nodir/out.txt': No such file or directory" "output in a missing directory"
expect 2 sort -o "$work" "$work/small3.txt" && contains "$err" "cannot write '$work'" "output is a directory"
# an unwritable output fails before any input is read (/dev/zero never ends a line)
timeout 20 "$memgov" sort -o "$work/nodir/x" /dev/zero >"$out" 2>"$err"
rc=$?
if [ $rc -ne 2 ] || ! grep -q "cannot write" "$err"; then
    fail "unwritable output was not found before reading (exit $rc)"
fi
"$memgov" sort "$work/big.txt" >/dev/full 2>"$err"
rc=$?
if [ $rc -ne 2 ] || ! grep -q "cannot write to standard output: No space left on device" "$err"; then
    fail "stdout on /dev/full: not reported (exit $rc)"
fi
expect 2 sort -o /dev/full "$work/big.txt" &&
    contains "$err" "cannot write '/dev/full': No space left on device" "-o /dev/full"
expect 2 sort -o "$work/fresh.txt" "$work/nope.txt" && [ -e "$work/fresh.txt" ] &&
    fail "a failed sort left the output it created"
# a line longer than the budget can hold is refused once that much is read,
# with the limit in the message: /dev/zero is one endless line (D5)
expect 2 sort --memory 1M "$work/long.txt" &&
    contains "$err" "line 1 of '$work/long.txt' is longer than .*, the longest the budget (--memory 1M) can hold" \
        "a 3 MiB line at --memory 1M"
if [ -x /usr/bin/time ]; then
    # peak_rss ARGS...: memgov's peak RSS in KiB
    peak_rss() { /usr/bin/time -f "%M" -o "$work/rss" "$memgov" "$@" >/dev/null 2>"$err"; tail -1 "$work/rss"; }
    base=$(peak_rss sort --memory 1M /dev/null)
    zero=$(peak_rss sort --memory 1M /dev/zero)
    contains "$err" "line 1 of '/dev/zero' is longer than .*, the longest the budget (--memory 1M) can hold" \
        "/dev/zero at --memory 1M"
    # the input buffer is charged to the budget: the line it holds and the
    # sort's memory together stay within the 1 MiB (772 KiB over before)
    [ $((zero - base)) -lt 512 ] ||
        fail "/dev/zero at --memory 1M: peak RSS $zero KiB, $((zero - base)) KiB over an empty sort's"
fi
# rep(c, n): c repeated n times (mawk's sprintf stops at 8 KiB)
awk_rep='function rep(c, n,  s) { s = c; while (2 * length(s) <= n) s = s s;
                                 return s substr(s, 1, n - length(s)) } '
# a line at the limit sorts among short ones: the input buffer makes room
# by spilling the sort (mgov_sort_spill), and two merge readers hold it
# (before, such a line was taken and the merge then timed out)
for mem in 1M 8M; do
    limit=$("$memgov" sort --memory $mem /dev/zero 2>&1 >/dev/null |
            sed -n 's/.*longer than \([0-9.]*\) \(KiB\|MiB\).*/\1 \2/p')
    bytes=$(awk -v l="$limit" 'BEGIN { split(l, a, " "); m = a[2] == "MiB" ? 1048576 : 1024;
                                     printf "%d", a[1] * m - 4096 }')
    awk -v n="$bytes" "$awk_rep"'BEGIN { srand(7); for (i = 0; i < 100000; i++) printf "%08x\n", int(rand() * 4294967295);
                               print rep("m", n);
                               for (i = 0; i < 100000; i++) printf "%08x\n", int(rand() * 4294967295) }' \
        >"$work/atlimit.txt"
    expect 0 sort --memory $mem -o "$work/atlimit.out" "$work/atlimit.txt" &&
        LC_ALL=C sort "$work/atlimit.txt" | cmp -s - "$work/atlimit.out" ||
        fail "a line of $bytes bytes (the limit at --memory $mem, $limit) among short ones"
done
# groupby and join make room the same way (mgov_hashagg_spill, mgov_hashjoin_spill)
awk "$awk_rep"'BEGIN { for (i = 0; i < 200000; i++) printf "k%d\t%d\n", i % 50000, i;
             printf "k5\t5\t%s\n", rep("x", 3145728);
             for (i = 0; i < 200000; i++) printf "k%d\t%d\n", i % 50000, i }' >"$work/longrow.txt"
expect 0 groupby --memory 16M -k 1 --sum 2 "$work/longrow.txt" &&
    [ "$(wc -l <"$out")" -eq 50000 ] || fail "groupby of a 3 MiB line at --memory 16M"
awk "$awk_rep"'BEGIN { for (i = 0; i < 100000; i++) printf "k%d b%d\n", i % 30000, i;
             printf "k7 %s\n", rep("y", 2097152) }' \
    >"$work/longrow2.txt"
tr '\t' ' ' <"$work/longrow.txt" >"$work/longrow1.txt"
expect 0 join --memory 32M "$work/longrow1.txt" "$work/longrow2.txt" &&
    [ "$(wc -l <"$out")" -eq 800012 ] || fail "join with 3 MiB and 2 MiB lines at --memory 32M"
rm -f "$work/atlimit.txt" "$work/atlimit.out" "$work"/longrow*.txt
MEMGOV_BUDGET=2M expect 2 sort "$work/long.txt" &&
    contains "$err" "the longest the budget (MEMGOV_BUDGET=2M) can hold" "a 3 MiB line with MEMGOV_BUDGET=2M"

for bad in "--memory 0" "--memory lots" "--memory 100" "--records 0" "--records 16:0" \
    "--records 16:17" "--records abc" "--records 16:" "--records :8" "--records 16:8x" \
    "--compress snappy" "--spill-quota 0" "--nope" "-k1"; do
    # shellcheck disable=SC2086
    if expect 2 sort $bad "$work/small3.txt"; then
        [ -s "$out" ] && fail "memgov sort $bad wrote to stdout"
        contains "$err" "Try 'memgov sort --help'" "memgov sort $bad"
    fi
done

# a full spill quota: exit 2, a message, nothing left in the spill directory
mkdir "$work/spill"
expect 2 sort --memory 1M --spill-quota 64K --spill-dir "$work/spill" -o "$work/full.txt" \
    "$work/big.txt" && {
    contains "$err" "spill failed: no space (quota or disk full)" "a full spill quota"
    [ -z "$(ls -A "$work/spill")" ] || fail "a full spill quota left files: $(ls -A "$work/spill")"
    [ -e "$work/full.txt" ] && fail "a full spill quota left the output it created"; }
expect 2 sort --spill-dir "$work/small3.txt" "$work/small3.txt" &&
    contains "$err" "cannot use spill directory '$work/small3.txt'" "--spill-dir on a file"
expect 0 sort --memory 1M --spill-dir "$work/spill" "$work/big.txt" &&
    { [ -z "$(ls -A "$work/spill")" ] || fail "a sort left files in its spill directory"; }

# ---------------------------------------------------------------- progress

MEMGOV_PROGRESS=1 "$memgov" sort --memory 1M "$work/big.txt" >"$out" 2>"$err" || fail "progress: exit $?"
grep -q "memgov sort: read" "$err" || fail "MEMGOV_PROGRESS=1: no progress line on stderr"
grep -q $'\r' "$err" || fail "MEMGOV_PROGRESS=1: the line is not redrawn with CR"
sort "$work/big.txt" | cmp -s - "$out" || fail "progress: output differs"
"$memgov" sort --memory 1M "$work/big.txt" >/dev/null 2>"$err" || fail "no tty: exit $?"
[ -s "$err" ] && fail "stderr is not a terminal, yet something was written to it"
MEMGOV_PROGRESS=0 "$memgov" sort "$work/big.txt" >/dev/null 2>"$err"
[ -s "$err" ] && fail "MEMGOV_PROGRESS=0: something was written to stderr"

# ------------------------------------------------------------------- help

expect 0 sort --help && contains "$out" "Usage: memgov sort" "sort --help"
expect 0 help sort && contains "$out" "Exit status, as sort(1)" "help sort"
expect 0 --help && contains "$out" "sort" "--help lists sort"

# ------------------------------------------------------------ bench sort

expect 0 bench sort --records 300000 --memory 1M && {
    contains "$out" "check        ok" "bench sort"; contains "$out" "peak RSS" "bench sort"; }
expect 0 bench sort --records 100000 --memory 64M --json && {
    contains "$out" '"ok": true' "bench sort --json"; contains "$out" '"spilled_stored"' "bench sort --json"; }
expect 0 bench --help && contains "$out" "sort" "bench --help"
for bad in "bench" "bench nope" "bench sort --records 0" "bench sort --records x" \
    "bench sort --memory 1" "bench sort --compress nope" "bench sort extra"; do
    # shellcheck disable=SC2086
    if expect 2 $bad; then
        [ -s "$out" ] && fail "memgov $bad wrote to stdout"
        [ -s "$err" ] || fail "memgov $bad said nothing on stderr"
    fi
done

finish sort
