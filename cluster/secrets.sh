# Secrets of the local stack (sourced by env.sh; also runnable: `cluster/secrets.sh [list|path NAME]`).
#
# Every secret is generated once into $STATE_DIR/secrets (mode 700; each file mode 600, 256 random bits as 64 hex
# characters) and never overwritten: `ln` publishes a fully written temp file atomically and fails if another
# process got there first, so concurrent scripts agree on one value. Rotation: see docs/security.md.
#
#   ray-token                   Ray token authentication (RAY_AUTH_TOKEN_PATH points at this file)
#   jwt-secret                  STRIDE_JWT_SECRET (HS256 key of access tokens)
#   pg-app-password             STRIDE_PG_PASSWORD            role stride_app: DML on the app's tables only
#   pg-owner-password           STRIDE_PG_MIGRATION_PASSWORD  role stride: owns the schema, runs migrations
#   redis-password              STRIDE_REDIS_PASSWORD         ACL user stride (no admin commands)
#   cassandra-app-password      STRIDE_CASSANDRA_PASSWORD     role stride_app: SELECT/MODIFY on the keyspaces
#   cassandra-owner-password    STRIDE_CASSANDRA_MIGRATION_PASSWORD  role stride_owner: creates/alters keyspaces
#   cassandra-admin-password    role stride_admin (superuser; used by cluster/cassandra.sh only)
#
# env.sh exports only what the app and the tests need (app credentials, JWT secret; ray-env.sh adds the Ray token path). The owner and
# admin credentials never enter the environment of Ray, the app or the tests: `with_owner_secrets CMD` runs one
# command (the migrations) with the owner credentials, and the service scripts read their files directly.

SECRETS_DIR="$STATE_DIR/secrets"
STRIDE_SECRET_NAMES=(ray-token jwt-secret pg-app-password pg-owner-password redis-password
                     cassandra-app-password cassandra-owner-password cassandra-admin-password)

# new_secret: 256 random bits as 64 lowercase hex characters.
new_secret() { od -An -N32 -tx1 /dev/urandom | tr -d ' \n'; }

# ensure_secret NAME: generate $SECRETS_DIR/NAME unless it exists (never overwrites; safe to race).
ensure_secret() {
  local f="$SECRETS_DIR/$1" tmp
  [ -s "$f" ] && return 0
  (
    umask 077
    mkdir -p "$SECRETS_DIR"
    tmp="$(mktemp "$SECRETS_DIR/.$1.XXXXXX")"
    new_secret >"$tmp"
    [ "$(wc -c <"$tmp")" -eq 64 ] || { rm -f "$tmp"; echo "could not generate secret $1" >&2; exit 1; }
    ln "$tmp" "$f" 2>/dev/null || true   # someone else won the race: keep theirs
    rm -f "$tmp"
  ) || return 1
  [ -s "$f" ]
}

ensure_secrets() {
  local n
  mkdir -p "$SECRETS_DIR" && chmod 700 "$SECRETS_DIR"
  for n in "${STRIDE_SECRET_NAMES[@]}"; do ensure_secret "$n" || return 1; done
  chmod 600 "$SECRETS_DIR"/* 2>/dev/null || true
}

# secret NAME: print a secret (generating it if missing).
secret() { ensure_secret "$1" && cat "$SECRETS_DIR/$1"; }

# with_owner_secrets CMD...: run CMD with the schema owners' credentials (migrations), nothing else gets them.
with_owner_secrets() {
  STRIDE_PG_MIGRATION_PASSWORD="$(secret pg-owner-password)" \
  STRIDE_CASSANDRA_MIGRATION_PASSWORD="$(secret cassandra-owner-password)" "$@"
}

# export_app_secrets: the app's credentials for every script, the app, the tests and the benchmarks. A value
# already in the environment wins (e.g. a cluster's own secrets); the local files are the fallback.
export_app_secrets() {
  ensure_secrets || return 1
  export STRIDE_PG_PASSWORD="${STRIDE_PG_PASSWORD:-$(cat "$SECRETS_DIR/pg-app-password")}"
  export STRIDE_REDIS_PASSWORD="${STRIDE_REDIS_PASSWORD:-$(cat "$SECRETS_DIR/redis-password")}"
  export STRIDE_CASSANDRA_PASSWORD="${STRIDE_CASSANDRA_PASSWORD:-$(cat "$SECRETS_DIR/cassandra-app-password")}"
  export STRIDE_JWT_SECRET="${STRIDE_JWT_SECRET:-$(cat "$SECRETS_DIR/jwt-secret")}"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  # run as a command
  set -euo pipefail
  # shellcheck source=env.sh
  source "$(dirname "$0")/env.sh"
  case "${1:-list}" in
    list) ensure_secrets; ls -l "$SECRETS_DIR" ;;
    path) ensure_secret "$2"; echo "$SECRETS_DIR/$2" ;;
    *) echo "usage: $0 [list|path NAME]" >&2; exit 64 ;;
  esac
fi
