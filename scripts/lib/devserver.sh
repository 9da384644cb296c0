# shellcheck shell=bash
# Shared by scripts/dev.sh and scripts/bench.sh (sourced after scripts/lib/tools.sh): a throwaway
# OpenBao dev server on a free loopback port with the plugin registered by sha256 and version and
# mounted at ai-keys/. The server is stopped by its PID when the calling script exits.

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

# Starts the server with plugin binary "$1" and mounts it (with a file audit device unless
# AI_KEYS_DEV_AUDIT=0). Sets work, server_pid, version,
# BAO_ADDR and BAO_TOKEN (exported), and an EXIT trap that stops the server.
start_dev_server() {
  local plugin_build="$1"
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
  {
    printf 'plugin_directory   = "%s/plugins"\n' "$work"
    printf 'disable_clustering = true\n\n'
    if [[ "${AI_KEYS_DEV_AUDIT:-1}" != 0 ]]; then
      printf 'audit "file" "main" {\n  options {\n    file_path = "%s/audit.log"\n  }\n}\n' "$work"
    fi
  } >"$work/dev.hcl"

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
}
