#!/usr/bin/env bash
# A supervision watchlist of N subjects (default 1,000,000): a synthetic population from
# `jiangcheng gen` (a share of it listed), the service serving its entries from a file, the
# population uploaded as one watchlist (PUT, streamed by curl in chunked encoding), then screened
# (`/hits`) in a matter. Prints the upload's wall time, the service's RSS before and after
# (VmRSS, and VmHWM, the peak), and the screening's wall time, twice (the second screening
# runs with warm caches); then the time a restart takes to answer /readyz with the watchlist's
# file to load, and with an empty folder. BIN picks the binary to measure.
#   cargo build --release
#   loadtest/watchlist-1m.sh                 # 1,000,000 subjects, 1% listed
#   N=200000 LISTED=0.05 loadtest/watchlist-1m.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-./target/release/jiangcheng}
N=${N:-1000000}
LISTED=${LISTED:-0.01}
MATTER=${MATTER:-gov_procurement}
PORT=${PORT:-18391}
[ -x "$BIN" ] || { echo "no $BIN: build it first (cargo build --release), or set BIN" >&2; exit 1; }
dir=$(mktemp -d)
server=
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT

"$BIN" gen --subjects "$N" --listed-ratio "$LISTED" --seed 17 --out "$dir/entries.jsonl" \
  --population "$dir/population.tsv" >/dev/null 2>&1
# The upload's body: {"subjects":[{"id":"…"},…]}, written once, streamed by curl.
awk -F'\t' 'BEGIN {printf "{\"subjects\":["} NR > 1 {printf ","} {printf "{\"id\":\"%s\"}", $1}
            END {print "]}"}' "$dir/population.tsv" >"$dir/body.json"
echo "population: $N subjects, $(wc -l <"$dir/entries.jsonl") list entries; body $(stat -c %s "$dir/body.json") bytes"

# start FOLDER: the service with its watchlists in FOLDER, once it answers /readyz.
start() {
  "$BIN" serve --listen "127.0.0.1:$PORT" --lists "$dir/entries.jsonl" --register off \
    --watchlist-dir "$1" --body-timeout-seconds 120 --log warn 2>>"$dir/serve.log" &
  server=$!
  for _ in $(seq 6000); do
    curl -sf "localhost:$PORT/readyz" >/dev/null 2>&1 && return
    sleep 0.01
  done
}
stop() { kill "$server"; wait "$server" 2>/dev/null || true; server=; }
start "$dir/watchlists"
rss() { awk '/^(VmRSS|VmHWM):/ {printf "%s %.1f MiB  ", $1, $2 / 1024}' "/proc/$server/status"; }
echo "before the upload: $(rss)"
curl -s -o "$dir/put.json" -w 'upload: HTTP %{http_code}, %{time_total} s\n' -X PUT \
  "localhost:$PORT/v1/watchlists/population" -H 'Content-Type: application/json' \
  -H 'Transfer-Encoding: chunked' --data-binary "@$dir/body.json"
head -c 300 "$dir/put.json"; echo
echo "after the upload: $(rss)"
for run in first second; do
  curl -s -o "$dir/hits.json" -w "screening ($run, $MATTER, 1000 hits a page): HTTP %{http_code}, %{time_total} s\n" \
    "localhost:$PORT/v1/watchlists/population/hits?matter=$MATTER&limit=1000"
done
python3 -c 'import json, sys; print("summary:", json.load(open(sys.argv[1]))["summary"])' "$dir/hits.json"
echo "after screening: $(rss)"
echo "file: $(du -b "$dir"/watchlists/* | awk '{print $1}') bytes"
stop
for folder in watchlists empty; do
  started=$(date +%s.%N)
  start "$dir/$folder"
  echo "restart to /readyz with $folder: $(echo "$(date +%s.%N) - $started" | bc) s, $(rss)"
  stop
done
