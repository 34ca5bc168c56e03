// RESP2 replies, written through a ReplyWriter: it gathers the replies of a batch of pipelined
// commands into one write, and sends them on as soon as they pass a threshold, also in the
// middle of one reply. A reply can be far larger than its request (MGET of a 1 MiB value
// named 5000 times answers with 5 GiB), so a connection's memory stays bounded only if the
// reply never has to be built whole.
#pragma once

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <string_view>
#include <utility>

namespace kv {

class ReplyWriter {
 public:
  // Sends bytes to the client; false when they could not be sent (the peer is gone).
  using Sink = std::function<bool(std::string_view)>;

  // Without a sink nothing is sent: everything stays in buffered() (for tests).
  ReplyWriter() = default;
  ReplyWriter(size_t flush_at, Sink sink) : flush_at_(flush_at), sink_(std::move(sink)) {}

  void append(std::string_view s) {
    if (failed_) return;  // nobody will read it
    if (buf_.size() + s.size() > flush_at_) {
      flush();
      // A piece as large as the threshold goes out as it is: copying it through the buffer
      // would only double the memory it takes.
      if (s.size() >= flush_at_) return send(s);
    }
    buf_ += s;
  }

  // Sends what is buffered. False once a send has failed; later replies are dropped.
  bool flush() {
    if (!buf_.empty() && sink_) {
      send(buf_);
      buf_.clear();
    }
    return !failed_;
  }

  bool failed() const { return failed_; }
  const std::string& buffered() const { return buf_; }

 private:
  void send(std::string_view s) {
    if (!failed_ && !sink_(s)) failed_ = true;
  }

  size_t flush_at_ = std::numeric_limits<size_t>::max();
  Sink sink_;
  std::string buf_;
  bool failed_ = false;
};

namespace reply {

// ":42\r\n", "$5\r\n", "*3\r\n": formatted on the stack, as these come once per element.
inline void number_line(ReplyWriter& out, char type, int64_t n) {
  char buf[32];
  buf[0] = type;
  char* end = std::to_chars(buf + 1, buf + sizeof buf - 2, n).ptr;
  *end++ = '\r';
  *end++ = '\n';
  out.append({buf, static_cast<size_t>(end - buf)});
}

inline void simple(ReplyWriter& out, std::string_view s) {
  out.append("+");
  out.append(s);
  out.append("\r\n");
}
inline void ok(ReplyWriter& out) { out.append("+OK\r\n"); }
// `message` starts with the error code, as Redis's do: "ERR syntax error", "WRONGTYPE ...".
// An error reply is one line, so a CR or LF that client bytes brought into the message (an
// unknown command's name, a stray byte in a protocol error) becomes a space.
inline void error(ReplyWriter& out, std::string_view message) {
  std::string line = "-";
  for (char c : message) line += c == '\r' || c == '\n' ? ' ' : c;
  line += "\r\n";
  out.append(line);
}
inline void integer(ReplyWriter& out, int64_t v) { number_line(out, ':', v); }
inline void bulk(ReplyWriter& out, std::string_view s) {
  number_line(out, '$', static_cast<int64_t>(s.size()));
  out.append(s);
  out.append("\r\n");
}
inline void null_bulk(ReplyWriter& out) { out.append("$-1\r\n"); }
inline void array(ReplyWriter& out, size_t n) { number_line(out, '*', static_cast<int64_t>(n)); }

}  // namespace reply
}  // namespace kv
