#!/bin/sh
# Cross-compiles tests/asm/context_selftest.cpp with asm/ctx_arm64_aapcs_elf_gas.S for AArch64
# (static binary) and runs it under qemu-user. Exits 77 (ctest: skipped) when the cross
# compiler or qemu is not installed.
#
#   tests/asm/run_aarch64.sh [build-dir]
#
# Tools (override through the environment):
#   GORT_AARCH64_CXX   cross C++ compiler   (default: aarch64-linux-gnu-g++)
#   GORT_QEMU_AARCH64  qemu user emulator   (default: qemu-aarch64, then qemu-aarch64-static)
# Debian/Ubuntu: apt-get install g++-aarch64-linux-gnu qemu-user
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

cxx=${GORT_AARCH64_CXX:-aarch64-linux-gnu-g++}
qemu=${GORT_QEMU_AARCH64:-}
if [ -z "$qemu" ]; then
  for q in qemu-aarch64 qemu-aarch64-static; do
    if command -v "$q" >/dev/null 2>&1; then qemu=$q; break; fi
  done
fi
if ! command -v "$cxx" >/dev/null 2>&1; then
  echo "SKIP: AArch64 cross compiler '$cxx' not found (apt-get install g++-aarch64-linux-gnu)"
  exit 77
fi
if [ -z "$qemu" ] || ! command -v "$qemu" >/dev/null 2>&1; then
  echo "SKIP: qemu-aarch64 not found (apt-get install qemu-user)"
  exit 77
fi

if [ $# -ge 1 ]; then
  out=$1
  mkdir -p "$out"
else
  out=$(mktemp -d)
  trap 'rm -rf "$out"' EXIT
fi

status=0
# Two builds: plain, and with -mbranch-protection=standard. Under qemu's "max" CPU the second
# one really signs and authenticates return addresses (PAC) in the C++ code around the switch.
# BTI itself is not enforced there: Debian's static libc/libstdc++ objects carry no BTI note,
# so the linked binary is not BTI-marked.
for variant in plain branch-protection; do
  flags=""
  [ "$variant" = branch-protection ] && flags="-mbranch-protection=standard"
  exe="$out/gort_context_selftest_aarch64_$variant"
  # shellcheck disable=SC2086
  "$cxx" -std=c++20 -O2 -g -static -fno-omit-frame-pointer -Wall -Wextra $flags \
    -o "$exe" "$here/context_selftest.cpp" "$root/asm/ctx_arm64_aapcs_elf_gas.S"
  echo "== aarch64 ($variant) under $qemu"
  if "$qemu" -cpu max "$exe"; then :; else
    echo "FAILED: aarch64 ($variant)"
    status=1
  fi
done
exit $status
