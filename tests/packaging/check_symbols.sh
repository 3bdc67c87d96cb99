#!/usr/bin/env bash
# check_symbols.sh <libmemgov.so> - the shared library's ABI surface:
#   - every exported (defined, dynamic) symbol starts with mgov_;
#   - none starts with mgov__ (internal functions stay hidden);
#   - mgov_version and mgov_strerror are among them;
#   - the SONAME is libmemgov.so.0.
set -euo pipefail

lib=${1:?usage: check_symbols.sh <libmemgov.so>}
[[ -f "$lib" ]] || { echo "FAIL: $lib does not exist"; exit 1; }
status=0

# nm -D --defined-only: "<value> <type> <name>[@@version]".  Type A entries
# are version nodes (MEMGOV_0) from the version script, not symbols.
syms=$(nm -D --defined-only "$lib" | awk '$2 != "A" { sub(/@.*/, "", $3); print $3 }' | sort -u)
count=$(printf '%s\n' "$syms" | grep -c . || true)
echo "exported symbols: $count"

bad=$(printf '%s\n' "$syms" | grep -v '^mgov_' | grep . || true)
if [[ -n "$bad" ]]; then
    echo "FAIL: exported symbols without the mgov_ prefix:"
    printf '  %s\n' $bad
    status=1
fi
internal=$(printf '%s\n' "$syms" | grep '^mgov__' || true)
if [[ -n "$internal" ]]; then
    echo "FAIL: internal (mgov__) symbols exported:"
    printf '  %s\n' $internal
    status=1
fi
for s in mgov_version mgov_strerror; do
    if ! printf '%s\n' "$syms" | grep -qx "$s"; then
        echo "FAIL: $s is not exported"
        status=1
    fi
done

soname=$(readelf -d "$lib" | sed -n 's/.*(SONAME).*\[\(.*\)\].*/\1/p')
if [[ "$soname" != "libmemgov.so.0" ]]; then
    echo "FAIL: SONAME is '${soname}', expected libmemgov.so.0"
    status=1
else
    echo "SONAME: $soname"
fi

((status == 0)) && echo "OK: only mgov_ symbols exported, SONAME libmemgov.so.0"
exit $status
