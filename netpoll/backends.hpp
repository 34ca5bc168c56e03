// Backend factories and probes (netpoll.cpp picks one).
#pragma once

#include <string>

#include "netpoll/backend.hpp"

namespace gort::rt::netpoll {

Backend* make_epoll_backend();  // throws std::runtime_error when epoll cannot be set up
// Probes io_uring (rings allowed, the operations gort uses present). On failure returns null
// and says why in *why.
Backend* make_uring_backend(std::string* why);

}  // namespace gort::rt::netpoll
