#!/usr/bin/env bash
# Runs every test: installs what is missing, starts the local broker and
# Elasticsearch on loopback, builds, runs the unit and integration tests
# against them, and stops the services it started.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

bash scripts/install.sh
started=$(bash scripts/services.sh status | grep -c stopped || true)
if ((started)); then trap 'bash scripts/services.sh stop' EXIT; fi
bash scripts/services.sh start

log "building"
build_quietly --build-tests
log "testing"
SLUICE_INTEGRATION=1 swift test --skip-build "$@"
