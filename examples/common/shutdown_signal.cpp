#include "common/shutdown_signal.hpp"

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>

#include <sys/signalfd.h>
#include <unistd.h>

#include "gort/net/poll.hpp"
#include "gort/time.hpp"

namespace examples {

int block_shutdown_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  if (pthread_sigmask(SIG_BLOCK, &set, nullptr) != 0) {
    std::perror("pthread_sigmask");
    std::exit(1);
  }
  int fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
  if (fd < 0) {
    std::perror("signalfd");
    std::exit(1);
  }
  return fd;
}

int wait_for_shutdown_signal(int signal_fd) {
  auto watched = gort::net::Pollable::watch(signal_fd);
  if (!watched) {
    std::fprintf(stderr, "cannot watch the signal fd (%s); polling it instead\n",
                 watched.error().message().c_str());
  }
  for (;;) {
    signalfd_siginfo info;
    ssize_t n = ::read(signal_fd, &info, sizeof info);
    if (n == static_cast<ssize_t>(sizeof info)) return static_cast<int>(info.ssi_signo);
    // errno is read right after the call: a gort call may move this goroutine to another thread.
    int err = n < 0 ? errno : 0;
    if (err != 0 && err != EAGAIN && err != EINTR) {
      std::perror("read(signalfd)");
      return SIGTERM;
    }
    if (watched) {
      (void)watched->wait_readable();
    } else {
      gort::sleep_for(std::chrono::milliseconds(100));
    }
  }
}

}  // namespace examples
