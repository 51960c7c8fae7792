#!/usr/bin/env bash
# The OpenAPI document (docs/openapi.json): validated as OpenAPI 3.1, then schemathesis tries
# the running service against it with a key of every scope, twice: on the demo lists from their
# file, and from a throw-away redis-server (so that list administration succeeds too). No
# answer may be a server error, and every answer must match its documented status, content
# type and schema.
# Budget: at most 50 generated cases per operation and phase, each request timed out after
# 10 s, each run stopped after 150 s (about 1,100 requests and 15 s a run here).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=tests/lib.sh
. tests/lib.sh

python_tools "openapi-spec-validator==0.7.2" "schemathesis==4.32.5"

echo "== docs/openapi.json is valid OpenAPI 3.1"
openapi-spec-validator docs/openapi.json

# try_service [SERVE ARGUMENT...]: schemathesis against the demo served with these arguments
# (in a subshell, so that serve_demo's exit trap stops this server only).
try_service() (
    serve_demo "$@"
    # schemathesis keeps a cache of its cases in the working directory: under target/.
    mkdir -p target/schemathesis
    cd target/schemathesis
    timeout 150 st run ../../docs/openapi.json --url "$JC_URL" \
        --header "Authorization: Bearer $JC_KEY" \
        --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
        --phases examples,coverage,fuzzing \
        --max-examples 50 --request-timeout 10 --generation-deterministic
)

echo "== schemathesis against the service, lists from their file"
try_service

echo "== schemathesis against the service, lists from Redis"
redis_dir=$(mktemp -d)
redis_port=$(free_port)
redis-server --bind 127.0.0.1 --port "$redis_port" --save "" --appendonly no \
    --dir "$redis_dir" >/dev/null 2>&1 &
redis_pid=$!
# shellcheck disable=SC2064
trap "kill $redis_pid 2>/dev/null; wait $redis_pid 2>/dev/null; rm -rf '$redis_dir'" EXIT
for _ in $(seq 1 100); do
    redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break
    sleep 0.1
done
target/debug/jiangcheng import --lists rulesets/qiqihar/demo-lists.jsonl \
    --redis "redis://127.0.0.1:$redis_port/0" >/dev/null
try_service --lists "redis://127.0.0.1:$redis_port/0"
