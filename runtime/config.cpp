#include "runtime/config.hpp"

#include <cstdlib>
#include <stdexcept>
#include <string>
#include <string_view>

#include <sched.h>
#include <unistd.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "runtime/stack.hpp"

namespace gort::rt {

int available_cpus() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    int n = CPU_COUNT(&set);
    if (n > 0) return n;
  }
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? static_cast<int>(n) : 1;
}

namespace {

constexpr int kMaxProcs = 4096;

int64_t env_int(const char* name, int64_t lo, int64_t hi) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return 0;
  int64_t n = 0;
  if (!absl::SimpleAtoi(v, &n) || n < lo || n > hi) {
    throw std::invalid_argument(
        absl::StrFormat("gort: %s=%s is not a number in [%d, %d]", name, v, lo, hi));
  }
  return n;
}

// A debug period in ms: 0 (off) to kMaxDebugMs; negative and absurd ones are errors, so the
// conversion to ns in sysmon cannot overflow. `what` names the setting as the user wrote it.
void check_debug_ms(const std::string& what, int64_t ms) {
  if (ms < 0 || ms > kMaxDebugMs) {
    throw std::invalid_argument(
        absl::StrFormat("gort: %s is not in [0, %d] ms (0: off)", what, kMaxDebugMs));
  }
}

// One GORT_DEBUG item, NAME=NUMBER. Values are checked even where Config already set the field,
// so a typo never waits for the day the field is left at its default.
void apply_debug_item(Config& c, absl::string_view item) {
  std::pair<absl::string_view, absl::string_view> kv =
      absl::StrSplit(item, absl::MaxSplits('=', 1));
  int64_t value = 0;
  if (!absl::SimpleAtoi(kv.second, &value)) {
    throw std::invalid_argument(absl::StrFormat("gort: GORT_DEBUG item '%s' needs =NUMBER", item));
  }
  if (kv.first == "migrate") {
    if (value != 0 && value != 1) {
      throw std::invalid_argument(
          absl::StrFormat("gort: GORT_DEBUG item '%s': migrate is 0 or 1", item));
    }
    c.migrate_on_yield = c.migrate_on_yield || value != 0;
  } else if (kv.first == "schedtrace") {
    check_debug_ms(absl::StrFormat("GORT_DEBUG=%s", item), value);
    if (c.schedtrace.count() == 0) c.schedtrace = std::chrono::milliseconds(value);
  } else if (kv.first == "hogreport") {
    check_debug_ms(absl::StrFormat("GORT_DEBUG=%s", item), value);
    if (c.hog_report.count() == 0) c.hog_report = std::chrono::milliseconds(value);
  } else {
    throw std::invalid_argument(absl::StrFormat(
        "gort: unknown GORT_DEBUG item '%s' (known: migrate=0|1, schedtrace=MS, hogreport=MS)",
        kv.first));
  }
}

}  // namespace

StackGuardRequest stack_guard_request() {
  const char* v = std::getenv("GORT_STACK_GUARD");
  // Empty counts as unset, as for every GORT_ variable (`GORT_STACK_GUARD= prog` unsets it).
  if (v == nullptr || *v == '\0') return StackGuardRequest::kBest;
  absl::string_view name(v);
  if (name == "mprotect") return StackGuardRequest::kMprotect;
  if (name == "canary") return StackGuardRequest::kCanary;
  throw std::invalid_argument(
      absl::StrFormat("gort: GORT_STACK_GUARD=%s (known: mprotect, canary)", name));
}

Config resolve_config(const Config& requested) {
  Config c = requested;
  // The same range as GORT_PROCS: a negative count is a mistake, not "the default".
  if (c.procs < 0 || c.procs > kMaxProcs) {
    throw std::invalid_argument(
        absl::StrFormat("gort: Config::procs = %d is not in [0, %d] (0: the default)", c.procs,
                        kMaxProcs));
  }
  if (c.procs == 0) c.procs = static_cast<int>(env_int("GORT_PROCS", 1, kMaxProcs));
  if (c.procs <= 0) c.procs = available_cpus();
  if (c.stack_size == 0) c.stack_size = static_cast<size_t>(env_int("GORT_STACK_KB", 16, 1 << 20)) * 1024;
  if (c.stack_size == 0) c.stack_size = kDefaultStackReserve;
  check_debug_ms(absl::StrFormat("Config::schedtrace = %d", c.schedtrace.count()),
                 c.schedtrace.count());
  check_debug_ms(absl::StrFormat("Config::hog_report = %d", c.hog_report.count()),
                 c.hog_report.count());
  // Only checked here: the stack system is set up after this and once per process.
  (void)stack_guard_request();
  if (c.poller == Poller::kAuto) {
    if (const char* v = std::getenv("GORT_POLLER"); v != nullptr && *v != '\0') {
      absl::string_view name(v);
      if (name == "epoll") {
        c.poller = Poller::kEpoll;
      } else if (name == "io_uring" || name == "uring") {
        c.poller = Poller::kIoUring;
      } else if (name != "auto") {
        throw std::invalid_argument(
            absl::StrFormat("gort: GORT_POLLER=%s (known: auto, epoll, io_uring)", name));
      }
    }
  }
  if (c.uring_reads == UringReads::kAuto) {
    c.uring_reads = UringReads::kReadiness;
    if (const char* v = std::getenv("GORT_URING_READS"); v != nullptr && *v != '\0') {
      absl::string_view name(v);
      if (name == "ring") {
        c.uring_reads = UringReads::kRing;
      } else if (name != "readiness" && name != "auto") {
        throw std::invalid_argument(
            absl::StrFormat("gort: GORT_URING_READS=%s (known: ring, readiness)", name));
      }
    }
  }
  if (c.trace_file.empty()) {
    if (const char* t = std::getenv("GORT_TRACE"); t != nullptr) c.trace_file = t;
  }
  if (const char* dbg = std::getenv("GORT_DEBUG"); dbg != nullptr && *dbg != '\0') {
    for (absl::string_view item : absl::StrSplit(dbg, ',', absl::SkipEmpty())) {
      apply_debug_item(c, item);
    }
  }
  return c;
}

}  // namespace gort::rt
