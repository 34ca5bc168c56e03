// Closing a connection right after an error reply without losing the reply.
#pragma once

#include "gort/net/conn.hpp"

namespace examples {

// Shuts down our sending side, then drains (for a bounded time and size) whatever the peer
// still sends before closing. Closing with unread input makes the kernel answer with a reset,
// and a reset can destroy the reply still in flight to the peer.
void lingering_close(gort::net::Conn& conn);

}  // namespace examples
