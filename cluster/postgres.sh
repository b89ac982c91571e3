#!/usr/bin/env bash
# PostgreSQL from Debian packages: a project-owned cluster (initdb) on a project port, run as the postgres user.
#
# Access (rewritten on every start, so an older state folder is brought up to it):
#   - TCP on 127.0.0.1 only, every role by password (scram-sha-256); no `trust` anywhere.
#   - the unix socket in $STATE_DIR/postgres: only the `postgres` OS user, as the `postgres` role (peer); this
#     script administers the cluster through it.
#   - roles: $STRIDE_PG_MIGRATION_USER (default stride) owns the databases and the schema and runs the migrations;
#     $STRIDE_PG_USER (default stride_app) is what the app logs in as: no SUPERUSER/CREATEDB/CREATEROLE, and only
#     the row privileges storage/migrate.py grants it. Both passwords come from $STATE_DIR/secrets (cluster/secrets.sh).
set -euo pipefail
source "$(dirname "$0")/env.sh"
PGDATA="$STATE_DIR/postgres/data"
PIDFILE="$PID_DIR/postgres.pid"
SOCKDIR="$STATE_DIR/postgres"
PGBIN=""
OWNER_ROLE="${STRIDE_PG_MIGRATION_USER:-stride}"
APP_ROLE="${STRIDE_PG_USER:-stride_app}"
DATABASES=(stride stride_test)

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

# psql as the postgres superuser over the unix socket (peer authentication); SQL on stdin.
psql_admin() { as_pg "$PGBIN/psql" -h "$SOCKDIR" -p "$STRIDE_PG_PORT" -U postgres -X -q -v ON_ERROR_STOP=1 "$@"; }

write_hba() {
  local hba="$PGDATA/pg_hba.conf" want
  want="# Written by cluster/postgres.sh on every start; edits are lost.
# TYPE  DATABASE  USER      ADDRESS        METHOD
local   all       postgres                 peer
host    all       all       127.0.0.1/32   scram-sha-256
host    all       all       ::1/128        scram-sha-256"
  if [ "$(cat "$hba" 2>/dev/null)" != "$want" ]; then
    printf '%s\n' "$want" >"$hba.new" && chown postgres:postgres "$hba.new" && chmod 600 "$hba.new" && mv "$hba.new" "$hba"
    return 0  # changed
  fi
  return 1
}

check_ident() { [[ "$1" =~ ^[a-z_][a-z0-9_]*$ ]] || die "PostgreSQL role name '$1' must match [a-z_][a-z0-9_]*"; }
check_password() { [[ -n "$1" && "$1" != *"'"* && "$1" != *\\* ]] || die "PostgreSQL passwords must be non-empty, without ' or \\"; }

# configure_roles: owner and app roles with their current passwords, databases owned by the owner, the app allowed
# to connect (table privileges: storage/migrate.py). Idempotent; turns the old superuser `stride`/`stride` set-up
# into this one.
configure_roles() {
  local owner_pw app_pw db
  owner_pw="$(secret pg-owner-password)"; app_pw="$STRIDE_PG_PASSWORD"
  check_ident "$OWNER_ROLE"; check_ident "$APP_ROLE"; check_password "$owner_pw"; check_password "$app_pw"
  [ "$OWNER_ROLE" != "$APP_ROLE" ] || die "STRIDE_PG_USER and STRIDE_PG_MIGRATION_USER must differ"
  {
    echo "SET password_encryption = 'scram-sha-256';"
    for role in "$OWNER_ROLE" "$APP_ROLE"; do
      echo "SELECT 'CREATE ROLE $role' WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$role')\gexec"
    done
    echo "ALTER ROLE $OWNER_ROLE WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD '$owner_pw';"
    echo "ALTER ROLE $APP_ROLE WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS NOINHERIT PASSWORD '$app_pw';"
    for db in "${DATABASES[@]}"; do
      echo "SELECT 'CREATE DATABASE $db OWNER $OWNER_ROLE' WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = '$db')\gexec"
      echo "ALTER DATABASE $db OWNER TO $OWNER_ROLE;"
      echo "REVOKE ALL ON DATABASE $db FROM PUBLIC;"
      echo "GRANT CONNECT, TEMPORARY ON DATABASE $db TO $APP_ROLE;"
    done
    for db in "${DATABASES[@]}"; do
      echo "\\connect $db"
      echo "REVOKE CREATE ON SCHEMA public FROM PUBLIC;"
      # objects a superuser created in the old set-up belong to the owner
      echo "SELECT format('ALTER TABLE %I OWNER TO $OWNER_ROLE', tablename) FROM pg_tables WHERE schemaname = 'public' AND tableowner <> '$OWNER_ROLE'\gexec"
      echo "GRANT USAGE ON SCHEMA public TO $APP_ROLE;"
    done
  } | psql_admin -d postgres >/dev/null
}

start() {
  install
  if pid_alive "$PIDFILE" && ready; then
    log "postgres already running"
    secure
    return 0
  fi
  mkdir -p "$STATE_DIR/postgres"; chmod a+x "$STATE_DIR" "$LOG_DIR"; chown postgres:postgres "$STATE_DIR/postgres"
  runuser -u postgres -- test -x "$STATE_DIR/postgres" || die "the postgres user cannot reach $STATE_DIR (a parent folder is not traversable); set STRIDE_STATE_DIR"
  if [ ! -f "$PGDATA/PG_VERSION" ]; then
    log "initdb $PGDATA"
    as_pg "$PGBIN/initdb" -D "$PGDATA" -U postgres --auth-local=peer --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$LOG_DIR/postgres-initdb.log" 2>&1 \
      || { tail -20 "$LOG_DIR/postgres-initdb.log"; die "PostgreSQL initdb failed"; }
    cat >>"$PGDATA/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $STRIDE_PG_PORT
unix_socket_directories = '$SOCKDIR'
unix_socket_permissions = 0700
password_encryption = 'scram-sha-256'
max_connections = 200
shared_buffers = 256MB
fsync = on
synchronous_commit = on
logging_collector = off
CONF
  fi
  touch "$LOG_DIR/postgres.log"; chown postgres:postgres "$LOG_DIR/postgres.log"
  write_hba || true
  log "starting postgres on 127.0.0.1:$STRIDE_PG_PORT"
  as_pg setsid "$PGBIN/postgres" -D "$PGDATA" >>"$LOG_DIR/postgres.log" 2>&1 < /dev/null &
  local i
  for ((i = 0; i < 300; i++)); do
    [ -f "$PGDATA/postmaster.pid" ] && head -n 1 "$PGDATA/postmaster.pid" >"$PIDFILE"
    ready && break
    sleep 0.1
  done
  ready || { tail -20 "$LOG_DIR/postgres.log"; die "PostgreSQL did not accept connections on port $STRIDE_PG_PORT within 30 s"; }
  secure
}

# secure: roles and passwords first (over the socket), then password-only TCP access; reload if pg_hba changed.
secure() {
  configure_roles
  if write_hba; then
    log "postgres: access now by password only (scram-sha-256); reloading"
    psql_admin -d postgres -c "SELECT pg_reload_conf()" >/dev/null
  fi
}

stop() { find_bin || true; stop_pid postgres "$PIDFILE" 60; }
status() { find_bin && pid_alive "$PIDFILE" && ready && { echo "postgres: running (pid $(cat "$PIDFILE"), port $STRIDE_PG_PORT)"; return 0; }; echo "postgres: stopped"; return 1; }

"${1:-status}"
