#!/usr/bin/env bash
# What `jiangcheng import` costs, the fail-closed guard's read of Redis included: a fresh import
# of a list file into an empty throw-away redis-server, then the same import again (nothing
# changes). Prints wall time, the importer's CPU time and redis-server's CPU time of each (CPU
# times hold up better than wall time on a shared machine). BIN picks the binary to measure.
#   target/debug/jiangcheng gen --subjects 200000 --seed 7 --out /tmp/gen200k.jsonl
#   BIN=target/debug/jiangcheng loadtest/import-cost.sh /tmp/gen200k.jsonl
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-./target/release/jiangcheng}
REDIS_PORT=${REDIS_PORT:-16398}
FILE=$1
[ -x "$BIN" ] || { echo "no $BIN: build it first (cargo build --release), or set BIN" >&2; exit 1; }
if redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; then
  echo "something already answers on port $REDIS_PORT: set REDIS_PORT to a free one" >&2
  exit 1
fi
dir=$(mktemp -d)
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no --dir "$dir" \
  >/dev/null 2>&1 &
redis=$!
trap 'kill $redis; wait $redis || true; rm -rf "$dir"' EXIT
for _ in $(seq 100); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
redis_cpu() {
  redis-cli -p "$REDIS_PORT" info cpu | awk -F: '/^used_cpu_(user|sys):/ {s += $2} END {print s}'
}
for run in fresh again; do
  before=$(redis_cpu)
  started=$(date +%s.%N)
  /usr/bin/time -f "%U %S" -o "$dir/time" "$BIN" import --lists "$FILE" \
    --redis "redis://127.0.0.1:$REDIS_PORT/" --rules rulesets/qiqihar 2>/dev/null
  ended=$(date +%s.%N)
  after=$(redis_cpu)
  read -r user sys <"$dir/time"
  awk -v run="$run" -v wall="$(echo "$ended - $started" | bc)" -v cpu="$(echo "$user + $sys" | bc)" \
    -v redis="$(echo "$after - $before" | bc)" \
    'BEGIN {printf "%s: wall %.1f s, importer CPU %.1f s, redis-server CPU %.1f s\n", run, wall, cpu, redis}'
done
