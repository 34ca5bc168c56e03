#include "kv/request_parser.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>

#include "kv/inline_command.hpp"
#include "kv/integer.hpp"

namespace kv {

std::span<char> RequestParser::prepare(size_t min) {
  if (cap_ - size_ < min) {
    // Compacting first keeps a long pipelined session from growing the buffer forever.
    compact();
    if (cap_ - size_ < min) grow(min);
  }
  return {buf_.get() + size_, cap_ - size_};
}

// Doubling keeps a command that arrives in many reads at O(n) copying, but never past what
// the limit can need: an unfinished command at the limit plus one read (a buffer full at
// 1 GiB must not double to 2 GiB for the read that finds the limit exceeded).
//
// realloc rather than new + memcpy: glibc moves a large block by remapping its pages, so the
// old and the new buffer are never both in memory; and neither way zero-fills the new one.
void RequestParser::grow(size_t min) {
  size_t doubled = std::max(cap_ * 2, size_t{4096});
  size_t cap = std::max(size_ + min, std::min(doubled, max_query_buffer_ + min));
  char* grown = static_cast<char*>(std::realloc(buf_.get(), cap));
  if (grown == nullptr) throw std::bad_alloc();
  (void)buf_.release();  // realloc has freed or reused it
  buf_.reset(grown);
  cap_ = cap;
}

void RequestParser::commit(size_t n) { size_ += n; }

void RequestParser::append(std::string_view bytes) {
  auto room = prepare(bytes.size());
  std::memcpy(room.data(), bytes.data(), bytes.size());
  commit(bytes.size());
}

void RequestParser::compact() {
  constexpr size_t kKeepCapacity = 1024 * 1024;
  if (start_ == size_ && cap_ > kKeepCapacity) {
    buf_.reset();
    cap_ = size_ = start_ = pos_ = 0;
    return;
  }
  if (start_ == 0) return;
  std::memmove(buf_.get(), buf_.get() + start_, size_ - start_);
  size_ -= start_;
  pos_ -= start_;
  for (auto& span : spans_) span.first -= start_;
  start_ = 0;
}

RequestParser::Status RequestParser::fail(std::string why) {
  error_ = "Protocol error: " + std::move(why);
  return Status::error;
}

RequestParser::Line RequestParser::count_line(int64_t min, int64_t max, int64_t& value) {
  const char* begin = buf_.get() + pos_ + 1;
  size_t avail = size_ - pos_ - 1;
  const char* cr = static_cast<const char*>(std::memchr(begin, '\r', avail));
  if (cr == nullptr) return avail > kMaxInlineLength ? Line::too_long : Line::incomplete;
  size_t len = static_cast<size_t>(cr - begin);
  if (len + 1 >= avail) return Line::incomplete;  // the '\n' has not arrived yet
  int64_t parsed = 0;
  if (cr[1] != '\n' || !parse_integer({begin, len}, parsed) || parsed < min || parsed > max) {
    return Line::invalid;
  }
  value = parsed;
  pos_ += 1 + len + 2;
  return Line::ok;
}

RequestParser::Status RequestParser::finish(std::vector<std::string_view>& args,
                                            const char* base) {
  args.clear();
  for (auto [offset, length] : spans_) args.emplace_back(base + offset, length);
  spans_.clear();
  start_ = pos_;
  return Status::command;
}

RequestParser::Status RequestParser::next_inline(std::vector<std::string_view>& args) {
  const char* begin = buf_.get() + pos_;
  const char* nl = static_cast<const char*>(std::memchr(begin, '\n', size_ - pos_));
  if (nl == nullptr) {
    // The limit is on the line without its line ending, whose CR may already be here.
    std::string_view partial(begin, size_ - pos_);
    if (partial.ends_with('\r')) partial.remove_suffix(1);
    if (partial.size() > kMaxInlineLength) return fail("too big inline request");
    return incomplete();
  }
  std::string_view line(begin, static_cast<size_t>(nl - begin));
  pos_ += line.size() + 1;
  if (line.ends_with('\r')) line.remove_suffix(1);
  if (line.size() > kMaxInlineLength) return fail("too big inline request");
  arena_.clear();
  spans_.clear();
  if (!split_inline(line, arena_, spans_)) return fail("unbalanced quotes in request");
  return finish(args, arena_.data());
}

RequestParser::Status RequestParser::next(std::vector<std::string_view>& args) {
  if (!error_.empty()) return Status::error;
  for (;;) {
    if (remaining_ < 0) {
      if (pos_ == size_) return Status::incomplete;
      if (buf_[pos_] != '*') {
        Status s = next_inline(args);
        if (s == Status::command && args.empty()) continue;  // a blank line
        return s;
      }
      int64_t count = 0;
      Line line = count_line(INT64_MIN, kMaxArguments, count);
      if (line == Line::incomplete) return incomplete();
      if (line == Line::too_long) return fail("too big mbulk count string");
      if (line == Line::invalid) return fail("invalid multibulk length");
      if (count <= 0) {  // "*0" and "*-1" carry no command
        start_ = pos_;
        continue;
      }
      remaining_ = count;
      spans_.clear();
      // The count is the client's claim; reserve for a plausible part of it only.
      spans_.reserve(static_cast<size_t>(std::min<int64_t>(count, 1024)));
    }
    while (remaining_ > 0) {
      if (bulk_length_ < 0) {
        if (pos_ == size_) return incomplete();
        if (buf_[pos_] != '$') {
          return fail(std::string("expected '$', got '") + buf_[pos_] + "'");
        }
        Line line = count_line(0, kMaxBulkLength, bulk_length_);
        if (line == Line::incomplete) return incomplete();
        if (line == Line::too_long) return fail("too big bulk count string");
        if (line == Line::invalid) return fail("invalid bulk length");
      }
      auto length = static_cast<size_t>(bulk_length_);
      if (size_ - pos_ < length + 2) return incomplete();
      if (buf_[pos_ + length] != '\r' || buf_[pos_ + length + 1] != '\n') {
        return fail("expected CRLF after bulk string");
      }
      spans_.emplace_back(pos_, length);
      pos_ += length + 2;
      bulk_length_ = -1;
      --remaining_;
    }
    remaining_ = -1;
    return finish(args, buf_.get());
  }
}

RequestParser::Status RequestParser::incomplete() {
  if (size_ - start_ > max_query_buffer_) return fail("query buffer limit exceeded");
  return Status::incomplete;
}

}  // namespace kv
