#!/usr/bin/env bash
# scripts/bench-echo.sh - lesson 3's echo server against tokio-tungstenite's
# own echo example: throughput and latency under load, then memory per idle
# connection. Produces the figures of the book's performance appendix.
#
# usage: scripts/bench-echo.sh
#
# Settings, from the environment [default]:
#   ROUNDS [3]          interleaved rounds; each runs every server once
#   CONNECTIONS [100]   SIZE [20]   DURATION [5s]   WARMUP [1s]
#   IDLE [10000]        idle connections held per server (0 skips the idle part)
#   HOLD [2s]           how long they are held before the server is weighed
#   PORT_BASE [21000]   first port tried; below 32768, the start of Linux's
#                       ephemeral range, so a server never collides with a
#                       client socket (or its TIME_WAIT) from an earlier run
#   BENCH_REF_DIR       where the reference is copied and built
#                       [${TMPDIR:-/tmp}/ws-from-scratch-bench-ref]
#   BENCH_STRICT [0]    1: exit 1 when a target is missed
#
# The servers, each started fresh for every run on a port of its own:
#   ours              target/release/echo (lesson 3, on lessons 1-2)
#   reference         tokio-tungstenite 0.29's examples/echo-server.rs, built
#                     from the crate's package copied out of ~/.cargo/registry
#                     (outside this repository: we never copy its code in)
#   ours-tungstenite  target/release/echo-tungstenite, lesson 3's 20-line twin
# `ours` is optional while crates/echo cannot be built, with a loud note.
#
# Method (../shared/notes/performance.md): these are 2-core shared machines
# whose speed drifts 2-4x with the neighbours' load, so the servers run in
# one interleaved batch (the order rotates each round), the server pinned to
# CPU 0 and loadgen to CPU 1, and we report medians and the median of the
# per-round ratios ours/reference, with each server's CPU share (its
# utime+stime over the measured window, read by loadgen from /proc).
#
# Targets (issue 3): ours >= 0.95x the reference's msgs/s; <= 16 KiB RSS per
# idle connection at 10,000.
#
# Output, under the workspace's target/bench/:
#   echo.json     settings, machine, every run, medians, ratios, targets
#   echo.md       the tables for the book (included by the appendix)
#   runs.jsonl    one loadgen report per line, as measured
#   logs/         what each server printed
#
# Exit: 0 when every run was clean (targets are reported; enforced only with
# BENCH_STRICT=1), 1 when a run had errors or a strict target was missed,
# 2 when the benchmark cannot be set up.
set -euo pipefail

die() { echo "bench-echo.sh: $*" >&2; exit 2; }
step() { printf '\n==> %s\n' "$*" >&2; }
# Loud: a note that changes what the figures mean.
loud() { printf '\n!!!!!!!!\n!!! %s\n!!!!!!!!\n\n' "$*" >&2; }

ROOT=$(git -C "$(dirname "$0")" rev-parse --show-toplevel 2>/dev/null) \
  || ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
command -v python3 >/dev/null || die "python3 is needed to read loadgen's JSON"

ROUNDS=${ROUNDS:-3}
CONNECTIONS=${CONNECTIONS:-100}
SIZE=${SIZE:-20}
DURATION=${DURATION:-5s}
WARMUP=${WARMUP:-1s}
IDLE=${IDLE:-10000}
HOLD=${HOLD:-2s}
PORT=${PORT_BASE:-21000}
STRICT=${BENCH_STRICT:-0}
REF_DIR=${BENCH_REF_DIR:-${TMPDIR:-/tmp}/ws-from-scratch-bench-ref}
REF_VERSION=0.29.0

OUT=$ROOT/target/bench
LOGS=$OUT/logs
RUNS=$OUT/runs.jsonl
rm -rf "$LOGS"  # this run's logs only
mkdir -p "$LOGS"
: > "$RUNS"

# ------------------------------------------------------------ pinning, limits
SERVER_CPU=(taskset -c 0)
LOAD_CPU=(taskset -c 1)
PINNED=yes
if ! command -v taskset >/dev/null; then
  loud "taskset not found: server and loadgen are NOT pinned; figures are noisier"
  SERVER_CPU=() LOAD_CPU=() PINNED=no
elif [ "$(nproc)" -lt 2 ]; then
  loud "only $(nproc) CPU: server and loadgen share it; figures are NOT comparable to 2-core runs"
  SERVER_CPU=() LOAD_CPU=() PINNED=no
fi

# Every connection is a file descriptor, in loadgen and in the server (which
# inherits this shell's limit). `ulimit -n` is per process, so one raise here
# covers both.
if [ "$IDLE" -gt 0 ]; then
  need=$((IDLE + 1024))
  soft=$(ulimit -Sn) hard=$(ulimit -Hn)
  if [ "$soft" != unlimited ] && [ "$soft" -lt "$need" ]; then
    if [ "$hard" = unlimited ] || [ "$hard" -ge "$need" ]; then
      ulimit -Sn "$need"
    else
      loud "the open-file hard limit is $hard, below the $need that $IDLE idle connections need: skipping the idle part (raise it as root, or set IDLE lower)"
      IDLE=0
    fi
  fi
fi

# ------------------------------------------------------------------ building
step "building loadgen and lesson 3 (release)"
cargo build --release --quiet -p loadgen
HAVE_OURS=yes
if ! cargo build --release --quiet -p echo --bins; then
  HAVE_OURS=no
fi
TARGET=$(cargo metadata --format-version 1 --no-deps \
  | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
LOADGEN=$TARGET/release/loadgen

declare -A BIN LABEL
LABEL[ours]="ours (\`echo\`, lessons 1-2)"
LABEL[reference]="tokio-tungstenite $REF_VERSION \`examples/echo-server.rs\`"
LABEL[ours-tungstenite]="ours on tokio-tungstenite (\`echo-tungstenite\`)"
SERVERS=()
if [ "$HAVE_OURS" = yes ] && [ -x "$TARGET/release/echo" ]; then
  BIN[ours]=$TARGET/release/echo
  SERVERS+=(ours)
else
  loud "lesson 3's echo server does not build yet: running WITHOUT ours; no ratio, and the targets are NOT checked"
fi

step "building the reference: tokio-tungstenite $REF_VERSION's examples/echo-server.rs"
CARGO_HOME=${CARGO_HOME:-$HOME/.cargo}
find_ref() {
  for dir in "$CARGO_HOME"/registry/src/*/tokio-tungstenite-$REF_VERSION; do
    if [ -f "$dir/examples/echo-server.rs" ]; then echo "$dir"; return 0; fi
  done
  return 0  # found nothing: an empty answer, not a failure that set -e would end us on
}
REF_SRC=$(find_ref)
if [ -z "$REF_SRC" ]; then
  cargo fetch --quiet  # the workspace depends on it, so this unpacks it
  REF_SRC=$(find_ref)
fi
[ -n "$REF_SRC" ] || die "tokio-tungstenite-$REF_VERSION is not in $CARGO_HOME/registry/src"
# Built from a copy outside the repository, as its own package (with its own
# Cargo.lock and target directory), exactly as its authors ship it.
mkdir -p "$REF_DIR"
REF_PKG=$REF_DIR/tokio-tungstenite-$REF_VERSION
[ -f "$REF_PKG/Cargo.toml" ] || cp -R "$REF_SRC" "$REF_PKG"
(cd "$REF_PKG" && CARGO_TARGET_DIR=$REF_DIR/target cargo build --release --quiet --example echo-server) \
  || die "building the reference failed (see above)"
BIN[reference]=$REF_DIR/target/release/examples/echo-server
SERVERS+=(reference)

# Only from this build: an old binary left in target/ would be stale.
if [ "$HAVE_OURS" = yes ] && [ -x "$TARGET/release/echo-tungstenite" ]; then
  BIN[ours-tungstenite]=$TARGET/release/echo-tungstenite
  SERVERS+=(ours-tungstenite)
fi

# ------------------------------------------------------------------- servers
# Whether anything on this machine uses local port $1, in any state
# (listening, connected, TIME_WAIT). Read from /proc rather than probed with
# a connection, which the servers would log as a failed handshake.
port_in_use() {
  local hex
  hex=$(printf '%04X' "$1")
  awk -v p=":$hex" 'FNR > 1 && substr($2, length($2) - 4) == p { found = 1 } END { exit !found }' \
    /proc/net/tcp /proc/net/tcp6 2>/dev/null
}
# Whether something listens on local port $1 (state 0A).
listening() {
  local hex
  hex=$(printf '%04X' "$1")
  awk -v p=":$hex" 'FNR > 1 && $4 == "0A" && substr($2, length($2) - 4) == p { found = 1 } END { exit !found }' \
    /proc/net/tcp /proc/net/tcp6 2>/dev/null
}
time_wait_count() { awk 'FNR > 1 && $4 == "06"' /proc/net/tcp /proc/net/tcp6 2>/dev/null | wc -l; }

SERVER_PID=""
SERVER_PORT=""
cleanup() { [ -z "$SERVER_PID" ] || kill "$SERVER_PID" 2>/dev/null || true; }
trap cleanup EXIT

# Starts server $1 pinned, on the next free port below 32768; sets
# SERVER_PID and SERVER_PORT. A port can be taken between our check and the
# server's bind: then the server exits and we try the next one.
start_server() {
  local name=$1 attempt log
  for attempt in 1 2 3 4 5 6 7 8 9 10; do
    while port_in_use "$PORT"; do PORT=$((PORT + 1)); done
    [ "$PORT" -lt 32768 ] || die "no free port below 32768 from PORT_BASE"
    SERVER_PORT=$PORT
    PORT=$((PORT + 1))
    log=$LOGS/$name-$SERVER_PORT.log
    # RUST_LOG=warn for every server: logging each connection would bill
    # the server for our 10,000 connects.
    RUST_LOG=warn "${SERVER_CPU[@]}" "${BIN[$name]}" "127.0.0.1:$SERVER_PORT" > "$log" 2>&1 &
    SERVER_PID=$!  # taskset execs the server: same pid
    local waited
    for waited in $(seq 1 100); do
      listening "$SERVER_PORT" && return 0
      kill -0 "$SERVER_PID" 2>/dev/null || break
      sleep 0.05
    done
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
    echo "bench-echo.sh: $name did not listen on $SERVER_PORT (attempt $attempt); log:" >&2
    tail -n 5 "$log" >&2 || true
  done
  die "could not start $name"
}

stop_server() {
  [ -n "$SERVER_PID" ] || return 0
  kill "$SERVER_PID" 2>/dev/null || true
  local i
  for i in $(seq 1 50); do
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  kill -9 "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
}

FAILED=0
# Runs loadgen with "$@" against the server that is up, and appends its
# report to runs.jsonl, tagged with phase $1, server $2 and round $3.
measure() {
  local phase=$1 name=$2 round=$3 json rc=0
  shift 3
  json=$("${LOAD_CPU[@]}" "$LOADGEN" --url "ws://127.0.0.1:$SERVER_PORT/ws" \
    --server-pid "$SERVER_PID" --json "$@") || rc=$?
  [ -n "$json" ] || json=null
  [ "$rc" -eq 0 ] || FAILED=1
  printf '{"phase":"%s","server":"%s","round":%d,"exit":%d,"report":%s}\n' \
    "$phase" "$name" "$round" "$rc" "$json" >> "$RUNS"
  # One line per run, as measured.
  python3 - "$json" "$phase" "$name" "$round" <<'PY' >&2
import json, sys
r, phase, name, rnd = json.loads(sys.argv[1]), *sys.argv[2:]
if r is None:
    print(f"  {phase} {name:<17} round {rnd}: loadgen failed before measuring (see above)")
elif phase == "echo":
    cpu = f"{r['server_cpu'] * 100:.0f}%" if r["server_cpu"] is not None else "?"
    gen = f"{r['loadgen_cpu'] * 100:.0f}%" if r["loadgen_cpu"] is not None else "?"
    print(f"  echo {name:<17} round {rnd}: {r['msgs_per_s']:>9,.0f} msgs/s  "
          f"p50 {r['p50_us']} µs  p99 {r['p99_us']} µs  p99.9 {r['p999_us']} µs  "
          f"server CPU {cpu}  loadgen CPU {gen}  errors {r['errors']}")
else:
    per = r["rss_per_conn_bytes"]
    per = f"{per / 1024:.1f} KiB/conn" if per is not None else "RSS unknown"
    print(f"  idle {name:<17}: held {r['held']}/{r['connections']} in {r['open_s']} s  "
          f"RSS {r['rss_before_bytes']} -> {r['rss_after_bytes']} B  {per}  errors {r['errors']}")
if r is not None and r["errors"]:
    print(f"    errors: {json.dumps(r['error_kinds'])}")
for w in (r or {}).get("warnings", []):
    print(f"    warning: {w}")
PY
}

# ---------------------------------------------------------------- the batch
step "echo: ${#SERVERS[@]} servers x $ROUNDS rounds, $CONNECTIONS connections x $SIZE B, $DURATION after $WARMUP warm-up (pinned: $PINNED)"
for round in $(seq 1 "$ROUNDS"); do
  # Rotate the order each round, so no server always runs first (or right
  # after the same neighbour).
  n=${#SERVERS[@]}
  for i in $(seq 0 $((n - 1))); do
    name=${SERVERS[$(((i + round - 1) % n))]}
    start_server "$name"
    measure echo "$name" "$round" --connections "$CONNECTIONS" --size "$SIZE" \
      --duration "$DURATION" --warmup "$WARMUP"
    stop_server
  done
done

if [ "$IDLE" -gt 0 ]; then
  step "idle: $IDLE connections per server, held $HOLD (TIME_WAIT sockets now: $(time_wait_count))"
  for name in "${SERVERS[@]}"; do
    start_server "$name"
    measure idle "$name" 1 --idle "$IDLE" --hold "$HOLD"
    stop_server
  done
fi

# ------------------------------------------------------------------- results
step "results"
COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
git diff --quiet HEAD 2>/dev/null || COMMIT="$COMMIT+changes"
CPU_MODEL=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)
export ROUNDS CONNECTIONS SIZE DURATION WARMUP IDLE HOLD PINNED COMMIT CPU_MODEL STRICT FAILED
export LABEL_OURS=${LABEL[ours]} LABEL_REFERENCE=${LABEL[reference]} LABEL_TWIN=${LABEL[ours-tungstenite]}
NPROC=$(nproc) KERNEL=$(uname -r)
export NPROC KERNEL
SUMMARY_RC=0
python3 - "$RUNS" "$OUT/echo.json" "$OUT/echo.md" <<'PY' || SUMMARY_RC=$?
import datetime, json, os, statistics, sys

runs_path, json_path, md_path = sys.argv[1:]
runs = [json.loads(line) for line in open(runs_path)]
env = os.environ
names = ["ours", "reference", "ours-tungstenite"]
labels = {"ours": env["LABEL_OURS"], "reference": env["LABEL_REFERENCE"],
          "ours-tungstenite": env["LABEL_TWIN"]}

def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None

def per_cpu(report):
    """Messages per second of server CPU time: what a message costs the
    server, which other load on the machine disturbs far less than msgs/s."""
    cpu = report["server_cpu"]
    return report["msgs_per_s"] / cpu if cpu else None

def disturbed(report):
    """Neither side kept its core busy: in a closed loop on an otherwise idle
    machine one of them always does, so the time went to other load."""
    return (report["server_cpu"] is not None and report["loadgen_cpu"] is not None
            and report["server_cpu"] < 0.85 and report["loadgen_cpu"] < 0.85)

echo = {n: [r for r in runs if r["phase"] == "echo" and r["server"] == n and r["report"]]
        for n in names}
idle = {n: next((r["report"] for r in runs if r["phase"] == "idle" and r["server"] == n
                 and r["report"]), None) for n in names}
summary = {}
for n in names:
    if not echo[n] and not idle[n]:
        continue
    reps = [r["report"] for r in echo[n]]
    summary[n] = {
        "label": labels[n],
        "rounds": len(reps),
        "msgs_per_s": median(r["msgs_per_s"] for r in reps),
        "p50_us": median(r["p50_us"] for r in reps),
        "p99_us": median(r["p99_us"] for r in reps),
        "p999_us": median(r["p999_us"] for r in reps),
        "server_cpu": median(r["server_cpu"] for r in reps),
        "msgs_per_server_cpu_s": median(per_cpu(r) for r in reps),
        "loadgen_cpu": median(r["loadgen_cpu"] for r in reps),
        "errors": sum(r["errors"] for r in reps),
        "disturbed_rounds": sum(disturbed(r) for r in reps),
        "idle": idle[n],
    }

# The ratio per round (ours and the reference ran back to back, under the
# same neighbours), then the median of those.
def ratios(a, b, metric=lambda report: report["msgs_per_s"]):
    by_round = {r["round"]: metric(r["report"]) for r in echo[b]}
    return [metric(r["report"]) / by_round[r["round"]] for r in echo[a]
            if by_round.get(r["round"]) and metric(r["report"]) is not None]

ratio = median(ratios("ours", "reference"))
twin_ratio = median(ratios("ours-tungstenite", "reference"))
cost_ratio = median(ratios("ours", "reference", per_cpu))
ours_idle = (idle["ours"] or {}).get("rss_per_conn_bytes")
targets = {
    "throughput": {"want": ">= 0.95 x reference msgs/s", "got": ratio,
                   "met": None if ratio is None else ratio >= 0.95},
    "idle_rss": {"want": "<= 16384 bytes per idle connection at 10,000",
                 "got": ours_idle,
                 "met": None if ours_idle is None or int(env["IDLE"]) < 10000
                 else ours_idle <= 16384},
}
result = {
    "generated": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    "commit": env["COMMIT"],
    "machine": {"cpus": int(env["NPROC"]), "cpu": env["CPU_MODEL"], "kernel": env["KERNEL"],
                "pinned": env["PINNED"] == "yes"},
    "settings": {"rounds": int(env["ROUNDS"]), "connections": int(env["CONNECTIONS"]),
                 "size": int(env["SIZE"]), "duration": env["DURATION"], "warmup": env["WARMUP"],
                 "idle_connections": int(env["IDLE"]), "hold": env["HOLD"]},
    "summary": summary,
    "ratio_ours_to_reference": ratio,
    "ratio_twin_to_reference": twin_ratio,
    "ratio_ours_to_reference_per_server_cpu_s": cost_ratio,
    "targets": targets,
    "runs": runs,
}
with open(json_path, "w") as f:
    json.dump(result, f, indent=2)
    f.write("\n")

def num(x, fmt="{:,.0f}"):
    return "n/a" if x is None else fmt.format(x)

def ms(us):
    return "n/a" if us is None else f"{us / 1000:.2f}"

md = []
md.append(f"<!-- generated by scripts/bench-echo.sh ({result['generated']}, commit "
          f"{env['COMMIT']}); do not edit: run the script again -->")
md.append("")
md.append(f"Echo, {env['CONNECTIONS']} connections × {env['SIZE']} B text, closed loop "
          f"(one message in flight per connection), {env['DURATION']} measured after "
          f"{env['WARMUP']} warm-up; median of {env['ROUNDS']} interleaved rounds. "
          + ("Server pinned to CPU 0, loadgen to CPU 1. " if env["PINNED"] == "yes"
             else "**Not pinned.** ")
          + f"Machine: {env['NPROC']} × {env['CPU_MODEL'] or 'unknown CPU'}, Linux {env['KERNEL']}.")
md.append("")
md.append("| server | msgs/s | round trip p50 / p99 / p99.9 (ms) | server CPU | msgs per server CPU-second | RSS per idle connection |")
md.append("|---|---:|---:|---:|---:|---:|")
for n, s in summary.items():
    per = (s["idle"] or {}).get("rss_per_conn_bytes")
    held = (s["idle"] or {}).get("held")
    idle_cell = "n/a" if per is None else f"{per / 1024:.1f} KiB ({held:,} held)"
    cpu = "n/a" if s["server_cpu"] is None else f"{s['server_cpu'] * 100:.0f}%"
    md.append(f"| {s['label']} | {num(s['msgs_per_s'])} | {ms(s['p50_us'])} / {ms(s['p99_us'])} / "
              f"{ms(s['p999_us'])} | {cpu} | {num(s['msgs_per_server_cpu_s'])} | {idle_cell} |")
md.append("")
if ratio is not None:
    line = f"Ours / reference: **{ratio:.2f}×** the messages per second (median of the per-round ratios; target ≥ 0.95×)"
    if ours_idle is not None:
        line += f"; **{ours_idle / 1024:.1f} KiB** per idle connection (target ≤ 16 KiB)"
    md.append(line + ".")
    if cost_ratio is not None:
        md.append(f"Per second of server CPU, ours handles {cost_ratio:.2f}× the reference's messages.")
else:
    md.append("**Our server was not measured** (it did not build): no ratio.")
if twin_ratio is not None:
    md.append(f"Our tokio-tungstenite twin / reference: {twin_ratio:.2f}×.")
md.append("")
md.append("Server CPU is the server's user + system time over the measured window, as a share "
          "of one core; below ~90%, other load on the machine took the rest, and messages per "
          "server CPU-second (what a message costs the server) is the steadier figure. On loopback each side's `send` also pays for the kernel delivering "
          "to the other, so the generator costs about as much as an efficient server: "
          "loadgen CPU near 100% means it, not the server, set the pace, which can only "
          "understate the faster server. A run where neither side kept its core busy was "
          "slowed by other load on the machine; it stays in the medians (dropping runs "
          "would be choosing results), where, with three rounds or more, one disturbed round cannot decide them.")
md.append("")
md.append("Every run, in the order measured:")
md.append("")
md.append("| round | server | msgs/s | p50 / p99 (ms) | server CPU | loadgen CPU | errors | note |")
md.append("|---:|---|---:|---:|---:|---:|---:|---|")
for r in runs:
    if r["phase"] != "echo":
        continue
    rep = r["report"]
    if rep is None:
        md.append(f"| {r['round']} | {r['server']} | failed | | | | | |")
        continue
    pct = lambda x: "n/a" if x is None else f"{x * 100:.0f}%"
    md.append(f"| {r['round']} | {r['server']} | {num(rep['msgs_per_s'])} | "
              f"{ms(rep['p50_us'])} / {ms(rep['p99_us'])} | {pct(rep['server_cpu'])} | "
              f"{pct(rep['loadgen_cpu'])} | {rep['errors']} | "
              f"{'slowed by other load' if disturbed(rep) else ''} |")
with open(md_path, "w") as f:
    f.write("\n".join(md) + "\n")

print("\n".join(md[2:]))
bad = [k for k, t in targets.items() if t["met"] is False]
print()
for k, t in targets.items():
    state = {True: "met", False: "MISSED", None: "not checked"}[t["met"]]
    got = t["got"]
    print(f"target {k}: {t['want']}: {state}" + ("" if got is None else f" (got {got:.3f})"))
if bad and env["STRICT"] == "1":
    sys.exit(3)  # a missed target, told apart from a crash here (1)
PY
case $SUMMARY_RC in
  0 | 3) ;;
  *) die "summarising the runs failed (the raw reports are in $RUNS)" ;;
esac
echo >&2
echo "bench-echo.sh: wrote $OUT/echo.json and $OUT/echo.md" >&2
if [ "$FAILED" -ne 0 ]; then
  echo "bench-echo.sh: at least one run reported errors (see above and runs.jsonl)" >&2
  exit 1
fi
if [ "$SUMMARY_RC" -eq 3 ]; then
  echo "bench-echo.sh: a target was missed (BENCH_STRICT=1)" >&2
  exit 1
fi
