#include "kv/inline_command.hpp"

namespace kv {

namespace {

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f' || c == '\0';
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

char unescape(char c) {
  switch (c) {
    case 'n': return '\n';
    case 'r': return '\r';
    case 't': return '\t';
    case 'b': return '\b';
    case 'a': return '\a';
    default: return c;  // \\ and \" stand for themselves, and so does any other character
  }
}

// Reads a double-quoted argument starting after the opening quote; i ends after the closing one.
bool read_double_quoted(std::string_view s, size_t& i, std::string& out) {
  while (i < s.size()) {
    char c = s[i];
    if (c == '"') {
      ++i;
      return true;
    }
    if (c == '\\' && i + 1 < s.size()) {
      if (s[i + 1] == 'x' && i + 3 < s.size() && hex_value(s[i + 2]) >= 0 &&
          hex_value(s[i + 3]) >= 0) {
        out += static_cast<char>(hex_value(s[i + 2]) * 16 + hex_value(s[i + 3]));
        i += 4;
      } else {
        out += unescape(s[i + 1]);
        i += 2;
      }
      continue;
    }
    out += c;
    ++i;
  }
  return false;
}

bool read_single_quoted(std::string_view s, size_t& i, std::string& out) {
  while (i < s.size()) {
    char c = s[i];
    if (c == '\'') {
      ++i;
      return true;
    }
    if (c == '\\' && i + 1 < s.size() && s[i + 1] == '\'') {
      out += '\'';
      i += 2;
      continue;
    }
    out += c;
    ++i;
  }
  return false;
}

}  // namespace

bool split_inline(std::string_view line, std::string& arena,
                  std::vector<std::pair<size_t, size_t>>& spans) {
  size_t i = 0;
  for (;;) {
    while (i < line.size() && is_space(line[i])) ++i;
    if (i == line.size()) return true;
    size_t start = arena.size();
    // A quote opens a quoted section only at the start of an argument, so `a"b` stays literal.
    if (line[i] == '"' || line[i] == '\'') {
      bool dq = line[i] == '"';
      ++i;
      if (!(dq ? read_double_quoted(line, i, arena) : read_single_quoted(line, i, arena))) {
        return false;
      }
      if (i < line.size() && !is_space(line[i])) return false;
    } else {
      while (i < line.size() && !is_space(line[i])) arena += line[i++];
    }
    spans.emplace_back(start, arena.size() - start);
  }
}

}  // namespace kv
