#!/usr/bin/env bash
# Feedback lookups and statistics over one large hour of the file register. Fills an hour file
# to SIZE_MB (default 1024) with 10,000-subject batches, then times with curl, REPEAT times each
# (default 5): POST /v1/feedback for decisions at the start, middle and end of the hour and for
# an id of that hour that it does not hold, and GET /v1/stats over the hour. With OLD_BIN (a
# build of an earlier commit, which ignores the index files), the same is timed with that binary
# over the same folder first.
#   cargo build --release && loadtest/register-index.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-./target/release/jiangcheng}
PORT=${PORT:-8089}
SIZE_MB=${SIZE_MB:-1024}
REPEAT=${REPEAT:-5}
work=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT

"$BIN" gen --subjects 40000 --listed-ratio 0.05 --out "$work/lists.jsonl" \
  --population "$work/population.tsv" >/dev/null
python3 - "$work" <<'EOF'
import json, sys
work = sys.argv[1]
ids = [line.split("\t")[0] for line in open(f"{work}/population.tsv")]
for b in range(4):
    subjects = [{"id": i} for i in ids[b * 10000:(b + 1) * 10000]]
    with open(f"{work}/batch{b}.json", "w") as out:
        json.dump({"matter": "gov_procurement", "subjects": subjects}, out)
EOF

serve() {
  "$1" serve --listen "127.0.0.1:$PORT" --lists "$work/lists.jsonl" --register files \
    --register-dir "$work/audit" --log warn >/dev/null 2>&1 &
  pid=$!
  for _ in $(seq 600); do curl -sf "localhost:$PORT/readyz" >/dev/null && return; sleep 0.1; done
  echo "the server did not get ready" >&2; exit 1
}
stop() { kill "$pid"; wait "$pid" 2>/dev/null || true; pid=; }
largest_hour() { find "$work/audit/records" -name '*.jsonl' -printf '%s %p\n' | sort -n | tail -1; }

serve "$BIN"
filler() {
  local b=$1
  while :; do
    curl -sf -o /dev/null -H 'content-type: application/json' \
      --data-binary "@$work/batch$b.json" "localhost:$PORT/v1/decide/batch" || true
    [ -e "$work/full" ] && return
  done
}
started=$(date +%s.%N)
filler 0 & filler 1 &
until [ "$(largest_hour | awk '{print $1}')" -ge $((SIZE_MB * 1048576)) ] 2>/dev/null; do sleep 0.5; done
touch "$work/full"; wait %2 %3 2>/dev/null || true
# The writer's queue drains.
sleep 3
read -r size hour < <(largest_hour)
echo "hour file: $((size / 1048576)) MB, $(wc -l <"$hour") records, filled in $(echo "$(date +%s.%N) - $started" | bc) s"
stop

ids=$(python3 - "$hour" "$size" <<'EOF'
import json, sys
path, size = sys.argv[1], int(sys.argv[2])
with open(path, "rb") as f:
    first = json.loads(f.readline())["record_id"]
    f.seek(size // 2); f.readline()
    middle = json.loads(f.readline())["record_id"]
    f.seek(max(0, size - 65536)); last = f.read().splitlines()[-1]
last = json.loads(last)["record_id"]
missing = first[:-12] + "0123456789ab"
print(first, middle, last, missing)
EOF
)
day=$(basename "$(dirname "$hour")"); hh=$(basename "$hour" .jsonl)
from="${day}T${hh}:00:00%2B08:00"
to=$(TZ=Asia/Shanghai date -d "@$(( $(date -d "${day} ${hh}:00:00 +0800" +%s) + 3600 ))" +%Y-%m-%dT%H:00:00)%2B08:00

measure() {
  local label=$1 name id
  set -- first middle last missing
  for id in $ids; do
    name=$1; shift
    for _ in $(seq "$REPEAT"); do
      curl -s -o /dev/null -w "$label feedback $name %{http_code} %{time_total}\n" \
        -H 'content-type: application/json' \
        -d "{\"decision_id\":\"$id\",\"measure\":\"court_procurement_ban\",\"action\":\"applied\",\"executing_department\":\"F\"}" \
        "localhost:$PORT/v1/feedback"
    done
  done
  for _ in $(seq "$REPEAT"); do
    curl -s -o /dev/null -w "$label stats %{http_code} %{time_total}\n" \
      "localhost:$PORT/v1/stats?from=$from&to=$to"
  done
}

if [ -n "${OLD_BIN:-}" ]; then
  serve "$OLD_BIN"; measure before; stop
fi
opened=$(date +%s.%N)
serve "$BIN"
echo "after: ready in $(echo "$(date +%s.%N) - $opened" | bc) s"
measure after
stop
