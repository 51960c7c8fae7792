#!/usr/bin/env bash
# What the query register costs the decision path: POST /v1/decide throughput with the register
# off, in files and in Redis, alternating, ROUNDS times (default 5). The server is pinned to core 1;
# wrk (Debian's package) and, for the Redis runs, redis-server to core 0. Each run: 3 s of warm-up,
# then 10 s measured; the register's counts are read from /v1/status afterwards.
#   cargo build --release && loadtest/register-cost.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=./target/release/jiangcheng
PORT=${PORT:-8088}
REDIS_PORT=${REDIS_PORT:-6399}

run() {
  local mode=$1 dir audit pid rps register
  dir=$(mktemp -d)
  audit=$mode
  if [ "$mode" = redis ]; then
    taskset -c 0 redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no \
      --dir "$dir" >/dev/null 2>&1 &
    sleep 0.3
    audit="redis://127.0.0.1:$REDIS_PORT/"
  fi
  JC_REGISTER="$audit" JC_REGISTER_DIR="$dir" taskset -c 1 "$BIN" serve --listen "127.0.0.1:$PORT" \
    --workers 1 --log warn >/dev/null 2>&1 &
  pid=$!
  for _ in $(seq 100); do curl -sf "localhost:$PORT/readyz" >/dev/null && break; sleep 0.1; done
  taskset -c 0 wrk -t1 -c32 -d3s -s loadtest/post.lua "http://127.0.0.1:$PORT/v1/decide" >/dev/null
  rps=$(taskset -c 0 wrk -t1 -c32 -d10s -s loadtest/post.lua "http://127.0.0.1:$PORT/v1/decide" |
    awk '/Requests\/sec/ {print $2}')
  sleep 1.5
  register=$(curl -s "localhost:$PORT/v1/status" | python3 -c 'import json, sys
r = json.load(sys.stdin)["register"]
print(" ".join(f"{k}={r[k]}" for k in ("stored", "spilled", "replayed", "dropped") if k in r))')
  kill "$pid"; wait "$pid" 2>/dev/null || true
  if [ "$mode" = redis ]; then redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true; fi
  rm -rf "$dir"
  echo "$mode $rps req/s $register"
}

for _ in $(seq "${ROUNDS:-5}"); do
  for mode in ${MODES:-off files redis}; do run "$mode"; done
done
