#include "kv/store.hpp"

#include <mutex>
#include <utility>

#include "absl/hash/hash.h"
#include "kv/integer.hpp"

namespace kv {

namespace {

// Debian's abseil is built with its own string_view type, not std::string_view.
absl::string_view as_absl(std::string_view s) { return {s.data(), s.size()}; }

}  // namespace

Store::Store(int shard_bits)
    : shard_bits_(shard_bits), shards_(std::make_unique<Shard[]>(size_t{1} << shard_bits)) {}

Store::Shard& Store::shard_for(std::string_view key) {
  // The top bits pick the shard: the map inside uses the low bits of the same hash (its
  // control bytes), which must stay spread out within one shard.
  uint64_t h = absl::Hash<absl::string_view>{}(as_absl(key));
  return shards_[shard_bits_ == 0 ? 0 : h >> (64 - shard_bits_)];
}

Store::Map::iterator Store::find_live(Shard& s, std::string_view key, int64_t now) {
  auto it = s.map.find(as_absl(key));
  if (it != s.map.end() && it->second.expire_at != kNever && it->second.expire_at <= now) {
    drop(s, it);
    return s.map.end();
  }
  return it;
}

void Store::drop(Shard& s, Map::iterator it) {
  if (it->second.expire_at != kNever) --s.expiring;
  s.map.erase(it);
}

void Store::set_expiry(Shard& s, Entry& e, int64_t at) {
  if (e.expire_at == kNever && at != kNever) ++s.expiring;
  if (e.expire_at != kNever && at == kNever) --s.expiring;
  e.expire_at = at;
}

std::optional<std::string> Store::get(std::string_view key, int64_t now) {
  Shard& s = shard_for(key);
  std::lock_guard lock(s.mu);
  auto it = find_live(s, key, now);
  if (it == s.map.end()) return std::nullopt;
  return it->second.value;
}

bool Store::set(std::string_view key, std::string_view value, const SetOptions& opts,
                int64_t now) {
  // Copied before locking: a large value does not hold up the shard while it is copied, and
  // if the copy cannot be allocated nothing has changed (no key left behind without its value).
  std::string copy(value);
  Shard& s = shard_for(key);
  std::lock_guard lock(s.mu);
  auto it = find_live(s, key, now);
  bool exists = it != s.map.end();
  if ((opts.condition == Condition::if_absent && exists) ||
      (opts.condition == Condition::if_present && !exists)) {
    return false;
  }
  if (!exists) it = s.map.emplace(std::string(key), Entry{}).first;
  Entry& e = it->second;
  e.value = std::move(copy);
  if (!opts.keep_ttl) set_expiry(s, e, opts.expire_at);
  return true;
}

bool Store::erase(std::string_view key, int64_t now) {
  Shard& s = shard_for(key);
  std::lock_guard lock(s.mu);
  auto it = find_live(s, key, now);
  if (it == s.map.end()) return false;
  drop(s, it);
  return true;
}

bool Store::contains(std::string_view key, int64_t now) {
  Shard& s = shard_for(key);
  std::lock_guard lock(s.mu);
  return find_live(s, key, now) != s.map.end();
}

Store::IncrResult Store::increment(std::string_view key, int64_t delta, int64_t now) {
  Shard& s = shard_for(key);
  std::lock_guard lock(s.mu);
  auto it = find_live(s, key, now);
  int64_t old = 0;
  if (it != s.map.end()) {
    if (!parse_integer(it->second.value, old)) return {IncrStatus::not_integer, 0};
  }
  int64_t sum = 0;
  if (__builtin_add_overflow(old, delta, &sum)) return {IncrStatus::overflow, 0};
  if (it == s.map.end()) it = s.map.emplace(std::string(key), Entry{}).first;
  it->second.value = std::to_string(sum);
  return {IncrStatus::ok, sum};
}

bool Store::expire_at(std::string_view key, int64_t at, int64_t now, ExpireCondition cond) {
  Shard& s = shard_for(key);
  std::lock_guard lock(s.mu);
  auto it = find_live(s, key, now);
  if (it == s.map.end()) return false;
  const int64_t current = it->second.expire_at;
  const bool forever = current == kNever;
  if ((cond.nx && !forever) || (cond.xx && forever) || (cond.gt && (forever || at <= current)) ||
      (cond.lt && !forever && at >= current)) {
    return false;
  }
  if (at <= now) {
    drop(s, it);
  } else {
    set_expiry(s, it->second, at);
  }
  return true;
}

int64_t Store::ttl(std::string_view key, int64_t now) {
  Shard& s = shard_for(key);
  std::lock_guard lock(s.mu);
  auto it = find_live(s, key, now);
  if (it == s.map.end()) return -2;
  if (it->second.expire_at == kNever) return -1;
  return it->second.expire_at - now;
}

size_t Store::size() {
  size_t n = 0;
  for (size_t i = 0; i < (size_t{1} << shard_bits_); ++i) {
    std::lock_guard lock(shards_[i].mu);
    n += shards_[i].map.size();
  }
  return n;
}

void Store::clear() {
  for (size_t i = 0; i < (size_t{1} << shard_bits_); ++i) {
    std::lock_guard lock(shards_[i].mu);
    shards_[i].map.clear();
    shards_[i].expiring = 0;
  }
}

size_t Store::sweep(int64_t now) {
  size_t removed = 0;
  for (size_t i = 0; i < (size_t{1} << shard_bits_); ++i) {
    Shard& s = shards_[i];
    std::lock_guard lock(s.mu);
    if (s.expiring == 0) continue;
    for (auto it = s.map.begin(); it != s.map.end();) {
      const int64_t at = it->second.expire_at;
      if (at != kNever && at <= now) {
        --s.expiring;
        s.map.erase(it++);  // flat_hash_map's erase(iterator) returns void
        ++removed;
      } else {
        ++it;
      }
    }
  }
  return removed;
}

}  // namespace kv
