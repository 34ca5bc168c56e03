// The life every example server shares: listen, announce the bound address, serve each
// connection in its own goroutine, stop on SIGINT / SIGTERM.
#pragma once

#include <functional>
#include <string>

#include "gort/net/conn.hpp"

namespace examples {

struct ServerSpec {
  std::string program;  // for messages
  std::string address;  // "host:port"; port 0 picks a free one
  // Runs in its own goroutine for each accepted connection; owns the connection. When the
  // server shuts down, the connection is closed under it: its reads and writes fail.
  std::function<void(gort::net::Conn)> handle;
  // Runs in the main goroutine once the listener is open (background goroutines start here).
  std::function<void()> on_start = {};
};

// Runs the runtime with the server until a shutdown signal; prints "listening on ADDR" (the
// bound address, so port 0 shows the real port) to stdout once connections are accepted.
// On SIGINT / SIGTERM it stops accepting, closes the open connections, gives their goroutines
// a few seconds to finish and returns 0. Returns the process exit code.
int run_server(const ServerSpec& spec);

}  // namespace examples
