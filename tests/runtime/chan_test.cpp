// Channels: Go's semantics matrix and MPMC conservation under stress.
#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "gort/chan.hpp"
#include "gort/gort.hpp"
#include "tests/support/procs.hpp"
#include "tests/support/what.hpp"

namespace {

using gort::test::kScale;
using gort::test::ProcsTest;
using namespace std::chrono_literals;

TEST(Chan, BufferedIsFifoAndReportsLenCap) {
  gort::run([] {
    gort::Chan<int> ch(4);
    EXPECT_EQ(ch.cap(), 4u);
    for (int i = 0; i < 4; ++i) ch.send(i);
    EXPECT_EQ(ch.len(), 4u);
    EXPECT_FALSE(ch.try_send(99));  // full
    for (int i = 0; i < 4; ++i) EXPECT_EQ(ch.recv(), i);
    EXPECT_EQ(ch.len(), 0u);
    EXPECT_EQ(ch.try_recv(), std::nullopt);  // empty, not closed
    EXPECT_FALSE(ch.closed());
  }, gort::Config{.procs = 1});
}

// A moved-from Chan is Go's nil channel: length and capacity 0, never closed, and select
// skips its cases. Its sends, receives and close throw (Go would block forever or panic) rather
// than touch a channel that is gone: len() and friends used to dereference it.
TEST(Chan, MovedFromChannelIsNil) {
  gort::run([] {
    gort::Chan<int> a(4);
    gort::Chan<int> b = std::move(a);
    EXPECT_EQ(a.len(), 0u);  // NOLINT(bugprone-use-after-move): what this test is about
    EXPECT_EQ(a.cap(), 0u);
    EXPECT_FALSE(a.closed());
    using gort::test::what_of;
    EXPECT_NE(what_of<std::invalid_argument>([&] { a.send(1); }).find("moved-from"),
              std::string::npos);
    EXPECT_NE(what_of<std::invalid_argument>([&] { (void)a.try_recv(); }).find("moved-from"),
              std::string::npos);
    EXPECT_NE(what_of<std::invalid_argument>([&] { a.close(); }).find("moved-from"),
              std::string::npos);
    b.send(7);
    int got = 0;
    EXPECT_EQ(gort::select(gort::recv_case(a), gort::recv_case(b, [&](std::optional<int> v) {
                got = v.value_or(-1);
              })), 1u);
    EXPECT_EQ(got, 7);
    EXPECT_EQ(gort::select(gort::recv_case(a), gort::timeout_case(std::chrono::milliseconds(5))),
              1u);
    // Copies of the nil channel are nil channels too (this crashed: a null core was retained).
    gort::Chan<int> copy = a;  // NOLINT(bugprone-use-after-move)
    gort::Chan<int> assigned(1);
    assigned = copy;
    EXPECT_EQ(copy.core(), nullptr);
    EXPECT_EQ(assigned.core(), nullptr);
    EXPECT_EQ(assigned.cap(), 0u);
    gort::Ticker ticker(std::chrono::hours(1));
    gort::Ticker moved = std::move(ticker);
    EXPECT_EQ(ticker.c().core(), nullptr);  // NOLINT(bugprone-use-after-move)
  }, gort::Config{.procs = 1});
}

// Go's "makechan: size out of range": a capacity whose byte size wraps is refused up front
// instead of allocating a wrapped, tiny buffer that sends then overrun.
TEST(Chan, CapacityOutOfRangeIsRefused) {
  using gort::test::what_of;
  EXPECT_NE(what_of<std::length_error>([] { gort::Chan<int> c((size_t{1} << 62) + 1); })
                .find("out of range"),
            std::string::npos);
  EXPECT_THROW(gort::Chan<int64_t>(SIZE_MAX), std::length_error);
  EXPECT_THROW(gort::Chan<char>(SIZE_MAX), std::length_error);
#if !defined(GORT_ASAN) && !defined(GORT_TSAN)  // their allocators abort on such sizes
  // In range but more than the machine has: bad_alloc, as from any allocation.
  EXPECT_THROW(gort::Chan<char>(size_t{1} << 60), std::bad_alloc);
#endif
}

// Goroutines still parked on channels when the run ends are abandoned, and their stacks freed.
// Channels that outlive the run (kept by main) must not keep their records: a later close or
// try_send used to walk into the freed stacks and crash (found by probing).
TEST(Chan, ChannelsOutlivingTheRunForgetTheirAbandonedWaiters) {
  gort::Chan<int> recv_side;    // a receiver parks on it
  gort::Chan<int> send_side;    // a sender parks on it
  gort::Chan<int> select_side;  // a select parks on it and on recv_side
  gort::run([&] {
    gort::go([&] { (void)recv_side.recv(); });
    gort::go([&] { send_side.send(7); });
    gort::go([&] {
      (void)gort::select(gort::recv_case(recv_side), gort::recv_case(select_side));
    });
    gort::go([&] {
      (void)gort::select(gort::send_case(select_side, 1),
                         gort::timeout_case(std::chrono::hours(1)));
    });
    for (int i = 0; i < 10; ++i) gort::yield();  // one P: each runs until it parks
  }, gort::Config{.procs = 1});
  // Nobody is left to receive or send: the abandoned waiters must not be matched.
  EXPECT_FALSE(recv_side.try_send(1));
  EXPECT_FALSE(send_side.try_recv().has_value());
  EXPECT_FALSE(select_side.try_recv().has_value());
  EXPECT_FALSE(select_side.try_send(2));
  recv_side.close();  // wakes nobody
  send_side.close();
  select_side.close();
  EXPECT_TRUE(recv_side.closed());
}

TEST(Chan, UnbufferedSendWaitsForAReceiver) {
  std::atomic<int> stage{0};
  gort::run([&] {
    gort::Chan<int> ch;
    EXPECT_FALSE(ch.try_send(1));  // nobody receiving
    gort::WaitGroup wg;
    wg.add(1);
    gort::go([&] {
      ch.send(7);  // blocks until main receives
      stage.store(2);
      wg.done();
    });
    for (int i = 0; i < 100; ++i) gort::yield();
    EXPECT_EQ(stage.load(), 0);  // still blocked: no receiver yet
    EXPECT_EQ(ch.recv(), 7);
    wg.wait();
    EXPECT_EQ(stage.load(), 2);
  }, gort::Config{.procs = 2});
}

TEST(Chan, WaitersAreServedFifo) {
  gort::run([] {
    gort::Chan<int> ch;
    gort::Chan<int> order(10);
    gort::WaitGroup wg;
    wg.add(5);
    for (int i = 0; i < 5; ++i) {
      gort::go([&, i] {
        order.send(i);
        ch.send(i);  // queue up in spawn order
        wg.done();
      });
      while (order.len() != static_cast<size_t>(i + 1)) gort::yield();
      for (int k = 0; k < 10; ++k) gort::yield();  // let it block in send
    }
    for (int i = 0; i < 5; ++i) EXPECT_EQ(ch.recv(), i);
    wg.wait();
  }, gort::Config{.procs = 1});
}

TEST(Chan, CloseWakesReceiversWithNothingAndSendersWithAnError) {
  std::atomic<int> receivers_woken{0}, senders_threw{0};
  gort::run([&] {
    gort::Chan<int> r;
    gort::Chan<int> s;
    gort::WaitGroup wg;
    wg.add(6);
    for (int i = 0; i < 3; ++i) {
      gort::go([&] {
        if (!r.recv().has_value()) receivers_woken.fetch_add(1);
        wg.done();
      });
      gort::go([&] {
        try {
          s.send(1);
        } catch (const gort::ChannelClosed&) {
          senders_threw.fetch_add(1);
        }
        wg.done();
      });
    }
    for (int i = 0; i < 50; ++i) gort::yield();
    r.close();
    s.close();
    wg.wait();
    EXPECT_THROW(r.close(), gort::ChannelClosed);
    EXPECT_THROW(r.send(1), gort::ChannelClosed);
    EXPECT_THROW(r.try_send(1), gort::ChannelClosed);
  }, gort::Config{.procs = 2});
  EXPECT_EQ(receivers_woken.load(), 3);
  EXPECT_EQ(senders_threw.load(), 3);
}

TEST(Chan, DrainAfterCloseThenNothing) {
  gort::run([] {
    gort::Chan<std::string> ch(3);
    ch.send("a");
    ch.send("b");
    ch.close();
    EXPECT_TRUE(ch.closed());
    EXPECT_EQ(ch.recv(), "a");
    EXPECT_EQ(ch.try_recv(), "b");
    EXPECT_EQ(ch.recv(), std::nullopt);
    EXPECT_EQ(ch.try_recv(), std::nullopt);
  }, gort::Config{.procs = 1});
}

TEST(Chan, RangeForReceivesUntilClosed) {
  int sum = 0;
  gort::run([&] {
    gort::Chan<int> ch(2);
    gort::WaitGroup wg;  // goroutines left at shutdown are abandoned (and their captures leak)
    wg.add(1);
    gort::go([ch, &wg]() mutable {
      for (int i = 1; i <= 100; ++i) ch.send(i);
      ch.close();
      wg.done();
    });
    for (int v : ch) sum += v;
    wg.wait();
  }, gort::Config{.procs = 2});
  EXPECT_EQ(sum, 5050);
}

TEST(Chan, MoveOnlyElementsAndCopiesShareTheChannel) {
  gort::run([] {
    gort::Chan<std::unique_ptr<int>> a(1);
    gort::Chan<std::unique_ptr<int>> b = a;  // same channel
    EXPECT_TRUE(a == b);
    a.send(std::make_unique<int>(5));
    auto v = b.recv();
    ASSERT_TRUE(v.has_value());
    EXPECT_EQ(**v, 5);
  }, gort::Config{.procs = 1});
}

TEST(Chan, BufferedElementsAreDestroyedWithTheChannel) {
  auto tracker = std::make_shared<int>(0);
  gort::run([&] {
    gort::Chan<std::shared_ptr<int>> ch(4);
    ch.send(tracker);
    ch.send(tracker);
    EXPECT_EQ(tracker.use_count(), 3);
  }, gort::Config{.procs = 1});
  EXPECT_EQ(tracker.use_count(), 1);
}

TEST(Chan, TimedOperationsTimeOutAndSucceed) {
  gort::run([] {
    gort::Chan<int> ch;
    auto t0 = std::chrono::steady_clock::now();
    EXPECT_EQ(ch.recv_for(5ms), std::nullopt);
    EXPECT_GE(std::chrono::steady_clock::now() - t0, 5ms);  // never early
    EXPECT_FALSE(ch.closed());
    EXPECT_EQ(ch.send_for(1, 2ms), gort::SendStatus::kTimeout);
    EXPECT_EQ(ch.send_for(1, 0ms), gort::SendStatus::kTimeout);
    gort::WaitGroup wg;
    wg.add(1);
    gort::go([ch, &wg]() mutable {
      ch.send(3);
      wg.done();
    });
    EXPECT_EQ(ch.recv_for(10s), 3);
    wg.wait();
    gort::Chan<int> buf(1);
    EXPECT_EQ(buf.send_until(4, std::chrono::steady_clock::now() + 1s), gort::SendStatus::kSent);
    EXPECT_EQ(buf.recv_until(std::chrono::steady_clock::now() + 1s), 4);
  }, gort::Config{.procs = 2});
}

TEST(Chan, UsableFromPlainThreads) {
  gort::Chan<int> ch;  // channels do not need a running runtime
  std::thread producer([&] {
    for (int i = 0; i < 1000; ++i) ch.send(i);
    ch.close();
  });
  long sum = 0;
  for (int v : ch) sum += v;
  producer.join();
  EXPECT_EQ(sum, 999L * 1000 / 2);
  gort::Chan<int> t;
  EXPECT_EQ(t.recv_for(1ms), std::nullopt);
}

TEST(Chan, GoroutinesAndThreadsTalk) {
  long sum = 0;
  gort::run([&] {
    gort::Chan<int> ch(8);
    std::thread t([ch]() mutable {
      for (int i = 0; i < 10000; ++i) ch.send(i);
      ch.close();
    });
    for (int v : ch) sum += v;
    gort::blocking([&] { t.join(); });
  }, gort::Config{.procs = 2});
  EXPECT_EQ(sum, 9999L * 10000 / 2);
}

TEST_P(ProcsTest, MpmcEveryMessageReceivedExactlyOnce) {
  for (size_t cap : {0u, 1u, 64u}) {
    constexpr int kProducers = 4, kConsumers = 4;
    const int per = 20000 / kScale;
    std::vector<std::atomic<int>> seen(kProducers * per);
    std::atomic<int64_t> checksum{0};
    gort::run([&] {
      gort::Chan<int> ch(cap);
      gort::WaitGroup producers, consumers;
      producers.add(kProducers);
      consumers.add(kConsumers);
      for (int p = 0; p < kProducers; ++p) {
        gort::go([&, p] {
          for (int i = 0; i < per; ++i) ch.send(p * per + i);
          producers.done();
        });
      }
      for (int c = 0; c < kConsumers; ++c) {
        gort::go([&] {
          for (int v : ch) {
            seen[v].fetch_add(1, std::memory_order_relaxed);
            checksum.fetch_add(v, std::memory_order_relaxed);
          }
          consumers.done();
        });
      }
      producers.wait();
      ch.close();
      consumers.wait();
    }, config());
    const int64_t n = kProducers * per;
    EXPECT_EQ(checksum.load(), n * (n - 1) / 2) << "cap " << cap;
    for (int64_t i = 0; i < n; ++i) ASSERT_EQ(seen[i].load(), 1) << "cap " << cap << " value " << i;
  }
}

TEST_P(ProcsTest, PerProducerOrderIsKept) {
  // With one consumer, values from each producer arrive in the order that producer sent them.
  constexpr int kProducers = 3;
  const int per = 5000 / kScale;
  bool ordered = true;
  gort::run([&] {
    gort::Chan<std::pair<int, int>> ch(16);
    gort::WaitGroup wg;
    wg.add(kProducers);
    for (int p = 0; p < kProducers; ++p) {
      gort::go([&, p] {
        for (int i = 0; i < per; ++i) ch.send({p, i});
        wg.done();
      });
    }
    gort::go([&] {
      wg.wait();
      ch.close();
    });
    int next[kProducers] = {};
    for (auto [p, i] : ch) {
      if (i != next[p]) ordered = false;
      next[p] = i + 1;
    }
  }, config());
  EXPECT_TRUE(ordered);
}

INSTANTIATE_TEST_SUITE_P(Procs, ProcsTest, ::testing::Values(1, 2, 4), gort::test::procs_name);

}  // namespace
