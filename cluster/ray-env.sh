# Ray/Serve environment of `make up`'s Ray (sourced after env.sh by ray.sh and bench.sh). The test session sets the
# same security settings in tests/conftest.py (RAY_ENV), with its own ports.
export RAY_SERVE_THROUGHPUT_OPTIMIZED="${RAY_SERVE_THROUGHPUT_OPTIMIZED:-1}"
export RAY_SERVE_ENABLE_HA_PROXY="${RAY_SERVE_ENABLE_HA_PROXY:-1}"
export RAY_USAGE_STATS_ENABLED=0
export RAY_BACKEND_LOG_LEVEL="${RAY_BACKEND_LOG_LEVEL:-warning}"
export RAY_ROTATION_MAX_BYTES="${RAY_ROTATION_MAX_BYTES:-10485760}"
export RAY_ROTATION_BACKUP_COUNT="${RAY_ROTATION_BACKUP_COUNT:-2}"
export STRIDE_RAY_NUM_CPUS="${STRIDE_RAY_NUM_CPUS:-2}"
export RAY_GCS_PORT="${RAY_GCS_PORT:-56380}"
export RAY_TMP="${RAY_TMP:-/tmp/stride-ray}"

# --- Security (docs/security.md) ---------------------------------------------------------------------------------
# Token authentication, always: every process that starts or joins this Ray (ray start, serve_app.deploy, the
# benchmarks) reads the one token generated into the state folder (cluster/secrets.sh). RAY_AUTH_TOKEN would take
# precedence over the file, so it is cleared: the file is the single source.
export RAY_AUTH_MODE=token
export RAY_AUTH_TOKEN_PATH="${RAY_AUTH_TOKEN_PATH:-$STATE_DIR/secrets/ray-token}"
unset RAY_AUTH_TOKEN
ensure_secret ray-token
# One machine: Ray replaces a loopback --node-ip-address by the machine's external address unless this is 0 (Ray's
# own switch for single-machine clusters); with the node on 127.0.0.1 every Ray listener (GCS, raylet, workers,
# dashboard agent incl. the job API, runtime-env agent, Ray Client server, metrics) binds 127.0.0.1, and no other
# machine can join. A real cluster runs the KubeRay manifest instead (cluster/kuberay/).
export RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0
export STRIDE_RAY_NODE_IP=127.0.0.1
# ...except Serve's replicas, whose inter-deployment gRPC server binds every interface with no setting: every
# driver's ray.init adds a worker setup hook that binds it to the node's address (config/ray_hooks.py).
export RAY_RUNTIME_ENV_HOOK=config.ray_hooks.runtime_env_hook
# Fixed, project-specific ports (the defaults would collide with a test session's Ray on the same machine).
export STRIDE_RAY_NODE_MANAGER_PORT="${STRIDE_RAY_NODE_MANAGER_PORT:-56381}"
export STRIDE_RAY_OBJECT_MANAGER_PORT="${STRIDE_RAY_OBJECT_MANAGER_PORT:-56382}"
export STRIDE_RAY_CLIENT_SERVER_PORT="${STRIDE_RAY_CLIENT_SERVER_PORT:-56383}"
export STRIDE_RAY_DASHBOARD_AGENT_LISTEN_PORT="${STRIDE_RAY_DASHBOARD_AGENT_LISTEN_PORT:-56384}"
export STRIDE_RAY_DASHBOARD_AGENT_GRPC_PORT="${STRIDE_RAY_DASHBOARD_AGENT_GRPC_PORT:-56385}"
export STRIDE_RAY_METRICS_EXPORT_PORT="${STRIDE_RAY_METRICS_EXPORT_PORT:-56386}"
export STRIDE_RAY_RUNTIME_ENV_AGENT_PORT="${STRIDE_RAY_RUNTIME_ENV_AGENT_PORT:-56387}"
export STRIDE_RAY_MIN_WORKER_PORT="${STRIDE_RAY_MIN_WORKER_PORT:-56600}"
export STRIDE_RAY_MAX_WORKER_PORT="${STRIDE_RAY_MAX_WORKER_PORT:-56799}"
# uvicorn (in Serve's proxy and replicas) would otherwise replace the client address by an X-Forwarded-For entry for
# connections from loopback; the app does that itself, trusting only the entry HAProxy appends.
export FORWARDED_ALLOW_IPS=""

# --- HAProxy ingress ------------------------------------------------------------------------------------------------
# Serve runs this binary on every HAProxy start and reload: it hardens Serve's generated config (stats and metrics
# listeners on loopback, admin socket mode 600, `timeout http-request`, `option forwardfor`) and execs the real one.
export STRIDE_HAPROXY_BIN="${STRIDE_HAPROXY_BIN:-/usr/sbin/haproxy}"
export RAY_SERVE_HAPROXY_BINARY_PATH="$STRIDE_ROOT/cluster/haproxy-hardened"
export STRIDE_HAPROXY_ADMIN_BIND="${STRIDE_HAPROXY_ADMIN_BIND:-127.0.0.1}"
export STRIDE_HAPROXY_TIMEOUT_HTTP_REQUEST_S="${STRIDE_HAPROXY_TIMEOUT_HTTP_REQUEST_S:-10}"
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
