#!/usr/bin/env bash
# scripts/bench-echo.sh - lesson 3's echo server against tokio-tungstenite's
# own echo example and fastwebsockets' (the Rust WebSocket picked for
# speed): throughput and latency under load, then memory per idle
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
#   fastwebsockets    fastwebsockets 0.10's examples/echo_server.rs (on
#                     hyper, one thread), built the same way; it listens on
#                     127.0.0.1:8080 and nowhere else, so that port must be
#                     free (the script dies otherwise)
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
# Then the generator's own side: against ours, loadgen's codec and then
# tokio-tungstenite's on the same connections (--client), interleaved; the
# figure is round trips per second of the generator's CPU.
#
# With perf (Debian's linux-perf), loadgen also counts the server's system
# calls over each echo run (--syscalls): the table's syscalls per message.
#
# Targets: ours >= 0.95x the reference's msgs/s; ours >= 1.0x fastwebsockets'
# msgs/s and msgs per server CPU-second; <= 16 KiB RSS per idle connection
# at 10,000.
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
# die, step, loud; setting up, building, servers, loadgen, results: see there.
. "$(dirname "$0")/lib/bench.sh"
bench_init

ROUNDS=${ROUNDS:-3}
CONNECTIONS=${CONNECTIONS:-100}
SIZE=${SIZE:-20}
DURATION=${DURATION:-5s}
WARMUP=${WARMUP:-1s}
IDLE=${IDLE:-10000}
HOLD=${HOLD:-2s}
PORT=${PORT_BASE:-21000}
STRICT=${BENCH_STRICT:-0}

OUT=$ROOT/target/bench
LOGS=$OUT/logs
RUNS=$OUT/runs.jsonl
rm -rf "$LOGS"  # this run's logs only
mkdir -p "$LOGS"
: > "$RUNS"

# ------------------------------------------------------------ pinning, limits
pin_cpus || loud "$NOT_PINNED"
count_syscalls
# Room for the idle connections (the echo runs' few need no raise).
if [ "$IDLE" -gt 0 ]; then
  raise_fd_limit 0
fi

# ------------------------------------------------------------------ building
step "building loadgen and lesson 3 (release)"
build_ours -p echo --bins

declare -A BIN LABEL
LABEL[ours]="ours (\`echo\`, lessons 1-2)"
LABEL[reference]="tokio-tungstenite $REF_VERSION \`examples/echo-server.rs\`"
LABEL[fastwebsockets]="fastwebsockets $FAST_VERSION \`examples/echo_server.rs\`"
LABEL[ours-tungstenite]="ours on tokio-tungstenite (\`echo-tungstenite\`)"
SERVERS=()
if [ "$HAVE_OURS" = yes ] && [ -x "$TARGET/release/echo" ]; then
  BIN[ours]=$TARGET/release/echo
  SERVERS+=(ours)
else
  loud "lesson 3's echo server does not build yet: running WITHOUT ours; no ratio, and the targets are NOT checked"
fi

build_reference echo-server
BIN[reference]=$REF_BIN
SERVERS+=(reference)

build_package_example fastwebsockets "$FAST_VERSION" echo_server --features upgrade
BIN[fastwebsockets]=$EXAMPLE_BIN
FIXED_PORT[fastwebsockets]=8080
SERVERS+=(fastwebsockets)

# Only from this build: an old binary left in target/ would be stale.
if [ "$HAVE_OURS" = yes ] && [ -x "$TARGET/release/echo-tungstenite" ]; then
  BIN[ours-tungstenite]=$TARGET/release/echo-tungstenite
  SERVERS+=(ours-tungstenite)
fi

FAILED=0
# Runs loadgen with "$@" against the server that is up (started by
# start_server), and appends its report to runs.jsonl, tagged with phase $1,
# server $2 and round $3.
measure() {
  local phase=$1 name=$2 round=$3
  shift 3
  run_loadgen "$phase" "$name" "$round" /ws "$@"
  [ "$RC" -eq 0 ] || FAILED=1
  # One line per run, as measured.
  python3 - "$REPORT" "$phase" "$name" "$round" <<'PY' >&2
import json, sys
r, phase, name, rnd = json.loads(sys.argv[1]), *sys.argv[2:]
if r is None:
    print(f"  {phase} {name:<17} round {rnd}: loadgen failed before measuring (see above)")
elif phase in ("echo", "client"):
    cpu = f"{r['server_cpu'] * 100:.0f}%" if r["server_cpu"] is not None else "?"
    gen = f"{r['loadgen_cpu'] * 100:.0f}%" if r["loadgen_cpu"] is not None else "?"
    print(f"  {phase} {name:<17} round {rnd}: {r['msgs_per_s']:>9,.0f} msgs/s  "
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
  for name in $(rotated "$round" "${SERVERS[@]}"); do
    start_server "$name"
    measure echo "$name" "$round" --connections "$CONNECTIONS" --size "$SIZE" \
      --duration "$DURATION" --warmup "$WARMUP" "${SYSCALLS[@]}"
    stop_server
  done
done

# The generator's own side: its codec against tokio-tungstenite's, on the
# same connections (our handshake) to our server, interleaved.
if [ "$HAVE_OURS" = yes ]; then
  step "client: loadgen with its own codec vs tokio-tungstenite's, against ours, $ROUNDS rounds"
  for round in $(seq 1 "$ROUNDS"); do
    for codec in $(rotated "$round" ours tungstenite); do
      start_server ours
      measure client "$codec" "$round" --client "$codec" --connections "$CONNECTIONS" \
        --size "$SIZE" --duration "$DURATION" --warmup "$WARMUP"
      stop_server
    done
  done
fi

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
machine_facts
export ROUNDS CONNECTIONS SIZE DURATION WARMUP IDLE HOLD PINNED STRICT FAILED
export LABEL_OURS=${LABEL[ours]} LABEL_REFERENCE=${LABEL[reference]} LABEL_TWIN=${LABEL[ours-tungstenite]}
export LABEL_FAST=${LABEL[fastwebsockets]}
SUMMARY_RC=0
python3 - "$RUNS" "$OUT/echo.json" "$OUT/echo.md" <<'PY' || SUMMARY_RC=$?
import json, sys
from summary import (comment, conditions, env, facts, generated, median, ms, pct,
                     say_targets, write_json, write_table)

runs_path, json_path, md_path = sys.argv[1:]
runs = [json.loads(line) for line in open(runs_path)]
names = ["ours", "reference", "fastwebsockets", "ours-tungstenite"]
labels = {"ours": env["LABEL_OURS"], "reference": env["LABEL_REFERENCE"],
          "fastwebsockets": env["LABEL_FAST"], "ours-tungstenite": env["LABEL_TWIN"]}

def per_cpu(report):
    """Messages per second of server CPU time: what a message costs the
    server, which other load on the machine disturbs far less than msgs/s."""
    cpu = report["server_cpu"]
    return report["msgs_per_s"] / cpu if cpu else None

def per_loadgen_cpu(report):
    """Messages per second of the generator's CPU time: what a round trip
    costs the client side."""
    cpu = report["loadgen_cpu"]
    return report["msgs_per_s"] / cpu if cpu else None

def syscalls_per_message(report):
    calls = report.get("server_syscalls")
    return calls["total"] / report["messages"] if calls and report["messages"] else None

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
        "server_syscalls_per_msg": median(syscalls_per_message(r) for r in reps),
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

client = {c: [r["report"] for r in runs if r["phase"] == "client" and r["server"] == c
              and r["report"]] for c in ("ours", "tungstenite")}
client_summary = {c: {"rounds": len(reps),
                      "msgs_per_s": median(r["msgs_per_s"] for r in reps),
                      "loadgen_cpu": median(r["loadgen_cpu"] for r in reps),
                      "msgs_per_loadgen_cpu_s": median(per_loadgen_cpu(r) for r in reps),
                      "server_cpu": median(r["server_cpu"] for r in reps)}
                  for c, reps in client.items() if reps}
def client_ratios():
    by_round = {r["round"]: per_loadgen_cpu(r["report"]) for r in runs
                if r["phase"] == "client" and r["server"] == "tungstenite" and r["report"]}
    return [per_loadgen_cpu(r["report"]) / by_round[r["round"]] for r in runs
            if r["phase"] == "client" and r["server"] == "ours" and r["report"]
            and by_round.get(r["round"]) and per_loadgen_cpu(r["report"])]
client_ratio = median(client_ratios())

ratio = median(ratios("ours", "reference"))
twin_ratio = median(ratios("ours-tungstenite", "reference"))
cost_ratio = median(ratios("ours", "reference", per_cpu))
fast_ratio = median(ratios("ours", "fastwebsockets"))
fast_cost_ratio = median(ratios("ours", "fastwebsockets", per_cpu))
ours_idle = (idle["ours"] or {}).get("rss_per_conn_bytes")
targets = {
    "throughput": {"want": ">= 0.95 x reference msgs/s", "got": ratio,
                   "met": None if ratio is None else ratio >= 0.95},
    "vs_fastwebsockets_msgs": {"want": ">= 1.0 x fastwebsockets msgs/s", "got": fast_ratio,
                               "met": None if fast_ratio is None else fast_ratio >= 1.0},
    "vs_fastwebsockets_cpu": {"want": ">= 1.0 x fastwebsockets msgs per server CPU-second",
                              "got": fast_cost_ratio,
                              "met": None if fast_cost_ratio is None else fast_cost_ratio >= 1.0},
    "idle_rss": {"want": "<= 16384 bytes per idle connection at 10,000",
                 "got": ours_idle,
                 "met": None if ours_idle is None or int(env["IDLE"]) < 10000
                 else ours_idle <= 16384},
}
result = {
    **facts(generated()),
    "settings": {"rounds": int(env["ROUNDS"]), "connections": int(env["CONNECTIONS"]),
                 "size": int(env["SIZE"]), "duration": env["DURATION"], "warmup": env["WARMUP"],
                 "idle_connections": int(env["IDLE"]), "hold": env["HOLD"]},
    "summary": summary,
    "ratio_ours_to_reference": ratio,
    "ratio_twin_to_reference": twin_ratio,
    "ratio_ours_to_reference_per_server_cpu_s": cost_ratio,
    "client": client_summary,
    "ratio_our_client_to_tungstenite_per_loadgen_cpu_s": client_ratio,
    "ratio_ours_to_fastwebsockets": fast_ratio,
    "ratio_ours_to_fastwebsockets_per_server_cpu_s": fast_cost_ratio,
    "targets": targets,
    "runs": runs,
}
write_json(json_path, result)

def num(x, fmt="{:,.0f}"):
    return "n/a" if x is None else fmt.format(x)

md = [comment("bench-echo.sh", result["generated"]), ""]
md.append(f"Echo, {env['CONNECTIONS']} connections × {env['SIZE']} B text, closed loop "
          f"(one message in flight per connection), {env['DURATION']} measured after "
          f"{env['WARMUP']} warm-up; median of {env['ROUNDS']} interleaved rounds. "
          + conditions())
md.append("")
md.append("| server | msgs/s | round trip p50 / p99 / p99.9 (ms) | server CPU | msgs per server CPU-second | server syscalls per msg | RSS per idle connection |")
md.append("|---|---:|---:|---:|---:|---:|---:|")
for n, s in summary.items():
    per = (s["idle"] or {}).get("rss_per_conn_bytes")
    held = (s["idle"] or {}).get("held")
    idle_cell = "n/a" if per is None else f"{per / 1024:.1f} KiB ({held:,} held)"
    md.append(f"| {s['label']} | {num(s['msgs_per_s'])} | {ms(s['p50_us'], 2)} / "
              f"{ms(s['p99_us'], 2)} / {ms(s['p999_us'], 2)} | {pct(s['server_cpu'])} | {num(s['msgs_per_server_cpu_s'])} | "
              f"{num(s['server_syscalls_per_msg'], '{:.2f}')} | {idle_cell} |")
md.append("")
if ratio is not None:
    line = f"Ours / reference: **{ratio:.2f}×** the messages per second (median of the per-round ratios)"
    if ours_idle is not None:
        line += f"; **{ours_idle / 1024:.1f} KiB** per idle connection"
    md.append(line + ".")
    if cost_ratio is not None:
        md.append(f"Per second of server CPU, ours handles {cost_ratio:.2f}× the reference's messages.")
    if fast_ratio is not None:
        md.append(f"Ours / fastwebsockets: **{fast_ratio:.2f}×** the messages per second"
                  + (f", **{fast_cost_ratio:.2f}×** the messages per server CPU-second"
                     if fast_cost_ratio is not None else "") + ".")
else:
    md.append("**Our server was not measured** (it did not build): no ratio.")
if twin_ratio is not None:
    md.append(f"Our tokio-tungstenite twin / reference: {twin_ratio:.2f}×.")
if client_summary:
    md.append("")
    md.append("The generator's own side, against our server: the same connections (our "
              "handshake), then loadgen's codec (lessons 1 and 2) or tokio-tungstenite's "
              "(with a 4 KiB read buffer, as ours) for the round trips:")
    md.append("")
    md.append("| client codec | msgs/s | loadgen CPU | msgs per loadgen CPU-second | server CPU |")
    md.append("|---|---:|---:|---:|---:|")
    for c, s in client_summary.items():
        md.append(f"| {'ours (loadgen)' if c == 'ours' else 'tokio-tungstenite'} | "
                  f"{num(s['msgs_per_s'])} | {pct(s['loadgen_cpu'])} | "
                  f"{num(s['msgs_per_loadgen_cpu_s'])} | {pct(s['server_cpu'])} |")
    if client_ratio is not None:
        md.append("")
        md.append(f"Per second of the generator's CPU, our client does {client_ratio:.2f}× "
                  "tokio-tungstenite's round trips (median of the per-round ratios).")
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
    if r["phase"] not in ("echo", "client"):
        continue
    rep = r["report"]
    if rep is None:
        md.append(f"| {r['round']} | {r['server']} ({r['phase']}) | failed | | | | | |")
        continue
    who = r["server"] if r["phase"] == "echo" else (
        "ours; loadgen on its own codec" if r["server"] == "ours"
        else "ours; loadgen on tokio-tungstenite's codec")
    md.append(f"| {r['round']} | {who} | {num(rep['msgs_per_s'])} | "
              f"{ms(rep['p50_us'], 2)} / {ms(rep['p99_us'], 2)} | {pct(rep['server_cpu'])} | "
              f"{pct(rep['loadgen_cpu'])} | {rep['errors']} | "
              f"{'slowed by other load' if disturbed(rep) else ''} |")
write_table(md_path, md)
say_targets(targets)
PY
summary_done "$OUT/echo.json" "$OUT/echo.md"
bench_exit
