#!/usr/bin/env bash
# scripts/autobahn.sh - the Autobahn|Testsuite against lesson 3's two echo
# servers and its client.
#
# usage: scripts/autobahn.sh [PEER...]
#   PEER: echo (our server, on lessons 1-2), echo-tungstenite (the same on
#   tokio-tungstenite), echo-client (our client, on lessons 1-2); default all.
#
# Builds them in release. A server is started on a port the system picks
# (127.0.0.1:0; the server prints its address, so there is no race for a
# port) and the suite's fuzzing client runs against it. For the client, the
# suite's fuzzing server listens on a free port and `echo-client --autobahn`
# runs its cases. Every case, 12 and 13 (permessage-deflate) included: a
# peer that does not negotiate the extension gets UNIMPLEMENTED for those.
# One line per peer. Exit 0 when no case FAILED and no close was FAILED or
# UNCLEAN, 1 otherwise, 2 when the suite cannot be set up.
#
# Output, under the workspace's target/autobahn/:
#   <server>/index.html, index.json   the suite's report, case by case
#   <server>/server.log, runner.log   what the server and the runner printed
#   summary.md                        the counts as a Markdown table (the book's
#                                     Conformance appendix includes it)
#
# The suite's runner, in this order:
#   1. wstest:  $AUTOBAHN_WSTEST, or `wstest` on PATH
#   2. Docker:  the crossbario/autobahn-testsuite image, if `docker info` works
#   3. the Python 3 port of wstest: $AUTOBAHN_RUNNER, or
#      ../shared/tools/autobahn/run-autobahn.sh beside the checkout; its venv
#      goes in $AUTOBAHN_HOME (default .autobahn in the checkout, git-ignored)
# Setting AUTOBAHN_WSTEST or AUTOBAHN_RUNNER picks that runner outright.
set -euo pipefail

die() { echo "autobahn.sh: $*" >&2; exit 2; }

ROOT=$(git -C "$(dirname "$0")" rev-parse --show-toplevel 2>/dev/null) \
  || ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
command -v python3 >/dev/null || die "python3 is needed to read the reports"

SERVERS=("$@")
[ ${#SERVERS[@]} -gt 0 ] || SERVERS=(echo echo-tungstenite echo-client)
for s in "${SERVERS[@]}"; do
  case $s in echo | echo-tungstenite | echo-client) ;; *) die "unknown peer: $s (echo, echo-tungstenite, echo-client)" ;; esac
done

# ---------------------------------------------------------------- the runner
IMAGE=crossbario/autobahn-testsuite
RUNNER=""
if [ -n "${AUTOBAHN_WSTEST:-}" ]; then
  RUNNER=wstest WSTEST=$AUTOBAHN_WSTEST
elif [ -n "${AUTOBAHN_RUNNER:-}" ]; then
  RUNNER=port PORT_SCRIPT=$AUTOBAHN_RUNNER
elif command -v wstest >/dev/null; then
  RUNNER=wstest WSTEST=$(command -v wstest)
elif command -v docker >/dev/null && docker info >/dev/null 2>&1; then
  RUNNER=docker
else
  RUNNER=port PORT_SCRIPT=$ROOT/../shared/tools/autobahn/run-autobahn.sh
fi
if [ "$RUNNER" = port ]; then
  [ -x "$PORT_SCRIPT" ] || die "no wstest, no Docker, and no runner at $PORT_SCRIPT (set AUTOBAHN_RUNNER)"
  AUTOBAHN_HOME=${AUTOBAHN_HOME:-$ROOT/.autobahn}
  # Install (or check) once, not once per server; quiet unless it fails.
  "$PORT_SCRIPT" -i -d "$AUTOBAHN_HOME" > /tmp/autobahn-install.$$ 2>&1 \
    || { cat /tmp/autobahn-install.$$ >&2; rm -f /tmp/autobahn-install.$$; die "installing the runner failed"; }
  rm -f /tmp/autobahn-install.$$
fi
echo "autobahn.sh: runner: $RUNNER" >&2

# ---------------------------------------------------------------- the servers
cargo build --release --quiet -p echo --bins
TARGET=$(cargo metadata --format-version 1 --no-deps \
  | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
BIN=$TARGET/release
OUT=$ROOT/target/autobahn
mkdir -p "$OUT"

PIDS=()
cleanup() { for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT

# Waits until server $1 (process $3) has printed its ws:// URL and accepts
# connections; prints the URL.
wait_for_url() { # name dir pid
  local name=$1 dir=$2 pid=$3 url="" port
  for _ in $(seq 100); do
    url=$(grep -o -m1 'ws://127\.0\.0\.1:[0-9]*/[^ )]*' "$dir/server.log" || true)
    [ -n "$url" ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  [ -n "$url" ] || { cat "$dir/server.log" >&2; echo "autobahn.sh: $name did not start" >&2; return 1; }
  port=${url#ws://127.0.0.1:}; port=${port%%/*}
  # It printed its address after binding, so the kernel already queues
  # connections; this proves it.
  (exec 3<> "/dev/tcp/127.0.0.1/$port") 2>/dev/null \
    || { echo "autobahn.sh: $name does not accept on $port" >&2; return 1; }
  echo "$url"
}

# The fuzzing client's spec for wstest and Docker (the port writes its own).
write_spec() { # outdir agent url file
  python3 - "$@" <<'PY'
import json, sys
outdir, agent, url, path = sys.argv[1:]
json.dump({"outdir": outdir, "servers": [{"agent": agent, "url": url}],
           "cases": ["*"], "exclude-cases": [], "exclude-agent-cases": {}},
          open(path, "w"), indent=2)
PY
}

run_suite() { # name dir url
  local name=$1 dir=$2 url=$3
  rm -f "$dir/index.json"
  case $RUNNER in
    wstest)
      write_spec "$dir" "$name" "$url" "$dir/fuzzingclient.json"
      (cd "$dir" && timeout -k 10 900 "$WSTEST" -m fuzzingclient -s fuzzingclient.json) ;;
    docker)
      # --network host: the container reaches the server on the host's loopback (Linux).
      write_spec /reports "$name" "$url" "$dir/fuzzingclient.json"
      timeout -k 10 900 docker run --rm --network host --user "$(id -u):$(id -g)" \
        -v "$dir:/reports" "$IMAGE" wstest -m fuzzingclient -s /reports/fuzzingclient.json ;;
    port)
      "$PORT_SCRIPT" -d "$AUTOBAHN_HOME" -o "$dir" -a "$name" -x '' "$url" ;;
  esac
}

# The client's cases: the suite serves them on a free port and runs our
# client against it.
run_client_suite() { # name dir
  local name=$1 dir=$2 port
  rm -f "$dir/index.json"
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  case $RUNNER in
    port)
      "$PORT_SCRIPT" -d "$AUTOBAHN_HOME" -o "$dir" -a "$name" -x '' -s "$port" -- \
        "$BIN/echo-client" --autobahn "ws://127.0.0.1:$port" ;;
    *)
      echo "autobahn.sh: the client's cases need the Python 3 port of wstest (AUTOBAHN_RUNNER)" >&2
      return 1 ;;
  esac
}

# Reads index.json: prints the server's line, writes counts.json, exits 1 on failure.
summarize() { # name dir url seconds
  python3 - "$@" <<'PY'
import collections, json, os, re, sys
name, outdir, url, secs = sys.argv[1:]
rel = os.path.relpath(os.path.join(outdir, "index.html"))
try:
    index = json.load(open(os.path.join(outdir, "index.json")))
except (OSError, ValueError):
    print("autobahn %s: FAIL  no report (see %s)" % (name, os.path.relpath(os.path.join(outdir, "runner.log"))))
    sys.exit(1)
cases = index.get(name) or next(iter(index.values()), {})
key = lambda c: tuple(int(x) for x in c.split("."))
log = open(os.path.join(outdir, "runner.log"), errors="replace").read()
# How many cases the runner meant to run: wstest says "will run N test
# cases", the Python 3 port "R/N cases". Fewer in the report: some are missing.
m = re.search(r"will run (\d+) test cases", log) or re.search(r"\d+/(\d+) cases", log)
missing = max(0, int(m.group(1)) - len(cases)) if m else 0
by = collections.defaultdict(list)
for case in sorted(cases, key=key):
    by[cases[case]["behavior"]].append(case)
def compact(ids):
    """Case ids, with a whole group of cases (all of 12.*) as one entry."""
    out, done = [], set()
    for case in ids:
        group = case.split(".")[0]
        if group in done:
            continue
        members = [c for c in cases if c.split(".")[0] == group]
        if all(c in ids for c in members) and len(members) > 1:
            out.append("%s.* (%d cases)" % (group, len(members)))
            done.add(group)
        else:
            out.append(case)
    return out
failed = [c for c in sorted(cases, key=key)
          if cases[c]["behavior"] not in ("OK", "NON-STRICT", "INFORMATIONAL", "UNIMPLEMENTED")]
bad_close = [c for c in sorted(cases, key=key) if cases[c]["behaviorClose"] in ("FAILED", "UNCLEAN")]
ok = not failed and not bad_close and not missing
for case in sorted(set(failed) | set(bad_close), key=key):
    print("  %-8s behavior=%s close=%s" % (case, cases[case]["behavior"], cases[case]["behaviorClose"]))
notes = "; ".join("%s: %s" % (b, " ".join(compact(by[b]))) for b in ("NON-STRICT", "INFORMATIONAL", "UNIMPLEMENTED") if by[b])
print("autobahn %s: %s  %d cases  OK=%d NON-STRICT=%d INFORMATIONAL=%d UNIMPLEMENTED=%d FAILED=%d  close-failed=%d%s  %s%ss  %s  report=%s" % (
    name, "PASS" if ok else "FAIL", len(cases), len(by["OK"]), len(by["NON-STRICT"]),
    len(by["INFORMATIONAL"]), len(by["UNIMPLEMENTED"]), len(failed), len(bad_close),
    "  missing=%d" % missing if missing else "", "(%s)  " % notes if notes else "", secs, url, rel))
json.dump({"server": name, "OK": len(by["OK"]), "NON-STRICT": len(by["NON-STRICT"]),
           "INFORMATIONAL": len(by["INFORMATIONAL"]), "UNIMPLEMENTED": len(by["UNIMPLEMENTED"]),
           "FAILED": len(failed), "close-failed": len(bad_close), "missing": missing,
           "not-ok": {b: compact(by[b]) for b in ("NON-STRICT", "INFORMATIONAL", "UNIMPLEMENTED") if by[b]}},
          open(os.path.join(outdir, "counts.json"), "w"), indent=2)
sys.exit(0 if ok else 1)
PY
}

status=0
for name in "${SERVERS[@]}"; do
  dir=$OUT/$name
  mkdir -p "$dir"
  rm -f "$dir/counts.json"
  if [ "$name" = echo-client ]; then
    start=$(date +%s)
    run_client_suite "$name" "$dir" > "$dir/runner.log" 2>&1 || true
    summarize "$name" "$dir" "(client)" "$(( $(date +%s) - start ))" || { status=1; tail -5 "$dir/runner.log" >&2; }
    continue
  fi
  "$BIN/$name" 127.0.0.1:0 > "$dir/server.log" 2>&1 &
  pid=$!
  PIDS+=("$pid")
  if ! url=$(wait_for_url "$name" "$dir" "$pid"); then status=1; continue; fi
  start=$(date +%s)
  run_suite "$name" "$dir" "$url" > "$dir/runner.log" 2>&1 || true
  summarize "$name" "$dir" "$url" "$(( $(date +%s) - start ))" || { status=1; tail -5 "$dir/runner.log" >&2; }
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
done

# The table the book includes: one row per server run this time.
python3 - "$OUT" "${SERVERS[@]}" <<'PY'
import json, os, sys
out, servers = sys.argv[1], sys.argv[2:]
label = {"echo": "`echo` (our server: lessons 1 and 2)",
         "echo-tungstenite": "`echo-tungstenite` (tokio-tungstenite's server)",
         "echo-client": "`echo-client` (our client: lessons 1 and 2)"}
rows, notes = [], []
for name in servers:
    try:
        c = json.load(open(os.path.join(out, name, "counts.json")))
    except (OSError, ValueError):
        continue
    rows.append("| %s | %d | %d | %d | %d | %d | %d |" % (
        label[name], c["OK"], c["NON-STRICT"], c["INFORMATIONAL"], c["UNIMPLEMENTED"],
        c["FAILED"], c["close-failed"]))
    for behavior, cases in c["not-ok"].items():
        notes.append("- %s, %s: %s" % (label[name], behavior, ", ".join(cases)))
with open(os.path.join(out, "summary.md"), "w") as f:
    f.write("| tested | OK | NON-STRICT | INFORMATIONAL | UNIMPLEMENTED | FAILED | close-failed |\n")
    f.write("|---|---:|---:|---:|---:|---:|---:|\n")
    f.write("\n".join(rows) + "\n")
    if notes:
        f.write("\nCases not OK:\n\n" + "\n".join(notes) + "\n")
PY
echo "autobahn.sh: summary in $(realpath --relative-to="$ROOT" "$OUT/summary.md")" >&2
exit $status
