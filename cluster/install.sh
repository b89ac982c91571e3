#!/usr/bin/env bash
# Install what is missing: Debian packages (PostgreSQL, Redis, HAProxy), the Python venv, Cassandra's jars.
set -euo pipefail
source "$(dirname "$0")/env.sh"

"$(dirname "$0")/apt.sh" postgresql redis-server haproxy

stamp="$VENV/.stride-deps"
want="$(sha256sum "$STRIDE_ROOT/pyproject.toml" | cut -c1-16)"
if [ ! -x "$PY" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  py="${STRIDE_PYTHON:-$(command -v python3.11 || command -v python3)}"
  "$py" -c 'import sys; assert sys.version_info[:2] == (3, 11), sys.version' \
    || die "Stride needs Python 3.11 (set STRIDE_PYTHON)"
  log "creating $VENV and installing Python dependencies"
  [ -x "$PY" ] || "$py" -m venv "$VENV"
  "$PY" -m pip install -q --disable-pip-version-check -U pip >/dev/null
  "$PY" -m pip install -q --disable-pip-version-check -e "$STRIDE_ROOT[test]" >"$LOG_DIR/pip.log" 2>&1 \
    || { tail -30 "$LOG_DIR/pip.log"; die "pip install failed"; }
  echo "$want" >"$stamp"
fi

"$(dirname "$0")/cassandra.sh" install
