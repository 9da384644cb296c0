#!/usr/bin/env bash
# Builds the release binary and writes, in dist/ (git-ignored):
#
#   vault-plugin-secrets-ai-keys-vX.Y.Z   the plugin, named after the version it reports
#   SHA256SUMS                            `sha256sum -c SHA256SUMS` checks it
#   REGISTER-vX.Y.Z.txt                   the exact commands to register, mount, upgrade to and
#                                         roll back to this build (bao and vault)
#
# The version is the one the binary reports (`--version`): the crate version, or
# AI_KEYS_VERSION=X.Y.Z at build time. The file name carries it so that two versions can sit
# side by side in the server's plugin directory, which an upgrade with a rollback path needs.
#
#   scripts/release.sh
#   AI_KEYS_VERSION=0.2.0 scripts/release.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib/tools.sh
source scripts/lib/tools.sh

NAME="vault-plugin-secrets-ai-keys"
PLUGIN="ai-keys"
MOUNT="ai-keys"
target_dir="${CARGO_TARGET_DIR:-target}"

# No --features: the test hooks (the `test-hooks` feature, src/framework/test_hooks.rs) are for
# the tests only, and the check below refuses a binary that has them.
run cargo build --release --locked --bin "$NAME"
built="$target_dir/release/$NAME"
[[ -x "$built" ]] || die "no binary at $built"
if grep -qaF "test-hooks/tick" "$built"; then
  die "$built has the test hooks (built with the test-hooks feature): not a release build"
fi

reported="$("$built" --version)"
version="${reported#"$NAME "}"
[[ "$reported" == "$NAME v"* && "$version" =~ ^v[0-9]+\.[0-9]+\.[0-9]+ ]] ||
  die "unexpected --version output: $reported"
command="$NAME-$version"

mkdir -p dist
cp "$built" "dist/$command"
(cd dist && sha256sum "$command" >SHA256SUMS)
sha256="$(cut -d' ' -f1 dist/SHA256SUMS)"

cat >"dist/REGISTER-$version.txt" <<EOF
# $NAME $version
# sha256 $sha256
#
# 1. Install: copy the binary into the plugin_directory of EVERY server node (same file, same
#    name; keep the previous version's file there too, for a rollback), then check it:
#      sha256sum $command    # must print $sha256
#
# 2. Register it in the catalog (once, on the active node; the catalog is replicated):
bao plugin register -sha256=$sha256 -version=$version -command=$command secret $PLUGIN
#    or with the HashiCorp Vault CLI:
vault plugin register -sha256=$sha256 -version=$version -command=$command secret $PLUGIN

# 3a. First install: mount it.
bao secrets enable -path=$MOUNT -plugin-version=$version $PLUGIN
vault secrets enable -path=$MOUNT -plugin-version=$version $PLUGIN

# 3b. Upgrade (or roll back) an existing mount to this version: pin the version, then reload
#     the running plugin processes on every node (-scope=global) so they restart from this binary.
bao secrets tune -plugin-version=$version $MOUNT/
bao plugin reload -plugin=$PLUGIN -scope=global
vault secrets tune -plugin-version=$version $MOUNT/
vault plugin reload -plugin=$PLUGIN -scope=global

# 4. Check every node, each by its own address (NODES: their addresses): each must print
#    $version (running_plugin_version of sys/mounts/$MOUNT); a standby follows within a second.
for node in \$NODES; do BAO_ADDR=\$node bao read -field=running_plugin_version sys/mounts/$MOUNT; done
bao secrets list -detailed
vault secrets list -detailed
EOF

ls -l "dist/$command"
log "$reported: dist/$command ($(stat -c %s "dist/$command") bytes), dist/SHA256SUMS, dist/REGISTER-$version.txt"
