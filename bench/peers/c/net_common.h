/* Shared helpers of the hand-written epoll peers (epoll_echo.c, epoll_http.c): argument
 * parsing, the listening socket, the fd limit. Header-only; each server is one translation unit:
 *
 *   gcc -O2 -o epoll_echo epoll_echo.c      (the harness, bench/net_compare.sh, does this)
 *
 * "--procs N" runs N copies of the loop, each a process with its own SO_REUSEPORT listener (the
 * kernel spreads connections over them by hash), sharing nothing: what N independent cores can
 * do on this machine, the yardstick for a multi-threaded server's "per core" figure.
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
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

static void die(const char *what) {
  fprintf(stderr, "%s: %s\n", what, strerror(errno));
  exit(1);
}

static int server_procs = 1; /* --procs */

/* "--addr HOST:PORT" (or "-addr"); HOST may be empty (all interfaces) or "[v6]".
 * "--procs N": N processes (1..64). */
static const char *parse_addr_arg(int argc, char **argv, const char *prog) {
  const char *addr = "127.0.0.1:9000";
  for (int i = 1; i < argc; i++) {
    if ((!strcmp(argv[i], "--addr") || !strcmp(argv[i], "-addr")) && i + 1 < argc) {
      addr = argv[++i];
    } else if (!strncmp(argv[i], "--addr=", 7)) {
      addr = argv[i] + 7;
    } else if (!strcmp(argv[i], "--procs") && i + 1 < argc) {
      server_procs = atoi(argv[++i]);
      if (server_procs < 1 || server_procs > 64) {
        fprintf(stderr, "%s: --procs wants 1..64\n", prog);
        exit(2);
      }
    } else {
      fprintf(stderr, "usage: %s [--addr HOST:PORT] [--procs N]\n", prog);
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
  if (server_procs > 1 && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
    die("SO_REUSEPORT");
  }
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (bind(fd, res->ai_addr, res->ai_addrlen) != 0) die("bind");
  if (listen(fd, 4096) != 0) die("listen");
  freeaddrinfo(res);
  return fd;
}

/* The listener of this process. With --procs N: N listeners on the same address
 * (SO_REUSEPORT), all listening before any process serves, then N-1 forked copies of the
 * caller, each keeping one of them. A copy ends with its parent (PR_SET_PDEATHSIG), so
 * stopping the first process stops them all. */
static int listen_on_procs(const char *addr) {
  int fds[64];
  for (int i = 0; i < server_procs; i++) fds[i] = listen_on(addr);
  const pid_t parent = getpid();
  int mine = 0;
  for (int i = 1; i < server_procs; i++) {
    const pid_t pid = fork();
    if (pid < 0) die("fork");
    if (pid == 0) {
      prctl(PR_SET_PDEATHSIG, SIGTERM);
      if (getppid() != parent) exit(0); /* the parent is already gone */
      mine = i;
      break;
    }
  }
  for (int i = 0; i < server_procs; i++) {
    if (i != mine) close(fds[i]);
  }
  return fds[mine];
}

#endif
