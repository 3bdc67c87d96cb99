#!/usr/bin/env bash
# scripts/test.sh - every test, in every configuration (what `make test` runs).
#
#   1. build/       gcc, RelWithDebInfo, -Werror            ctest (all but packaging)
#   2. build-asan/  clang (gcc if absent), ASan + UBSan,    ctest
#                   and the library's debug checks (MGOV_DEBUG)
#   3. build-tsan/  gcc, TSan, no codecs (lz4 and zstd OFF) ctest, without ASLR
#   4. packaging    exported symbols, SONAME, install + find_package + pkg-config
#                   (ctest -L packaging in build/)
#   5. fuzz         build-fuzz/, clang + libFuzzer, ~25 s in all
#                   (skipped with a message when clang or its runtime is absent)
#
# Step 3 also builds the library without its optional compression codecs
# (-DMGOV_WITH_LZ4=OFF -DMGOV_WITH_ZSTD=OFF), so that configuration is
# compiled and tested too: the spill tests then skip the codec cases and
# check that those codecs are MGOV_ENOTSUP.
#
# Every step runs even when an earlier one failed; a summary closes the run
# and the exit status is non-zero if any step failed.
#
# Environment:
#   JOBS=n               parallel compile jobs (default: CPUs)
#   CTEST_JOBS=n         parallel tests (default 2)
#   MGOV_FUZZ_SECONDS=n  wall-clock budget of the fuzz step (default 24)
#   MGOV_TEST_STEPS="plain asan tsan packaging fuzz"   run only these steps
#
# TSan and ASLR: ThreadSanitizer (gcc 12, clang 14) can die at start-up with
# "FATAL: ThreadSanitizer: unexpected memory mapping" when the kernel places
# mappings where TSan's fixed shadow layout expects none (more likely with a
# high vm.mmap_rnd_bits on recent kernels).  Newer runtimes re-exec themselves
# without ASLR; these do not, so step 3 runs ctest under
# `setarch $(uname -m) -R` (ADDR_NO_RANDOMIZE, inherited by every test) when
# the system allows it (Docker's default seccomp profile does not), and
# plainly otherwise; tests that still die of it are re-run up to 3 times.
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# Run from `make test`: the builds below are not sub-makes of it.
unset MAKEFLAGS MFLAGS MAKELEVEL

JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}
CTEST_JOBS=${CTEST_JOBS:-2}
FUZZ_SECONDS=${MGOV_FUZZ_SECONDS:-24}
STEPS=${MGOV_TEST_STEPS:-plain asan tsan packaging fuzz}

# Sanitizer reports must fail the test that triggers them, with a stack.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:strict_string_checks=1:detect_stack_use_after_return=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}

bold=""; red=""; green=""; yellow=""; reset=""
if [[ -t 1 ]]; then
    bold=$'\e[1m'; red=$'\e[31m'; green=$'\e[32m'; yellow=$'\e[33m'; reset=$'\e[0m'
fi

results=()   # "name|status|seconds|note"
failed=0

banner() { printf '\n%s==== %s ====%s\n' "$bold" "$*" "$reset"; }
record() {   # name status seconds [note]
    results+=("$1|$2|$3|${4:-}")
    [[ "$2" == FAIL ]] && failed=1
    return 0
}
want() { [[ " $STEPS " == *" $1 "* ]]; }
have() { command -v "$1" >/dev/null 2>&1; }

# clang with its runtime (sanitizers and libFuzzer: libclang-rt-dev).
clang_ok() {
    have clang || return 1
    local d
    d=$(clang -print-resource-dir 2>/dev/null) || return 1
    compgen -G "$d/lib/*/libclang_rt.fuzzer*.a" >/dev/null ||
        compgen -G "$d/lib/*/*/libclang_rt.fuzzer*.a" >/dev/null
}

# configure_build <dir> <cc> [cmake args...]: configure (the compiler is
# honoured only when the directory is new) and build everything.
configure_build() {
    local dir=$1 cc=$2
    shift 2
    if [[ -f "$dir/CMakeCache.txt" ]]; then
        local cached
        cached=$(sed -n 's/^CMAKE_C_COMPILER:[A-Z]*=//p' "$dir/CMakeCache.txt")
        if [[ -n "$cached" && "$(basename "$cached")" != "$cc"* ]]; then
            echo "note: $dir was configured with $cached; reconfiguring from scratch with $cc"
            rm -rf "$dir"
        fi
    fi
    echo "+ CC=$cc cmake -S . -B $dir $*"
    CC=$cc cmake -S . -B "$dir" "$@" || return 1
    echo "+ cmake --build $dir -j $JOBS"
    cmake --build "$dir" -j "$JOBS"
}

# run_config <step> <dir> <cc> <launcher|""> <ctest args|""> [cmake args...]
run_config() {
    local step=$1 dir=$2 cc=$3 launcher=$4 ctest_args=$5
    shift 5
    banner "$step: $dir ($cc${*:+, $*})"
    local t0=$SECONDS
    if ! configure_build "$dir" "$cc" "$@"; then
        record "$step" FAIL $((SECONDS - t0)) "configure/build failed ($dir)"
        return
    fi
    local tb=$((SECONDS - t0)) log=$dir/ctest.log ok=0 note=""
    echo "+ ${launcher:+$launcher }ctest --test-dir $dir --output-on-failure -j $CTEST_JOBS $ctest_args"
    # shellcheck disable=SC2086  # launcher and ctest_args are word lists
    $launcher ctest --test-dir "$dir" --output-on-failure -j "$CTEST_JOBS" $ctest_args \
        2>&1 | tee "$log" && ok=1
    # A TSan runtime that cannot map its shadow dies before main(): that is
    # the machine, not the code.  Run those tests again (ASLR is random).
    local try
    for try in 1 2 3; do
        ((ok)) && break
        grep -q "ThreadSanitizer: unexpected memory mapping" "$log" || break
        echo "note: TSan could not map its shadow memory (ASLR); re-running the failed tests ($try/3)"
        note="; TSan mapping retries: $try"
        $launcher ctest --test-dir "$dir" --output-on-failure --rerun-failed 2>&1 |
            tee "$log" && ok=1
    done
    if ((ok)); then
        record "$step" PASS $((SECONDS - t0)) "build ${tb}s, tests $((SECONDS - t0 - tb))s$note"
    else
        record "$step" FAIL $((SECONDS - t0)) "build ${tb}s; ctest failed ($dir)$note"
    fi
}

start=$SECONDS

if ! bash scripts/deps.sh; then
    echo "test.sh: required packages are missing (see above)" >&2
    exit 1
fi

if clang_ok; then
    CLANG=clang
else
    CLANG=""
fi

# 1. plain: gcc, the configuration users build.  Packaging tests run in step 4.
if want plain; then
    run_config plain build gcc "" "-LE packaging" \
        -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMGOV_WERROR=ON
fi

# 2. ASan + UBSan, with clang so that clang's warnings are errors too, and
#    the debug checks (an assertion or a lock-held check that fails aborts).
if want asan; then
    asan_cc=${CLANG:-gcc}
    [[ -z "$CLANG" ]] && echo "note: clang (with libclang-rt-dev) not found: ASan build uses gcc"
    run_config asan build-asan "$asan_cc" "" "" \
        -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMGOV_WERROR=ON -DMGOV_SANITIZE=address \
        -DMGOV_DEBUG=ON
fi

# 3. TSan, gcc, without ASLR when we can turn it off; and without codecs.
if want tsan; then
    tsan_launcher=""
    if have setarch && setarch "$(uname -m)" -R true 2>/dev/null; then
        tsan_launcher="setarch $(uname -m) -R"
    else
        echo "note: cannot disable ASLR here (setarch -R refused); TSan runs with ASLR."
        echo "      If it fails with 'unexpected memory mapping', lower vm.mmap_rnd_bits (e.g. sysctl vm.mmap_rnd_bits=28)."
    fi
    run_config tsan build-tsan gcc "$tsan_launcher" "" \
        -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMGOV_WERROR=ON -DMGOV_SANITIZE=thread \
        -DMGOV_BUILD_BENCH=OFF -DMGOV_WITH_LZ4=OFF -DMGOV_WITH_ZSTD=OFF
fi

# 4. packaging: needs build/ (step 1 builds it; build it here if step 1 was
#    not asked for).
if want packaging; then
    banner "packaging: symbols, SONAME, install, find_package, pkg-config"
    t0=$SECONDS
    if { [[ -f build/CMakeCache.txt ]] && want plain; } ||
       configure_build build gcc -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMGOV_WERROR=ON; then
        echo "+ ctest --test-dir build --output-on-failure -L packaging"
        if ctest --test-dir build --output-on-failure -L packaging; then
            record packaging PASS $((SECONDS - t0))
        else
            record packaging FAIL $((SECONDS - t0)) "ctest -L packaging failed (build)"
        fi
    else
        record packaging FAIL $((SECONDS - t0)) "configure/build failed (build)"
    fi
fi

# 5. fuzz: clang + libFuzzer; every fuzz/fuzz_*.c target, FUZZ_SECONDS of
#    wall-clock time in all (CTEST_JOBS targets at a time).
if want fuzz; then
    banner "fuzz: build-fuzz (clang, libFuzzer + ASan + UBSan)"
    t0=$SECONDS
    shopt -s nullglob
    targets=(fuzz/fuzz_*.c)
    shopt -u nullglob
    if [[ -z "$CLANG" ]]; then
        echo "fuzz: skipped: clang with libFuzzer not found (install clang libclang-rt-dev)"
        record fuzz SKIP 0 "clang/libclang-rt-dev not installed"
    elif ((${#targets[@]} == 0)); then
        echo "fuzz: skipped: no fuzz/fuzz_*.c targets"
        record fuzz SKIP 0 "no fuzz targets"
    else
        n=${#targets[@]}
        per=$(( (FUZZ_SECONDS * CTEST_JOBS + n - 1) / n ))
        ((per > FUZZ_SECONDS)) && per=$FUZZ_SECONDS
        ((per < 5)) && per=5
        echo "+ CC=clang cmake -S fuzz -B build-fuzz -DMGOV_FUZZ_SECONDS=$per"
        if CC=clang cmake -S fuzz -B build-fuzz -DMGOV_FUZZ_SECONDS="$per" &&
           cmake --build build-fuzz -j "$JOBS"; then
            tb=$((SECONDS - t0))
            echo "+ ctest --test-dir build-fuzz --output-on-failure -j $CTEST_JOBS  ($n target(s), ${per}s each)"
            if ctest --test-dir build-fuzz --output-on-failure -j "$CTEST_JOBS"; then
                record fuzz PASS $((SECONDS - t0)) "$n target(s), ${per}s each; build ${tb}s"
            else
                record fuzz FAIL $((SECONDS - t0)) "a fuzz target failed; inputs in build-fuzz/artifacts/"
            fi
        else
            record fuzz FAIL $((SECONDS - t0)) "configure/build failed (build-fuzz)"
        fi
    fi
fi

banner "summary"
for r in "${results[@]}"; do
    IFS='|' read -r name status secs note <<<"$r"
    case $status in
        PASS) color=$green ;;
        FAIL) color=$red ;;
        *) color=$yellow ;;
    esac
    printf '  %-10s %s%-4s%s %5ss  %s\n' "$name" "$color" "$status" "$reset" "$secs" "$note"
done
total=$((SECONDS - start))
printf '  total %dm%02ds\n' $((total / 60)) $((total % 60))
if ((failed)); then
    printf '%sFAILED%s\n' "$red$bold" "$reset"
    exit 1
fi
if ((${#results[@]} == 0)); then
    echo "no step selected (MGOV_TEST_STEPS=$STEPS)"
    exit 1
fi
printf '%sall tests passed%s\n' "$green$bold" "$reset"
