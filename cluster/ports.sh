#!/usr/bin/env bash
# Keep the stack's fixed listening ports out of the kernel's ephemeral range (net.ipv4.ip_local_reserved_ports).
#
# Every fixed port of the stack (Postgres 55432, Redis 56379, Cassandra, Ray, HAProxy; the test stack's HAProxy
# ports) lies inside Linux's default ephemeral range, 32768-60999. The kernel may give any outgoing connection one of
# them as its local port, and a long-lived one then holds it: a WorkoutShard's Redis connection leaving from
# 127.0.0.1:57404 made the test stack's HAProxy fail to start ("cannot bind socket (Address already in use) for
# [127.0.0.1:57404]"), and a service restarted while such a connection exists cannot listen again. Reserving the
# ports stops the kernel from handing them out; explicit binds to them still work. Needs root (else a warning).
# Idempotent; existing reservations are kept. Runs from cluster/up.sh before anything starts; `--print` lists them.
set -euo pipefail
here="$(dirname "$0")"
source "$here/env.sh"
source "$here/ray-env.sh"

ports=(
  "$STRIDE_PG_PORT" "$STRIDE_REDIS_PORT" "$STRIDE_CASSANDRA_PORT" "${CASSANDRA_STORAGE_PORT:-57000}"
  "${CASSANDRA_JMX_PORT:-57199}" "$STRIDE_HTTP_PORT"
  "$RAY_GCS_PORT" "$STRIDE_RAY_NODE_MANAGER_PORT" "$STRIDE_RAY_OBJECT_MANAGER_PORT" "$STRIDE_RAY_CLIENT_SERVER_PORT"
  "$STRIDE_RAY_DASHBOARD_AGENT_LISTEN_PORT" "$STRIDE_RAY_DASHBOARD_AGENT_GRPC_PORT" "$STRIDE_RAY_METRICS_EXPORT_PORT"
  "$STRIDE_RAY_RUNTIME_ENV_AGENT_PORT" "$STRIDE_RAY_MIN_WORKER_PORT-$STRIDE_RAY_MAX_WORKER_PORT"
  "$RAY_SERVE_HAPROXY_STATS_PORT" "$RAY_SERVE_HAPROXY_METRICS_PORT"
  "$RAY_SERVE_FALLBACK_PROXY_HTTP_PORT" "$RAY_SERVE_FALLBACK_PROXY_GRPC_PORT"
  # the test stack's (tests/conftest.py; STRIDE_TEST_* override them there)
  "${STRIDE_TEST_HAPROXY_STATS_PORT:-57404}" "${STRIDE_TEST_HAPROXY_METRICS_PORT:-57101}"
  "${STRIDE_TEST_PROXY_PORT:-57500}" "${STRIDE_TEST_PROXY_GRPC_PORT:-57501}" "${STRIDE_TEST_HTTP_PORT:-8100}"
)
want="$(IFS=,; echo "${ports[*]}")"
[ "${1:-}" = --print ] && { echo "$want"; exit 0; }
file=/proc/sys/net/ipv4/ip_local_reserved_ports
[ -w "$file" ] || { log "warning: cannot reserve the stack's ports ($file not writable: not root?); a" \
  "long-lived outgoing connection may take one of them as its local port"; exit 0; }
current="$(cat "$file")"
reserved() {  # is every port of $1 (a port or lo-hi) inside the kernel's current list (ports and lo-hi ranges)?
  local lo="${1%-*}" hi="${1#*-}" item a b
  IFS=, read -ra items <<<"$current"
  for item in "${items[@]}"; do
    a="${item%-*}"; b="${item#*-}"
    [ -n "$a" ] && [ "$a" -le "$lo" ] && [ "$hi" -le "$b" ] && return 0
  done
  return 1
}
missing=""
for p in "${ports[@]}"; do reserved "$p" || missing=1; done
[ -z "$missing" ] && exit 0
echo "${current:+$current,}$want" >"$file" || { log "warning: could not write $file"; exit 0; }
log "reserved the stack's ports from the ephemeral range: $(cat "$file")"
