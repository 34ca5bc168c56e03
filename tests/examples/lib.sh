# Helpers for the example script tests (sourced): skip when a client tool is missing, start
# servers on port 0 and learn their port, stop them on exit whatever happens.

set -uo pipefail

work_dir="$(mktemp -d)"
server_pids=()

cleanup() {
  for pid in "${server_pids[@]}"; do
    { kill -KILL "$pid" && wait "$pid"; } 2>/dev/null
  done
  rm -rf "$work_dir"
}
trap cleanup EXIT

echo "poller: ${GORT_POLLER:-default}"

fail() {
  echo "FAIL: $*" >&2
  for f in "$work_dir"/*.err; do
    [ -s "$f" ] && { echo "--- $(basename "$f")" >&2; tail -n 20 "$f" >&2; }
  done
  exit 1
}

# need TOOL...: exit 77 (skipped) unless every tool is installed.
need() {
  for tool in "$@"; do
    command -v "$tool" >/dev/null 2>&1 || { echo "SKIP: $tool is not installed"; exit 77; }
  done
}

# start_server NAME COMMAND...: runs COMMAND in the background, waits for its "listening on"
# line and sets `port` to the port it reports. NAME names its logs and stop_server's argument.
start_server() {
  local name="$1"
  shift
  "$@" >"$work_dir/$name.out" 2>"$work_dir/$name.err" &
  local pid=$!
  server_pids+=("$pid")
  eval "pid_$name=$pid"
  for _ in $(seq 200); do
    if grep -qs "listening on" "$work_dir/$name.out"; then
      port="$(sed -n 's/.*listening on .*:\([0-9][0-9]*\)$/\1/p' "$work_dir/$name.out" | head -n 1)"
      [ -n "$port" ] || fail "$name: no port in '$(cat "$work_dir/$name.out")'"
      echo "$name listening on port $port"
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || fail "$name exited before listening"
    sleep 0.05
  done
  fail "$name did not report 'listening on'"
}

# stop_server NAME: SIGTERM, then the server must exit with status 0.
stop_server() {
  local pid
  eval "pid=\$pid_$1"
  kill -TERM "$pid" 2>/dev/null || fail "$1 is not running"
  for _ in $(seq 200); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  kill -0 "$pid" 2>/dev/null && fail "$1 ignored SIGTERM"
  wait "$pid"
  local rc=$?
  [ "$rc" -eq 0 ] || fail "$1 exited with status $rc after SIGTERM"
  # Every client here is an ordinary one: a read or write failing for another reason than the
  # peer leaving or the server closing (examples/common/io_errors) is a fault.
  if grep -q " on the connection from .* failed: " "$work_dir/$1.err"; then
    fail "$1 reported unexpected I/O errors"
  fi
}

# exchange PORT REQUEST: sends REQUEST (backslash escapes such as \r\n interpreted) on a new
# connection and prints all the server sends until it closes. Exit status 124 if the server
# kept the connection open.
exchange() {
  local port="$1" request="$2"
  exec 3<>"/dev/tcp/127.0.0.1/$port" || return 1
  printf '%b' "$request" >&3
  timeout 10 cat <&3
  local rc=$?
  exec 3<&-
  return $rc
}
