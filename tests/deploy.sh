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
