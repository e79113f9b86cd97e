# scripts/lib/common.sh - helpers every script in scripts/ may source:
#
#   . "$(dirname "$0")/lib/common.sh"
#
# Sourcing it defines functions and SCRIPT_NAME only; it changes nothing else
# (no cd, no trap, no set -e: the script sets its own options).
#
#   SCRIPT_NAME         the running script's file name (bench-echo.sh, ...),
#                       the prefix of its messages; read from $0
#   die MSG...          prints "SCRIPT_NAME: MSG" on stderr and exits 2 (the
#                       scripts' "cannot be set up" code)
#   step MSG...         prints "==> MSG" after a blank line, on stderr
#   loud MSG...         a note that changes what the figures mean, framed in
#                       !!! lines, on stderr
#   enter_root          sets ROOT to the checkout (git's top level, else the
#                       folder above the script's) and cd's there; reads $0
#   cargo_target_dir    prints where cargo puts its builds (target/,
#                       $CARGO_TARGET_DIR, or a config file's), from `cargo
#                       metadata`; exits with cargo's status when that fails,
#                       dies when it cannot tell. Call it from the workspace
#                       (after enter_root), as TARGET=$(cargo_target_dir).

SCRIPT_NAME=${0##*/}

die() { echo "$SCRIPT_NAME: $*" >&2; exit 2; }
step() { printf '\n==> %s\n' "$*" >&2; }
loud() { printf '\n!!!!!!!!\n!!! %s\n!!!!!!!!\n\n' "$*" >&2; }

enter_root() {
  ROOT=$(git -C "$(dirname "$0")" rev-parse --show-toplevel 2>/dev/null) \
    || ROOT=$(cd "$(dirname "$0")/.." && pwd)
  cd "$ROOT"
}

cargo_target_dir() {
  local dir
  dir=$(cargo metadata --format-version 1 --no-deps |
    sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p') || exit  # cargo's own status
  [ -n "$dir" ] || die "cannot find cargo's target directory"
  printf '%s\n' "$dir"
}
