#!/usr/bin/env bash
# The benchmarks: installs what is missing, starts the local services it
# needs, builds in release mode and runs `sluice bench` (1,000,000 records,
# three interleaved rounds of each phase and its ceiling, in one run).
#   bench.sh [ARGS]     the classify topology against a bare consume → produce
#                       loop (ARGS go to `sluice bench`, e.g. --topology FILE)
#   bench.sh es [ARGS]  the Elasticsearch sink fed from the broker against a
#                       bare bulk indexer on the same Elasticsearch
#   bench.sh aggregate [ARGS]
#                       the windowed rollup example (RocksDB and changelog)
#                       against a bare consumer
#   bench.sh restore [ARGS]
#                       a full restore of the rollup example's state from its
#                       changelog against a bare consumer of that changelog
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

services=(kafka)
extra=()
if [[ "${1:-}" == es ]]; then shift; services+=(es); extra=(--elasticsearch "$SLUICE_ES_URL"); fi
if [[ "${1:-}" == aggregate ]]; then shift; extra=(--aggregate); fi
if [[ "${1:-}" == restore ]]; then shift; extra=(--restore); fi

bash scripts/install.sh
owned=$(bash scripts/services.sh status "${services[@]}" | grep -c stopped || true)
if ((owned)); then trap "bash scripts/services.sh stop ${services[*]}" EXIT; fi
bash scripts/services.sh start "${services[@]}"
# An idle Elasticsearch left running takes CPU from every phase (the runs
# marked ES in the README's classify tables).
if [[ " ${services[*]} " != *" es "* ]] && bash scripts/services.sh status es | grep -q running; then
  log "note: Elasticsearch is running and shares the cores with these phases; 'bash scripts/services.sh stop es' for figures comparable to the README's"
fi

log "building (release)"
build_quietly "${RELEASE[@]}" --product sluice
# Where the CPU goes: the broker's (and Elasticsearch's JVM's) seconds in each phase.
extra+=(--watch "broker=$(cat "$RUN_DIR/tansu.pid")")
if [[ " ${services[*]} " == *" es "* ]]; then extra+=(--watch "elasticsearch=$(pgrep -P "$(cat "$RUN_DIR/es.pid")" java)"); fi
"$(swift build "${RELEASE[@]}" --show-bin-path)/sluice" bench --bootstrap "$SLUICE_KAFKA_BOOTSTRAP" "${extra[@]}" "$@"
