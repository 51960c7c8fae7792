#!/usr/bin/env bash
# The service's /v1/decide against jiangcheng-bare, an actix-web endpoint with no middleware and no
# logic answering as many bytes (the size of the service's answer to a miss): the most an actix-web
# JSON endpoint can do here. Both run pinned to core 1, wrk -t1 -c32 pinned to core 0, over the
# same 20,000 request bodies (one in ten for a listed subject of a generated population of
# 1,000,000 with 2% listed, the matters rotated over eight), in rounds alternated A B A B.
#
#   loadtest/bare-compare.sh [--pairs 7] [--seconds 10] [--audit-off]
#   loadtest/bare-compare.sh --callgrind [--requests 20000] [--audit-off]
#   loadtest/bare-compare.sh --callgrind --worker [--requests 20000] [--audit-off]
#   loadtest/bare-compare.sh --service URL --bare URL   # servers already running
#
# Prints each pair and the median ratio decide/bare; with --callgrind, the user-space
# instructions a request costs each under valgrind's callgrind instead (deterministic, so the
# machine's noise does not move it). With --worker, those of the request worker's thread alone
# (the register's writer left out): after 300 requests to warm up, REQUESTS more of the miss (one
# unlisted company) over one keep-alive connection, counted between a `callgrind_control -z`
# and a `-d`. Needs `cargo build --release --workspace`; scratch files go to $WORK (default
# /tmp/jc-bare), kept for the next run.
set -euo pipefail
cd "$(dirname "$0")/.."
source loadtest/bare-lib.sh

pairs=7 seconds=10 requests=20000 mode=wrk worker=no service="" bare="" serve_args=()
while [ $# -gt 0 ]; do
    case $1 in
    --pairs) pairs=$2; shift ;;
    --seconds) seconds=$2; shift ;;
    --requests) requests=$2; shift ;;
    --audit-off) serve_args+=(--register off) ;;
    --callgrind) mode=callgrind ;;
    --worker) worker=yes ;;
    --service) service=$2; shift ;;
    --bare) bare=$2; shift ;;
    *) usage ;;
    esac
    shift
done

population 1000000 0.02
bodies

# send URL COUNT: exactly COUNT requests of the same mix, by jiangcheng-load's closed model.
send() {
    scenario "$WORK/count.toml" "$2 requests" 32 "$(printf 'model = "closed"\nseconds = 3600')"
    sed -i "1a max_requests = $2" "$WORK/count.toml"
    taskset -c 0 "$BIN/jiangcheng-load" run --scenario "$WORK/count.toml" --target "${1%/v1/decide}" \
        --out "$WORK/count" >/dev/null 2>&1
}

# total START WARM-UP MORE: the user-space instructions of a whole run under callgrind of the
# server START starts (start_service or start_bare), sent WARM-UP and then MORE requests,
# stopped with SIGTERM. Two runs that differ only in MORE give a request's cost without
# start-up and warm-up, with no need for callgrind_control.
total() {
    local out="$WORK/callgrind.$1.$3.out" url pid
    # serve starts itself again (its malloc settings): callgrind must follow it there.
    "$1" valgrind --tool=callgrind --trace-children=yes --callgrind-out-file="$out" -- "${@:4}"
    if [ "$1" = start_service ]; then url=$SERVICE pid=$SERVICE_PID; else url=$BARE pid=$BARE_PID; fi
    send "$url" "$2"
    [ "$3" -gt 0 ] && send "$url" "$3"
    kill "$pid"
    wait "$pid" || true
    awk '/^(summary|totals):/ { print $2; exit }' "$out"
}

# instructions START ARGUMENT...: instructions a request, over `requests` requests.
instructions() {
    local base more
    base=$(total "$1" 2000 0 "${@:2}")
    more=$(total "$1" 2000 "$requests" "${@:2}")
    echo $(((more - base) / requests))
}

# post URL COUNT: COUNT requests of the miss over one keep-alive connection; fails on any answer
# but 200.
post() {
    python3 - "$1" "$2" "$(sed -n 2p "$BODIES")" <<'EOF'
import http.client
import sys
import urllib.parse

url = urllib.parse.urlsplit(sys.argv[1])
connection = http.client.HTTPConnection(url.hostname, url.port)
for _ in range(int(sys.argv[2])):
    connection.request("POST", url.path, sys.argv[3].encode(), {"Content-Type": "application/json"})
    answer = connection.getresponse()
    answer.read()
    if answer.status != 200:
        sys.exit(f"HTTP {answer.status} from {sys.argv[1]}")
EOF
}

# worker START ARGUMENT...: the instructions a request costs the busiest thread of the server
# START starts (start_service or start_bare) under callgrind.
worker() {
    local out="$WORK/worker-callgrind.$1" url pid busiest
    rm -f "$out".*
    "$1" valgrind --tool=callgrind --trace-children=yes --separate-threads=yes \
        --callgrind-out-file="$out.%p" -- "${@:2}"
    if [ "$1" = start_service ]; then url=$SERVICE pid=$SERVICE_PID; else url=$BARE pid=$BARE_PID; fi
    post "$url" 300
    callgrind_control -z "$pid" >/dev/null
    post "$url" "$requests"
    callgrind_control -d "$pid" >/dev/null
    kill "$pid"
    wait "$pid" || true
    # The dump writes a file per thread: <out>.<pid>.1-<thread>.
    busiest=$(for dump in "$out.$pid.1-"*; do
        awk '/^(summary|totals):/ { print $2; exit }' "$dump"
    done | sort -n | tail -1)
    echo $((busiest / requests))
}

if [ "$mode" = callgrind ]; then
    start_service -- "${serve_args[@]}"
    bytes=$(miss_bytes)
    kill "$SERVICE_PID"
    if [ "$worker" = yes ]; then
        wait "$SERVICE_PID" || true
        echo "== the worker thread of the service and then of jiangcheng-bare under callgrind"
        decide=$(worker start_service "${serve_args[@]}")
        plain=$(worker start_bare "$bytes")
        echo "worker thread's instructions a request, $requests requests each: decide $decide, bare $plain (answers of $bytes bytes)"
        exit 0
    fi
    echo "== the service and then jiangcheng-bare under callgrind, twice each"
    decide=$(instructions start_service "${serve_args[@]}")
    plain=$(instructions start_bare "$bytes")
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
