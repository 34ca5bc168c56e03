// HTTP/1.1 server: keep-alive, pipelining, GET / answers "Hello, World!\n"; one goroutine per
// connection. The protocol lives in http/ (parser and responder), this file moves bytes.
//
// usage: http_server [--addr HOST:PORT]     (GORT_PROCS, GORT_POLLER from the environment)
#include <memory>
#include <string>
#include <string_view>

#include "common/flags.hpp"
#include "common/io_errors.hpp"
#include "common/lingering_close.hpp"
#include "common/server.hpp"
#include "gort/net.hpp"
#include "http/responder.hpp"

namespace {

constexpr size_t kReadChunk = 16 * 1024;

void serve(gort::net::Conn conn) {
  (void)conn.set_nodelay(true);
  auto chunk = std::make_unique_for_overwrite<char[]>(kReadChunk);  // heap: goroutine stacks stay small
  std::string pending;  // the start of a request that has not fully arrived
  std::string out;
  bool continue_sent = false;  // for the request at the front of `pending` (http::respond)
  for (;;) {
    auto n = conn.read(chunk.get(), kReadChunk);
    if (!n) examples::report_io_error("http_server", conn, "read", n.error());
    if (!n || *n == 0) break;
    // Whole requests in one read (the common case) are answered straight from the chunk.
    std::string_view input(chunk.get(), *n);
    if (!pending.empty()) {
      pending.append(input);
      input = pending;
    }
    out.clear();
    http::Progress p = http::respond(input, out, continue_sent);
    // One write per batch of pipelined requests, not one per response.
    if (!out.empty()) {
      if (auto w = conn.write_all(out); !w) {
        examples::report_io_error("http_server", conn, "write", w.error());
        break;
      }
    }
    if (p.close) {
      examples::lingering_close(conn);
      return;
    }
    if (pending.empty()) {
      pending.assign(input.substr(p.consumed));
    } else {
      pending.erase(0, p.consumed);
    }
  }
  conn.close();
}

}  // namespace

int main(int argc, char** argv) {
  std::string addr = "127.0.0.1:8080";
  examples::Flags flags("http_server", "Answers GET / with \"Hello, World!\" over HTTP/1.1.");
  flags.text("addr", &addr, "HOST:PORT", "address to listen on (port 0: any free port)");
  flags.parse(argc, argv);
  return examples::run_server({.program = "http_server", .address = addr, .handle = serve});
}
