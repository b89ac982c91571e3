#!/usr/bin/env bash
# `make bench`: bring the stack up (idempotent), run every benchmark; JSON results in loadtest/results/.
set -euo pipefail
here="$(dirname "$0")"
source "$here/env.sh"
source "$here/ray-env.sh"   # the same Ray token and settings as the stack's Ray
"$here/up.sh"
"$here/apt.sh" wrk   # the C load generator for cheap endpoints
cd "$STRIDE_ROOT"
url="http://127.0.0.1:$STRIDE_HTTP_PORT"
for b in ${BENCHES:-bench_login bench_activities bench_reads bench_live bench_locust bench_cassandra bench_parsers}; do
  [ -f "loadtest/$b.py" ] || continue
  log "benchmark $b"
  "$PY" -m "loadtest.$b" --url "$url" "$@"
done
