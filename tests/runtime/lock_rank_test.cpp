// The lock order (runtime/lock_rank.hpp): the declared table, and the checker of checked builds
// (Debug and sanitizer builds), which must stop a thread that takes locks against it.
#include <gtest/gtest.h>

#include "gort/gort.hpp"
#include "runtime/lock_rank.hpp"
#include "runtime/spin_lock.hpp"

namespace {

using gort::rt::LockRank;
using gort::rt::lock_rank_allows;
using gort::rt::SpinLock;

// The table says what ARCHITECTURE.md §5 says, transitively, and nothing the other way round.
TEST(LockRank, TableAllowsTheDocumentedNestingsOnly) {
  static_assert(lock_rank_allows(LockRank::kSched, LockRank::kGlobalQueue));
  static_assert(!lock_rank_allows(LockRank::kGlobalQueue, LockRank::kSched));
  static_assert(lock_rank_allows(LockRank::kStackScavenge, LockRank::kStackArena));  // via a class
  static_assert(!lock_rank_allows(LockRank::kStackArena, LockRank::kStackScavenge));
  static_assert(lock_rank_allows(LockRank::kChan, LockRank::kChan));  // a select, by address
  static_assert(!lock_rank_allows(LockRank::kSemaBucket, LockRank::kSemaBucket));
  static_assert(!lock_rank_allows(LockRank::kTimerHeap, LockRank::kChan));  // a leaf takes nothing
  static_assert(lock_rank_allows(LockRank::kUnranked, LockRank::kSched));
  for (int r = 1; r < static_cast<int>(LockRank::kCount); ++r) {
    EXPECT_STRNE(gort::rt::lock_rank_name(static_cast<LockRank>(r)), "?") << r;
  }
}

// Releases in any order leave the thread holding nothing (a select unlocks as it likes).
TEST(LockRank, ReleasesInAnyOrderBalance) {
  if (!gort::rt::kLockRanking) GTEST_SKIP() << "lock ranking is compiled only in checked builds";
  SpinLock a{LockRank::kChan}, b{LockRank::kChan}, q{LockRank::kGlobalQueue};
  SpinLock& low = &a < &b ? a : b;
  SpinLock& high = &a < &b ? b : a;
  const int before = gort::rt::lock_rank_held_count();
  low.lock();
  high.lock();
  q.lock();
  EXPECT_EQ(gort::rt::lock_rank_held_count(), before + 3);
  low.unlock();
  q.unlock();
  high.unlock();
  EXPECT_EQ(gort::rt::lock_rank_held_count(), before);
}

TEST(LockRankDeathTest, TakingAgainstTheOrderIsFatalAndNamesBothLocks) {
  if (!gort::rt::kLockRanking) GTEST_SKIP() << "lock ranking is compiled only in checked builds";
  EXPECT_DEATH(
      {
        SpinLock queue{LockRank::kGlobalQueue};
        gort::rt::RankedMutex sched_lock{LockRank::kSched};
        queue.lock();
        sched_lock.lock();
      },
      "lock order: Sched::lock lock taken while holding global run queue lock");
}

TEST(LockRankDeathTest, SelfNestingOnlyInAddressOrder) {
  if (!gort::rt::kLockRanking) GTEST_SKIP() << "lock ranking is compiled only in checked builds";
  EXPECT_DEATH(
      {
        SpinLock first{LockRank::kChan};
        SpinLock second{LockRank::kChan};
        SpinLock& low = &first < &second ? first : second;
        SpinLock& high = &first < &second ? second : first;
        high.lock();
        low.lock();
      },
      "channel locks taken out of address order");
}

TEST(LockRankDeathTest, ReleasingALockNotHeldIsFatal) {
  if (!gort::rt::kLockRanking) GTEST_SKIP() << "lock ranking is compiled only in checked builds";
  EXPECT_DEATH(
      {
        SpinLock l{LockRank::kTimerHeap};
        l.unlock();
      },
      "timer heap lock .* released by a thread that does not hold it");
}

// The runtime's own locks keep to the order through a run that exercises most of them.
TEST(LockRank, ARunTakesItsLocksInOrder) {
  gort::Config c;
  c.procs = 2;
  gort::run([] {
    gort::Chan<int> ch;
    gort::WaitGroup wg;
    wg.add(8);
    for (int i = 0; i < 8; ++i) {
      gort::go([&] {
        for (int k = 0; k < 1000; ++k) ch.send(k);
        wg.done();
      });
    }
    int got = 0;
    for (int i = 0; i < 8000; ++i) got += ch.recv().has_value();
    wg.wait();
    EXPECT_EQ(got, 8000);
  }, c);
  EXPECT_EQ(gort::rt::lock_rank_held_count(), 0);
}

}  // namespace
