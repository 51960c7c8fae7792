#!/usr/bin/env bash
# Checks of what an operator installs (deploy/) that are not cargo tests: every PromQL expression
# of the Grafana dashboard parses (promtool), the Kubernetes manifests are valid against the
# schemas of their API versions (kubernetes-validate, offline), and the flags and environment
# variables the manifests give the container are ones `jiangcheng serve` takes.
# (tests/api/deploy.rs checks that every metric the dashboard and the alert rules use is served.)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=tests/lib.sh
. tests/lib.sh
deb_install promtool prometheus

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "== the dashboard's PromQL (deploy/grafana-dashboard.json), as recording rules for promtool"
# Grafana's variables are replaced by values of their kind first; any other `$` left fails.
python3 - deploy/grafana-dashboard.json >"$work/dashboard-rules.yml" <<'PY'
import json, re, sys

def queries(value):
    if isinstance(value, dict):
        for name, field in value.items():
            if name == "expr" and isinstance(field, str):
                yield field
            else:
                yield from queries(field)
    elif isinstance(value, list):
        for item in value:
            yield from queries(item)

variables = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "6h", "$instance": ".*"}
rules = []
for n, expr in enumerate(queries(json.load(open(sys.argv[1])))):
    for name, value in variables.items():
        expr = expr.replace(name, value)
    if "$" in expr:
        sys.exit(f"a dashboard query uses a variable this check does not know: {expr}")
    rules.append({"record": f"jiangcheng_dashboard:query_{n}", "expr": expr})
if len(rules) < 20:
    sys.exit(f"only {len(rules)} queries found in the dashboard")
# JSON is YAML: promtool reads it as a rule file.
json.dump({"groups": [{"name": "dashboard", "rules": rules}]}, sys.stdout, indent=1)
PY
promtool check rules "$work/dashboard-rules.yml"

echo "== the Kubernetes manifests (deploy/kubernetes), offline against the API's schemas"
python_tools kubernetes-validate==1.31.0 pyyaml==6.0.3
manifests=(deploy/kubernetes/*.yaml deploy/kubernetes/secret.yaml.example)
kubernetes-validate --strict --kubernetes-version 1.31.0 "${manifests[@]}"

echo "== the rule-set ConfigMap holds the shipped rule set"
python3 deploy/kubernetes/rules-configmap.py rulesets/qiqihar >"$work/rules-configmap.yaml"
if ! diff -u deploy/kubernetes/rules-configmap.yaml "$work/rules-configmap.yaml"; then
    echo "deploy/kubernetes/rules-configmap.yaml differs from rulesets/qiqihar: regenerate it with" >&2
    echo "  python3 deploy/kubernetes/rules-configmap.py rulesets/qiqihar > deploy/kubernetes/rules-configmap.yaml" >&2
    exit 1
fi

echo "== the container's arguments are ones serve takes, its paths are mounted"
# The container's command line (the image's entrypoint is the binary) goes through serve's own
# argument parsing, with --help last: clap refuses an unknown or renamed flag, or a bad value,
# before it prints the help. Every JC_ variable the deploy files set must be one serve reads.
python3 - deploy/kubernetes/deployment.yaml >"$work/container" <<'PY'
import sys, yaml

pod = yaml.safe_load(open(sys.argv[1]))["spec"]["template"]["spec"]
(container,) = pod["containers"]
volumes = {v["name"]: v for v in pod["volumes"]}
mounts = {m["mountPath"]: volumes[m["name"]] for m in container["volumeMounts"]}
for arg in container["args"]:
    flag, _, value = arg.partition("=")
    if not value.startswith("/"):
        continue
    folder = next((m for m in mounts if value == m or value.startswith(m + "/")), None)
    if folder is None:
        sys.exit(f"{flag}={value} is on the read-only root filesystem: no volume is mounted there")
    source = mounts[folder]
    name = value[len(folder) + 1:]
    if "secret" in source:
        files = [item["path"] for item in source["secret"]["items"]]
        if name not in files:
            sys.exit(f"{flag}={value}: the Secret's volume has {files}, not {name!r}")
    if "configMap" in source and name:
        sys.exit(f"{flag}={value}: --rules takes the ConfigMap's folder itself")
print("\n".join(container["args"]))
PY
mapfile -t container_args <"$work/container"
target/debug/jiangcheng "${container_args[@]}" --help >/dev/null
serve_help=$(target/debug/jiangcheng serve --help)
for variable in $(grep -ohE '\bJC_[A-Z_]+' deploy/kubernetes/deployment.yaml deploy/Containerfile \
    deploy/jiangcheng.service | sort -u); do
    if ! grep -qF "[env: $variable=" <<<"$serve_help"; then
        echo "the deploy files set $variable, which serve does not read" >&2
        exit 1
    fi
done
echo "the container's ${#container_args[@]} arguments parse; every JC_ variable is one serve reads"
