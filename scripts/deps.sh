#!/usr/bin/env bash
# scripts/deps.sh - make sure the Debian packages memgov builds with are here.
#
# Fast when everything is present: one dpkg-query call and a few `command -v`,
# no network.  When something is missing:
#   - as root: `apt-get update` once, then `apt-get install -y
#     --no-install-recommends` of exactly what is missing (non-interactive);
#   - otherwise: prints which packages are missing and the command to run,
#     and fails if a required one is missing (optional ones only warn).
#
# Required: what the library, the tool, the tests and the packaging test need
#   (gcc's ASan/UBSan/TSan runtimes come with gcc itself; libxxhash-dev is
#   the hash of the hash operators, used inline from its header;
#   libjemalloc-dev gives libjemalloc_pic.a, linked into memgov's heaps under
#   private names (cmake/jemalloc.cmake); datamash is the reference
#   `memgov groupby` is tested against; time gives /usr/bin/time, the peak
#   RSS the tests and bench scripts measure; gnuplot-nox draws `memgov
#   demo`'s picture from its samples).
# Optional: clang and its runtime (libclang-rt-dev: clang's sanitizers and
#   libFuzzer).  Without them the ASan build falls back to gcc and the fuzz
#   run is skipped; `make test` says so.
#
# Environment: MGOV_SKIP_DEPS=1 skips every check (non-Debian systems, or
# when you manage the toolchain yourself).
set -euo pipefail

if [[ "${MGOV_SKIP_DEPS:-0}" == 1 ]]; then
    exit 0
fi

required=(cmake make gcc libc6-dev binutils pkg-config libcmocka-dev liblz4-dev libzstd-dev
          libxxhash-dev libjemalloc-dev datamash time gnuplot-nox)
optional=(clang)

say() { printf 'deps: %s\n' "$*" >&2; }

if ! command -v dpkg-query >/dev/null 2>&1; then
    # Not Debian: check the tools only, and let CMake report missing libraries.
    missing_tools=()
    for t in cmake make cc pkg-config; do
        command -v "$t" >/dev/null 2>&1 || missing_tools+=("$t")
    done
    if ((${#missing_tools[@]})); then
        say "not a Debian system (no dpkg-query) and missing: ${missing_tools[*]}"
        say "install them (plus cmocka, lz4, zstd and xxhash headers), or set MGOV_SKIP_DEPS=1"
        exit 1
    fi
    exit 0
fi

# Installed packages among the ones we care about: one dpkg-query call.
declare -A installed=()
while IFS=$'\t' read -r status name; do
    [[ "$status" == ii* ]] && installed["${name%%:*}"]=1
done < <(dpkg-query -W -f='${db:Status-Abbrev}\t${binary:Package}\n' \
             "${required[@]}" "${optional[@]}" 2>/dev/null || true)

missing_req=()
for p in "${required[@]}"; do
    [[ -n "${installed[$p]:-}" ]] || missing_req+=("$p")
done
missing_opt=()
for p in "${optional[@]}"; do
    [[ -n "${installed[$p]:-}" ]] || missing_opt+=("$p")
done

# clang's runtime (sanitizers, libFuzzer) is its own package in Debian 12
# (libclang-rt-14-dev, or the unversioned libclang-rt-dev).  Look for the
# library itself next to the clang we would use: that also catches a runtime
# installed for a different clang version.
clang_rt_present() {
    command -v clang >/dev/null 2>&1 || return 1
    local dir
    dir=$(clang -print-resource-dir 2>/dev/null) || return 1
    compgen -G "$dir/lib/*/libclang_rt.fuzzer*.a" >/dev/null ||
        compgen -G "$dir/lib/*/*/libclang_rt.fuzzer*.a" >/dev/null
}

# Which package provides that runtime for the `clang` apt would install.
clang_rt_package() {
    if apt-cache show --no-all-versions libclang-rt-dev >/dev/null 2>&1; then
        echo libclang-rt-dev
        return
    fi
    local v=""
    if command -v clang >/dev/null 2>&1; then
        v=$(clang -dumpversion 2>/dev/null | cut -d. -f1)
    fi
    if [[ -z "$v" ]]; then
        v=$(apt-cache depends clang 2>/dev/null |
            sed -n 's/^ *Depends: clang-\([0-9][0-9]*\)$/\1/p' | head -n1)
    fi
    echo "libclang-rt-${v:-14}-dev"
}

need_rt=0
clang_rt_present || need_rt=1

if ((${#missing_req[@]} == 0 && ${#missing_opt[@]} == 0 && need_rt == 0)); then
    exit 0
fi

if [[ "$(id -u)" == 0 ]]; then
    export DEBIAN_FRONTEND=noninteractive
    say "installing missing packages (apt-get update first)"
    apt-get update -q
    pkgs=("${missing_req[@]}" "${missing_opt[@]}")
    ((need_rt)) && pkgs+=("$(clang_rt_package)")
    say "apt-get install -y --no-install-recommends ${pkgs[*]}"
    apt-get install -y -q --no-install-recommends "${pkgs[@]}"
    exit 0
fi

pkgs=("${missing_req[@]}" "${missing_opt[@]}")
((need_rt)) && pkgs+=("$(clang_rt_package)")
if ((${#missing_req[@]})); then
    say "missing required packages: ${missing_req[*]}"
fi
if ((${#missing_opt[@]} || need_rt)); then
    opt=("${missing_opt[@]}")
    ((need_rt)) && opt+=("$(clang_rt_package)")
    say "missing optional packages: ${opt[*]}"
    say "  (without them: the ASan build uses gcc and the fuzz run is skipped)"
fi
say "install them as root with:"
say "  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${pkgs[*]}"
say "or run this command again as root (e.g. sudo make test)."
((${#missing_req[@]} == 0))
