#!/usr/bin/env bash
# The demo: installs what is missing, starts the local broker and
# Elasticsearch, builds Sluice, generates a mixed topic of nginx-like JSON
# records (some malformed), classifies it with two stream threads and prints
# how many records went where. Stops the services it started unless
# SLUICE_KEEP_SERVICES=1. Extra arguments go to `sluice demo`.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

bash scripts/install.sh
stopped=$(bash scripts/services.sh status | grep -c stopped || true)
if ((stopped)) && [[ "${SLUICE_KEEP_SERVICES:-0}" != 1 ]]; then trap 'bash scripts/services.sh stop' EXIT; fi
bash scripts/services.sh start

log "building (release)"
build_quietly -c release --product sluice
"$(swift build -c release --show-bin-path)/sluice" demo --bootstrap "$SLUICE_KAFKA_BOOTSTRAP" --records 200000 "$@"
