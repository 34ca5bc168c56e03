// GlobalQueue: a FIFO of batches. Pullers take whole batches and split only the first one when
// it does not fit; order is kept across batches and splits; concurrent producers and consumers
// take every goroutine exactly once. Runs under TSan in CI.
#include <atomic>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "runtime/global_queue.hpp"
#include "tests/support/procs.hpp"

namespace {

using gort::rt::G;
using gort::rt::GlobalQueue;

// Links gs[from, to) through sched_next and pushes them as one batch.
void push_range(GlobalQueue& q, std::vector<G>& gs, size_t from, size_t to) {
  for (size_t i = from; i + 1 < to; ++i) gs[i].sched_next = &gs[i + 1];
  q.push_batch(&gs[from], &gs[to - 1], static_cast<uint32_t>(to - from));
}

// Pops a batch and returns everything it took, in order (the returned one first).
std::vector<G*> pop_batch(GlobalQueue& q, uint32_t want, uint32_t room) {
  std::vector<G*> got;
  G* first = q.pop_batch(want, room, [&](G* g) { got.push_back(g); });
  if (first != nullptr) got.insert(got.begin(), first);
  return got;
}

std::vector<G*> addresses(std::vector<G>& gs, size_t from, size_t to) {
  std::vector<G*> out;
  for (size_t i = from; i < to; ++i) out.push_back(&gs[i]);
  return out;
}

TEST(GlobalQueue, TakesTheFirstBatchWholeAndMoreOnlyWhileTheyFitTheShare) {
  std::vector<G> gs(200);
  GlobalQueue q;
  push_range(q, gs, 0, 129);   // an overflow
  push_range(q, gs, 129, 130);  // a single
  push_range(q, gs, 130, 133);  // a short list
  push_range(q, gs, 133, 200);
  EXPECT_EQ(q.size(), 200u);
  // The 129 come whole although the share is 65: splitting would mean walking them.
  EXPECT_EQ(pop_batch(q, 65, 257), addresses(gs, 0, 129));
  // 1 + 3 fit in a share of 10; the next 67 would not.
  EXPECT_EQ(pop_batch(q, 10, 257), addresses(gs, 129, 133));
  EXPECT_EQ(q.size(), 67u);
  EXPECT_EQ(pop_batch(q, 1, 257), addresses(gs, 133, 200));
  EXPECT_TRUE(q.empty());
  EXPECT_TRUE(pop_batch(q, 128, 257).empty());
  for (G& g : gs) {  // nothing taken keeps a link into the queue
    EXPECT_EQ(g.sched_next, nullptr);
    EXPECT_EQ(g.batch_next, nullptr);
    EXPECT_EQ(g.batch_size, 0u);
  }
}

TEST(GlobalQueue, SplitsAFirstBatchLongerThanTheRoomAndKeepsOrder) {
  std::vector<G> gs(600);
  GlobalQueue q;
  push_range(q, gs, 0, 500);  // e.g. a long list readied by the poller
  push_range(q, gs, 500, 600);
  EXPECT_EQ(pop_batch(q, 128, 257), addresses(gs, 0, 257));
  EXPECT_EQ(q.size(), 343u);
  EXPECT_EQ(q.pop(), &gs[257]);  // one from the rest of the split batch
  EXPECT_EQ(pop_batch(q, 128, 257), addresses(gs, 258, 500));
  // The tail survived the split: pushes after it still come last.
  push_range(q, gs, 0, 1);
  EXPECT_EQ(pop_batch(q, 128, 100), addresses(gs, 500, 600));
  EXPECT_EQ(q.pop(), &gs[0]);
  EXPECT_EQ(q.pop(), nullptr);
  EXPECT_TRUE(q.empty());
}

TEST(GlobalQueue, SplittingTheOnlyBatchLeavesAWorkingQueue) {
  std::vector<G> gs(10);
  GlobalQueue q;
  push_range(q, gs, 0, 5);
  EXPECT_EQ(pop_batch(q, 128, 2), addresses(gs, 0, 2));
  push_range(q, gs, 5, 10);  // appended behind the remainder, which is now the tail
  EXPECT_EQ(pop_batch(q, 128, 257), addresses(gs, 2, 10));
  EXPECT_TRUE(q.empty());
}

TEST(GlobalQueue, DrainVisitsEverythingInOrder) {
  std::vector<G> gs(50);
  GlobalQueue q;
  push_range(q, gs, 0, 20);
  q.push(&gs[20]);
  push_range(q, gs, 21, 50);
  (void)q.pop();
  std::vector<G*> seen;
  q.drain([&](G* g) { seen.push_back(g); });
  EXPECT_EQ(seen, addresses(gs, 1, 50));
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.pop(), nullptr);
}

// Producers push batches of varying length (single ones included) while consumers take with
// pop and pop_batch (with small rooms, so batches get split): every goroutine is taken exactly
// once, and each producer's goroutines come out in the order it pushed them.
TEST(GlobalQueue, ConcurrentProducersAndConsumersTakeEachExactlyOnceInOrder) {
  constexpr int kProducers = 2;
  constexpr int kConsumers = 2;
  const int per_producer = 40'000 / gort::test::kScale;
  std::vector<std::vector<G>> gs(kProducers);
  for (auto& v : gs) v = std::vector<G>(per_producer);
  std::vector<std::atomic<int>> taken(kProducers * per_producer);
  GlobalQueue q;
  std::atomic<int> remaining{kProducers * per_producer};
  std::atomic<bool> order_ok{true};

  auto index_of = [&](G* g, int* producer) {
    for (int p = 0; p < kProducers; ++p) {
      if (g >= gs[p].data() && g < gs[p].data() + per_producer) {
        *producer = p;
        return static_cast<int>(g - gs[p].data());
      }
    }
    ADD_FAILURE() << "a pointer that was never pushed";
    return -1;
  };

  std::vector<std::thread> threads;
  for (int p = 0; p < kProducers; ++p) {
    threads.emplace_back([&, p] {
      int i = 0;
      uint32_t len = 1;
      while (i < per_producer) {
        int end = std::min(per_producer, i + static_cast<int>(len));
        for (int k = i; k + 1 < end; ++k) gs[p][k].sched_next = &gs[p][k + 1];
        q.push_batch(&gs[p][i], &gs[p][end - 1], static_cast<uint32_t>(end - i));
        i = end;
        len = len % 200 + 7;  // 1, 8, 15, ... 197, then small again
      }
    });
  }
  for (int c = 0; c < kConsumers; ++c) {
    threads.emplace_back([&, c] {
      std::vector<int> last(kProducers, -1);  // what this consumer saw last from each producer
      auto take = [&](G* g) {
        int producer = 0;
        int i = index_of(g, &producer);
        if (i < 0) return;
        taken[producer * per_producer + i].fetch_add(1, std::memory_order_relaxed);
        if (i <= last[producer]) order_ok.store(false);
        last[producer] = i;
        remaining.fetch_sub(1, std::memory_order_relaxed);
      };
      uint32_t round = 0;
      while (remaining.load(std::memory_order_relaxed) > 0) {
        ++round;
        if (round % 3 == 0) {
          if (G* g = q.pop()) take(g);
        } else {
          uint32_t room = 1 + (round * 37 + c) % 300;
          std::vector<G*> got;
          G* first = q.pop_batch(64, room, [&](G* g) { got.push_back(g); });
          if (first == nullptr) continue;
          EXPECT_LE(got.size() + 1, room);
          take(first);
          for (G* g : got) take(g);
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  for (size_t i = 0; i < taken.size(); ++i) ASSERT_EQ(taken[i].load(), 1) << i;
  EXPECT_TRUE(order_ok.load());
  EXPECT_TRUE(q.empty());
}

}  // namespace
