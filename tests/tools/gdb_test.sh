#!/usr/bin/env bash
# runtime/gort_gdb.py against a stopped gort program (tests/tools/gdb_target.cpp): `info
# goroutines` lists the parked goroutines with their wait reasons and sites, and `goroutine all
# bt` shows each one's frames down to the function it parked in, in the live process and in a
# core file written from it (gcore; with GORT_STACK_GUARD=mprotect, see runtime/gort_gdb.py).
# Exit 77 (skipped) without gdb or where this machine does
# not let gdb run a program (no ptrace).
#   gdb_test.sh TARGET SCRIPT [core|no-core]
set -euo pipefail
target="$1"
script="$2"
core_part="${3:-core}"
command -v gdb >/dev/null || { echo "gdb not installed: skipped"; exit 77; }
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
out="$(GORT_PROCS=2 timeout 120 gdb -nx -batch -ex run -ex "source $script" \
  -ex "info goroutines" -ex "goroutine all bt" -ex "goroutine 9999 bt" -ex kill "$target" 2>&1 || true)"
echo "$out"
if ! grep -q "SIGTRAP" <<<"$out"; then
  if grep -qiE "ptrace|not permitted|couldn't get registers" <<<"$out"; then
    echo "gdb cannot run programs here: skipped"
    exit 77
  fi
  echo "FAIL: the target never stopped at its SIGTRAP"
  exit 1
fi
fail=0
check() {  # description, count wanted at least, extended regex
  local n
  n="$(grep -cE "$3" <<<"$out" || true)"
  if ((n < $2)); then
    echo "FAIL: $1: wanted >= $2 lines matching /$3/, got $n"
    fail=1
  fi
}
check "three goroutines parked on the channel" 3 '^ +[0-9]+ +waiting \(chan receive\) +created at .*gdb_target\.cpp:[0-9]+ in '
check "the sleeper" 1 '^ +[0-9]+ +waiting \(sleep\) +created at .*gdb_target\.cpp'
check "the main goroutine, running" 1 '^ +1 +running +created at '
check "a backtrace header per parked goroutine" 4 '^goroutine [0-9]+ \[waiting'
check "each channel waiter's frames reach ParkedInTarget" 3 '^  #[0-9]+ 0x[0-9a-f]+ in .*ParkedInTarget'
check "the running goroutine has no saved frames" 1 'running on a thread'
check "an unknown id is an error" 1 'goroutine 9999: no such goroutine'

# The same from a core file: nothing runs in a core, everything is read from memory.
[[ "$core_part" == core ]] || exit "$fail"
GORT_PROCS=2 GORT_STACK_GUARD=mprotect timeout 120 gdb -nx -batch -ex run -ex "gcore $tmp/core" \
  -ex kill "$target" >/dev/null 2>&1 || true
if [[ -s "$tmp/core" ]]; then
  out="$(timeout 120 gdb -nx -batch -ex "source $script" -ex "info goroutines" \
    -ex "goroutine all bt" "$target" "$tmp/core" 2>&1 || true)"
  echo "$out"
  check "core: three goroutines parked on the channel" 3 '^ +[0-9]+ +waiting \(chan receive\) +created at .*gdb_target\.cpp'
  check "core: each channel waiter's frames reach ParkedInTarget" 3 '^  #[0-9]+ 0x[0-9a-f]+ in .*ParkedInTarget'
else
  echo "FAIL: gcore wrote no core file"
  fail=1
fi
exit "$fail"
