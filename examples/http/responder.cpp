#include "http/responder.hpp"

#include <ctime>

#include "http/request_parser.hpp"

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

void answer(const Request& req, std::string& out) {
  const bool head = req.method == "HEAD";
  if (req.method != "GET" && !head) {
    append_response(out, 405, "method not allowed\n", true, req.keep_alive, req.minor_version);
    return;
  }
  std::string_view path = req.target.substr(0, req.target.find('?'));
  if (path == "/") {
    append_response(out, 200, kHello, !head, req.keep_alive, req.minor_version);
  } else {
    append_response(out, 404, "not found\n", !head, req.keep_alive, req.minor_version);
  }
}

}  // namespace

Progress respond(std::string_view input, std::string& output) {
  Progress p;
  while (p.consumed < input.size()) {
    ParseResult r = parse_request(input.substr(p.consumed));
    if (r.status == ParseStatus::incomplete) break;
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
