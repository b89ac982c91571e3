#!/usr/bin/env bash
# Redis from Debian packages as a plain process with its own config, port and data folder (no persistence:
# Redis holds nothing that is not elsewhere).
#
# Access: 127.0.0.1 only; the `default` user is off, so nothing works without logging in as the ACL user
# $STRIDE_REDIS_USERNAME (default stride) with $STRIDE_REDIS_PASSWORD (generated into $STATE_DIR/secrets). That user
# may run every data command but no @admin one (CONFIG, DEBUG, SHUTDOWN, ACL changes, REPLICAOF, MONITOR, ...).
# The config file holds the password's SHA-256 only. A Redis started by an older version of this script (no
# authentication) is restarted with this config.
set -euo pipefail
source "$(dirname "$0")/env.sh"
PIDFILE="$PID_DIR/redis.pid"
DATA="$STATE_DIR/redis"
REDIS_USER="${STRIDE_REDIS_USERNAME:-stride}"

install() { command -v redis-server >/dev/null || "$(dirname "$0")/apt.sh" redis-server; }
# cli ARGS: redis-cli as the project's user (password through the environment, never on the command line)
cli() { REDISCLI_AUTH="$STRIDE_REDIS_PASSWORD" redis-cli --no-auth-warning -h 127.0.0.1 -p "$STRIDE_REDIS_PORT" --user "$REDIS_USER" "$@"; }
ready() { cli ping 2>/dev/null | grep -q PONG; }
# open_without_password: the server answers PING to anyone (an old, unauthenticated config)
open_without_password() { redis-cli -h 127.0.0.1 -p "$STRIDE_REDIS_PORT" ping 2>/dev/null | grep -q PONG; }

write_config() {
  [[ "$REDIS_USER" =~ ^[A-Za-z0-9_-]+$ ]] || die "STRIDE_REDIS_USERNAME must be letters, digits, '_' or '-'"
  [ -n "$STRIDE_REDIS_PASSWORD" ] || die "STRIDE_REDIS_PASSWORD is empty"
  local hash; hash="$(printf '%s' "$STRIDE_REDIS_PASSWORD" | sha256sum | cut -d' ' -f1)"
  mkdir -p "$DATA"
  (umask 077; cat >"$DATA/redis.conf.new" <<CONF
bind 127.0.0.1
port $STRIDE_REDIS_PORT
dir $DATA
save ""
appendonly no
daemonize no
protected-mode yes
maxmemory 512mb
maxmemory-policy allkeys-lru
logfile $LOG_DIR/redis.log
# authentication: no anonymous access; one ACL user without admin commands
user default off resetchannels -@all
user $REDIS_USER on #$hash ~* &* +@all -@admin
CONF
  )
  mv "$DATA/redis.conf.new" "$DATA/redis.conf"
}

start() {
  install
  if pid_alive "$PIDFILE"; then
    if ready && ! open_without_password; then log "redis already running"; return 0; fi
    log "redis is running without the current authentication set-up; restarting it"
    stop
  fi
  write_config
  log "starting redis on 127.0.0.1:$STRIDE_REDIS_PORT"
  setsid redis-server "$DATA/redis.conf" </dev/null >/dev/null 2>&1 &
  echo $! >"$PIDFILE"
  local i; for ((i = 0; i < 100; i++)); do ready && return 0; sleep 0.1; done
  tail -20 "$LOG_DIR/redis.log" || true; die "Redis did not answer PING (as user $REDIS_USER) on port $STRIDE_REDIS_PORT within 10 s"
}

stop() { stop_pid redis "$PIDFILE" 20; }
status() { pid_alive "$PIDFILE" && ready && { echo "redis: running (pid $(cat "$PIDFILE"), port $STRIDE_REDIS_PORT)"; return 0; }; echo "redis: stopped"; return 1; }

"${1:-status}"
