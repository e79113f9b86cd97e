#!/usr/bin/env bash
# scripts/bench-wiretap.sh - what lesson 7's wiretap adds to a round trip:
# lesson 3's echo measured directly and through the tap, one connection,
# small messages, closed loop. Produces the table of the wiretap chapter.
#
# usage: scripts/bench-wiretap.sh
#
# Settings, from the environment [default]:
#   ROUNDS [3]          interleaved rounds; each measures every path once
#   SIZE [20]           text bytes per message
#   DURATION [5s]       WARMUP [1s]
#   PORT_BASE [22000]   first port tried (below 32768, Linux's ephemeral range)
#
# The paths, each measured with a fresh echo server (and tap), in an order
# that rotates each round:
#   direct     loadgen -> echo
#   tap-text   loadgen -> wiretap -> echo, annotated text to /dev/null
#   tap-json   loadgen -> wiretap --json -> echo, to /dev/null
# The tap prints every frame in both cases: we measure it doing its job, with
# only the terminal taken out (a terminal's speed is not the tap's).
#
# Method (../shared/notes/performance.md): one core for the servers (echo
# and tap, CPU 0), one for loadgen (CPU 1); loadgen is a closed loop, so the
# servers never compete for their core. Medians over the rounds.
#
# Output, under the workspace's target/bench/:
#   wiretap.json   settings, every run, medians
#   wiretap.md     the table for the book (book/src/generated/bench-wiretap.md
#                  is a copy of it)
#   logs/wiretap-* what the servers printed (the tap's text capture is not kept)
#
# Exit: 0 when every run was clean, 1 when a run had errors, 2 when the
# benchmark cannot be set up.
set -euo pipefail
# die, step; bench_init, pin_cpus, rotated, machine_facts: see there. (Its
# one-server helpers are not for us: we run a server and a tap at once.)
. "$(dirname "$0")/lib/bench.sh"
bench_init
command -v ss >/dev/null || die "ss (iproute2) is needed to find free ports"

ROUNDS=${ROUNDS:-3}
SIZE=${SIZE:-20}
DURATION=${DURATION:-5s}
WARMUP=${WARMUP:-1s}
PORT=${PORT_BASE:-22000}

OUT=$ROOT/target/bench
LOGS=$OUT/logs
RUNS=$OUT/wiretap-runs.jsonl
mkdir -p "$LOGS"
rm -f "$LOGS"/wiretap-*
: > "$RUNS"

# Pinning (see the method above); without two CPUs or taskset, say so.
pin_cpus || echo "bench-wiretap.sh: cannot pin to two CPUs: figures are noisier" >&2

step "building loadgen, lesson 3 and lesson 7 (release)"
cargo build --release --quiet -p loadgen -p echo -p wiretap
TARGET=$(cargo_target_dir)
LOADGEN=$TARGET/release/loadgen
ECHO=$TARGET/release/echo
WIRETAP=$TARGET/release/wiretap

# Sets FREE to the next port nothing on this machine uses in any state
# (listening, connected, TIME_WAIT: `ss -a`), and moves PORT past it. Not in
# a subshell: PORT must advance.
next_port() {
  while [ -n "$(ss -Htan "sport = :$PORT" 2>/dev/null)" ]; do PORT=$((PORT + 1)); done
  [ "$PORT" -lt 32768 ] || die "no free port below 32768 from PORT_BASE"
  FREE=$PORT
  PORT=$((PORT + 1))
}

PIDS=()
cleanup() { local pid; for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT

# Starts "$@" pinned to the servers' CPU, with stdout to $1's file; waits
# until port $2 listens. Sets STARTED to its pid.
start() {
  local out=$1 port=$2 i
  shift 2
  RUST_LOG=warn "${SERVER_CPU[@]}" "$@" > "$out" 2>> "$LOGS/wiretap-servers.log" &
  STARTED=$!
  PIDS+=("$STARTED")
  for i in $(seq 1 100); do
    [ -n "$(ss -Htln "sport = :$port" 2>/dev/null)" ] && return 0
    kill -0 "$STARTED" 2>/dev/null || break
    sleep 0.05
  done
  die "$* did not listen on $port (see $LOGS/wiretap-servers.log)"
}

stop_all() {
  local pid
  for pid in "${PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  PIDS=()
}

FAILED=0
# Measures path $1 in round $2: starts echo (and the tap), runs loadgen,
# stops them, appends the report to $RUNS.
measure() {
  local path=$1 round=$2 echo_port tap_port url json rc=0 pid
  next_port
  echo_port=$FREE
  start "$LOGS/wiretap-echo.log" "$echo_port" "$ECHO" "127.0.0.1:$echo_port"
  pid=$STARTED
  url="ws://127.0.0.1:$echo_port/ws"
  case $path in
    direct) ;;
    tap-text | tap-json)
      next_port
      tap_port=$FREE
      local flags=()
      [ "$path" = tap-json ] && flags=(--json)
      start /dev/null "$tap_port" "$WIRETAP" --upstream "127.0.0.1:$echo_port" \
        --listen "127.0.0.1:$tap_port" "${flags[@]}"
      pid=$STARTED
      url="ws://127.0.0.1:$tap_port/ws"
      ;;
  esac
  json=$("${LOAD_CPU[@]}" "$LOADGEN" --url "$url" --connections 1 --size "$SIZE" \
    --duration "$DURATION" --warmup "$WARMUP" --server-pid "$pid" --json) || rc=$?
  stop_all
  [ -n "$json" ] || json=null
  [ "$rc" -eq 0 ] || FAILED=1
  printf '{"path":"%s","round":%d,"exit":%d,"report":%s}\n' "$path" "$round" "$rc" "$json" >> "$RUNS"
  python3 - "$json" "$path" "$round" <<'PY' >&2
import json, sys
r, path, rnd = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3]
if r is None:
    print(f"  {path:<9} round {rnd}: loadgen failed (see above)")
else:
    print(f"  {path:<9} round {rnd}: p50 {r['p50_us']} µs  p99 {r['p99_us']} µs  "
          f"{r['msgs_per_s']:,.0f} round trips/s  errors {r['errors']}")
PY
}

PATHS=(direct tap-text tap-json)
step "1 connection x $SIZE B, $DURATION after $WARMUP warm-up, $ROUNDS rounds (pinned: $PINNED)"
for round in $(seq 1 "$ROUNDS"); do
  for path in $(rotated "$round" "${PATHS[@]}"); do
    measure "$path" "$round"
  done
done

step "results"
machine_facts
export ROUNDS SIZE DURATION WARMUP PINNED
python3 - "$RUNS" "$OUT/wiretap.json" "$OUT/wiretap.md" <<'PY'
import json, sys
from summary import comment, conditions, env, facts, generated, median, write_json, write_table

runs_path, json_path, md_path = sys.argv[1:]
runs = [json.loads(line) for line in open(runs_path)]
labels = {
    "direct": "direct: loadgen → echo",
    "tap-text": "through the wiretap (annotated text to /dev/null)",
    "tap-json": "through the wiretap `--json` (to /dev/null)",
}

summary = {}
for path in labels:
    reps = [r["report"] for r in runs if r["path"] == path and r["report"]]
    summary[path] = {
        "rounds": len(reps),
        "p50_us": median(r["p50_us"] for r in reps),
        "p99_us": median(r["p99_us"] for r in reps),
        "msgs_per_s": median(r["msgs_per_s"] for r in reps),
        "errors": sum(r["errors"] for r in reps),
    }

# The added latency per round (the paths of a round ran back to back),
# then the median of those.
def added(path, metric):
    direct = {r["round"]: r["report"][metric] for r in runs
              if r["path"] == "direct" and r["report"]}
    return median(r["report"][metric] - direct[r["round"]] for r in runs
                  if r["path"] == path and r["report"] and r["round"] in direct)

for path in ("tap-text", "tap-json"):
    summary[path]["added_p50_us"] = added(path, "p50_us")
    summary[path]["added_p99_us"] = added(path, "p99_us")

result = {
    **facts(generated()),
    "settings": {"rounds": int(env["ROUNDS"]), "size": int(env["SIZE"]),
                 "duration": env["DURATION"], "warmup": env["WARMUP"]},
    "summary": summary,
    "runs": runs,
}
write_json(json_path, result)

def us(x):
    return "n/a" if x is None else f"{x:,.0f}"

def plus(x):
    return "" if x is None else f"{x:+,.0f}"

md = [comment("bench-wiretap.sh", result["generated"]), ""]
md.append(f"Echo round trips, 1 connection × {env['SIZE']} B text, closed loop, "
          f"{env['DURATION']} measured after {env['WARMUP']} warm-up; median of "
          f"{env['ROUNDS']} interleaved rounds. "
          + conditions("Echo and wiretap on CPU 0, loadgen on CPU 1."))
md.append("")
md.append("| path | round trip p50 (µs) | p99 (µs) | added p50 / p99 (µs) | round trips/s |")
md.append("|---|---:|---:|---:|---:|")
for path, label in labels.items():
    s = summary[path]
    extra = "" if path == "direct" else f"{plus(s['added_p50_us'])} / {plus(s['added_p99_us'])}"
    md.append(f"| {label} | {us(s['p50_us'])} | {us(s['p99_us'])} | {extra} | {us(s['msgs_per_s'])} |")
md.append("")
md.append("\"Added\" is the median over the rounds of (through the tap − direct), "
          "each round's paths measured back to back.")
write_table(md_path, md)
PY
echo >&2
echo "bench-wiretap.sh: wrote $OUT/wiretap.json and $OUT/wiretap.md" >&2
if [ "$FAILED" -ne 0 ]; then
  echo "bench-wiretap.sh: at least one run reported errors (see above)" >&2
  exit 1
fi
