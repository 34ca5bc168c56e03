/* epoll_echo: a hand-written single-threaded TCP echo server, the "physical limit" proxy of the
 * network benchmarks (bench/net_compare.sh). One thread, one edge-triggered epoll set, nonblocking
 * sockets with TCP_NODELAY; whatever arrives is written straight back.
 *
 *   gcc -O2 -o epoll_echo epoll_echo.c && ./epoll_echo --addr 127.0.0.1:9000
 *
 * Prints one line containing "listening on" on stdout when ready; runs until killed.
 *
 * Every socket is registered once for EPOLLIN | EPOLLOUT | EPOLLET and never modified. A
 * connection is read until it is drained: until read() reports EAGAIN, or returns less than the
 * buffer size, which on a stream socket means the receive queue was empty at that moment (any
 * later arrival raises a new edge), so the extra read() that would only return EAGAIN is skipped.
 * If the peer does not take the echo (write short or EAGAIN), the rest is kept for the
 * connection and reading stops until EPOLLOUT says the send buffer has room again.
 */
#define _GNU_SOURCE /* accept4, memmem; before any system header */

#include <fcntl.h>
#include <sys/epoll.h>

#include "net_common.h"

#define BUF_SIZE (64 * 1024)
#define MAX_EVENTS 512

struct conn {
  char *pend; /* echo bytes the peer has not taken yet */
  size_t pend_len, pend_cap;
};

static struct conn *conns;
static size_t max_fds;
static char buf[BUF_SIZE];

static void close_conn(int fd) {
  struct conn *c = &conns[fd];
  free(c->pend);
  c->pend = NULL;
  c->pend_len = c->pend_cap = 0;
  close(fd); /* also removes it from the epoll set */
}

/* Keeps data[0..len) as not yet sent. */
static void keep(struct conn *c, const char *data, size_t len) {
  if (c->pend_cap < c->pend_len + len) {
    size_t cap = c->pend_cap ? c->pend_cap : 4096;
    while (cap < c->pend_len + len) cap *= 2;
    char *p = realloc(c->pend, cap);
    if (!p) {
      fprintf(stderr, "out of memory\n");
      exit(1);
    }
    c->pend = p;
    c->pend_cap = cap;
  }
  memcpy(c->pend + c->pend_len, data, len);
  c->pend_len += len;
}

/* Writes data; keeps what the socket does not take. Returns -1 on a fatal error. */
static int send_or_keep(int fd, struct conn *c, const char *data, size_t len) {
  while (len > 0) {
    ssize_t w = write(fd, data, len);
    if (w > 0) {
      data += w;
      len -= (size_t)w;
    } else if (w < 0 && errno == EINTR) {
      continue;
    } else if (w < 0 && errno == EAGAIN) {
      keep(c, data, len);
      return 0;
    } else {
      return -1;
    }
  }
  return 0;
}

static void on_conn(int fd) {
  struct conn *c = &conns[fd];
  if (c->pend_len) { /* writable again: flush the backlog first */
    size_t off = 0;
    while (off < c->pend_len) {
      ssize_t w = write(fd, c->pend + off, c->pend_len - off);
      if (w > 0) {
        off += (size_t)w;
      } else if (w < 0 && errno == EINTR) {
        continue;
      } else if (w < 0 && errno == EAGAIN) {
        break;
      } else {
        close_conn(fd);
        return;
      }
    }
    memmove(c->pend, c->pend + off, c->pend_len - off);
    c->pend_len -= off;
    if (c->pend_len) return; /* still blocked */
  }
  for (;;) {
    ssize_t n = read(fd, buf, BUF_SIZE);
    if (n > 0) {
      if (send_or_keep(fd, c, buf, (size_t)n) < 0) {
        close_conn(fd);
        return;
      }
      if (c->pend_len) return;  /* peer is not reading: wait for EPOLLOUT */
      if (n < BUF_SIZE) return; /* drained (see the comment at the top) */
    } else if (n == 0) {
      close_conn(fd);
      return;
    } else if (errno == EINTR) {
      continue;
    } else if (errno == EAGAIN) {
      return;
    } else {
      close_conn(fd);
      return;
    }
  }
}

int main(int argc, char **argv) {
  const char *addr = parse_addr_arg(argc, argv, "epoll_echo");
  signal(SIGPIPE, SIG_IGN);
  max_fds = raise_nofile();
  conns = calloc(max_fds, sizeof *conns);
  if (!conns) die("calloc");

  int lfd = listen_on_procs(addr);
  int ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) die("epoll_create1");
  struct epoll_event ev = {.events = EPOLLIN | EPOLLET, .data.fd = lfd};
  if (epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) != 0) die("epoll_ctl");

  printf("epoll_echo listening on %s\n", addr);
  fflush(stdout);

  struct epoll_event evs[MAX_EVENTS];
  const int one = 1;
  for (;;) {
    int n = epoll_wait(ep, evs, MAX_EVENTS, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      die("epoll_wait");
    }
    for (int i = 0; i < n; i++) {
      int fd = evs[i].data.fd;
      if (fd != lfd) {
        on_conn(fd);
        continue;
      }
      for (;;) { /* accept everything pending */
        int cfd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0) {
          if (errno == EINTR || errno == ECONNABORTED) continue;
          if (errno != EAGAIN) perror("accept4"); /* EMFILE etc.: retried on the next edge */
          break;
        }
        if ((size_t)cfd >= max_fds) {
          close(cfd);
          continue;
        }
        setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct epoll_event cev = {.events = EPOLLIN | EPOLLOUT | EPOLLET, .data.fd = cfd};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, cfd, &cev) != 0) {
          perror("epoll_ctl");
          close(cfd);
        }
      }
    }
  }
}
