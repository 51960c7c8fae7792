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
cleanup() {
    [ -z "$container" ] || podman "${podman_global[@]}" rm -f "$container" >/dev/null 2>&1 || true
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
echo "== stopping it (STOPSIGNAL)"
podman "${podman_global[@]}" stop -t 30 "$container" >/dev/null
exit_code=$(podman "${podman_global[@]}" inspect -f '{{.State.ExitCode}}' "$container")
podman "${podman_global[@]}" logs "$container" 2>&1 | tail -3
[ "$exit_code" = 0 ] || { echo "the container exited with $exit_code" >&2; exit 1; }
echo "container OK"
