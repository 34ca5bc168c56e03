#include "http/responder.hpp"

#include <ctime>
#include <optional>

#include "common/ascii.hpp"
#include "http/request_parser.hpp"
#include "http/request_target.hpp"

namespace http {

namespace {

constexpr std::string_view kHello = "Hello, World!\n";

std::string_view status_text(int status) {
  switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 413: return "Content Too Large";
    case 417: return "Expectation Failed";
    case 501: return "Not Implemented";
    case 505: return "HTTP Version Not Supported";
    default: return "Error";
  }
}

// RFC 9110 §6.6.1: an origin server with a clock sends Date. Formatting it once a second per
// thread keeps it off the per-request cost; the cache is only touched between gort calls.
std::string_view http_date() {
  thread_local time_t cached_second = -1;
  thread_local char text[40];
  time_t now = std::time(nullptr);
  if (now != cached_second) {
    std::tm tm;
    gmtime_r(&now, &tm);
    std::strftime(text, sizeof text, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    cached_second = now;
  }
  return text;
}

void append_response(std::string& out, int status, std::string_view body, bool send_body,
                     bool keep_alive, int minor_version) {
  out += "HTTP/1.1 ";
  out += std::to_string(status);
  out += ' ';
  out += status_text(status);
  out += "\r\nServer: gort\r\nDate: ";
  out += http_date();
  out += "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ";
  out += std::to_string(body.size());
  if (status == 405) out += "\r\nAllow: GET, HEAD";
  if (!keep_alive) {
    out += "\r\nConnection: close";
  } else if (minor_version == 0) {
    out += "\r\nConnection: keep-alive";  // HTTP/1.0 closes unless told otherwise
  }
  out += "\r\n\r\n";
  if (send_body) out += body;
}

bool served_method(const Request& req) { return req.method == "GET" || req.method == "HEAD"; }

void answer(const Request& req, std::string& out) {
  const bool head = req.method == "HEAD";
  if (!served_method(req)) {
    append_response(out, 405, "method not allowed\n", true, req.keep_alive, req.minor_version);
    return;
  }
  std::string_view path = target_path(req.target);
  if (path == "/") {
    append_response(out, 200, kHello, !head, req.keep_alive, req.minor_version);
  } else {
    append_response(out, 404, "not found\n", !head, req.keep_alive, req.minor_version);
  }
}

}  // namespace

Progress respond(std::string_view input, std::string& output, bool& continue_sent) {
  Progress p;
  while (p.consumed < input.size()) {
    ParseResult r = parse_request(input.substr(p.consumed));
    const Expectation expect =
        r.status == ParseStatus::error ? Expectation::none : r.request.expect;
    if (r.status == ParseStatus::incomplete && !r.head_complete) break;
    if (expect == Expectation::unknown) {
      append_response(output, 417, "only 100-continue is supported\n", true, false,
                      r.request.minor_version);
      p.close = true;
      return p;
    }
    if (r.status == ParseStatus::incomplete) {
      if (expect != Expectation::continue_) break;
      if (!served_method(r.request)) {
        // Refused whatever the body says: the final answer now, and the body never comes.
        append_response(output, 405, "method not allowed\n", true, false,
                        r.request.minor_version);
        p.close = true;
        return p;
      }
      if (!continue_sent) output += "HTTP/1.1 100 Continue\r\n\r\n";
      continue_sent = true;
      break;
    }
    continue_sent = false;  // (for the next request, if this one had its 100 Continue)
    if (r.status == ParseStatus::error) {
      std::string body(r.reason);
      body += '\n';
      append_response(output, r.error_status, body, true, false, 1);
      p.close = true;
      return p;
    }
    answer(r.request, output);
    p.consumed += r.request.size;
    if (!r.request.keep_alive) {
      p.close = true;
      return p;
    }
  }
  return p;
}

}  // namespace http
