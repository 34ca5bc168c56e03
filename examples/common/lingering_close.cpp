#include "common/lingering_close.hpp"

#include <chrono>
#include <memory>

namespace examples {

void lingering_close(gort::net::Conn& conn) {
  constexpr size_t kMaxDrain = 256 * 1024;
  constexpr auto kMaxWait = std::chrono::seconds(1);
  if (conn.shutdown(gort::net::Shutdown::write)) {
    auto deadline = gort::net::Deadline::after(kMaxWait);
    auto sink = std::make_unique_for_overwrite<char[]>(16 * 1024);
    size_t drained = 0;
    while (drained < kMaxDrain) {
      auto n = conn.read(sink.get(), 16 * 1024, deadline);
      if (!n || *n == 0) break;
      drained += *n;
    }
  }
  conn.close();
}

}  // namespace examples
