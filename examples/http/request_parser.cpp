#include "http/request_parser.hpp"

#include <cstdint>
#include <cstring>

#include "common/ascii.hpp"
#include "http/request_target.hpp"

namespace http {

namespace {

bool is_tchar(unsigned char c) {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  return c != 0 && std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
}

bool is_token(std::string_view s) {
  if (s.empty()) return false;
  for (unsigned char c : s) {
    if (!is_tchar(c)) return false;
  }
  return true;
}

using examples::iequals;

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Takes the next line off `rest`, without its terminator. Lines end in CRLF; a bare LF is
// accepted too (RFC 9112 §2.2 allows it, and hand-typed requests use it). A CR anywhere else
// stays in the line, where the character checks reject it.
bool next_line(std::string_view& rest, std::string_view& line) {
  size_t nl = rest.find('\n');
  if (nl == std::string_view::npos) return false;
  line = rest.substr(0, nl);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  rest.remove_prefix(nl + 1);
  return true;
}

bool valid_target(std::string_view t) {
  if (t.empty()) return false;
  for (unsigned char c : t) {
    if (c <= 0x20 || c >= 0x7f) return false;
  }
  return true;
}

bool valid_field_value(std::string_view v) {
  for (unsigned char c : v) {
    if (c != '\t' && (c < 0x20 || c == 0x7f)) return false;
  }
  return true;
}

ParseResult fail(int status, std::string_view reason) {
  ParseResult r;
  r.status = ParseStatus::error;
  r.error_status = status;
  r.reason = reason;
  return r;
}

ParseResult need_more(size_t buffered) {
  // A head that has not ended within the limit never will be accepted: say so now rather
  // than buffer without bound.
  if (buffered > kMaxHeadBytes) return fail(400, "request header too large");
  return ParseResult{};
}

// What the header fields say about framing and the connection.
struct Fields {
  bool has_length = false;
  uint64_t length = 0;
  bool has_transfer_encoding = false;
  int hosts = 0;
  bool close = false;
  bool keep_alive = false;
  bool expect_continue = false;
  bool expect_unknown = false;
};

// Content-Length: only digits; repeated fields must agree (RFC 9112 §6.3 treats a conflict as
// unrecoverable framing, which is what request smuggling exploits).
std::string_view add_content_length(Fields& f, std::string_view v) {
  if (v.empty()) return "invalid Content-Length";
  uint64_t n = 0;
  for (char c : v) {
    if (c < '0' || c > '9') return "invalid Content-Length";
    // Saturate: anything this large is refused as too large, not as malformed.
    n = n > (UINT64_MAX - 9) / 10 ? UINT64_MAX : n * 10 + static_cast<uint64_t>(c - '0');
  }
  if (f.has_length && f.length != n) return "conflicting Content-Length fields";
  f.has_length = true;
  f.length = n;
  return {};
}

// Calls f on each element of a comma-separated field value (RFC 9110 §5.6.1), trimmed; empty
// elements, which the list syntax allows, are skipped.
template <class F>
void for_each_element(std::string_view v, F&& f) {
  while (!v.empty()) {
    size_t comma = v.find(',');
    std::string_view element = trim(v.substr(0, comma));
    if (!element.empty()) f(element);
    if (comma == std::string_view::npos) break;
    v.remove_prefix(comma + 1);
  }
}

void add_connection_options(Fields& f, std::string_view v) {
  for_each_element(v, [&](std::string_view option) {
    if (iequals(option, "close")) f.close = true;
    if (iequals(option, "keep-alive")) f.keep_alive = true;
  });
}

void add_expectations(Fields& f, std::string_view v) {
  for_each_element(v, [&](std::string_view e) {
    (iequals(e, "100-continue") ? f.expect_continue : f.expect_unknown) = true;
  });
}

}  // namespace

std::optional<std::string_view> Request::header(std::string_view name) const {
  std::string_view rest = fields, line;
  while (next_line(rest, line)) {
    size_t colon = line.find(':');
    if (colon != std::string_view::npos && iequals(line.substr(0, colon), name)) {
      return trim(line.substr(colon + 1));
    }
  }
  return std::nullopt;
}

ParseResult parse_request(std::string_view input) {
  std::string_view rest = input, line;
  // Empty lines before a request are ignored (RFC 9112 §2.2): some clients send a CRLF after
  // a body.
  do {
    if (!next_line(rest, line)) return need_more(input.size());
  } while (line.empty());

  Request req;
  size_t sp1 = line.find(' ');
  size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos) return fail(400, "malformed request line");
  req.method = line.substr(0, sp1);
  req.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view version = line.substr(sp2 + 1);
  if (!is_token(req.method)) return fail(400, "invalid method");
  if (!valid_target(req.target) || !valid_target_form(req.method, req.target)) {
    return fail(400, "invalid request target");
  }
  if (version.size() != 8 || !version.starts_with("HTTP/") || version[6] != '.' ||
      version[5] < '0' || version[5] > '9' || version[7] < '0' || version[7] > '9') {
    return fail(400, "malformed HTTP version");
  }
  if (version[5] != '1') return fail(505, "only HTTP/1.x is supported");
  req.minor_version = version[7] - '0';

  const size_t fields_start = input.size() - rest.size();
  Fields f;
  for (;;) {
    if (!next_line(rest, line)) return need_more(input.size());
    if (line.empty()) break;
    if (line.front() == ' ' || line.front() == '\t') return fail(400, "obsolete line folding");
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) return fail(400, "header field without a colon");
    std::string_view name = line.substr(0, colon);
    std::string_view value = trim(line.substr(colon + 1));
    // Whitespace before the colon fails here too, as RFC 9112 §5.1 requires.
    if (!is_token(name)) return fail(400, "invalid header field name");
    if (!valid_field_value(value)) return fail(400, "invalid header field value");
    if (iequals(name, "content-length")) {
      if (auto why = add_content_length(f, value); !why.empty()) return fail(400, why);
    } else if (iequals(name, "transfer-encoding")) {
      f.has_transfer_encoding = true;
    } else if (iequals(name, "host")) {
      ++f.hosts;
    } else if (iequals(name, "connection")) {
      add_connection_options(f, value);
    } else if (iequals(name, "expect")) {
      add_expectations(f, value);
    }
  }
  const size_t head_size = input.size() - rest.size();
  if (head_size > kMaxHeadBytes) return fail(400, "request header too large");
  req.fields = input.substr(fields_start, head_size - fields_start);

  if (f.has_transfer_encoding) {
    if (f.has_length) return fail(400, "both Transfer-Encoding and Content-Length");
    return fail(501, "transfer codings are not supported");
  }
  if (req.minor_version >= 1 ? f.hosts != 1 : f.hosts > 1) {
    return fail(400, "missing or repeated Host");
  }
  if (f.length > kMaxBodyBytes) return fail(413, "request body too large");
  req.keep_alive = !f.close && (req.minor_version >= 1 || f.keep_alive);
  if (req.minor_version >= 1) {
    req.expect = f.expect_unknown    ? Expectation::unknown
                 : f.expect_continue ? Expectation::continue_
                                     : Expectation::none;
  }

  req.size = head_size + f.length;
  ParseResult r;
  r.request = req;
  r.head_complete = true;
  if (rest.size() < f.length) return r;  // the body is still on its way
  r.request.body = rest.substr(0, f.length);
  r.status = ParseStatus::complete;
  return r;
}

}  // namespace http
