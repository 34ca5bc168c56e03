// HTTP/1.x request parsing (RFC 9112), independent of sockets so it can be tested on strings.
//
// parse_request looks at the request at the front of a buffer: complete (with its size, so
// pipelined requests behind it can be parsed next), incomplete (read more and call again) or
// an error carrying the status to answer before closing the connection.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

namespace http {

// Request line and header fields together, terminating empty line included.
inline constexpr size_t kMaxHeadBytes = 8 * 1024;
inline constexpr size_t kMaxBodyBytes = 1024 * 1024;

// What the Expect fields ask for (RFC 9110 §10.1.1; every Expect line, each a comma-separated
// list): only "100-continue" is defined. An HTTP/1.0 request's expectations are ignored.
enum class Expectation { none, continue_, unknown };

struct Request {
  std::string_view method;
  std::string_view target;
  int minor_version = 1;   // HTTP/1.<minor_version>
  bool keep_alive = true;  // whether the connection stays open after the response
  std::string_view body;   // Content-Length bytes (no transfer codings are supported)
  size_t size = 0;         // bytes of the whole request: head and body
  Expectation expect = Expectation::none;

  // The value of the first field named `name` (case-insensitive), whitespace trimmed.
  std::optional<std::string_view> header(std::string_view name) const;

  std::string_view fields;  // raw header lines, for header()
};

enum class ParseStatus { complete, incomplete, error };

struct ParseResult {
  ParseStatus status = ParseStatus::incomplete;
  // When complete; when incomplete with head_complete, all but the body (`size` is what the
  // whole request will take), so that a server can answer `Expect: 100-continue` first.
  Request request;
  bool head_complete = false;
  int error_status = 0;       // when error: 400, 413, 501 or 505
  std::string_view reason;    // when error: a short explanation (a static string)
};

// Views in the result point into `input`.
ParseResult parse_request(std::string_view input);

}  // namespace http
