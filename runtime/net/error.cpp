// gort::net's error category (gort/net/error.hpp).
#include <string>

#include "gort/net/error.hpp"

namespace gort::net {

namespace {

class NetCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "gort.net"; }
  std::string message(int ev) const override {
    switch (static_cast<Errc>(ev)) {
      case Errc::closed: return "use of closed network connection";
      case Errc::eof: return "unexpected end of stream";
      case Errc::invalid_address: return "invalid address";
      case Errc::poller_unavailable: return "poller backend unavailable";
      case Errc::not_in_runtime: return "no gort runtime is running";
      case Errc::host_not_found: return "no such host";
    }
    return "unknown gort.net error";
  }
};

}  // namespace

const std::error_category& net_category() noexcept {
  static const NetCategory category;
  return category;
}

}  // namespace gort::net
