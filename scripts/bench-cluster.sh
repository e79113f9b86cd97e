#!/usr/bin/env bash
# scripts/bench-cluster.sh - lesson 8's shared room against lesson 5's room
# in memory, at the same load: 1,000 clients in one room, 100 messages a
# second in, every client receiving every message. Four configurations:
#
#   memory   lesson 5's `chatroom`: the room in the server's memory
#   one      lesson 8's `cluster` with one server: the same room, through Redis
#   three    lesson 8's `cluster` with three servers on one Redis, the
#            clients spread over them in turn (each message crosses servers)
#   failover as three, but each server a process of its own, and the second
#            killed (SIGKILL) halfway through the window: its clients rejoin
#            through the others with `since` (loadgen --kill-server)
#
# "one" against "memory" is the Redis hop's cost; "three" against "memory"
# is what a cluster costs a page; "failover" is what losing a server costs:
# loss (none allowed), duplicates, and how long its clients took to be back.
# Produces the table of the cluster chapter.
#
# usage: scripts/bench-cluster.sh
#
# Settings, from the environment [default]:
#   QUICK [0]           1: one round, 200 clients, 3 s (CI: checks that it
#                       runs and loses nothing; the book's table is not touched)
#   ROUNDS [3]          interleaved rounds; each runs every configuration once
#   CLIENTS [1000]      clients in the room
#   RATE [100]          messages per second in, in total, from the clients in turn
#   DURATION [10s]      measured window   WARMUP [2s]   sent before it, not timed
#   PORT_BASE [24000]   first port tried (below Linux's ephemeral range)
#   BENCH_STRICT [0]    1: exit 1 when the target is missed
#
# Method: as scripts/bench-chat.sh (../shared/notes/performance.md): the
# server (one process, whatever the configuration) and redis-server pinned
# to CPU 0, loadgen to CPU 1; the configurations interleaved, the order
# rotating each round; medians, and ratios taken within a round. Redis is
# flushed before each run, so each starts from an empty room. loadgen checks
# that every client received every message, once, in the one order all saw.
#
# Target: three servers' fan-out p99 at most 2x the room in memory's, with
# zero loss.
#
# Output, under the workspace's target/bench/: cluster.json, cluster.md (copied
# to book/src/generated/bench-cluster.md after a clean full run),
# cluster-runs.jsonl, logs/cluster-*.
#
# Exit: 0 when every run was clean, 1 when a run lost messages or failed
# (or, with BENCH_STRICT=1, the target was missed), 2 when it cannot be set
# up (redis-server missing: apt-get install redis-server).
set -euo pipefail
. "$(dirname "$0")/lib/bench.sh"
bench_init

QUICK=${QUICK:-0}
if [ "$QUICK" = 1 ]; then
  ROUNDS=${ROUNDS:-1} CLIENTS=${CLIENTS:-200} DURATION=${DURATION:-3s} WARMUP=${WARMUP:-1s}
fi
ROUNDS=${ROUNDS:-3}
CLIENTS=${CLIENTS:-1000}
RATE=${RATE:-100}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
PORT=${PORT_BASE:-24000}
STRICT=${BENCH_STRICT:-0}
IDLE=0

OUT=$ROOT/target/bench
LOGS=$OUT/logs
RUNS=$OUT/cluster-runs.jsonl
BOOK_TABLE=$ROOT/book/src/generated/bench-cluster.md
mkdir -p "$LOGS"
rm -f "$LOGS"/cluster-*
: > "$RUNS"

command -v redis-server >/dev/null || die "redis-server is needed: apt-get install redis-server"
command -v redis-cli >/dev/null || die "redis-cli is needed: apt-get install redis-tools"

pin_cpus || loud "$NOT_PINNED"
raise_fd_limit "$CLIENTS"

step "building loadgen, lesson 5 and lesson 8 (release)"
build_ours -p chatroom -p cluster
[ "$HAVE_OURS" = yes ] || die "lessons 5 and 8 do not build"

# Sets NEXT to the next free port from PORT (not in a subshell: PORT moves on).
next_port() {
  while port_in_use "$PORT"; do PORT=$((PORT + 1)); done
  [ "$PORT" -lt 32768 ] || die "no free port below 32768 from PORT_BASE"
  NEXT=$PORT
  PORT=$((PORT + 1))
}

next_port
REDIS_PORT=$NEXT
REDIS_PID=""
SERVER_PIDS=()
cleanup() {
  [ "${#SERVER_PIDS[@]}" -eq 0 ] || kill "${SERVER_PIDS[@]}" 2>/dev/null || true
  [ -z "$REDIS_PID" ] || kill "$REDIS_PID" 2>/dev/null || true
}
trap cleanup EXIT
"${SERVER_CPU[@]}" redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
  > "$LOGS/cluster-redis.log" 2>&1 &
REDIS_PID=$!
for _ in $(seq 1 100); do listening "$REDIS_PORT" && break; sleep 0.05; done
listening "$REDIS_PORT" || die "redis-server did not start (see $LOGS/cluster-redis.log)"
REDIS_URL=redis://127.0.0.1:$REDIS_PORT

# CPU seconds (user + system) a process has used so far.
cpu_seconds() {
  awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) / hz }' "/proc/$1/stat"
}

LIMITS=(--max-connections 30000 --max-per-ip 30000)
# Starts configuration $1; sets SERVER_PIDS, URLS and MEASURE (loadgen's
# flags for the server: the one process to measure, or the one to kill).
start_config() {
  local name=$1 p log=$LOGS/cluster-$1-$2.log listens=() waited pid
  URLS=()
  SERVER_PIDS=()
  case $name in
    memory)
      next_port
      p=$NEXT
      RUST_LOG=warn "${SERVER_CPU[@]}" "$TARGET/release/chatroom" "127.0.0.1:$p" "${LIMITS[@]}" > "$log" 2>&1 &
      SERVER_PIDS=($!)
      URLS=(--url "ws://127.0.0.1:$p/ws")
      listens=("$p")
      ;;
    failover)
      # Three processes, so that one can die alone.
      for i in 1 2 3; do
        next_port
        p=$NEXT
        RUST_LOG=warn "${SERVER_CPU[@]}" "$TARGET/release/cluster" --redis "$REDIS_URL" "${LIMITS[@]}" \
          --listen "127.0.0.1:$p" > "${log%.log}-$i.log" 2>&1 &
        SERVER_PIDS+=($!)
        # Not this shell's job any more: its death by SIGKILL is the
        # experiment, not news for bash to print.
        disown $!
        URLS+=(--url "ws://127.0.0.1:$p/ws")
        listens+=("$p")
      done
      ;;
    one | three)
      local n=1
      [ "$name" = three ] && n=3
      local args=(--redis "$REDIS_URL" "${LIMITS[@]}")
      for _ in $(seq 1 "$n"); do
        next_port
        p=$NEXT
        args+=(--listen "127.0.0.1:$p")
        URLS+=(--url "ws://127.0.0.1:$p/ws")
        listens+=("$p")
      done
      RUST_LOG=warn "${SERVER_CPU[@]}" "$TARGET/release/cluster" "${args[@]}" > "$log" 2>&1 &
      SERVER_PIDS=($!)
      ;;
  esac
  for p in "${listens[@]}"; do
    for waited in $(seq 1 100); do
      listening "$p" && break
      for pid in "${SERVER_PIDS[@]}"; do
        kill -0 "$pid" 2>/dev/null || die "$name exited (see $LOGS/cluster-$name-$2*.log)"
      done
      sleep 0.05
    done
    listening "$p" || die "$name did not listen on $p (see $LOGS/cluster-$name-$2*.log)"
  done
  if [ "$name" = failover ]; then
    # Its server CPU would be one process's of three: not measured.
    MEASURE=(--kill-server "${SERVER_PIDS[1]}")
  else
    MEASURE=(--server-pid "${SERVER_PIDS[0]}")
  fi
}

# Stops the configuration's servers and waits until they are gone (by
# polling: the failover's are not this shell's jobs).
stop_servers() {
  local pid
  kill "${SERVER_PIDS[@]}" 2>/dev/null || true
  for pid in "${SERVER_PIDS[@]}"; do
    for _ in $(seq 1 200); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.05
    done
    wait "$pid" 2>/dev/null || true
  done
  SERVER_PIDS=()
}

FAILED=0
CONFIGS=(memory one three failover)
step "cluster: ${#CONFIGS[@]} configurations x $ROUNDS rounds, $CLIENTS clients, $RATE msgs/s in, $DURATION after $WARMUP warm-up (pinned: $PINNED)"
for round in $(seq 1 "$ROUNDS"); do
  for name in $(rotated "$round" "${CONFIGS[@]}"); do
    redis-cli -p "$REDIS_PORT" flushall > /dev/null
    start_config "$name" "$round"
    redis_before=$(cpu_seconds "$REDIS_PID")
    started=$(date +%s.%N)
    RC=0
    REPORT=$("${LOAD_CPU[@]}" "$LOADGEN" "${URLS[@]}" "${MEASURE[@]}" --json \
      --broadcast "$CLIENTS" --protocol chatroom --rate "$RATE" \
      --duration "$DURATION" --warmup "$WARMUP") || RC=$?
    [ -n "$REPORT" ] || REPORT=null
    redis_cpu=$(python3 -c 'import sys; a, b, t0, t1 = map(float, sys.argv[1:]); print(round((b - a) / (t1 - t0), 4))' \
      "$redis_before" "$(cpu_seconds "$REDIS_PID")" "$started" "$(date +%s.%N)")
    printf '{"config":"%s","round":%d,"exit":%d,"redis_cpu":%s,"report":%s}\n' \
      "$name" "$round" "$RC" "$redis_cpu" "$REPORT" >> "$RUNS"
    stop_servers
    python3 - "$REPORT" "$name" "$round" "$redis_cpu" <<'PY' >&2
import json, sys
r, name, rnd, redis = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3], float(sys.argv[4])
if r is None:
    print(f"  {name:<6} round {rnd}: loadgen failed before measuring")
else:
    ms = lambda us: "?" if us is None else f"{us / 1000:.2f}"
    pct = lambda x: "?" if x is None else f"{x * 100:.0f}%"
    print(f"  {name:<8} round {rnd}: {r['ready']}/{r['clients']} ready; delivered {r['delivered']:,}/"
          f"{r['expected']:,} lost {r['lost']} dup {r['duplicates']} order {r['out_of_order']}; "
          f"p50 {ms(r['p50_us'])} p99 {ms(r['p99_us'])} ms; server CPU {pct(r['server_cpu'])}, "
          f"Redis CPU {pct(redis)}, loadgen CPU {pct(r['loadgen_cpu'])}; errors {r['errors']}")
    f = r.get("failover")
    if f:
        print(f"  {'':<8} killed pid {f['pid']}: {f['reconnected']} clients back after "
              f"{f['recovery_ms_p50']} ms (median), {f['recovery_ms_max']} ms (slowest); "
              f"{f['resent']} message{'' if f['resent'] == 1 else 's'} written again")
PY
    [ "$RC" -eq 0 ] || FAILED=1
  done
done

step "results"
machine_facts
export ROUNDS CLIENTS RATE DURATION WARMUP PINNED STRICT FAILED QUICK
SUMMARY_RC=0
python3 - "$RUNS" "$OUT/cluster.json" "$OUT/cluster.md" <<'PY' || SUMMARY_RC=$?
import json, sys
from summary import (comment, conditions, env, facts, generated, median, ms, pct, write_json,
                     write_table)

runs_path, json_path, md_path = sys.argv[1:]
runs = [json.loads(line) for line in open(runs_path)]
labels = {
    "memory": "lesson 5's room in memory (`chatroom`)",
    "one": "lesson 8, one server, the room in Redis",
    "three": "lesson 8, three servers on one Redis",
    "failover": "lesson 8, three servers, one killed halfway",
}

summary = {}
for name in labels:
    rs = [r for r in runs if r["config"] == name and r["report"]]
    if not rs:
        continue
    reps = [r["report"] for r in rs]
    total = lambda k: sum(r[k] for r in reps)
    summary[name] = {
        "label": labels[name], "rounds": len(reps),
        "expected": total("expected"), "delivered": total("delivered"), "lost": total("lost"),
        "duplicates": total("duplicates"), "out_of_order": total("out_of_order"),
        "errors": total("errors"),
        "p50_us": median(r["p50_us"] for r in reps), "p99_us": median(r["p99_us"] for r in reps),
        "p999_us": median(r["p999_us"] for r in reps),
        "server_cpu": median(r["server_cpu"] for r in reps),
        "redis_cpu": median(r["redis_cpu"] for r in rs) if name != "memory" else None,
        "loadgen_cpu": median(r["loadgen_cpu"] for r in reps),
    }
    fails = [r["failover"] for r in reps if r.get("failover")]
    if name == "failover":
        summary[name]["failover"] = {
            "killed": sum(f["killed_at_us"] is not None for f in fails),
            "reconnected": sum(f["reconnected"] for f in fails),
            "recovery_ms_p50": median(f["recovery_ms_p50"] for f in fails),
            "recovery_ms_max": max((f["recovery_ms_max"] for f in fails
                                    if f["recovery_ms_max"] is not None), default=None),
            "resent": sum(f["resent"] for f in fails),
        }

def ratio(a, b, key="p99_us"):
    by_round = {r["round"]: r["report"][key] for r in runs if r["config"] == b and r["report"]}
    return median([r["report"][key] / by_round[r["round"]] for r in runs
                   if r["config"] == a and r["report"] and by_round.get(r["round"])
                   and r["report"][key] is not None])

hop = ratio("one", "memory")
cross = ratio("three", "memory")
clean = all(s["lost"] == 0 and s["duplicates"] == 0 and s["out_of_order"] == 0 and s["errors"] == 0
            and s["delivered"] == s["expected"] for s in summary.values()) and len(summary) == 4
fo = summary.get("failover", {}).get("failover")
# A failover run that killed nothing, or whose clients never came back,
# proves nothing.
clean = clean and fo is not None and fo["killed"] == summary["failover"]["rounds"] \
    and fo["reconnected"] > 0
met = None if cross is None else (cross <= 2.0 and clean)
result = {
    **facts(generated()),
    "settings": {k.lower(): env[k] for k in ["ROUNDS", "CLIENTS", "RATE", "DURATION", "WARMUP", "QUICK"]},
    "summary": summary, "ratio_one_to_memory_p99": hop, "ratio_three_to_memory_p99": cross,
    "clean": clean, "target_met": met, "runs": runs,
}
write_json(json_path, result)

md = [comment("bench-cluster.sh", result["generated"]), ""]
md.append(f"{env['CLIENTS']} clients in one room, {env['RATE']} messages/s in (from the clients in "
          f"turn, open loop), {env['DURATION']} measured after {env['WARMUP']} warm-up; median of "
          f"{env['ROUNDS']} interleaved rounds (loss: all rounds added up). "
          + conditions("Servers and redis-server pinned to CPU 0, loadgen to CPU 1."))
md.append("")
md.append("| configuration | delivered / expected | lost | fan-out p50 / p99 / p99.9 (ms) | server CPU | Redis CPU | loadgen CPU |")
md.append("|---|---:|---:|---:|---:|---:|---:|")
for s in summary.values():
    lost = s["lost"] + s["duplicates"] + s["out_of_order"]
    md.append(f"| {s['label']} | {s['delivered']:,} / {s['expected']:,} | {lost:,} | "
              f"{ms(s['p50_us'])} / {ms(s['p99_us'])} / {ms(s['p999_us'])} | {pct(s['server_cpu'])} | "
              f"{pct(s['redis_cpu'])} | {pct(s['loadgen_cpu'])} |")
md.append("")
if hop is not None and cross is not None:
    md.append(f"Fan-out p99, per-round ratios: one server through Redis / in memory **{hop:.2f}×** "
              f"(the Redis hop); three servers / in memory **{cross:.2f}×**. "
              + ("Nothing lost, nothing twice, one order for every client."
                 if clean else "**Messages were lost or reordered** (see cluster-runs.jsonl)."))
if fo is not None and fo["recovery_ms_p50"] is not None:
    rounds = summary["failover"]["rounds"]
    md.append("")
    md.append(f"Failover: in each of {rounds} round{'s' if rounds > 1 else ''}, the second of three "
              f"server processes was killed (SIGKILL) halfway through the window. Its clients "
              f"({fo['reconnected']:,} in all) rejoined through the other two with `since` and were back "
              f"in the room **{fo['recovery_ms_p50']:.0f} ms** after the kill (median; the slowest "
              f"{fo['recovery_ms_max']:.0f} ms); {fo['resent']:,} message"
              + ("" if fo["resent"] == 1 else "s") + " that had reached only the dead "
              f"server {'was' if fo['resent'] == 1 else 'were'} written again by {'its sender' if fo['resent'] == 1 else 'their senders'}. "
              + ("Nothing lost, nothing twice." if clean else "**Messages were lost or doubled.**"))
md.append("")
md.append("Server CPU is the server process's share of one core over the measured window (the three "
          "servers of the third row are one process; the failover row's are three, not measured); "
          "Redis CPU is redis-server's over the whole run, joins included. Each configuration starts "
          "from an empty Redis. Latency in the failover row includes the messages its clients "
          "received late, in the history of their rejoin.")
write_table(md_path, md)
sys.exit(0 if clean else 3)
PY
case $SUMMARY_RC in
  0) ;;
  3) FAILED=1 ;;
  *) die "summarising the runs failed (the raw reports are in $RUNS)" ;;
esac
if [ "$FAILED" -eq 0 ] && [ "$QUICK" != 1 ]; then
  cp "$OUT/cluster.md" "$BOOK_TABLE"
  echo "$SCRIPT_NAME: wrote $BOOK_TABLE" >&2
fi
if [ "$FAILED" -ne 0 ]; then
  echo "$SCRIPT_NAME: a run failed or lost messages" >&2
  exit 1
fi
if [ "$STRICT" = 1 ] && ! python3 -c 'import json,sys; sys.exit(0 if json.load(open(sys.argv[1]))["target_met"] else 1)' "$OUT/cluster.json"; then
  echo "$SCRIPT_NAME: target missed: three servers' p99 over 2x the room in memory's" >&2
  exit 1
fi
