#!/usr/bin/env bash
# The classify benchmark: installs what is missing, starts the local broker,
# builds in release mode and runs `sluice bench` (1,000,000 records, three
# interleaved rounds of the bare consume → produce ceiling and the classify
# topology at at_least_once and exactly_once). Extra arguments go to `sluice bench`.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

bash scripts/install.sh
owned=$(bash scripts/services.sh status kafka | grep -c stopped || true)
if ((owned)); then trap 'bash scripts/services.sh stop kafka' EXIT; fi
bash scripts/services.sh start kafka

log "building (release)"
build_quietly -c release --product sluice
"$(swift build -c release --show-bin-path)/sluice" bench --bootstrap "$SLUICE_KAFKA_BOOTSTRAP" "$@"
