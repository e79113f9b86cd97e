#!/usr/bin/env bash
# Makes the book's screenshots of the lessons' pages, so the book never
# shows a page as it used to look.
#
# It runs the real-browser tests (crates/tools/browser/tests/, and lesson 8's
# crates/cluster/tests/browser.rs), which open each page in headless
# Chromium, check it, and save <cargo target dir>/screenshots/<page>.png;
# then it copies those PNGs into book/src/images/. Chromium, chromedriver,
# the fonts and redis-server come from Debian's packages: when they are
# missing and we are root, this script installs them.
#
#   scripts/screenshots.sh
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"    # die, cargo_target_dir
. "$(dirname "$0")/lib/chromium.sh"  # have_browser, can_apt_install, apt_install, browser_help
cd "$(dirname "$0")/.."

# Unlike common.sh's, our steps go to stdout.
step() { printf '\n==> %s\n' "$*"; }

# Without a colour emoji font the echo page's 👋 is an empty box in the
# picture. The tests check text, not glyphs, so they pass either way; the
# font is for the book's sake only.
have_emoji_font() { fc-list 2>/dev/null | grep -qi emoji; }
# Likewise the push page's Chinese phrases without a CJK font (a small one).
have_cjk_font() { fc-list :lang=zh 2>/dev/null | grep -q .; }

missing=()
have_browser || missing+=(chromium chromium-driver)
have_emoji_font || missing+=(fonts-noto-color-emoji)
have_cjk_font || missing+=(fonts-wqy-microhei)
command -v redis-server >/dev/null || missing+=(redis-server)
if [ "${#missing[@]}" -gt 0 ]; then
  if can_apt_install; then
    apt_install "${missing[*]}" "${missing[@]}"
  elif ! have_browser; then
    browser_help chromium chromium-driver fonts-noto-color-emoji fonts-wqy-microhei
    exit 1
  else
    echo "note: no colour emoji or CJK font (fonts-noto-color-emoji, fonts-wqy-microhei): some characters show as boxes in the screenshots" >&2
  fi
fi

# Ask Cargo where its target folder is (CARGO_TARGET_DIR, a config file, or
# ./target): the tests save their screenshots there.
target_dir=$(cargo_target_dir)
shots="$target_dir/screenshots"

# Start empty, so only screenshots taken by this run are copied.
rm -f "$shots"/*.png

step "real-browser tests (they save $shots/*.png)"
# REQUIRE_BROWSER=1: a test that cannot find the browser fails instead of
# skipping, so we never copy a stale picture.
REQUIRE_BROWSER=1 cargo test -p browser --tests
# Lesson 8's page on two servers needs a redis-server too (the test starts
# its own).
REQUIRE_BROWSER=1 REQUIRE_REDIS=1 cargo test -p cluster --test browser

shopt -s nullglob
pngs=("$shots"/*.png)
if [ "${#pngs[@]}" -eq 0 ]; then
  echo "the tests passed but saved no screenshot in $shots" >&2
  exit 1
fi

step "copying into book/src/images/"
mkdir -p book/src/images
cp -- "${pngs[@]}" book/src/images/
for png in "${pngs[@]}"; do
  echo "book/src/images/$(basename "$png")"
done
