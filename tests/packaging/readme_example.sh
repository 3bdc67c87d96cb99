#!/usr/bin/env bash
# The README's C examples must compile against the library and run: docs that
# promise what the code does not are a bug.  Extracts every ```c block of
# README.md (each a whole program), builds it with the static library and
# runs it: it must exit 0, and the first (the governor's) must print the
# stats as JSON.
# Usage: readme_example.sh README.md INCLUDE_DIR LIBMEMGOV_A CC [LIBS...]
# (LIBS: what the static library needs, e.g. -llz4 -lzstd for the codecs)
set -euo pipefail
readme=$1 include=$2 lib=$3 cc=$4
shift 4
libs=("$@")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
awk -v dir="$tmp" '/^```c$/ {n++; on = 1; next}
    on && /^```$/ {on = 0; next}
    on {print > (dir "/example" n ".c")}' "$readme"
shopt -s nullglob
examples=("$tmp"/example*.c)
if [ ${#examples[@]} -eq 0 ]; then
    echo "readme_example: no \`\`\`c block in $readme" >&2
    exit 1
fi
for src in "${examples[@]}"; do
    exe=${src%.c}
    "$cc" -std=c11 -Wall -Wextra -Werror -I"$include" "$src" "$lib" "${libs[@]}" -pthread -o "$exe"
    if ! out=$("$exe"); then
        echo "readme_example: $(basename "$src") failed:" >&2
        echo "$out" >&2
        exit 1
    fi
    echo "$out"
    # the first example prints the stats as JSON: check it names the budget
    if [ "$src" = "$tmp/example1.c" ]; then
        case "$out" in
            *'"budget":'*) ;;
            *) echo "readme_example: unexpected output" >&2; exit 1 ;;
        esac
    fi
done
echo "readme_example: ${#examples[@]} example(s) built and run"
