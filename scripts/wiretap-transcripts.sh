#!/usr/bin/env bash
# scripts/wiretap-transcripts.sh - captures the transcripts of the wiretap
# chapter (book/src/wiretap.md) from real sessions, so the chapter never
# shows what the pages and servers used to send.
#
# usage: scripts/wiretap-transcripts.sh
#
# It runs crates/tools/transcripts/src/main.rs, which starts each
# lesson and lesson 7's tap in-process on ports of their own, drives the
# chapter's sessions (headless Chromium on the echo and chat pages, the
# wiretap's by_hand example for what browsers never send), checks that each
# capture still has the shape the chapter's prose describes, and trims the
# events the way the chapter shows them. Times, keys, masks and tickets
# change from run to run; the shape does not, and a run that finds another
# shape fails and writes nothing.
#
# Settings, from the environment [default]:
#   OUT [book/src/generated]   where the wiretap-*.txt go. The old wiretap-*.txt
#                              there are replaced only when every session passed.
#                              CI can point this elsewhere to check the sessions
#                              without touching the book.
#
# Output: OUT/wiretap-<name>.txt (the chapter includes them in its text
# fences) and, untrimmed, <cargo target dir>/wiretap-transcripts/full/*.txt.
#
# Chromium, chromedriver: from Debian's packages; when they are missing and
# we are root, this script installs them.
#
# Exit: 0 when every transcript was written, 1 when a session failed or
# did not show what the chapter says, 2 when it cannot be set up.
set -euo pipefail

. "$(dirname "$0")/lib/common.sh"    # die, step, enter_root, cargo_target_dir
. "$(dirname "$0")/lib/chromium.sh"  # have_browser, can_apt_install, apt_install, browser_help

enter_root
OUT=${OUT:-book/src/generated}

if ! have_browser; then
  if can_apt_install; then
    apt_install "chromium and chromium-driver" chromium chromium-driver
  else
    browser_help chromium chromium-driver
    exit 2
  fi
fi

# Release builds: the captures show real timings, and a debug build's
# lessons and tap would add their own slowness to every gap.
step "building the wiretap's by_hand client and the capture program (release)"
cargo build --release --quiet -p wiretap --example by_hand
cargo build --release --quiet -p transcripts
TARGET=$(cargo_target_dir)
WORK=$TARGET/wiretap-transcripts
rm -rf "$WORK"
mkdir -p "$WORK/new" "$WORK/full"

step "capturing the sessions"
"$TARGET/release/wiretap-transcripts" \
  --by-hand "$TARGET/release/examples/by_hand" \
  --out "$WORK/new" --full "$WORK/full" > /dev/null \
  || { echo "wiretap-transcripts.sh: the capture failed; $OUT is unchanged" >&2; exit 1; }

step "writing $OUT/wiretap-*.txt"
mkdir -p "$OUT"
# Every session passed: replace the whole set, so a transcript the
# program no longer makes does not linger.
rm -f "$OUT"/wiretap-*.txt
cp "$WORK"/new/wiretap-*.txt "$OUT"/
ls "$OUT"/wiretap-*.txt
echo "wiretap-transcripts.sh: the untrimmed captures are in $WORK/full" >&2
