// The RESP2 request reader of kv_server: multibulk commands ("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n")
// and inline ones ("GET k\r\n"), fed from a socket in arbitrary pieces.
//
// It owns the input buffer so that a command arriving in many reads is parsed only once: it
// remembers how far it got (elements seen, the current bulk's length) instead of starting over,
// which keeps a megabyte-sized MSET trickling in at O(n). Independent of sockets: tests feed it
// strings.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kv {

// Limits as in Redis: a bulk string of at most 512 MiB, a command of at most 1M arguments,
// count lines and inline commands of at most 64 KiB. Anything beyond is a protocol error, so
// a hostile client cannot make the server allocate without bound.
inline constexpr int64_t kMaxBulkLength = 512LL * 1024 * 1024;
inline constexpr int64_t kMaxArguments = 1024 * 1024;
inline constexpr size_t kMaxInlineLength = 64 * 1024;
// The bytes one unfinished command may occupy (Redis's client-query-buffer-limit).
inline constexpr size_t kMaxQueryBuffer = 1024ULL * 1024 * 1024;

class RequestParser {
 public:
  enum class Status { command, incomplete, error };

  // `max_query_buffer`: the bytes an unfinished command may take (tests use small ones).
  explicit RequestParser(size_t max_query_buffer = kMaxQueryBuffer)
      : max_query_buffer_(max_query_buffer) {}

  // Writable room for at least `min` more bytes; commit() says how many were written. The
  // buffer grows no larger than an unfinished command at the limit plus `min` needs.
  std::span<char> prepare(size_t min);
  void commit(size_t n);
  void append(std::string_view bytes);

  // The next complete command: its arguments (views valid until the next call on this
  // parser). Empty commands ("*0\r\n", blank lines) are skipped. After an error the parser
  // stays failed; error() says why, in the words of a Redis "-ERR" reply.
  Status next(std::vector<std::string_view>& args);
  const std::string& error() const { return error_; }

  // Drops the bytes of the commands already returned, keeping the unfinished one. A buffer
  // that grew for one huge command is released once it has been handled.
  void compact();
  // Bytes held that are not yet part of a returned command.
  size_t pending() const { return size_ - start_; }

 private:
  void grow(size_t min);
  Status fail(std::string why);
  Status incomplete();
  // Reads the count line at pos_ ("*3\r\n", "$5\r\n"): a number in [min, max] after the type
  // byte. Only on success are `value` and pos_ (moved past the line) changed.
  enum class Line { ok, incomplete, too_long, invalid };
  Line count_line(int64_t min, int64_t max, int64_t& value);
  Status next_inline(std::vector<std::string_view>& args);
  Status finish(std::vector<std::string_view>& args, const char* base);

  struct Free {
    void operator()(char* p) const { std::free(p); }
  };

  size_t max_query_buffer_;
  std::unique_ptr<char[], Free> buf_;  // malloc'ed, for realloc (see grow())
  size_t cap_ = 0;
  size_t size_ = 0;          // bytes of input held
  size_t start_ = 0;         // where the unfinished command starts
  size_t pos_ = 0;           // how far that command is parsed
  int64_t remaining_ = -1;   // elements still to come in a multibulk; -1: between commands
  int64_t bulk_length_ = -1; // length of the bulk whose header was read; -1: none
  std::vector<std::pair<size_t, size_t>> spans_;  // (offset, length) of the elements so far
  std::string arena_;        // unescaped inline arguments
  std::string error_;
};

}  // namespace kv
