// The goroutine dump: every goroutine with its state, wait reason and duration, creation site,
// and the frames a parked one waits in; SIGQUIT prints it and still ends the process by SIGQUIT;
// a program's own SIGQUIT handler is left alone.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <regex>
#include <string>

#include <gtest/gtest.h>

#include "gort/gort.hpp"
#include "tests/support/spin.hpp"

namespace {

using namespace std::chrono_literals;

__attribute__((noinline)) void WaitOnChannel(gort::Chan<int>& ch) {
  (void)ch.recv();
  asm volatile("");  // keeps the call a call, not a tail jump
}

__attribute__((noinline)) void WaitOnMutex(gort::Mutex& mu) {
  mu.lock();
  mu.unlock();
  asm volatile("");
}

using gort::test::SpinUntil;  // makes no runtime call: the goroutine stays running

__attribute__((noinline)) std::string DumpFromHere() {
  std::string d = gort::goroutine_dump();
  asm volatile("");
  return d;
}

// The block of the dump that describes goroutine `id`, or "".
std::string block_of(const std::string& dump, uint64_t id) {
  const std::string head = "\ngoroutine " + std::to_string(id) + " [";
  const size_t at = dump.find(head);
  if (at == std::string::npos) return "";
  const size_t end = dump.find("\n\n", at + 1);
  return dump.substr(at + 1, end == std::string::npos ? std::string::npos : end - at - 1);
}

TEST(Dump, ShowsEachGoroutineWithItsWaitItsSiteAndItsFrames) {
  std::string dump;
  std::atomic<uint64_t> chan_id{0}, mutex_id{0};
  gort::run([&] {
    gort::Chan<int> ch;
    gort::Mutex mu;
    mu.lock();
    gort::WaitGroup wg;
    wg.add(2);
    gort::go([&] {
      chan_id = gort::goroutine_id();
      WaitOnChannel(ch);
      wg.done();
    });
    gort::go([&] {
      mutex_id = gort::goroutine_id();
      WaitOnMutex(mu);
      wg.done();
    });
    gort::sleep_for(300ms);  // both are parked by now, and have been for a while
    dump = gort::goroutine_dump();
    ch.send(1);
    mu.unlock();
    wg.wait();
  }, gort::Config{.procs = 2});
  EXPECT_NE(dump.find("goroutine 1 [running on processor "), std::string::npos) << dump;

  const std::string c = block_of(dump, chan_id);
  std::smatch m;
  ASSERT_TRUE(std::regex_search(c, m, std::regex("^goroutine [0-9]+ \\[chan receive, ([0-9]+) ms\\]:\n"
                                                 "  created at .*dump_test.cpp:[0-9]+")))
      << dump;
  EXPECT_GE(std::stoi(m[1]), 100) << c;  // parked ~300 ms before the dump; the clock is coarse
  EXPECT_NE(c.find("WaitOnChannel"), std::string::npos) << c;

  const std::string mx = block_of(dump, mutex_id);
  EXPECT_TRUE(std::regex_search(mx, std::regex("^goroutine [0-9]+ \\[sync.Mutex.Lock, [0-9]+ ms\\]:")))
      << dump;
  EXPECT_NE(mx.find("WaitOnMutex"), std::string::npos) << mx;
}

// A running goroutine has no saved registers: the dump asks its thread (a signal, as the hog
// detector does) for the frames, and the goroutine that calls the dump walks its own stack.
TEST(Dump, ShowsTheFramesOfRunningGoroutines) {
  std::string dump;
  std::atomic<uint64_t> spinner_id{0}, caller_id{0};
  gort::run([&] {
    std::atomic<bool> stop{false}, started{false};
    gort::WaitGroup wg;
    wg.add(1);
    gort::go([&] {
      spinner_id = gort::goroutine_id();
      started = true;
      SpinUntil(stop);
      wg.done();
    });
    while (!started) gort::sleep_for(1ms);
    gort::sleep_for(20ms);  // the spinner is inside its loop
    caller_id = gort::goroutine_id();
    dump = DumpFromHere();
    stop = true;
    wg.wait();
  }, gort::Config{.procs = 2});
  const std::string s = block_of(dump, spinner_id);
  ASSERT_TRUE(std::regex_search(s, std::regex("^goroutine [0-9]+ \\[running on processor [01]\\]:")))
      << dump;
#if defined(__SANITIZE_THREAD__)
  // Under TSan the signal lands in TSan's code for the loop's atomic load, which keeps no frame
  // pointer: the sample is that one frame.
  EXPECT_NE(s.find("  #0 0x"), std::string::npos) << s;
#else
  EXPECT_NE(s.find("SpinUntil"), std::string::npos) << s;
#endif
  const std::string c = block_of(dump, caller_id);
  EXPECT_NE(c.find("DumpFromHere"), std::string::npos) << c;
}

TEST(Dump, OutsideARunItSaysSo) {
  EXPECT_EQ(gort::goroutine_dump(), "gort: no runtime is running\n");
}

TEST(Dump, SigquitPrintsTheDumpAndStillEndsTheProcessBySigquit) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        gort::run([] {
          gort::Chan<int> ch;
          gort::go([&] { WaitOnChannel(ch); });
          gort::sleep_for(50ms);
          // At this thread, not the process: TSan holds a signal back until the thread it
          // landed on makes an intercepted call, and an idle M may sleep in a raw futex for
          // the whole test. (`kill -QUIT` from outside works the same in a plain build.)
          raise(SIGQUIT);
          gort::sleep_for(10s);
        }, gort::Config{.procs = 2});
      },
      testing::KilledBySignal(SIGQUIT),
      "SIGQUIT: quit\n\ngort: [0-9]+ goroutines\n(.|\n)*goroutine [0-9]+ \\[chan receive[^]]*\\]:\n"
      "  created at .*dump_test.cpp:[0-9]+[^\n]*\n(.|\n)*WaitOnChannel");
}

std::atomic<int> own_handler_calls{0};
void own_handler(int) { own_handler_calls.fetch_add(1); }

TEST(Dump, AProgramsOwnSigquitHandlerIsLeftAlone) {
  struct sigaction sa{}, old{};
  sa.sa_handler = own_handler;
  sigemptyset(&sa.sa_mask);
  ASSERT_EQ(sigaction(SIGQUIT, &sa, &old), 0);
  gort::run([] {
    raise(SIGQUIT);  // at this thread (see the test above)
    for (int i = 0; i < 1000 && own_handler_calls.load() == 0; ++i) gort::sleep_for(1ms);
  });
  struct sigaction after{};
  ASSERT_EQ(sigaction(SIGQUIT, &old, &after), 0);
  EXPECT_EQ(own_handler_calls.load(), 1);
  EXPECT_EQ(after.sa_handler, &own_handler);  // still the program's after the run
}

TEST(Dump, TheDefaultActionIsBackAfterARun) {
  gort::run([] {});
  struct sigaction cur{};
  ASSERT_EQ(sigaction(SIGQUIT, nullptr, &cur), 0);
  EXPECT_EQ(cur.sa_handler, SIG_DFL);
}

}  // namespace
