// Test helpers shared by the runtime tests.
#pragma once

#include <gtest/gtest.h>

#include "gort/gort.hpp"

namespace gort::test {

// Runs each test body under 1, 2 and 4 processors.
class ProcsTest : public ::testing::TestWithParam<int> {
 protected:
  Config config() const {
    Config c;
    c.procs = GetParam();
    return c;
  }
};

inline std::string procs_name(const ::testing::TestParamInfo<int>& info) {
  return "procs" + std::to_string(info.param);
}

// Sanitizer builds run far slower and need more memory per goroutine; stress sizes shrink there.
#if defined(GORT_ASAN) || defined(GORT_TSAN)
inline constexpr int kScale = 10;
#else
inline constexpr int kScale = 1;
#endif

// "A million goroutines at once" tests: TSan counts every fiber as a thread (limit 8128) and
// ASan's shadow makes each parked stack costlier, so those builds use fewer.
#if defined(GORT_TSAN)
inline constexpr int kMillion = 4000;
#elif defined(GORT_ASAN)
inline constexpr int kMillion = 100000;
#else
inline constexpr int kMillion = 1000000;
#endif

}  // namespace gort::test
