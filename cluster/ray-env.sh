# Ray/Serve environment shared by `make up` and the test session (sourced; also parsed by tests/conftest.py).
export RAY_SERVE_THROUGHPUT_OPTIMIZED="${RAY_SERVE_THROUGHPUT_OPTIMIZED:-1}"
export RAY_SERVE_ENABLE_HA_PROXY="${RAY_SERVE_ENABLE_HA_PROXY:-1}"
export RAY_SERVE_HAPROXY_BINARY_PATH="${RAY_SERVE_HAPROXY_BINARY_PATH:-/usr/sbin/haproxy}"
export RAY_USAGE_STATS_ENABLED=0
export RAY_BACKEND_LOG_LEVEL="${RAY_BACKEND_LOG_LEVEL:-warning}"
export RAY_ROTATION_MAX_BYTES="${RAY_ROTATION_MAX_BYTES:-10485760}"
export RAY_ROTATION_BACKUP_COUNT="${RAY_ROTATION_BACKUP_COUNT:-2}"
export STRIDE_RAY_NUM_CPUS="${STRIDE_RAY_NUM_CPUS:-2}"
export RAY_GCS_PORT="${RAY_GCS_PORT:-56380}"
export RAY_TMP="${RAY_TMP:-/tmp/stride-ray}"
export RAY_SERVE_HAPROXY_NBTHREAD="${RAY_SERVE_HAPROXY_NBTHREAD:-2}"
# keep HAProxy's stats/metrics listeners off common ports (and apart from the test session's)
export RAY_SERVE_HAPROXY_STATS_PORT="${RAY_SERVE_HAPROXY_STATS_PORT:-56404}"
export RAY_SERVE_HAPROXY_METRICS_PORT="${RAY_SERVE_HAPROXY_METRICS_PORT:-56101}"
# HAProxy's files in a folder of our own, so `down` can find the haproxy processes Serve started (they outlive `ray stop`)
export STRIDE_HAPROXY_DIR="${STRIDE_HAPROXY_DIR:-/tmp/stride-haproxy}"
export RAY_SERVE_HAPROXY_CONFIG_FILE_LOC="$STRIDE_HAPROXY_DIR/haproxy.cfg"
export RAY_SERVE_HAPROXY_SOCKET_PATH="$STRIDE_HAPROXY_DIR/admin.sock"
export RAY_SERVE_HAPROXY_SERVER_STATE_BASE="$STRIDE_HAPROXY_DIR"
export RAY_SERVE_HAPROXY_SERVER_STATE_FILE="$STRIDE_HAPROXY_DIR/server-state"
# Serve's internal proxy ports behind HAProxy (defaults 8500/9500 would clash with a second Ray on the machine)
export RAY_SERVE_FALLBACK_PROXY_HTTP_PORT="${RAY_SERVE_FALLBACK_PROXY_HTTP_PORT:-56500}"
export RAY_SERVE_FALLBACK_PROXY_GRPC_PORT="${RAY_SERVE_FALLBACK_PROXY_GRPC_PORT:-56501}"
# Loopback-only local stack: Ray token auth off, explicitly (otherwise a token left in ~/.ray by any earlier
# `ray.init()` silently switches it on for some processes and not others). Set RAY_AUTH_MODE=token on a cluster.
export RAY_AUTH_MODE="${RAY_AUTH_MODE:-disabled}"
