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
# The rollup crash suite needs Elasticsearch up for all of its run: it
# runs after the suite that restarts it.
rollup_suite=RollupCrashIntegrationTests
TEST_RUN_LIMIT=${SLUICE_TEST_RUN_LIMIT:-15m}
# Each run has a limit (they take 2 and 5 minutes here): a test that hangs
# fails the run with everything it printed instead of outlasting CI's limit.
run_tests() {
  local status=0
  # Line-buffered, so that a run cut short still shows its last lines.
  SLUICE_INTEGRATION=1 timeout --kill-after=30s "$TEST_RUN_LIMIT" stdbuf -oL -eL swift test --skip-build "$@" 2>&1 \
    | tee -a "$RUN_DIR/test.log" || status=$?
  if ((status == 124 || status == 137)); then
    report_hang
    log "FAIL: swift test $* ran past its $TEST_RUN_LIMIT limit"
  fi
  return "$status"
}
# What a run that hit its limit left behind: the topology processes still
# running (then ended here: they outlive swift test, which started them in
# a process group of their own) and, last, the tests that never finished.
report_hang() {
  local pid
  for pid in $(pgrep -f "^$SLUICE_BIN_DIR/"); do
    log "still running: $(tr '\0' ' ' <"/proc/$pid/cmdline" | cut -c1-300)"
    tail -n 8 "$(readlink "/proc/$pid/fd/1")" 2>/dev/null | cut -c1-300 || true
  done
  pkill -KILL -f "^$SLUICE_BIN_DIR/" || true
  awk '/^◇ Test [^ ]+ started\./ { open[$3] = 1 }
       /^✔ Test [^ ]+ / || /^✘ Test [^ ]+ .*failed after/ { delete open[$3] }
       END { for (t in open) print "[sluice] never finished: " t }' "$RUN_DIR/test.log" >&2
}
: >"$RUN_DIR/test.log"
if (($#)); then
  run_tests "$@"
else
  run_tests --skip "$es_suite" --skip "$rollup_suite"
  run_tests --filter "$es_suite"
  run_tests --filter "$rollup_suite"
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
