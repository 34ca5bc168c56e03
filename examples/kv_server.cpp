// A Redis-protocol (RESP2) key-value server: redis-cli and redis-benchmark work against it.
// One goroutine per connection; pipelined commands are answered in one write per batch, and a
// large reply is sent while it is being built. A connection that fails (even for want of
// memory) is closed alone, with a line on stderr; the server goes on.
// The protocol and the data live in kv/ (parser, commands, store); this file moves bytes.
//
// usage: kv_server [--addr HOST:PORT]     (GORT_PROCS, GORT_POLLER from the environment)
#include <chrono>
#include <cstdio>
#include <exception>
#include <string>
#include <string_view>
#include <vector>

#include "common/flags.hpp"
#include "common/io_errors.hpp"
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
// Replies are sent once this much is pending, also in the middle of one (see ReplyWriter), so
// neither a long pipeline of large GETs nor one huge MGET builds a huge buffer.
constexpr size_t kFlushAt = 64 * 1024;
constexpr auto kSweepEvery = std::chrono::milliseconds(100);

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// One client's connection: requests read into the parser, replies written through `out`.
class Session {
 public:
  Session(kv::Store& store, gort::net::Conn& conn)
      : store_(store), conn_(conn), out_(kFlushAt, [&conn](std::string_view bytes) {
          auto w = conn.write_all(bytes);
          if (!w) examples::report_io_error("kv_server", conn, "write", w.error());
          return static_cast<bool>(w);
        }) {}

  void run() {
    (void)conn_.set_nodelay(true);
    for (;;) {
      auto room = parser_.prepare(kReadChunk);
      auto n = conn_.read(room.data(), room.size());
      if (!n) examples::report_io_error("kv_server", conn_, "read", n.error());
      if (!n || *n == 0) break;
      parser_.commit(*n);
      if (!answer()) return;
      if (!out_.flush()) break;
      parser_.compact();
    }
    conn_.close();
  }

 private:
  // Answers the commands complete in the parser. False when the connection is finished with
  // (QUIT, a protocol error, a client that no longer reads): it has been closed.
  bool answer() {
    for (;;) {
      auto status = parser_.next(args_);
      if (status == kv::RequestParser::Status::incomplete) return true;
      bool close = status == kv::RequestParser::Status::error;
      if (close) {
        kv::reply::error(out_, "ERR " + parser_.error());
      } else {
        close = kv::execute(store_, args_, now_ms(), out_) == kv::After::close;
      }
      if (out_.failed()) {
        conn_.close();
        return false;
      }
      if (close) {
        out_.flush();
        examples::lingering_close(conn_);
        return false;
      }
    }
  }

  kv::Store& store_;
  gort::net::Conn& conn_;
  kv::RequestParser parser_;
  kv::ReplyWriter out_;
  std::vector<std::string_view> args_;
};

// An exception escaping a connection's goroutine would end the whole process: one client's
// request that cannot be allocated for (std::bad_alloc) must cost that client only.
void serve(kv::Store& store, gort::net::Conn conn) {
  try {
    Session(store, conn).run();
  } catch (const std::exception& e) {
    auto peer = conn.peer_address();
    std::fprintf(stderr, "kv_server: closing the connection from %s: %s\n",
                 peer ? peer->to_string().c_str() : "an unknown peer", e.what());
    conn.close();
  }
}

// Expired keys nobody reads again would stay in memory forever without this.
void sweep_forever(kv::Store& store) {
  for (;;) {
    gort::sleep_for(kSweepEvery);
    store.sweep(now_ms());
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
