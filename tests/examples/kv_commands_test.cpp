// kv_server's commands: the exact RESP replies Redis clients expect.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "kv/commands.hpp"
#include "kv/store.hpp"

namespace {

constexpr int64_t kMs = 1'000'000;
constexpr int64_t T0 = 5'000'000 * kMs;

class KvCommands : public ::testing::Test {
 protected:
  // The reply to one command at time `now`.
  std::string run(std::vector<std::string> args, int64_t now = T0) {
    std::vector<std::string_view> views(args.begin(), args.end());
    std::string out;
    last_after = kv::execute(store, views, now, out);
    return out;
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
  EXPECT_EQ(run({"DECRBY", "n", "-9223372036854775808"}),
            "-ERR value is not an integer or out of range\r\n");
}

TEST_F(KvCommands, MsetMget) {
  EXPECT_EQ(run({"MSET", "a", "1", "b", "22"}), "+OK\r\n");
  EXPECT_EQ(run({"MGET", "a", "missing", "b"}), "*3\r\n$1\r\n1\r\n$-1\r\n$2\r\n22\r\n");
  EXPECT_EQ(run({"MSET", "a", "1", "b"}), "-ERR wrong number of arguments for 'mset' command\r\n");
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
