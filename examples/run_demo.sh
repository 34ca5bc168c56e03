#!/usr/bin/env bash
# Builds gort (Release) and runs the demo: 1 M goroutines, skynet, fork-join fib(35).
# Usage: bash examples/run_demo.sh [procs]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/.ci/install-deps"
build="${BUILD_DIR:-$root/build}"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j"$(nproc)" --target gort_demo
"$build/examples/gort_demo" "$@"
