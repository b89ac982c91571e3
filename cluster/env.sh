# Shared paths and ports for the local single-node stack. Sourced by every cluster/*.sh script.
# Every value can be overridden from the environment (the same STRIDE_* names the app reads).
STRIDE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE_DIR="${STRIDE_STATE_DIR:-$STRIDE_ROOT/.state}"
PID_DIR="$STATE_DIR/pids"
LOG_DIR="$STATE_DIR/logs"
VENV="${STRIDE_VENV:-$STRIDE_ROOT/.venv}"
PY="$VENV/bin/python"

export STRIDE_PG_HOST="${STRIDE_PG_HOST:-127.0.0.1}"
export STRIDE_PG_PORT="${STRIDE_PG_PORT:-55432}"
export STRIDE_REDIS_HOST="${STRIDE_REDIS_HOST:-127.0.0.1}"
export STRIDE_REDIS_PORT="${STRIDE_REDIS_PORT:-56379}"
export STRIDE_CASSANDRA_HOSTS="${STRIDE_CASSANDRA_HOSTS:-127.0.0.1}"
export STRIDE_CASSANDRA_PORT="${STRIDE_CASSANDRA_PORT:-59042}"
export STRIDE_HTTP_PORT="${STRIDE_HTTP_PORT:-8000}"
CASSANDRA_STORAGE_PORT="${CASSANDRA_STORAGE_PORT:-57000}"

mkdir -p "$PID_DIR" "$LOG_DIR"

# Secrets: generated once into $STATE_DIR/secrets, never overwritten; the app's credentials are exported here
# (see cluster/secrets.sh for the layout and what is deliberately not exported).
# shellcheck source=secrets.sh
source "$STRIDE_ROOT/cluster/secrets.sh"
export_app_secrets || { printf '[stride] ERROR: could not create the secrets in %s\n' "$SECRETS_DIR" >&2; exit 1; }

log() { printf '[stride %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# pid_alive FILE -> 0 if the pid in FILE is a running process
pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# stop_pid NAME FILE [TIMEOUT]: TERM the process in FILE, wait, then KILL; remove the file.
stop_pid() {
  local name="$1" file="$2" timeout="${3:-30}" pid i
  if ! pid_alive "$file"; then rm -f "$file"; return 0; fi
  pid="$(cat "$file")"; log "stopping $name (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < timeout * 10; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then log "$name did not stop in ${timeout}s; killing"; kill -KILL "$pid" 2>/dev/null || true; fi
  rm -f "$file"
}
