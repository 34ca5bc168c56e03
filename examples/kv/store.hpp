// kv_server's data: string keys to string values with optional expiry, sharded so that
// goroutines on different processors rarely wait for the same lock.
//
// Time is passed in (CLOCK_MONOTONIC milliseconds) rather than read here, so expiry is tested
// without sleeping. Milliseconds as in Redis, so that every expire time Redis accepts (up to
// 2^63 ms) can be kept, which in nanoseconds it could not. An expired key is gone for every
// operation (checked on access); sweep() reclaims the memory of expired keys nobody touches
// again.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "gort/sync.hpp"

namespace kv {

// EXPIRE's NX / XX / GT / LT (Redis 7): which current expiry a new one may replace. A key without
// expiry counts as living forever: GT never replaces it, LT always does.
struct ExpireCondition {
  bool nx = false, xx = false, gt = false, lt = false;
};

class Store {
 public:
  static constexpr int64_t kNever = 0;  // expire_at of a key without expiry

  explicit Store(int shard_bits = 6);

  std::optional<std::string> get(std::string_view key, int64_t now);

  enum class Condition { always, if_absent, if_present };  // SET's NX / XX
  struct SetOptions {
    Condition condition = Condition::always;
    int64_t expire_at = kNever;
    bool keep_ttl = false;  // keep the old expiry instead of clearing it (SET ... KEEPTTL)
  };
  // False when the condition did not hold (nothing was written).
  bool set(std::string_view key, std::string_view value, const SetOptions& opts, int64_t now);

  bool erase(std::string_view key, int64_t now);     // whether a live key was removed
  bool contains(std::string_view key, int64_t now);

  enum class IncrStatus { ok, not_integer, overflow };
  struct IncrResult {
    IncrStatus status;
    int64_t value;
  };
  // Adds `delta` to the key's integer value (a missing key counts as 0); keeps its expiry.
  IncrResult increment(std::string_view key, int64_t delta, int64_t now);

  // Sets the key's expiry if the condition holds; an instant not after `now` deletes it. False
  // if the key is missing or the condition does not hold. Check and change under one lock.
  bool expire_at(std::string_view key, int64_t at, int64_t now, ExpireCondition cond = {});
  // Milliseconds to live; -1: no expiry, -2: no such key.
  int64_t ttl(std::string_view key, int64_t now);

  size_t size();  // keys in memory: expired ones count until accessed or swept
  void clear();
  // Removes expired keys; returns how many.
  size_t sweep(int64_t now);

 private:
  struct Entry {
    std::string value;
    int64_t expire_at = kNever;
  };
  using Map = absl::flat_hash_map<std::string, Entry>;
  struct Shard {
    gort::Mutex mu;
    Map map;
    size_t expiring = 0;  // entries with an expiry: sweep skips shards without any
  };

  Shard& shard_for(std::string_view key);
  // The live entry for key, or end() after dropping it if it expired. Caller holds the lock.
  static Map::iterator find_live(Shard& s, std::string_view key, int64_t now);
  static void drop(Shard& s, Map::iterator it);
  static void set_expiry(Shard& s, Entry& e, int64_t at);

  int shard_bits_;
  std::unique_ptr<Shard[]> shards_;
};

}  // namespace kv
