// kv_server's sharded store: values, conditions, counters and expiry at given instants.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "kv/store.hpp"

namespace {

using kv::Store;
constexpr int64_t kSec = 1000;  // time is in milliseconds
constexpr int64_t T0 = 1000 * kSec;  // an arbitrary "now"

Store::SetOptions expiring_at(int64_t at) {
  Store::SetOptions o;
  o.expire_at = at;
  return o;
}

TEST(KvStore, SetGetEraseContains) {
  Store s;
  EXPECT_FALSE(s.get("k", T0));
  EXPECT_TRUE(s.set("k", "v", {}, T0));
  EXPECT_EQ(s.get("k", T0), "v");
  EXPECT_TRUE(s.contains("k", T0));
  EXPECT_TRUE(s.set("k", "w", {}, T0));
  EXPECT_EQ(s.get("k", T0), "w");
  EXPECT_TRUE(s.erase("k", T0));
  EXPECT_FALSE(s.erase("k", T0));
  EXPECT_FALSE(s.contains("k", T0));
}

TEST(KvStore, Conditions) {
  Store s;
  Store::SetOptions nx, xx;
  nx.condition = Store::Condition::if_absent;
  xx.condition = Store::Condition::if_present;
  EXPECT_FALSE(s.set("k", "v", xx, T0));
  EXPECT_FALSE(s.contains("k", T0));
  EXPECT_TRUE(s.set("k", "v", nx, T0));
  EXPECT_FALSE(s.set("k", "w", nx, T0));
  EXPECT_EQ(s.get("k", T0), "v");
  EXPECT_TRUE(s.set("k", "w", xx, T0));
  EXPECT_EQ(s.get("k", T0), "w");
}

TEST(KvStore, KeysExpireAtTheirInstant) {
  Store s;
  s.set("k", "v", expiring_at(T0 + kSec), T0);
  EXPECT_EQ(s.get("k", T0 + kSec - 1), "v");
  EXPECT_EQ(s.ttl("k", T0), kSec);
  EXPECT_FALSE(s.get("k", T0 + kSec));
  EXPECT_EQ(s.ttl("k", T0 + kSec), -2);
  // An expired key counts as absent for NX.
  Store::SetOptions nx;
  nx.condition = Store::Condition::if_absent;
  s.set("j", "v", expiring_at(T0 + 1), T0);
  EXPECT_TRUE(s.set("j", "new", nx, T0 + 2));
  EXPECT_EQ(s.ttl("j", T0 + 2), -1);
}

TEST(KvStore, SetClearsOrKeepsTheExpiry) {
  Store s;
  s.set("k", "v", expiring_at(T0 + kSec), T0);
  Store::SetOptions keep;
  keep.keep_ttl = true;
  s.set("k", "v2", keep, T0);
  EXPECT_EQ(s.ttl("k", T0), kSec);
  s.set("k", "v3", {}, T0);
  EXPECT_EQ(s.ttl("k", T0), -1);
}

TEST(KvStore, ExpireAt) {
  Store s;
  EXPECT_FALSE(s.expire_at("missing", T0 + kSec, T0));
  s.set("k", "v", {}, T0);
  EXPECT_TRUE(s.expire_at("k", T0 + 5 * kSec, T0));
  EXPECT_EQ(s.ttl("k", T0 + kSec), 4 * kSec);
  EXPECT_TRUE(s.expire_at("k", T0, T0));  // not in the future: deleted at once
  EXPECT_FALSE(s.contains("k", T0));
}

TEST(KvStore, Increment) {
  Store s;
  auto r = s.increment("n", 5, T0);
  EXPECT_EQ(r.status, Store::IncrStatus::ok);
  EXPECT_EQ(r.value, 5);
  EXPECT_EQ(s.increment("n", -7, T0).value, -2);
  EXPECT_EQ(s.get("n", T0), "-2");
  s.set("text", "12a", {}, T0);
  EXPECT_EQ(s.increment("text", 1, T0).status, Store::IncrStatus::not_integer);
  s.set("empty", "", {}, T0);
  EXPECT_EQ(s.increment("empty", 1, T0).status, Store::IncrStatus::not_integer);
  s.set("big", std::to_string(INT64_MAX), {}, T0);
  EXPECT_EQ(s.increment("big", 1, T0).status, Store::IncrStatus::overflow);
  EXPECT_EQ(s.get("big", T0), std::to_string(INT64_MAX));
}

TEST(KvStore, IncrementTakesOnlyCanonicalIntegers) {
  // As Redis's string2ll: no leading zeros, "-0", sign or spaces.
  Store s;
  for (const char* v : {"01", "-0", "00", "+1", " 1", "1 ", "-", "99999999999999999999"}) {
    s.set("k", v, {}, T0);
    EXPECT_EQ(s.increment("k", 1, T0).status, Store::IncrStatus::not_integer) << v;
    EXPECT_EQ(s.get("k", T0), v);
  }
  s.set("k", "0", {}, T0);
  EXPECT_EQ(s.increment("k", 1, T0).value, 1);
  s.set("k", std::to_string(INT64_MIN), {}, T0);
  EXPECT_EQ(s.increment("k", 1, T0).value, INT64_MIN + 1);
}

TEST(KvStore, IncrementKeepsTheExpiry) {
  Store s;
  s.set("n", "1", expiring_at(T0 + kSec), T0);
  s.increment("n", 1, T0);
  EXPECT_EQ(s.ttl("n", T0), kSec);
}

TEST(KvStore, SweepRemovesOnlyExpiredKeys) {
  Store s;
  for (int i = 0; i < 1000; ++i) {
    s.set("e" + std::to_string(i), "v", expiring_at(T0 + (i % 2 == 0 ? 1 : 10 * kSec)), T0);
    s.set("p" + std::to_string(i), "v", {}, T0);
  }
  EXPECT_EQ(s.size(), 2000u);
  EXPECT_EQ(s.sweep(T0 + 1), 500u);
  EXPECT_EQ(s.size(), 1500u);
  EXPECT_EQ(s.sweep(T0 + 1), 0u);
  EXPECT_EQ(s.sweep(T0 + 10 * kSec), 500u);
  EXPECT_EQ(s.size(), 1000u);
  s.clear();
  EXPECT_EQ(s.size(), 0u);
}

TEST(KvStore, ConcurrentIncrementsAreNotLost) {
  // gort::Mutex blocks plain threads, so the store works outside a runtime too.
  Store s;
  constexpr int kThreads = 4, kEach = 20000;
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t) {
    ts.emplace_back([&] {
      for (int i = 0; i < kEach; ++i) {
        s.increment("shared", 1, T0);
        s.increment("k" + std::to_string(i % 64), 1, T0);
      }
    });
  }
  for (auto& t : ts) t.join();
  EXPECT_EQ(s.get("shared", T0), std::to_string(kThreads * kEach));
  int64_t sum = 0;
  for (int i = 0; i < 64; ++i) sum += std::stoll(*s.get("k" + std::to_string(i), T0));
  EXPECT_EQ(sum, kThreads * kEach);
}

}  // namespace
