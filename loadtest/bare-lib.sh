# Shared by loadtest/bare-compare.sh, loadtest/latency-table.sh and
# loadtest/three-instances.sh (sourced, not run): the generated population, the request bodies,
# starting the release builds of the service and of jiangcheng-bare, and wrk.
# Expects to be sourced from the repository's root; scratch files go to $WORK.

WORK=${WORK:-/tmp/jc-bare}
# shellcheck source=tests/lib.sh
source tests/lib.sh

BIN=target/release
for binary in jiangcheng jiangcheng-load jiangcheng-bare; do
    if [ ! -x "$BIN/$binary" ]; then
        echo "$BIN/$binary is missing: run cargo build --release --workspace" >&2
        exit 1
    fi
done
deb_install wrk wrk
mkdir -p "$WORK"

# usage: prints the calling script's opening comment, and fails.
usage() {
    sed -n '2,/^set /p' "$0" | sed '$d; s/^# \{0,1\}//'
    exit 2
}

# Every process started here, stopped when the calling script exits.
STARTED=()
stop_started() {
    local pid
    for pid in "${STARTED[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
}
trap stop_started EXIT

# population SUBJECTS LISTED_RATIO: sets LISTS (JSON Lines) and POPULATION (id<TAB>0|1), made
# once per size and reused.
population() {
    LISTS="$WORK/lists-$1-$2.jsonl"
    POPULATION="$WORK/population-$1-$2.tsv"
    if [ ! -s "$POPULATION" ]; then
        echo "== generating $1 subjects, $2 listed"
        "$BIN/jiangcheng" gen --subjects "$1" --listed-ratio "$2" --seed 1 \
            --out "$LISTS" --population "$POPULATION" >/dev/null
    fi
}

# The first eight matters of the shipped rule set, which the requests rotate over.
MATTERS=(gov_procurement construction_bidding public_resource_trading fiscal_subsidy
    land_supply franchise bond_issuance admin_license_general)

# bodies: sets BODIES, 20,000 decide requests from POPULATION: one in ten for a listed subject,
# the matters in turn. Line 2 asks about an unlisted subject.
bodies() {
    BODIES="$WORK/bodies-$(basename "$POPULATION" .tsv).txt"
    awk -F'\t' -v matters="${MATTERS[*]}" '
        BEGIN { n = split(matters, matter, " ") }
        $2 == 1 && listed < 2000 { id[10 * listed++] = $1 }
        $2 == 0 && unlisted < 18000 { at = 10 * int(unlisted / 9) + unlisted % 9 + 1; id[at] = $1; unlisted++ }
        END {
            if (listed < 2000 || unlisted < 18000) { print "population too small" > "/dev/stderr"; exit 1 }
            for (i = 0; i < 20000; i++)
                printf "{\"subject\":{\"id\":\"%s\"},\"matter\":\"%s\"}\n", id[i], matter[i % n + 1]
        }' "$POPULATION" >"$BODIES"
}

# wait_for URL PID SECONDS: until URL answers a POST of line 2 of BODIES with 200.
wait_for() {
    local _
    for _ in $(seq 1 $(($3 * 10))); do
        if curl -fsS -o /dev/null -H 'Content-Type: application/json' \
            --data "$(sed -n 2p "$BODIES")" "$1" 2>/dev/null; then
            return 0
        fi
        kill -0 "$2" 2>/dev/null || break
        sleep 0.1
    done
    echo "$1 did not answer" >&2
    return 1
}

# start_service WRAPPER... -- SERVE_ARGUMENT...: the service on LISTS, pinned to core 1, its
# register under WORK; sets SERVICE (its decide URL) and SERVICE_PID. WRAPPER is what runs
# it (nothing, or valgrind and its options).
start_service() {
    local wrapper=()
    while [ "$1" != "--" ]; do wrapper+=("$1"); shift; done
    shift
    local port
    port=$(free_port)
    rm -rf "$WORK/register-$port"
    taskset -c 1 "${wrapper[@]}" "$BIN/jiangcheng" serve --listen "127.0.0.1:$port" \
        --lists "$LISTS" --register-dir "$WORK/register-$port" --log warn "$@" \
        >"$WORK/serve-$port.log" 2>&1 &
    SERVICE_PID=$!
    STARTED+=("$SERVICE_PID")
    SERVICE="http://127.0.0.1:$port/v1/decide"
    wait_for "$SERVICE" "$SERVICE_PID" 900
}

# miss_bytes: the mean size of the service's answers to a miss, over the eight matters.
miss_bytes() {
    local matter total=0 id
    id=$(sed -n 2p "$BODIES" | sed 's/.*"id":"\([^"]*\)".*/\1/')
    for matter in "${MATTERS[@]}"; do
        total=$((total + $(curl -fsS -o /dev/null -w '%{size_download}' \
            -H 'Content-Type: application/json' \
            --data "{\"subject\":{\"id\":\"$id\"},\"matter\":\"$matter\"}" "$SERVICE")))
    done
    echo $((total / ${#MATTERS[@]}))
}

# start_bare WRAPPER... -- BODY_BYTES: jiangcheng-bare pinned to core 1; sets BARE and BARE_PID.
start_bare() {
    local wrapper=()
    while [ "$1" != "--" ]; do wrapper+=("$1"); shift; done
    local port
    port=$(free_port)
    taskset -c 1 "${wrapper[@]}" "$BIN/jiangcheng-bare" --listen "127.0.0.1:$port" \
        --body-bytes "$2" >"$WORK/bare-$port.log" 2>&1 &
    BARE_PID=$!
    STARTED+=("$BARE_PID")
    BARE="http://127.0.0.1:$port/v1/decide"
    wait_for "$BARE" "$BARE_PID" 300
}

# wrk_rate URL SECONDS: requests/s of `wrk -t1 -c32` pinned to core 0 over BODIES; fails on
# any answer that is not 2xx.
wrk_rate() {
    local out
    out=$(BODIES="$BODIES" taskset -c 0 wrk -t1 -c32 -d"$2"s -s loadtest/bodies.lua "$1")
    if grep -q "Non-2xx" <<<"$out"; then
        echo "$out" >&2
        return 1
    fi
    awk '/^Requests\/sec:/ { print $2 }' <<<"$out"
}

# scenario FILE NAME CONNECTIONS LOAD: a jiangcheng-load scenario over POPULATION with the mix of
# BODIES (one request in ten for a listed subject, the eight matters) and LOAD, the lines after
# `[load]`.
scenario() {
    {
        echo "name = \"$2\""
        echo "connections = $3"
        printf '[population]\nfile = "%s"\nhit_ratio = 0.1\n' "$POPULATION"
        printf '[[matter]]\ncode = "%s"\n' "${MATTERS[@]}"
        printf '[[request]]\nkind = "decide"\n[load]\n%s\n' "$4"
    } >"$1"
}

# median NUMBER...: the median (the mean of the middle two for an even count).
median() {
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'
}
