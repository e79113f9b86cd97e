#!/usr/bin/env bash
# scripts/bench-failover.sh - lesson 8's failover, measured: the test
# `a_killed_server_s_page_comes_back_through_nginx_missing_nothing`
# (crates/cluster/tests/failover.rs) run RUNS times, its figures collected
# into a table. Each run: three servers on one redis-server behind nginx
# (deploy/nginx.conf, TLS), three headless Chromiums on https through it, one
# page on each server, one page saying a message every 30 ms; then the
# server of another page hangs, with a message of that page's read and never
# passed on, and is killed. The test prints one line of figures
# (how long that page took to be back in the room, and what the three pages
# lost or saw twice) before it checks them.
#
# usage: scripts/bench-failover.sh
#
# Settings, from the environment [default]:
#   RUNS [6]            how many times to run the test
#
# Needs what the test needs: redis-server, nginx, openssl, Chromium and
# chromedriver (Debian: apt-get install redis-server nginx openssl chromium
# chromium-driver). The REQUIRE_* variables are set here, so a missing one
# fails the run instead of skipping it.
#
# Output, under the workspace's target/bench/: failover.md (copied to
# book/src/generated/bench-failover.md when RUNS is 6 or more and every run
# passed), failover-runs.jsonl, logs/failover-N.log.
#
# Exit: 0 when every run passed, 1 when one failed (lost or doubled a
# message, or did not recover), 2 when it cannot be set up.
set -euo pipefail
. "$(dirname "$0")/lib/bench.sh"
bench_init

RUNS=${RUNS:-6}
OUT=$ROOT/target/bench
LOGS=$OUT/logs
FIGURES=$OUT/failover-runs.jsonl
mkdir -p "$LOGS"
rm -f "$LOGS"/failover-*.log
: > "$FIGURES"
export REQUIRE_BROWSER=1 REQUIRE_REDIS=1 REQUIRE_NGINX=1

step "building lesson 8's failover test"
cargo test -q -p cluster --test failover --no-run

FAILED=0
step "failover: $RUNS runs"
for run in $(seq 1 "$RUNS"); do
  log=$LOGS/failover-$run.log
  if cargo test -q -p cluster --test failover -- --nocapture > "$log" 2>&1; then
    verdict=passed
  else
    verdict=failed
    FAILED=1
  fi
  line=$(sed -n 's/^failover figures: //p' "$log" | tail -n 1)
  [ -n "$line" ] || line=null
  printf '{"run":%d,"verdict":"%s","figures":%s}\n' "$run" "$verdict" "$line" >> "$FIGURES"
  echo "  run $run: $verdict ${line}" >&2
  [ "$verdict" = passed ] || tail -n 20 "$log" >&2
done

step "results"
machine_facts
export RUNS
python3 - "$FIGURES" "$OUT/failover.md" <<'PY'
import json, sys
from summary import comment, generated, median, write_table

runs_path, md_path = sys.argv[1:]
runs = [json.loads(line) for line in open(runs_path)]
measured = [r["figures"] for r in runs if r["figures"]]
md = [comment("bench-failover.sh", generated()), ""]
md.append(f"Failover, {len(runs)} runs: three servers behind nginx, three Chromium pages "
          "(one on each server), one page saying a message every 30 ms; the server of "
          "another page hung after 0.3 s, with a message of that page's read and never passed "
          "on, and killed 0.2 s later. Messages sent: by both pages.")
md.append("")
md.append("| run | back in the room after | messages sent | lost (all pages) | shown twice (all pages) | verdict |")
md.append("|---:|---:|---:|---:|---:|---|")
for r in runs:
    f = r["figures"] or {}
    back = f"{f['recovered_ms'] / 1000:.2f} s" if f else "n/a"
    md.append(f"| {r['run']} | {back} | {f.get('sent', 'n/a')} | {f.get('lost', 'n/a')} | "
              f"{f.get('duplicated', 'n/a')} | {r['verdict']} |")
if measured:
    back = [f["recovered_ms"] / 1000 for f in measured]
    md.append("")
    md.append(f"Back in the room: median {median(back):.2f} s, from "
              f"{min(back):.2f} to {max(back):.2f} s; lost in all runs: "
              f"{sum(f['lost'] for f in measured)}; shown twice: "
              f"{sum(f['duplicated'] for f in measured)}.")
write_table(md_path, md)
PY
echo "$SCRIPT_NAME: wrote $OUT/failover.md" >&2
if [ "$FAILED" -eq 0 ] && [ "$RUNS" -ge 6 ]; then
  cp -- "$OUT/failover.md" "$ROOT/book/src/generated/bench-failover.md"
  echo "$SCRIPT_NAME: copied the table to book/src/generated/bench-failover.md" >&2
else
  echo "$SCRIPT_NAME: NOT copying the table to the book (a run failed, or fewer than 6 runs)" >&2
fi
[ "$FAILED" -eq 0 ] || { echo "$SCRIPT_NAME: at least one run failed (logs in ${LOGS#"$ROOT"/})" >&2; exit 1; }
