#!/usr/bin/env bash
# kv_server driven by redis-cli (every reply checked, expiry included), raw protocol errors,
# redis-benchmark with pipelining, and memory: the server's peak while a client fills its query
# buffer, a huge reply and an impossible request under a memory limit.
# usage: kv_test.sh KV_SERVER
# shellcheck disable=SC2016  # the '$' of RESP bulk strings is meant literally
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need redis-cli redis-benchmark python3 timeout
server="$1"

start_server kv "$server" --addr 127.0.0.1:0

# expect WANT ARGS...: redis-cli's human-readable reply to one command is WANT.
expect() {
  local want="$1"
  shift
  local got
  got="$(timeout 10 redis-cli --no-raw -h 127.0.0.1 -p "$port" "$@" 2>&1)"
  [ "$got" == "$want" ] || fail "$*: got '$got', expected '$want'"
}

expect 'PONG' PING
expect '"hi"' PING hi
expect '"hello world"' ECHO "hello world"
expect 'OK' SET greeting hello
expect '"hello"' GET greeting
expect '(nil)' GET missing
expect '(nil)' SET greeting other NX
expect 'OK' SET greeting bye XX
expect '"bye"' GET greeting
expect '(integer) 1' EXISTS greeting
expect '(integer) 1' DEL greeting missing
expect '(integer) 0' EXISTS greeting
expect '(integer) 1' INCR counter
expect '(integer) 11' INCRBY counter 10
expect '(error) ERR value is not an integer or out of range' INCRBY counter ten
expect 'OK' MSET a 1 b 2
expect $'1) "1"\n2) (nil)\n3) "2"' MGET a nothing b
expect '(integer) -1' TTL a
expect '(integer) 1' EXPIRE a 100
expect '(integer) 100' TTL a
# EXPIRE's options, replies as redis-server 7.0.15 gives them for the same commands.
expect '(integer) 0' EXPIRE a 50 NX
expect '(integer) 1' EXPIRE a 50 xx lt
expect '(integer) 0' EXPIRE a 10 GT
expect '(integer) 0' PEXPIRE b 5000 GT
expect '(error) ERR NX and XX, GT or LT options at the same time are not compatible' \
  EXPIRE a 5 NX GT
expect '(error) ERR GT and LT options at the same time are not compatible' EXPIRE a 5 GT LT
expect '(error) ERR Unsupported option FOO' EXPIRE a 5 FOO
expect '(integer) 1' EXPIRE b -1 LT
expect '(integer) 0' EXISTS b
expect '(error) ERR syntax error' SET x y BOGUS
expect "(error) ERR unknown command 'NOSUCH', with args beginning with: 'z' " NOSUCH z

# Expiry: the key lives until its PX deadline, then it is gone on access, and the background
# sweeper reclaims keys nobody reads (DBSIZE counts them until then).
expect 'OK' FLUSHALL
expect 'OK' SET short v PX 1500
expect '"v"' GET short
expect 'OK' SET unread v PX 1500
sleep 2
expect '(nil)' GET short
expect '(integer) -2' PTTL short
expect '(integer) 0' DBSIZE

# Raw protocol: pipelined multibulk and inline commands answered in order, then errors that
# get a reply and a closed connection.
raw() {
  local name="$1" request="$2" want="$3"
  local got
  got="$(exchange "$port" "$request" | od -An -c | tr -s ' \n' ' ')"
  local expected
  expected="$(printf '%b' "$want" | od -An -c | tr -s ' \n' ' ')"
  [ "$got" == "$expected" ] || fail "$name: got '$got', expected '$expected'"
}
raw pipelined \
  '*1\r\n$4\r\nPING\r\nPING\r\nECHO "a b"\r\nSET b 2\r\n*2\r\n$3\r\nGET\r\n$1\r\nb\r\nQUIT\r\n' \
  '+PONG\r\n+PONG\r\n$3\r\na b\r\n+OK\r\n$1\r\n2\r\n+OK\r\n'
raw bad_count '*abc\r\n' '-ERR Protocol error: invalid multibulk length\r\n'
raw bad_bulk '*1\r\n$999999999999\r\n' '-ERR Protocol error: invalid bulk length\r\n'
raw not_bulk '*1\r\n:5\r\n' "-ERR Protocol error: expected '\$', got ':'\r\n"
raw quotes 'PING\r\nSET "a\r\n' '+PONG\r\n-ERR Protocol error: unbalanced quotes in request\r\n'

timeout 120 redis-benchmark -h 127.0.0.1 -p "$port" -q -n 20000 -P 16 -t set,get \
  >"$work_dir/bench.txt" 2>&1 || fail "redis-benchmark set,get: $(cat "$work_dir/bench.txt")"
tr '\r' '\n' <"$work_dir/bench.txt" | grep 'requests per second' | tee "$work_dir/rates.txt"
grep -q '^SET: ' "$work_dir/rates.txt" || fail "redis-benchmark did not finish SET"
grep -q '^GET: ' "$work_dir/rates.txt" || fail "redis-benchmark did not finish GET"
timeout 120 redis-benchmark -h 127.0.0.1 -p "$port" -q -n 5000 -t ping \
  >"$work_dir/ping.txt" 2>&1 || fail "redis-benchmark ping: $(cat "$work_dir/ping.txt")"
tr '\r' '\n' <"$work_dir/ping.txt" >"$work_dir/ping_rates.txt"
grep -q '^PING_INLINE: .*requests per second' "$work_dir/ping_rates.txt" || fail "no PING_INLINE"
grep -q '^PING_MBULK: .*requests per second' "$work_dir/ping_rates.txt" || fail "no PING_MBULK"

stop_server kv

# AddressSanitizer's allocator (quarantine, redzones, shadow memory) keeps freed buffers
# resident and needs address space of its own: the numbers below do not hold under it.
if grep -qa __asan_init "$server"; then
  echo "PASS (memory checks skipped: the server is built with AddressSanitizer)"
  exit 0
fi

# Memory, on a server of its own: limits are set on the process from outside (prlimit), over
# the size it has once started, so the numbers hold whatever the machine.
start_server small "$server" --addr 127.0.0.1:0
# shellcheck disable=SC2154  # pid_small: set by start_server, through eval
timeout 120 python3 - "$pid_small" "$port" <<'PY' || fail "memory checks"
import hashlib, resource, socket, sys, time
pid, port = int(sys.argv[1]), int(sys.argv[2])
MiB = 1 << 20

def status(field):  # in bytes
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024

def resp(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out

def connect():
    return socket.create_connection(("127.0.0.1", port), timeout=30)

def receive(s, n, digest=None):  # n bytes; into digest rather than returned if given
    got = bytearray()
    while n > 0:
        chunk = s.recv(min(n, 4 * MiB))
        if not chunk:
            sys.exit(f"the connection closed {n} bytes before the end of the reply")
        if digest is not None:
            digest.update(chunk)
        else:
            got += chunk
        n -= len(chunk)
    return bytes(got)

def send_mib(s, mib):  # the bytes of a large value, in pieces
    piece = b"x" * MiB
    for _ in range(mib):
        s.sendall(piece)

# 1. Peak memory while a client sends 300 MiB of a 400 MiB value: the query buffer grows to
# hold it without zero-filling the doubled buffer while the old one lives (768 MiB).
size_at_start, rss_at_start = status("VmSize"), status("VmRSS")
s = connect()
s.sendall(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$%d\r\n" % (400 * MiB))
send_mib(s, 300)  # of the 400 MiB announced
deadline = time.time() + 10
while status("VmRSS") - rss_at_start < 290 * MiB and time.time() < deadline:
    time.sleep(0.05)  # until the server has read it all
peak = status("VmHWM") - rss_at_start
s.close()
if peak > 600 * MiB:
    sys.exit(f"peak memory {peak // MiB} MiB for a 300 MiB request")
deadline = time.time() + 10
while status("VmSize") > size_at_start + 64 * MiB and time.time() < deadline:
    time.sleep(0.1)  # until the server has dropped the connection and its buffer

# From here the server has 512 MiB of address space beyond its size.
limit = status("VmSize") + 512 * MiB
resource.prlimit(pid, resource.RLIMIT_AS, (limit, limit))

# 2. A 600 MiB reply to a 5 KB request (MGET naming a 1 MiB value 600 times) is sent while it
# is built: it is never whole in memory, which the limit would not allow.
value = bytes(range(256)) * 4096
s = connect()
s.sendall(resp(b"SET", b"big", value))
if receive(s, 5) != b"+OK\r\n":
    sys.exit("SET big failed")
s.sendall(resp(b"MGET", *[b"big"] * 600))
element = b"$%d\r\n%s\r\n" % (len(value), value)
want, got = hashlib.sha256(b"*600\r\n"), hashlib.sha256()
for _ in range(600):
    want.update(element)
receive(s, 6 + 600 * len(element), got)
if got.digest() != want.digest():
    sys.exit("the MGET reply differs")
s.sendall(b"PING\r\n")
if receive(s, 7) != b"+PONG\r\n":
    sys.exit("no PONG after the MGET reply")
s.close()

# 3. A request too large for the memory left (an MSET of 800 MiB) closes its connection, and
# only that one. (The log line checked below tells this close from others.)
s = connect()
try:
    s.sendall(b"*5\r\n$4\r\nMSET\r\n$1\r\na\r\n$%d\r\n" % (400 * MiB))
    send_mib(s, 400)
    s.sendall(b"\r\n$1\r\nb\r\n$%d\r\n" % (400 * MiB))
    send_mib(s, 400)
    s.sendall(b"\r\n")
    reply = s.recv(100)
except OSError:
    reply = b""
if reply:
    sys.exit(f"a reply to the impossible MSET: {reply!r}")
s = connect()
s.sendall(resp(b"GET", b"big") + b"PING\r\n")
if receive(s, len(element) + 7) != element + b"+PONG\r\n":
    sys.exit("the server is not serving after the impossible MSET")
PY
grep -q "closing the connection from .*: std::bad_alloc" "$work_dir/small.err" \
  || fail "no log line for the connection closed for want of memory"
stop_server small
echo PASS
