#!/usr/bin/env bash
# Builds gort and runs its test suite with ctest.
# Environment (all optional):
#   BUILD_DIR       build directory (default: build, or build-<sanitizer>/-boost variants)
#   GORT_SANITIZE   'address,undefined' or 'thread'
#   GORT_CONTEXT    asm (default) or boost
#   CTEST_ARGS      extra ctest arguments, e.g. '-L concurrency'
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/.ci/install-deps" wrk redis-tools curl gdb python3  # wrk, redis-cli, curl, python3: the example servers' tests; gdb: runtime/gort_gdb.py's
san="${GORT_SANITIZE:-}"
ctx="${GORT_CONTEXT:-asm}"
suffix=""
[ -n "$san" ] && suffix="-${san//,/-}"
[ "$ctx" != "asm" ] && suffix="$suffix-$ctx"
build="${BUILD_DIR:-$root/build$suffix}"
type=Release
[ -n "$san" ] && type=RelWithDebInfo
# Benchmarks and examples are not needed to test; sanitizer builds skip them to save time.
extra=()
[ -n "$san" ] && extra+=(-DGORT_BUILD_BENCH=OFF -DGORT_BUILD_EXAMPLES=OFF)
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE="$type" -DGORT_SANITIZE="$san" \
  -DGORT_CONTEXT="$ctx" -DGORT_WERROR=ON "${extra[@]}" >/dev/null
cmake --build "$build" -j"$(nproc)"
cd "$build"
runner=()
if [[ "$san" == *thread* ]]; then
  # TSan (gcc 12) cannot handle the high-entropy address layouts of recent kernels; run with
  # address randomization off for the test processes only.
  runner=(setarch "$(uname -m)" -R)
  export TSAN_OPTIONS="${TSAN_OPTIONS:-halt_on_error=1 second_deadlock_stack=1}"
fi
if [[ "$san" == *address* ]]; then
  export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}"
  export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
fi
# shellcheck disable=SC2086
"${runner[@]}" ctest --output-on-failure -j"$(nproc)" ${CTEST_ARGS:-}
