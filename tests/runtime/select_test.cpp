// select: readiness, default, timeouts, fairness, and concurrent selects without deadlock.
#include <atomic>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "gort/chan.hpp"
#include "gort/gort.hpp"
#include "gort/select.hpp"
#include "tests/support/procs.hpp"

namespace {

using gort::test::kScale;
using gort::test::ProcsTest;
using namespace std::chrono_literals;

TEST(Select, PicksTheReadyCaseAndRunsItsHandler) {
  gort::run([] {
    gort::Chan<int> a(1), b(1);
    b.send(5);
    int got = 0;
    size_t fired = gort::select(gort::recv_case(a, [&](std::optional<int> v) { got = -1; }),
                                gort::recv_case(b, [&](std::optional<int> v) { got = *v; }));
    EXPECT_EQ(fired, 1u);
    EXPECT_EQ(got, 5);
    bool sent = false;
    fired = gort::select(gort::send_case(a, 9, [&] { sent = true; }), gort::recv_case(b));
    EXPECT_EQ(fired, 0u);
    EXPECT_TRUE(sent);
    EXPECT_EQ(a.recv(), 9);
  }, gort::Config{.procs = 1});
}

// Cases on channels that are temporaries (Ticker::c(), a function returning a Chan): the case
// keeps the channel alive, also when it is built before the select and holds the last handle.
TEST(Select, CasesOnTemporaryChannels) {
  gort::run([] {
    gort::Ticker ticker(1ms);
    bool ticked = false;
    EXPECT_EQ(gort::select(gort::recv_case(ticker.c(), [&] { ticked = true; })), 0u);
    EXPECT_TRUE(ticked);

    auto filled = [] {
      gort::Chan<std::string> c(1);
      c.send(std::string(64, 'x'));  // on the heap: freed storage would show (ASan)
      return c;
    };
    std::optional<std::string> got;
    auto take = gort::recv_case(filled(),  // the case holds the only handle
                                [&](std::optional<std::string> v) { got = std::move(v); });
    auto never = gort::recv_case(gort::Chan<std::string>(1));  // alive, empty
    EXPECT_EQ(gort::select(never, take), 1u);
    EXPECT_EQ(got, std::string(64, 'x'));

    gort::Chan<int> out(1);
    auto put = gort::send_case(gort::Chan<int>(out), 7);  // a copy made for the call
    EXPECT_EQ(gort::select(put), 0u);
    EXPECT_EQ(out.recv(), 7);
  }, gort::Config{.procs = 1});
}

TEST(Select, DefaultWhenNothingIsReady) {
  gort::run([] {
    gort::Chan<int> a;
    bool defaulted = false;
    size_t fired = gort::select(gort::recv_case(a), gort::send_case(a, 1),
                                gort::default_case([&] { defaulted = true; }));
    EXPECT_EQ(fired, 2u);
    EXPECT_TRUE(defaulted);
  }, gort::Config{.procs = 1});
}

TEST(Select, TimeoutFiresNeverEarly) {
  gort::run([] {
    gort::Chan<int> a;
    auto t0 = std::chrono::steady_clock::now();
    bool timed_out = false;
    size_t fired = gort::select(gort::recv_case(a), gort::timeout_case(3ms, [&] { timed_out = true; }));
    EXPECT_EQ(fired, 1u);
    EXPECT_TRUE(timed_out);
    EXPECT_GE(std::chrono::steady_clock::now() - t0, 3ms);
    // A value arriving before the deadline wins.
    gort::WaitGroup wg;
    wg.add(1);
    gort::go([a, &wg]() mutable {
      a.send(1);
      wg.done();
    });
    fired = gort::select(gort::recv_case(a), gort::deadline_case(std::chrono::steady_clock::now() + 10s));
    EXPECT_EQ(fired, 0u);
    wg.wait();
  }, gort::Config{.procs = 2});
}

TEST(Select, ClosedChannelIsReadyForReceiveAndAnErrorForSend) {
  gort::run([] {
    gort::Chan<int> a;
    a.close();
    bool closed_seen = false;
    gort::select(gort::recv_case(a, [&](std::optional<int> v) { closed_seen = !v; }));
    EXPECT_TRUE(closed_seen);
    EXPECT_THROW(gort::select(gort::send_case(a, 1), gort::default_case()), gort::ChannelClosed);
    // A select blocked on sending is woken by close with the error.
    gort::Chan<int> b;
    gort::WaitGroup wg;
    wg.add(1);
    gort::go([b, &wg]() mutable {
      for (int i = 0; i < 20; ++i) gort::yield();
      b.close();
      wg.done();
    });
    EXPECT_THROW(gort::select(gort::send_case(b, 1)), gort::ChannelClosed);
    wg.wait();
  }, gort::Config{.procs = 2});
}

TEST(Select, FairAmongReadyCases) {
  constexpr int kSelects = 100000;
  int counts[2] = {};
  gort::run([&] {
    gort::Chan<int> a(1), b(1);
    for (int i = 0; i < kSelects; ++i) {
      a.try_send(1);
      b.try_send(2);
      size_t fired = gort::select(gort::recv_case(a), gort::recv_case(b));
      ++counts[fired];
    }
  }, gort::Config{.procs = 1});
  // Each ready case must get a reasonable share (a fixed order would give 100% / 0%).
  EXPECT_GT(counts[0], kSelects * 4 / 10);
  EXPECT_GT(counts[1], kSelects * 4 / 10);
}

TEST_P(ProcsTest, ConcurrentSelectsOverSharedChannelsConserveMessages) {
  // Goroutines select over the same channels listed in different orders, some sending, some
  // receiving. Address-ordered locking must prevent deadlock; every message arrives once.
  constexpr int kChans = 4, kSenders = 4, kReceivers = 4;
  const int per = 5000 / kScale;
  std::atomic<int64_t> received{0}, sum{0};
  gort::run([&] {
    std::vector<gort::Chan<int>> ch;
    for (int i = 0; i < kChans; ++i) ch.emplace_back(i % 2 ? 0 : 2);
    gort::WaitGroup senders, receivers;
    senders.add(kSenders);
    receivers.add(kReceivers);
    for (int s = 0; s < kSenders; ++s) {
      gort::go([&, s] {
        for (int i = 0; i < per; ++i) {
          int v = s * per + i;
          if (s % 2) {
            gort::select(gort::send_case(ch[0], v), gort::send_case(ch[1], v),
                         gort::send_case(ch[2], v), gort::send_case(ch[3], v));
          } else {
            gort::select(gort::send_case(ch[3], v), gort::send_case(ch[2], v),
                         gort::send_case(ch[1], v), gort::send_case(ch[0], v));
          }
        }
        senders.done();
      });
    }
    gort::Chan<bool> stop;
    for (int r = 0; r < kReceivers; ++r) {
      gort::go([&] {
        bool done = false;
        auto take = [&](std::optional<int> v) {
          if (v) {
            received.fetch_add(1);
            sum.fetch_add(*v);
          }
        };
        while (!done) {
          gort::select(gort::recv_case(ch[2], take), gort::recv_case(ch[0], take),
                       gort::recv_case(ch[3], take), gort::recv_case(ch[1], take),
                       gort::recv_case(stop, [&](std::optional<bool>) { done = true; }));
        }
        receivers.done();
      });
    }
    senders.wait();
    // Drain what is buffered, then stop the receivers.
    while (received.load() < int64_t{kSenders} * per) gort::yield();
    stop.close();
    receivers.wait();
  }, config());
  const int64_t n = int64_t{kSenders} * per;
  EXPECT_EQ(received.load(), n);
  EXPECT_EQ(sum.load(), n * (n - 1) / 2);
}

TEST(Select, FromAPlainThread) {
  gort::Chan<int> a, b;
  std::thread t([&] { b.send(4); });
  int got = 0;
  gort::select(gort::recv_case(a), gort::recv_case(b, [&](std::optional<int> v) { got = *v; }));
  t.join();
  EXPECT_EQ(got, 4);
  size_t fired = gort::select(gort::recv_case(a), gort::timeout_case(1ms));
  EXPECT_EQ(fired, 1u);
}

INSTANTIATE_TEST_SUITE_P(Procs, ProcsTest, ::testing::Values(1, 2, 4), gort::test::procs_name);

}  // namespace
