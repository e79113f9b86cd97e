#!/usr/bin/env bash
# scripts/profile-echo.sh - where an echoed message's instructions go, in
# lesson 3's echo server and in fastwebsockets' echo example (the fastest of
# the servers bench-echo.sh measures it against), counted by valgrind's
# callgrind: a count, not a time, so it is the same on a busy machine as on
# a quiet one. (Not tokio-tungstenite's example: it zero-fills its 128 KiB
# read buffer before each read with `rep stosb`, which callgrind counts one
# instruction per byte, so its count says nothing about its time.)
#
# usage: scripts/profile-echo.sh
#
# Settings, from the environment [default]:
#   CONNECTIONS [100]   SIZE [20]
#   SHORT [2s]  LONG [6s]   two loadgen runs per server; the server's
#                       instructions per message are (I_long - I_short) /
#                       (M_long - M_short), so what a run costs whatever its
#                       length (start, handshakes, shutdown) cancels out
#   SPLIT [4s]          then each server runs natively (pinned, as in
#                       bench-echo.sh) for this long, and its user and
#                       system CPU time per message are read from /proc:
#                       how much of a message's cost is ours to cut at all
#   TOP [15]            how many of our functions to list
#   SERVERS ["ours fastwebsockets"]   which to count (ours always, for the list)
#   PORT_BASE [25000]   BENCH_REF_DIR   as in bench-echo.sh
#
# Output, under the workspace's target/bench/:
#   profile-echo.md     the table for the book's performance appendix
#   callgrind/          callgrind's files (callgrind_annotate reads them)
#
# Exit: 0 when every run was clean, 1 when one was not, 2 when it cannot be
# set up (valgrind missing: install Debian's valgrind).
set -euo pipefail
. "$(dirname "$0")/lib/bench.sh"
bench_init
command -v valgrind >/dev/null && command -v callgrind_annotate >/dev/null ||
  die "valgrind is needed (Debian: apt-get install valgrind)"

CONNECTIONS=${CONNECTIONS:-100}
SIZE=${SIZE:-20}
SHORT=${SHORT:-2s}
LONG=${LONG:-6s}
SPLIT=${SPLIT:-4s}
TOP=${TOP:-15}
PORT=${PORT_BASE:-25000}

OUT=$ROOT/target/bench
LOGS=$OUT/logs
CG=$OUT/callgrind
RUNS=$OUT/profile-runs.jsonl
rm -rf "$CG"
mkdir -p "$LOGS" "$CG"
: > "$RUNS"
SERVER_CPU=() LOAD_CPU=()  # counts do not need pinning

step "building loadgen and lesson 3 (release), and fastwebsockets' example"
build_ours -p echo --bins
[ "$HAVE_OURS" = yes ] || die "lesson 3 does not build"
declare -A BIN LABEL
BIN[ours]=$TARGET/release/echo
LABEL[ours]="ours (\`echo\`)"
build_package_example fastwebsockets "$FAST_VERSION" echo_server --features upgrade
BIN[fastwebsockets]=$EXAMPLE_BIN
LABEL[fastwebsockets]="fastwebsockets $FAST_VERSION \`examples/echo_server.rs\`"
FIXED_PORT[fastwebsockets]=8080
read -r -a SERVERS <<< "${SERVERS:-ours fastwebsockets}"

FAILED=0
# start_server puts the address before ARGS, which valgrind would take for
# its program: a wrapper that puts valgrind and its options first instead.
WRAP=$CG/wrap.sh
cat > "$WRAP" <<'SH'
#!/bin/sh
# usage: wrap.sh [ADDRESS] -- OUTFILE PROGRAM: PROGRAM [ADDRESS] under callgrind
address=""
if [ "$1" != "--" ]; then address=$1; shift; fi
shift
out=$1 program=$2
exec valgrind --quiet --tool=callgrind --callgrind-out-file="$out" "$program" $address
SH
chmod +x "$WRAP"

# One server under callgrind for one loadgen run of DURATION; sets
# INSTRUCTIONS (the server's, over its whole life) and MESSAGES (echoed).
measure_count() {
  local name=$1 duration=$2 file=$CG/$1-$2.out real=${BIN[$1]}
  BIN[$name]=$WRAP
  # Under valgrind a server starts slowly: start_server waits 5 s for it.
  start_server "$name" -- "$file" "$real"
  BIN[$name]=$real
  run_loadgen count "$name" 0 /ws --connections "$CONNECTIONS" --size "$SIZE" \
    --duration "$duration" --warmup 0s
  [ "$RC" -eq 0 ] || FAILED=1
  stop_server
  # callgrind writes its file when the server exits (TERM: a clean stop).
  for _ in $(seq 1 100); do [ -s "$file" ] && break; sleep 0.1; done
  MESSAGES=$(python3 -c 'import json,sys; r=json.loads(sys.argv[1]); print(r["messages"] if r else 0)' "$REPORT")
  INSTRUCTIONS=$(awk '/^summary:/ { print $2 }' "$file")
  [ -n "$INSTRUCTIONS" ] || { loud "$name: callgrind wrote no summary to $file"; INSTRUCTIONS=0; FAILED=1; }
}

step "counting: ${SERVERS[*]}, $CONNECTIONS connections x $SIZE B, runs of $SHORT and $LONG under callgrind"
declare -A PER
for name in "${SERVERS[@]}"; do
  measure_count "$name" "$SHORT"
  i_short=$INSTRUCTIONS m_short=$MESSAGES
  measure_count "$name" "$LONG"
  i_long=$INSTRUCTIONS m_long=$MESSAGES
  if [ "$m_long" -le "$m_short" ]; then
    loud "$name: the long run counted no more messages than the short one ($m_long vs $m_short)"
    FAILED=1
    continue
  fi
  PER[$name]=$(( (i_long - i_short) / (m_long - m_short) ))
  printf '  %-15s %s instructions per echoed message (%s - %s instructions over %s - %s messages)\n' \
    "$name" "${PER[$name]}" "$i_long" "$i_short" "$m_long" "$m_short" >&2
done

[ -n "${PER[ours]-}" ] || die "ours was not counted"

# The kernel's share: callgrind sees only what runs in the process. Clock
# ticks (utime, stime: fields 14 and 15 of /proc/PID/stat) before and after.
pin_cpus || loud "$NOT_PINNED"
ticks() { awk '{ print $14, $15 }' "/proc/$SERVER_PID/stat"; }
step "user and system CPU per message, natively, $SPLIT each"
declare -A SPLIT_OF
for name in "${SERVERS[@]}"; do
  start_server "$name"
  read -r u0 s0 < <(ticks)
  run_loadgen split "$name" 0 /ws --connections "$CONNECTIONS" --size "$SIZE" \
    --duration "$SPLIT" --warmup 0s
  read -r u1 s1 < <(ticks)
  stop_server
  [ "$RC" -eq 0 ] || FAILED=1
  MESSAGES=$(python3 -c 'import json,sys; r=json.loads(sys.argv[1]); print(r["messages"] if r else 0)' "$REPORT")
  SPLIT_OF[$name]="$((u1 - u0)) $((s1 - s0)) $MESSAGES $(getconf CLK_TCK)"
  echo "  $name: user $((u1 - u0)) and system $((s1 - s0)) ticks over $MESSAGES messages" >&2
done

step "where ours spends them: instructions per message by function (long run minus short run)"
for run in "$SHORT" "$LONG"; do
  callgrind_annotate --threshold=100 "$CG/ours-$run.out" > "$CG/ours-$run.txt"
done
machine_facts
export CONNECTIONS SIZE SHORT LONG TOP
export PER_OURS=${PER[ours]} PER_FAST=${PER[fastwebsockets]-}
export SPLIT_OURS=${SPLIT_OF[ours]-} SPLIT_FAST=${SPLIT_OF[fastwebsockets]-} SPLIT
export LABEL_OURS=${LABEL[ours]} LABEL_FAST=${LABEL[fastwebsockets]}
python3 - "$CG" "$RUNS" "$OUT/profile-echo.md" <<'PY'
import collections, json, re, sys
from summary import comment, env, write_table

cg, runs_path, md_path = sys.argv[1:]
runs = [json.loads(line) for line in open(runs_path)]
ours = [r["report"]["messages"] for r in runs if r["server"] == "ours" and r["report"]]
line = re.compile(r"^\s*([\d,]+)\s+\([^)]*\)\s+(\S.*?)\s*$")

def by_function(path):
    """Self instructions per function, from callgrind_annotate's listing."""
    counts = collections.Counter()
    listing = False
    for text in open(path):
        if text.startswith("-- ") or text.startswith("Ir"):
            listing = listing or "file:function" in text
            continue
        m = line.match(text)
        if listing and m:
            name = m.group(2)
            name = re.sub(r" \[[^\]]*\]$", "", name)  # the binary
            name = name.split(":", 1)[-1] if ":" in name else name
            counts[name] += int(m.group(1).replace(",", ""))
    return counts

short, long_ = by_function(f"{cg}/ours-{env['SHORT']}.txt"), by_function(f"{cg}/ours-{env['LONG']}.txt")
messages = ours[1] - ours[0]
per = {f: (long_[f] - short.get(f, 0)) / messages for f in long_}
top = sorted(per.items(), key=lambda kv: -kv[1])[: int(env["TOP"])]

def n(x):
    return "n/a" if not x else f"{int(x):,}"

md = [comment("profile-echo.sh"), ""]
md.append(f"Instructions the server executes per echoed message, counted by valgrind's callgrind "
          f"({env['CONNECTIONS']} connections × {env['SIZE']} B text, closed loop; the difference "
          f"between a {env['SHORT']} and a {env['LONG']} run, so start-up and handshakes cancel out):")
md.append("")
def split(key):
    """User and system CPU per message, in ns, and the user share."""
    fields = env.get("SPLIT_" + key, "").split()
    if len(fields) != 4 or not int(fields[2]):
        return "n/a", "n/a", "n/a"
    user, system, messages, hz = map(int, fields)
    ns = lambda ticks: ticks / hz * 1e9 / messages
    share = user / (user + system) if user + system else 0
    return f"{ns(user):,.0f}", f"{ns(system):,.0f}", f"{share:.0%}"

md.append("| server | instructions per message | user CPU per message (ns) | system CPU per message (ns) | user share |")
md.append("|---|---:|---:|---:|---:|")
for key, label in (("OURS", "LABEL_OURS"), ("FAST", "LABEL_FAST")):
    u, k, share = split(key)
    md.append(f"| {env[label]} | {n(env.get('PER_' + key))} | {u} | {k} | {share} |")
md.append("")
md.append(f"User and system CPU: each server run natively, pinned to one core, for {env['SPLIT']} "
          f"at the same load, its utime and stime read from `/proc/PID/stat` before and after. "
          "The instructions are the user part only; callgrind does not see the kernel.")
md.append("")
md.append(f"Ours, by function (self instructions per message, the top {env['TOP']}):")
md.append("")
md.append("| function | per message |")
md.append("|---|---:|")
for f, v in top:
    f = f.replace("|", "\\|")
    md.append(f"| `{f}` | {v:,.0f} |")
write_table(md_path, md)
PY
echo "$SCRIPT_NAME: wrote $OUT/profile-echo.md" >&2
[ "$FAILED" -eq 0 ] || exit 1
