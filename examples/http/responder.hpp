// http_server's application logic on byte buffers: answers requests, knows nothing of sockets.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace http {

struct Progress {
  size_t consumed = 0;  // bytes of `input` answered; the rest is an incomplete request
  bool close = false;   // close the connection once `output` is written
};

// Answers every complete request at the front of `input`, in order, appending the responses to
// `output` (pipelining: the client may send many requests before reading any response).
// Stops after a request that ends the connection (Connection: close, HTTP/1.0 without
// keep-alive, or a request that could not be parsed, which gets its 4xx/5xx answer first).
//
//   GET / (or HEAD /)  200 "Hello, World!\n"; the target may be in absolute form
//                      ("http://host/"), as RFC 9112 §3.2.2 requires a server to accept
//   GET other paths    404
//   other methods      405 (the body is skipped, the connection stays usable), OPTIONS * and
//                      CONNECT host:port included
//
// `Expect: 100-continue` (HTTP/1.1): while such a request's body has not arrived, the client
// waits for an interim "100 Continue", sent once per request (`continue_sent` carries that
// across calls for the request at the front of `input`); a request that will be refused gets
// its final answer instead and the connection closes, its body unread. Any other expectation:
// 417, then close.
Progress respond(std::string_view input, std::string& output, bool& continue_sent);
inline Progress respond(std::string_view input, std::string& output) {
  bool continue_sent = false;
  return respond(input, output, continue_sent);
}

}  // namespace http
