#!/usr/bin/env bash
# `make up`: install what is missing, start every service, migrate, start Ray and the Serve app. Idempotent.
# `up.sh services` stops short of Ray (what the test suite needs: it runs its own Ray instance).
set -euo pipefail
here="$(dirname "$0")"
source "$here/env.sh"
"$here/install.sh"
"$here/ports.sh"   # the fixed ports out of the kernel's ephemeral range, before anything connects
"$here/postgres.sh" start
"$here/redis.sh" start
"$here/cassandra.sh" start
log "applying migrations"
(cd "$STRIDE_ROOT" && with_owner_secrets "$PY" -m storage.migrate) || die "migrations failed"
[ "${1:-all}" = services ] && exit 0
"$here/ray.sh" start
log "stack up: http://127.0.0.1:$STRIDE_HTTP_PORT (docs at /docs, readiness at /ready)"
