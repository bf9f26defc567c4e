#!/usr/bin/env bash
# Starts, stops and reports the local services Sluice's demo, tests and
# benchmarks use: the Tansu Kafka-compatible broker and Elasticsearch, both on
# loopback. `start` is a no-op for a service already running; `stop` leaves no
# process behind (and no Elasticsearch data unless SLUICE_ES_KEEP_DATA is set).
# SLUICE_ES_SETTINGS holds extra elasticsearch.yml lines for one start (a
# tiny write queue, say, to force rejections).
# Usage: services.sh start|stop|status [kafka|es]...
set -euo pipefail
source "$(dirname "$0")/lib.sh"

pid_alive() { [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

start_kafka() {
  local pidf="$RUN_DIR/tansu.pid"
  if pid_alive "$pidf"; then log "kafka already running at 127.0.0.1:$KAFKA_PORT"; return; fi
  port_open "$KAFKA_PORT" && { log "port $KAFKA_PORT is taken by another process"; return 1; }
  setsid "$TANSU_BIN" broker \
    --listener-url "tcp://127.0.0.1:$KAFKA_PORT" \
    --advertised-listener-url "tcp://127.0.0.1:$KAFKA_PORT" \
    >"$RUN_DIR/tansu.log" 2>&1 < /dev/null &
  echo $! >"$pidf"
  wait_until 30 "kafka (see $RUN_DIR/tansu.log)" port_open "$KAFKA_PORT"
  log "kafka ready at 127.0.0.1:$KAFKA_PORT"
}

es_ready() { curl -fsS "http://127.0.0.1:$ES_PORT/_cluster/health?wait_for_status=yellow&timeout=1s" >/dev/null 2>&1; }

start_es() {
  local pidf="$RUN_DIR/es.pid" home conf data
  if pid_alive "$pidf"; then log "elasticsearch already running at http://127.0.0.1:$ES_PORT"; return; fi
  port_open "$ES_PORT" && { log "port $ES_PORT is taken by another process"; return 1; }
  home=$(es_home); conf="$RUN_DIR/es-config"; data="$RUN_DIR/es-data"
  id -u "$ES_USER" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$ES_USER"
  mkdir -p "$conf" "$data" "$home/plugins"
  cp -n "$home"/config/{jvm.options,log4j2.properties} "$conf/"
  cat >"$conf/elasticsearch.yml" <<YML
cluster.name: sluice-local
discovery.type: single-node
network.host: 127.0.0.1
http.port: $ES_PORT
transport.port: $ES_TRANSPORT_PORT
path.data: $data
path.logs: $RUN_DIR/es-logs
action.auto_create_index: true
${SLUICE_ES_SETTINGS:-}
YML
  mkdir -p "$RUN_DIR/es-logs"
  chown -R "$ES_USER" "$conf" "$data" "$RUN_DIR/es-logs"
  chmod o+rx "$ROOT" "$DEPS" "$RUN_DIR" 2>/dev/null || true
  # ES refuses to run as root; it runs as its own system user.
  setsid runuser -u "$ES_USER" -- env ES_PATH_CONF="$conf" JAVA_HOME="$home/jre-15" \
    ES_JAVA_OPTS="${SLUICE_ES_JAVA_OPTS:--Xms512m -Xmx512m}" "$home/bin/elasticsearch" \
    >"$RUN_DIR/es.out" 2>&1 < /dev/null &
  echo $! >"$pidf"
  wait_until 120 "elasticsearch (see $RUN_DIR/es.out)" es_ready
  log "elasticsearch ready at http://127.0.0.1:$ES_PORT"
}

stop_one() { # pidfile name
  local pidf=$1 name=$2 pid
  if ! pid_alive "$pidf"; then rm -f "$pidf"; return; fi
  pid=$(cat "$pidf")
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  kill -KILL -- "-$pid" 2>/dev/null || true
  rm -f "$pidf"
  log "$name stopped"
}

status_one() { if pid_alive "$1"; then echo "$2: running ($3)"; else echo "$2: stopped"; fi; }

cmd=${1:-status}; shift || true
services=("$@"); ((${#services[@]})) || services=(kafka es)
mkdir -p "$RUN_DIR"
for s in "${services[@]}"; do
  case "$cmd:$s" in
    start:kafka) start_kafka ;;
    start:es) start_es ;;
    stop:kafka) stop_one "$RUN_DIR/tansu.pid" kafka ;;
    stop:es) stop_one "$RUN_DIR/es.pid" elasticsearch; [[ -n "${SLUICE_ES_KEEP_DATA:-}" ]] || rm -rf "$RUN_DIR/es-data" ;;
    status:kafka) status_one "$RUN_DIR/tansu.pid" kafka "127.0.0.1:$KAFKA_PORT" ;;
    status:es) status_one "$RUN_DIR/es.pid" elasticsearch "http://127.0.0.1:$ES_PORT" ;;
    *) echo "usage: $0 start|stop|status [kafka|es]..." >&2; exit 2 ;;
  esac
done
