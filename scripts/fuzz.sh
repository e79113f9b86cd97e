#!/usr/bin/env bash
# scripts/fuzz.sh - coverage-guided fuzzing (cargo-fuzz, libFuzzer) of the
# lessons' decoders: lesson 2's frame Decoder and Assembler, lesson 1's
# request head, lesson 7's wiretap. The targets are fuzz/fuzz_targets/*.rs;
# each one's doc comment says what it checks.
#
# usage: scripts/fuzz.sh [SECONDS]      SECONDS per target [60]
#
# On stable Rust: cargo-fuzz needs nightly flags (-Zsanitizer=address), which
# RUSTC_BOOTSTRAP=1 unlocks. By hand, from the checkout:
#   RUSTC_BOOTSTRAP=1 cargo fuzz run TARGET                  # until Ctrl-C
#   RUSTC_BOOTSTRAP=1 cargo fuzz run TARGET fuzz/artifacts/TARGET/crash-...
#   (the second replays a crash; `cargo fuzz list` names the targets)
#
# What it does:
#   - installs cargo-fuzz if missing (cargo install cargo-fuzz --locked);
#   - builds every target: optimized, with debug assertions and overflow
#     checks (cargo-fuzz's default; --release alone would drop them), and
#     AddressSanitizer, which libFuzzer's -malloc_limit_mb needs;
#   - runs each for SECONDS on a scratch copy of its seeds (fuzz/corpus/TARGET,
#     kept in the repository; what the run adds stays in target/fuzz/), one
#     process on one core, with these limits: 512 MiB resident, no single
#     allocation of 64 MiB or more (our own limits are 16 MiB, and the targets
#     configure far smaller ones), 10 s for one input;
#   - prints one line per target:
#       fuzz TARGET: OK N executions in S s
#       fuzz TARGET: FAILED (crash) after N executions: ARTIFACT
#
# A failing input is kept under fuzz/artifacts/TARGET/ (crash-*, oom-*,
# leak-*, timeout-*); the run's whole output is target/fuzz/TARGET/run.log.
#
# Exit: 0 when every target ran clean, 1 when one crashed, panicked, went
# past a limit or timed out, 2 when fuzzing cannot be set up.
set -euo pipefail
# die, step, enter_root, cargo_target_dir: see there.
. "$(dirname "$0")/lib/common.sh"
enter_root

DURATION=${1:-60}
[[ $DURATION =~ ^[1-9][0-9]*$ ]] || die "usage: scripts/fuzz.sh [SECONDS] (a whole number, at least 1)"

# cargo-fuzz builds with -Z flags; this unlocks them on the stable toolchain.
export RUSTC_BOOTSTRAP=1
FUZZ_DIR=$ROOT/fuzz
LIMITS=(-rss_limit_mb=512 -malloc_limit_mb=64 -timeout=10)
# AddressSanitizer sets freed memory aside to catch its reuse, 256 MiB of it
# by default; that counts against the RSS limit, so keep less aside.
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=32
# One fuzzing process (libFuzzer's -jobs mode, which logs to fuzz-0.log in the
# current directory): the machine has two cores, and a build may use the other.
ONE_CORE=(-jobs=1 -workers=1)

if ! cargo fuzz --version >/dev/null 2>&1; then
  step "installing cargo-fuzz"
  cargo install cargo-fuzz --locked || die "cannot install cargo-fuzz"
fi

mapfile -t TARGETS < <(cargo fuzz list --fuzz-dir "$FUZZ_DIR")
[ "${#TARGETS[@]}" -gt 0 ] || die "no fuzz targets in $FUZZ_DIR"

step "building ${TARGETS[*]}"
cargo fuzz build --fuzz-dir "$FUZZ_DIR" --release --debug-assertions ||
  die "the fuzz targets do not build"

SCRATCH=$(cargo_target_dir)/fuzz
failed=0
for target in "${TARGETS[@]}"; do
  step "fuzzing $target for ${DURATION}s"
  work=$SCRATCH/$target
  rm -rf "$work"
  mkdir -p "$work/corpus"
  if [ -d "$FUZZ_DIR/corpus/$target" ]; then
    cp -R "$FUZZ_DIR/corpus/$target"/. "$work/corpus/"
  fi
  log=$work/run.log
  status=0
  # From the scratch folder: libFuzzer's job log (fuzz-0.log, which it also
  # prints when the job ends) lands there.
  (cd "$work" && cargo fuzz run --fuzz-dir "$FUZZ_DIR" --release --debug-assertions \
    "$target" corpus -- -max_total_time="$DURATION" -print_final_stats=1 \
    "${LIMITS[@]}" "${ONE_CORE[@]}") >"$log" 2>&1 || status=$?

  runs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$log" | tail -n 1)
  secs=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -n 1)
  artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
  if [ "$status" -eq 0 ] && [ -z "$artifact" ] && [ -n "$runs" ]; then
    echo "fuzz $target: OK $runs executions in ${secs:-$DURATION} s"
    continue
  fi
  failed=1
  case "${artifact##*/}" in
    crash-*) what=crash ;;
    oom-*) what="over the memory limit" ;;
    leak-*) what=leak ;;
    timeout-*) what=timeout ;;
    *) what="exit $status" ;;
  esac
  echo "fuzz $target: FAILED ($what) after ${runs:-?} executions: ${artifact:-no artifact, see $log}"
  # The panic and its message, else libFuzzer's or the sanitizer's verdict.
  if grep -q "panicked at" "$log"; then
    grep -m 1 -A 3 "panicked at" "$log"
  else
    grep -m 1 -E "ERROR: (libFuzzer|AddressSanitizer|LeakSanitizer)" "$log" || true
  fi | cut -c 1-500 | sed 's/^/    /'
  echo "    replay: RUSTC_BOOTSTRAP=1 cargo fuzz run $target ${artifact:-ARTIFACT}; log: $log"
done
exit "$failed"
