#!/usr/bin/env bash
# Every check, from a fresh clone: installs OpenBao 2.7.2, hvac (for examples/hvac_client.py), the
# webhook receiver's Python packages (tests/support/webhook_receiver.py) and
# promtool/prometheus (for the metrics and alert-rule tests) if needed (idempotent), then checks
# formatting and lints and runs every test, the end-to-end ones against real OpenBao servers
# that the tests start on free loopback ports.
#
#   scripts/test.sh                      # what CI runs (.ci/run)
#   BAO_BIN=/path/to/bao scripts/test.sh # use an existing OpenBao 2.7.2 binary
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib/tools.sh
source scripts/lib/tools.sh

ensure_bao
ensure_hvac
ensure_prometheus
ensure_schemathesis
ensure_webhook_receiver
log "$("$BAO_BIN" version)"
log "$(cargo --version)"

# Each end-to-end test runs its own server (about 90 MiB) and plugin processes: four at a time
# keep two cores busy without starving the servers' start-up.
export RUST_TEST_THREADS="${RUST_TEST_THREADS:-4}"

run cargo fmt --all --check
# The layout ARCHITECTURE.md describes (no import loop in src/backend, no path file importing
# another) and documentation links that stay inside the repository.
run python3 scripts/check-layout.py
run bash scripts/check-links.sh
# Lints as a release builds it (no features) and as the tests build it (the test hooks).
run cargo clippy --workspace --all-targets -- -D warnings
run cargo clippy --workspace --all-targets --features test-hooks -- -D warnings
# Every #[ignore] says why.
run python3 scripts/check-ignores.py
# The second plugin build the upgrade test registers as v2 (tests/e2e/upgrade.rs).
run scripts/build-upgrade-plugin.sh
# The test hooks (src/framework/test_hooks.rs: `<mount>/test-hooks/tick` runs the host's periodic
# work now) let the end-to-end tests poll for what the tick does instead of waiting for the
# host's 60 s tick; release builds never have them.
run cargo test --workspace --all-targets --features test-hooks
log "all checks passed"
