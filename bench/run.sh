#!/usr/bin/env bash
# Runs every benchmark of a build directory (default: build) and prints its
# figures.  Figures are ratios against baselines measured in the same
# process, interleaved in rounds, because the machines are shared and noisy.
# Record what it prints in bench/RESULTS.md with the command that made it.
# bench_section (spill and reload of a 1 GiB section) writes its files in a
# directory it makes and removes under $TMPDIR (or /tmp): it needs about
# 3 GiB of free disk there and 3 GiB of RAM.
set -euo pipefail
build=${1:-build}
cd "$(dirname "${BASH_SOURCE[0]}")/.."
shopt -s nullglob
benches=("$build"/bench/bench_*)
if [ ${#benches[@]} -eq 0 ]; then
    echo "bench/run.sh: no benchmarks in $build/bench (build first: make build)" >&2
    exit 1
fi
echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(uname -m), $(nproc) cores, $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
for b in "${benches[@]}"; do
    [ -x "$b" ] || continue
    echo "## $(basename "$b")"
    "$b"
done
