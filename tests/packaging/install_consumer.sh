#!/usr/bin/env bash
# install_consumer.sh <build dir> <consumer source dir> <cc> <with-tool|no-tool>
#
# Installs the build into a temporary prefix, checks what landed there, then
# builds tests/packaging/consumer against it twice and runs the results:
#   1. CMake: find_package(memgov 0.1) + memgov::memgov (and memgov_static);
#   2. pkg-config: cc main.c $(pkg-config --cflags --libs memgov), and
#      statically: libmemgov.a with $(pkg-config --static --libs memgov)
#      (the codec libraries come from Requires.private).
# The temporary directory is removed on exit.
set -euo pipefail

build=${1:?build dir}
consumer=${2:?consumer dir}
cc=${3:-cc}
tool=${4:-no-tool}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/memgov-packaging.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix
fail() { echo "FAIL: $*"; exit 1; }

echo "== cmake --install $build --prefix $prefix"
cmake --install "$build" --prefix "$prefix" >"$tmp/install.log" ||
    { cat "$tmp/install.log"; fail "cmake --install"; }

# What must be there (the libdir may be lib/ or lib/<multiarch>/).
pc=$(find "$prefix" -name memgov.pc -path '*/pkgconfig/*' | head -n1)
[[ -n "$pc" ]] || fail "memgov.pc not installed"
libdir=$(dirname "$(dirname "$pc")")
for f in include/memgov.h include/memgov/common.h include/memgov/governor.h; do
    [[ -f "$prefix/$f" ]] || fail "$f not installed"
done
for f in libmemgov.a libmemgov.so libmemgov.so.0 cmake/memgov/memgovConfig.cmake \
         cmake/memgov/memgovConfigVersion.cmake cmake/memgov/memgovTargets.cmake; do
    [[ -e "$libdir/$f" ]] || fail "${libdir#"$prefix"/}/$f not installed"
done
[[ -L "$libdir/libmemgov.so" ]] || fail "libmemgov.so is not a symlink"
if [[ "$tool" == with-tool ]]; then
    [[ -x "$prefix/bin/memgov" ]] || fail "bin/memgov not installed"
fi
headers=$(cd "$prefix/include" && find . -name '*.h' | sort | tr '\n' ' ')
echo "installed: headers $headers; ${libdir#"$prefix"/}/{libmemgov.a,libmemgov.so*,cmake/memgov,pkgconfig/memgov.pc}"

expect_output() {   # <exe> : runs it against the installed library
    local out
    out=$(LD_LIBRARY_PATH="$libdir" "$1") || fail "$1 exited with $?"
    echo "$out" | sed 's/^/  | /'
    grep -qx "memgov 0\.1\.[0-9]*" <<<"$out" || fail "$1: unexpected version line"
    grep -q "^MGOV_EBUDGET: ..*" <<<"$out" || fail "$1: no MGOV_EBUDGET message"
    [[ "$(grep '^MGOV_EBUDGET' <<<"$out")" != "MGOV_EBUDGET: unknown status" ]] ||
        fail "$1: mgov_strerror(MGOV_EBUDGET) is 'unknown status'"
    grep -q "^codecs: lz4 [a-z]*, zstd [a-z]*$" <<<"$out" || fail "$1: no codecs line"
}

echo "== find_package(memgov 0.1): consumer project"
CC=$cc cmake -S "$consumer" -B "$tmp/cmake-build" -DCMAKE_PREFIX_PATH="$prefix" \
    -DCMAKE_BUILD_TYPE=Release >"$tmp/configure.log" 2>&1 ||
    { cat "$tmp/configure.log"; fail "consumer configure"; }
cmake --build "$tmp/cmake-build" >"$tmp/build.log" 2>&1 ||
    { cat "$tmp/build.log"; fail "consumer build"; }
needed=$(readelf -d "$tmp/cmake-build/consumer" | sed -n 's/.*(NEEDED).*\[\(libmemgov[^]]*\)\].*/\1/p')
[[ "$needed" == libmemgov.so.0 ]] || fail "consumer needs '$needed', expected libmemgov.so.0"
echo "consumer (shared, NEEDED $needed):"
expect_output "$tmp/cmake-build/consumer"
if readelf -d "$tmp/cmake-build/consumer_static" | grep -q 'NEEDED.*libmemgov'; then
    fail "consumer_static links libmemgov.so"
fi
echo "consumer_static:"
expect_output "$tmp/cmake-build/consumer_static"

echo "== pkg-config --cflags --libs memgov"
export PKG_CONFIG_PATH="$libdir/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
flags=$(pkg-config --cflags --libs memgov) || fail "pkg-config memgov"
echo "  $flags"
[[ "$(pkg-config --modversion memgov)" == 0.1.* ]] || fail "pkg-config --modversion"
# shellcheck disable=SC2086  # flags are a word list
"$cc" -std=c11 -Wall -Wextra -Werror -o "$tmp/consumer-pc" "$consumer/main.c" $flags ||
    fail "cc main.c \$(pkg-config --cflags --libs memgov)"
expect_output "$tmp/consumer-pc"

# static: the archive itself, and what --static adds (-pthread, the codecs)
static_flags=$(pkg-config --static --cflags --libs memgov) || fail "pkg-config --static memgov"
static_flags=${static_flags//-lmemgov/-l:libmemgov.a}
echo "  $static_flags"
# shellcheck disable=SC2086  # flags are a word list
"$cc" -std=c11 -Wall -Wextra -Werror -o "$tmp/consumer-pc-static" "$consumer/main.c" \
    $static_flags || fail "cc main.c \$(pkg-config --static --cflags --libs memgov)"
if readelf -d "$tmp/consumer-pc-static" | grep -q 'NEEDED.*libmemgov'; then
    fail "consumer-pc-static links libmemgov.so"
fi
expect_output "$tmp/consumer-pc-static"

echo "OK: install, find_package and pkg-config consumers work"
