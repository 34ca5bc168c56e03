// kv_server's commands: a Redis subset on Store, one reply per command, no sockets involved.
//
//   PING [msg]  ECHO msg  GET k  SET k v [NX|XX] [EX s|PX ms|KEEPTTL]  DEL k...  EXISTS k...
//   INCR/DECR k  INCRBY/DECRBY k n  MGET k...  MSET k v...  EXPIRE/PEXPIRE k t  TTL/PTTL k
//   DBSIZE  FLUSHDB  FLUSHALL  SELECT 0  QUIT
//   COMMAND ... (an empty list) and CONFIG GET (save, appendonly): just enough for redis-cli
//   and redis-benchmark, which ask for them when they connect.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "kv/reply.hpp"
#include "kv/store.hpp"

namespace kv {

enum class After { keep_open, close };

// Runs one command (args[0] is its name, any case) at time `now` (CLOCK_MONOTONIC ms, the unit
// Redis keeps expiry in) and writes its reply to `out`. args must not be empty.
After execute(Store& store, std::span<const std::string_view> args, int64_t now,
              ReplyWriter& out);

}  // namespace kv
