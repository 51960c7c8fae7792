#!/usr/bin/env bash
# The list snapshot kept in Redis at 10 M entries: import into a Redis of its own (port 6390,
# no persistence), the time to write the snapshot and the Redis memory it takes, then how long
# one instance, and three started at once, take until /readyz answers. Needs
# `cargo build --release` and about 12 GB of memory; files go to $WORK (default /tmp/jc).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=./target/release/jiangcheng WORK=${WORK:-/tmp/jc} PORT=${PORT:-6390}
URL=redis://127.0.0.1:$PORT
mkdir -p "$WORK"
[ -s "$WORK/lists10m.jsonl" ] || $BIN gen --subjects 10000000 --listed-ratio 0.8 --seed 1 \
    --out "$WORK/lists10m.jsonl" --population "$WORK/pop10m.tsv"
redis-cli -p "$PORT" shutdown nosave 2>/dev/null || true
redis-server --port "$PORT" --save "" --appendonly no --daemonize yes --dir "$WORK" \
    --logfile "$WORK/redis.log"
trap 'redis-cli -p "$PORT" shutdown nosave >/dev/null 2>&1 || true' EXIT
until redis-cli -p "$PORT" ping >/dev/null 2>&1; do sleep 0.1; done

echo "== import (no snapshot)"
/usr/bin/time -f 'import: %e s' $BIN import --redis "$URL" --lists "$WORK/lists10m.jsonl" --no-snapshot 2>&1 | tail -2
redis-cli -p "$PORT" info memory | grep '^used_memory:'
echo "== the snapshot, written three times"
for i in 1 2 3; do $BIN import --redis "$URL" --snapshot-only 2>&1 | tail -1; done
total=0
for key in $(redis-cli -p "$PORT" --scan --pattern 'jc:{lists}:snapshot:*'); do
    total=$((total + $(redis-cli -p "$PORT" memory usage "$key" samples 0)))
done
echo "Redis memory of the snapshot's chunks: $total bytes"

# ready PORT START: prints the seconds from START until PORT's /readyz answers 200.
ready() {
    until [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$1/readyz")" = 200 ]; do sleep 0.05; done
    echo "instance on $1 ready after $(echo "$(date +%s.%N) - $2" | bc) s"
}
serve() { $BIN serve --lists "$URL" --register off --listen "127.0.0.1:$1" --log warn >"$WORK/serve$1.log" 2>&1 & }

echo "== one instance alone, three runs"
for i in 1 2 3; do
    start=$(date +%s.%N)
    serve 18401
    pid=$!
    ready 18401 "$start"
    kill "$pid"; wait "$pid" || true
done
echo "== three at once, three runs"
for i in 1 2 3; do
    start=$(date +%s.%N) pids=() waits=()
    for port in 18411 18412 18413; do serve $port; pids+=($!); done
    for port in 18411 18412 18413; do ready $port "$start" & waits+=($!); done
    wait "${waits[@]}"
    kill "${pids[@]}"; for pid in "${pids[@]}"; do wait "$pid" || true; done
done
