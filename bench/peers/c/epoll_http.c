/* epoll_http: a hand-written single-threaded HTTP/1.1 "hello" server, the physical-limit proxy
 * of the HTTP benchmark (bench/net_compare.sh). One thread, one edge-triggered epoll set,
 * nonblocking sockets with TCP_NODELAY.
 *
 *   gcc -O2 -o epoll_http epoll_http.c && ./epoll_http --addr 127.0.0.1:9000
 *
 * GET / (and HEAD /) answer 200 "Hello, World!\n"; any other path 404, any other method 405.
 * Keep-alive is the HTTP/1.1 default ("Connection: close" closes after the answer; HTTP/1.0
 * keeps the connection only with "Connection: keep-alive"). Pipelining-safe: every complete
 * request in the input buffer is answered, in order, and all the answers to one read go out in
 * one write(). Request bodies with Content-Length are skipped; chunked request bodies get 501
 * and the connection is closed; headers over 64 KiB get 431.
 *
 * Sockets are registered once for EPOLLIN | EPOLLOUT | EPOLLET. A connection is read until it is
 * drained (EAGAIN, or a read shorter than the free buffer space: the receive queue was empty then,
 * and any later arrival raises a new edge). When the peer stops taking answers, the unsent bytes
 * are kept, parsing stops, and it resumes on EPOLLOUT.
 */
#define _GNU_SOURCE /* accept4, memmem; before any system header */

#include <fcntl.h>
#include <sys/epoll.h>
#include <time.h>

#include "net_common.h"

#define MAX_EVENTS 512
#define IN_INITIAL 4096
#define IN_MAX (64 * 1024)
#define OUT_BUF (64 * 1024)

struct conn {
  char *in;                    /* received, not yet answered */
  size_t in_len, in_cap, scan; /* scan: where to resume looking for the end of the headers */
  char *pend;                  /* answers the peer has not taken yet */
  size_t pend_len, pend_cap;
  int close_after; /* close once pend is flushed */
};

static struct conn *conns;
static size_t max_fds;
static char out[OUT_BUF];
static size_t out_len;

/* ---- canned answers ---------------------------------------------------------------------------
 */

#define DATE_FIELD "Date: Thu, 01 Jan 1970 00:00:00 GMT\r\n"
static char resp_ok[] =
    "HTTP/1.1 200 OK\r\n"
    "Server: epoll_http\r\n" DATE_FIELD
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Length: 14\r\n"
    "\r\n"
    "Hello, World!\n";
#define RESP_OK_LEN (sizeof resp_ok - 1)
#define RESP_OK_HEAD_LEN (RESP_OK_LEN - 14)
static char *date_slot; /* the 29 characters after "Date: " in resp_ok */
static time_t date_now = -1;

static void update_date(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME_COARSE, &ts);
  if (ts.tv_sec == date_now) return;
  date_now = ts.tv_sec;
  struct tm tm;
  gmtime_r(&date_now, &tm);
  char tmp[64];
  strftime(tmp, sizeof tmp, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  memcpy(date_slot, tmp, 29);
}

static const char resp_404[] =
    "HTTP/1.1 404 Not Found\r\nServer: epoll_http\r\nContent-Type: text/plain; charset=utf-8\r\n"
    "Content-Length: 10\r\n\r\nnot found\n";
static const char resp_405[] =
    "HTTP/1.1 405 Method Not Allowed\r\nServer: epoll_http\r\nAllow: GET, HEAD\r\n"
    "Content-Type: text/plain; charset=utf-8\r\nContent-Length: 19\r\n\r\nmethod not allowed\n";
static const char resp_400[] =
    "HTTP/1.1 400 Bad Request\r\nServer: epoll_http\r\nConnection: close\r\nContent-Length: "
    "0\r\n\r\n";
static const char resp_413[] =
    "HTTP/1.1 413 Payload Too Large\r\nServer: epoll_http\r\nConnection: close\r\n"
    "Content-Length: 0\r\n\r\n";
static const char resp_431[] =
    "HTTP/1.1 431 Request Header Fields Too Large\r\nServer: epoll_http\r\nConnection: close\r\n"
    "Content-Length: 0\r\n\r\n";
static const char resp_501[] =
    "HTTP/1.1 501 Not Implemented\r\nServer: epoll_http\r\nConnection: close\r\nContent-Length: "
    "0\r\n\r\n";

/* ---- output -----------------------------------------------------------------------------------
 */

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

/* Writes out[0..out_len); keeps the rest. Returns -1 on a fatal error, else 0. */
static int flush_out(int fd, struct conn *c) {
  size_t off = 0;
  while (off < out_len) {
    ssize_t w = write(fd, out + off, out_len - off);
    if (w > 0) {
      off += (size_t)w;
    } else if (w < 0 && errno == EINTR) {
      continue;
    } else if (w < 0 && errno == EAGAIN) {
      keep(c, out + off, out_len - off);
      break;
    } else {
      out_len = 0;
      return -1;
    }
  }
  out_len = 0;
  return 0;
}

static int append(int fd, struct conn *c, const char *data, size_t len) {
  if (out_len + len > OUT_BUF) {
    if (flush_out(fd, c) < 0) return -1;
    if (c->pend_len) { /* blocked: everything else queues behind */
      keep(c, data, len);
      return 0;
    }
  }
  memcpy(out + out_len, data, len);
  out_len += len;
  return 0;
}

/* ---- requests ---------------------------------------------------------------------------------
 */

static int lower(int ch) { return ch >= 'A' && ch <= 'Z' ? ch + 32 : ch; }

/* Case-insensitive: does the header line [p, e) start with the (lowercase) name followed by ':'? */
static const char *header_value(const char *p, const char *e, const char *name, size_t nlen) {
  if ((size_t)(e - p) <= nlen || p[nlen] != ':') return NULL;
  for (size_t i = 0; i < nlen; i++)
    if (lower((unsigned char)p[i]) != name[i]) return NULL;
  p += nlen + 1;
  while (p < e && (*p == ' ' || *p == '\t')) p++;
  return p;
}

static int contains_token(const char *p, const char *e, const char *tok, size_t tlen) {
  for (; p + tlen <= e; p++) {
    size_t i = 0;
    while (i < tlen && lower((unsigned char)p[i]) == tok[i]) i++;
    if (i == tlen) return 1;
  }
  return 0;
}

enum { P_OK, P_CLOSE, P_FATAL };

/* Answers every complete request in c->in. Returns P_FATAL (close now), P_CLOSE (close after
 * the answers are flushed) or P_OK. Stops early when the peer stops taking answers. */
static int process(int fd, struct conn *c) {
  size_t off = 0;
  int result = P_OK;
  while (off < c->in_len && !c->pend_len) {
    const char *base = c->in + off;
    size_t avail = c->in_len - off;
    size_t from = c->scan > off ? c->scan - off : 0;
    const char *hend = from + 4 <= avail ? memmem(base + from, avail - from, "\r\n\r\n", 4) : NULL;
    if (!hend) {
      c->scan = off + (avail >= 3 ? avail - 3 : 0);
      if (avail >= IN_MAX) {
        if (append(fd, c, resp_431, sizeof resp_431 - 1) < 0) return P_FATAL;
        result = P_CLOSE;
      }
      break;
    }
    size_t head_len = (size_t)(hend - base) + 4;

    /* request line: METHOD SP TARGET SP HTTP/1.x CRLF */
    const char *le = memchr(base, '\r', head_len);
    const char *sp1 = memchr(base, ' ', (size_t)(le - base));
    const char *sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(le - sp1 - 1)) : NULL;
    if (!sp1 || !sp2 || le - sp2 != 9 || memcmp(sp2 + 1, "HTTP/1.", 7) != 0) {
      if (append(fd, c, resp_400, sizeof resp_400 - 1) < 0) return P_FATAL;
      result = P_CLOSE;
      break;
    }
    int http10 = sp2[8] == '0';
    int keep_alive = !http10;
    size_t body = 0;
    int chunked = 0;
    for (const char *p = le + 2; p < hend;) { /* header lines */
      const char *e = memchr(p, '\r', (size_t)(hend + 2 - p));
      const char *v;
      switch (lower((unsigned char)*p)) {
        case 'c':
          if ((v = header_value(p, e, "connection", 10))) {
            if (contains_token(v, e, "close", 5))
              keep_alive = 0;
            else if (contains_token(v, e, "keep-alive", 10))
              keep_alive = 1;
          } else if ((v = header_value(p, e, "content-length", 14))) {
            body = 0;
            for (; v < e && *v >= '0' && *v <= '9'; v++) body = body * 10 + (size_t)(*v - '0');
            if (body > IN_MAX) body = IN_MAX; /* answered with 413 below */
          }
          break;
        case 't':
          if (header_value(p, e, "transfer-encoding", 17)) chunked = 1;
          break;
      }
      p = e + 2;
    }
    if (chunked) {
      if (append(fd, c, resp_501, sizeof resp_501 - 1) < 0) return P_FATAL;
      result = P_CLOSE;
      break;
    }
    if (head_len + body > IN_MAX) {
      if (append(fd, c, resp_413, sizeof resp_413 - 1) < 0) return P_FATAL;
      result = P_CLOSE;
      break;
    }
    if (head_len + body > avail) { /* the body is not all here yet */
      c->scan = off;               /* headers are complete: found again at once */
      break;
    }

    size_t mlen = (size_t)(sp1 - base), tlen = (size_t)(sp2 - sp1 - 1);
    int get = mlen == 3 && !memcmp(base, "GET", 3), head = mlen == 4 && !memcmp(base, "HEAD", 4);
    int rc;
    if (!get && !head)
      rc = append(fd, c, resp_405, sizeof resp_405 - 1);
    else if (tlen != 1 || sp1[1] != '/')
      rc = append(fd, c, resp_404, sizeof resp_404 - 1);
    else
      rc = append(fd, c, resp_ok, head ? RESP_OK_HEAD_LEN : RESP_OK_LEN);
    if (rc < 0) return P_FATAL;
    off += head_len + body;
    c->scan = off;
    if (!keep_alive) {
      result = P_CLOSE; /* answered without "Connection: close": the close itself says it */
      break;
    }
  }
  /* drop what was answered */
  if (off) {
    memmove(c->in, c->in + off, c->in_len - off);
    c->in_len -= off;
    c->scan -= off;
  }
  if (out_len && flush_out(fd, c) < 0) return P_FATAL;
  return result;
}

/* ---- connections ------------------------------------------------------------------------------
 */

static void close_conn(int fd) {
  struct conn *c = &conns[fd];
  free(c->in);
  free(c->pend);
  memset(c, 0, sizeof *c);
  close(fd);
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
    if (c->pend_len) return;
    if (c->close_after) {
      close_conn(fd);
      return;
    }
  }
  if (!c->in) {
    c->in = malloc(IN_INITIAL);
    if (!c->in) die("malloc");
    c->in_cap = IN_INITIAL;
  }
  for (;;) {
    /* requests left from an earlier round (the peer had stopped reading) come first */
    if (c->in_len == c->in_cap && c->in_cap < IN_MAX) {
      size_t cap = c->in_cap * 2 > IN_MAX ? IN_MAX : c->in_cap * 2;
      char *p = realloc(c->in, cap);
      if (!p) die("realloc");
      c->in = p;
      c->in_cap = cap;
    }
    size_t space = c->in_cap - c->in_len;
    int drained = 0;
    if (space == 0) {
      drained = 1; /* full: process() answers 431 or what is complete */
    } else {
      ssize_t n = read(fd, c->in + c->in_len, space);
      if (n > 0) {
        c->in_len += (size_t)n;
        drained = (size_t)n < space;
      } else if (n == 0) {
        close_conn(fd);
        return;
      } else if (errno == EINTR) {
        continue;
      } else if (errno == EAGAIN) {
        drained = 1;
      } else {
        close_conn(fd);
        return;
      }
    }
    int r = c->in_len ? process(fd, c) : P_OK;
    if (r == P_FATAL) {
      close_conn(fd);
      return;
    }
    if (r == P_CLOSE) {
      if (c->pend_len) {
        c->close_after = 1;
        shutdown(fd, SHUT_RD);
      } else {
        close_conn(fd);
      }
      return;
    }
    if (c->pend_len) return; /* resume on EPOLLOUT */
    if (drained) return;
  }
}

int main(int argc, char **argv) {
  const char *addr = parse_addr_arg(argc, argv, "epoll_http");
  signal(SIGPIPE, SIG_IGN);
  date_slot = strstr(resp_ok, "Date: ") + 6;
  update_date();
  max_fds = raise_nofile();
  conns = calloc(max_fds, sizeof *conns);
  if (!conns) die("calloc");

  int lfd = listen_on_procs(addr);
  int ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) die("epoll_create1");
  struct epoll_event ev = {.events = EPOLLIN | EPOLLET, .data.fd = lfd};
  if (epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) != 0) die("epoll_ctl");

  printf("epoll_http listening on %s\n", addr);
  fflush(stdout);

  struct epoll_event evs[MAX_EVENTS];
  const int one = 1;
  for (;;) {
    int n = epoll_wait(ep, evs, MAX_EVENTS, 1000); /* wakes at least once a second for Date */
    if (n < 0) {
      if (errno == EINTR) continue;
      die("epoll_wait");
    }
    update_date();
    for (int i = 0; i < n; i++) {
      int fd = evs[i].data.fd;
      if (fd != lfd) {
        on_conn(fd);
        continue;
      }
      for (;;) {
        int cfd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0) {
          if (errno == EINTR || errno == ECONNABORTED) continue;
          if (errno != EAGAIN) perror("accept4");
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
