// TCP echo server: one goroutine per connection, each a plain blocking read/write loop.
//
// usage: echo_server [--addr HOST:PORT] [--work-us N]
//        (GORT_PROCS, GORT_POLLER from the environment)
// --work-us makes every reply cost N microseconds of computation first (a CPU-heavy handler,
// for scheduler benchmarks: does the server still use every processor?).
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "common/flags.hpp"
#include "common/io_errors.hpp"
#include "common/server.hpp"
#include "gort/net.hpp"

namespace {

// Hashes the received bytes over and over for about `us` microseconds (no preemption point
// inside); the reply is unchanged.
void compute(char* data, size_t n, int64_t us) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(us);
  uint64_t h = 1469598103934665603ull;
  do {
    for (int round = 0; round < 64; ++round) {
      for (size_t i = 0; i < n; ++i) h = (h ^ static_cast<unsigned char>(data[i])) * 1099511628211ull;
    }
    asm volatile("" : : "r"(h));  // the hash is "used": the loop stays
  } while (std::chrono::steady_clock::now() < until);
}

void echo(gort::net::Conn conn, int64_t work_us) {
  (void)conn.set_nodelay(true);
  constexpr size_t kBuf = 64 * 1024;
  // On the heap (goroutine stacks stay one page), not zeroed: an idle connection commits only
  // the pages its reads have touched.
  auto buf = std::make_unique_for_overwrite<char[]>(kBuf);
  for (;;) {
    auto n = conn.read(buf.get(), kBuf);
    if (!n) examples::report_io_error("echo_server", conn, "read", n.error());
    if (!n || *n == 0) break;
    if (work_us > 0) compute(buf.get(), *n, work_us);
    if (auto w = conn.write_all(buf.get(), *n); !w) {
      examples::report_io_error("echo_server", conn, "write", w.error());
      break;
    }
  }
  conn.close();
}

}  // namespace

int main(int argc, char** argv) {
  std::string addr = "127.0.0.1:7000";
  int64_t work_us = 0;
  examples::Flags flags("echo_server", "Echoes every byte back on each TCP connection.");
  flags.text("addr", &addr, "HOST:PORT", "address to listen on (port 0: any free port)");
  flags.integer("work-us", &work_us, 0, 1000000,
                "compute this many microseconds before each reply");
  flags.parse(argc, argv);
  return examples::run_server({.program = "echo_server",
                               .address = addr,
                               .handle = [work_us](gort::net::Conn c) { echo(std::move(c), work_us); }});
}
