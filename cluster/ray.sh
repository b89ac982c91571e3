#!/usr/bin/env bash
# Ray head + the Stride Serve app. Serve's RAY_SERVE_* settings are exported before `ray start` because the
# processes Ray starts read them. `ray stop` (used by `down`) ends every Ray process of this machine.
# Security (ray-env.sh, docs/security.md): token authentication with .state/secrets/ray-token, every listener on
# 127.0.0.1, and neither Ray nor the app gets the schema owners' or the Cassandra admin's credentials.
set -euo pipefail
source "$(dirname "$0")/env.sh"
source "$(dirname "$0")/ray-env.sh"
RAY="$VENV/bin/ray"
PIDFILE="$PID_DIR/ray.pid"

ray_up() { (exec 3<>"/dev/tcp/127.0.0.1/$RAY_GCS_PORT") 2>/dev/null; }

# ray_secure: the running head was started with token authentication and this token file (an older `make up`
# started it with RAY_AUTH_MODE=disabled and on every interface).
ray_secure() {
  local gcs env
  gcs="$(pgrep -n -f "gcs_server.*--gcs_server_port=$RAY_GCS_PORT" || true)"
  [ -n "$gcs" ] || return 1
  env="$(tr '\0' '\n' <"/proc/$gcs/environ" 2>/dev/null || true)"
  grep -qx "RAY_AUTH_MODE=token" <<<"$env" && grep -qx "RAY_AUTH_TOKEN_PATH=$RAY_AUTH_TOKEN_PATH" <<<"$env" \
    && grep -qx "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0" <<<"$env"
}

# head_only: start the Ray head only (no app); `start` = head_only + deploy. tests/e2e/test_ray_head.py runs it
# with its own ports and temp dir to check the flags below.
head_only() {
  if ray_up && ! ray_secure; then
    log "the running Ray head has no token authentication or listens beyond loopback: restarting it"
    stop
  fi
  if ! ray_up; then
    log "starting ray head (num_cpus=$STRIDE_RAY_NUM_CPUS, gcs port $RAY_GCS_PORT)"
    mkdir -p "$RAY_TMP"
    "$RAY" start --head --num-cpus "$STRIDE_RAY_NUM_CPUS" --port "$RAY_GCS_PORT" --include-dashboard=false \
      --node-ip-address "$STRIDE_RAY_NODE_IP" --dashboard-host 127.0.0.1 \
      --node-manager-port "$STRIDE_RAY_NODE_MANAGER_PORT" --object-manager-port "$STRIDE_RAY_OBJECT_MANAGER_PORT" \
      --ray-client-server-port "$STRIDE_RAY_CLIENT_SERVER_PORT" \
      --dashboard-agent-listen-port "$STRIDE_RAY_DASHBOARD_AGENT_LISTEN_PORT" \
      --dashboard-agent-grpc-port "$STRIDE_RAY_DASHBOARD_AGENT_GRPC_PORT" \
      --metrics-export-port "$STRIDE_RAY_METRICS_EXPORT_PORT" --runtime-env-agent-port "$STRIDE_RAY_RUNTIME_ENV_AGENT_PORT" \
      --min-worker-port "$STRIDE_RAY_MIN_WORKER_PORT" --max-worker-port "$STRIDE_RAY_MAX_WORKER_PORT" \
      --temp-dir "$RAY_TMP" --disable-usage-stats >"$LOG_DIR/ray-start.log" 2>&1 \
      || { tail -30 "$LOG_DIR/ray-start.log"; die "ray start failed"; }
    # the GCS server is the head's root process; record it so status/down know what we started
    local gcs; gcs="$(ls "$RAY_TMP"/session_latest/logs/gcs_server.out >/dev/null 2>&1 && pgrep -n -f "gcs_server.*--gcs_server_port=$RAY_GCS_PORT" || true)"
    [ -n "$gcs" ] && echo "$gcs" >"$PIDFILE"
  else
    log "ray head already running"
  fi
}

start() {
  command -v haproxy >/dev/null || "$(dirname "$0")/apt.sh" haproxy
  head_only
  log "deploying the Serve app on 127.0.0.1:$STRIDE_HTTP_PORT"
  RAY_ADDRESS="127.0.0.1:$RAY_GCS_PORT" "$PY" -m serve_app.deploy >"$LOG_DIR/serve-deploy.log" 2>&1 \
    || { tail -40 "$LOG_DIR/serve-deploy.log"; die "Serve app deployment failed"; }
  tail -1 "$LOG_DIR/serve-deploy.log"
}

stop() {
  if ray_up || pid_alive "$PIDFILE"; then
    log "stopping ray (ray stop: every Ray process of this machine)"
    "$RAY" stop --force >/dev/null 2>&1 || true
  fi
  rm -f "$PIDFILE"
  # Serve's haproxy processes are re-parented to init and survive `ray stop`: end the ones using our folder.
  local pid
  for pid in $(pgrep -f "^$STRIDE_HAPROXY_BIN .*$STRIDE_HAPROXY_DIR/" || true); do
    log "stopping Serve's haproxy (pid $pid)"; kill -TERM "$pid" 2>/dev/null || true
  done
}

status() {
  if ray_up; then echo "ray: running (gcs 127.0.0.1:$RAY_GCS_PORT)"; return 0; fi
  echo "ray: stopped"; return 1
}

"${1:-status}"
