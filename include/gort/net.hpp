// gort networking: blocking-style TCP, UDP and Unix sockets on the runtime's netpoller.
#pragma once

#include "gort/net/address.hpp"
#include "gort/net/conn.hpp"
#include "gort/net/deadline.hpp"
#include "gort/net/error.hpp"
#include "gort/net/poll.hpp"
#include "gort/net/udp.hpp"
