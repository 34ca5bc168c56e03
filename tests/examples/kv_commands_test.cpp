// kv_server's commands: the exact RESP replies Redis clients expect.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "kv/commands.hpp"
#include "kv/store.hpp"

namespace {

constexpr int64_t kMs = 1;  // time is in milliseconds, as in Redis
constexpr int64_t T0 = 5'000'000 * kMs;

class KvCommands : public ::testing::Test {
 protected:
  // The reply to one command at time `now`.
  std::string run(std::vector<std::string> args, int64_t now = T0) {
    std::vector<std::string_view> views(args.begin(), args.end());
    kv::ReplyWriter out;
    last_after = kv::execute(store, views, now, out);
    return out.buffered();
  }
  kv::Store store;
  kv::After last_after = kv::After::keep_open;
};

TEST_F(KvCommands, Ping) {
  EXPECT_EQ(run({"PING"}), "+PONG\r\n");
  EXPECT_EQ(run({"ping", "hi"}), "$2\r\nhi\r\n");
  EXPECT_EQ(run({"PING", "a", "b"}), "-ERR wrong number of arguments for 'ping' command\r\n");
  EXPECT_EQ(run({"ECHO", "hello"}), "$5\r\nhello\r\n");
}

TEST_F(KvCommands, SetGet) {
  EXPECT_EQ(run({"GET", "k"}), "$-1\r\n");
  EXPECT_EQ(run({"SET", "k", "value"}), "+OK\r\n");
  EXPECT_EQ(run({"get", "k"}), "$5\r\nvalue\r\n");
  EXPECT_EQ(run({"SET", "k", ""}), "+OK\r\n");
  EXPECT_EQ(run({"GET", "k"}), "$0\r\n\r\n");
}

TEST_F(KvCommands, SetOptions) {
  EXPECT_EQ(run({"SET", "k", "1", "XX"}), "$-1\r\n");
  EXPECT_EQ(run({"SET", "k", "1", "nx"}), "+OK\r\n");
  EXPECT_EQ(run({"SET", "k", "2", "NX"}), "$-1\r\n");
  EXPECT_EQ(run({"SET", "k", "3", "XX"}), "+OK\r\n");
  EXPECT_EQ(run({"SET", "k", "3", "NX", "XX"}), "-ERR syntax error\r\n");
  EXPECT_EQ(run({"SET", "k", "3", "EX"}), "-ERR syntax error\r\n");
  EXPECT_EQ(run({"SET", "k", "3", "EX", "1", "PX", "5"}), "-ERR syntax error\r\n");
  EXPECT_EQ(run({"SET", "k", "3", "BOGUS"}), "-ERR syntax error\r\n");
  EXPECT_EQ(run({"SET", "k", "3", "EX", "x"}),
            "-ERR value is not an integer or out of range\r\n");
  EXPECT_EQ(run({"SET", "k", "3", "EX", "0"}), "-ERR invalid expire time in 'set' command\r\n");
  EXPECT_EQ(run({"SET", "k", "3", "PX", "-5"}), "-ERR invalid expire time in 'set' command\r\n");
  EXPECT_EQ(run({"SET", "k", "3", "EX", "9223372036854775807"}),
            "-ERR invalid expire time in 'set' command\r\n");
  EXPECT_EQ(run({"GET", "k"}), "$1\r\n3\r\n");
}

TEST_F(KvCommands, SetOptionsMayRepeat) {
  // As in Redis 7: the last EX or PX value counts.
  EXPECT_EQ(run({"SET", "k", "v", "EX", "10", "EX", "100"}), "+OK\r\n");
  EXPECT_EQ(run({"TTL", "k"}), ":100\r\n");
  EXPECT_EQ(run({"SET", "k", "v", "px", "5", "PX", "7"}), "+OK\r\n");
  EXPECT_EQ(run({"PTTL", "k"}), ":7\r\n");
  EXPECT_EQ(run({"SET", "k", "v", "EX", "x", "EX", "9"}), "+OK\r\n");
  EXPECT_EQ(run({"TTL", "k"}), ":9\r\n");
  EXPECT_EQ(run({"SET", "k", "w", "KEEPTTL", "KEEPTTL"}), "+OK\r\n");
  EXPECT_EQ(run({"TTL", "k"}), ":9\r\n");
  EXPECT_EQ(run({"SET", "k", "x", "XX", "xx"}), "+OK\r\n");
  EXPECT_EQ(run({"SET", "n", "1", "NX", "NX"}), "+OK\r\n");
  EXPECT_EQ(run({"SET", "n", "2", "NX", "nx"}), "$-1\r\n");
  EXPECT_EQ(run({"GET", "n"}), "$1\r\n1\r\n");
}

TEST_F(KvCommands, SetOptionsMayNotConflict) {
  for (std::vector<std::string> opts : {std::vector<std::string>{"NX", "XX"},
                                        {"XX", "NX"},
                                        {"NX", "NX", "XX"},
                                        {"EX", "1", "PX", "5"},
                                        {"PX", "5", "EX", "1"},
                                        {"KEEPTTL", "EX", "1"},
                                        {"EX", "1", "KEEPTTL"},
                                        {"PX", "1", "KEEPTTL", "KEEPTTL"},
                                        {"EX", "10", "EX"}}) {
    std::vector<std::string> args{"SET", "k", "v"};
    args.insert(args.end(), opts.begin(), opts.end());
    EXPECT_EQ(run(args), "-ERR syntax error\r\n") << opts[0] << " " << opts[1];
  }
  // All options are checked before the EX value is read, so a syntax error comes first.
  EXPECT_EQ(run({"SET", "k", "v", "EX", "x", "BOGUS"}), "-ERR syntax error\r\n");
  EXPECT_EQ(run({"EXISTS", "k"}), ":0\r\n");
}

TEST_F(KvCommands, ExpiryWithPxAndEx) {
  EXPECT_EQ(run({"SET", "k", "v", "PX", "100"}), "+OK\r\n");
  EXPECT_EQ(run({"PTTL", "k"}), ":100\r\n");
  EXPECT_EQ(run({"GET", "k"}, T0 + 99 * kMs), "$1\r\nv\r\n");
  EXPECT_EQ(run({"GET", "k"}, T0 + 100 * kMs), "$-1\r\n");
  EXPECT_EQ(run({"TTL", "k"}, T0 + 100 * kMs), ":-2\r\n");

  EXPECT_EQ(run({"SET", "s", "v", "EX", "10"}), "+OK\r\n");
  EXPECT_EQ(run({"TTL", "s"}, T0 + 2400 * kMs), ":8\r\n");  // 7.6 s rounds to 8, as Redis does
  EXPECT_EQ(run({"SET", "s", "w", "KEEPTTL"}), "+OK\r\n");
  EXPECT_EQ(run({"TTL", "s"}), ":10\r\n");
  EXPECT_EQ(run({"SET", "s", "w"}), "+OK\r\n");
  EXPECT_EQ(run({"TTL", "s"}), ":-1\r\n");
}

TEST_F(KvCommands, ExpireAndTtl) {
  EXPECT_EQ(run({"EXPIRE", "k", "10"}), ":0\r\n");
  run({"SET", "k", "v"});
  EXPECT_EQ(run({"TTL", "k"}), ":-1\r\n");
  EXPECT_EQ(run({"EXPIRE", "k", "10"}), ":1\r\n");
  EXPECT_EQ(run({"TTL", "k"}), ":10\r\n");
  EXPECT_EQ(run({"PEXPIRE", "k", "1500"}), ":1\r\n");
  EXPECT_EQ(run({"PTTL", "k"}), ":1500\r\n");
  EXPECT_EQ(run({"EXPIRE", "k", "abc"}), "-ERR value is not an integer or out of range\r\n");
  EXPECT_EQ(run({"EXPIRE", "k", "0"}), ":1\r\n");  // deletes it
  EXPECT_EQ(run({"EXISTS", "k"}), ":0\r\n");
}

// EXPIRE's NX / XX / GT / LT, replies as redis-server 7.0.15 gave them for the same sequence.
TEST_F(KvCommands, ExpireOptionsAsRedis7) {
  run({"SET", "k", "v"});
  EXPECT_EQ(run({"EXPIRE", "k", "100", "XX"}), ":0\r\n");  // no expiry yet
  EXPECT_EQ(run({"EXPIRE", "k", "100", "nx"}), ":1\r\n");
  EXPECT_EQ(run({"EXPIRE", "k", "50", "NX"}), ":0\r\n");
  EXPECT_EQ(run({"EXPIRE", "k", "200", "XX"}), ":1\r\n");
  EXPECT_EQ(run({"EXPIRE", "k", "100", "GT"}), ":0\r\n");
  EXPECT_EQ(run({"EXPIRE", "k", "300", "GT"}), ":1\r\n");
  EXPECT_EQ(run({"EXPIRE", "k", "400", "LT"}), ":0\r\n");
  EXPECT_EQ(run({"EXPIRE", "k", "150", "LT"}), ":1\r\n");
  EXPECT_EQ(run({"EXPIRE", "k", "100", "XX", "GT"}), ":0\r\n");
  EXPECT_EQ(run({"EXPIRE", "k", "50", "XX", "LT"}), ":1\r\n");
  EXPECT_EQ(run({"TTL", "k"}), ":50\r\n");

  // No expiry counts as forever: GT never sets one, LT always does; a past instant that
  // passes the condition deletes the key.
  run({"SET", "p", "v"});
  EXPECT_EQ(run({"EXPIRE", "p", "100", "GT"}), ":0\r\n");
  EXPECT_EQ(run({"TTL", "p"}), ":-1\r\n");
  EXPECT_EQ(run({"EXPIRE", "p", "-5", "GT"}), ":0\r\n");
  EXPECT_EQ(run({"EXISTS", "p"}), ":1\r\n");
  EXPECT_EQ(run({"EXPIRE", "p", "-5", "LT"}), ":1\r\n");
  EXPECT_EQ(run({"EXISTS", "p"}), ":0\r\n");
  EXPECT_EQ(run({"PEXPIRE", "p", "5000", "NX"}), ":0\r\n");  // no such key

  // Options are read before the amount; repeats are fine, conflicts are not.
  const std::string nx_conflict =
      "-ERR NX and XX, GT or LT options at the same time are not compatible\r\n";
  EXPECT_EQ(run({"EXPIRE", "k", "100", "nx", "xx"}), nx_conflict);
  EXPECT_EQ(run({"EXPIRE", "k", "100", "NX", "GT"}), nx_conflict);
  EXPECT_EQ(run({"EXPIRE", "k", "abc", "NX", "LT"}), nx_conflict);
  EXPECT_EQ(run({"EXPIRE", "k", "10", "LT", "LT", "GT"}),
            "-ERR GT and LT options at the same time are not compatible\r\n");
  EXPECT_EQ(run({"EXPIRE", "k", "abc", "FOO"}), "-ERR Unsupported option FOO\r\n");
  EXPECT_EQ(run({"EXPIRE", "k", "100", "GT", "GT"}), ":1\r\n");
  EXPECT_EQ(run({"TTL", "k"}), ":100\r\n");
}

TEST_F(KvCommands, ExpireTimesAsFarAsRedisTakesThem) {
  // Redis keeps expiry in milliseconds: anything that fits an int64 there is accepted.
  EXPECT_EQ(run({"SET", "k", "v", "EX", "10000000000"}), "+OK\r\n");
  EXPECT_EQ(run({"TTL", "k"}), ":10000000000\r\n");
  EXPECT_EQ(run({"SET", "k", "v", "PX", "10000000000000"}), "+OK\r\n");
  EXPECT_EQ(run({"PTTL", "k"}), ":10000000000000\r\n");
  EXPECT_EQ(run({"EXPIRE", "k", "10000000000"}), ":1\r\n");
  EXPECT_EQ(run({"TTL", "k"}), ":10000000000\r\n");
  EXPECT_EQ(run({"PEXPIRE", "k", "9223372036849775807"}), ":1\r\n");  // INT64_MAX - T0
  EXPECT_EQ(run({"PTTL", "k"}), ":9223372036849775807\r\n");
  EXPECT_EQ(run({"TTL", "k"}), ":9223372036849776\r\n");  // rounded without overflowing
  EXPECT_EQ(run({"SET", "k", "v", "EX", "9223372036849775"}), "+OK\r\n");
  EXPECT_EQ(run({"TTL", "k"}), ":9223372036849775\r\n");
}

TEST_F(KvCommands, ExpireTimesBeyondTheRangeAreRefused) {
  run({"SET", "k", "v"});
  // Past INT64_MAX ms, once converted to ms or once now is added.
  EXPECT_EQ(run({"SET", "k", "v", "EX", "9223372036854776"}),
            "-ERR invalid expire time in 'set' command\r\n");
  EXPECT_EQ(run({"SET", "k", "v", "EX", "9223372036854775"}),
            "-ERR invalid expire time in 'set' command\r\n");
  EXPECT_EQ(run({"SET", "k", "v", "PX", "9223372036849775808"}),
            "-ERR invalid expire time in 'set' command\r\n");
  EXPECT_EQ(run({"EXPIRE", "k", "9223372036854775"}),
            "-ERR invalid expire time in 'expire' command\r\n");
  EXPECT_EQ(run({"EXPIRE", "k", "-9223372036854776"}),
            "-ERR invalid expire time in 'expire' command\r\n");
  EXPECT_EQ(run({"PEXPIRE", "k", "9223372036849775808"}),
            "-ERR invalid expire time in 'pexpire' command\r\n");
  EXPECT_EQ(run({"TTL", "k"}), ":-1\r\n");
}

TEST_F(KvCommands, ExpireInThePastDeletesHoweverFar) {
  for (std::string amount : {"-1", "-10000000000", "-9223372036854775"}) {
    run({"SET", "k", "v"});
    EXPECT_EQ(run({"EXPIRE", "k", amount}), ":1\r\n") << amount;
    EXPECT_EQ(run({"EXISTS", "k"}), ":0\r\n") << amount;
  }
  for (std::string amount : {"-10000000000000", "-9223372036854775808"}) {
    run({"SET", "k", "v"});
    EXPECT_EQ(run({"PEXPIRE", "k", amount}), ":1\r\n") << amount;
    EXPECT_EQ(run({"EXISTS", "k"}), ":0\r\n") << amount;
  }
}

TEST_F(KvCommands, DelExists) {
  run({"MSET", "a", "1", "b", "2"});
  EXPECT_EQ(run({"EXISTS", "a", "b", "c", "a"}), ":3\r\n");
  EXPECT_EQ(run({"DEL", "a", "c"}), ":1\r\n");
  EXPECT_EQ(run({"EXISTS", "a"}), ":0\r\n");
  EXPECT_EQ(run({"DEL"}), "-ERR wrong number of arguments for 'del' command\r\n");
}

TEST_F(KvCommands, Counters) {
  EXPECT_EQ(run({"INCR", "n"}), ":1\r\n");
  EXPECT_EQ(run({"INCRBY", "n", "41"}), ":42\r\n");
  EXPECT_EQ(run({"DECR", "n"}), ":41\r\n");
  EXPECT_EQ(run({"DECRBY", "n", "50"}), ":-9\r\n");
  EXPECT_EQ(run({"INCRBY", "n", "x"}), "-ERR value is not an integer or out of range\r\n");
  run({"SET", "s", "hello"});
  EXPECT_EQ(run({"INCR", "s"}), "-ERR value is not an integer or out of range\r\n");
  run({"SET", "max", "9223372036854775807"});
  EXPECT_EQ(run({"INCR", "max"}), "-ERR increment or decrement would overflow\r\n");
  EXPECT_EQ(run({"DECRBY", "n", "-9223372036854775808"}), "-ERR decrement would overflow\r\n");
}

TEST_F(KvCommands, IntegersAreReadAsRedisReadsThem) {
  const std::string not_integer = "-ERR value is not an integer or out of range\r\n";
  // Stored values: leading zeros, "-0", a sign or spaces make a string, not a number.
  for (std::string v : {"01", "-0", "00", "-01", "00000000000000000000001", "+1", " 1", "1 ",
                        "", "-", "9223372036854775808"}) {
    run({"SET", "k", v});
    EXPECT_EQ(run({"INCR", "k"}), not_integer) << "'" << v << "'";
    EXPECT_EQ(run({"GET", "k"}), "$" + std::to_string(v.size()) + "\r\n" + v + "\r\n");
  }
  // Arguments likewise.
  run({"SET", "k", "v"});
  for (std::string n : {"01", "-0", "+1", "007", "1 "}) {
    EXPECT_EQ(run({"INCRBY", "n", n}), not_integer) << n;
    EXPECT_EQ(run({"DECRBY", "n", n}), not_integer) << n;
    EXPECT_EQ(run({"SET", "k", "v", "EX", n}), not_integer) << n;
    EXPECT_EQ(run({"SET", "k", "v", "PX", n}), not_integer) << n;
    EXPECT_EQ(run({"EXPIRE", "k", n}), not_integer) << n;
    EXPECT_EQ(run({"PEXPIRE", "k", n}), not_integer) << n;
  }
  EXPECT_EQ(run({"EXISTS", "n"}), ":0\r\n");
  EXPECT_EQ(run({"TTL", "k"}), ":-1\r\n");
  // "0" alone is a number, and so is all of int64's range.
  run({"SET", "z", "0"});
  EXPECT_EQ(run({"INCRBY", "z", "0"}), ":0\r\n");
  EXPECT_EQ(run({"INCRBY", "z", "-9223372036854775808"}), ":-9223372036854775808\r\n");
  EXPECT_EQ(run({"DECR", "z"}), "-ERR increment or decrement would overflow\r\n");
  EXPECT_EQ(run({"INCRBY", "z", "9223372036854775807"}), ":-1\r\n");
}

TEST_F(KvCommands, MsetMget) {
  EXPECT_EQ(run({"MSET", "a", "1", "b", "22"}), "+OK\r\n");
  EXPECT_EQ(run({"MGET", "a", "missing", "b"}), "*3\r\n$1\r\n1\r\n$-1\r\n$2\r\n22\r\n");
  EXPECT_EQ(run({"MSET", "a", "1", "b"}), "-ERR wrong number of arguments for 'mset' command\r\n");
}

TEST_F(KvCommands, LargeRepliesAreSentWhileTheyAreBuilt) {
  // MGET naming a large value many times: a reply far larger than its request. It must reach
  // the client in pieces as it is built, never whole in memory.
  const std::string value(100'000, 'v');
  run({"SET", "big", value});
  std::vector<std::string_view> args{"MGET"};
  args.insert(args.end(), 50, "big");
  constexpr size_t kFlushAt = 4096;
  std::string sent;
  size_t sends = 0, largest = 0;
  kv::ReplyWriter out(kFlushAt, [&](std::string_view bytes) {
    sent += bytes;
    ++sends;
    largest = std::max(largest, bytes.size());
    return true;
  });
  kv::execute(store, args, T0, out);
  EXPECT_GE(sends, 50u);  // during the command, not after it
  EXPECT_LE(out.buffered().size(), kFlushAt);
  EXPECT_LE(largest, value.size());
  out.flush();
  std::string want = "*50\r\n";
  for (int i = 0; i < 50; ++i) want += "$100000\r\n" + value + "\r\n";
  EXPECT_EQ(sent, want);
}

TEST_F(KvCommands, RepliesStopOnceTheClientIsGone) {
  run({"SET", "big", std::string(10'000, 'v')});
  std::vector<std::string_view> args{"MGET"};
  args.insert(args.end(), 1000, "big");
  size_t sends = 0;
  kv::ReplyWriter out(4096, [&](std::string_view) {
    ++sends;
    return false;
  });
  kv::execute(store, args, T0, out);
  EXPECT_EQ(sends, 1u);
  EXPECT_TRUE(out.failed());
  EXPECT_FALSE(out.flush());
  EXPECT_TRUE(out.buffered().empty());
}

TEST_F(KvCommands, AdministrativeCommandsClientsSend) {
  EXPECT_EQ(run({"COMMAND", "DOCS"}), "*0\r\n");
  EXPECT_EQ(run({"CONFIG", "GET", "save"}), "*2\r\n$4\r\nsave\r\n$0\r\n\r\n");
  EXPECT_EQ(run({"config", "get", "appendonly"}),
            "*2\r\n$10\r\nappendonly\r\n$2\r\nno\r\n");
  EXPECT_EQ(run({"CONFIG", "GET", "maxmemory"}), "*0\r\n");
  EXPECT_EQ(run({"SELECT", "0"}), "+OK\r\n");
  EXPECT_EQ(run({"SELECT", "1"}), "-ERR DB index is out of range\r\n");
  run({"SET", "a", "1"});
  EXPECT_EQ(run({"DBSIZE"}), ":1\r\n");
  EXPECT_EQ(run({"FLUSHALL"}), "+OK\r\n");
  EXPECT_EQ(run({"DBSIZE"}), ":0\r\n");
}

TEST_F(KvCommands, QuitClosesAfterItsReply) {
  EXPECT_EQ(run({"QUIT"}), "+OK\r\n");
  EXPECT_EQ(last_after, kv::After::close);
  run({"PING"});
  EXPECT_EQ(last_after, kv::After::keep_open);
}

TEST_F(KvCommands, UnknownCommandsKeepTheReplyOnOneLine) {
  EXPECT_EQ(run({"NOPE", "a", "b"}),
            "-ERR unknown command 'NOPE', with args beginning with: 'a' 'b' \r\n");
  EXPECT_EQ(run({"EV\r\nIL", "x\ny"}),
            "-ERR unknown command 'EV  IL', with args beginning with: 'x y' \r\n");
}

}  // namespace
