#!/usr/bin/env bash
# The file register's writer cost per record: for each binary given (say a build of an earlier
# commit and this one), alternating ROUNDS times (default 3), sends BATCHES 10,000-subject
# batches (default 60) to a fresh file register, waits until every record is stored, and prints
# the CPU time of the `register-writer` thread (from /proc/<pid>/task/*/schedstat) per record.
#   loadtest/register-writer-cost.sh /tmp/jiangcheng-before ./target/release/jiangcheng
set -euo pipefail
cd "$(dirname "$0")/.."
PORT=${PORT:-8090}
BATCHES=${BATCHES:-60}
work=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT

"$1" gen --subjects 10000 --listed-ratio 0.05 --out "$work/lists.jsonl" \
  --population "$work/population.tsv" >/dev/null
python3 - "$work" <<'EOF'
import json, sys
work = sys.argv[1]
subjects = [{"id": line.split("\t")[0]} for line in open(f"{work}/population.tsv")]
with open(f"{work}/batch.json", "w") as out:
    json.dump({"matter": "gov_procurement", "subjects": subjects}, out)
EOF

# stored: the records in the store, directly or replayed from the spill file (a full queue spills).
stored() {
  curl -s "localhost:$PORT/v1/status" |
    python3 -c 'import json, sys; r = json.load(sys.stdin)["register"]; print(r["stored"] + r["replayed"])'
}

run() {
  local bin=$1 ns=0 task
  rm -rf "$work/audit"
  "$bin" serve --listen "127.0.0.1:$PORT" --lists "$work/lists.jsonl" --register files \
    --register-dir "$work/audit" --log warn >/dev/null 2>&1 &
  pid=$!
  for _ in $(seq 600); do curl -sf "localhost:$PORT/readyz" >/dev/null && break; sleep 0.1; done
  for _ in $(seq "$BATCHES"); do
    curl -sf -o /dev/null -H 'content-type: application/json' \
      --data-binary "@$work/batch.json" "localhost:$PORT/v1/decide/batch"
  done
  until [ "$(stored)" -ge $((BATCHES * 10000)) ]; do sleep 0.2; done
  for task in /proc/"$pid"/task/*; do
    if [ "$(cat "$task/comm")" = register-writer ]; then ns=$(awk '{print $1}' "$task/schedstat"); fi
  done
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
  echo "$bin: $(echo "scale=3; $ns / ($BATCHES * 10000)" | bc) ns of writer CPU per record"
}

for _ in $(seq "${ROUNDS:-3}"); do
  for bin in "$@"; do run "$bin"; done
done
