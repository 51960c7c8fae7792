#!/usr/bin/env bash
# What the query register's writer thread spends per decision record, in user-space instructions
# under callgrind (deterministic, so the machine's noise does not move it). The service as it
# ships (the register in files) runs pinned to core 1 on the population and request bodies of
# loadtest/bare-compare.sh, each thread counted apart (--separate-threads=yes). After 2,000
# requests to warm up, the counts are zeroed, REQUESTS more are sent (a record each), and once
# the writer has stored them the counts are dumped.
#
#   loadtest/writer-instructions.sh [--requests 2000]
#
# Prints each busy thread's instructions per record, the writer's marked, and keeps the dumps in
# $WORK/writer-instructions: `callgrind_annotate --inclusive=yes` on the writer's file says where
# they go. Needs `cargo build --release --workspace`; scratch files go to $WORK (default
# /tmp/jc-bare).
set -euo pipefail
cd "$(dirname "$0")/.."
source loadtest/bare-lib.sh

requests=2000
while [ $# -gt 0 ]; do
    case $1 in
    --requests) requests=$2; shift ;;
    *) usage ;;
    esac
    shift
done

population 1000000 0.02
bodies
out="$WORK/writer-instructions"
rm -rf "$out"
mkdir -p "$out"

# post COUNT: COUNT requests of the mix, 32 at a time (jiangcheng-load's closed model), to SERVICE.
post() {
    scenario "$out/post.toml" "$1 requests" 32 "$(printf 'model = "closed"\nseconds = 3600')"
    sed -i "1a max_requests = $1" "$out/post.toml"
    taskset -c 0 "$BIN/jiangcheng-load" run --scenario "$out/post.toml" \
        --target "${SERVICE%/v1/decide}" --out "$out/load" >/dev/null 2>&1
}

# stored: the records the register has stored, once the writer is idle.
stored() {
    sleep 3
    curl -fsS "${SERVICE%/v1/decide}/v1/status" |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["register"]["stored"])'
}

# serve starts itself again (its malloc settings): callgrind must follow it there.
start_service valgrind --tool=callgrind --trace-children=yes --separate-threads=yes \
    --callgrind-out-file="$out/callgrind.out" --
post 2000
before=$(stored)
callgrind_control -z "$SERVICE_PID" >/dev/null
post "$requests"
records=$(($(stored) - before))
callgrind_control -d "$SERVICE_PID" >/dev/null
echo "== $records records (of $requests requests), user-space instructions a record, by thread"
for dump in "$out"/callgrind.out.1-*; do
    total=$(awk '/^(summary|totals):/ { print $2; exit }' "$dump")
    [ "${total:-0}" -gt 0 ] || continue
    name=$(awk '/^thread:/ { print "thread " $2; exit }' "$dump")
    grep -q 'register::Writer\|LineWriter\|write_lines' "$dump" && name="$name (the register's writer)"
    echo "$name: $((total / records))  ($dump)"
done
