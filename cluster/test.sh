#!/usr/bin/env bash
# `make test`: set everything up, lint (make lint), run the whole suite, stop the services this run started (and only those).
set -uo pipefail
here="$(dirname "$0")"
source "$here/env.sh"
started=()
for s in postgres redis cassandra; do "$here/$s.sh" status >/dev/null 2>&1 || started+=("$s"); done
cleanup() {
  local s
  for s in "${started[@]}"; do "$here/$s.sh" stop; done
}
trap cleanup EXIT
"$here/up.sh" services || exit 1
"$here/lint.sh" || die "lint failed (make lint): ruff, mypy or the import-linter layer contracts"
(cd "$STRIDE_ROOT" && with_owner_secrets "$PY" -m storage.migrate --database stride_test --keyspace stride_test) || die "test migrations failed"
cd "$STRIDE_ROOT"
"$PY" -m pytest "$@"
rc=$?
[ $rc -eq 5 ] && { log "pytest collected no tests"; rc=1; }
exit $rc
