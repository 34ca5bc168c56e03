#!/usr/bin/env bash
# Network benchmarks side by side: gort's example servers (each poller backend, and io_uring
# with its stream reads in the ring) beside Go 1.19 (net, net/http), a hand-written
# single-threaded epoll loop in C, nginx (2 workers) and redis-server, the client on loopback on
# the same machine. Servers run interleaved, the order rotated by one at every repetition
# (gort-epoll, gort-io_uring, gort-io_uring-ring, Go, C; then gort-io_uring, ..., C,
# gort-epoll; ...), each run a freshly started server.
# Writes a markdown report to bench/results/<date>-<short git hash>-net.md.
#
#   bench/net_compare.sh [BUILD_DIR]          (BUILD_DIR, or $BUILD_DIR, default: build)
#
# Scenarios (SCENARIOS="echo http kv"):
#   echo  64-byte messages, one in flight per connection (bench/net/echo_load), CONNS connections:
#         msgs/s, p50/p99 latency, server CPU -> msgs/s per core used.
#         gort $BUILD_DIR/examples/echo_server, Go (bench/peers/gonet -mode echo), C epoll_echo,
#         and C epoll_echo --procs PROCS ("c-n": PROCS independent loops with SO_REUSEPORT, what
#         PROCS cores can do here without sharing anything; C_N=0 leaves it out).
#   http  wrk -t2 -cN --latency GET /: req/s and latency percentiles.
#         gort examples/http_server, Go net/http, C epoll_http (1 and PROCS processes), nginx
#         (2 workers).
#   kv    redis-benchmark -t ping,set,get -c 50 -q --csv, plain and pipelined (-P 16).
#         gort examples/kv_server, redis-server (save "", appendonly no).
# gort servers take --addr HOST:PORT, GORT_PROCS, GORT_POLLER=epoll|io_uring and
# GORT_URING_READS=ring|readiness from the environment; a missing binary shows as n/a.
# gort-io_uring runs GORT_URING_READS=readiness (the default), gort-io_uring-ring =ring.
#
# Environment:
#   REPS=5  DURATION=5 (s per echo/wrk run)  WARMUP=1 (s, unmeasured, before each echo/wrk run)
#   CONNS="100 1000"  PROCS=2 (GORT_PROCS and GOMAXPROCS)  SCENARIOS="echo http kv"
#   SIZE=64 (echo bytes)  CLIENT_THREADS=2 (echo_load)  WRK_THREADS=2
#   KV_N=100000 (requests per test)  KV_PIPE_N=1000000 (with -P 16)  KV_CLIENTS=50
#   PORT_BASE=18100  HOST=127.0.0.1  START_TIMEOUT=10 (s to wait for a server's port)
#   SERVER_CPUS= CLIENT_CPUS= (taskset -c lists to pin servers / clients; default: unpinned)
#   GORT_SERVERS="gort-epoll gort-io_uring gort-io_uring-ring" (the gort variants to run)
#   INSTALL=1 (apt-get install missing wrk, nginx-light, redis-tools, redis-server; 0: never)
#   PEERS_BIN=dir (use the peers and echo_load already built there, e.g. by bench/pack_kit.sh;
#                  nothing is compiled and neither gcc nor go is needed)
#   OUT=path.md (report path)  LOG=path (append every run's client and server output)
#   SCHEDTRACE=MS (gort servers print GORT_DEBUG=schedtrace lines every MS into LOG: the
#                  scheduler's counters, for a machine without a profiler; default off)
#
# The peers are compiled into bench/net/bin/ (git-ignored) on every run.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export PATH="$PATH:/usr/sbin:/sbin"  # nginx lives in /usr/sbin
root="$(cd "$here/.." && pwd)"
cd "$root"

BUILD_DIR="${1:-${BUILD_DIR:-build}}"
REPS="${REPS:-5}"
DURATION="${DURATION:-5}"
WARMUP="${WARMUP:-1}"
CONNS="${CONNS:-100 1000}"
PROCS="${PROCS:-2}"
SCENARIOS="${SCENARIOS:-echo http kv}"
SIZE="${SIZE:-64}"
CLIENT_THREADS="${CLIENT_THREADS:-2}"
WRK_THREADS="${WRK_THREADS:-2}"
KV_N="${KV_N:-100000}"
KV_PIPE_N="${KV_PIPE_N:-1000000}"
KV_CLIENTS="${KV_CLIENTS:-50}"
PORT_BASE="${PORT_BASE:-18100}"
HOST="${HOST:-127.0.0.1}"
START_TIMEOUT="${START_TIMEOUT:-10}"
SERVER_CPUS="${SERVER_CPUS:-}"
CLIENT_CPUS="${CLIENT_CPUS:-}"
INSTALL="${INSTALL:-1}"
GORT_SERVERS="${GORT_SERVERS:-gort-epoll gort-io_uring gort-io_uring-ring}"
SCHEDTRACE="${SCHEDTRACE:-}"
C_N="${C_N:-1}"

die() { echo "net_compare.sh: $*" >&2; exit 1; }
note() { echo "net_compare.sh: $*" >&2; }

[[ "$REPS" =~ ^[0-9]+$ ]] && ((REPS >= 1)) || die "REPS must be a positive integer"
[[ "$DURATION" =~ ^[0-9]+$ ]] && ((DURATION >= 1)) || die "DURATION must be a whole number of seconds >= 1"
[[ "$WARMUP" =~ ^[0-9]+$ ]] || die "WARMUP must be a whole number of seconds"
[[ "$PROCS" =~ ^[0-9]+$ ]] && ((PROCS >= 1)) || die "PROCS must be a positive integer"
((REPS >= 5)) || note "warning: REPS=$REPS < 5; DESIGN §7 asks for >= 5"
for s in $SCENARIOS; do
  case "$s" in echo | http | kv) ;; *) die "unknown scenario '$s' (echo http kv)" ;; esac
done
has_scenario() { [[ " $SCENARIOS " == *" $1 "* ]]; }
PEERS_BIN="${PEERS_BIN:-}"
needed_tools="python3 timeout setsid"
[[ -n "$PEERS_BIN" ]] || needed_tools+=" gcc g++ go"
for tool in $needed_tools; do
  command -v "$tool" >/dev/null || die "'$tool' not found"
done

# ---- install the peers and clients that are missing (Debian packages) --------------------------
declare -a want_pkgs=()
want() { command -v "$1" >/dev/null || want_pkgs+=("$2"); }
if has_scenario http; then want wrk wrk; want nginx nginx-light; fi
if has_scenario kv; then want redis-benchmark redis-tools; want redis-server redis-server; fi
if ((${#want_pkgs[@]})); then
  if [[ "$INSTALL" != 1 ]]; then
    note "missing: ${want_pkgs[*]} (INSTALL=$INSTALL: not installing; those rows will be n/a)"
  else
    sudo_cmd=()
    if [[ "$(id -u)" != 0 ]]; then
      if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo_cmd=(sudo -n); else sudo_cmd=(none); fi
    fi
    if [[ "${sudo_cmd[0]:-}" == none ]]; then
      note "missing: ${want_pkgs[*]}; not root and no sudo: install them with apt-get (rows will be n/a)"
    else
      note "installing ${want_pkgs[*]} with apt-get"
      apt_install() {
        "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >&2
      }
      if ! apt_install "${want_pkgs[@]}"; then
        "${sudo_cmd[@]}" apt-get update -q >&2 || true
        # nginx-light is not in every release; plain nginx serves as well
        apt_install "${want_pkgs[@]}" ||
          apt_install "${want_pkgs[@]/#nginx-light/nginx}" ||
          note "apt-get install failed; the missing peers will be n/a"
      fi
    fi
  fi
fi
have() { command -v "$1" >/dev/null; }

# ---- build the peers and the echo client (bench/net/bin, git-ignored) ---------------------------
if [[ -n "$PEERS_BIN" ]]; then
  bin="$PEERS_BIN"
  for b in epoll_echo epoll_http echo_load gonet; do
    [[ -x "$bin/$b" ]] || die "PEERS_BIN=$bin has no $b"
  done
else
  bin="bench/net/bin"
  mkdir -p "$bin"
  note "building peers -> $bin/"
  gcc -O2 -Wall -o "$bin/epoll_echo" bench/peers/c/epoll_echo.c
  gcc -O2 -Wall -o "$bin/epoll_http" bench/peers/c/epoll_http.c
  g++ -O2 -std=c++20 -pthread -Wall -o "$bin/echo_load" bench/net/echo_load.cpp
  go_cache="${GOCACHE:-$(go env GOCACHE 2>/dev/null || true)}"
  if [[ -z "$go_cache" || "$go_cache" == "off" ]]; then
    go_cache="$(mktemp -d "${TMPDIR:-/tmp}/gort-gocache.XXXXXX")"
  fi
  (cd bench/peers/gonet && GOCACHE="$go_cache" GOFLAGS="" GOPROXY=off go build -o "$root/$bin/gonet" .)
fi

# ---- scratch, server lifetime ---------------------------------------------------------------------
scratch="$(mktemp -d "${TMPDIR:-/tmp}/gort-net.XXXXXX")"
raw="$scratch/raw"
: >"$raw"
srv_pid=""

# Stops the current server: SIGTERM to its process group (setsid made it a group leader), wait
# up to 3 s for the leader, then SIGKILL the group.
stop_server() {
  [[ -n "$srv_pid" ]] || return 0
  local pid="$srv_pid" i st
  srv_pid=""
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 60; i++)); do
    st="$(cat "/proc/$pid/stat" 2>/dev/null || true)"
    st="${st##*) }"
    [[ -z "$st" || "${st:0:1}" == Z ]] && break
    sleep 0.05
  done
  kill -KILL -- "-$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
client_pid=""
# Runs a client in the background and waits for it, so that a signal to this script is handled
# at once (cleanup stops the client too). run_client TIMEOUT_S CMD... ; returns its exit status.
run_client() {
  local t="$1" rc=0
  shift
  timeout "$t" "${pin_client[@]}" "$@" &
  client_pid=$!
  wait "$client_pid" || rc=$?
  client_pid=""
  return "$rc"
}
cleanup() {
  if [[ -n "$client_pid" ]]; then kill -TERM "$client_pid" 2>/dev/null || true; fi
  stop_server
  rm -rf "$scratch"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

ulimit -n "$(ulimit -Hn)" 2>/dev/null || true  # 1000 connections and more on both sides

port_i=0
port_open() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }
next_port() {  # sets srv_port: a port nobody listens on, rotating over 500 (TIME_WAIT never matters)
  local p tries
  for ((tries = 0; tries < 500; tries++)); do
    p=$((PORT_BASE + port_i % 500))
    port_i=$((port_i + 1))
    if ! port_open "$p"; then
      srv_port="$p"
      return 0
    fi
  done
  die "no free port in $PORT_BASE..$((PORT_BASE + 499))"
}

# user+system clock ticks of a process and all its descendants (all threads)
tree_ticks() {
  python3 - "$1" <<'PYEOF'
import os, sys
root = int(sys.argv[1]); procs = {}
for d in os.listdir("/proc"):
    if not d.isdigit():
        continue
    try:
        s = open(f"/proc/{d}/stat").read()
    except OSError:
        continue
    f = s[s.rindex(")") + 2:].split()
    procs[int(d)] = (int(f[1]), int(f[11]) + int(f[12]))
if root not in procs:
    print(-1); sys.exit()
total, todo = 0, [root]
while todo:
    p = todo.pop()
    total += procs[p][1]
    todo.extend(c for c, (pp, _) in procs.items() if pp == p)
print(total)
PYEOF
}
clk_tck="$(getconf CLK_TCK)"

gort_bin_of() { echo "$BUILD_DIR/examples/$1"; }  # echo_server http_server kv_server

# Fills srv_cmd / srv_env for server $1 in scenario $2 listening on $3 (port). Returns 1 with
# srv_na set when the server is not available.
declare -a srv_cmd=() srv_env=()
srv_na=""
nginx_without=""
server_setup() {
  local name="$1" sc="$2" port="$3" gb
  srv_cmd=()
  srv_env=(GOMAXPROCS="$PROCS" GORT_PROCS="$PROCS")
  srv_na=""
  case "$name" in
    gort-epoll | gort-io_uring | gort-io_uring-ring)
      case "$sc" in echo) gb="$(gort_bin_of echo_server)" ;; http) gb="$(gort_bin_of http_server)" ;; kv) gb="$(gort_bin_of kv_server)" ;; esac
      if [[ ! -x "$gb" ]]; then srv_na="not built ($gb missing)"; return 1; fi
      case "$name" in
        gort-epoll) srv_env+=(GORT_POLLER=epoll) ;;
        gort-io_uring) srv_env+=(GORT_POLLER=io_uring GORT_URING_READS=readiness) ;;
        *) srv_env+=(GORT_POLLER=io_uring GORT_URING_READS=ring) ;;
      esac
      [[ -n "$SCHEDTRACE" ]] && srv_env+=(GORT_DEBUG="schedtrace=$SCHEDTRACE")
      srv_cmd=("$gb" --addr "$HOST:$port")
      ;;
    go)
      srv_cmd=("$bin/gonet" -mode "$sc" -addr "$HOST:$port")
      ;;
    c)
      srv_cmd=("$bin/epoll_$sc" --addr "$HOST:$port")
      ;;
    c-n)
      srv_cmd=("$bin/epoll_$sc" --addr "$HOST:$port" --procs "$PROCS")
      ;;
    nginx)
      if ! have nginx; then srv_na="nginx not installed"; return 1; fi
      local d="$scratch/nginx" user_line=""
      rm -rf "$d"
      mkdir -p "$d"
      if [[ "$(id -u)" == 0 ]]; then user_line="user $(id -un) $(id -gn);"; fi
      sed -e "s|@SCRATCH@|$d|g" -e "s|@HOST@|$HOST|g" -e "s|@PORT@|$port|g" \
        -e "s|@USER_DIRECTIVE@|$user_line|g" bench/peers/nginx/nginx.conf.in >"$d/nginx.conf"
      local m  # temp paths of modules this nginx was built without are unknown directives
      for m in proxy fastcgi uwsgi scgi; do
        if [[ "$nginx_without" == *"--without-http_${m}_module"* ]]; then
          sed -i "/^ *${m}_temp_path /d" "$d/nginx.conf"
        fi
      done
      srv_cmd=(nginx -p "$d" -c "$d/nginx.conf" -e "$d/error.log")
      ;;
    redis)
      if ! have redis-server; then srv_na="redis-server not installed"; return 1; fi
      mkdir -p "$scratch/redis"
      srv_cmd=(redis-server --bind "$HOST" --port "$port" --save "" --appendonly no
        --protected-mode no --daemonize no --dir "$scratch/redis" --logfile "")
      ;;
  esac
  return 0
}
if have nginx; then nginx_without="$(nginx -V 2>&1 || true)"; fi

declare -a pin_server=() pin_client=()
[[ -n "$SERVER_CPUS" ]] && pin_server=(taskset -c "$SERVER_CPUS")
[[ -n "$CLIENT_CPUS" ]] && pin_client=(taskset -c "$CLIENT_CPUS")

# start_server NAME SCENARIO: sets srv_pid, srv_port. Returns 1 (srv_na or srv_fail set) if not.
srv_port=""
srv_fail=""
start_server() {
  local name="$1" sc="$2" deadline
  srv_fail=""
  next_port
  server_setup "$name" "$sc" "$srv_port" || return 1
  setsid "${pin_server[@]}" env "${srv_env[@]}" "${srv_cmd[@]}" \
    >"$scratch/server.out" 2>"$scratch/server.err" </dev/null &
  srv_pid=$!
  deadline=$((SECONDS + START_TIMEOUT))
  while ! port_open "$srv_port"; do
    if ! kill -0 "$srv_pid" 2>/dev/null || [[ "$(cut -d' ' -f3 "/proc/$srv_pid/stat" 2>/dev/null)" == Z ]]; then
      srv_fail="exited before listening"
      break
    fi
    if ((SECONDS >= deadline)); then
      srv_fail="not listening after ${START_TIMEOUT}s"
      break
    fi
    sleep 0.02
  done
  if [[ -n "$srv_fail" ]]; then
    stop_server
    note "  $name: ${srv_cmd[*]}: $srv_fail; its output ends:"
    tail -n 5 "$scratch/server.out" "$scratch/server.err" 2>/dev/null | sed 's/^/    /' >&2
    return 1
  fi
  return 0
}

server_alive() { [[ -n "$srv_pid" ]] && kill -0 "$srv_pid" 2>/dev/null &&
  [[ "$(cut -d' ' -f3 "/proc/$srv_pid/stat" 2>/dev/null)" != Z ]]; }

log_run() {  # title, files...
  [[ -n "${LOG:-}" ]] || return 0
  local t="$1"
  shift
  { echo "### $t"; cat "$@" 2>/dev/null; } >>"$LOG"
}

record_na() {  # key fields..., note
  local fields="$1" why="$2"
  echo "NA $fields note=$why" >>"$raw"  # note: the rest of the line
}

now_s() { date +%s.%N; }

# ---- one run of each kind ---------------------------------------------------------------------
run_echo() {  # server conns rep
  local s="$1" c="$2" r="$3" f="scenario=echo conns=$2 server=$1 rep=$3" line rc
  if ! start_server "$s" echo; then
    if [[ -n "$srv_na" ]]; then record_na "$f" "$srv_na"; else echo "FAIL $f why=start" >>"$raw"; fi
    return 0
  fi
  set +e
  run_client $((WARMUP + DURATION + 60)) "$bin/echo_load" --addr "$HOST:$srv_port" \
    --conns "$c" --size "$SIZE" --duration "$DURATION" --warmup "$WARMUP" \
    --threads "$CLIENT_THREADS" --server-pid "$srv_pid" >"$scratch/client.out" 2>"$scratch/client.err"
  rc=$?
  set -e
  local alive=1
  server_alive || alive=0
  stop_server
  log_run "echo $f (client exit $rc)" "$scratch/client.out" "$scratch/client.err" "$scratch/server.out" "$scratch/server.err"
  line="$(grep '^RESULT ' "$scratch/client.out" | tail -n1 || true)"
  if [[ "$rc" == 0 && -n "$line" && "$alive" == 1 ]]; then
    echo "RESULT $f ${line#RESULT }" >>"$raw"
    note "  $s: ${line#RESULT }"
  else
    echo "FAIL $f why=rc$rc$([[ $alive == 0 ]] && echo _server_died)" >>"$raw"
    note "  FAIL $s (client exit $rc, server $([[ $alive == 1 ]] && echo alive || echo died)); client and server output end:"
    tail -n 3 "$scratch/client.out" "$scratch/client.err" "$scratch/server.err" 2>/dev/null | sed 's/^/    /' >&2
  fi
}

# wrk output -> "rps=.. p50_us=.. p75_us=.. p90_us=.. p99_us=.. requests=.. errors=.. non2xx=.."
parse_wrk() {
  awk '
    function us(v) {
      if (v ~ /us$/) { sub(/us$/, "", v); return v + 0 }
      if (v ~ /ms$/) { sub(/ms$/, "", v); return v * 1000 }
      if (v ~ /m$/)  { sub(/m$/, "", v);  return v * 60e6 }
      if (v ~ /s$/)  { sub(/s$/, "", v);  return v * 1e6 }
      return v + 0
    }
    /^Requests\/sec:/ { rps = $2 }
    /requests in/ { reqs = $1 }
    /^ +(50|75|90|99)% / { p = $1; sub(/%/, "", p); lat[p] = us($2) }
    /Socket errors:/ { gsub(/,/, ""); err = $4 + $6 + $8 + $10 }
    /Non-2xx or 3xx responses:/ { non2xx = $NF }
    END {
      if (rps == "") exit 1
      printf "rps=%s p50_us=%.1f p75_us=%.1f p90_us=%.1f p99_us=%.1f requests=%s errors=%d non2xx=%d\n",
        rps, lat[50], lat[75], lat[90], lat[99], reqs, err + 0, non2xx + 0
    }'
}

run_http() {  # server conns rep
  local s="$1" c="$2" r="$3" f="scenario=http conns=$2 server=$1 rep=$3" rc t0 t1 w0 w1 parsed
  if ! have wrk; then record_na "$f" "wrk not installed"; return 0; fi
  if ! start_server "$s" http; then
    if [[ -n "$srv_na" ]]; then record_na "$f" "$srv_na"; else echo "FAIL $f why=start" >>"$raw"; fi
    return 0
  fi
  local url="http://$HOST:$srv_port/"
  set +e
  if ((WARMUP > 0)); then
    run_client $((WARMUP + 60)) wrk -t"$WRK_THREADS" -c"$c" -d"${WARMUP}s" "$url" >/dev/null 2>&1
  fi
  t0="$(tree_ticks "$srv_pid")"
  w0="$(now_s)"
  run_client $((DURATION + 60)) wrk -t"$WRK_THREADS" -c"$c" -d"${DURATION}s" --latency "$url" \
    >"$scratch/client.out" 2>"$scratch/client.err"
  rc=$?
  w1="$(now_s)"
  t1="$(tree_ticks "$srv_pid")"
  set -e
  local alive=1
  server_alive || alive=0
  stop_server
  log_run "http $f (wrk exit $rc)" "$scratch/client.out" "$scratch/client.err" "$scratch/server.out" "$scratch/server.err"
  parsed="$(parse_wrk <"$scratch/client.out" || true)"
  if [[ "$rc" == 0 && -n "$parsed" && "$alive" == 1 ]]; then
    local cpu wall
    cpu="$(awk -v a="$t0" -v b="$t1" -v h="$clk_tck" 'BEGIN { if (a < 0 || b < 0) print "nan"; else printf "%.3f", (b - a) / h }')"
    wall="$(awk -v a="$w0" -v b="$w1" 'BEGIN { printf "%.3f", b - a }')"
    echo "RESULT $f $parsed server_cpu_s=$cpu wall_s=$wall" >>"$raw"
    note "  $s: $parsed server_cpu_s=$cpu"
  else
    echo "FAIL $f why=rc$rc$([[ $alive == 0 ]] && echo _server_died)" >>"$raw"
    note "  FAIL $s (wrk exit $rc, server $([[ $alive == 1 ]] && echo alive || echo died)); output ends:"
    tail -n 3 "$scratch/client.out" "$scratch/client.err" "$scratch/server.err" 2>/dev/null | sed 's/^/    /' >&2
  fi
}

run_kv() {  # server pipeline rep
  local s="$1" p="$2" r="$3" f="scenario=kv pipeline=$2 server=$1 rep=$3" rc n t0 t1 w0 w1
  if ! have redis-benchmark; then record_na "$f" "redis-benchmark not installed"; return 0; fi
  if ! start_server "$s" kv; then
    if [[ -n "$srv_na" ]]; then record_na "$f" "$srv_na"; else echo "FAIL $f why=start" >>"$raw"; fi
    return 0
  fi
  n="$KV_N"
  ((p > 1)) && n="$KV_PIPE_N"
  set +e
  t0="$(tree_ticks "$srv_pid")"
  w0="$(now_s)"
  run_client 600 redis-benchmark -h "$HOST" -p "$srv_port" -t ping,set,get -n "$n" \
    -c "$KV_CLIENTS" -P "$p" -q --csv >"$scratch/client.out" 2>"$scratch/client.err"
  rc=$?
  w1="$(now_s)"
  t1="$(tree_ticks "$srv_pid")"
  set -e
  local alive=1
  server_alive || alive=0
  stop_server
  log_run "kv $f (redis-benchmark exit $rc)" "$scratch/client.out" "$scratch/client.err" "$scratch/server.out" "$scratch/server.err"
  # "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
  local rows
  rows="$(tr -d '"' <"$scratch/client.out" | awk -F, -v f="$f" \
    '$1 != "test" && NF >= 8 && $2 + 0 > 0 { printf "RESULT %s test=%s rps=%s p50_ms=%s p95_ms=%s p99_ms=%s\n", f, $1, $2, $5, $6, $7 }')"
  if [[ "$rc" == 0 && -n "$rows" && "$alive" == 1 ]]; then
    echo "$rows" >>"$raw"
    local cpu wall
    cpu="$(awk -v a="$t0" -v b="$t1" -v h="$clk_tck" 'BEGIN { if (a < 0 || b < 0) print "nan"; else printf "%.3f", (b - a) / h }')"
    wall="$(awk -v a="$w0" -v b="$w1" 'BEGIN { printf "%.3f", b - a }')"
    echo "CPU $f server_cpu_s=$cpu wall_s=$wall" >>"$raw"
    note "  $s: $(echo "$rows" | awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^(test|rps)=/) printf "%s ", $i }')"
  else
    echo "FAIL $f why=rc$rc$([[ $alive == 0 ]] && echo _server_died)" >>"$raw"
    note "  FAIL $s (redis-benchmark exit $rc, server $([[ $alive == 1 ]] && echo alive || echo died)); output ends:"
    tail -n 3 "$scratch/client.out" "$scratch/client.err" "$scratch/server.err" 2>/dev/null | sed 's/^/    /' >&2
  fi
}

# ---- run, interleaved ---------------------------------------------------------------------------
for s in $GORT_SERVERS; do
  case "$s" in gort-epoll | gort-io_uring | gort-io_uring-ring) ;; *) die "GORT_SERVERS: unknown $s" ;; esac
done
c_n=""
[[ "$C_N" == 1 && "$PROCS" -gt 1 ]] && c_n=c-n
echo_servers="$GORT_SERVERS go c $c_n"
http_servers="$GORT_SERVERS go c $c_n nginx"
kv_servers="$GORT_SERVERS redis"
declare -A skip=()  # server:scenario -> reason; not available at all (binary missing)

for sc in $SCENARIOS; do
  case "$sc" in
    echo) servers="$echo_servers"; configs="$CONNS" ;;
    http) servers="$http_servers"; configs="$CONNS" ;;
    kv) servers="$kv_servers"; configs="1 16" ;;
  esac
  for cfg in $configs; do
    note "== $sc $([[ $sc == kv ]] && echo "pipeline=$cfg" || echo "conns=$cfg") ($REPS reps, servers interleaved)"
    read -r -a ring <<<"$servers"
    for ((r = 1; r <= REPS; r++)); do
      # Each repetition starts one server later (a rotation), so over the repetitions every
      # server runs in every position: a machine whose speed drifts with time, or with what ran
      # just before, favours no one.
      for ((i = 0; i < ${#ring[@]}; i++)); do
        s="${ring[$(((i + r - 1) % ${#ring[@]}))]}"
        if [[ -n "${skip[$s:$sc]:-}" ]]; then
          record_na "scenario=$sc $([[ $sc == kv ]] && echo pipeline || echo conns)=$cfg server=$s rep=$r" "${skip[$s:$sc]}"
          continue
        fi
        case "$sc" in
          echo) run_echo "$s" "$cfg" "$r" ;;
          http) run_http "$s" "$cfg" "$r" ;;
          kv) run_kv "$s" "$cfg" "$r" ;;
        esac
        if [[ -n "$srv_na" ]]; then
          skip[$s:$sc]="$srv_na"
          note "  $s: n/a ($srv_na)"
          srv_na=""
        fi
        sleep 0.3
      done
    done
  done
done

# ---- machine description ------------------------------------------------------------------------
cpu_model="$(lscpu 2>/dev/null | awk -F: '/^Model name/ {sub(/^[ \t]+/, "", $2); print $2; exit}')"
ncpu="$(nproc)"
kernel="$(uname -r)"
mem="$(awk '/^MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"
gcc_v="$(cat "$bin/gcc.version" 2>/dev/null || gcc --version 2>/dev/null | head -n1 || echo unknown)"
go_v="$(go version 2>/dev/null || cat "$bin/go.version" 2>/dev/null || echo "Go (prebuilt, version unknown)")"
nginx_v="$(nginx -v 2>&1 | head -n1 | sed 's/^nginx version: //' || true)"
redis_v="$(redis-server --version 2>/dev/null | head -n1 || true)"
rb_v="$(redis-benchmark --version 2>/dev/null | head -n1 || true)"
wrk_v="$(wrk -v 2>&1 | head -n1 | sed 's/ Copyright.*//' || true)"
build_type="$(awk -F= '/^CMAKE_BUILD_TYPE:/ {print $2}' "$BUILD_DIR/CMakeCache.txt" 2>/dev/null || true)"
cxx_used="$(awk -F= '/^CMAKE_CXX_COMPILER:/ {print $2}' "$BUILD_DIR/CMakeCache.txt" 2>/dev/null || true)"
cxx_used="${cxx_used##*/}"
hash="${GORT_COMMIT:-$(git rev-parse --short HEAD 2>/dev/null || echo nogit)}"  # GORT_COMMIT: a kit's commit
dirty=""
if [[ "$hash" != nogit ]] && [[ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]]; then
  dirty=" (working tree has uncommitted changes)"
fi
date_s="$(date +%Y-%m-%d)"
out="${OUT:-bench/results/$date_s-$hash-net.md}"
mkdir -p "$(dirname "$out")"
cmdline="REPS=$REPS DURATION=$DURATION WARMUP=$WARMUP CONNS=\"$CONNS\" PROCS=$PROCS SCENARIOS=\"$SCENARIOS\""
[[ "$SIZE" != 64 ]] && cmdline+=" SIZE=$SIZE"
[[ "$CLIENT_THREADS" != 2 ]] && cmdline+=" CLIENT_THREADS=$CLIENT_THREADS"
[[ "$WRK_THREADS" != 2 ]] && cmdline+=" WRK_THREADS=$WRK_THREADS"
[[ "$KV_N" != 100000 ]] && cmdline+=" KV_N=$KV_N"
[[ "$KV_PIPE_N" != 1000000 ]] && cmdline+=" KV_PIPE_N=$KV_PIPE_N"
[[ "$KV_CLIENTS" != 50 ]] && cmdline+=" KV_CLIENTS=$KV_CLIENTS"
[[ -n "$SERVER_CPUS" ]] && cmdline+=" SERVER_CPUS=$SERVER_CPUS"
[[ -n "$CLIENT_CPUS" ]] && cmdline+=" CLIENT_CPUS=$CLIENT_CPUS"
[[ "$GORT_SERVERS" != "gort-epoll gort-io_uring gort-io_uring-ring" ]] && cmdline+=" GORT_SERVERS=\"$GORT_SERVERS\""
[[ -n "$SCHEDTRACE" ]] && cmdline+=" SCHEDTRACE=$SCHEDTRACE"
[[ "$C_N" != 1 ]] && cmdline+=" C_N=$C_N"
cmdline+=" bench/net_compare.sh $BUILD_DIR"

# ---- report -------------------------------------------------------------------------------------
CPU_MODEL="$cpu_model" NCPU="$ncpu" KERNEL="$kernel" MEM="$mem" GCC_V="$gcc_v" GO_V="$go_v" \
NGINX_V="$nginx_v" REDIS_V="$redis_v" RB_V="$rb_v" WRK_V="$wrk_v" BUILD_DIR="$BUILD_DIR" \
BUILD_TYPE="$build_type" CXX_USED="$cxx_used" HASH="$hash" DIRTY="$dirty" DATE_S="$date_s" \
CMDLINE="$cmdline" REPS="$REPS" DURATION="$DURATION" WARMUP="$WARMUP" CONNS="$CONNS" PROCS="$PROCS" \
SCENARIOS="$SCENARIOS" SIZE="$SIZE" CLIENT_THREADS="$CLIENT_THREADS" WRK_THREADS="$WRK_THREADS" \
KV_N="$KV_N" KV_PIPE_N="$KV_PIPE_N" KV_CLIENTS="$KV_CLIENTS" \
SERVER_CPUS="$SERVER_CPUS" CLIENT_CPUS="$CLIENT_CPUS" GORT_SERVERS="$GORT_SERVERS" \
python3 - "$raw" "$out" <<'PYEOF'
import math, os, statistics, sys

raw_path, out_path = sys.argv[1], sys.argv[2]
e = os.environ
reps = int(e["REPS"])
conns_list = [int(c) for c in e["CONNS"].split()]
scenarios = e["SCENARIOS"].split()

LABEL = {
    "gort-epoll": "gort (GORT_POLLER=epoll)",
    "gort-io_uring": "gort (GORT_POLLER=io_uring)",
    "gort-io_uring-ring": "gort (io_uring, GORT_URING_READS=ring)",
    "go": "Go 1.19",
    "c": "C epoll loop (1 thread)",
    "c-n": f"C epoll loop × {e['PROCS']} (processes, SO_REUSEPORT)",
    "nginx": "nginx (2 workers)",
    "redis": "redis-server",
}
GORT = tuple(e["GORT_SERVERS"].split())

results = {}   # (scenario, cfg, server[, test]) -> list of dicts
cpu = {}       # kv (cfg, server) -> list of dicts
fails = {}     # (scenario, cfg, server) -> count
na = {}        # (scenario, cfg, server) -> note

def num(v):
    try:
        return float(v)
    except ValueError:
        return float("nan")

for line in open(raw_path):
    line, _, note_text = line.rstrip("\n").partition(" note=")
    parts = line.split()
    if not parts:
        continue
    kv = dict(p.split("=", 1) for p in parts[1:] if "=" in p)
    sc = kv["scenario"]
    cfg = int(kv.get("conns") or kv.get("pipeline"))
    key = (sc, cfg, kv["server"])
    if parts[0] == "RESULT":
        k = key + ((kv["test"],) if sc == "kv" else ())
        results.setdefault(k, []).append({a: num(b) if a not in ("scenario", "server", "test") else b
                                          for a, b in kv.items()})
    elif parts[0] == "CPU":
        cpu.setdefault((cfg, kv["server"]), []).append({a: num(b) for a, b in kv.items()
                                                        if a in ("server_cpu_s", "wall_s")})
    elif parts[0] == "FAIL":
        fails[key] = fails.get(key, 0) + 1
    elif parts[0] == "NA":
        na[key] = note_text or "n/a"

def values(key, field):
    return [r[field] for r in results.get(key, []) if not math.isnan(r.get(field, float("nan")))]

def med(key, field):
    v = values(key, field)
    return statistics.median(v) if v else None

def per_core(r, rate_field, cpu_field, dur_field):
    c, d = r.get(cpu_field, float("nan")), r.get(dur_field, float("nan"))
    if math.isnan(c) or math.isnan(d) or c <= 0 or d <= 0:
        return float("nan")
    return r[rate_field] / (c / d)

def cores(r, cpu_field, dur_field):
    c, d = r.get(cpu_field, float("nan")), r.get(dur_field, float("nan"))
    return c / d if d and d > 0 else float("nan")

def fmt(x, nd=0):
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    if abs(x) >= 1000 and nd == 0:
        return f"{x:,.0f}"
    return f"{x:.{nd}f}"

def cell(v, nd=0):
    v = [x for x in v if not math.isnan(x)]
    if not v:
        return "—"
    if len(v) == 1:
        return fmt(v[0], nd)
    return f"{fmt(statistics.median(v), nd)} ({fmt(min(v), nd)}–{fmt(max(v), nd)})"

def status_cell(key, v, nd=0):
    if key in na:
        return f"n/a ({na[key]})"
    if not v:
        return f"FAILED ({fails[key]}×; see the terminal or LOG)" if key in fails else "—"
    s = cell(v, nd)
    n_ok = len(results.get(key, [])) if len(key) == 3 else len(v)
    if fails.get(key[:3]):
        s += f" [{n_ok} ok, {fails[key[:3]]} failed]"
    return s

def ratio(a, b):
    return a / b if a is not None and b else None

def paired(a, b):
    # The two servers' runs of one repetition ran back to back, so their ratio shares the
    # machine's state of that moment: the spread of these ratios shows how much of a difference
    # is noise. Only when both have every repetition (else the runs would not pair up).
    if len(a) != reps or len(b) != reps:
        return "—"
    rs = [x / y for x, y in zip(a, b) if y and not math.isnan(x) and not math.isnan(y)]
    return cell(rs, 2) if rs else "—"

def verdict(r, ok, key=None):
    if r is None:
        return "**failed**" if key in fails and not results.get(key) else "n/a"
    return "pass" if ok else "**miss**"

def per_core_list(sc, c, s, rate_field, dur_field):
    return [per_core(r, rate_field, "server_cpu_s", dur_field) for r in results.get((sc, c, s), [])]

def med_of(xs):
    xs = [x for x in xs if not math.isnan(x)]
    return statistics.median(xs) if xs else None

# Informational rows against the C loop run as PROCS independent processes: what PROCS cores of
# this machine do per core when nothing is shared. A single-threaded loop's per-core figure is
# out of reach of any server that uses several cores wherever cores slow each other down (SMT
# siblings, a VM's vCPUs on shared host cores), and this row shows how far.
def per_core_rows(o, sc, c, rate_field, dur_field, names):
    cn = per_core_list(sc, c, "c-n", rate_field, dur_field)
    if not cn:
        return
    c1 = per_core_list(sc, c, "c", rate_field, dur_field)
    r = ratio(med_of(cn), med_of(c1))
    o.append(f"| (C loop × {e['PROCS']} per core ÷ C loop per core) | "
             f"{fmt(r, 2) + '×' if r is not None else '—'} | {paired(cn, c1)} | — | — |")
    for s in names:
        sp = per_core_list(sc, c, s, rate_field, dur_field)
        r = ratio(med_of(sp), med_of(cn))
        if r is not None:
            o.append(f"| ({LABEL[s]} per core ÷ C loop × {e['PROCS']} per core) | {fmt(r, 2)}× | "
                     f"{paired(sp, cn)} | — | — |")

meta = e
o = []
o.append(f"# gort network benchmarks beside Go, a C epoll loop, nginx and redis ({e['DATE_S']}, {e['HASH']})\n")
o.append("## Machine\n")
o.append(f"- CPU: {e['CPU_MODEL'] or 'unknown'} ({e['NCPU']} CPUs available, nproc)")
o.append(f"- Kernel: {e['KERNEL']}")
o.append(f"- Memory: {e['MEM']}")
o.append(f"- C/C++ compiler: {e['GCC_V']} (peers: -O2; gort build directory `{e['BUILD_DIR']}`: "
         f"{e['CXX_USED'] or 'unknown'}, CMAKE_BUILD_TYPE={e['BUILD_TYPE'] or 'unknown'})")
o.append(f"- Go: {e['GO_V']}")
o.append(f"- nginx: {e['NGINX_V'] or 'not installed'}; redis: {e['REDIS_V'] or 'not installed'}; "
         f"{e['RB_V'] or 'redis-benchmark not installed'}; wrk: {e['WRK_V'] or 'not installed'}")
o.append(f"- gort commit: {e['HASH']}{e['DIRTY']}\n")
o.append("## Command\n")
o.append("```")
o.append(e["CMDLINE"])
o.append("```\n")
pin = ""
if e["SERVER_CPUS"] or e["CLIENT_CPUS"]:
    pin = f" Pinned: servers on CPUs {e['SERVER_CPUS'] or 'any'}, clients on {e['CLIENT_CPUS'] or 'any'}."
o.append(f"Client and servers share this machine, over loopback ({e['NCPU']} CPUs, unpinned unless "
         f"said).{pin} gort runs with GORT_PROCS={e['PROCS']}, Go with GOMAXPROCS={e['PROCS']}; the C "
         f"loops are single-threaded (\"× {e['PROCS']}\": that many of them, each a process with its own "
         f"SO_REUSEPORT listener), nginx has 2 workers, redis-server its default (one thread). "
         f"Servers run interleaved, their order rotated by one at each repetition; every run starts "
         f"a fresh server. Runs per server and "
         f"configuration: {reps}. Cells: median (min–max). \"Cores used\" is the server's user+system CPU "
         f"time (all threads and child processes, /proc) over the measured interval divided by its "
         f"length; \"per core\" is the rate divided by cores used. \"Per repetition\": the ratio "
         f"within each repetition (whose runs ran close together), median (min–max), to show how "
         f"much of a difference is noise; verdicts use the ratio of the medians.\n")

bar_lines = []

# ---- echo
if "echo" in scenarios:
    o.append("## TCP echo\n")
    o.append(f"`bench/net/echo_load`: {e['SIZE']}-byte messages, one in flight per connection "
             f"(closed loop: send, wait for all bytes back, check them, send the next), "
             f"{e['CLIENT_THREADS']} client threads, {e['WARMUP']} s warm-up then {e['DURATION']} s "
             f"measured. Latency: first send to last byte back.\n")
    servers = [*GORT, "go", "c", *(["c-n"] if any(k[2] == "c-n" for k in list(results) + list(na)) else [])]
    for c in conns_list:
        o.append(f"### {c} connections\n")
        o.append("| server | msgs/s | p50 µs | p99 µs | cores used | msgs/s per core | failed / stalled conns |")
        o.append("|---|---|---|---|---|---|---|")
        for s in servers:
            k = ("echo", c, s)
            rs = results.get(k, [])
            rate = [r["msgs_per_s"] for r in rs]
            if k in na or not rs:
                o.append(f"| {LABEL[s]} | {status_cell(k, rate)} | | | | | |")
                continue
            o.append(f"| {LABEL[s]} | {status_cell(k, rate)} | {cell([r['p50_us'] for r in rs])} | "
                     f"{cell([r['p99_us'] for r in rs])} | "
                     f"{cell([cores(r, 'server_cpu_s', 'duration_s') for r in rs], 2)} | "
                     f"{cell([per_core(r, 'msgs_per_s', 'server_cpu_s', 'duration_s') for r in rs])} | "
                     f"{int(sum(r['errors'] for r in rs))} / {int(sum(r.get('stalled', 0) for r in rs))} |")
        o.append("")
        go_rate, c_pc = med(("echo", c, "go"), "msgs_per_s"), None
        c_rs = results.get(("echo", c, "c"), [])
        pcs = [per_core(r, "msgs_per_s", "server_cpu_s", "duration_s") for r in c_rs]
        pcs = [x for x in pcs if not math.isnan(x)]
        c_pc = statistics.median(pcs) if pcs else None
        go_p99 = med(("echo", c, "go"), "p99_us")
        go_rs = results.get(("echo", c, "go"), [])
        o.append("| ratio | value | per repetition | bar (issue 4) | verdict |")
        o.append("|---|---|---|---|---|")
        for s in GORT:
            k = ("echo", c, s)
            rate, p99 = med(k, "msgs_per_s"), med(k, "p99_us")
            rs = results.get(k, [])
            pcl = [per_core(r, "msgs_per_s", "server_cpu_s", "duration_s") for r in rs]
            pcl = [x for x in pcl if not math.isnan(x)]
            pc = statistics.median(pcl) if pcl else None
            r1 = ratio(rate, go_rate)
            r2 = ratio(pc, c_pc)
            r3 = ratio(p99, go_p99)
            c_pcs = [per_core(r, "msgs_per_s", "server_cpu_s", "duration_s") for r in c_rs]
            s_pcs = [per_core(r, "msgs_per_s", "server_cpu_s", "duration_s") for r in rs]
            lines = [
                (f"{LABEL[s]} msgs/s ÷ Go", r1, "≥ 1.2", r1 is not None and r1 >= 1.2,
                 paired([r["msgs_per_s"] for r in rs], [r["msgs_per_s"] for r in go_rs])),
                (f"{LABEL[s]} msgs/s per core ÷ C loop per core", r2, "≥ 0.8", r2 is not None and r2 >= 0.8,
                 paired(s_pcs, c_pcs)),
                (f"{LABEL[s]} p99 ÷ Go p99", r3, "≤ 1.0", r3 is not None and r3 <= 1.0,
                 paired([r["p99_us"] for r in rs], [r["p99_us"] for r in go_rs])),
            ]
            for name, r, bar, ok, pr in lines:
                v = verdict(r, ok, k)
                o.append(f"| {name} | {fmt(r, 2) + '×' if r is not None else '—'} | {pr} | {bar} | {v} |")
                bar_lines.append(f"echo {c} conns: {name} {bar}: {v}")
        rg = ratio(go_rate, med(("echo", c, "c"), "msgs_per_s"))
        o.append(f"| (Go msgs/s ÷ C loop msgs/s) | {fmt(rg, 2) + '×' if rg is not None else '—'} | "
                 f"{paired([r['msgs_per_s'] for r in go_rs], [r['msgs_per_s'] for r in c_rs])} | — | — |")
        per_core_rows(o, "echo", c, "msgs_per_s", "duration_s", [*GORT, "go"])
        o.append("")

# ---- http
if "http" in scenarios:
    o.append("## HTTP hello\n")
    o.append(f"`wrk -t{e['WRK_THREADS']} -cN -d{e['DURATION']}s --latency http://HOST:PORT/` after an "
             f"unmeasured {e['WARMUP']} s wrk run on the same server; GET / answers \"Hello, World!\\n\" "
             f"with keep-alive. Cores used: server CPU time over the wrk run's wall time.\n")
    servers = [*GORT, "go", "c", *(["c-n"] if any(k[2] == "c-n" for k in list(results) + list(na)) else []),
               "nginx"]
    for c in conns_list:
        o.append(f"### {c} connections\n")
        o.append("| server | requests/s | p50 µs | p99 µs | cores used | req/s per core | socket errors + non-2xx |")
        o.append("|---|---|---|---|---|---|---|")
        for s in servers:
            k = ("http", c, s)
            rs = results.get(k, [])
            rate = [r["rps"] for r in rs]
            if k in na or not rs:
                o.append(f"| {LABEL[s]} | {status_cell(k, rate)} | | | | | |")
                continue
            o.append(f"| {LABEL[s]} | {status_cell(k, rate)} | {cell([r['p50_us'] for r in rs])} | "
                     f"{cell([r['p99_us'] for r in rs])} | "
                     f"{cell([cores(r, 'server_cpu_s', 'wall_s') for r in rs], 2)} | "
                     f"{cell([per_core(r, 'rps', 'server_cpu_s', 'wall_s') for r in rs])} | "
                     f"{int(sum(r['errors'] + r['non2xx'] for r in rs))} |")
        o.append("")
        go_rate = med(("http", c, "go"), "rps")
        ngx = med(("http", c, "nginx"), "rps")
        rps = {s: [r["rps"] for r in results.get(("http", c, s), [])] for s in servers}
        o.append("| ratio | value | per repetition | bar (issue 4) | verdict |")
        o.append("|---|---|---|---|---|")
        for s in GORT:
            rate = med(("http", c, s), "rps")
            r1, r2 = ratio(rate, ngx), ratio(rate, go_rate)
            for name, r, bar, ok, pr in [
                (f"{LABEL[s]} req/s ÷ nginx", r1, "≥ 1.0", r1 is not None and r1 >= 1.0,
                 paired(rps[s], rps["nginx"])),
                (f"{LABEL[s]} req/s ÷ Go net/http", r2, "≥ 1.2", r2 is not None and r2 >= 1.2,
                 paired(rps[s], rps["go"])),
            ]:
                v = verdict(r, ok, ("http", c, s))
                o.append(f"| {name} | {fmt(r, 2) + '×' if r is not None else '—'} | {pr} | {bar} | {v} |")
                bar_lines.append(f"http {c} conns: {name} {bar}: {v}")
        for name, a, b, pr in [("nginx ÷ Go", ngx, go_rate, paired(rps["nginx"], rps["go"])),
                               ("C loop ÷ Go", med(("http", c, "c"), "rps"), go_rate,
                                paired(rps["c"], rps["go"])),
                               ("C loop ÷ nginx", med(("http", c, "c"), "rps"), ngx,
                                paired(rps["c"], rps["nginx"]))]:
            r = ratio(a, b)
            o.append(f"| ({name}) | {fmt(r, 2) + '×' if r is not None else '—'} | {pr} | — | — |")
        per_core_rows(o, "http", c, "rps", "wall_s", [*GORT, "go", "nginx"])
        o.append("")

# ---- kv
if "kv" in scenarios:
    o.append("## Key-value store under redis-benchmark\n")
    o.append(f"`redis-benchmark -t ping,set,get -c {e['KV_CLIENTS']} -q --csv`, -n {e['KV_N']} plain "
             f"(-P 1) and -n {e['KV_PIPE_N']} pipelined (-P 16); redis-server with save \"\" and "
             f"appendonly no. Requests/s as redis-benchmark reports them; p99 in ms. Cores used: server "
             f"CPU time over the whole redis-benchmark run (all tests).\n")
    servers = [*GORT, "redis"]
    for p in (1, 16):
        tests = []
        for k in results:
            if k[0] == "kv" and k[1] == p and k[3] not in tests:
                tests.append(k[3])
        order = ["PING_INLINE", "PING_MBULK", "SET", "GET"]
        tests.sort(key=lambda t: order.index(t) if t in order else 99)
        o.append(f"### pipeline {p}\n")
        o.append("| test | " + " | ".join(LABEL[s] for s in servers) + " | " +
                 " | ".join(f"{LABEL[s]} ÷ redis" for s in GORT) + " |")
        o.append("|---|" + "---|" * (len(servers) + len(GORT)))
        if not tests:
            row = []
            for s in servers:
                k = ("kv", p, s)
                row.append(f"n/a ({na[k]})" if k in na else ("FAILED" if k in fails else "—"))
            o.append("| (all) | " + " | ".join(row) + " |" + " — |" * len(GORT))
        for t in tests:
            row = []
            for s in servers:
                k = ("kv", p, s, t)
                rs = results.get(k, [])
                if ("kv", p, s) in na:
                    row.append("n/a (see below)")
                elif not rs:
                    row.append("FAILED" if ("kv", p, s) in fails else "—")
                else:
                    row.append(f"{cell([r['rps'] for r in rs])}, p99 {cell([r['p99_ms'] for r in rs], 3)} ms")
            rr = med(("kv", p, "redis", t), "rps")
            for s in GORT:
                r = ratio(med(("kv", p, s, t), "rps"), rr)
                row.append(f"{fmt(r, 2)}×" if r is not None else "—")
            o.append(f"| {t} | " + " | ".join(row) + " |")
        crow = []
        for s in servers:
            cl = [c["server_cpu_s"] / c["wall_s"] for c in cpu.get((p, s), [])
                  if not math.isnan(c["server_cpu_s"]) and c["wall_s"] > 0]
            crow.append(cell(cl, 2) if cl else "—")
        o.append("| (cores used) | " + " | ".join(crow) + " |" + " |" * len(GORT))
        o.append("")

if bar_lines:
    o.append("## Bars (issue 4)\n")
    for b in bar_lines:
        o.append(f"- {b}")
    o.append("")

o.append("## Raw values\n")
for k in sorted(results, key=str):
    rs = results[k]
    if k[0] == "echo":
        o.append(f"- echo {k[1]} conns {k[2]}: msgs/s " + ", ".join(fmt(r["msgs_per_s"]) for r in rs) +
                 "; p99 µs " + ", ".join(fmt(r["p99_us"]) for r in rs) +
                 "; server CPU s " + ", ".join(fmt(r.get("server_cpu_s", float("nan")), 2) for r in rs))
    elif k[0] == "http":
        o.append(f"- http {k[1]} conns {k[2]}: req/s " + ", ".join(fmt(r["rps"]) for r in rs) +
                 "; p99 µs " + ", ".join(fmt(r["p99_us"]) for r in rs) +
                 "; server CPU s " + ", ".join(fmt(r.get("server_cpu_s", float("nan")), 2) for r in rs))
    else:
        o.append(f"- kv P{k[1]} {k[2]} {k[3]}: req/s " + ", ".join(fmt(r["rps"]) for r in rs))
o.append("")
notes = sorted({f"{LABEL[k[2]]}: {v}" for k, v in na.items()})
if notes:
    o.append("Not measured: " + "; ".join(notes) + ".\n")
if e["SERVER_CPUS"] and e["CLIENT_CPUS"]:
    sharing = ("Notes: servers and clients ran on CPUs of their own, so every server could use all "
               "of its CPUs; \"per core\" still matters for the echo bar because the C loop uses "
               "one core. ")
else:
    sharing = ("Notes: the client runs on the same CPUs as the server, so a server that uses more "
               "cores leaves fewer to the client; \"per core\" factors that out for the echo bar "
               "(the C loop uses at most one core). ")
o.append(sharing + "The C loops are the physical-limit proxy: one thread, "
         "edge-triggered epoll, no allocation per message. Numbers are only meaningful together "
         "with the machine description above.")
open(out_path, "w").write("\n".join(o) + "\n")
PYEOF

note "report written to $out"
cat "$out"
