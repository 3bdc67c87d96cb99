#!/usr/bin/env bash
# The README's C example must compile against the library and run: docs that
# promise what the code does not are a bug.  Extracts the first ```c block of
# README.md, builds it with the static library and runs it.
# Usage: readme_example.sh README.md INCLUDE_DIR LIBMEMGOV_A CC
set -euo pipefail
readme=$1 include=$2 lib=$3 cc=$4
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
awk '/^```c$/ {on = 1; next} on && /^```$/ {exit} on {print}' "$readme" > "$tmp/example.c"
if [ ! -s "$tmp/example.c" ]; then
    echo "readme_example: no \`\`\`c block in $readme" >&2
    exit 1
fi
"$cc" -std=c11 -Wall -Wextra -Werror -I"$include" "$tmp/example.c" "$lib" -pthread \
    -o "$tmp/example"
out=$("$tmp/example")
echo "$out"
# the example prints the stats as JSON: check it at least names the budget
case "$out" in
    *'"budget":'*) ;;
    *) echo "readme_example: unexpected output" >&2; exit 1 ;;
esac
