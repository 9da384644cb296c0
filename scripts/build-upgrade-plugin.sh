#!/usr/bin/env bash
# Builds the second plugin build that tests/e2e/upgrade.rs registers as "v2": the same source,
# reporting the next patch version (AI_KEYS_VERSION at compile time), copied to
# $CARGO_TARGET_DIR/upgrade-rehearsal/vault-plugin-secrets-ai-keys. scripts/test.sh runs it
# before the tests; run it yourself before `cargo test --test e2e upgrade`.
#
# Cheap on purpose (about 40 s on two cores): a per-package profile override (line-tables-only
# debug info for this crate) gives this crate's artifacts another name, since cargo hashes the
# profile into it, while every dependency is reused as `cargo test` compiled it (building
# through the small hand_run test gives the dependencies the same features as `cargo test`).
# It has no test hooks (the `test-hooks` feature): the upgrade test never asks for a tick.
# The regular build's artifacts are left alone: the next `cargo test` recompiles nothing and
# only re-links target/debug/vault-plugin-secrets-ai-keys from its own, still fresh, artifact.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib/tools.sh
source scripts/lib/tools.sh

NAME="vault-plugin-secrets-ai-keys"
target_dir="${CARGO_TARGET_DIR:-target}"
crate_version="$(cargo pkgid)"
crate_version="${crate_version##*[#@]}"
[[ "$crate_version" =~ ^([0-9]+)\.([0-9]+)\.([0-9]+)$ ]] ||
  die "crate version $crate_version is not X.Y.Z"
v2="${BASH_REMATCH[1]}.${BASH_REMATCH[2]}.$((BASH_REMATCH[3] + 1))"

AI_KEYS_VERSION="$v2" run cargo test --no-run --test hand_run \
  --config "profile.dev.package.$NAME.debug=\"line-tables-only\""
mkdir -p "$target_dir/upgrade-rehearsal"
cp "$target_dir/debug/$NAME" "$target_dir/upgrade-rehearsal/$NAME.tmp"
mv "$target_dir/upgrade-rehearsal/$NAME.tmp" "$target_dir/upgrade-rehearsal/$NAME"
reported="$("$target_dir/upgrade-rehearsal/$NAME" --version)"
[[ "$reported" == "$NAME v$v2" ]] || die "the rehearsal build reports \"$reported\", not v$v2"
log "$reported: $target_dir/upgrade-rehearsal/$NAME"
