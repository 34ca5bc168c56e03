#!/usr/bin/env bash
# echo_server driven by echo_client: small and large messages, every echo verified.
# usage: echo_test.sh ECHO_SERVER ECHO_CLIENT
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
server="$1"
client="$2"

"$server" --help | grep -q "usage: echo_server" || fail "echo_server --help"
"$server" --no-such-option 2>/dev/null
[ $? -eq 2 ] || fail "echo_server accepted a bad option"
"$client" --conns 0 2>/dev/null
[ $? -eq 2 ] || fail "echo_client accepted --conns 0"

start_server echo "$server" --addr 127.0.0.1:0
addr="127.0.0.1:$port"

timeout 60 "$client" --addr "$addr" --conns 50 --size 64 --duration 1 || fail "small messages"
# Messages far larger than a socket buffer: partial reads and writes on both sides.
timeout 60 "$client" --addr "$addr" --conns 4 --size 1000000 --duration 1 || fail "large messages"

# Shutdown ends connections still open rather than waiting for their clients.
exec 4<>"/dev/tcp/127.0.0.1/$port" || fail "connect"
printf 'ping' >&4
[ "$(timeout 10 head -c 4 <&4)" == "ping" ] || fail "no echo on the idle connection"
stop_server echo
[ -z "$(timeout 10 cat <&4)" ] || fail "data after shutdown"
exec 4<&-
# With the server gone the client must report failure, not success.
timeout 60 "$client" --addr "$addr" --conns 2 --duration 0.2 2>/dev/null
[ $? -eq 1 ] || fail "echo_client succeeded without a server"
echo PASS
