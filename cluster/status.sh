#!/usr/bin/env bash
# `make status`: one line per service; exit 1 if any is down.
set -uo pipefail
source "$(dirname "$0")/env.sh"
rc=0
for s in postgres redis cassandra ray; do "$(dirname "$0")/$s.sh" status || rc=1; done
if curl -fsS -m 5 "http://127.0.0.1:$STRIDE_HTTP_PORT/ready" -o /tmp/.stride-ready 2>/dev/null; then
  echo "api: ready $(cat /tmp/.stride-ready)"
else
  echo "api: not ready $(cat /tmp/.stride-ready 2>/dev/null)"; rc=1
fi
exit $rc
