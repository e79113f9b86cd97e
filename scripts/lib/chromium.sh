# scripts/lib/chromium.sh - finding (and, as root, installing) the headless
# Chromium and chromedriver that the real-browser programs in crates/tools/browser
# drive. Sourced by screenshots.sh and wiretap-transcripts.sh:
#
#   . "$(dirname "$0")/lib/chromium.sh"
#
# Sourcing it only defines these functions:
#
#   have_browser        true when both are found where the browser crate looks
#                       (crates/tools/browser/src/tools.rs): chromedriver at
#                       $CHROMEDRIVER or on PATH; Chromium at $CHROMIUM, else
#                       /usr/lib/chromium/chromium, `chromium` or
#                       `chromium-browser` on PATH. Reads CHROMEDRIVER,
#                       CHROMIUM; sets nothing.
#   can_apt_install     true when we may install Debian packages: root, with
#                       apt-get
#   apt_install WHAT PACKAGE...
#                       says `step "installing WHAT (Debian packages)"` (the
#                       caller's step function), then apt-get update and
#                       apt-get install -y --no-install-recommends PACKAGE...;
#                       a failure of either ends a `set -e` script
#   browser_help PACKAGE...
#                       tells, on stderr, that Chromium and chromedriver are
#                       needed and how to get them: `sudo apt-get install ...
#                       PACKAGE...`, or CHROMIUM and CHROMEDRIVER

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

can_apt_install() { [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; }

apt_install() {
  local what=$1
  shift
  step "installing $what (Debian packages)"
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@"
}

browser_help() {
  echo "Chromium and chromedriver are needed. Install them, e.g.:" >&2
  echo "  sudo apt-get install -y --no-install-recommends $*" >&2
  echo "or set CHROMIUM and CHROMEDRIVER to their paths." >&2
}
