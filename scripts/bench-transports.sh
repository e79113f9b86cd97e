#!/usr/bin/env bash
# scripts/bench-transports.sh - what each of lesson 6's transports costs per
# delivered event: short polling (at each interval), long polling, SSE and
# WebSocket, each with CLIENTS real clients against the lesson's server on
# loopback and a feed of RATE events a second for DURATION seconds.
#
# usage: scripts/bench-transports.sh
#
# Settings, from the environment [default]:
#   CLIENTS [50]  RATE [20]  DURATION [10] (s)  INTERVALS [100,500,1000] (ms)
#
# Output: target/bench/bench-transports.{json,md,svg}; the table and the
# chart are copied to book/src/generated/, which the chapter includes.
# Exit: 0 on a clean run; 1 when a client lost, repeated or reordered an
# event (the benchmark checks every delivery), or anything else failed.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
out="${CARGO_TARGET_DIR:-$ROOT/target}/bench"
mkdir -p "$out" book/src/generated
cargo run --release -q -p transports --bin transports-bench -- \
  --clients "${CLIENTS:-50}" --rate "${RATE:-20}" --seconds "${DURATION:-10}" \
  --intervals "${INTERVALS:-100,500,1000}" --out "$out"
cp -- "$out/bench-transports.md" "$out/bench-transports.svg" book/src/generated/
echo "book/src/generated/bench-transports.md"
echo "book/src/generated/bench-transports.svg"
