// Splitting inline commands (kv_server), quotes and escapes included.
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "kv/inline_command.hpp"

namespace {

std::optional<std::vector<std::string>> split(std::string_view line) {
  std::string arena;
  std::vector<std::pair<size_t, size_t>> spans;
  if (!kv::split_inline(line, arena, spans)) return std::nullopt;
  std::vector<std::string> out;
  for (auto [off, len] : spans) out.push_back(arena.substr(off, len));
  return out;
}

using V = std::vector<std::string>;

TEST(InlineCommand, SplitsOnWhitespace) {
  EXPECT_EQ(split("  SET\tkey   value "), (V{"SET", "key", "value"}));
  EXPECT_EQ(split(""), V{});
  EXPECT_EQ(split("   "), V{});
}

TEST(InlineCommand, DoubleQuotesTakeEscapes) {
  EXPECT_EQ(split(R"(SET "a b" "x\ny\t\"q\" \\ \x41\x7a")"),
            (V{"SET", "a b", "x\ny\t\"q\" \\ Az"}));
  EXPECT_EQ(split(R"("")"), V{""});
}

TEST(InlineCommand, SingleQuotesAreLiteral) {
  EXPECT_EQ(split(R"(ECHO 'it\'s \n raw')"), (V{"ECHO", "it's \\n raw"}));
}

TEST(InlineCommand, QuotesInsideAWordAreLiteral) {
  EXPECT_EQ(split(R"(a"b c'd)"), (V{"a\"b", "c'd"}));
}

TEST(InlineCommand, RejectsUnbalancedOrRunOnQuotes) {
  EXPECT_FALSE(split(R"(SET "open)"));
  EXPECT_FALSE(split(R"(SET 'open)"));
  EXPECT_FALSE(split(R"(SET "a"b)"));
  EXPECT_FALSE(split(R"(SET "trailing\")"));
}

}  // namespace
