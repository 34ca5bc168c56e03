#!/usr/bin/env bash
# Runs the side-by-side benchmarks from a kit (bench/pack_kit.sh) on a machine with many cores,
# where the client no longer has to share the server's CPUs: every server pinned to 2 CPUs of
# distinct physical cores (GORT_PROCS=GOMAXPROCS=2, nginx 2 workers), the load generators pinned
# to CLIENT_N other CPUs (never a sibling of a server CPU, never CPU 0, which takes the
# interrupts), then the core workloads at 1 to all procs. Each phase writes its report as soon
# as it ends, so a run cut short keeps what it finished.
#
#   bench/kit_run.sh KIT_DIR RESULTS_DIR
#
# PHASES="smoke echo http core"   smoke: one short run of every server, stops the script on a
#                                 failure (so a broken kit costs seconds, not the whole lease);
#                                 light (not in the default): echo at 10 connections with one
#                                 client thread, a server that is not CPU-bound
#                                 solo (not in the default): echo at 100 connections with every
#                                 server on one CPU (GORT_PROCS=GOMAXPROCS=1): set beside the
#                                 2-CPU echo phase, it tells a cost of gort's own path (already
#                                 there at 1 proc) from one of running on two cores
# NET_REPS=5 NET_DURATION=2 NET_WARMUP=1 CONNS="100 1000" CLIENT_N=8
# CORE_REPS=3 CORE_PROCS="1 2 4 8 16" (capped at nproc)
# CORE_WORKLOADS="skynet_chan fib mpmc mutex pingpong ring select4 tcpecho"
# net.log keeps every run's output, with gort's schedtrace lines (one a second: the scheduler's
# counters, the only view of where its CPU goes on a machine without perf); sched.md turns them
# into counters per message (bench/sched_counters.py).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
die() { echo "kit_run.sh: $*" >&2; exit 1; }
[[ $# -eq 2 ]] || die "usage: bench/kit_run.sh KIT_DIR RESULTS_DIR"
kit_src="$1"
res="$(mkdir -p "$2" && cd "$2" && pwd)"
prefix=/tmp/gort-kit
PHASES="${PHASES:-smoke echo http core}"
NET_REPS="${NET_REPS:-5}"
NET_DURATION="${NET_DURATION:-2}"
NET_WARMUP="${NET_WARMUP:-1}"
CONNS="${CONNS:-100 1000}"
CLIENT_N="${CLIENT_N:-8}"
CORE_REPS="${CORE_REPS:-3}"
CORE_PROCS="${CORE_PROCS:-1 2 4 8 16}"
CORE_WORKLOADS="${CORE_WORKLOADS:-skynet_chan fib mpmc mutex pingpong ring select4 tcpecho}"

# The kit's programs are patched for /tmp/gort-kit (bench/pack_kit.sh KIT_PREFIX).
if [[ "$(cd "$kit_src" && pwd)" != "$prefix" ]]; then
  rm -rf "$prefix"
  cp -a "$kit_src" "$prefix"
fi
export PATH="$prefix/bin:$PATH" GORT_COMMIT="$(cat "$prefix/commit")"
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# Server CPUs: the first two CPUs (after CPU 0) on distinct cores; client CPUs: the next CLIENT_N
# CPUs that are neither CPU 0 nor a sibling of a server CPU. Too few CPUs: nothing is pinned.
read -r server_cpus client_cpus < <(python3 - "$CLIENT_N" <<'PYEOF'
import glob, os, sys
want_client = int(sys.argv[1])
cpus = sorted(int(p.split("cpu")[-1]) for p in glob.glob("/sys/devices/system/cpu/cpu[0-9]*")
              if os.path.exists(p + "/topology/thread_siblings_list"))
cpus = [c for c in cpus if c in os.sched_getaffinity(0)]
def siblings(c):
    out = set()
    for part in open(f"/sys/devices/system/cpu/cpu{c}/topology/thread_siblings_list").read().strip().split(","):
        a, _, b = part.partition("-")
        out.update(range(int(a), int(b or a) + 1))
    return out
server, taken = [], {0} | siblings(0)
for c in cpus:
    if c not in taken and len(server) < 2:
        server.append(c)
        taken |= siblings(c)
client = [c for c in cpus if c not in taken][:want_client]
if len(server) < 2 or len(client) < want_client:
    print("- -")
else:
    print(",".join(map(str, server)), ",".join(map(str, client)))
PYEOF
)
{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)  commit: $GORT_COMMIT"
  echo "kernel: $(uname -r)  nproc: $(nproc)"
  lscpu 2>/dev/null | grep -E '^(Model name|Thread|Core|Socket|NUMA node\(s\)|L3)' || true
  lscpu -e 2>/dev/null || true
  echo "server cpus: $server_cpus  client cpus: $client_cpus"
  echo "io_uring_disabled: $(cat /proc/sys/kernel/io_uring_disabled 2>/dev/null || echo n/a)"
  echo "somaxconn: $(cat /proc/sys/net/core/somaxconn 2>/dev/null || echo n/a)" \
    "tcp_max_syn_backlog: $(cat /proc/sys/net/ipv4/tcp_max_syn_backlog 2>/dev/null || echo n/a)"
} | tee "$res/machine.txt" >&2
pin=()
if [[ "$server_cpus" != - ]]; then pin=(SERVER_CPUS="$server_cpus" CLIENT_CPUS="$client_cpus"); fi
threads=$([[ "$server_cpus" != - ]] && echo "$CLIENT_N" || echo 2)
threads=$((threads > 6 ? 6 : threads))
procs=2

net() {  # scenario reps duration warmup conns report
  env "${pin[@]}" PEERS_BIN="$prefix/peers" INSTALL=0 PROCS="$procs" SCENARIOS="$1" REPS="$2" DURATION="$3" \
    WARMUP="$4" CONNS="$5" GORT_SERVERS="gort-epoll gort-io_uring" CLIENT_THREADS="$threads" \
    WRK_THREADS="$threads" SCHEDTRACE=1000 OUT="$6" LOG="$res/net.log" \
    "$here/net_compare.sh" "$prefix/build"
}

for phase in $PHASES; do
  echo "kit_run.sh: == $phase ($(date -u +%T))" >&2
  case "$phase" in
    smoke)
      net "echo http" 1 1 0 100 "$res/smoke.md"
      if grep -qE '\*\*FAIL|FAIL|n/a' "$res/smoke.md"; then
        grep -nE 'FAIL|n/a' "$res/smoke.md" >&2
        die "smoke run failed; stopping"
      fi
      ;;
    echo | http) net "$phase" "$NET_REPS" "$NET_DURATION" "$NET_WARMUP" "$CONNS" "$res/$phase.md" ;;
    light)
      saved_threads=$threads
      threads=1
      net echo "$NET_REPS" "$NET_DURATION" "$NET_WARMUP" 10 "$res/light.md"
      threads=$saved_threads
      ;;
    solo)
      saved_pin=("${pin[@]}")
      if [[ "$server_cpus" != - ]]; then pin=(SERVER_CPUS="${server_cpus%%,*}" CLIENT_CPUS="$client_cpus"); fi
      procs=1
      net echo "$NET_REPS" "$NET_DURATION" "$NET_WARMUP" 100 "$res/solo.md"
      procs=2
      pin=("${saved_pin[@]}")
      ;;
    core)
      core_procs=""
      for p in $CORE_PROCS; do ((p <= $(nproc))) && core_procs+="$p "; done
      # core.log keeps each gort run's scheduler counters (steals, thread parks and wakes per
      # P): pingpong at 4-16 procs took 2.2x its 1-proc time there, and none of that shows at
      # 2-8 procs on 2 CPUs.
      REPS="$CORE_REPS" PROCS="$core_procs" WORKLOADS="$CORE_WORKLOADS" RUN_TIMEOUT=60 \
        GO_PEER="$prefix/peers/gortpeers" OUT="$res/core.md" LOG="$res/core.log" \
        "$here/compare.sh" "$prefix/build"
      ;;
    *) die "unknown phase '$phase'" ;;
  esac
done
if [[ -s "$res/net.log" ]]; then
  python3 "$here/sched_counters.py" "$res/net.log" "$res/sched.md" || true
fi
echo "kit_run.sh: done ($(date -u +%T))" >&2
