#!/usr/bin/env bash
# Latency of /v1/decide against jiangcheng-bare at the same open-model arrival rates: 50% and
# 80% of the bare endpoint's maximum, measured first in the same run (wrk -t1 -c32, 10 s). At
# each rate, jiangcheng-load runs decide and bare alternately (64 connections, latency from the
# intended send time), then prints p50/p90/p99 of each (the median over the runs) and the
# ratios decide/bare. Servers and population as in loadtest/bare-compare.sh.
#
#   loadtest/latency-table.sh [--runs 3] [--seconds 20] [--audit-off]
set -euo pipefail
cd "$(dirname "$0")/.."
source loadtest/bare-lib.sh

runs=3 seconds=20 serve_args=()
while [ $# -gt 0 ]; do
    case $1 in
    --runs) runs=$2; shift ;;
    --seconds) seconds=$2; shift ;;
    --audit-off) serve_args+=(--register off) ;;
    *) usage ;;
    esac
    shift
done

population 1000000 0.02
bodies
start_service -- "${serve_args[@]}"
start_bare -- "$(miss_bytes)"
maximum=$(wrk_rate "$BARE" 10)
echo "== bare's maximum: $maximum/s (wrk -t1 -c32, 10 s)"

# percentiles RATE URL LABEL: one open-model run; prints "p50 p90 p99" in µs.
percentiles() {
    local scenario="$WORK/latency.toml" report="$WORK/latency-$3"
    scenario "$scenario" "latency $3 at $1/s" 64 \
        "$(printf 'model = "open"\n[[load.stage]]\nrate = %s\nseconds = %s' "$1" "$seconds")"
    taskset -c 0 "$BIN/jiangcheng-load" run --scenario "$scenario" --target "${2%/v1/decide}" \
        --out "$report" >/dev/null 2>&1
    jq -r '.runs[0] | "\(.latency.p50) \(.latency.p90) \(.latency.p99) \(.counts | .dropped + .timeouts + .transport_errors + .unexpected_status) \(.generator.bottleneck)"' "$report.json"
}

table=()
for share in 50 80; do
    rate=$(awk -v m="$maximum" -v s="$share" 'BEGIN { printf "%d", m * s / 100 }')
    declare -A values=()
    for run in $(seq 1 "$runs"); do
        for endpoint in decide bare; do
            url=$SERVICE
            [ "$endpoint" = bare ] && url=$BARE
            read -r p50 p90 p99 errors late <<<"$(percentiles "$rate" "$url" "$endpoint")"
            echo "$share% ($rate/s) run $run $endpoint: p50 $p50 µs, p90 $p90 µs, p99 $p99 µs, errors $errors$([ "$late" = true ] && echo ', the generator flagged itself')"
            values[${endpoint}_p50]+=" $p50" values[${endpoint}_p90]+=" $p90" values[${endpoint}_p99]+=" $p99"
        done
    done
    row="| $share% ($rate/s)"
    for endpoint in decide bare; do
        for p in p50 p90 p99; do
            # shellcheck disable=SC2086
            values[${endpoint}_$p]=$(median ${values[${endpoint}_$p]})
        done
        row+=" | ${values[${endpoint}_p50]} / ${values[${endpoint}_p90]} / ${values[${endpoint}_p99]}"
    done
    row+=" | $(awk -v a="${values[decide_p50]} ${values[decide_p90]} ${values[decide_p99]}" \
        -v b="${values[bare_p50]} ${values[bare_p90]} ${values[bare_p99]}" \
        'BEGIN { split(a, d); split(b, r); printf "%.2f / %.2f / %.2f", d[1] / r[1], d[2] / r[2], d[3] / r[3] }') |"
    table+=("$row")
    unset values
done
echo
echo "| rate (of bare's $maximum/s) | decide p50 / p90 / p99 µs | bare p50 / p90 / p99 µs | decide/bare |"
echo "|---|---|---|---|"
printf '%s\n' "${table[@]}"
echo "(medians of $runs alternated runs of $seconds s; load average: $(cut -d' ' -f1-3 /proc/loadavg))"
