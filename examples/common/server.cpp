#include "common/server.hpp"

#include <chrono>
#include <cstdio>
#include <exception>
#include <utility>

#include "common/connection_tracker.hpp"
#include "common/shutdown_signal.hpp"
#include "gort/runtime.hpp"
#include "gort/time.hpp"
#include "gort/wait_group.hpp"

namespace examples {

namespace {

// How long connections get to wind down after a shutdown signal.
constexpr auto kShutdownGrace = std::chrono::seconds(5);

void accept_loop(const ServerSpec& spec, gort::net::Listener listener,
                 ConnectionTracker& tracker) {
  auto last_report = std::chrono::steady_clock::time_point{};
  for (;;) {
    auto conn = listener.accept();
    if (conn) {
      tracker.serve(std::move(*conn), spec.handle);
      continue;
    }
    if (conn.error() == gort::net::Errc::closed) return;
    // Out of descriptors or memory: the connection stays in the backlog, so back off and retry
    // rather than spin; report at most once a second.
    auto now = std::chrono::steady_clock::now();
    if (now - last_report > std::chrono::seconds(1)) {
      std::fprintf(stderr, "%s: accept: %s\n", spec.program.c_str(),
                   conn.error().message().c_str());
      last_report = now;
    }
    gort::sleep_for(std::chrono::milliseconds(10));
  }
}

int serve_until_signal(const ServerSpec& spec, int signal_fd) {
  return gort::run([&]() -> int {
    auto listener = gort::net::listen_tcp(spec.address);
    if (!listener) {
      std::fprintf(stderr, "%s: listen on %s: %s\n", spec.program.c_str(), spec.address.c_str(),
                   listener.error().message().c_str());
      return 1;
    }
    auto bound = listener->local_address();
    std::printf("listening on %s\n",
                bound ? bound->to_string().c_str() : spec.address.c_str());
    std::fflush(stdout);
    if (spec.on_start) spec.on_start();

    ConnectionTracker tracker;
    gort::WaitGroup accepting;
    accepting.add(1);
    gort::go([&] {
      accept_loop(spec, *listener, tracker);
      accepting.done();
    });
    int sig = wait_for_shutdown_signal(signal_fd);
    std::fprintf(stderr, "%s: signal %d, shutting down\n", spec.program.c_str(), sig);
    listener->close();  // the accept loop returns
    accepting.wait();
    if (int64_t left = tracker.shutdown(kShutdownGrace); left > 0) {
      std::fprintf(stderr, "%s: %lld connections did not finish in time\n",
                   spec.program.c_str(), static_cast<long long>(left));
    }
    return 0;
  });
}

}  // namespace

int run_server(const ServerSpec& spec) {
  int signal_fd = block_shutdown_signals();
  // The runtime refuses a bad configuration (GORT_PROCS=abc, an unavailable GORT_POLLER) by
  // throwing; say so in one line instead of dying in std::terminate.
  try {
    return serve_until_signal(spec, signal_fd);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", spec.program.c_str(), e.what());
    return 1;
  }
}

}  // namespace examples
