// RESP2 replies, appended to an output buffer so a batch of pipelined commands is answered
// with one write.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace kv::reply {

inline void simple(std::string& out, std::string_view s) {
  out += '+';
  out += s;
  out += "\r\n";
}
inline void ok(std::string& out) { out += "+OK\r\n"; }
// `message` starts with the error code, as Redis's do: "ERR syntax error", "WRONGTYPE ...".
// An error reply is one line, so a CR or LF that client bytes brought into the message (an
// unknown command's name, a stray byte in a protocol error) becomes a space.
inline void error(std::string& out, std::string_view message) {
  out += '-';
  for (char c : message) out += c == '\r' || c == '\n' ? ' ' : c;
  out += "\r\n";
}
inline void integer(std::string& out, int64_t v) {
  out += ':';
  out += std::to_string(v);
  out += "\r\n";
}
inline void bulk(std::string& out, std::string_view s) {
  out += '$';
  out += std::to_string(s.size());
  out += "\r\n";
  out += s;
  out += "\r\n";
}
inline void null_bulk(std::string& out) { out += "$-1\r\n"; }
inline void array(std::string& out, size_t n) {
  out += '*';
  out += std::to_string(n);
  out += "\r\n";
}

}  // namespace kv::reply
