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

}  // namespace gort::test
