// A Redis-protocol (RESP2) key-value server: redis-cli and redis-benchmark work against it.
// One goroutine per connection; pipelined commands are answered in one write per batch.
// The protocol and the data live in kv/ (parser, commands, store); this file moves bytes.
//
// usage: kv_server [--addr HOST:PORT]     (GORT_PROCS, GORT_POLLER from the environment)
#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "common/flags.hpp"
#include "common/lingering_close.hpp"
#include "common/server.hpp"
#include "gort/net.hpp"
#include "gort/runtime.hpp"
#include "gort/time.hpp"
#include "kv/commands.hpp"
#include "kv/reply.hpp"
#include "kv/request_parser.hpp"
#include "kv/store.hpp"

namespace {

constexpr size_t kReadChunk = 16 * 1024;
// Replies are flushed once this much is pending, so a long pipeline of large GETs does not
// build one huge buffer.
constexpr size_t kFlushAt = 64 * 1024;
constexpr auto kSweepEvery = std::chrono::milliseconds(100);

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void serve(kv::Store& store, gort::net::Conn conn) {
  (void)conn.set_nodelay(true);
  kv::RequestParser parser;
  std::vector<std::string_view> args;
  std::string out;
  for (;;) {
    auto room = parser.prepare(kReadChunk);
    auto n = conn.read(room.data(), room.size());
    if (!n || *n == 0) break;
    parser.commit(*n);
    for (;;) {
      auto status = parser.next(args);
      if (status == kv::RequestParser::Status::incomplete) break;
      bool close = status == kv::RequestParser::Status::error;
      if (close) {
        kv::reply::error(out, "ERR " + parser.error());
      } else {
        close = kv::execute(store, args, now_ns(), out) == kv::After::close;
      }
      if (close) {
        (void)conn.write_all(out);
        examples::lingering_close(conn);
        return;
      }
      if (out.size() >= kFlushAt) {
        if (!conn.write_all(out)) return conn.close();
        out.clear();
      }
    }
    if (!out.empty()) {
      if (!conn.write_all(out)) break;
      out.clear();
    }
    parser.compact();
  }
  conn.close();
}

// Expired keys nobody reads again would stay in memory forever without this.
void sweep_forever(kv::Store& store) {
  for (;;) {
    gort::sleep_for(kSweepEvery);
    store.sweep(now_ns());
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string addr = "127.0.0.1:6379";
  examples::Flags flags("kv_server", "A Redis-protocol key-value server (a RESP2 subset).");
  flags.text("addr", &addr, "HOST:PORT", "address to listen on (port 0: any free port)");
  flags.parse(argc, argv);
  kv::Store store;
  return examples::run_server({
      .program = "kv_server",
      .address = addr,
      .handle = [&store](gort::net::Conn c) { serve(store, std::move(c)); },
      .on_start = [&store] { gort::go([&store] { sweep_forever(store); }); },
  });
}
