// Load generator for echo_server (or anything that echoes): N connections, one goroutine and one
// message in flight each, every echo checked byte for byte.
//
// usage: echo_client [--addr HOST:PORT] [--conns N] [--size BYTES] [--duration SECONDS]
// Prints throughput and p50/p99 round-trip latency; exits 1 if any connection failed or any
// echo differed from what was sent.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <exception>
#include <memory>
#include <string>
#include <vector>

#include "common/flags.hpp"
#include "common/latency_histogram.hpp"
#include "gort/chan.hpp"
#include "gort/net.hpp"
#include "gort/runtime.hpp"
#include "gort/wait_group.hpp"

namespace {

using Clock = std::chrono::steady_clock;

// A hung server must fail the run, not hang it.
constexpr auto kIoTimeout = std::chrono::seconds(10);

struct Options {
  std::string addr = "127.0.0.1:7000";
  int64_t conns = 50;
  int64_t size = 64;
  double duration_s = 5;
};

struct ConnResult {
  uint64_t messages = 0;
  examples::LatencyHistogram latency;
  std::string error;  // empty: the connection did its job
};

// Message k of connection c: a pattern that differs per connection and per message, so a byte
// from another connection or an earlier message is caught.
void fill(std::vector<unsigned char>& buf, uint64_t conn, uint64_t k) {
  auto seed = static_cast<unsigned char>(conn * 131 + k * 7);
  for (size_t i = 0; i < buf.size(); ++i) buf[i] = static_cast<unsigned char>(seed + i * 31);
}

void run_connection(const Options& opt, uint64_t id, ConnResult& out, gort::Chan<int> start,
                    const Clock::time_point& end, gort::WaitGroup& dialed) {
  auto conn = gort::net::dial_tcp(opt.addr, gort::net::Deadline::after(kIoTimeout));
  dialed.done();
  if (!conn) {
    out.error = "dial: " + conn.error().message();
    return;
  }
  (void)conn->set_nodelay(true);
  start.recv();  // returns once main closes it: every connection starts together
  std::vector<unsigned char> sent(static_cast<size_t>(opt.size)), got(sent.size());
  for (uint64_t k = 0; Clock::now() < end; ++k) {
    fill(sent, id, k);
    auto t0 = Clock::now();
    auto deadline = gort::net::Deadline::after(kIoTimeout);
    if (auto w = conn->write_all(sent.data(), sent.size(), deadline); !w) {
      out.error = "write: " + w.error().message();
      break;
    }
    if (auto r = conn->read_exact(got.data(), got.size(), deadline); !r) {
      out.error = "read: " + r.error().message();
      break;
    }
    out.latency.record(Clock::now() - t0);
    if (std::memcmp(sent.data(), got.data(), sent.size()) != 0) {
      out.error = "echo of message " + std::to_string(k) + " differs from what was sent";
      break;
    }
    ++out.messages;
  }
  conn->close();
}

// Prints the summary; true when every connection did its job.
bool report(const Options& opt, const ConnResult* results, double elapsed) {
  examples::LatencyHistogram all;
  uint64_t messages = 0;
  int failed = 0;
  for (int64_t i = 0; i < opt.conns; ++i) {
    all.merge(results[i].latency);
    messages += results[i].messages;
    if (!results[i].error.empty() && ++failed <= 10) {
      std::fprintf(stderr, "echo_client: connection %lld: %s\n", static_cast<long long>(i),
                   results[i].error.c_str());
    }
  }
  auto us = [](std::chrono::nanoseconds d) { return static_cast<double>(d.count()) / 1e3; };
  std::printf(
      "%lld conns x %lld B for %.2f s: %llu msgs, %.0f msgs/s, p50 %.1f us, p99 %.1f us, "
      "%d failed conns\n",
      static_cast<long long>(opt.conns), static_cast<long long>(opt.size), elapsed,
      static_cast<unsigned long long>(messages), static_cast<double>(messages) / elapsed,
      us(all.percentile(50)), us(all.percentile(99)), failed);
  if (messages == 0 && failed == 0) {
    std::fprintf(stderr, "echo_client: no message completed\n");
    return false;
  }
  return failed == 0;
}

int run(const Options& opt) {
  return gort::run([&]() -> int {
    auto results = std::make_unique<ConnResult[]>(static_cast<size_t>(opt.conns));
    gort::Chan<int> start;
    gort::WaitGroup dialed, finished;
    Clock::time_point end;  // written before start is closed, read after it is
    dialed.add(opt.conns);
    finished.add(opt.conns);
    for (int64_t i = 0; i < opt.conns; ++i) {
      gort::go([&, i] {
        run_connection(opt, static_cast<uint64_t>(i), results[i], start, end, dialed);
        finished.done();
      });
    }
    dialed.wait();
    auto t0 = Clock::now();
    end = t0 + std::chrono::duration_cast<Clock::duration>(
                   std::chrono::duration<double>(opt.duration_s));
    start.close();
    finished.wait();
    double elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
    return report(opt, results.get(), elapsed) ? 0 : 1;
  });
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  examples::Flags flags("echo_client",
                        "Drives an echo server with one message in flight per connection.");
  flags.text("addr", &opt.addr, "HOST:PORT", "server address")
      .integer("conns", &opt.conns, 1, 100000, "concurrent connections")
      .integer("size", &opt.size, 1, 64 << 20, "bytes per message")
      .seconds("duration", &opt.duration_s, "how long to send, in seconds");
  flags.parse(argc, argv);
  try {
    return run(opt);
  } catch (const std::exception& e) {  // the runtime's refusal of a bad GORT_* setting
    std::fprintf(stderr, "echo_client: %s\n", e.what());
    return 1;
  }
}
