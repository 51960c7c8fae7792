#!/usr/bin/env bash
# Builds deploy/Containerfile with podman and runs it: /readyz answers, a decision is served, and
# the container stops cleanly on its STOPSIGNAL. Not part of tests/run.sh: it needs root (or a
# podman that runs containers as this user), a Debian mirror for the base, and minutes.
#
# No image registry is needed: the base is a minimal Debian built here with mmdebstrap and
# imported as BASE_IMAGE (kept between runs). The image copies the debug build the test suite
# made (`cargo build` first), which links against this machine's glibc, so the base is this
# machine's Debian release.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=tests/lib.sh
. tests/lib.sh
deb_install podman podman
deb_install mmdebstrap mmdebstrap
deb_install runc runc
[ -x target/debug/jiangcheng ] || cargo build --locked

release=$(. /etc/os-release && echo "$VERSION_CODENAME")
BASE_IMAGE=${BASE_IMAGE:-localhost/jiangcheng-base:$release}
IMAGE=localhost/jiangcheng:test
work=$(mktemp -d)
container=""
k8s_container=""
cleanup() {
    for c in $container $k8s_container; do
        podman "${podman_global[@]}" rm -f "$c" >/dev/null 2>&1 || true
    done
    rm -rf "$work"
}
trap cleanup EXIT

# The runtime options that work here: podman's defaults, else runc with plain cgroupfs (crun
# refuses a host with cgroup v1 and v2 controllers both mounted). Every container gets limits
# at or below this shell's: podman raises them by default, which fails where the sandbox
# withholds CAP_SYS_RESOURCE (the process limit is counted per user: 4096 is plenty).
nofile=$(ulimit -Hn)
[ "$nofile" = unlimited ] || [ "$nofile" -gt 65536 ] && nofile=65536
limits=(--ulimit "nofile=$nofile:$nofile" --ulimit "nproc=4096:4096")
if ! podman image exists "$BASE_IMAGE"; then
    echo "== building the base $BASE_IMAGE with mmdebstrap ($release, minbase)"
    mmdebstrap --variant=minbase "$release" "$work/base.tar"
    podman import "$work/base.tar" "$BASE_IMAGE"
    rm -f "$work/base.tar"
fi
podman_global=()
for option_set in "" "--runtime runc --cgroup-manager cgroupfs"; do
    read -r -a candidate <<<"$option_set"
    if podman "${candidate[@]}" run --rm "${limits[@]}" "$BASE_IMAGE" true 2>"$work/run.err"; then
        podman_global=("${candidate[@]}")
        break
    fi
    echo "podman ${option_set:-(defaults)} cannot run a container here: $(cat "$work/run.err")"
    podman_global=(none)
done
if [ "${podman_global[*]}" = none ]; then
    echo "podman cannot run containers on this machine (above)" >&2
    exit 1
fi
echo "== podman ${podman_global[*]:-(defaults)}"

echo "== building $IMAGE from deploy/Containerfile"
# A small build context with the repository's layout: the binary and the rule set.
mkdir -p "$work/context/target/debug" "$work/context/rulesets"
cp target/debug/jiangcheng "$work/context/target/debug/"
cp -r rulesets/qiqihar "$work/context/rulesets/"
podman "${podman_global[@]}" build --format docker --network host "${limits[@]}" \
    --build-arg "BASE=$BASE_IMAGE" --build-arg BINARY=target/debug/jiangcheng \
    -f deploy/Containerfile -t "$IMAGE" "$work/context"

echo "== running it"
port=$(free_port)
container=$(podman "${podman_global[@]}" run -d "${limits[@]}" -p "127.0.0.1:$port:8080" \
    --read-only --cap-drop all --security-opt no-new-privileges "$IMAGE")
for _ in $(seq 1 300); do
    curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
    sleep 0.2
done
curl -fsS "http://127.0.0.1:$port/readyz"
echo
decision=$(curl -fsS -X POST "http://127.0.0.1:$port/v1/decide" -H 'Content-Type: application/json' \
    -d '{"subject": {"id": "91230200MA1B2C3D8T"}, "matter": "gov_procurement", "as_of": "2026-11-22T10:00:00+08:00"}')
echo "$decision" | head -c 300
echo
echo "$decision" | grep -q '"decision":"block"'
[ "$(podman "${podman_global[@]}" exec "$container" id -u)" = 10001 ]
# The image's HEALTHCHECK (podman logs an error when it cannot time it with systemd: harmless).
podman "${podman_global[@]}" healthcheck run "$container" 2>/dev/null

echo "== running it as deploy/kubernetes/deployment.yaml does"
# The Deployment's arguments and environment, its rule-set folder and Secret files mounted
# read-only where it mounts them, as its user; the lists from the image's demo file instead of
# Redis. A decision needs a key from the mounted keys file.
python_tools pyyaml==6.0.3
python3 - deploy/kubernetes/deployment.yaml "$work" <<'PY'
import sys, yaml
(container,) = yaml.safe_load(open(sys.argv[1]))["spec"]["template"]["spec"]["containers"]
with open(f"{sys.argv[2]}/k8s-args", "w") as out:
    out.write("\n".join(container["args"]) + "\n")
with open(f"{sys.argv[2]}/k8s-env", "w") as out:
    out.write("".join(f"{e['name']}={e['value']}\n" for e in container["env"] if "value" in e))
PY
mapfile -t k8s_args <"$work/k8s-args"
mkdir -p "$work/rules" "$work/secrets"
cp rulesets/qiqihar/*.toml "$work/rules/"
target/debug/jiangcheng keys new --department checks --scopes decide 2>/dev/null >"$work/new-key"
key=$(head -1 "$work/new-key")
sed -n '/^\[\[key\]\]/,$p' "$work/new-key" >"$work/secrets/keys.toml"
python3 -c 'import secrets; print(secrets.token_hex(32))' >"$work/secrets/subject-hash.key"
chown -R 10001:10001 "$work/secrets"
chmod 0400 "$work/secrets"/*
k8s_port=$(free_port)
k8s_container=$(podman "${podman_global[@]}" run -d "${limits[@]}" -p "127.0.0.1:$k8s_port:8080" \
    --read-only --cap-drop all --security-opt no-new-privileges --user 10001:10001 \
    -v "$work/rules:/etc/jiangcheng/rules:ro" -v "$work/secrets:/etc/jiangcheng/secrets:ro" \
    --env-file "$work/k8s-env" -e JC_LISTS=/usr/share/jiangcheng/rulesets/qiqihar/demo-lists.jsonl \
    "$IMAGE" "${k8s_args[@]}")
for _ in $(seq 1 300); do
    curl -fsS "http://127.0.0.1:$k8s_port/readyz" >/dev/null 2>&1 && break
    sleep 0.2
done
curl -fsS "http://127.0.0.1:$k8s_port/readyz"
echo
k8s_decision=$(curl -fsS -X POST "http://127.0.0.1:$k8s_port/v1/decide" -H "Authorization: Bearer $key" \
    -H 'Content-Type: application/json' -d '{"subject": {"id": "91230200MA1B2C3D8T"}, "matter": "gov_procurement"}')
echo "$k8s_decision" | head -c 200
echo
echo "$k8s_decision" | grep -q '"decision":"'
unkeyed=$(curl -sS -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$k8s_port/v1/decide" \
    -H 'Content-Type: application/json' -d '{"subject": {"id": "91230200MA1B2C3D8T"}, "matter": "gov_procurement"}')
[ "$unkeyed" = 401 ] || { echo "a decision without a key got $unkeyed, not 401" >&2; exit 1; }
podman "${podman_global[@]}" rm -f "$k8s_container" >/dev/null 2>&1

echo "== stopping it (STOPSIGNAL)"
podman "${podman_global[@]}" stop -t 30 "$container" >/dev/null
exit_code=$(podman "${podman_global[@]}" inspect -f '{{.State.ExitCode}}' "$container")
podman "${podman_global[@]}" logs "$container" 2>&1 | tail -3
[ "$exit_code" = 0 ] || { echo "the container exited with $exit_code" >&2; exit 1; }
echo "container OK"
