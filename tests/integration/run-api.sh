#!/usr/bin/env bash
# Run the integration targets a second time through the libpod REST API. For each
# Podman that scripts/setup.sh installed, this starts "podman system service" on a
# socket in a temporary folder and runs tests/integration/run.sh with podman_socket
# set to it. The service is stopped by its process ID.
#
# Usage: tests/integration/run-api.sh [--podman WRAPPER] [TARGET ...]
#   TARGET   names under tests/integration/targets (default: all of them)
#   --podman run only against this podman wrapper instead of each line of
#            /opt/statecraft/podman-versions
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
versions_file=/opt/statecraft/podman-versions
podmans=()
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --podman) podmans+=("$2"); shift 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
if [ ${#podmans[@]} -eq 0 ]; then
  mapfile -t podmans < "$versions_file"
fi

work=$(mktemp -d /tmp/statecraft-api.XXXXXX)
service_pid=""

stop_service() {
  if [ -n "$service_pid" ] && kill -0 "$service_pid" 2>/dev/null; then
    kill "$service_pid"
    # The service removes its socket and exits within a few seconds of SIGTERM.
    for _ in $(seq 50); do
      kill -0 "$service_pid" 2>/dev/null || break
      sleep 0.2
    done
    if kill -0 "$service_pid" 2>/dev/null; then
      echo "podman system service (PID $service_pid) did not stop after SIGTERM; sending SIGKILL" >&2
      kill -KILL "$service_pid" 2>/dev/null || true
    fi
  fi
  service_pid=""
}
trap 'stop_service; rm -rf "$work"' EXIT

# Return 0 once the service on $1 responds to /_ping, 1 after about 30 s.
wait_for_ping() {
  local socket=$1
  for _ in $(seq 150); do
    if [ -n "$service_pid" ] && ! kill -0 "$service_pid" 2>/dev/null; then
      return 1
    fi
    if [ -S "$socket" ] && python3 - "$socket" <<'EOF' 2>/dev/null; then
import http.client, socket, sys
connection = http.client.HTTPConnection("d", timeout=2)
connection.sock = socket.socket(socket.AF_UNIX)
connection.sock.settimeout(2)
connection.sock.connect(sys.argv[1])
connection.request("GET", "/_ping")
sys.exit(0 if connection.getresponse().status == 200 else 1)
EOF
      return 0
    fi
    sleep 0.2
  done
  return 1
}

status=0
for podman in "${podmans[@]}"; do
  socket="$work/$(basename "$podman").sock"
  log="$work/$(basename "$podman")-service.log"
  echo "=== starting $podman system service on $socket"
  "$podman" system service --time=0 "unix://$socket" >"$log" 2>&1 &
  service_pid=$!
  if ! wait_for_ping "$socket"; then
    echo "FAILED: podman system service of $podman did not respond on $socket; its log:" >&2
    cat "$log" >&2
    stop_service
    status=1
    continue
  fi
  if ! bash "$repo/tests/integration/run.sh" --podman "$podman" \
      -e "podman_socket=$socket" "${targets[@]}"; then
    status=1
  fi
  stop_service
  if grep -qv -e 'superfluous response.WriteHeader' -e 'Unable to write json' "$log" 2>/dev/null; then
    echo "--- log of $podman system service"
    tail -n 50 "$log"
  fi
done
exit $status
