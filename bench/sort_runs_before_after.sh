#!/usr/bin/env bash
# bench/sort_runs_before_after.sh BEFORE AFTER [ROUNDS]: `memgov bench sort`
# with two memgov binaries, alternated in one script (the machine's noise
# falls on both alike), at 20M records under 16 MiB and 50M under 256 MiB:
# wall seconds, runs, merge passes, the smallest run cut while pushing
# (input_run_min; "-" from a binary that does not report it) and peak RSS
# as a percentage of the budget.  Used for bench/RESULTS.md's "Runs that
# hold one record".
set -euo pipefail
before=${1:?usage: $0 BEFORE AFTER [ROUNDS]}
after=${2:?usage: $0 BEFORE AFTER [ROUNDS]}
rounds=${3:-2}
json=$(mktemp)
trap 'rm -f "$json"' EXIT

for ((round = 1; round <= rounds; round++)); do
    for which in before after; do
        bin=$before
        [ "$which" = after ] && bin=$after
        for cfg in "--records 20000000 --memory 16MiB" "--records 50000000 --memory 256MiB"; do
            # shellcheck disable=SC2086
            "$bin" bench sort $cfg --json >"$json" 2>/dev/null
            python3 - "$json" "$which" "$cfg" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
print(sys.argv[2], sys.argv[3], d["seconds"], "runs", d["runs"], "passes", d["merge_passes"],
      "minrun", d.get("input_run_min", "-"), "rss%", d["peak_rss_pct_of_budget"], "ok", d["ok"])
EOF
        done
    done
done
