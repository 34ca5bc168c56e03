#!/usr/bin/env bash
# Packs everything the side-by-side benchmarks run into one folder that runs on another x86-64
# Linux machine that has none of Debian's packages and cannot fetch any (a lent 16-core machine,
# for scaling runs): gort's servers and macro benchmark, the C, Go and Boost.Fiber peers, the
# echo client, and wrk, nginx, redis-server and redis-benchmark where this machine has them.
#
#   bench/pack_kit.sh KIT_DIR [BUILD_DIR]     (BUILD_DIR: a Release build, default build)
#
# KIT_PREFIX=/tmp/gort-kit is the absolute path the kit must be copied to on the target. Every
# dynamically linked program gets this machine's loader and shared libraries (glibc included)
# from KIT_PREFIX/lib: patchelf sets its interpreter and a DT_RPATH (which, unlike DT_RUNPATH,
# also covers the libraries' own dependencies). So the target's glibc version and libraries do
# not matter, and nothing is set in the environment that the target's own tools would inherit.
# The Go peers are built with CGO_ENABLED=0 (static).
#
# Layout:  build/examples/{echo_server,http_server,kv_server}  build/bench/gort_macro
#          build/bench/peers/fiber/fiber_peers  build/CMakeCache.txt (build type, compiler)
#          peers/{epoll_echo,epoll_http,echo_load,gonet,gortpeers,go.version,gcc.version}
#          bin/{wrk,nginx,redis-server,redis-benchmark,taskset,setsid}  lib/  commit
# On the target, from a checkout of the same commit:
#   cp -a KIT_DIR /tmp/gort-kit && export PATH=/tmp/gort-kit/bin:$PATH GORT_COMMIT=$(cat /tmp/gort-kit/commit)
#   PEERS_BIN=/tmp/gort-kit/peers bench/net_compare.sh /tmp/gort-kit/build
#   GO_PEER=/tmp/gort-kit/peers/gortpeers bench/compare.sh /tmp/gort-kit/build
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
die() { echo "pack_kit.sh: $*" >&2; exit 1; }

[[ $# -ge 1 ]] || die "usage: bench/pack_kit.sh KIT_DIR [BUILD_DIR]"
kit="$1"
build="${2:-build}"
prefix="${KIT_PREFIX:-/tmp/gort-kit}"
[[ "$prefix" == /* ]] || die "KIT_PREFIX must be an absolute path"
for tool in patchelf ldd gcc g++ go; do
  command -v "$tool" >/dev/null || die "'$tool' not found (apt-get install patchelf golang-go)"
done
build_type="$(awk -F= '/^CMAKE_BUILD_TYPE:/ {print $2}' "$build/CMakeCache.txt" 2>/dev/null || true)"
[[ "$build_type" == Release ]] || die "$build is not a Release build (CMAKE_BUILD_TYPE='$build_type')"

rm -rf "$kit"
mkdir -p "$kit"/{build/examples,build/bench/peers/fiber,peers,bin,lib}
kit="$(cd "$kit" && pwd)"

cp "$build/CMakeCache.txt" "$kit/build/"
for b in echo_server http_server kv_server; do
  [[ -x "$build/examples/$b" ]] || die "$build/examples/$b not built"
  cp "$build/examples/$b" "$kit/build/examples/"
done
[[ -x "$build/bench/gort_macro" ]] || die "$build/bench/gort_macro not built"
cp "$build/bench/gort_macro" "$kit/build/bench/"
if [[ -x "$build/bench/peers/fiber/fiber_peers" ]]; then
  cp "$build/bench/peers/fiber/fiber_peers" "$kit/build/bench/peers/fiber/"
fi

# The peers, compiled exactly as bench/net_compare.sh compiles them.
gcc -O2 -Wall -o "$kit/peers/epoll_echo" "$root/bench/peers/c/epoll_echo.c"
gcc -O2 -Wall -o "$kit/peers/epoll_http" "$root/bench/peers/c/epoll_http.c"
g++ -O2 -std=c++20 -pthread -Wall -o "$kit/peers/echo_load" "$root/bench/net/echo_load.cpp"
gcc --version | head -n1 >"$kit/peers/gcc.version"
go_cache="${GOCACHE:-$(go env GOCACHE 2>/dev/null || true)}"
[[ -n "$go_cache" && "$go_cache" != off ]] || go_cache="$(mktemp -d "${TMPDIR:-/tmp}/gort-gocache.XXXXXX")"
(cd "$root/bench/peers/gonet" && CGO_ENABLED=0 GOCACHE="$go_cache" GOFLAGS= GOPROXY=off go build -o "$kit/peers/gonet" .)
(cd "$root/bench/peers/go" && CGO_ENABLED=0 GOCACHE="$go_cache" GOFLAGS= GOPROXY=off go build -o "$kit/peers/gortpeers" .)
go version >"$kit/peers/go.version"

# taskset and setsid too: a bare target image may lack util-linux.
for t in wrk nginx redis-server redis-benchmark taskset setsid; do
  p="$(PATH="$PATH:/usr/sbin:/sbin" command -v "$t" || true)"
  if [[ -n "$p" ]]; then cp -L "$p" "$kit/bin/$t"; else echo "pack_kit.sh: $t not installed; left out" >&2; fi
done
(cd "$root" && git rev-parse --short HEAD 2>/dev/null || echo nogit) >"$kit/commit"

# Each dynamic program: copy the libraries ldd resolves (by the name it asked for), then point
# the program at the kit's loader and libraries.
is_dynamic() { [[ -n "$(patchelf --print-interpreter "$1" 2>/dev/null || true)" ]]; }
while IFS= read -r -d '' f; do
  is_dynamic "$f" || continue
  interp="$(patchelf --print-interpreter "$f")"
  cp -nL "$interp" "$kit/lib/$(basename "$interp")"
  ldd "$f" | awk '$2 == "=>" && $3 ~ /^\// { print $1, $3 }' | while read -r name path; do
    [[ -e "$kit/lib/$name" ]] || cp -L "$path" "$kit/lib/$name"
  done
  patchelf --set-interpreter "$prefix/lib/$(basename "$interp")" --force-rpath --set-rpath "$prefix/lib" "$f"
done < <(find "$kit/build" "$kit/peers" "$kit/bin" -type f -perm -u+x -print0)
echo "pack_kit.sh: $kit ($(du -sh "$kit" | cut -f1)) for $prefix, commit $(cat "$kit/commit")" >&2
