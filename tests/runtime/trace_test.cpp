// The scheduling trace: a recorded window holds every goroutine's runs on their processors'
// tracks (never two at once on one track), their spawns with sites, wake-ups and why each run
// ended; the file is valid JSON; misuse and unwritable paths are errors that lose nothing else.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "gort/gort.hpp"
#include "runtime/trace.hpp"

namespace {

using namespace std::chrono_literals;

std::string temp_path(const char* name) {
  return ::testing::TempDir() + "gort_trace_" + std::to_string(getpid()) + "_" + name + ".json";
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

struct Span {
  int tid;
  uint64_t g;
  double ts, dur;
  std::string end;
};

// The writer puts one event on each line; this reads back the runs ("X") and the instants.
struct Parsed {
  std::vector<Span> spans;
  std::map<std::string, int> instants;  // name prefix ("spawn", "wake", "steal", ...) -> count
  std::set<uint64_t> spawned;
  std::vector<std::string> spawn_sites;
};

Parsed parse(const std::string& json) {
  static const std::regex span_re(
      R"re(\{"ph":"X","pid":1,"tid":(\d+),"name":"G(\d+)","ts":([0-9.]+),"dur":([0-9.]+),"args":\{"goroutine":\d+,"end":"([^"]*)"\}\})re");
  static const std::regex instant_re(R"re(\{"ph":"i","s":"t","pid":1,"tid":\d+,"name":"(\w+)( G(\d+))?")re");
  static const std::regex site_re(R"re("site":"([^"]*)")re");
  Parsed p;
  std::istringstream in(json);
  std::string line;
  std::smatch m;
  while (std::getline(in, line)) {
    if (std::regex_search(line, m, span_re)) {
      p.spans.push_back(Span{std::stoi(m[1]), std::stoull(m[2]), std::stod(m[3]), std::stod(m[4]),
                             m[5]});
    } else if (std::regex_search(line, m, instant_re)) {
      ++p.instants[m[1]];
      if (m[1] == "spawn") {
        p.spawned.insert(std::stoull(m[3]));
        std::smatch s;
        if (std::regex_search(line, s, site_re)) p.spawn_sites.push_back(s[1]);
      }
    }
  }
  return p;
}

// python3's json module, where there is one: the file must load as JSON.
void expect_valid_json(const std::string& path) {
  if (std::system("command -v python3 >/dev/null 2>&1") != 0) return;
  const std::string cmd = "python3 -c 'import json,sys; json.load(open(sys.argv[1]))' '" + path + "'";
  EXPECT_EQ(std::system(cmd.c_str()), 0) << path << " is not valid JSON";
}

TEST(Trace, RecordsEachGoroutinesRunsOnItsProcessorsTrackWithoutOverlap) {
  const std::string path = temp_path("window");
  std::set<uint64_t> ids;
  std::mutex ids_mu;
  bool started = false, stopped = false;
  std::string error;
  gort::run([&] {
    started = gort::start_trace(&error);
    constexpr int kPairs = 10;
    gort::WaitGroup wg;
    wg.add(2 * kPairs);
    for (int i = 0; i < kPairs; ++i) {
      gort::Chan<int> ping, pong;
      gort::go([&, ping, pong]() mutable {
        {
          std::lock_guard<std::mutex> lock(ids_mu);
          ids.insert(gort::goroutine_id());
        }
        for (int k = 0; k < 50; ++k) {
          ping.send(k);
          (void)pong.recv();
        }
        wg.done();
      });
      gort::go([&, ping, pong]() mutable {
        {
          std::lock_guard<std::mutex> lock(ids_mu);
          ids.insert(gort::goroutine_id());
        }
        for (int k = 0; k < 50; ++k) {
          (void)ping.recv();
          pong.send(k);
        }
        wg.done();
      });
    }
    wg.wait();
    // wg.done() comes before the exit: wait for the exits themselves, whose ends are checked.
    while (gort::num_goroutines() > 1) gort::sleep_for(std::chrono::milliseconds(1));
    stopped = gort::stop_trace(path, &error);
  }, gort::Config{.procs = 2});
  ASSERT_TRUE(started) << error;
  ASSERT_TRUE(stopped) << error;
  const std::string json = read_file(path);
  expect_valid_json(path);
  const Parsed p = parse(json);

  // On each processor's track the runs follow each other (timestamps are written in µs with
  // three decimals, so allow one nanosecond of rounding).
  std::map<int, std::vector<Span>> by_track;
  for (const Span& s : p.spans) by_track[s.tid].push_back(s);
  for (auto& [tid, spans] : by_track) {
    for (size_t i = 1; i < spans.size(); ++i) {
      EXPECT_LE(spans[i - 1].ts + spans[i - 1].dur, spans[i].ts + 0.001)
          << "track " << tid << ": G" << spans[i - 1].g << " still ran when G" << spans[i].g
          << " started";
    }
  }
  // Every goroutine of the window ran and was spawned here, from this file.
  std::set<uint64_t> ran;
  std::map<std::string, int> ends;
  for (const Span& s : p.spans) {
    ran.insert(s.g);
    ++ends[s.end];
  }
  for (uint64_t id : ids) {
    EXPECT_TRUE(ran.count(id)) << "no run of G" << id;
    EXPECT_TRUE(p.spawned.count(id)) << "no spawn of G" << id;
  }
  ASSERT_FALSE(p.spawn_sites.empty());
  for (const std::string& site : p.spawn_sites) {
    EXPECT_NE(site.find("trace_test.cpp:"), std::string::npos) << site;
  }
  EXPECT_GT(p.instants.count("wake") ? p.instants.at("wake") : 0, 0);
  EXPECT_GT(ends["chan receive"] + ends["chan send"], 0);
  EXPECT_EQ(ends["exit"], static_cast<int>(ids.size()));
  std::remove(path.c_str());
}

TEST(Trace, AFullBufferKeepsWhatItRecordedAndCountsTheRest) {
  const std::string path = temp_path("full");
  gort::rt::trace_set_max_bytes(1);  // one chunk: 4,096 events for all the buffers together
  bool stopped = false;
  std::string error;
  gort::run([&] {
    ASSERT_TRUE(gort::start_trace(&error)) << error;
    // Two goroutines taking turns on one processor: two events a turn.
    gort::WaitGroup wg;
    wg.add(1);
    gort::go([&] {
      for (int i = 0; i < 10000; ++i) gort::yield();
      wg.done();
    });
    for (int i = 0; i < 10000; ++i) gort::yield();
    wg.wait();
    stopped = gort::stop_trace(path, &error);
  }, gort::Config{.procs = 1});
  gort::rt::trace_set_max_bytes(0);
  ASSERT_TRUE(stopped) << error;
  const std::string json = read_file(path);
  expect_valid_json(path);
  static const std::regex dropped_re(R"re("dropped_events":(\d+))re");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(json, m, dropped_re));
  EXPECT_GT(std::stoull(m[1]), 0u);
  const Parsed p = parse(json);
  ASSERT_FALSE(p.spans.empty());
  // A prefix of the run: about one span per two of the 4,096 events, and none claims to have
  // run until the stop (the record ended long before it).
  EXPECT_GE(p.spans.size(), 2000u);
  EXPECT_LE(p.spans.size(), 2049u);
  for (const Span& s : p.spans) EXPECT_NE(s.end, "(running when the trace stopped)");
  for (size_t i = 1; i < p.spans.size(); ++i) {
    EXPECT_LE(p.spans[i - 1].ts + p.spans[i - 1].dur, p.spans[i].ts + 0.001);
  }
  std::remove(path.c_str());
}

TEST(Trace, MisuseIsAnErrorWithItsReason) {
  std::string error;
  EXPECT_FALSE(gort::start_trace(&error));
  EXPECT_NE(error.find("no gort runtime"), std::string::npos) << error;
  const std::string path = temp_path("misuse");
  gort::run([&] {
    std::string e;
    EXPECT_FALSE(gort::stop_trace(path, &e));
    EXPECT_NE(e.find("no trace"), std::string::npos) << e;
    ASSERT_TRUE(gort::start_trace(&e)) << e;
    EXPECT_FALSE(gort::start_trace(&e));
    EXPECT_NE(e.find("already"), std::string::npos) << e;
    EXPECT_TRUE(gort::stop_trace(path, &e)) << e;
    EXPECT_FALSE(gort::stop_trace(path, &e));
  });
  expect_valid_json(path);
  std::remove(path.c_str());
}

TEST(Trace, AnUnwritablePathIsAnErrorAndTheNextTraceWorks) {
  const std::string path = temp_path("after_error");
  gort::run([&] {
    std::string e;
    ASSERT_TRUE(gort::start_trace(&e)) << e;
    gort::sleep_for(1ms);
    EXPECT_FALSE(gort::stop_trace("/nonexistent-directory/trace.json", &e));
    EXPECT_NE(e.find("cannot open"), std::string::npos) << e;
    ASSERT_TRUE(gort::start_trace(&e)) << e;  // the failed stop still ended that recording
    gort::sleep_for(1ms);
    EXPECT_TRUE(gort::stop_trace(path, &e)) << e;
  });
  const Parsed p = parse(read_file(path));
  EXPECT_FALSE(p.spans.empty());
  std::remove(path.c_str());
}

TEST(Trace, TheConfigsFileCoversTheWholeRunIncludingBlockingCalls) {
  const std::string path = temp_path("whole_run");
  gort::Config cfg;
  cfg.procs = 2;
  cfg.trace_file = path;
  gort::run([] {
    gort::WaitGroup wg;
    wg.add(1);
    gort::go([&] {
      gort::blocking([] { usleep(2000); });
      wg.done();
    });
    wg.wait();
  }, cfg);
  expect_valid_json(path);
  const Parsed p = parse(read_file(path));
  std::map<std::string, int> ends;
  std::set<uint64_t> ran;
  for (const Span& s : p.spans) {
    ++ends[s.end];
    ran.insert(s.g);
  }
  EXPECT_TRUE(ran.count(1)) << "the main goroutine (G1) has no run";
  EXPECT_GT(ends["blocking call"], 0);
  EXPECT_GE(ends["exit"], 2);
  std::remove(path.c_str());
}

TEST(Trace, GortTraceNamesTheFileWhenTheConfigDoesNot) {
  const std::string path = temp_path("env");
  ASSERT_EQ(setenv("GORT_TRACE", path.c_str(), 1), 0);
  gort::run([] { gort::sleep_for(1ms); });
  unsetenv("GORT_TRACE");
  const Parsed p = parse(read_file(path));
  EXPECT_FALSE(p.spans.empty()) << "no trace at " << path;
  std::remove(path.c_str());
}

}  // namespace
