#!/usr/bin/env bash
# Makes the book's screenshots of the lessons' pages, so the book never
# shows a page as it used to look.
#
# It runs the real-browser tests (crates/browser/tests/pages.rs), which open
# each page in headless Chromium, check it, and save
# <cargo target dir>/screenshots/<page>.png; then it copies those PNGs into
# book/src/images/. Chromium, chromedriver and an emoji font come from
# Debian's packages: when they are missing and we are root, this script
# installs them.
#
#   scripts/screenshots.sh
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

# The same places the browser crate looks (crates/browser/src/tools.rs).
have_browser() {
  local driver="${CHROMEDRIVER:-$(command -v chromedriver || true)}"
  local chromium="${CHROMIUM:-}"
  if [ -z "$chromium" ]; then
    for c in /usr/lib/chromium/chromium "$(command -v chromium || true)" "$(command -v chromium-browser || true)"; do
      if [ -n "$c" ] && [ -x "$c" ]; then chromium=$c; break; fi
    done
  fi
  [ -n "$driver" ] && [ -x "$driver" ] && [ -n "$chromium" ] && [ -x "$chromium" ]
}

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
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    step "installing ${missing[*]} (Debian packages)"
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
  elif ! have_browser; then
    echo "Chromium and chromedriver are needed. Install them, e.g.:" >&2
    echo "  sudo apt-get install -y --no-install-recommends chromium chromium-driver fonts-noto-color-emoji fonts-wqy-microhei" >&2
    echo "or set CHROMIUM and CHROMEDRIVER to their paths." >&2
    exit 1
  else
    echo "note: no colour emoji or CJK font (fonts-noto-color-emoji, fonts-wqy-microhei): some characters show as boxes in the screenshots" >&2
  fi
fi

# Ask Cargo where its target folder is (CARGO_TARGET_DIR, a config file, or
# ./target): the tests save their screenshots there.
target_dir=$(cargo metadata --no-deps --format-version 1 |
  sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
shots="$target_dir/screenshots"

# Start empty, so only screenshots taken by this run are copied.
rm -f "$shots"/*.png

step "real-browser tests (they save $shots/*.png)"
# REQUIRE_BROWSER=1: a test that cannot find the browser fails instead of
# skipping, so we never copy a stale picture.
REQUIRE_BROWSER=1 cargo test -p browser --tests

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
