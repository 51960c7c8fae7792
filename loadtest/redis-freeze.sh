#!/usr/bin/env bash
# What a frozen Redis (SIGSTOP) does to a service following it, ROUNDS times (default 3): the
# time until /v1/status says the lists are stale, until an admin write answers (503), and until
# the process has exited after SIGTERM (the register in the same Redis, a decision made while
# frozen still queued for it). Redis is resumed (SIGCONT) and stopped at the end of each round,
# also when the script is interrupted.
#   cargo build --release && loadtest/redis-freeze.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=./target/release/jiangcheng
PORT=${PORT:-8089}
REDIS_PORT=${REDIS_PORT:-6398}
ROUNDS=${ROUNDS:-3}
REDIS_PID=
SERVE_PID=

cleanup() {
  [ -n "$REDIS_PID" ] && { kill -CONT "$REDIS_PID" 2>/dev/null || true; kill "$REDIS_PID" 2>/dev/null || true; }
  [ -n "$SERVE_PID" ] && kill -KILL "$SERVE_PID" 2>/dev/null || true
}
trap cleanup EXIT

now() { date +%s.%N; }
since() { echo "$(now) - $1" | bc; }
decide() {
  curl -s -o /dev/null -XPOST "localhost:$PORT/v1/decide" -H 'content-type: application/json' \
    -d '{"subject":{"id":"91230200MA1B2C3D8T"},"matter":"gov_procurement"}'
}

round() {
  local dir frozen started status
  dir=$(mktemp -d)
  if redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; then
    echo "port $REDIS_PORT already has a Redis: give REDIS_PORT" >&2
    exit 1
  fi
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no --dir "$dir" \
    >/dev/null 2>&1 &
  REDIS_PID=$!
  for _ in $(seq 100); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.05; done
  "$BIN" import --lists rulesets/qiqihar/demo-lists.jsonl --redis "redis://127.0.0.1:$REDIS_PORT/" \
    >/dev/null 2>&1
  JC_REGISTER=auto JC_REGISTER_DIR="$dir/audit" "$BIN" serve --listen "127.0.0.1:$PORT" --workers 1 \
    --lists "redis://127.0.0.1:$REDIS_PORT/" --log warn >/dev/null 2>&1 &
  SERVE_PID=$!
  for _ in $(seq 200); do curl -sf "localhost:$PORT/readyz" >/dev/null && break; sleep 0.05; done
  decide
  sleep 1

  kill -STOP "$REDIS_PID"
  frozen=$(now)
  decide
  until curl -s "localhost:$PORT/v1/status" | grep -q '"stale":true'; do sleep 0.05; done
  printf 'stale: true %.2f s after the freeze\n' "$(since "$frozen")"
  started=$(now)
  status=$(curl -s -o /dev/null -w '%{http_code}' -XPUT \
    "localhost:$PORT/v1/lists/court_dishonest_debtor/entries/FREEZE-1" \
    -H 'content-type: application/json' \
    -d '{"subject_id":"91230200MA1B2C3D8T","listed_on":"2026-01-01"}')
  printf 'admin write answered %s after %.2f s\n' "$status" "$(since "$started")"
  started=$(now)
  kill -TERM "$SERVE_PID"
  wait "$SERVE_PID" || true
  printf 'exited %.2f s after SIGTERM with redis frozen\n' "$(since "$started")"
  SERVE_PID=
  kill -CONT "$REDIS_PID"
  kill "$REDIS_PID"
  wait "$REDIS_PID" 2>/dev/null || true
  REDIS_PID=
  rm -rf "$dir"
}

for i in $(seq "$ROUNDS"); do
  echo "== round $i"
  round
done
