// TCP proxy: every accepted connection is joined to a new connection to the upstream, with
// one goroutine per direction. An end of stream is passed on as a half-close
// (shutdown(write)), so protocols where one side finishes sending first keep working.
//
// usage: proxy --upstream HOST:PORT [--listen HOST:PORT]
#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>

#include "common/flags.hpp"
#include "common/server.hpp"
#include "gort/net.hpp"
#include "gort/runtime.hpp"
#include "gort/wait_group.hpp"

namespace {

constexpr size_t kBuf = 32 * 1024;
constexpr auto kDialTimeout = std::chrono::seconds(10);

// Moves bytes from `from` to `to` until `from` ends. A failure in either direction closes both
// sockets, which also wakes the goroutine copying the other way: nothing more can get through.
void copy(gort::net::Conn& from, gort::net::Conn& to) {
  auto buf = std::make_unique_for_overwrite<char[]>(kBuf);
  for (;;) {
    auto n = from.read(buf.get(), kBuf);
    if (n && *n == 0) {
      (void)to.shutdown(gort::net::Shutdown::write);
      return;
    }
    if (!n || !to.write_all(buf.get(), *n)) {
      from.close();
      to.close();
      return;
    }
  }
}

void report_dial_failure(const std::string& upstream, std::error_code ec) {
  // At most one line a second: an upstream that is down would otherwise flood the log.
  static std::atomic<int64_t> last{0};
  int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                    std::chrono::steady_clock::now().time_since_epoch())
                    .count();
  int64_t prev = last.load(std::memory_order_relaxed);
  if (now != prev && last.compare_exchange_strong(prev, now)) {
    std::fprintf(stderr, "proxy: dial %s: %s\n", upstream.c_str(), ec.message().c_str());
  }
}

void join(const std::string& upstream_addr, gort::net::Conn client) {
  auto upstream = gort::net::dial_tcp(upstream_addr, gort::net::Deadline::after(kDialTimeout));
  if (!upstream) {
    report_dial_failure(upstream_addr, upstream.error());
    client.close();
    return;
  }
  (void)client.set_nodelay(true);
  (void)upstream->set_nodelay(true);
  gort::WaitGroup wg;
  wg.add(1);
  gort::go([&] {
    copy(client, *upstream);
    wg.done();
  });
  copy(*upstream, client);
  wg.wait();
  client.close();
  upstream->close();
}

}  // namespace

int main(int argc, char** argv) {
  std::string listen = "127.0.0.1:7100";
  std::string upstream;
  examples::Flags flags("proxy", "Forwards every TCP connection to the upstream address.");
  flags.text("upstream", &upstream, "HOST:PORT", "address to forward to", /*required=*/true)
      .text("listen", &listen, "HOST:PORT", "address to listen on (port 0: any free port)");
  flags.parse(argc, argv);
  return examples::run_server({
      .program = "proxy",
      .address = listen,
      .handle = [&upstream](gort::net::Conn c) { join(upstream, std::move(c)); },
  });
}
