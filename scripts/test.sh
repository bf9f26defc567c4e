#!/usr/bin/env bash
# Runs every test: installs what is missing, starts the local broker and
# Elasticsearch on loopback, builds, runs the unit and integration tests
# against them, checks the services script itself, and stops the services
# it started. Extra arguments go to `swift test` (e.g. --filter Crash).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

bash scripts/install.sh
owned=$(bash scripts/services.sh status | grep -c stopped || true)
if ((owned)); then trap 'bash scripts/services.sh stop' EXIT; fi
bash scripts/services.sh start

log "building"
build_quietly --build-tests
export SLUICE_BIN_DIR="$(swift build --show-bin-path)"
log "testing"
# The Elasticsearch suite restarts Elasticsearch and loads both services for
# minutes; run beside the crash tests it slowed a group rebalance past any
# sane wait, so it runs on its own, after the rest.
es_suite=ElasticsearchSinkIntegrationTests
TEST_RUN_LIMIT=${SLUICE_TEST_RUN_LIMIT:-15m}
# Each run has a limit (they take 2 and 5 minutes here): a test that hangs
# fails the run with everything it printed instead of outlasting CI's limit.
run_tests() {
  local status=0
  SLUICE_INTEGRATION=1 timeout --kill-after=30s "$TEST_RUN_LIMIT" swift test --skip-build "$@" 2>&1 \
    | tee -a "$RUN_DIR/test.log" || status=$?
  if ((status == 124 || status == 137)); then
    log "FAIL: swift test $* ran past its $TEST_RUN_LIMIT limit"
    # swift test runs the tests in a process group of their own: end them,
    # and the topology processes they started, here.
    pkill -KILL -f "^$SLUICE_BIN_DIR/" || true
  fi
  return "$status"
}
: >"$RUN_DIR/test.log"
if (($#)); then
  run_tests "$@"
else
  run_tests --skip "$es_suite"
  run_tests --filter "$es_suite"
fi
count=$(grep -oE "Test run with [0-9]+ tests?" "$RUN_DIR/test.log" | grep -oE "[0-9]+" | awk '{ n += $1 } END { print n + 0 }')

# The services script's promises: a second start changes nothing, stop leaves no process.
if ((owned)); then
  log "checking scripts/services.sh"
  pids="$(cat "$RUN_DIR"/*.pid)"
  bash scripts/services.sh start 2>&1 | grep -c "already running" | grep -qx 2 || { log "FAIL: a second start did not see both services running"; exit 1; }
  [[ "$(cat "$RUN_DIR"/*.pid)" == "$pids" ]] || { log "FAIL: a second start replaced a service"; exit 1; }
  trap - EXIT
  bash scripts/services.sh stop
  for pid in $pids; do
    if kill -0 "$pid" 2>/dev/null || pgrep -s "$pid" >/dev/null; then log "FAIL: process $pid outlived stop"; exit 1; fi
  done
  for port in "$KAFKA_PORT" "$ES_PORT"; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then log "FAIL: port $port still open after stop"; exit 1; fi
  done
  log "services script: second start is a no-op, stop leaves no process: ok"
  count=$((count + 1))
fi
# swift test prints XCTest's empty summary before Swift Testing's; this line is the run's.
echo "tests: $count passed, 0 failed"
