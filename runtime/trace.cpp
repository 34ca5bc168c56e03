// The scheduling trace: per-processor event buffers and the Chrome trace-event JSON writer.
// Locking and lifetime: see trace.hpp.
#include "runtime/trace.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gort/runtime.hpp"
#include "gort/trace.hpp"
#include "runtime/machine.hpp"
#include "runtime/sched.hpp"
#include "runtime/spin_lock.hpp"
#include "runtime/lock_rank.hpp"

namespace gort::rt {

std::atomic<bool> trace_enabled{false};

namespace {

constexpr size_t kChunkEvents = 4096;
constexpr size_t kMaxTraceBytes = size_t{64} << 20;

struct Event {
  int64_t ts;
  uint64_t g;
  uint64_t arg;
  const char* text;
  const char* text2;
  uint32_t num;
  TraceKind kind;
};

struct Chunk {
  Event ev[kChunkEvents];
  size_t n = 0;
  Chunk* next = nullptr;
};
std::atomic<size_t> max_chunks{kMaxTraceBytes / sizeof(Chunk)};

struct Buffer {
  SpinLock lock{LockRank::kTraceBuffer};
  Chunk* head = nullptr;  // under lock
  Chunk* tail = nullptr;
  uint64_t dropped = 0;
};

struct State {
  explicit State(int procs) : nbufs(procs + 1), bufs(new Buffer[procs + 1]) {}
  int nbufs;                       // procs, then the buffer of threads without a processor
  std::unique_ptr<Buffer[]> bufs;
  std::atomic<size_t> chunks{0};   // allocated, against max_chunks
  int64_t start_ns = 0;            // under control_mu
};

RankedMutex control_mu{LockRank::kTraceControl};              // start, stop, shutdown
std::atomic<State*> state{nullptr};  // created at the first start of a run, freed at its end

void free_chunks(Chunk* c) {
  while (c != nullptr) {
    Chunk* next = c->next;
    delete c;
    c = next;
  }
}

// One drained buffer: its chunks and how many events it dropped.
struct Drained {
  Chunk* head = nullptr;
  uint64_t dropped = 0;
};

// Under control_mu, after trace_enabled was cleared.
std::vector<Drained> drain(State* st) {
  std::vector<Drained> out(static_cast<size_t>(st->nbufs));
  for (int i = 0; i < st->nbufs; ++i) {
    Buffer& b = st->bufs[i];
    std::lock_guard<SpinLock> lock(b.lock);
    out[static_cast<size_t>(i)] = Drained{b.head, b.dropped};
    b.head = b.tail = nullptr;
    b.dropped = 0;
  }
  st->chunks.store(0, std::memory_order_relaxed);
  return out;
}

std::string json_escape(const char* s) {
  std::string out;
  if (s == nullptr) return out;
  for (; *s != '\0'; ++s) {
    const unsigned char c = static_cast<unsigned char>(*s);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      out += absl::StrFormat("\\u%04x", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

std::string track_name(int i, int procs) {
  return i < procs ? absl::StrFormat("P%d", i) : std::string("no processor");
}

// Writes the drained buffers as Chrome trace-event JSON, one event per line. A run is a
// complete ("X") event on its processor's track from its kRunStart to its kRunEnd; a run that
// was under way when the trace started begins at 0, one still under way at the stop ends there.
bool write_json(FILE* f, const std::vector<Drained>& bufs, int64_t start_ns, int64_t stop_ns,
                std::string* error) {
  const int procs = static_cast<int>(bufs.size()) - 1;
  uint64_t dropped = 0;
  for (const Drained& d : bufs) dropped += d.dropped;
  auto us = [start_ns](int64_t ns) { return static_cast<double>(ns - start_ns) / 1000.0; };
  std::string out;
  absl::StrAppendFormat(&out,
                        "{\"displayTimeUnit\":\"ns\",\"otherData\":{\"procs\":%d,"
                        "\"dropped_events\":%d,\"duration_us\":%.3f},\"traceEvents\":[\n",
                        procs, dropped, us(stop_ns));
  absl::StrAppend(&out,
                  "{\"ph\":\"M\",\"pid\":1,\"name\":\"process_name\",\"args\":{\"name\":\"gort\"}}");
  for (int i = 0; i <= procs; ++i) {
    absl::StrAppendFormat(&out,
                          ",\n{\"ph\":\"M\",\"pid\":1,\"tid\":%d,\"name\":\"thread_name\","
                          "\"args\":{\"name\":\"%s\"}}",
                          i, track_name(i, procs));
  }
  auto flush = [&]() {
    if (!out.empty() && std::fwrite(out.data(), 1, out.size(), f) != out.size()) return false;
    out.clear();
    return true;
  };
  for (int tid = 0; tid <= procs; ++tid) {
    uint64_t open_g = 0;
    int64_t open_ts = start_ns, last_ts = start_ns;
    bool open = false;
    auto span = [&](uint64_t g, int64_t from, int64_t to, const char* end) {
      absl::StrAppendFormat(&out,
                            ",\n{\"ph\":\"X\",\"pid\":1,\"tid\":%d,\"name\":\"G%d\",\"ts\":%.3f,"
                            "\"dur\":%.3f,\"args\":{\"goroutine\":%d,\"end\":\"%s\"}}",
                            tid, g, us(from), static_cast<double>(to - from) / 1000.0, g,
                            json_escape(end));
    };
    auto instant = [&](const Event& e, const std::string& name, const std::string& args) {
      absl::StrAppendFormat(&out,
                            ",\n{\"ph\":\"i\",\"s\":\"t\",\"pid\":1,\"tid\":%d,\"name\":\"%s\","
                            "\"ts\":%.3f,\"args\":{%s}}",
                            tid, name, us(e.ts), args);
    };
    for (const Chunk* c = bufs[static_cast<size_t>(tid)].head; c != nullptr; c = c->next) {
      for (size_t i = 0; i < c->n; ++i) {
        const Event& e = c->ev[i];
        last_ts = e.ts;
        switch (e.kind) {
          case TraceKind::kRunStart:
            if (open) span(open_g, open_ts, e.ts, "(no end recorded)");
            open = true;
            open_g = e.g;
            open_ts = e.ts;
            break;
          case TraceKind::kRunEnd:
            span(e.g, open && open_g == e.g ? open_ts : start_ns, e.ts, e.text);
            open = false;
            break;
          case TraceKind::kSpawn:
            instant(e, absl::StrFormat("spawn G%d", e.g),
                    absl::StrFormat(
                        "\"goroutine\":%d,\"by\":%d,\"site\":\"%s:%d\",\"function\":\"%s\"", e.g,
                        e.arg, json_escape(e.text2), e.num, json_escape(e.text)));
            break;
          case TraceKind::kUnpark:
            instant(e, absl::StrFormat("wake G%d", e.g),
                    absl::StrFormat("\"goroutine\":%d,\"by\":%d", e.g, e.arg));
            break;
          case TraceKind::kSteal:
            instant(e, "steal",
                    absl::StrFormat("\"from\":\"P%d\",\"goroutines\":%d", e.num, e.arg));
            break;
          case TraceKind::kPoll:
            instant(e, "poll", absl::StrFormat("\"source\":\"%s\",\"readied\":%d",
                                               json_escape(e.text), e.arg));
            break;
          case TraceKind::kIdle:
            instant(e, "idle", "");
            break;
        }
        if (out.size() > (1u << 20) && !flush()) break;
      }
    }
    // A full buffer recorded a prefix of its events: its last run ends where the record does.
    if (open && bufs[static_cast<size_t>(tid)].dropped > 0) {
      span(open_g, open_ts, last_ts, "(trace buffer full: later events dropped)");
    } else if (open) {
      span(open_g, open_ts, stop_ns, "(running when the trace stopped)");
    }
  }
  absl::StrAppend(&out, "\n]}\n");
  if (!flush() || std::fflush(f) != 0) {
    if (error) *error = "cannot write the trace file";
    return false;
  }
  return true;
}

// A recording taken out of the buffers; frees its chunks.
struct Stopped {
  std::vector<Drained> bufs;
  int64_t start_ns = 0, stop_ns = 0;
  Stopped() = default;
  Stopped(Stopped&&) = default;  // the moved-from vector is left empty
  Stopped& operator=(Stopped&&) = delete;
  ~Stopped() {
    for (Drained& d : bufs) free_chunks(d.head);
  }
};

// Ends the recording (control_mu held): after this no event enters a buffer (trace.hpp).
Stopped stop_locked(State* st) {
  trace_enabled.store(false, std::memory_order_seq_cst);  // before the buffer locks
  Stopped out;
  out.stop_ns = now_ns();
  out.start_ns = st->start_ns;
  out.bufs = drain(st);
  return out;
}

// Writes a recording to path. Not under control_mu: on a goroutine the write is a blocking call,
// after which the goroutine may resume on another thread, and a std::mutex must be released by
// the thread that took it.
bool write_file(const Stopped& rec, const std::string& path, std::string* error) {
  bool ok = true;
  gort::blocking([&] {
    FILE* f = std::fopen(path.c_str(), "w");
    if (f == nullptr) {
      if (error) {
        *error = absl::StrFormat("cannot open '%s' for the trace: %s", path, std::strerror(errno));
      }
      ok = false;
      return;
    }
    ok = write_json(f, rec.bufs, rec.start_ns, rec.stop_ns, error);
    if (std::fclose(f) != 0 && ok) {
      if (error) *error = absl::StrFormat("cannot write the trace to '%s'", path);
      ok = false;
    }
  });
  return ok;
}

}  // namespace

void trace_record(P* p, TraceKind kind, uint64_t g, uint64_t arg, const char* text,
                  const char* text2, uint32_t num) {
  State* st = state.load(std::memory_order_acquire);
  if (st == nullptr) return;
  Buffer& b = st->bufs[p != nullptr ? p->id : st->nbufs - 1];
  const int64_t ts = now_ns();
  std::lock_guard<SpinLock> lock(b.lock);
  if (!trace_enabled.load(std::memory_order_relaxed)) return;  // stopped meanwhile (trace.hpp)
  Chunk* c = b.tail;
  if (c == nullptr || c->n == kChunkEvents) {
    if (st->chunks.fetch_add(1, std::memory_order_relaxed) >=
        max_chunks.load(std::memory_order_relaxed)) {
      st->chunks.fetch_sub(1, std::memory_order_relaxed);
      ++b.dropped;
      return;
    }
    Chunk* fresh = new Chunk;
    if (c == nullptr) {
      b.head = fresh;
    } else {
      c->next = fresh;
    }
    b.tail = c = fresh;
  }
  c->ev[c->n++] = Event{ts, g, arg, text, text2, num, kind};
}

void trace_set_max_bytes(size_t bytes) {
  max_chunks.store(bytes == 0 ? kMaxTraceBytes / sizeof(Chunk)
                              : std::max<size_t>(1, bytes / sizeof(Chunk)),
                   std::memory_order_relaxed);
}

void trace_run_start(P* p, const G* g) { trace_record(p, TraceKind::kRunStart, g->id, 0); }

void trace_run_end(P* p, const G* g, bool exiting) {
  const char* why = "exit";
  if (!exiting) {
    why = g->status.load(std::memory_order_relaxed) == GStatus::kRunnable ? "yield"
          : g->wait_reason != nullptr                                       ? g->wait_reason
                                                                            : "park";
  }
  trace_record(p, TraceKind::kRunEnd, g->id, 0, why);
}

void trace_unpark(const G* g) {
  M* m = current_m();
  trace_record(current_owned_p(), TraceKind::kUnpark, g->id,
               m != nullptr && m->curg != nullptr ? m->curg->id : 0);
}

bool trace_begin(std::string* error) {
  std::lock_guard<RankedMutex> lock(control_mu);
  Sched* s = sched;
  if (s == nullptr) {
    if (error) *error = "no gort runtime is running";
    return false;
  }
  if (trace_enabled.load(std::memory_order_relaxed)) {
    if (error) *error = "a trace is being recorded already";
    return false;
  }
  State* st = state.load(std::memory_order_relaxed);
  if (st == nullptr) {
    st = new State(s->procs);
    state.store(st, std::memory_order_release);  // before writers can see trace_enabled
  }
  st->start_ns = now_ns();
  trace_enabled.store(true, std::memory_order_seq_cst);
  return true;
}

void trace_shutdown(const std::string& config_path) {
  std::lock_guard<RankedMutex> lock(control_mu);
  State* st = state.load(std::memory_order_relaxed);
  if (st == nullptr) return;
  if (trace_enabled.load(std::memory_order_relaxed)) {
    Stopped rec = stop_locked(st);  // on the thread that ran gort::run, after every M stopped
    std::string error;
    if (config_path.empty()) {
      std::fprintf(stderr, "gort: a trace started with gort::start_trace was never stopped; "
                           "it was dropped\n");
    } else if (!write_file(rec, config_path, &error)) {
      std::fprintf(stderr, "gort: trace not written: %s\n", error.c_str());
    }
  }
  state.store(nullptr, std::memory_order_relaxed);  // every M has stopped: no writer is left
  delete st;
}

}  // namespace gort::rt

namespace gort {

bool start_trace(std::string* error) { return rt::trace_begin(error); }

bool stop_trace(const std::string& path, std::string* error) {
  std::optional<rt::Stopped> rec;
  {
    std::lock_guard<rt::RankedMutex> lock(rt::control_mu);
    rt::State* st = rt::state.load(std::memory_order_relaxed);
    if (st == nullptr || !rt::trace_enabled.load(std::memory_order_relaxed)) {
      if (error) *error = "no trace is being recorded";
      return false;
    }
    rec.emplace(rt::stop_locked(st));
  }
  return rt::write_file(*rec, path, error);
}

}  // namespace gort
