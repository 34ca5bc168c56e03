#!/usr/bin/env bash
# proxy in front of echo_server: echo_client through it, a half-close passed along both ways,
# and a dead upstream answered by closing the client connection.
# usage: proxy_test.sh PROXY ECHO_SERVER ECHO_CLIENT
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need python3 timeout
proxy="$1"
echo_server="$2"
echo_client="$3"

"$proxy" --listen 127.0.0.1:0 2>/dev/null
[ $? -eq 2 ] || fail "proxy ran without --upstream"

start_server echo "$echo_server" --addr 127.0.0.1:0
echo_port="$port"
start_server proxy "$proxy" --listen 127.0.0.1:0 --upstream "127.0.0.1:$echo_port"
proxy_port="$port"

timeout 60 "$echo_client" --addr "127.0.0.1:$proxy_port" --conns 20 --size 1000 --duration 1 \
  || fail "echo_client through the proxy"
timeout 60 "$echo_client" --addr "127.0.0.1:$proxy_port" --conns 2 --size 500000 --duration 1 \
  || fail "large messages through the proxy"

# Half-close: the client stops sending (shutdown(SHUT_WR)) but keeps reading. The proxy must
# pass that on so the echo server sees the end, echoes everything and closes, which the proxy
# must pass back as the end of the client's stream.
timeout 30 python3 - "$proxy_port" <<'PY' || fail "half-close through the proxy"
import socket, sys, threading
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=20)
data = bytes(range(256)) * 4000
def send():
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
t = threading.Thread(target=send)
t.start()
got = bytearray()
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    got += chunk
t.join()
if bytes(got) != data:
    prefix_ok = bytes(got) == data[:len(got)]
    sys.exit(f"echoed {len(got)} of {len(data)} bytes, prefix {'ok' if prefix_ok else 'differs'}")
PY

# A dead upstream: the proxy closes the client's connection instead of leaving it hanging.
stop_server echo
timeout 30 python3 - "$proxy_port" <<'PY' || fail "dead upstream"
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=20)
try:
    data = s.recv(10)
except ConnectionResetError:
    data = b""
if data:
    sys.exit(f"unexpected data {data!r}")
PY

stop_server proxy
echo PASS
