// A connection's read or write failed: a server says so on stderr when the failure is not one
// it meets in normal life, so that a fault the load does not explain leaves a trace instead of
// a silently closed connection.
#pragma once

#include <string_view>
#include <system_error>

#include "gort/net/conn.hpp"

namespace examples {

// The peer went away (reset, broken pipe, aborted, end of stream), the server closed the
// connection itself (shutdown), or a deadline passed.
bool is_expected_io_error(std::error_code ec);

// One stderr line for an unexpected failure: the program, the peer, the operation, the error.
// The first 10 are printed, then one at each power of two (with the count), so a storm of them
// (out of memory) cannot flood the log. Returns whether it printed.
bool report_io_error(std::string_view program, const gort::net::Conn& conn, std::string_view op,
                     std::error_code ec);

}  // namespace examples
