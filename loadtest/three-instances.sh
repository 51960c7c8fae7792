#!/usr/bin/env bash
# Three instances on one Redis, on this machine's two cores. One redis-server (pinned to core 0)
# holds about 1 M imported entries (a generated population of 1,000,000 subjects, 80% listed) and
# the query registers (`--register auto`: in Redis when the lists are). Then, each for
# --seconds, jiangcheng-load's closed model (32 connections an instance, one request in ten for
# a listed subject, eight matters) pinned to core 0 against:
#   1. one instance pinned to core 1;
#   2. three instances, all pinned to core 1, the harness spreading its connections over them;
#   3. the same three instances free to use both cores, and the harness too.
# Prints throughput and latency per instance and in total, and each process's CPU.
#
#   loadtest/three-instances.sh [--seconds 20]
set -euo pipefail
cd "$(dirname "$0")/.."
source loadtest/bare-lib.sh

seconds=20
while [ $# -gt 0 ]; do
    case $1 in
    --seconds) seconds=$2; shift ;;
    *) usage ;;
    esac
    shift
done

population 1000000 0.8
bodies
redis_port=$(free_port)
taskset -c 0 redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no \
    >"$WORK/redis.log" 2>&1 &
redis_pid=$!
STARTED+=("$redis_pid")
until redis-cli -p "$redis_port" ping >/dev/null 2>&1; do sleep 0.1; done
redis="redis://127.0.0.1:$redis_port/"
started=$(date +%s.%N)
"$BIN/jiangcheng" import --lists "$LISTS" --redis "$redis" >"$WORK/import.log" 2>&1
echo "== imported $(wc -l <"$LISTS") entries in $(awk -v s="$started" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }') s; Redis: $(redis-cli -p "$redis_port" info memory | awk -F: '/^used_memory_human/ { print $2 }' | tr -d '\r')"

LISTS=$redis
urls=() pids=()
for _ in 1 2 3; do
    started=$(date +%s.%N)
    start_service --
    echo "instance ${SERVICE%/v1/decide} ready in $(awk -v s="$started" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }') s"
    urls+=("${SERVICE%/v1/decide}") pids+=("$SERVICE_PID")
done

# cpu_seconds PID: user + system CPU seconds the process has used.
cpu_seconds() {
    awk '{ sub(/.*\) /, ""); print ($12 + $13) / 100 }' "/proc/$1/stat"
}

# phase LABEL CORES COUNT: the harness against the first COUNT instances, pinned as CORES says.
phase() {
    local label=$1 cores=$2 count=$3 scenario="$WORK/three.toml" i before=() targets=()
    for i in $(seq 0 2); do taskset -apc "$cores" "${pids[$i]}" >/dev/null; done
    for i in $(seq 0 $((count - 1))); do targets+=(--target "${urls[$i]}"); done
    scenario "$scenario" "$label" $((32 * count)) "$(printf 'model = "closed"\nseconds = %s' "$seconds")"
    for pid in "${pids[@]}" "$redis_pid"; do before+=("$(cpu_seconds "$pid")"); done
    taskset -c "$([ "$cores" = 1 ] && echo 0 || echo 0,1)" /usr/bin/time -f '%U %S' \
        "$BIN/jiangcheng-load" run --scenario "$scenario" "${targets[@]}" \
        --out "$WORK/three-$count-$cores" >/dev/null 2>"$WORK/harness.err"
    local harness_cpu
    harness_cpu=$(tail -1 "$WORK/harness.err" | awk '{ printf "%.1f", $1 + $2 }')
    echo
    echo "== $label"
    jq -r --argjson s "$seconds" '.runs[0] |
        "total: \(.achieved_rate | floor)/s, p50 \(.latency.p50) µs, p90 \(.latency.p90) µs, p99 \(.latency.p99) µs, errors \(.counts | .dropped + .timeouts + .transport_errors + .unexpected_status)",
        (.by_target | to_entries[] | "  \(.key): \(.value.count / $s | floor)/s, p50 \(.value.p50) µs, p99 \(.value.p99) µs")' \
        "$WORK/three-$count-$cores.json"
    local line="CPU seconds over ${seconds} s:" n=0
    for pid in "${pids[@]}"; do
        n=$((n + 1))
        line+=" instance $n $(awk -v a="${before[$((n - 1))]}" -v b="$(cpu_seconds "$pid")" 'BEGIN { printf "%.1f", b - a }'),"
    done
    line+=" redis $(awk -v a="${before[3]}" -v b="$(cpu_seconds "$redis_pid")" 'BEGIN { printf "%.1f", b - a }'), harness $harness_cpu"
    echo "$line"
}

phase "one instance on core 1" 1 1
phase "three instances sharing core 1" 1 3
phase "three instances and the harness on both cores" 0,1 3
echo "(load average: $(cut -d' ' -f1-3 /proc/loadavg))"
