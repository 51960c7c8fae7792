#!/usr/bin/env bash
# The whole test suite, as CI runs it: formatting, lints, the engine's purity, every test.
# It installs what the tests need first; today that is only the Rust toolchain's components.
set -euo pipefail
cd "$(dirname "$0")/.."

rustup component add rustfmt clippy >/dev/null 2>&1 || true

echo "== format"
cargo fmt --check

echo "== lints"
cargo clippy --all-targets --locked -- -D warnings

echo "== the engine stays pure (no I/O crates, no clock)"
if grep -rnE '^\s*use (tokio|redis|actix_web|actix_rt|reqwest|std::fs|std::net)|Timestamp::now\(|SystemTime|Instant::now' src/engine; then
    echo "src/engine must not do I/O or read the clock" >&2
    exit 1
fi

echo "== tests"
cargo test --locked
