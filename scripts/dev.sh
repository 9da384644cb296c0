#!/usr/bin/env bash
# A throwaway OpenBao dev server (in-memory storage, root token "root") on a free loopback port,
# with this plugin built, copied into a temporary plugin directory, registered by sha256 and
# version, and mounted at ai-keys/. Prints how to use it, then waits: Ctrl-C stops the server
# (by its PID) and removes the directory.
#
#   scripts/dev.sh                       # build (debug), start, mount, wait
#   AI_KEYS_DEV_KEEP=1 scripts/dev.sh    # keep the directory (server.log, audit.log) on exit
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib/tools.sh
source scripts/lib/tools.sh

PLUGIN_NAME="ai-keys"
PLUGIN_COMMAND="vault-plugin-secrets-ai-keys"

# The [package] version of Cargo.toml.
crate_version() {
  awk -F'"' '/^\[/ { in_package = ($0 == "[package]") } in_package && /^version *=/ { print $2; exit }' Cargo.toml
}

# A loopback port that is free right now.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

ensure_bao
run cargo build
plugin_build="${CARGO_TARGET_DIR:-target}/debug/$PLUGIN_COMMAND"
[[ -x "$plugin_build" ]] || die "no plugin binary at $plugin_build after cargo build"
version="v$(crate_version)"

work="$(mktemp -d "${TMPDIR:-/tmp}/ai-keys-dev.XXXXXX")"
server_pid=""

# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() {
  local status=$?
  if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
    log "stopping OpenBao (pid $server_pid)"
    kill -TERM "$server_pid" 2>/dev/null || true
    for _ in $(seq 50); do
      kill -0 "$server_pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$server_pid" 2>/dev/null; then
      # Its plugin processes would outlive a SIGKILL: take their PIDs first.
      local children
      children="$(ps -o pid= --ppid "$server_pid" || true)"
      kill -KILL "$server_pid" 2>/dev/null || true
      for pid in $children; do kill -KILL "$pid" 2>/dev/null || true; done
    fi
    wait "$server_pid" 2>/dev/null || true
  fi
  if [[ -n "${AI_KEYS_DEV_KEEP:-}" ]]; then
    log "kept $work"
  else
    rm -rf "$work"
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir "$work/plugins"
cp "$plugin_build" "$work/plugins/$PLUGIN_COMMAND"
# disable_clustering: a single dev node needs no cluster listener (it would bind PORT+1).
cat >"$work/dev.hcl" <<HCL
plugin_directory   = "$work/plugins"
disable_clustering = true

audit "file" "main" {
  options {
    file_path = "$work/audit.log"
  }
}
HCL

port="$(free_port)"
export BAO_ADDR="http://127.0.0.1:$port" BAO_TOKEN="root"
log "starting OpenBao on $BAO_ADDR (log: $work/server.log)"
"$BAO_BIN" server -dev -dev-root-token-id=root -dev-listen-address="127.0.0.1:$port" \
  -dev-no-store-token -config="$work/dev.hcl" >"$work/server.log" 2>&1 &
server_pid=$!

deadline=$((SECONDS + 30))
until "$BAO_BIN" status >/dev/null 2>&1; do
  if ! kill -0 "$server_pid" 2>/dev/null; then
    tail -n 30 "$work/server.log" >&2
    die "OpenBao exited during start-up"
  fi
  ((SECONDS < deadline)) || die "OpenBao did not answer within 30 s (see $work/server.log)"
  sleep 0.1
done

sha256="$(sha256sum "$work/plugins/$PLUGIN_COMMAND" | cut -d' ' -f1)"
run "$BAO_BIN" plugin register -sha256="$sha256" -command="$PLUGIN_COMMAND" -version="$version" \
  secret "$PLUGIN_NAME"
run "$BAO_BIN" secrets enable -path="$PLUGIN_NAME" -plugin-version="$version" "$PLUGIN_NAME"

# --- demo ---
# A real rotation on the mounted engine: create a key, read what applications see, stage a new
# version, test and promote it, then show both keys during the grace window and the history.
# The values are demo strings, not real provider keys. AI_KEYS_DEV_NO_DEMO=1 skips this.
if [[ -z "${AI_KEYS_DEV_NO_DEMO:-}" ]]; then
  demo() { printf '\n$ bao %s\n' "$*"; "$BAO_BIN" "$@"; }
  demo write "$PLUGIN_NAME/keys/demo-openai" value=sk-demo-old-0000000000000000 \
    schedule=staging custom_metadata=owner=platform-team
  demo read "$PLUGIN_NAME/creds/demo-openai"
  demo write "$PLUGIN_NAME/stage/demo-openai" value=sk-demo-new-1111111111111111 rotation_id=demo-1
  demo write -f "$PLUGIN_NAME/test/demo-openai"
  demo write "$PLUGIN_NAME/promote/demo-openai" grace_period=1h
  printf '\n# During the grace window applications get both keys:\n'
  demo read "$PLUGIN_NAME/creds/demo-openai"
  demo write "$PLUGIN_NAME/verify/demo-openai" value=sk-demo-old-0000000000000000
  demo read -format=json "$PLUGIN_NAME/history/demo-openai"
fi
# --- end demo ---

path_hint=""
if [[ "$(command -v bao || true)" != "$BAO_BIN" ]]; then
  path_hint=" PATH=\"$(dirname "$BAO_BIN"):\$PATH\""
fi
cat <<USAGE

OpenBao is running (pid $server_pid) with $PLUGIN_COMMAND $version mounted at $PLUGIN_NAME/.
In another shell:

  export BAO_ADDR=$BAO_ADDR BAO_TOKEN=root$path_hint
  bao read $PLUGIN_NAME/keys/demo-openai
  bao write $PLUGIN_NAME/rotate/demo-openai value=sk-demo-newer-2222222222222222 grace_period=0
  bao read $PLUGIN_NAME/creds/demo-openai

Logs: $work/server.log, $work/audit.log
Ctrl-C stops the server.
USAGE

if wait "$server_pid"; then status=0; else status=$?; fi
server_pid=""
die "OpenBao exited by itself (status $status); rerun with AI_KEYS_DEV_KEEP=1 to keep its log"
