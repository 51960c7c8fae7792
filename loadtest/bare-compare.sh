#!/usr/bin/env bash
# The service's /v1/decide against jiangcheng-bare, an actix-web endpoint with no middleware and no
# logic answering as many bytes (the size of the service's answer to a miss): the most an actix-web
# JSON endpoint can do here. Both run pinned to core 1, wrk -t1 -c32 pinned to core 0, over the
# same 20,000 request bodies (one in ten for a listed subject of a generated population of
# 1,000,000 with 2% listed, the matters rotated over eight), in rounds alternated A B A B.
#
#   loadtest/bare-compare.sh [--pairs 7] [--seconds 10] [--audit-off]
#   loadtest/bare-compare.sh --callgrind [--requests 20000] [--audit-off]
#   loadtest/bare-compare.sh --service URL --bare URL   # servers already running
#
# Prints each pair and the median ratio decide/bare; with --callgrind, the user-space
# instructions a request costs each under valgrind's callgrind instead (deterministic, so the
# machine's noise does not move it). Needs `cargo build --release --workspace`; scratch files go
# to $WORK (default /tmp/jc-bare), kept for the next run.
set -euo pipefail
cd "$(dirname "$0")/.."

pairs=7 seconds=10 requests=20000 mode=wrk service="" bare="" serve_args=()
while [ $# -gt 0 ]; do
    case $1 in
    --pairs) pairs=$2; shift ;;
    --seconds) seconds=$2; shift ;;
    --requests) requests=$2; shift ;;
    --audit-off) serve_args+=(--register off) ;;
    --callgrind) mode=callgrind ;;
    --service) service=$2; shift ;;
    --bare) bare=$2; shift ;;
    *) sed -n '2,/^set /p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 2 ;;
    esac
    shift
done
WORK=${WORK:-/tmp/jc-bare}
source loadtest/bare-lib.sh

population 1000000 0.02
bodies

# send URL COUNT: exactly COUNT requests of the same mix, by jiangcheng-load's closed model.
send() {
    scenario "$WORK/count.toml" "$2 requests" 32 "$(printf 'model = "closed"\nseconds = 3600')"
    sed -i "1a max_requests = $2" "$WORK/count.toml"
    taskset -c 0 "$BIN/jiangcheng-load" run --scenario "$WORK/count.toml" --target "${1%/v1/decide}" \
        --out "$WORK/count" >/dev/null 2>&1
}

# instructions URL PID: user-space instructions per request of the server under callgrind, over
# `requests` requests after 2,000 to warm up (start-up and warm-up left out).
instructions() {
    local url=$1 pid=$2 dump before
    send "$url" 2000
    callgrind_control --zero "$pid" >/dev/null
    send "$url" "$requests"
    before=$(find "$WORK" -name "callgrind.$pid.out.*" | wc -l)
    callgrind_control --dump "$pid" >/dev/null
    dump=""
    while [ -z "$dump" ]; do
        sleep 1
        [ "$(find "$WORK" -name "callgrind.$pid.out.*" | wc -l)" -gt "$before" ] &&
            dump=$(find "$WORK" -name "callgrind.$pid.out.*" | sort -V | tail -1)
    done
    awk -v n="$requests" '/^(summary|totals):/ { print int($2 / n); exit }' "$dump"
}

if [ "$mode" = callgrind ]; then
    rm -f "$WORK"/callgrind.*
    grind=(valgrind --tool=callgrind --callgrind-out-file="$WORK/callgrind.%p.out")
    echo "== the service under callgrind (loading 1 M subjects takes a minute or two)"
    start_service "${grind[@]}" -- "${serve_args[@]}"
    decide=$(instructions "$SERVICE" "$SERVICE_PID")
    bytes=$(miss_bytes)
    kill "$SERVICE_PID"
    start_bare "${grind[@]}" -- "$bytes"
    plain=$(instructions "$BARE" "$BARE_PID")
    echo "instructions a request, $requests requests each: decide $decide, bare $plain (answers of $bytes bytes)"
    awk -v d="$decide" -v b="$plain" 'BEGIN { printf "ratio bare/decide (the throughput ratio it predicts): %.3f\n", b / d }'
    exit 0
fi

if [ -z "$service" ]; then
    start_service -- "${serve_args[@]}"
    service=$SERVICE
fi
SERVICE=$service
bytes=$(miss_bytes)
if [ -z "$bare" ]; then
    start_bare -- "$bytes"
    bare=$BARE
fi
echo "== decide $service against bare $bare ($bytes-byte answers), $pairs pairs of ${seconds} s"
ratios=()
for pair in $(seq 1 "$pairs"); do
    decide=$(wrk_rate "$service" "$seconds")
    plain=$(wrk_rate "$bare" "$seconds")
    ratio=$(awk -v d="$decide" -v b="$plain" 'BEGIN { printf "%.3f", d / b }')
    ratios+=("$ratio")
    echo "pair $pair: decide $decide/s, bare $plain/s, ratio $ratio"
done
echo "median ratio decide/bare: $(median "${ratios[@]}") (load average: $(cut -d' ' -f1-3 /proc/loadavg))"
