#!/usr/bin/env bash
# http_server: protocol checks over raw connections (keep-alive, pipelining, HTTP/1.0, errors
# answered with 400 and a closed connection), then load from wrk.
# usage: http_test.sh HTTP_SERVER
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need wrk timeout
server="$1"

start_server http "$server" --addr 127.0.0.1:0

# check NAME REQUEST STATUS...: the connection yields exactly these statuses, in order, and is
# closed by the server afterwards.
check() {
  local name="$1" request="$2"
  shift 2
  local out="$work_dir/$name.resp"
  exchange "$port" "$request" >"$out"
  local rc=$?
  [ $rc -eq 124 ] && fail "$name: the server did not close the connection"
  [ $rc -eq 0 ] || fail "$name: reading the response failed ($rc)"
  local got
  got="$(grep -a '^HTTP/1.1 ' "$out" | cut -d' ' -f2 | tr '\n' ' ')"
  [ "$got" == "$* " ] || fail "$name: statuses '$got', expected '$* '"
}

host='Host: test\r\n'
close='Connection: close\r\n'
get="GET / HTTP/1.1\r\n$host\r\n"
last="GET / HTTP/1.1\r\n$host$close\r\n"  # the server closes after answering it
check get "$last" 200
grep -q 'Content-Length: 14' "$work_dir/get.resp" || fail "get: no Content-Length: 14"
tail -c 14 "$work_dir/get.resp" | grep -q '^Hello, World!$' || fail "get: wrong body"
check pipelined "${get}GET /nope HTTP/1.1\r\n$host\r\nHEAD / HTTP/1.1\r\n$host\r\n$last" \
  200 404 200 200
check http10 "GET / HTTP/1.0\r\n\r\n" 200
check post_body_skipped "POST / HTTP/1.1\r\n${host}Content-Length: 5\r\n\r\nhello$last" 405 200
check garbage "BROKEN\r\n\r\n" 400
check bad_version "GET / HTTP/1.1x\r\n$host\r\n" 400
check missing_host "GET / HTTP/1.1\r\n\r\n" 400
check bad_length "POST / HTTP/1.1\r\n${host}Content-Length: 1x\r\n\r\n" 400
check after_good "GET / HTTP/1.1\r\n$host\r\nBROKEN\r\n\r\n" 200 400
big="$(head -c 9000 /dev/zero | tr '\0' 'a')"
check absolute_form "GET http://test/ HTTP/1.1\r\n$host\r\nGET http://test HTTP/1.1\r\n$host$close\r\n" \
  200 200
check asterisk_and_authority_forms \
  "OPTIONS * HTTP/1.1\r\n$host\r\nCONNECT test:443 HTTP/1.1\r\n$host$close\r\n" 405 405
check asterisk_form_for_get "GET * HTTP/1.1\r\n$host\r\n" 400
check unknown_expectation "GET / HTTP/1.1\r\n${host}Expect: teapot\r\n\r\n" 417
check header_too_large "GET / HTTP/1.1\r\n${host}X-Big: $big\r\n\r\n" 400

# Expect: 100-continue with a real client: curl waits for the interim response before the body
# (its verbose output says "Done waiting for 100-continue" when it gave up waiting instead).
if command -v curl >/dev/null; then
  head -c 2048 /dev/zero | tr '\0' a >"$work_dir/body"
  timeout 30 curl -sv -X GET -H 'Expect: 100-continue' --data-binary @"$work_dir/body" \
    "http://127.0.0.1:$port/" >"$work_dir/curl.out" 2>"$work_dir/curl.err" ||
    fail "curl failed: $(cat "$work_dir/curl.err")"
  grep -q '^< HTTP/1.1 100 Continue' "$work_dir/curl.err" || fail "no 100 Continue: $(cat "$work_dir/curl.err")"
  grep -q 'Done waiting for 100-continue' "$work_dir/curl.err" && fail "curl gave up waiting for 100 Continue"
  grep -q '^Hello, World!$' "$work_dir/curl.out" || fail "no answer after 100 Continue"
  timeout 30 curl -sv -H 'Expect: 100-continue' --data-binary @"$work_dir/body" \
    "http://127.0.0.1:$port/" >/dev/null 2>"$work_dir/curl.err"
  grep -q '^< HTTP/1.1 405' "$work_dir/curl.err" || fail "POST with Expect: $(cat "$work_dir/curl.err")"
  grep -q '100 Continue' "$work_dir/curl.err" && fail "a refused request was told to continue"
else
  echo "curl not installed: Expect: 100-continue checked by the unit tests only"
fi

timeout 60 wrk -t2 -c50 -d2s "http://127.0.0.1:$port/" >"$work_dir/wrk.txt" 2>&1 ||
  fail "wrk failed: $(cat "$work_dir/wrk.txt")"
cat "$work_dir/wrk.txt"
requests="$(sed -n 's/^ *\([0-9][0-9]*\) requests in .*/\1/p' "$work_dir/wrk.txt")"
if [ -z "$requests" ] || [ "$requests" -eq 0 ]; then fail "wrk completed no request"; fi
grep -q 'Socket errors' "$work_dir/wrk.txt" && fail "wrk saw socket errors"
grep -q 'Non-2xx' "$work_dir/wrk.txt" && fail "wrk saw non-2xx responses"

stop_server http
echo PASS
