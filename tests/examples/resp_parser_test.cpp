// The RESP2 request parser of examples/kv_server, fed strings in arbitrary pieces.
#include <gtest/gtest.h>

#include <algorithm>
#include <ostream>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "kv/request_parser.hpp"

namespace {

using kv::RequestParser;
using Status = RequestParser::Status;
using Args = std::vector<std::string>;

// Everything the parser returns for `input`, then the status that stopped it.
struct Parsed {
  std::vector<Args> commands;
  Status last;
  std::string error;
};

Parsed parse_all(RequestParser& p) {
  Parsed r;
  std::vector<std::string_view> args;
  for (;;) {
    r.last = p.next(args);
    if (r.last != Status::command) break;
    r.commands.emplace_back(args.begin(), args.end());
  }
  r.error = p.error();
  return r;
}

Parsed parse_all(std::string_view input) {
  RequestParser p;
  p.append(input);
  return parse_all(p);
}

std::string multibulk(const Args& args) {
  std::string s = "*" + std::to_string(args.size()) + "\r\n";
  for (const auto& a : args) s += "$" + std::to_string(a.size()) + "\r\n" + a + "\r\n";
  return s;
}

TEST(RespParser, ParsesAMultibulkCommand) {
  auto r = parse_all("*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n");
  ASSERT_EQ(r.commands.size(), 1u);
  EXPECT_EQ(r.commands[0], (Args{"SET", "key", "value"}));
  EXPECT_EQ(r.last, Status::incomplete);
}

TEST(RespParser, BulkStringsAreBinarySafe) {
  Args cmd{"SET", std::string("a\r\nb\0c", 6), ""};
  auto r = parse_all(multibulk(cmd));
  ASSERT_EQ(r.commands.size(), 1u);
  EXPECT_EQ(r.commands[0], cmd);
}

TEST(RespParser, ParsesPipelinedCommandsInOrder) {
  std::string in = multibulk({"SET", "a", "1"}) + "PING\r\n" + multibulk({"GET", "a"}) +
                   multibulk({"GET"}).substr(0, 5);
  auto r = parse_all(in);
  ASSERT_EQ(r.commands.size(), 3u);
  EXPECT_EQ(r.commands[0], (Args{"SET", "a", "1"}));
  EXPECT_EQ(r.commands[1], (Args{"PING"}));
  EXPECT_EQ(r.commands[2], (Args{"GET", "a"}));
  EXPECT_EQ(r.last, Status::incomplete);
}

TEST(RespParser, ByteByByteGivesTheSameCommands) {
  std::string in = multibulk({"MSET", "k1", "v1", "k2", std::string(100, 'x')}) +
                   "SET \"quoted key\" 'v'\r\n" + multibulk({"PING"});
  RequestParser p;
  std::vector<Args> got;
  for (char c : in) {
    p.append(std::string_view(&c, 1));
    auto r = parse_all(p);
    ASSERT_NE(r.last, Status::error) << r.error;
    for (auto& cmd : r.commands) got.push_back(cmd);
    p.compact();
  }
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0][4], std::string(100, 'x'));
  EXPECT_EQ(got[1], (Args{"SET", "quoted key", "v"}));
  EXPECT_EQ(got[2], (Args{"PING"}));
  EXPECT_EQ(p.pending(), 0u);
}

TEST(RespParser, CompactKeepsTheUnfinishedCommand) {
  std::string in = multibulk({"PING"}) + multibulk({"ECHO", "hello"});
  RequestParser p;
  p.append(in.substr(0, in.size() - 4));
  auto first = parse_all(p);
  ASSERT_EQ(first.commands.size(), 1u);
  p.compact();
  EXPECT_EQ(p.pending(), in.size() - 4 - multibulk({"PING"}).size());
  p.append(in.substr(in.size() - 4));
  auto second = parse_all(p);
  ASSERT_EQ(second.commands.size(), 1u);
  EXPECT_EQ(second.commands[0], (Args{"ECHO", "hello"}));
}

TEST(RespParser, ParsesInlineCommands) {
  auto r = parse_all("PING\r\nSET a b\nGET  a  \r\n");
  ASSERT_EQ(r.commands.size(), 3u);
  EXPECT_EQ(r.commands[0], (Args{"PING"}));
  EXPECT_EQ(r.commands[1], (Args{"SET", "a", "b"}));
  EXPECT_EQ(r.commands[2], (Args{"GET", "a"}));
}

TEST(RespParser, SkipsEmptyCommands) {
  auto r = parse_all("*0\r\n*-1\r\n*-9223372036854775808\r\n\r\n   \r\n" + multibulk({"PING"}));
  ASSERT_EQ(r.commands.size(), 1u);
  EXPECT_EQ(r.commands[0], (Args{"PING"}));
}

TEST(RespParser, LargeDeclaredSizesWaitForTheirBytes) {
  // The largest lengths allowed are accepted and simply wait for the data; nothing of that
  // size is allocated up front.
  auto r = parse_all("*1048576\r\n$536870912\r\nabc");
  EXPECT_EQ(r.last, Status::incomplete);
  EXPECT_TRUE(r.commands.empty());
}

struct Bad {
  const char* name;
  std::string input;
  std::string error;
};

// Names the case in test listings (ctest shows ".../garbage" rather than a byte dump).
void PrintTo(const Bad& b, std::ostream* os) { *os << b.name; }

class RespParserRejects : public ::testing::TestWithParam<Bad> {};

TEST_P(RespParserRejects, WithRedisMessage) {
  auto r = parse_all(GetParam().input);
  EXPECT_EQ(r.last, Status::error);
  EXPECT_EQ(r.error, GetParam().error);
}

INSTANTIATE_TEST_SUITE_P(
    Malformed, RespParserRejects,
    ::testing::Values(
        Bad{"count_not_a_number", "*abc\r\n", "Protocol error: invalid multibulk length"},
        Bad{"count_empty", "*\r\n", "Protocol error: invalid multibulk length"},
        Bad{"count_plus", "*+1\r\n", "Protocol error: invalid multibulk length"},
        // Numbers are read as Redis's string2ll reads them: no leading zeros, no "-0".
        Bad{"count_leading_zero", "*01\r\n$4\r\nPING\r\n",
            "Protocol error: invalid multibulk length"},
        Bad{"count_minus_zero", "*-0\r\nPING\r\n", "Protocol error: invalid multibulk length"},
        Bad{"count_space", "*1 \r\n", "Protocol error: invalid multibulk length"},
        Bad{"bulk_leading_zero", "*1\r\n$04\r\nPING\r\n", "Protocol error: invalid bulk length"},
        Bad{"bulk_minus_zero", "*1\r\n$-0\r\n\r\n", "Protocol error: invalid bulk length"},
        Bad{"count_lf_only", "*1\n$4\r\nPING\r\n", "Protocol error: invalid multibulk length"},
        Bad{"too_many_arguments", "*1048577\r\n", "Protocol error: invalid multibulk length"},
        Bad{"count_overflows", "*99999999999999999999\r\n",
            "Protocol error: invalid multibulk length"},
        Bad{"not_a_bulk", "*2\r\n:1\r\n", "Protocol error: expected '$', got ':'"},
        Bad{"negative_bulk", "*1\r\n$-1\r\n", "Protocol error: invalid bulk length"},
        Bad{"bulk_too_long", "*1\r\n$536870913\r\n", "Protocol error: invalid bulk length"},
        Bad{"bulk_not_a_number", "*1\r\n$x\r\n", "Protocol error: invalid bulk length"},
        Bad{"bulk_without_crlf", "*1\r\n$3\r\nabcXY",
            "Protocol error: expected CRLF after bulk string"},
        Bad{"count_line_too_long", "*" + std::string(70000, '1'),
            "Protocol error: too big mbulk count string"},
        Bad{"bulk_line_too_long", "*1\r\n$" + std::string(70000, '1'),
            "Protocol error: too big bulk count string"},
        Bad{"inline_too_long", std::string(70000, 'a'), "Protocol error: too big inline request"},
        Bad{"inline_one_past_the_limit", std::string(kv::kMaxInlineLength + 1, 'a') + "\r\n",
            "Protocol error: too big inline request"},
        Bad{"inline_one_past_the_limit_waiting", std::string(kv::kMaxInlineLength + 1, 'a'),
            "Protocol error: too big inline request"},
        Bad{"unbalanced_quotes", "SET \"a b\r\n", "Protocol error: unbalanced quotes in request"}));

TEST(RespParser, AnInlineLineAtTheLimitIsAcceptedWhateverTheLineEnding) {
  // The limit is on the line itself: its CR (arrived or not) and LF do not count.
  const std::string line = "ECHO " + std::string(kv::kMaxInlineLength - 5, 'a');
  for (std::string ending : {"\r\n", "\n"}) {
    auto r = parse_all(line + ending + "PING\r\n");
    ASSERT_EQ(r.commands.size(), 2u) << r.error;
    EXPECT_EQ(r.commands[0][1].size(), kv::kMaxInlineLength - 5);
  }
  RequestParser p;
  p.append(line + "\r");
  EXPECT_EQ(parse_all(p).last, Status::incomplete);
  p.append("\n");
  EXPECT_EQ(parse_all(p).commands.size(), 1u);
}

TEST(RespParser, TheBufferGrowsNoLargerThanTheLimitNeeds) {
  // A command that never ends: the buffer may hold the limit plus one read, no more (doubling
  // a full buffer for the read that crosses the limit would take twice the limit).
  constexpr size_t kLimit = 1 << 20, kRead = 4096;
  RequestParser p(kLimit);
  p.append("*1\r\n$536870912\r\n");
  std::vector<std::string_view> args;
  for (;;) {
    auto room = p.prepare(kRead);
    ASSERT_GE(room.size(), kRead);
    ASSERT_LE(p.pending() + room.size(), kLimit + kRead);
    std::fill(room.begin(), room.end(), 'x');
    p.commit(room.size());
    if (p.next(args) == Status::error) break;
  }
  EXPECT_EQ(p.error(), "Protocol error: query buffer limit exceeded");
  EXPECT_LE(p.pending(), kLimit + kRead);
}

TEST(RespParser, ErrorsAreSticky) {
  RequestParser p;
  p.append("*x\r\n");
  std::vector<std::string_view> args;
  EXPECT_EQ(p.next(args), Status::error);
  p.append(multibulk({"PING"}));
  EXPECT_EQ(p.next(args), Status::error);
}

TEST(RespParser, CommandsBeforeAnErrorAreReturnedFirst) {
  auto r = parse_all(multibulk({"PING"}) + "*2\r\n+x\r\n");
  ASSERT_EQ(r.commands.size(), 1u);
  EXPECT_EQ(r.last, Status::error);
}

TEST(RespParser, PrepareGivesWritableRoom) {
  RequestParser p;
  std::string cmd = multibulk({"ECHO", std::string(100000, 'e')});
  size_t at = 0;
  while (at < cmd.size()) {
    auto room = p.prepare(4096);
    ASSERT_GE(room.size(), 4096u);
    size_t n = std::min(room.size(), std::min<size_t>(cmd.size() - at, 3000));
    cmd.copy(room.data(), n, at);
    p.commit(n);
    at += n;
  }
  auto r = parse_all(p);
  ASSERT_EQ(r.commands.size(), 1u);
  EXPECT_EQ(r.commands[0][1].size(), 100000u);
}

}  // namespace

namespace {

TEST(RespParser, RandomPiecesGiveTheSameCommands) {
  std::mt19937 rng(1);
  std::string input;
  std::vector<Args> sent;
  for (int i = 0; i < 300; ++i) {
    Args cmd{"SET", "key" + std::to_string(i),
             std::string(rng() % 300, static_cast<char>('a' + i % 26))};
    sent.push_back(cmd);
    input += i % 5 == 0 ? "SET " + cmd[1] + " '" + cmd[2] + "'\r\n" : multibulk(cmd);
  }
  for (int round = 0; round < 10; ++round) {
    RequestParser p;
    std::vector<Args> got;
    for (size_t at = 0; at < input.size();) {
      size_t n = std::min<size_t>(input.size() - at, 1 + rng() % 700);
      p.append(std::string_view(input).substr(at, n));
      at += n;
      auto r = parse_all(p);
      ASSERT_NE(r.last, Status::error) << r.error;
      got.insert(got.end(), r.commands.begin(), r.commands.end());
      p.compact();
    }
    EXPECT_EQ(got, sent);
  }
}

TEST(RespParser, SurvivesMangledInput) {
  const std::string valid =
      multibulk({"SET", "k", "value"}) + "PING \"x\"\r\n" + multibulk({"GET", "k"});
  const char alphabet[] = "*$\r\n-0123456789\"' x";
  std::mt19937 rng(3);
  for (int round = 0; round < 5000; ++round) {
    std::string input = valid;
    for (int edits = 1 + rng() % 4; edits > 0; --edits) {
      input[rng() % input.size()] = alphabet[rng() % (sizeof alphabet - 1)];
    }
    RequestParser p;
    p.append(input);
    auto r = parse_all(p);
    if (r.last == Status::error) {
      EXPECT_TRUE(r.error.starts_with("Protocol error: ")) << input;
    }
    EXPECT_LE(p.pending(), input.size());
  }
}

}  // namespace
