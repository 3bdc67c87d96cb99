#!/usr/bin/env bash
# tests/tools/sections.sh MEMGOV - `memgov sections` end to end, in a
# persistent spill directory of its own: an empty listing; --put of two
# sections (and an empty one) listed as on_disk with their lengths, in text
# and JSON; --get gives the bytes back; an existing name is refused; --remove
# drops one (and its file), a second --remove says not found; a missing DIR
# or a file is refused without being created; a DIR another process holds
# (`memgov sort --spill-dir` waiting for its input) is busy; a damaged
# section header is listed as corrupt; damaged data fails --get; a damaged
# manifest fails every form with "corrupt" (an unreadable one, when not
# root, with an I/O error).  The quarantine: listing a DIR with no manifest
# moves its section files into DIR/sec-quarantine, deletes nothing and says
# so; --quarantined lists them (text and JSON), --restore brings one back
# (--as under another name), refusing a name in use and a damaged file,
# --discard deletes one; names squatted by directories, symlinks or FIFOs
# (the next generation's file, sec-manifest.tmp, sec-quarantine,
# memgov.lock) no longer wedge DIR, and what still fails names the file.
# Bad usage exits 2.
set -u
memgov=$1
# shellcheck source=tests/tools/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
scratch sections
dir=$work/spill
mkdir "$dir"

contains() { # FILE REGEX WHAT
    grep -Eq -- "$2" "$1" || { fail "$3: no '$2' in:"; sed 's/^/  | /' "$1" | head -20; }
}
lacks() { # FILE REGEX WHAT
    if grep -Eq -- "$2" "$1"; then fail "$3: '$2' should not be in:"; sed 's/^/  | /' "$1" | head -20; fi
}
quiet_stdout() { [ -s "$out" ] && fail "$1 wrote to stdout"; }
says_why() { [ -s "$err" ] || fail "$1 said nothing on stderr"; }

printf 'hello, sections\n' >"$work/alpha.txt"         # 16 bytes
seq 1 50000 >"$work/beta.txt"                          # 288894 bytes
: >"$work/empty.txt"
beta_len=$(wc -c <"$work/beta.txt" | tr -d ' ')

# ---------------------------------------------------------------- listing
expect 0 sections "$dir" && contains "$out" "^no sections in" "empty listing"
if expect 0 sections "$dir" --json; then
    [ "$(cat "$out")" = "[]" ] || fail "empty listing --json is not []: $(cat "$out")"
fi

expect 0 sections "$dir" --put alpha "$work/alpha.txt" && quiet_stdout "--put alpha"
expect 0 sections "$dir" --put beta "$work/beta.txt"
expect 0 sections "$dir" --put empty - <"$work/empty.txt"

expect 0 sections "$dir" && {
    contains "$out" "^name +tier +length +generation +disk +status$" "listing header"
    contains "$out" "^alpha +on_disk +16 B +[0-9]+ +4\.01 KiB +ok$" "listing alpha"
    contains "$out" "^beta +on_disk +282 KiB +[0-9]+ +286 KiB +ok$" "listing beta"
    contains "$out" "^empty +on_disk +0 B +[0-9]+ +4\.00 KiB +ok$" "listing empty"
}
expect 0 sections "$dir" --json && {
    contains "$out" '"name": "alpha", "tier": "on_disk", "override": "auto", "length": \{"bytes": 16, ' \
        "--json alpha"
    contains "$out" "\"name\": \"beta\", \"tier\": \"on_disk\", .*\"length\": \\{\"bytes\": $beta_len, .*\"status\": \"ok\"" \
        "--json beta"
    contains "$out" '"name": "empty", .*"length": \{"bytes": 0, .*"disk": \{"bytes": 4096, ' "--json empty"
    if command -v python3 >/dev/null 2>&1; then
        python3 - "$out" "$beta_len" <<'EOF' || fail "--json does not parse as the expected array"
import json, sys
v = json.load(open(sys.argv[1]))
assert [e["name"] for e in v] == ["alpha", "beta", "empty"], v
assert [e["length"]["bytes"] for e in v] == [16, int(sys.argv[2]), 0], v
assert all(e["tier"] == "on_disk" and e["status"] == "ok" for e in v), v
assert all(e["disk"]["bytes"] == 4096 + e["length"]["bytes"] for e in v), v
assert len({e["generation"] for e in v}) == 3, v
EOF
    fi
}
n_files=$(find "$dir" -name 'sec-*' ! -name 'sec-manifest*' | wc -l)
[ "$n_files" -eq 3 ] || fail "expected 3 section files in DIR, found $n_files"
[ -e "$dir/memgov.lock" ] && fail "memgov.lock left in DIR"

# ---------------------------------------------------------------- get, put again, remove
expect 0 sections "$dir" --get beta && { cmp -s "$out" "$work/beta.txt" || fail "--get beta differs"; }
expect 0 sections "$dir" --get alpha && { cmp -s "$out" "$work/alpha.txt" || fail "--get alpha differs"; }
expect 0 sections "$dir" --get empty && { [ -s "$out" ] && fail "--get empty wrote bytes"; }
expect 1 sections "$dir" --put alpha "$work/beta.txt" && contains "$err" "already exists" "--put over alpha"
expect 0 sections "$dir" --get alpha && { cmp -s "$out" "$work/alpha.txt" || fail "alpha changed by a refused --put"; }
expect 1 sections "$dir" --get nosuch && contains "$err" "not found" "--get nosuch"
expect 1 sections "$dir" --put gamma "$work/no-such-file" && contains "$err" "cannot read" "--put of a missing FILE"

expect 0 sections "$dir" --remove beta && quiet_stdout "--remove beta"
expect 0 sections "$dir" && { lacks "$out" "^beta " "listing after --remove"; contains "$out" "^alpha " "listing after --remove"; }
ls "$dir" | grep -q -- '-beta$' && fail "beta's file is still in DIR after --remove"
expect 1 sections "$dir" --remove beta && contains "$err" "not found" "second --remove beta"

# ---------------------------------------------------------------- bad DIRs
expect 1 sections "$work/missing" && { says_why "sections of a missing DIR"; quiet_stdout "sections of a missing DIR"; }
[ -e "$work/missing" ] && fail "memgov sections created the missing DIR"
expect 1 sections "$work/missing" --put x "$work/alpha.txt"
[ -e "$work/missing" ] && fail "memgov sections --put created the missing DIR"
expect 1 sections "$work/alpha.txt" && contains "$err" "not a directory" "sections of a file"

# busy: a memgov sort holding DIR as its spill directory while it waits for input
fifo=$work/fifo
mkfifo "$fifo"
(read -r _ <"$fifo") | "$memgov" sort --spill-dir "$dir" >/dev/null 2>&1 &
holder=$!
kids+=("$holder")
for _ in $(seq 100); do [ -s "$dir/memgov.lock" ] && break; sleep 0.1; done
if [ -s "$dir/memgov.lock" ]; then
    expect 1 sections "$dir" && { contains "$err" "another live memgov process" "sections of a busy DIR"; quiet_stdout "sections of a busy DIR"; }
    expect 1 sections "$dir" --json && contains "$err" "resource busy" "sections --json of a busy DIR"
    expect 1 sections "$dir" --remove alpha
else
    fail "memgov sort --spill-dir did not take DIR's lock"
fi
timeout 10 bash -c 'echo >"$1"' _ "$fifo" || fail "could not release the sort"
wait "$holder" || fail "the sort holding DIR failed"
kids=()
expect 0 sections "$dir" && contains "$out" "^alpha " "listing once DIR is free again"

# ---------------------------------------------------------------- damage
# a section's header: listed as corrupt, and --get refuses it
expect 0 sections "$dir" --put hdr "$work/alpha.txt"
hdr_file=$(ls "$dir"/sec-*-hdr)
printf 'X' | dd of="$hdr_file" bs=1 seek=0 conv=notrunc 2>/dev/null
expect 0 sections "$dir" && {
    contains "$out" "^hdr +on_disk .* corrupt$" "listing a damaged header"
    contains "$out" "^alpha .* ok$" "listing beside a damaged header"
}
expect 0 sections "$dir" --json && contains "$out" '"name": "hdr", .*"status": "corrupt"' "--json of a damaged header"
expect 1 sections "$dir" --get hdr && contains "$err" "corrupt" "--get of a damaged header"
expect 0 sections "$dir" --remove hdr

# a section's data: the header checks, the data's checksum fails at --get
expect 0 sections "$dir" --put data "$work/beta.txt"
data_file=$(ls "$dir"/sec-*-data)
printf '\377' | dd of="$data_file" bs=1 seek=5000 conv=notrunc 2>/dev/null
expect 1 sections "$dir" --get data && contains "$err" "corrupt" "--get of damaged data"
expect 0 sections "$dir" --remove data

# the manifest: every form fails, saying so; nothing is removed
cp "$dir/sec-manifest" "$work/manifest.good"
printf '\377' | dd of="$dir/sec-manifest" bs=1 seek=20 conv=notrunc 2>/dev/null
cmp -s "$dir/sec-manifest" "$work/manifest.good" && fail "the manifest was not damaged"
expect 1 sections "$dir" && { contains "$err" "corrupt" "listing with a damaged manifest"; quiet_stdout "listing with a damaged manifest"; }
expect 1 sections "$dir" --json && { contains "$err" "corrupt" "--json with a damaged manifest"; quiet_stdout "--json with a damaged manifest"; }
expect 1 sections "$dir" --remove alpha && contains "$err" "corrupt" "--remove with a damaged manifest"
expect 1 sections "$dir" --put zeta "$work/alpha.txt" && contains "$err" "corrupt" "--put with a damaged manifest"
ls "$dir" | grep -q -- '-alpha$' || fail "alpha's file went while the manifest was damaged"
cp "$work/manifest.good" "$dir/sec-manifest"
if [ "$(id -u)" -ne 0 ]; then # an unreadable manifest (root reads it anyway)
    chmod 000 "$dir/sec-manifest"
    expect 1 sections "$dir" && { contains "$err" "input/output error" "listing with an unreadable manifest"; quiet_stdout "listing with an unreadable manifest"; }
    chmod 600 "$dir/sec-manifest"
fi
expect 0 sections "$dir" --get alpha && { cmp -s "$out" "$work/alpha.txt" || fail "alpha differs after the manifest was repaired"; }

# ---------------------------------------------------------------- quarantine
qd=$work/q
mkdir "$qd"
expect 0 sections "$qd" --put qa "$work/alpha.txt"
expect 0 sections "$qd" --put qb "$work/beta.txt"
expect 0 sections "$qd" --put qc "$work/alpha.txt"
qa_file=$(cd "$qd" && ls sec-*-qa) qb_file=$(cd "$qd" && ls sec-*-qb) qc_file=$(cd "$qd" && ls sec-*-qc)
sums_before=$(cd "$qd" && cat sec-0* | cksum)
rm "$qd/sec-manifest"
expect 0 sections "$qd" && {
    contains "$out" "^no sections in" "listing without a manifest"
    contains "$err" "3 files the manifest does not account for moved to '$qd/sec-quarantine'" \
        "listing without a manifest says what it moved"
    contains "$err" "memgov sections $qd --quarantined" "listing without a manifest says how to see them"
}
[ "$(cd "$qd/sec-quarantine" 2>/dev/null && cat sec-0* | cksum)" = "$sums_before" ] ||
    fail "the section files are not all in the quarantine, byte for byte"
ls "$qd" | grep -q '^sec-0' && fail "section files left outside the quarantine"
expect 0 sections "$qd" && { [ -s "$err" ] && fail "a second listing moved more: $(cat "$err")"; }
expect 0 sections "$qd" --quarantined && {
    contains "$out" "^file +section +length +disk +status$" "--quarantined header"
    contains "$out" "^$qa_file +qa +16 B +4\.01 KiB +ok$" "--quarantined qa"
    contains "$out" "^$qb_file +qb +282 KiB +286 KiB +ok$" "--quarantined qb"
}
if expect 0 sections "$qd" --quarantined --json && command -v python3 >/dev/null 2>&1; then
    python3 - "$out" "$qa_file" "$beta_len" <<'EOF' || fail "--quarantined --json does not parse as expected"
import json, sys
v = json.load(open(sys.argv[1]))
assert len(v) == 3 and v[0]["file"] == sys.argv[2] and v[0]["name"] == "qa", v
assert v[1]["length"]["bytes"] == int(sys.argv[3]) and v[1]["disk"]["bytes"] == 4096 + int(sys.argv[3]), v
assert all(e["status"] == "ok" for e in v), v
EOF
fi
expect 0 sections "$qd" --restore "$qa_file" && quiet_stdout "--restore"
expect 0 sections "$qd" --get qa && { cmp -s "$out" "$work/alpha.txt" || fail "qa differs after --restore"; }
expect 0 sections "$qd" && contains "$out" "^qa +on_disk +16 B " "listing after --restore"
expect 1 sections "$qd" --restore "$qc_file" --as qa && contains "$err" "section 'qa' already exists" "--restore --as over qa"
[ -f "$qd/sec-quarantine/$qc_file" ] || fail "a refused --restore moved the file"
expect 0 sections "$qd" --restore "$qc_file" --as "qc new"
expect 0 sections "$qd" --get "qc new" && { cmp -s "$out" "$work/alpha.txt" || fail "'qc new' differs"; }
printf '\377' | dd of="$qd/sec-quarantine/$qb_file" bs=1 seek=5000 conv=notrunc 2>/dev/null
expect 0 sections "$qd" --quarantined && contains "$out" "^$qb_file +qb .* corrupt$" "--quarantined of a damaged file"
expect 1 sections "$qd" --restore "$qb_file" && contains "$err" "corrupt data" "--restore of a damaged file"
[ -f "$qd/sec-quarantine/$qb_file" ] || fail "a damaged file left the quarantine"
expect 1 sections "$qd" --restore nosuch && contains "$err" "no file 'nosuch' in the quarantine" "--restore nosuch"
expect 0 sections "$qd" --discard "$qb_file" && quiet_stdout "--discard"
[ -e "$qd/sec-quarantine/$qb_file" ] && fail "--discard left the file"
expect 1 sections "$qd" --discard "$qb_file" && contains "$err" "not found" "second --discard"
expect 0 sections "$qd" --quarantined && contains "$out" "^nothing in the quarantine" "--quarantined when empty"

# squatters: a directory and a symlink on the next generations' names, a
# directory as sec-manifest.tmp (moved aside), then what still fails
n=$(ls "$qd" | sed -n 's/^sec-\([0-9a-f]*\)-.*/\1/p' | sort | tail -1)
next=$(printf '%016x' $((16#$n + 1))) next2=$(printf '%016x' $((16#$n + 2)))
mkdir "$qd/sec-$next-sq" && ln -s /nonexistent "$qd/sec-$next2-sq" && mkdir "$qd/sec-manifest.tmp"
expect 0 sections "$qd" --put sq "$work/alpha.txt" &&
    contains "$err" "1 file the manifest does not account for moved" "--put beside a squatted sec-manifest.tmp"
expect 0 sections "$qd" --get sq && { cmp -s "$out" "$work/alpha.txt" || fail "sq differs"; }
[ -d "$qd/sec-quarantine/sec-manifest.tmp" ] || fail "sec-manifest.tmp (a directory) is not in the quarantine"
for i in $(seq 1 20); do mkdir "$qd/sec-$(printf '%016x' $((16#$n + 2 + i)))-sq2"; done
expect 1 sections "$qd" --put sq2 "$work/alpha.txt" &&
    contains "$err" "'$qd/sec-[0-9a-f]*-sq2' is not a regular file" "--put over too many squatters names one"
rm -rf "$qd"/sec-*-sq2
rm -rf "$qd/sec-quarantine" && printf x >"$qd/sec-quarantine" && mkdir "$qd/sec-manifest.tmp"
expect 1 sections "$qd" &&
    contains "$err" "cannot move 'sec-manifest.tmp' into its quarantine: '$qd/sec-quarantine' is not a directory" \
        "a squatted quarantine"
rm -f "$qd/sec-quarantine" && rmdir "$qd/sec-manifest.tmp"
for kind in dir symlink fifo; do
    case $kind in
    dir) mkdir "$qd/memgov.lock" ;;
    symlink) ln -s /nonexistent "$qd/memgov.lock" ;;
    fifo) mkfifo "$qd/memgov.lock" ;;
    esac
    expect 1 sections "$qd" && contains "$err" "its lock file memgov.lock is not a regular file" "memgov.lock as a $kind"
    rm -rf "$qd/memgov.lock"
done
expect 0 sections "$qd" && contains "$out" "^sq " "listing once the squatters are gone"

# ---------------------------------------------------------------- usage
for bad in "sections" "sections --nope $dir" "sections $dir extra" "sections $dir --put x" \
    "sections $dir --json --remove x" "sections $dir --put a --remove b $work/alpha.txt" \
    "sections $dir --get ../x" "sections $dir --restore ../x" "sections $dir --discard a/b" \
    "sections $dir --restore ." "sections $dir --as x" "sections $dir --restore x --json" \
    "sections $dir --quarantined --remove x" "sections $dir --restore x --as a/b"; do
    # shellcheck disable=SC2086
    if expect 2 $bad; then
        quiet_stdout "memgov $bad"
        says_why "memgov $bad"
    fi
done
expect 0 help sections && contains "$out" "Usage: memgov sections DIR" "help sections"

finish sections
