#!/usr/bin/env bash
# The whole test suite, as CI runs it: formatting, lints, the engine's purity, every test.
# It installs what the tests need first: the toolchain's components, Debian's redis-server (the
# Redis tests start their own servers on free loopback ports and stop them), promtool (from
# Debian's prometheus, for the alert rules) and Chromium with chromedriver (for the console).
set -euo pipefail
cd "$(dirname "$0")/.."

rustup component add rustfmt clippy >/dev/null 2>&1 || true
# shellcheck source=tests/lib.sh
. tests/lib.sh
deb_install redis-server redis-server
deb_install redis-sentinel redis-sentinel
deb_install promtool prometheus
# The console's browser tests (tests/api/console.rs): Chromium driven through chromedriver, a
# font with Chinese glyphs for its screenshots, and pdftotext to read the printed report.
deb_install chromedriver chromium chromium-driver fonts-wqy-microhei
deb_install pdftotext poppler-utils

echo "== format"
cargo fmt --check

echo "== lints"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== the engine stays pure (no I/O crates, no clock)"
if grep -rnE '^\s*use (tokio|redis|actix_web|actix_rt|reqwest|std::fs|std::net)|Timestamp::now\(|SystemTime|Instant::now' src/engine; then
    echo "src/engine must not do I/O or read the clock" >&2
    exit 1
fi

echo "== the alert rules (deploy/alerts.yml) and their unit tests"
promtool check rules deploy/alerts.yml
promtool test rules deploy/alerts.test.yml

echo "== tests"
cargo test --workspace --locked

echo "== the client examples (docs/clients/) against the real service"
bash tests/clients.sh

echo "== deploy/: the dashboard's queries, the Kubernetes manifests (tests/deploy.sh)"
bash tests/deploy.sh

echo "== the OpenAPI document, and the service tried against it (tests/openapi.sh)"
bash tests/openapi.sh

echo "== the systemd unit (deploy/jiangcheng.service)"
if command -v systemd-analyze >/dev/null; then
    # verify needs ExecStart's binary to exist: check a copy that starts the debug build.
    unit_dir=$(mktemp -d)
    trap 'rm -rf "$unit_dir"' EXIT
    sed "s#^ExecStart=/usr/bin/jiangcheng #ExecStart=$PWD/target/debug/jiangcheng #" \
        deploy/jiangcheng.service >"$unit_dir/jiangcheng.service"
    grep -q "^ExecStart=$PWD/target/debug/jiangcheng " "$unit_dir/jiangcheng.service"
    # systemd only warns about a value it cannot parse and ignores it: any output fails too.
    verify_out=$(systemd-analyze verify "$unit_dir/jiangcheng.service" 2>&1)
    if [ -n "$verify_out" ]; then
        echo "$verify_out" >&2
        exit 1
    fi
else
    echo "SKIPPED: systemd-analyze is not installed, deploy/jiangcheng.service was not verified"
fi
