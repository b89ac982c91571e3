#!/usr/bin/env bash
# PostgreSQL from Debian packages: a project-owned cluster (initdb) on a project port, run as the postgres user.
set -euo pipefail
source "$(dirname "$0")/env.sh"
PGDATA="$STATE_DIR/postgres/data"
PIDFILE="$PID_DIR/postgres.pid"
PGBIN=""

find_bin() {
  local d; d="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
  [ -n "$d" ] && [ -x "$d/postgres" ] || return 1
  PGBIN="$d"
}

as_pg() { runuser -u postgres -- "$@"; }

install() {
  find_bin && return 0
  log "installing PostgreSQL (Debian package)"
  "$(dirname "$0")/apt.sh" postgresql
  find_bin || die "PostgreSQL binaries not found after install"
}

ready() { "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$STRIDE_PG_PORT" >/dev/null 2>&1; }

start() {
  install
  if pid_alive "$PIDFILE" && ready; then log "postgres already running"; return 0; fi
  mkdir -p "$STATE_DIR/postgres"; chmod a+x "$STATE_DIR" "$LOG_DIR"; chown postgres:postgres "$STATE_DIR/postgres"
  runuser -u postgres -- test -x "$STATE_DIR/postgres" || die "the postgres user cannot reach $STATE_DIR (a parent folder is not traversable); set STRIDE_STATE_DIR"
  if [ ! -f "$PGDATA/PG_VERSION" ]; then
    log "initdb $PGDATA"
    as_pg "$PGBIN/initdb" -D "$PGDATA" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$LOG_DIR/postgres-initdb.log" 2>&1 \
      || { tail -20 "$LOG_DIR/postgres-initdb.log"; die "PostgreSQL initdb failed"; }
    cat >>"$PGDATA/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $STRIDE_PG_PORT
unix_socket_directories = '$STATE_DIR/postgres'
max_connections = 200
shared_buffers = 256MB
fsync = on
synchronous_commit = on
logging_collector = off
CONF
  fi
  touch "$LOG_DIR/postgres.log"; chown postgres:postgres "$LOG_DIR/postgres.log"
  log "starting postgres on 127.0.0.1:$STRIDE_PG_PORT"
  as_pg setsid "$PGBIN/postgres" -D "$PGDATA" >>"$LOG_DIR/postgres.log" 2>&1 < /dev/null &
  local i
  for ((i = 0; i < 300; i++)); do
    [ -f "$PGDATA/postmaster.pid" ] && head -n 1 "$PGDATA/postmaster.pid" >"$PIDFILE"
    ready && break
    sleep 0.1
  done
  ready || { tail -20 "$LOG_DIR/postgres.log"; die "PostgreSQL did not accept connections on port $STRIDE_PG_PORT within 30 s"; }
  as_pg "$PGBIN/psql" -h 127.0.0.1 -p "$STRIDE_PG_PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 -q <<SQL
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'stride') THEN
    CREATE ROLE stride LOGIN SUPERUSER PASSWORD 'stride';
  END IF;
END \$\$;
SELECT 'CREATE DATABASE stride OWNER stride' WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'stride')\gexec
SELECT 'CREATE DATABASE stride_test OWNER stride' WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'stride_test')\gexec
SQL
}

stop() { find_bin || true; stop_pid postgres "$PIDFILE" 60; }
status() { find_bin && pid_alive "$PIDFILE" && ready && { echo "postgres: running (pid $(cat "$PIDFILE"), port $STRIDE_PG_PORT)"; return 0; }; echo "postgres: stopped"; return 1; }

"${1:-status}"
