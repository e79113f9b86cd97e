#!/usr/bin/env bash
# scripts/bench-transports.sh - what each of lesson 6's transports costs per
# delivered event: short polling (at each interval), long polling, SSE and
# WebSocket, each with CLIENTS real clients against the lesson's server on
# loopback and a feed of RATE events a second for DURATION seconds, once
# with minimal request headers (`Host` only: the floor) and once with the
# headers Chromium sends (what a page pays). Produces the tables and the
# chart of the book's transports chapter.
#
# usage: scripts/bench-transports.sh            # the full run the book shows
#        QUICK=1 scripts/bench-transports.sh    # CI: every figure, in about a minute
#
# Settings, from the environment [full run; QUICK=1]:
#   CLIENTS [50; 20]   RATE [20]   DURATION [10; 3] (s)   ROUNDS [3; 1]
#   INTERVALS [100,500,1000] (ms)   HEADERS [both] (minimal, browser or both)
#   BENCH_STRICT [0]   1: exit 1 when one of issue 6's targets is missed
# A setting given explicitly wins over QUICK's.
#
# Method (../shared/notes/performance.md): the benchmark starts a fresh
# server process for every run, pinned to CPU 0, and runs its clients in its
# own process, pinned to CPU 1; it reads the server's CPU time and peak
# memory from /proc, so the server's figures are its own. The runs are
# interleaved over ROUNDS rounds (the order shifts each round) and the
# tables show medians.
#
# Output, under the workspace's target/bench/ (or $CARGO_TARGET_DIR/bench/):
#   bench-transports.json         settings, machine, every run, medians, targets
#   bench-transports.md           the main table and the targets
#   bench-transports-compare.md   the source articles' comparison table, rebuilt
#   bench-transports-heads.md     each transport's first request and our answer
#   bench-transports.svg          the chart
# A full run copies the .md and .svg files to book/src/generated/, which the
# chapter includes; QUICK=1 leaves the book alone (the committed tables are a
# full run's) and only prints the figures.
#
# Exit: 0 on a clean run (targets are reported; enforced only with
# BENCH_STRICT=1); 1 when a client lost, repeated or reordered an event (the
# benchmark checks every delivery), a strict target was missed, or anything
# else failed.
set -euo pipefail

loud() { printf '\n!!!!!!!!\n!!! %s\n!!!!!!!!\n\n' "$*" >&2; }

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

if [ "${QUICK:-0}" = 1 ]; then
  CLIENTS=${CLIENTS:-20} DURATION=${DURATION:-3} ROUNDS=${ROUNDS:-1}
else
  CLIENTS=${CLIENTS:-50} DURATION=${DURATION:-10} ROUNDS=${ROUNDS:-3}
fi
RATE=${RATE:-20}
INTERVALS=${INTERVALS:-100,500,1000}
HEADERS=${HEADERS:-both}

# Pinning: the server on CPU 0, the clients on CPU 1; without two CPUs or
# taskset, say so (the tables say so too).
PIN_CLIENTS=() PIN_SERVER=()
if ! command -v taskset >/dev/null; then
  loud "taskset not found: server and clients are NOT pinned; figures are noisier"
elif [ "$(nproc)" -lt 2 ]; then
  loud "only $(nproc) CPU: server and clients share it"
else
  PIN_CLIENTS=(taskset -c 1) PIN_SERVER=(--server-cpu 0)
fi

cargo build --release --quiet -p benchmarks --bin transports-bench
TARGET=${CARGO_TARGET_DIR:-$(cargo metadata --format-version 1 --no-deps \
  | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')}
case $TARGET in /*) ;; *) TARGET=$ROOT/$TARGET ;; esac
out=$TARGET/bench
mkdir -p "$out"

COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
git diff --quiet HEAD 2>/dev/null || COMMIT="$COMMIT+changes"
STAMP="$(date -u +%Y-%m-%dT%H:%M:%SZ), commit $COMMIT"
STRICT=()
[ "${BENCH_STRICT:-0}" = 1 ] && STRICT=(--strict)

"${PIN_CLIENTS[@]}" "$TARGET/release/transports-bench" "${PIN_SERVER[@]}" \
  --clients "$CLIENTS" --rate "$RATE" --seconds "$DURATION" --rounds "$ROUNDS" \
  --intervals "$INTERVALS" --headers "$HEADERS" --stamp "$STAMP" --out "$out" "${STRICT[@]}"

files=(bench-transports.md bench-transports-compare.md bench-transports-heads.md bench-transports.svg)
if [ "${QUICK:-0}" = 1 ]; then
  echo "bench-transports.sh: quick run; the figures are in $out/ (book/src/generated/ left alone)" >&2
else
  mkdir -p book/src/generated
  for f in "${files[@]}"; do
    cp -- "$out/$f" book/src/generated/
    echo "book/src/generated/$f"
  done
fi
