// The message of the exception of type E that f throws, or "(no exception)": for tests that
// check a misuse is reported and named, not only that something was thrown.
#pragma once

#include <exception>
#include <string>

namespace gort::test {

template <class E = std::exception, class F>
std::string what_of(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  }
  return "(no exception)";
}

}  // namespace gort::test
