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
# shellcheck source=scripts/lib/devserver.sh
source scripts/lib/devserver.sh

ensure_bao
run cargo build
plugin_build="${CARGO_TARGET_DIR:-target}/debug/$PLUGIN_COMMAND"
[[ -x "$plugin_build" ]] || die "no plugin binary at $plugin_build after cargo build"
start_dev_server "$plugin_build"
# Set by start_dev_server:
: "${work:?}" "${version:?}" "${server_pid:?}"

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
