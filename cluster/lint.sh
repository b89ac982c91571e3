#!/usr/bin/env bash
# `make lint` (and the first step of `make test`): ruff lint + format check, mypy, import-linter.
set -uo pipefail
source "$(dirname "$0")/env.sh"
cd "$STRIDE_ROOT"
rc=0
log "ruff check";          "$VENV/bin/ruff" check . || rc=1
log "ruff format --check"; "$VENV/bin/ruff" format --check . || rc=1
log "mypy";                "$VENV/bin/mypy" || rc=1
log "import-linter";       "$VENV/bin/lint-imports" || rc=1
[ $rc -eq 0 ] && log "lint: clean" || log "lint: FAILED"
exit $rc
