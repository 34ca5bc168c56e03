#include "common/connection_tracker.hpp"

#include <mutex>
#include <utility>
#include <vector>

#include "gort/chan.hpp"
#include "gort/runtime.hpp"

namespace examples {

void ConnectionTracker::serve(gort::net::Conn conn, const Handler& handle) {
  std::unique_lock lock(mu_);
  if (closing_) {
    lock.unlock();
    conn.close();
    return;
  }
  uint64_t id = next_id_++;
  live_.emplace(id, conn);
  running_.add(1);  // before the goroutine exists, so shutdown's wait cannot miss it
  lock.unlock();
  gort::go([this, id, &handle, c = std::move(conn)]() mutable {
    handle(std::move(c));
    {
      std::lock_guard guard(mu_);
      live_.erase(id);
    }
    running_.done();
  });
}

int64_t ConnectionTracker::shutdown(std::chrono::milliseconds grace) {
  std::vector<gort::net::Conn> open;
  {
    std::lock_guard guard(mu_);
    closing_ = true;
    for (auto& [id, conn] : live_) open.push_back(conn);
  }
  // Closing outside the lock: a handler finishing now needs mu_ to deregister.
  for (auto& conn : open) conn.close();
  gort::Chan<int> finished;
  gort::go([this, finished]() mutable {
    running_.wait();
    finished.close();
  });
  (void)finished.recv_for(grace);
  if (finished.closed()) return 0;
  std::lock_guard guard(mu_);
  return static_cast<int64_t>(live_.size());
}

}  // namespace examples
