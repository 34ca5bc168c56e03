// The program tests/tools/gdb_test.sh runs under gdb: three goroutines parked on a channel in
// ParkedInTarget, one in a sleep, then a SIGTRAP that hands the stopped process to gdb.
#include <signal.h>

#include <atomic>
#include <chrono>

#include "gort/gort.hpp"

namespace {

__attribute__((noinline)) void ParkedInTarget(gort::Chan<int>& ch) {
  (void)ch.recv();
  asm volatile("");  // keeps the call a call, not a tail jump
}

}  // namespace

int main() {
  return gort::run([] {
    gort::Chan<int> never;
    std::atomic<int> parked{0};
    for (int i = 0; i < 3; ++i) {
      gort::go([&] {
        parked.fetch_add(1);
        ParkedInTarget(never);
      });
    }
    gort::go([] { gort::sleep_for(std::chrono::hours(1)); });
    while (parked.load() < 3) gort::yield();
    gort::sleep_for(std::chrono::milliseconds(20));  // they are parked by now
    raise(SIGTRAP);
    return 0;
  });
}
