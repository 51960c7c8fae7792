#!/usr/bin/env bash
# The client examples in docs/clients/ (Python, Java, Go) against the real service on the demo:
# each must show a listed company blocked in a bidding matter, an unlisted one allowed, and a
# malformed identifier refused with invalid_subject_id naming the field; and each must come
# through a real 429 (a key limited to one decision a second) and a real 503 (both request slots
# held) by waiting what Retry-After asks. Needs target/debug/jiangcheng (run after cargo test).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=tests/lib.sh
. tests/lib.sh
deb_install javac default-jdk-headless
deb_install go golang-go

work=target/clients-check
rm -rf "$work"
mkdir -p "$work"

echo "== client examples: compile the Java and Go ones"
javac -Xlint:all -Werror -d "$work/java" docs/clients/java/JiangchengClient.java
# Go's build cache under target/, and no module downloads: the client needs only the standard library.
(
    cd docs/clients/go
    export GOCACHE="$PWD/../../../target/go-cache" GOPROXY=off GOTOOLCHAIN=local
    unformatted=$(gofmt -l .)
    [ -z "$unformatted" ] || { echo "not gofmt-formatted: $unformatted" >&2; exit 1; }
    go vet ./...
    go build -o "../../../$work/go-example" ./example
)

# A key of the clients' own, limited to one decision a second (burst 1).
target/debug/jiangcheng keys new --department clients --scopes decide --rate-per-second 1 \
    >"$work/slow-key" 2>/dev/null
slow_key=$(head -1 "$work/slow-key")
sed -n '/^\[\[key\]\]/,$p' "$work/slow-key" >"$work/slow-keys.toml"
# Two request slots, so that two held requests make the service answer 503 overloaded.
SERVE_DEMO_EXTRA_KEYS="$work/slow-keys.toml" serve_demo --max-in-flight 2 --max-batches-in-flight 1

python_client() { (cd docs/clients/python && python3 -B example.py "$@"); }
java_client() { java -cp "$work/java" JiangchengClient "$@"; }
go_client() { "$work/go-example" "$@"; }

# expect FILE TEXT...: FILE has every TEXT on a line of its own (as a fixed string).
expect() {
    local file=$1
    shift
    for text in "$@"; do
        if ! grep -qF -- "$text" "$file"; then
            echo "expected \"$text\" in $file:" >&2
            cat "$file" >&2
            exit 1
        fi
    done
}

# hold_slots: two decisions whose bodies never finish arriving hold both request slots until
# the service has refused a request with 503 (counted in http_shed_total), then let go.
hold_slots() {
    python3 - "$JC_URL" "$JC_KEY" "$work/held" <<'PY'
import re, socket, sys, time, urllib.request
url, key, held = sys.argv[1:]
host, port = url.split("//")[1].split(":")

def shed():
    text = urllib.request.urlopen(url + "/metrics", timeout=5).read().decode()
    return sum(float(v) for v in re.findall(r'^jiangcheng_http_shed_total\{[^}]*\} (\S+)$', text, re.M))

before = shed()
slots = []
for _ in range(2):
    s = socket.create_connection((host, int(port)), timeout=5)
    s.sendall((f"POST /v1/decide HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {key}\r\n"
               "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{").encode())
    slots.append(s)
time.sleep(0.2)
open(held, "w").close()
deadline = time.monotonic() + 20
while shed() == before:
    if time.monotonic() > deadline:
        sys.exit("no request was refused while both slots were held")
    time.sleep(0.05)
for s in slots:
    s.close()
PY
}

# meets_503 CLIENT: the client's decision meets 503 overloaded, waits and gets its answer.
meets_503() {
    local client=$1
    rm -f "$work/held"
    hold_slots &
    local holder=$!
    for _ in $(seq 1 100); do
        [ -e "$work/held" ] && break
        sleep 0.05
    done
    "$client" decide 91230200MA1B2C3D8U construction_bidding >"$work/$client-503.out" 2>"$work/$client-503.err"
    wait "$holder"
    expect "$work/$client-503.err" "after 503 overloaded: waiting"
    expect "$work/$client-503.out" "decide 91230200MA1B2C3D8U in construction_bidding: allow"
}

for client in python_client java_client go_client; do
    echo "== client examples: $client"
    "$client" tour >"$work/$client-tour.out"
    expect "$work/$client-tour.out" \
        "decide 91230200MA1B2C3D8T in construction_bidding: block (拦截)" \
        "  reason block court_gov_project_restriction (list court_dishonest_debtor, entry QQHR-FY-2026-000123)" \
        "batch construction_bidding: 3 bidders, block 1, flag 0, allow 1, invalid 1" \
        "  [0] 912302061276543275: block (wage_bidding_restriction)" \
        "  [1] 91230200MA1B2C3D8U: allow" \
        "  [2] 9123020MA1B2C3D8T: invalid invalid_subject_id: subjects[2].id: identifier length is 17" \
        "profile 91230200MA1B2C3D8T (enterprise 企业): 1 entries" \
        "  QQHR-FY-2026-000123 court_dishonest_debtor in_force 2026-03-01..2029-03-01 dispute none" \
        "decide 9123020MA1B2C3D8T in construction_bidding: error 400 invalid_subject_id" \
        "  field subject.id: identifier length is 17, expected 18 characters"

    # Three decisions in a row on one decision a second: the second meets 429 and waits.
    JC_KEY=$slow_key "$client" decide 91230200MA1B2C3D8U construction_bidding --times 3 \
        >"$work/$client-429.out" 2>"$work/$client-429.err"
    expect "$work/$client-429.err" "retry 1/3 after 429 rate_limited: waiting"
    [ "$(grep -c ': allow (通过)$' "$work/$client-429.out")" -eq 3 ] || {
        cat "$work/$client-429.out" >&2
        exit 1
    }

    meets_503 "$client"
done

echo "== client examples: the Java one runs in source-file mode, and all print the same"
java docs/clients/java/JiangchengClient.java tour >"$work/java-source-tour.out"
for out in java-source-tour java_client-tour go_client-tour; do
    diff "$work/python_client-tour.out" "$work/$out.out"
done

echo "== client examples: the Python webhook receiver verifies pushed events and refuses forgeries"
# In a subshell: its EXIT trap stops what it started, and leaves the demo server's to the script.
(
    # Lists in a Redis of its own, so that an admin write makes an event; the receiver on loopback,
    # which the push may send to only because it is allowed here.
    redis_port=$(free_port)
    redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no \
        --dir "$work" >"$work/redis.log" 2>&1 &
    redis_pid=$!
    receiver_port=$(free_port)
    JC_PUSH_SECRET=receiver-example-secret-0123 python3 -B docs/clients/python/webhook_receiver.py \
        127.0.0.1 "$receiver_port" >"$work/receiver.out" 2>&1 &
    receiver_pid=$!
    trap 'kill "$redis_pid" "$receiver_pid" 2>/dev/null' EXIT
    for _ in $(seq 1 100); do
        redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break
        sleep 0.1
    done
    target/debug/jiangcheng import --redis "redis://127.0.0.1:$redis_port" \
        --lists rulesets/qiqihar/demo-lists.jsonl >/dev/null 2>&1
    push_port=$(free_port)
    target/debug/jiangcheng serve --listen "127.0.0.1:$push_port" \
        --lists "redis://127.0.0.1:$redis_port" --register off --push-dir "$work/push" \
        --push-allow-networks 127.0.0.1 >"$work/push-serve.log" 2>&1 &
    push_pid=$!
    trap 'kill "$redis_pid" "$receiver_pid" "$push_pid" 2>/dev/null' EXIT
    push_url="http://127.0.0.1:$push_port"
    for _ in $(seq 1 300); do
        curl -fsS "$push_url/readyz" >/dev/null 2>&1 && break
        sleep 0.1
    done
    curl -fsS -XPOST "$push_url/v1/subscriptions" -H 'Content-Type: application/json' \
        -d "{\"url\":\"http://127.0.0.1:$receiver_port/hook\",\"secret\":\"receiver-example-secret-0123\"}" >/dev/null
    curl -fsS -XPUT "$push_url/v1/lists/wage_arrears/entries/CLIENT-1" -H 'Content-Type: application/json' \
        -d '{"subject_id":"91230200MA1B2C3D8U","listed_on":"2026-01-01"}' >/dev/null
    for _ in $(seq 1 100); do
        grep -q "entry.listed wage_arrears CLIENT-1" "$work/receiver.out" && break
        sleep 0.1
    done
    expect "$work/receiver.out" "entry.listed wage_arrears CLIENT-1"
    forged=$(curl -s -o /dev/null -w '%{http_code}' -XPOST "http://127.0.0.1:$receiver_port/hook" \
        -H "X-Jiangcheng-Signature: t=$(date +%s),v1=00" -d '{"id":"9"}')
    [ "$forged" = 401 ] || { echo "a forged event was answered $forged" >&2; exit 1; }
    expect "$work/receiver.out" "refused: the signature does not verify"
)
