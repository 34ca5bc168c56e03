#include "common/io_errors.hpp"

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <string>

namespace examples {

bool is_expected_io_error(std::error_code ec) {
  using gort::net::Errc;
  return !ec || ec == Errc::closed || ec == Errc::eof || ec == std::errc::connection_reset ||
         ec == std::errc::broken_pipe || ec == std::errc::connection_aborted ||
         ec == std::errc::timed_out || ec == std::errc::not_connected;
}

bool report_io_error(std::string_view program, const gort::net::Conn& conn, std::string_view op,
                     std::error_code ec) {
  if (is_expected_io_error(ec)) return false;
  static std::atomic<uint64_t> reported{0};
  const uint64_t n = reported.fetch_add(1, std::memory_order_relaxed) + 1;
  if (n > 10 && (n & (n - 1)) != 0) return false;
  auto peer = conn.peer_address();
  const std::string who = peer ? peer->to_string() : "an unknown peer";
  const std::string so_far = n > 10 ? " [" + std::to_string(n) + " unexpected I/O errors so far]" : "";
  std::fprintf(stderr, "%.*s: %.*s on the connection from %s failed: %s (%s:%d)%s\n",
               static_cast<int>(program.size()), program.data(), static_cast<int>(op.size()),
               op.data(), who.c_str(), ec.message().c_str(), ec.category().name(), ec.value(),
               so_far.c_str());
  return true;
}

}  // namespace examples
