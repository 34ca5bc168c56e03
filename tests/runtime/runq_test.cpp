// RunQueue: the owner pushes and pops while thieves steal concurrently; every item is taken
// exactly once (nothing lost, nothing duplicated). Runs under TSan in CI.
#include <atomic>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "runtime/runq.hpp"
#include "tests/support/procs.hpp"

namespace {

using gort::rt::G;
using gort::rt::RunQueue;

TEST(RunQueue, FifoForOwnerAndRunnextFirst) {
  std::vector<G> gs(10);
  RunQueue q;
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(q.push(&gs[i]));
  EXPECT_EQ(q.push_next(&gs[9]), nullptr);
  EXPECT_EQ(q.size(), 6u);
  bool from_next = false;
  EXPECT_EQ(q.pop(&from_next), &gs[9]);
  EXPECT_TRUE(from_next);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(q.pop(), &gs[i]);
  EXPECT_EQ(q.pop(), nullptr);
  EXPECT_TRUE(q.empty());
}

TEST(RunQueue, PushNextDisplacesPrevious) {
  G a, b;
  RunQueue q;
  EXPECT_EQ(q.push_next(&a), nullptr);
  EXPECT_EQ(q.push_next(&b), &a);
}

TEST(RunQueue, FullRingOverflowsHalf) {
  std::vector<G> gs(RunQueue::kSize + 1);
  RunQueue q;
  for (uint32_t i = 0; i < RunQueue::kSize; ++i) ASSERT_TRUE(q.push(&gs[i]));
  EXPECT_FALSE(q.push(&gs[RunQueue::kSize]));
  G* out[RunQueue::kSize / 2];
  ASSERT_EQ(q.take_half_for_overflow(out), RunQueue::kSize / 2);
  for (uint32_t i = 0; i < RunQueue::kSize / 2; ++i) EXPECT_EQ(out[i], &gs[i]);
  EXPECT_TRUE(q.push(&gs[RunQueue::kSize]));
  EXPECT_EQ(q.size(), RunQueue::kSize / 2 + 1);
}

TEST(RunQueue, StealTakesHalf) {
  std::vector<G> gs(10);
  RunQueue victim, thief;
  for (auto& g : gs) ASSERT_TRUE(victim.push(&g));
  uint32_t n = 0;
  G* g = victim.steal_into(thief, false, &n);
  EXPECT_EQ(n, 5u);
  EXPECT_EQ(g, &gs[4]);
  EXPECT_EQ(thief.size(), 4u);
  EXPECT_EQ(victim.size(), 5u);
}

TEST(RunQueue, StealRunnextOnlyWhenAsked) {
  G a;
  RunQueue victim, thief;
  victim.push_next(&a);
  uint32_t n = 0;
  EXPECT_EQ(victim.steal_into(thief, false, &n), nullptr);
  EXPECT_EQ(victim.steal_into(thief, true, &n), &a);
  EXPECT_TRUE(victim.empty());
}

TEST(RunQueue, ConcurrentOwnerAndThievesTakeEachItemExactlyOnce) {
  constexpr int kItems = 400000 / gort::test::kScale;
  constexpr int kThieves = 3;
  std::vector<G> gs(kItems);
  for (int i = 0; i < kItems; ++i) gs[i].id = static_cast<uint64_t>(i);
  std::vector<std::atomic<int>> taken(kItems);
  RunQueue owner_q;
  std::atomic<bool> done{false};
  std::atomic<int> total{0};

  auto take = [&](G* g) {
    taken[g->id].fetch_add(1, std::memory_order_relaxed);
    total.fetch_add(1, std::memory_order_relaxed);
  };

  std::vector<std::thread> thieves;
  for (int t = 0; t < kThieves; ++t) {
    thieves.emplace_back([&] {
      RunQueue mine;  // each thief owns its own queue and drains it
      while (!done.load(std::memory_order_acquire) || !owner_q.empty()) {
        uint32_t n = 0;
        if (G* g = owner_q.steal_into(mine, true, &n)) {
          take(g);
          while (G* x = mine.pop()) take(x);
        }
      }
    });
  }
  std::vector<G*> overflow;
  for (int i = 0; i < kItems; ++i) {
    G* g = &gs[i];
    if (i % 7 == 0) {
      if (G* displaced = owner_q.push_next(g)) g = displaced;
      else continue;
    }
    while (!owner_q.push(g)) {
      G* out[RunQueue::kSize / 2];
      uint32_t n = owner_q.take_half_for_overflow(out);
      overflow.insert(overflow.end(), out, out + n);
    }
    if (i % 3 == 0) {
      if (G* x = owner_q.pop()) take(x);
    }
  }
  while (G* x = owner_q.pop()) take(x);
  done.store(true, std::memory_order_release);
  for (auto& t : thieves) t.join();
  for (G* g : overflow) take(g);
  EXPECT_EQ(total.load(), kItems);
  for (int i = 0; i < kItems; ++i) ASSERT_EQ(taken[i].load(), 1) << "item " << i;
}

}  // namespace
