// io_uring backend: being written; until then the probe reports it unavailable.
#include <string>

#include "netpoll/backends.hpp"

namespace gort::rt::netpoll {

Backend* make_uring_backend(std::string* why) {
  *why = "the io_uring backend is not in this build yet";
  return nullptr;
}

}  // namespace gort::rt::netpoll
