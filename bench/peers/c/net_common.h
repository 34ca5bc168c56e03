/* Shared helpers of the hand-written epoll peers (epoll_echo.c, epoll_http.c): argument
 * parsing, the listening socket, the fd limit. Header-only; each server is one translation unit:
 *
 *   gcc -O2 -o epoll_echo epoll_echo.c      (the harness, bench/net_compare.sh, does this)
 */
#ifndef GORT_BENCH_NET_COMMON_H
#define GORT_BENCH_NET_COMMON_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

static void die(const char *what) {
  fprintf(stderr, "%s: %s\n", what, strerror(errno));
  exit(1);
}

/* "--addr HOST:PORT" (or "-addr"); HOST may be empty (all interfaces) or "[v6]". */
static const char *parse_addr_arg(int argc, char **argv, const char *prog) {
  const char *addr = "127.0.0.1:9000";
  for (int i = 1; i < argc; i++) {
    if ((!strcmp(argv[i], "--addr") || !strcmp(argv[i], "-addr")) && i + 1 < argc) {
      addr = argv[++i];
    } else if (!strncmp(argv[i], "--addr=", 7)) {
      addr = argv[i] + 7;
    } else {
      fprintf(stderr, "usage: %s [--addr HOST:PORT]\n", prog);
      exit(2);
    }
  }
  return addr;
}

/* Raises RLIMIT_NOFILE's soft limit to the hard one; returns the new soft limit. */
static size_t raise_nofile(void) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return 1024;
  if (rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
  }
  return rl.rlim_cur == RLIM_INFINITY ? (size_t)1 << 20 : (size_t)rl.rlim_cur;
}

/* Nonblocking listening socket with SO_REUSEADDR and TCP_NODELAY (inherited by accepted
 * sockets on Linux; the servers set it again anyway). */
static int listen_on(const char *addr) {
  char host[256];
  const char *colon = strrchr(addr, ':');
  if (!colon || colon - addr >= (long)sizeof host) {
    fprintf(stderr, "bad address '%s' (want HOST:PORT)\n", addr);
    exit(2);
  }
  size_t hl = (size_t)(colon - addr);
  memcpy(host, addr, hl);
  host[hl] = 0;
  char *h = host;
  if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
    host[hl - 1] = 0;
    h = host + 1;
  }
  struct addrinfo hints, *res;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  int rc = getaddrinfo(*h ? h : NULL, colon + 1, &hints, &res);
  if (rc != 0) {
    fprintf(stderr, "getaddrinfo(%s): %s\n", addr, gai_strerror(rc));
    exit(2);
  }
  int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) die("socket");
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (bind(fd, res->ai_addr, res->ai_addrlen) != 0) die("bind");
  if (listen(fd, 4096) != 0) die("listen");
  freeaddrinfo(res);
  return fd;
}

#endif
