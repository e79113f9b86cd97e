# scripts/lib/bench.sh - what the benchmark scripts (bench-*.sh,
# profile-echo.sh) share: setting up, pinning, building, starting and
# stopping a server, running loadgen, the machine's facts and the exit
# codes. (Their Python summaries share scripts/lib/summary.py.) Sourced as
#
#   . "$(dirname "$0")/lib/bench.sh"
#
# It sources common.sh (die, step, loud, enter_root, cargo_target_dir: see
# there). Sourcing it defines the functions below; sets REF_VERSION (the
# reference's tokio-tungstenite version, 0.29.0), FAST_VERSION (fastwebsockets', 0.10.0),
# REF_DIR (where the reference
# is copied and built: $BENCH_REF_DIR, by default
# ${TMPDIR:-/tmp}/ws-from-scratch-bench-ref), SERVER_PID="", SERVER_PORT=""
# and BACKSTOP=(); and installs an EXIT trap that kills the server
# start_server left running (a script with servers of its own may install
# its own trap instead).
#
# Exit codes, as the scripts' headers promise: die exits 2 (cannot be set
# up); bench_exit exits 1 (a run failed, or a strict target was missed).
#
# Setting up
#   bench_init          enter_root (sets ROOT, cd's there), then dies unless
#                       python3 is there to read loadgen's JSON; puts
#                       scripts/lib on PYTHONPATH, for the summaries'
#                       shared helpers (summary.py)
#   pin_cpus            the servers go on CPU 0, loadgen on CPU 1: sets
#                       SERVER_CPU=(taskset -c 0), LOAD_CPU=(taskset -c 1),
#                       PINNED=yes. Without taskset or a second CPU: sets
#                       them to (), PINNED=no, NOT_PINNED to why (a sentence)
#                       and returns 1
#   count_syscalls      sets SYSCALLS=(--syscalls) when perf can count a
#                       process's system calls on the kernel's tracepoints
#                       (Debian's linux-perf), so loadgen reports the
#                       server's over the window; otherwise SYSCALLS=() and
#                       says so (loud)
#   raise_fd_limit MUST raises this shell's soft open-file limit (loadgen and
#                       the servers inherit it) to cover MUST client
#                       connections or the IDLE idle ones, whichever is more,
#                       plus 1024. When the hard limit is too low for IDLE
#                       but covers MUST: says so (loud), sets IDLE=0 (skip
#                       the idle part) and, when MUST > 0, raises the soft
#                       limit to the hard one. When it does not cover MUST
#                       clients: dies. Reads and may set IDLE.
#
# Building
#   build_ours CARGO_ARGS...
#                       cargo build --release --quiet -p loadgen (a failure
#                       ends the script), then ours with `cargo build
#                       --release --quiet CARGO_ARGS...`. Sets HAVE_OURS
#                       (yes, or no when ours did not build), TARGET (cargo's
#                       target directory: honours CARGO_TARGET_DIR) and
#                       LOADGEN ($TARGET/release/loadgen)
#   build_package_example CRATE VERSION EXAMPLE CARGO_ARGS...
#                       builds CRATE VERSION's examples/EXAMPLE.rs from its
#                       package in ${CARGO_HOME:-~/.cargo}/registry/src
#                       (running `cargo fetch` when it is not unpacked yet),
#                       copied to REF_DIR/CRATE-VERSION and built there as
#                       its own package into REF_DIR/target, with our
#                       toolchain whatever its rust-toolchain file says and
#                       no rustflags whatever its .cargo/config.toml says:
#                       never inside this repository. Reads REF_DIR,
#                       CARGO_HOME; sets CARGO_HOME (when unset) and
#                       EXAMPLE_BIN (the example's binary); dies when it
#                       cannot build it
#   build_reference EXAMPLE
#                       build_package_example tokio-tungstenite REF_VERSION
#                       EXAMPLE; sets REF_BIN
#
# Servers (one at a time)
#   port_in_use PORT    true when anything uses local TCP port PORT, in any
#                       state (read from /proc/net/tcp{,6}, not probed: a
#                       probe would show in the servers' logs)
#   listening PORT      true when something listens on local TCP port PORT
#   time_wait_count     prints how many sockets are in TIME_WAIT
#   start_server NAME ARGS...
#                       starts ${BIN[NAME]} 127.0.0.1:PORT ARGS... with
#                       RUST_LOG=warn, pinned (SERVER_CPU), output to
#                       $LOGS/${LOG_PREFIX}NAME-PORT.log, on the next port
#                       from PORT that nothing uses (below 32768, the start
#                       of Linux's ephemeral range); waits until it listens.
#                       Sets SERVER_PID and SERVER_PORT and moves PORT past
#                       it; tries the next port when the server did not
#                       listen (10 times, then dies). A server whose port is
#                       fixed (FIXED_PORT[NAME], for an example that takes
#                       no address) gets ARGS only, on that port (dies when
#                       something else listens there). Reads BIN and FIXED_PORT (associative
#                       arrays), LOGS, LOG_PREFIX (default empty), SERVER_CPU
#   stop_server         stops the server that is up (TERM, up to 5 s, then
#                       KILL) and sets SERVER_PID=""
#
# Measuring
#   run_loadgen PHASE NAME ROUND URL_PATH LOADGEN_ARGS...
#                       runs BACKSTOP LOAD_CPU LOADGEN --url
#                       ws://127.0.0.1:SERVER_PORTURL_PATH (URL_PATH: /ws,
#                       /, ...) --server-pid
#                       SERVER_PID --json LOADGEN_ARGS...; sets REPORT (its
#                       JSON, or null when it printed nothing) and RC (its
#                       exit status), and appends {"phase", "server",
#                       "round", "exit", "report"} as one line to RUNS
#   rotated ROUND ITEM...
#                       prints the ITEMs one a line, starting from the
#                       (ROUND-1)th (modulo their number) and wrapping
#                       around: each round runs them in another order, so
#                       none always runs first or after the same neighbour
#
# Results
#   machine_facts       sets and exports COMMIT (short hash, "+changes" when
#                       the tree differs from HEAD, "unknown" outside git),
#                       CPU_MODEL, NPROC and KERNEL
#   summary_done JSON MD
#                       after `python3 ... || SUMMARY_RC=$?`: dies unless
#                       SUMMARY_RC is 0 or 3 (3: a target missed), then says
#                       that JSON and MD were written
#   bench_exit          exits 1, saying why, when a run failed (FAILED is not
#                       0) or a strict target was missed (SUMMARY_RC is 3);
#                       returns otherwise

. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

# ------------------------------------------------------------------ setting up
bench_init() {
  enter_root
  command -v python3 >/dev/null || die "python3 is needed to read loadgen's JSON"
  export PYTHONPATH="$ROOT/scripts/lib${PYTHONPATH:+:$PYTHONPATH}"
  export PYTHONDONTWRITEBYTECODE=1  # no __pycache__ in the tree
}

pin_cpus() {
  SERVER_CPU=(taskset -c 0)
  LOAD_CPU=(taskset -c 1)
  PINNED=yes
  NOT_PINNED=""
  if ! command -v taskset >/dev/null; then
    NOT_PINNED="taskset not found: server and loadgen are NOT pinned; figures are noisier"
  elif [ "$(nproc)" -lt 2 ]; then
    NOT_PINNED="only $(nproc) CPU: server and loadgen share it; figures are NOT comparable to 2-core runs"
  fi
  [ -n "$NOT_PINNED" ] || return 0
  SERVER_CPU=() LOAD_CPU=() PINNED=no
  return 1
}

count_syscalls() {
  SYSCALLS=()
  if ! command -v perf >/dev/null; then
    loud "perf not found: system calls are NOT counted (Debian: apt-get install linux-perf)"
  elif ! perf stat -e raw_syscalls:sys_enter -- true >/dev/null 2>&1; then
    loud "perf cannot count system calls here (no tracepoints, or no permission): they are NOT counted"
  else
    SYSCALLS=(--syscalls)
  fi
}

# Every connection is a file descriptor, in loadgen and in the server (which
# inherits this shell's limit). `ulimit -n` is per process, so one raise here
# covers both.
raise_fd_limit() {
  local must=$1 most need soft hard
  most=$must
  [ "$IDLE" -le "$most" ] || most=$IDLE
  need=$((most + 1024))
  soft=$(ulimit -Sn) hard=$(ulimit -Hn)
  if [ "$soft" = unlimited ] || [ "$soft" -ge "$need" ]; then
    return 0
  fi
  if [ "$hard" = unlimited ] || [ "$hard" -ge "$need" ]; then
    ulimit -Sn "$need"
  elif [ "$must" -gt 0 ] && [ "$hard" -lt $((must + 1024)) ]; then
    die "the open-file hard limit is $hard, below the $((must + 1024)) that $must clients need"
  else
    loud "the open-file hard limit is $hard, below the $need that $IDLE idle connections need: skipping the idle part (raise it as root, or set IDLE lower)"
    IDLE=0
    [ "$must" -eq 0 ] || ulimit -Sn "$hard"
  fi
}

# -------------------------------------------------------------------- building
REF_VERSION=0.29.0
# fastwebsockets: the version the workspace's dev-dependency pins (so `cargo
# fetch` unpacks it), whose package ships examples/echo_server.rs.
FAST_VERSION=0.10.0
REF_DIR=${BENCH_REF_DIR:-${TMPDIR:-/tmp}/ws-from-scratch-bench-ref}

build_ours() {
  cargo build --release --quiet -p loadgen
  HAVE_OURS=yes
  if ! cargo build --release --quiet "$@"; then
    HAVE_OURS=no
  fi
  TARGET=$(cargo_target_dir)
  LOADGEN=$TARGET/release/loadgen
}

# The package CRATE-VERSION's directory in the registry, when unpacked and
# holding examples/EXAMPLE.rs; nothing otherwise.
find_package() {
  local crate=$1 version=$2 example=$3 dir
  for dir in "$CARGO_HOME"/registry/src/*/"$crate-$version"; do
    if [ -f "$dir/examples/$example.rs" ]; then echo "$dir"; return 0; fi
  done
  return 0  # found nothing: an empty answer, not a failure that set -e would end us on
}

build_package_example() {
  local crate=$1 version=$2 example=$3 src pkg toolchain=()
  shift 3
  step "building $crate $version's examples/$example.rs"
  CARGO_HOME=${CARGO_HOME:-$HOME/.cargo}
  src=$(find_package "$crate" "$version" "$example")
  if [ -z "$src" ]; then
    cargo fetch --quiet  # the workspace depends on it, so this unpacks it
    src=$(find_package "$crate" "$version" "$example")
  fi
  [ -n "$src" ] || die "$crate-$version is not in $CARGO_HOME/registry/src"
  # Built from a copy outside the repository, as its own package (with its
  # own Cargo.lock and target directory), exactly as its authors ship it;
  # every benchmark builds its examples from the same copy.
  mkdir -p "$REF_DIR"
  pkg=$REF_DIR/$crate-$version
  [ -f "$pkg/Cargo.toml" ] || cp -R "$src" "$pkg"
  # A package may pin an old toolchain in a rust-toolchain file, which
  # rustup would try to download: it builds with ours.
  if command -v rustup >/dev/null; then
    toolchain=(env "RUSTUP_TOOLCHAIN=$(rustup show active-toolchain | cut -d' ' -f1)")
  fi
  # RUSTFLAGS set (empty) overrides any rustflags in the package's own
  # .cargo/config.toml (fastwebsockets asks for target-cpu=native there):
  # every server is built for the same generic x86-64 as ours, so what we
  # compare is code, not instruction sets.
  (cd "$pkg" && "${toolchain[@]}" env CARGO_TARGET_DIR="$REF_DIR/target" RUSTFLAGS= \
      cargo build --release --quiet --example "$example" "$@") \
    || die "building $crate's $example failed (see above)"
  EXAMPLE_BIN=$REF_DIR/target/release/examples/$example
}

build_reference() {
  build_package_example tokio-tungstenite "$REF_VERSION" "$1"
  REF_BIN=$EXAMPLE_BIN
}

# --------------------------------------------------------------------- servers
port_in_use() {
  local hex
  hex=$(printf '%04X' "$1")
  awk -v p=":$hex" 'FNR > 1 && substr($2, length($2) - 4) == p { found = 1 } END { exit !found }' \
    /proc/net/tcp /proc/net/tcp6 2>/dev/null
}
# State 0A is LISTEN.
listening() {
  local hex
  hex=$(printf '%04X' "$1")
  awk -v p=":$hex" 'FNR > 1 && $4 == "0A" && substr($2, length($2) - 4) == p { found = 1 } END { exit !found }' \
    /proc/net/tcp /proc/net/tcp6 2>/dev/null
}
time_wait_count() { awk 'FNR > 1 && $4 == "06"' /proc/net/tcp /proc/net/tcp6 2>/dev/null | wc -l; }

SERVER_PID=""
SERVER_PORT=""
declare -A FIXED_PORT=()
bench_cleanup() { [ -z "$SERVER_PID" ] || kill "$SERVER_PID" 2>/dev/null || true; }
trap bench_cleanup EXIT

# A port can be taken between our check and the server's bind: then the
# server exits and we try the next one.
start_server() {
  local name=$1 attempt log
  shift
  for attempt in 1 2 3 4 5 6 7 8 9 10; do
    local address=()
    if [ -n "${FIXED_PORT[$name]-}" ]; then
      SERVER_PORT=${FIXED_PORT[$name]}
      # (Connections in TIME_WAIT on it do not stop a listener that sets
      # SO_REUSEADDR, as tokio's does.)
      ! listening "$SERVER_PORT" ||
        die "$name only listens on 127.0.0.1:$SERVER_PORT, and something else listens there"
    else
      while port_in_use "$PORT"; do PORT=$((PORT + 1)); done
      [ "$PORT" -lt 32768 ] || die "no free port below 32768 from PORT_BASE"
      SERVER_PORT=$PORT
      PORT=$((PORT + 1))
      address=("127.0.0.1:$SERVER_PORT")
    fi
    log=$LOGS/${LOG_PREFIX-}$name-$SERVER_PORT.log
    # RUST_LOG=warn for every server: logging each connection would bill
    # the server for our thousands of connects. (tokio-tungstenite's and
    # fastwebsockets' examples print a line per connection whatever we say;
    # to a file here.)
    RUST_LOG=warn "${SERVER_CPU[@]}" "${BIN[$name]}" "${address[@]}" "$@" > "$log" 2>&1 &
    SERVER_PID=$!  # taskset execs the server: same pid
    local waited
    for waited in $(seq 1 100); do
      listening "$SERVER_PORT" && return 0
      kill -0 "$SERVER_PID" 2>/dev/null || break
      sleep 0.05
    done
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
    echo "$SCRIPT_NAME: $name did not listen on $SERVER_PORT (attempt $attempt); log:" >&2
    tail -n 5 "$log" >&2 || true
  done
  die "could not start $name"
}

stop_server() {
  [ -n "$SERVER_PID" ] || return 0
  kill "$SERVER_PID" 2>/dev/null || true
  local i
  for i in $(seq 1 50); do
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  kill -9 "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
}

# ------------------------------------------------------------------- measuring
BACKSTOP=()

run_loadgen() {
  local phase=$1 name=$2 round=$3 path=$4
  shift 4
  RC=0
  REPORT=$("${BACKSTOP[@]}" "${LOAD_CPU[@]}" "$LOADGEN" \
    --url "ws://127.0.0.1:$SERVER_PORT$path" \
    --server-pid "$SERVER_PID" --json "$@") || RC=$?
  [ -n "$REPORT" ] || REPORT=null
  printf '{"phase":"%s","server":"%s","round":%d,"exit":%d,"report":%s}\n' \
    "$phase" "$name" "$round" "$RC" "$REPORT" >> "$RUNS"
}

rotated() {
  local round=$1 i
  shift
  local items=("$@")
  for i in $(seq 0 $(($# - 1))); do
    echo "${items[$(((i + round - 1) % $#))]}"
  done
}

# --------------------------------------------------------------------- results
machine_facts() {
  COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
  git diff --quiet HEAD 2>/dev/null || COMMIT="$COMMIT+changes"
  CPU_MODEL=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)
  NPROC=$(nproc) KERNEL=$(uname -r)
  export COMMIT CPU_MODEL NPROC KERNEL
}

summary_done() {
  case $SUMMARY_RC in
    0 | 3) ;;
    *) die "summarising the runs failed (the raw reports are in $RUNS)" ;;
  esac
  echo >&2
  echo "$SCRIPT_NAME: wrote $1 and $2" >&2
}

bench_exit() {
  if [ "$FAILED" -ne 0 ]; then
    echo "$SCRIPT_NAME: at least one run reported errors (see above and ${RUNS##*/})" >&2
    exit 1
  fi
  if [ "$SUMMARY_RC" -eq 3 ]; then
    echo "$SCRIPT_NAME: a target was missed (BENCH_STRICT=1)" >&2
    exit 1
  fi
}
