#!/usr/bin/env bash
# kv_server driven by redis-cli (every reply checked, expiry included), raw protocol errors,
# and redis-benchmark with pipelining.
# usage: kv_test.sh KV_SERVER
# shellcheck disable=SC2016  # the '$' of RESP bulk strings is meant literally
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need redis-cli redis-benchmark timeout
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
echo PASS
