// A fixed-size log-linear latency histogram: recording is one increment, so a load generator
// can run for hours without keeping every sample; percentiles are within ~3%.
#pragma once

#include <array>
#include <bit>
#include <chrono>
#include <cstdint>

namespace examples {

class LatencyHistogram {
 public:
  void record(std::chrono::nanoseconds d) {
    uint64_t v = d.count() < 0 ? 0 : static_cast<uint64_t>(d.count());
    ++counts_[index(v)];
    ++total_;
  }
  void merge(const LatencyHistogram& o) {
    for (size_t i = 0; i < counts_.size(); ++i) counts_[i] += o.counts_[i];
    total_ += o.total_;
  }
  uint64_t count() const { return total_; }

  // The value below which `p` percent of the samples fall (the middle of its bucket).
  std::chrono::nanoseconds percentile(double p) const {
    if (total_ == 0) return std::chrono::nanoseconds(0);
    auto rank = static_cast<uint64_t>(p / 100.0 * static_cast<double>(total_));
    if (rank >= total_) rank = total_ - 1;
    uint64_t seen = 0;
    for (size_t i = 0; i < counts_.size(); ++i) {
      seen += counts_[i];
      if (seen > rank) return std::chrono::nanoseconds(middle(i));
    }
    return std::chrono::nanoseconds(middle(counts_.size() - 1));
  }

 private:
  // 2^kSubBits linear buckets per power of two.
  static constexpr int kSubBits = 5;
  static constexpr uint64_t kSub = uint64_t{1} << kSubBits;

  static size_t index(uint64_t v) {
    if (v < kSub) return static_cast<size_t>(v);
    int e = std::bit_width(v) - 1;  // >= kSubBits
    uint64_t sub = (v >> (e - kSubBits)) - kSub;
    return static_cast<size_t>((static_cast<uint64_t>(e - kSubBits + 1) << kSubBits) + sub);
  }
  static uint64_t middle(size_t i) {
    if (i < kSub) return i;
    uint64_t group = i >> kSubBits, sub = i & (kSub - 1);
    uint64_t width = uint64_t{1} << (group - 1);
    return (kSub + sub) * width + width / 2;
  }

  std::array<uint64_t, 64 << kSubBits> counts_{};
  uint64_t total_ = 0;
};

}  // namespace examples
