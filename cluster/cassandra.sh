#!/usr/bin/env bash
# Local single-node Apache Cassandra 5.0 for development and CI, from Maven Central (no tarball).
#
#   cluster/cassandra.sh install   resolve cassandra-all + runtime deps into $STATE_DIR/cassandra/lib (idempotent)
#   cluster/cassandra.sh start     install if needed, start, wait until CQL answers (idempotent)
#   cluster/cassandra.sh stop      stop by pid (TERM, then KILL after 60 s)
#   cluster/cassandra.sh restart   stop + start
#   cluster/cassandra.sh status    "running" (exit 0) / "stopped" (exit 1) / "starting or unresponsive" (exit 2)
#   cluster/cassandra.sh wipe      stop, then delete all data ($STATE_DIR/cassandra/data)
#   cluster/cassandra.sh nodetool ARGS   Cassandra's nodetool against the local node (JMX on 127.0.0.1)
#
# Access: CQL, storage and JMX on 127.0.0.1 only; PasswordAuthenticator + CassandraAuthorizer. After every start
# cluster/cassandra/roles.py sets up the roles (stride_admin superuser, the schema owner, the app's role; the
# built-in cassandra/cassandra superuser gets a random password and no login), with passwords from
# $STATE_DIR/secrets. A node started by an older version of this script (no authentication) is restarted.
#
# Settings (environment):
#   STRIDE_CASSANDRA_PORT              CQL native port (env.sh; default 59042), bound on 127.0.0.1
#   CASSANDRA_STORAGE_PORT             inter-node port (env.sh; default 57000)
#   CASSANDRA_JMX_PORT                 local-only JMX port (default 57199)
#   STRIDE_CASSANDRA_VERSION           cassandra-all version (default 5.0.9)
#   STRIDE_CASSANDRA_HEAP              -Xms/-Xmx (default 1G)
#   STRIDE_CASSANDRA_COMMITLOG_SYNC    group (default) | batch | periodic
#   STRIDE_CASSANDRA_COMMITLOG_GROUP_WINDOW  group window (default 2ms; measured in loadtest/README.md ## Cassandra)
#   STRIDE_CASSANDRA_START_TIMEOUT     seconds to wait for CQL (default 180)
#   STRIDE_CASSANDRA_JAVA              java binary to use (default: a Java 17 from JAVA_HOME, PATH or /usr/lib/jvm)
#   STRIDE_CASSANDRA_JVM_OPTS          extra JVM options (space separated)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=env.sh
source "$HERE/env.sh"

CASSANDRA_VERSION="${STRIDE_CASSANDRA_VERSION:-5.0.9}"
CASSANDRA_JMX_PORT="${CASSANDRA_JMX_PORT:-57199}"
HEAP="${STRIDE_CASSANDRA_HEAP:-1G}"
COMMITLOG_SYNC="${STRIDE_CASSANDRA_COMMITLOG_SYNC:-group}"
GROUP_WINDOW="${STRIDE_CASSANDRA_COMMITLOG_GROUP_WINDOW:-2ms}"
START_TIMEOUT="${STRIDE_CASSANDRA_START_TIMEOUT:-180}"
NATIVE_PORT="$STRIDE_CASSANDRA_PORT"
STORAGE_PORT="$CASSANDRA_STORAGE_PORT"
HOST=127.0.0.1

SRC_DIR="$HERE/cassandra"                 # committed: pom.xml, cassandra.yaml.tmpl, logback.xml
C_HOME="$STATE_DIR/cassandra"             # generated: lib/, conf/, data/
LIB_DIR="$C_HOME/lib"
CONF_DIR="$C_HOME/conf"
DATA_DIR="$C_HOME/data"
PID_FILE="$PID_DIR/cassandra.pid"
LOG_FILE="$LOG_DIR/cassandra.log"         # logback (cluster/cassandra/logback.xml), size-rotated
OUT_FILE="$LOG_DIR/cassandra.out"         # JVM stdout/stderr of the last launch
INSTALL_LOG="$LOG_DIR/cassandra-install.log"
OFFSET_FILE="$C_HOME/.log-offset"         # size of cassandra.log when the running process was launched

mkdir -p "$C_HOME"

# ---------------------------------------------------------------------------------------------- helpers

# Take an exclusive lock on fd 9 (closed again in the Cassandra child, see launch).
lock() {
  exec 9>"$C_HOME/.lock"
  flock -w 900 9 || die "Cassandra: could not take $C_HOME/.lock within 900 s (another cassandra.sh running?)"
}

# cass_alive: the pid file names a live process that is our Cassandra (guards against pid reuse).
cass_alive() {
  pid_alive "$PID_FILE" || return 1
  grep -qa 'org.apache.cassandra.service.CassandraDaemon' "/proc/$(cat "$PID_FILE")/cmdline" 2>/dev/null
}

port_open() { timeout 3 bash -c "exec 3<>/dev/tcp/$HOST/$1" 2>/dev/null; }

driver_available() { [ -x "$PY" ] && "$PY" -c 'import cassandra.cluster' >/dev/null 2>&1; }

# cql_query: CQL answers (prints "auth": it asks for a login, or "open": it lets anyone in; exit 0), else exit 1.
cql_query() {
  CQL_HOST="$HOST" CQL_PORT="$NATIVE_PORT" timeout 30 "$PY" "$SRC_DIR/roles.py" probe
}

# setup_roles: the role set-up of roles.py, with the passwords from the secrets folder (never on a command line).
setup_roles() {
  local out
  out="$(CQL_HOST="$HOST" CQL_PORT="$NATIVE_PORT" CASS_ADMIN_PASSWORD="$(secret cassandra-admin-password)" \
         CASS_OWNER_PASSWORD="$(secret cassandra-owner-password)" CASS_APP_PASSWORD="$STRIDE_CASSANDRA_PASSWORD" \
         timeout 180 "$PY" "$SRC_DIR/roles.py" setup 2>&1)" || { echo "$out" >&2; die "Cassandra role set-up failed"; }
  log "Cassandra $out"
}

# log_ready OFFSET: cassandra.log, from byte OFFSET on, says the CQL server is up.
log_ready() {
  local offset="${1:-0}" size
  [ -f "$LOG_FILE" ] || return 1
  size="$(stat -c %s "$LOG_FILE")"
  [ "$size" -ge "$offset" ] || offset=0   # rotated since launch
  # no grep -q: with pipefail an early grep exit could fail the pipeline through tail's SIGPIPE
  tail -c "+$((offset + 1))" "$LOG_FILE" | grep -e 'Starting listening for CQL clients' -e 'Startup complete' >/dev/null
}

# cql_ready [OFFSET]: the real check (driver query) when the venv has cassandra-driver, else port + log.
cql_ready() {
  port_open "$NATIVE_PORT" || return 1
  if driver_available; then
    cql_query >/dev/null 2>&1
  else
    log_ready "${1:-$(cat "$OFFSET_FILE" 2>/dev/null || echo 0)}"
  fi
}

show_logs() {
  local offset="${1:-0}" size
  if [ -f "$LOG_FILE" ]; then
    size="$(stat -c %s "$LOG_FILE")"; [ "$size" -ge "$offset" ] || offset=0
    echo "----- last lines of $LOG_FILE (this launch) -----" >&2
    tail -c "+$((offset + 1))" "$LOG_FILE" | tail -n 40 | cut -c1-400 >&2
  fi
  if [ -s "$OUT_FILE" ]; then
    echo "----- last lines of $OUT_FILE -----" >&2
    tail -n 20 "$OUT_FILE" | cut -c1-400 >&2
  fi
  echo "-----" >&2
}

java_major() {
  "$1" -version 2>&1 | awk -F'"' '/version/ {print $2; exit}' | awk -F. '{print ($1 == "1") ? $2 : $1}'
}

# find_java: a Java 17 binary (Cassandra 5.0 supports 11 and 17; these flags are the Java 17 ones).
find_java() {
  local c
  for c in "${STRIDE_CASSANDRA_JAVA:-}" "${JAVA_HOME:+$JAVA_HOME/bin/java}" "$(command -v java || true)" \
           /usr/lib/jvm/java-17-openjdk-amd64/bin/java /usr/lib/jvm/*17*/bin/java; do
    [ -n "$c" ] && [ -x "$c" ] || continue
    if [ "$(java_major "$c")" = 17 ]; then echo "$c"; return 0; fi
  done
  die "Cassandra $CASSANDRA_VERSION needs Java 17: none found (set STRIDE_CASSANDRA_JAVA, or apt-get install openjdk-17-jdk-headless)"
}

# ---------------------------------------------------------------------------------------------- install

install_marker() {
  echo "cassandra-all $CASSANDRA_VERSION pom $(sha256sum "$SRC_DIR/pom.xml" | cut -d' ' -f1)"
}

is_installed() {
  [ -f "$LIB_DIR/.installed" ] && [ "$(cat "$LIB_DIR/.installed")" = "$(install_marker)" ] \
    && [ -f "$LIB_DIR/cassandra-all-$CASSANDRA_VERSION.jar" ]
}

do_install() {
  if is_installed; then log "Cassandra $CASSANDRA_VERSION already installed in $LIB_DIR"; return 0; fi
  command -v mvn >/dev/null || die "Cassandra install needs Maven (mvn): apt-get install -y maven"
  local tmp="$C_HOME/lib.tmp" attempt ok=0 t0=$SECONDS
  log "installing Cassandra $CASSANDRA_VERSION (org.apache.cassandra:cassandra-all + runtime deps) into $LIB_DIR"
  for attempt in 1 2 3; do
    rm -rf "$tmp"
    if mvn -B -q -f "$SRC_DIR/pom.xml" \
         -Dcassandra.version="$CASSANDRA_VERSION" -Dcassandra.lib.dir="$tmp" \
         -Dmaven.wagon.http.retryHandler.count=3 \
         dependency:copy-dependencies >"$INSTALL_LOG" 2>&1 \
       && [ -f "$tmp/cassandra-all-$CASSANDRA_VERSION.jar" ]; then
      ok=1; break
    fi
    log "Cassandra install: mvn attempt $attempt failed (see $INSTALL_LOG)"
    sleep $((attempt * 5))
  done
  if [ "$ok" != 1 ]; then
    tail -n 30 "$INSTALL_LOG" >&2 || true
    rm -rf "$tmp"
    die "Cassandra install failed: mvn dependency:copy-dependencies on $SRC_DIR/pom.xml (log: $INSTALL_LOG)"
  fi
  rm -rf "$LIB_DIR"
  mv "$tmp" "$LIB_DIR"
  install_marker >"$LIB_DIR/.installed"
  log "Cassandra $CASSANDRA_VERSION installed: $(ls "$LIB_DIR"/*.jar | wc -l) jars in $((SECONDS - t0)) s"
}

# ---------------------------------------------------------------------------------------------- start

# commitlog_sync_setting: the yaml line that goes with commitlog_sync (dies on an unknown mode).
commitlog_sync_setting() {
  case "$COMMITLOG_SYNC" in
    group)    echo "commitlog_sync_group_window: $GROUP_WINDOW" ;;
    batch)    echo "" ;;
    periodic) echo "commitlog_sync_period: 10000ms" ;;
    *) die "STRIDE_CASSANDRA_COMMITLOG_SYNC must be group, batch or periodic (got '$COMMITLOG_SYNC')" ;;
  esac
}

render_config() {
  local sync_setting
  sync_setting="$(commitlog_sync_setting)"
  mkdir -p "$CONF_DIR/triggers" "$DATA_DIR"/{data,commitlog,saved_caches,hints,cdc_raw}
  sed -e "s|@DATA_DIR@|$DATA_DIR|g" \
      -e "s|@NATIVE_PORT@|$NATIVE_PORT|g" \
      -e "s|@STORAGE_PORT@|$STORAGE_PORT|g" \
      -e "s|@COMMITLOG_SYNC@|$COMMITLOG_SYNC|g" \
      -e "s|@COMMITLOG_SYNC_SETTING@|$sync_setting|g" \
      "$SRC_DIR/cassandra.yaml.tmpl" >"$CONF_DIR/cassandra.yaml.new"
  mv "$CONF_DIR/cassandra.yaml.new" "$CONF_DIR/cassandra.yaml"
}

# Java 17 module flags from Cassandra 5.0's conf/jvm17-server.options (server and tools need them).
JPMS_OPTS=(
  -Djdk.attach.allowAttachSelf=true
  --add-exports java.base/jdk.internal.misc=ALL-UNNAMED
  --add-exports java.management.rmi/com.sun.jmx.remote.internal.rmi=ALL-UNNAMED
  --add-exports java.rmi/sun.rmi.registry=ALL-UNNAMED
  --add-exports java.rmi/sun.rmi.server=ALL-UNNAMED
  --add-exports java.sql/java.sql=ALL-UNNAMED
  --add-exports java.base/java.lang.ref=ALL-UNNAMED
  --add-exports jdk.unsupported/sun.misc=ALL-UNNAMED
  --add-exports jdk.compiler/com.sun.tools.javac.file=ALL-UNNAMED
  --add-exports jdk.attach/sun.tools.attach=ALL-UNNAMED
  --add-opens java.base/java.lang.module=ALL-UNNAMED
  --add-opens java.base/jdk.internal.loader=ALL-UNNAMED
  --add-opens java.base/jdk.internal.ref=ALL-UNNAMED
  --add-opens java.base/jdk.internal.reflect=ALL-UNNAMED
  --add-opens java.base/jdk.internal.math=ALL-UNNAMED
  --add-opens java.base/jdk.internal.module=ALL-UNNAMED
  --add-opens java.base/jdk.internal.util.jar=ALL-UNNAMED
  --add-opens jdk.management/com.sun.management.internal=ALL-UNNAMED
  --add-opens java.base/sun.nio.ch=ALL-UNNAMED
  --add-opens java.base/java.io=ALL-UNNAMED
  --add-opens java.base/java.lang.reflect=ALL-UNNAMED
  --add-opens jdk.compiler/com.sun.tools.javac=ALL-UNNAMED
  --add-opens java.base/java.lang=ALL-UNNAMED
  --add-opens java.base/java.util=ALL-UNNAMED
)

jvm_options() {
  local jamm
  jamm="$(ls "$LIB_DIR"/jamm-*.jar 2>/dev/null | head -n 1 || true)"
  JVM_OPTS=(
    -Xms"$HEAP" -Xmx"$HEAP"
    # from Cassandra's conf/jvm-server.options (minus AlwaysPreTouch, which slows start-up)
    -ea -da:net.openhft... -XX:+UseThreadPriorities -Xss256k -XX:+UseTLAB -XX:+ResizeTLAB
    -XX:+PerfDisableSharedMem -Djava.net.preferIPv4Stack=true
    -XX:ErrorFile="$LOG_DIR/cassandra-hs_err_pid%p.log" -XX:+ExitOnOutOfMemoryError
    # from conf/jvm17-server.options: G1
    -XX:+UseG1GC -XX:+ParallelRefProcEnabled -XX:MaxTenuringThreshold=1 -XX:G1RSetUpdatingPauseTimePercent=5
    -XX:MaxGCPauseMillis=300 -XX:InitiatingHeapOccupancyPercent=70
    "${JPMS_OPTS[@]}"
    # from conf/jvm17-server.options: Netty
    -Dio.netty.tryReflectionSetAccessible=true
    -Dio.netty.allocator.useCacheForAllThreads=true
    -Dio.netty.allocator.maxOrder=11
    # configuration, paths, logging
    -Dcassandra.config="file://$CONF_DIR/cassandra.yaml"
    -Dcassandra-foreground=yes
    -Dcassandra.storagedir="$DATA_DIR"
    -Dcassandra.logdir="$LOG_DIR"
    -Dcassandra.triggers_dir="$CONF_DIR/triggers"
    -Dlogback.configurationFile="file://$SRC_DIR/logback.xml"
    # JMX only on loopback, on a non-default port (nodetool -p $CASSANDRA_JMX_PORT)
    -Dcassandra.jmx.local.port="$CASSANDRA_JMX_PORT"
    -Djava.rmi.server.hostname=127.0.0.1
    # fast single-node start (what Cassandra's own test harnesses use)
    -Dcassandra.skip_wait_for_gossip_to_settle=0
    -Dcassandra.ring_delay_ms=1000
    -Dcassandra.superuser_setup_delay_ms=0
  )
  # the distribution's cassandra-env.sh loads jamm as an agent (object-size measurement)
  if [ -n "$jamm" ]; then JVM_OPTS+=(-javaagent:"$jamm"); fi
  if [ -n "${STRIDE_CASSANDRA_JVM_OPTS:-}" ]; then
    # shellcheck disable=SC2206
    JVM_OPTS+=($STRIDE_CASSANDRA_JVM_OPTS)
  fi
}

# wait_ready PID OFFSET T0: poll until CQL answers; on death or timeout print logs and fail.
wait_ready() {
  local pid="$1" offset="$2" t0="$3" deadline=$((SECONDS + START_TIMEOUT)) use_driver=0 how version=""
  if driver_available; then use_driver=1; how="Python driver query"; else how="TCP port + log (no cassandra-driver in $VENV)"; fi
  log "waiting for Cassandra CQL on $HOST:$NATIVE_PORT (check: $how, timeout ${START_TIMEOUT}s)"
  while :; do
    if ! kill -0 "$pid" 2>/dev/null; then
      show_logs "$offset"
      rm -f "$PID_FILE"
      die "Cassandra (pid $pid) exited during start-up; logs: $LOG_FILE, $OUT_FILE"
    fi
    if port_open "$NATIVE_PORT"; then
      if [ "$use_driver" = 1 ]; then
        if version="$(cql_query 2>/dev/null)"; then break; fi
      elif log_ready "$offset"; then
        break
      fi
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      show_logs "$offset"
      log "Cassandra did not answer CQL within ${START_TIMEOUT}s; stopping it"
      stop_pid "Cassandra" "$PID_FILE" 60
      die "Cassandra start timed out after ${START_TIMEOUT}s (STRIDE_CASSANDRA_START_TIMEOUT); logs: $LOG_FILE, $OUT_FILE"
    fi
    sleep 0.5
  done
  log "Cassandra $CASSANDRA_VERSION ready on $HOST:$NATIVE_PORT in $(elapsed "$t0") s (pid $pid; CQL ${version:-answering}; checked by $how)"
}

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

do_start() {
  local t0 pid java offset i p
  t0="$(now)"
  commitlog_sync_setting >/dev/null   # validate settings before anything else
  lock
  if cass_alive; then
    pid="$(cat "$PID_FILE")"
    if ! cql_ready; then
      log "Cassandra already running (pid $pid) but not answering CQL yet; waiting"
      wait_ready "$pid" "$(cat "$OFFSET_FILE" 2>/dev/null || echo 0)" "$t0"
    fi
    if [ "$(cql_query 2>/dev/null)" = auth ]; then
      log "Cassandra already running (pid $pid) and answering CQL on $HOST:$NATIVE_PORT"
      setup_roles
      return 0
    fi
    log "Cassandra (pid $pid) accepts CQL without a login (started by an older cluster/cassandra.sh): restarting it"
    stop_pid "Cassandra" "$PID_FILE" 60
  fi
  rm -f "$PID_FILE"
  for p in "$NATIVE_PORT" "$STORAGE_PORT" "$CASSANDRA_JMX_PORT"; do
    if port_open "$p"; then
      die "Cassandra: port $HOST:$p is already in use by another process (not the Cassandra in $PID_FILE)"
    fi
  done

  do_install
  java="$(find_java)"
  render_config
  jvm_options

  offset="$(stat -c %s "$LOG_FILE" 2>/dev/null || echo 0)"
  echo "$offset" >"$OFFSET_FILE"
  {
    echo "=== $(date -Is) launching Cassandra $CASSANDRA_VERSION with $java (commitlog_sync=$COMMITLOG_SYNC, heap $HEAP)"
  } >"$OUT_FILE"
  log "starting Cassandra $CASSANDRA_VERSION (CQL $HOST:$NATIVE_PORT, storage $STORAGE_PORT, JMX $CASSANDRA_JMX_PORT, commitlog_sync=$COMMITLOG_SYNC, heap $HEAP)"
  # setsid: own session, so the caller's terminal/process group signals don't reach it.
  # The wrapper writes its own pid, then execs java (same pid), whether or not setsid forked.
  (
    cd "$C_HOME"
    exec nohup setsid bash -c 'echo $$ >"$0"; exec "$@"' "$PID_FILE" \
      "$java" "${JVM_OPTS[@]}" -cp "$CONF_DIR:$LIB_DIR/*" org.apache.cassandra.service.CassandraDaemon \
      </dev/null >>"$OUT_FILE" 2>&1 9>&-
  ) &
  for ((i = 0; i < 100; i++)); do [ -s "$PID_FILE" ] && break; sleep 0.1; done
  [ -s "$PID_FILE" ] || { show_logs "$offset"; die "Cassandra: launcher did not write $PID_FILE"; }
  pid="$(cat "$PID_FILE")"
  wait_ready "$pid" "$offset" "$t0"
  setup_roles
}

# ---------------------------------------------------------------------------------------------- nodetool

# do_nodetool ARGS...: Cassandra's nodetool against the local node's JMX port (e.g. `nodetool status`).
do_nodetool() {
  local java
  is_installed || die "Cassandra is not installed (run: $0 install)"
  java="$(find_java)"
  exec "$java" -Xmx256m "${JPMS_OPTS[@]}" -Dio.netty.tryReflectionSetAccessible=true \
    -Dcassandra.storagedir="$DATA_DIR" -Dcassandra.logdir="$LOG_DIR" \
    -Dlogback.configurationFile="file://$SRC_DIR/logback-tools.xml" \
    -cp "$LIB_DIR/*" org.apache.cassandra.tools.NodeTool -h 127.0.0.1 -p "$CASSANDRA_JMX_PORT" "$@"
}

# ---------------------------------------------------------------------------------------------- stop / status / wipe

do_stop() {
  lock
  if cass_alive; then
    stop_pid "Cassandra" "$PID_FILE" 60
    log "Cassandra stopped"
  else
    [ -f "$PID_FILE" ] && log "Cassandra: removing stale pid file $PID_FILE"
    rm -f "$PID_FILE"
    log "Cassandra not running"
  fi
}

do_status() {
  local pid
  if ! cass_alive; then echo "cassandra: stopped"; return 1; fi
  pid="$(cat "$PID_FILE")"
  if cql_ready; then
    echo "cassandra: running (pid $pid, CQL on $HOST:$NATIVE_PORT)"
    return 0
  fi
  echo "cassandra: starting or unresponsive (pid $pid alive, CQL on $HOST:$NATIVE_PORT not answering)"
  return 2
}

do_wipe() {
  do_stop
  log "Cassandra: deleting $DATA_DIR"
  rm -rf "$DATA_DIR" "$OFFSET_FILE"
}

case "${1:-}" in
  install) lock; do_install ;;
  start) do_start ;;
  stop) do_stop ;;
  restart) do_stop; exec 9>&-; do_start ;;
  status) do_status ;;
  wipe) do_wipe ;;
  nodetool) shift; do_nodetool "$@" ;;
  *) echo "usage: $0 {install|start|stop|restart|status|wipe|nodetool ARGS...}" >&2; exit 64 ;;
esac
