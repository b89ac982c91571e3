#!/usr/bin/env bash
# Redis from Debian packages as a plain process with its own config, port and data folder (no persistence:
# Redis holds nothing that is not elsewhere).
set -euo pipefail
source "$(dirname "$0")/env.sh"
PIDFILE="$PID_DIR/redis.pid"
DATA="$STATE_DIR/redis"

install() { command -v redis-server >/dev/null || "$(dirname "$0")/apt.sh" redis-server; }
ready() { redis-cli -h 127.0.0.1 -p "$STRIDE_REDIS_PORT" ping 2>/dev/null | grep -q PONG; }

start() {
  install
  if pid_alive "$PIDFILE" && ready; then log "redis already running"; return 0; fi
  mkdir -p "$DATA"
  cat >"$DATA/redis.conf" <<CONF
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
CONF
  log "starting redis on 127.0.0.1:$STRIDE_REDIS_PORT"
  setsid redis-server "$DATA/redis.conf" </dev/null >/dev/null 2>&1 &
  echo $! >"$PIDFILE"
  local i; for ((i = 0; i < 100; i++)); do ready && return 0; sleep 0.1; done
  tail -20 "$LOG_DIR/redis.log" || true; die "Redis did not answer PING on port $STRIDE_REDIS_PORT within 10 s"
}

stop() { stop_pid redis "$PIDFILE" 20; }
status() { pid_alive "$PIDFILE" && ready && { echo "redis: running (pid $(cat "$PIDFILE"), port $STRIDE_REDIS_PORT)"; return 0; }; echo "redis: stopped"; return 1; }

"${1:-status}"
