#!/usr/bin/env bash
# The demo: installs what is missing, starts the local broker and
# Elasticsearch, builds Sluice, and runs `sluice demo`: mixed nginx and
# application logs, nginx JSON access records and StatsD lines (a few of
# each malformed) through the three example topologies (classify, index
# into Elasticsearch, roll up), each a `sluice run` process with its
# /metrics; then prints where every record went, checked against the
# topics and Elasticsearch. Stops the services it started unless
# SLUICE_KEEP_SERVICES=1. Extra arguments go to `sluice demo`
# (`--hold 300` keeps the pipeline up for five minutes to look around).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

bash scripts/install.sh
stopped=$(bash scripts/services.sh status | grep -c stopped || true)
if ((stopped)) && [[ "${SLUICE_KEEP_SERVICES:-0}" != 1 ]]; then trap 'bash scripts/services.sh stop' EXIT; fi
bash scripts/services.sh start

log "building (release)"
build_quietly "${RELEASE[@]}" --product sluice
"$(swift build "${RELEASE[@]}" --show-bin-path)/sluice" demo --bootstrap "$SLUICE_KAFKA_BOOTSTRAP" --es-url "$SLUICE_ES_URL" "$@"
