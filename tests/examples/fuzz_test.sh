#!/usr/bin/env bash
# The key-value server, the HTTP server and the proxy (in front of the echo server) under hostile
# traffic (netfuzz.py: mutated requests in random pieces, resets, half-closes; seeded, a fixed
# number of connections): each must keep serving, answer a clean request afterwards, and exit
# with status 0 on SIGTERM without reporting an I/O error it should not have met.
# usage: fuzz_test.sh KV_SERVER HTTP_SERVER PROXY ECHO_SERVER
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need python3 timeout
fuzz="$(dirname "${BASH_SOURCE[0]}")/netfuzz.py"
conns="${GORT_FUZZ_CONNS:-400}"

start_server kv "$1" --addr 127.0.0.1:0
timeout 120 python3 "$fuzz" "$port" kv "$conns" || fail "kv_server under hostile traffic"
stop_server kv

start_server http "$2" --addr 127.0.0.1:0
timeout 120 python3 "$fuzz" "$port" http "$conns" || fail "http_server under hostile traffic"
stop_server http

start_server echo "$4" --addr 127.0.0.1:0
start_server proxy "$3" --upstream "127.0.0.1:$port" --listen 127.0.0.1:0
timeout 120 python3 "$fuzz" "$port" echo "$conns" || fail "proxy under hostile traffic"
stop_server proxy
stop_server echo
echo PASS
