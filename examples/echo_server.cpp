// TCP echo server: one goroutine per connection, each a plain blocking read/write loop.
//
// usage: echo_server [--addr HOST:PORT]     (GORT_PROCS, GORT_POLLER from the environment)
#include <memory>
#include <string>

#include "common/flags.hpp"
#include "common/server.hpp"
#include "gort/net.hpp"

namespace {

void echo(gort::net::Conn conn) {
  (void)conn.set_nodelay(true);
  constexpr size_t kBuf = 64 * 1024;
  auto buf = std::make_unique<char[]>(kBuf);  // on the heap: goroutine stacks stay one page
  for (;;) {
    auto n = conn.read(buf.get(), kBuf);
    if (!n || *n == 0) break;
    if (!conn.write_all(buf.get(), *n)) break;
  }
  conn.close();
}

}  // namespace

int main(int argc, char** argv) {
  std::string addr = "127.0.0.1:7000";
  examples::Flags flags("echo_server", "Echoes every byte back on each TCP connection.");
  flags.text("addr", &addr, "HOST:PORT", "address to listen on (port 0: any free port)");
  flags.parse(argc, argv);
  return examples::run_server({.program = "echo_server", .address = addr, .handle = echo});
}
