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

}  // namespace

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
  if (c.hog_report.count() < 0) throw std::invalid_argument("gort: Config::hog_report is negative");
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
      std::pair<absl::string_view, absl::string_view> kv =
          absl::StrSplit(item, absl::MaxSplits('=', 1));
      int64_t value = 0;
      if (!absl::SimpleAtoi(kv.second, &value)) {
        throw std::invalid_argument(absl::StrFormat("gort: GORT_DEBUG item '%s' needs =NUMBER", item));
      }
      if (kv.first == "migrate") {
        c.migrate_on_yield = c.migrate_on_yield || value != 0;
      } else if (kv.first == "schedtrace") {
        if (c.schedtrace.count() == 0) c.schedtrace = std::chrono::milliseconds(value);
      } else if (kv.first == "hogreport") {
        if (value < 0) {
          throw std::invalid_argument("gort: GORT_DEBUG=hogreport=MS needs MS >= 0");
        }
        if (c.hog_report.count() == 0) c.hog_report = std::chrono::milliseconds(value);
      } else {
        throw std::invalid_argument(absl::StrFormat(
            "gort: unknown GORT_DEBUG item '%s' (known: migrate=0|1, schedtrace=MS, hogreport=MS)", kv.first));
      }
    }
  }
  return c;
}

}  // namespace gort::rt
