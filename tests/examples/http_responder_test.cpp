// The request/response logic of examples/http_server (pipelining, keep-alive, errors), on
// strings.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "http/responder.hpp"

namespace {

struct Response {
  int status = 0;
  std::string head;
  std::string body;
};

// Splits concatenated responses, using Content-Length (and no body for HEAD when asked).
std::vector<Response> split(std::string out, bool head_only = false) {
  std::vector<Response> rs;
  while (!out.empty()) {
    Response r;
    size_t end = out.find("\r\n\r\n");
    if (end == std::string::npos) {
      ADD_FAILURE() << "unterminated response head: " << out;
      break;
    }
    r.head = out.substr(0, end + 4);
    r.status = std::stoi(r.head.substr(9, 3));
    size_t cl = r.head.find("Content-Length: ");
    size_t len = cl == std::string::npos ? 0 : std::stoul(r.head.substr(cl + 16));
    if (head_only) len = 0;
    r.body = out.substr(end + 4, len);
    out.erase(0, end + 4 + len);
    rs.push_back(r);
  }
  return rs;
}

const std::string kGet = "GET / HTTP/1.1\r\nHost: h\r\n\r\n";

TEST(HttpResponder, HelloWorld) {
  std::string out;
  auto p = http::respond(kGet, out);
  EXPECT_EQ(p.consumed, kGet.size());
  EXPECT_FALSE(p.close);
  auto rs = split(out);
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].status, 200);
  EXPECT_EQ(rs[0].body, "Hello, World!\n");
  EXPECT_NE(rs[0].head.find("Content-Length: 14\r\n"), std::string::npos);
  EXPECT_NE(rs[0].head.find("Date: "), std::string::npos);
  EXPECT_EQ(rs[0].head.find("Connection:"), std::string::npos);
}

TEST(HttpResponder, AnswersPipelinedRequestsInOrder) {
  std::string in = kGet + "GET /missing HTTP/1.1\r\nHost: h\r\n\r\n" + kGet;
  std::string out;
  auto p = http::respond(in, out);
  EXPECT_EQ(p.consumed, in.size());
  EXPECT_FALSE(p.close);
  auto rs = split(out);
  ASSERT_EQ(rs.size(), 3u);
  EXPECT_EQ(rs[0].status, 200);
  EXPECT_EQ(rs[1].status, 404);
  EXPECT_EQ(rs[2].status, 200);
}

TEST(HttpResponder, LeavesAnIncompleteRequestForLater) {
  std::string partial = "GET / HTTP/1.1\r\nHo";
  std::string out;
  auto p = http::respond(kGet + partial, out);
  EXPECT_EQ(p.consumed, kGet.size());
  EXPECT_FALSE(p.close);
  EXPECT_EQ(split(out).size(), 1u);
}

TEST(HttpResponder, ConnectionCloseStopsAfterThatRequest) {
  std::string in = "GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n" + kGet;
  std::string out;
  auto p = http::respond(in, out);
  EXPECT_TRUE(p.close);
  auto rs = split(out);
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_NE(rs[0].head.find("Connection: close\r\n"), std::string::npos);
}

TEST(HttpResponder, Http10ClosesUnlessKeepAlive) {
  std::string out;
  EXPECT_TRUE(http::respond("GET / HTTP/1.0\r\n\r\n", out).close);
  EXPECT_NE(out.find("Connection: close\r\n"), std::string::npos);

  out.clear();
  EXPECT_FALSE(http::respond("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", out).close);
  EXPECT_NE(out.find("Connection: keep-alive\r\n"), std::string::npos);
}

TEST(HttpResponder, HeadHasTheLengthButNoBody) {
  std::string out;
  http::respond("HEAD / HTTP/1.1\r\nHost: h\r\n\r\n", out);
  auto rs = split(out, /*head_only=*/true);
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].status, 200);
  EXPECT_NE(rs[0].head.find("Content-Length: 14\r\n"), std::string::npos);
  EXPECT_TRUE(out.ends_with("\r\n\r\n"));
}

TEST(HttpResponder, OtherMethodsGet405AndTheirBodyIsSkipped) {
  std::string in = "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 12\r\n\r\nGET / HTTP/1" + kGet;
  std::string out;
  auto p = http::respond(in, out);
  EXPECT_EQ(p.consumed, in.size());
  EXPECT_FALSE(p.close);
  auto rs = split(out);
  ASSERT_EQ(rs.size(), 2u);
  EXPECT_EQ(rs[0].status, 405);
  EXPECT_NE(rs[0].head.find("Allow: GET, HEAD\r\n"), std::string::npos);
  EXPECT_EQ(rs[1].status, 200);
}

TEST(HttpResponder, MalformedRequestGets400AndCloses) {
  std::string in = kGet + "BROKEN\r\n\r\n" + kGet;
  std::string out;
  auto p = http::respond(in, out);
  EXPECT_TRUE(p.close);
  auto rs = split(out);
  ASSERT_EQ(rs.size(), 2u);
  EXPECT_EQ(rs[0].status, 200);
  EXPECT_EQ(rs[1].status, 400);
  EXPECT_NE(rs[1].head.find("Connection: close\r\n"), std::string::npos);
}

TEST(HttpResponder, OversizedHeadGets400) {
  std::string in = "GET / HTTP/1.1\r\nHost: h\r\nX: " + std::string(9000, 'x');
  std::string out;
  auto p = http::respond(in, out);
  EXPECT_TRUE(p.close);
  auto rs = split(out);
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].status, 400);
}

}  // namespace

namespace {

// The server's loop over respond(): input arrives in pieces, unanswered bytes are kept.
std::string serve_in_pieces(const std::string& input, std::mt19937& rng, bool& closed) {
  std::string pending, out;
  closed = false;
  size_t at = 0;
  while (at < input.size() && !closed) {
    size_t n = std::min<size_t>(input.size() - at, 1 + rng() % 40);
    pending.append(input, at, n);
    at += n;
    auto p = http::respond(pending, out);
    pending.erase(0, p.consumed);
    closed = p.close;
  }
  return out;
}

std::string without_dates(std::string s) {
  for (size_t at; (at = s.find("Date: ")) != std::string::npos;)
    s.erase(at, s.find("\r\n", at) - at + 2);
  return s;
}

TEST(HttpResponder, AnswersDoNotDependOnHowBytesArrive) {
  std::string input;
  for (int i = 0; i < 50; ++i) {
    input += i % 3 == 0   ? "GET / HTTP/1.1\r\nHost: h\r\n\r\n"
             : i % 3 == 1 ? "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc"
                          : "GET /missing HTTP/1.1\r\nHost: h\r\n\r\n";
  }
  std::string whole;
  http::respond(input, whole);
  std::mt19937 rng(42);
  for (int round = 0; round < 20; ++round) {
    bool closed = true;
    EXPECT_EQ(without_dates(serve_in_pieces(input, rng, closed)), without_dates(whole));
    EXPECT_FALSE(closed);
  }
}

TEST(HttpResponder, SurvivesMangledInput) {
  const std::string valid =
      "GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nokGET / HTTP/1.0\r\n\r\n";
  std::mt19937 rng(7);
  const char alphabet[] = "\r\n :/GETHP1.0\t\x01\x80" "Content-Length0123456789";
  for (int round = 0; round < 2000; ++round) {
    std::string input = valid;
    for (int edits = 1 + rng() % 4; edits > 0; --edits) {
      size_t at = rng() % input.size();
      input[at] = alphabet[rng() % (sizeof alphabet - 1)];
    }
    bool closed = false;
    std::string out = serve_in_pieces(input, rng, closed);
    // Whatever came in, every answer is a complete HTTP/1.1 response.
    EXPECT_TRUE(out.empty() || out.starts_with("HTTP/1.1 ")) << input;
    EXPECT_TRUE(out.empty() || out.ends_with("\n")) << input;  // bodies end in a newline
  }
}

// RFC 9112 §3.2.2: a server must accept a target in absolute form (what proxies forward).
TEST(HttpResponder, AbsoluteFormTargetsAreTheirPath) {
  for (const char* target : {"http://h/", "http://h", "HTTP://h:8080?q=1", "http://h/?x",
                             "http://h?to=/x", "svn+ssh.1-x://u@h/"}) {
    std::string out;
    http::respond(std::string("GET ") + target + " HTTP/1.1\r\nHost: h\r\n\r\n", out);
    auto rs = split(out);
    ASSERT_EQ(rs.size(), 1u) << target;
    EXPECT_EQ(rs[0].status, 200) << target;
  }
  std::string out;
  http::respond("GET http://h/missing HTTP/1.1\r\nHost: h\r\n\r\n", out);
  EXPECT_EQ(split(out).at(0).status, 404);
}

// OPTIONS * and CONNECT host:port are well formed but not served, like any method but GET and
// HEAD: 405, and the connection stays usable.
TEST(HttpResponder, AsteriskAndAuthorityFormsGet405) {
  std::string in = "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n"
                   "CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n" +
                   kGet;
  std::string out;
  auto p = http::respond(in, out);
  EXPECT_EQ(p.consumed, in.size());
  EXPECT_FALSE(p.close);
  auto rs = split(out);
  ASSERT_EQ(rs.size(), 3u);
  EXPECT_EQ(rs[0].status, 405);
  EXPECT_NE(rs[0].head.find("Allow: GET, HEAD\r\n"), std::string::npos);
  EXPECT_EQ(rs[1].status, 405);
  EXPECT_EQ(rs[2].status, 200);
}

// A client that sent `Expect: 100-continue` waits for "100 Continue" before its body: sent once,
// while the body has not arrived; the request is answered when it has.
TEST(HttpResponder, ExpectContinueGetsOneInterimResponse) {
  const std::string head =
      "GET / HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\nContent-Length: 3\r\n\r\n";
  bool continue_sent = false;
  std::string out;
  auto p = http::respond(head, out, continue_sent);
  EXPECT_EQ(out, "HTTP/1.1 100 Continue\r\n\r\n");
  EXPECT_EQ(p.consumed, 0u);
  EXPECT_FALSE(p.close);
  EXPECT_TRUE(continue_sent);

  out.clear();
  http::respond(head + "a", out, continue_sent);  // part of the body: nothing more to say
  EXPECT_EQ(out, "");

  out.clear();
  p = http::respond(head + "abc" + kGet, out, continue_sent);
  EXPECT_EQ(p.consumed, head.size() + 3 + kGet.size());
  auto rs = split(out);
  ASSERT_EQ(rs.size(), 2u);
  EXPECT_EQ(rs[0].status, 200);
  EXPECT_EQ(rs[1].status, 200);
  EXPECT_FALSE(continue_sent);  // the next request gets its own
}

TEST(HttpResponder, ExpectContinueForARefusedRequestGetsTheFinalAnswer) {
  bool continue_sent = false;
  std::string out;
  auto p = http::respond(
      "POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 9\r\n\r\n", out,
      continue_sent);
  EXPECT_TRUE(p.close);  // the body will not come: the connection cannot be reused
  auto rs = split(out);
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].status, 405);
  EXPECT_FALSE(continue_sent);
}

// Requests the parser refuses before their body get that answer, never a 100 Continue.
TEST(HttpResponder, ExpectContinueForAnUnreadableBodyGetsTheErrorAtOnce) {
  const std::string expect = "POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n";
  for (auto [framing, status] : {std::pair{"Content-Length: 1048577\r\n", 413},
                                 std::pair{"Transfer-Encoding: chunked\r\n", 501}}) {
    bool continue_sent = false;
    std::string out;
    auto p = http::respond(expect + framing + "\r\n", out, continue_sent);
    EXPECT_TRUE(p.close) << status;
    auto rs = split(out);
    ASSERT_EQ(rs.size(), 1u) << status;
    EXPECT_EQ(rs[0].status, status);
    EXPECT_FALSE(continue_sent);
  }
}

// No body announced, or all of it already here: nothing to wait for, so no interim response.
TEST(HttpResponder, ExpectContinueWithoutABodyToWaitForIsAnsweredDirectly) {
  for (std::string body : {"", "Content-Length: 0\r\n\r\n", "Content-Length: 2\r\n\r\nok"}) {
    if (body.empty()) body = "\r\n";
    bool continue_sent = false;
    std::string out;
    http::respond("GET / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n" + body, out,
                  continue_sent);
    auto rs = split(out);
    ASSERT_EQ(rs.size(), 1u) << body;
    EXPECT_EQ(rs[0].status, 200) << body;
    EXPECT_FALSE(continue_sent);
  }
}

TEST(HttpResponder, UnknownExpectationsAre417AndHttp10IgnoresThem) {
  std::string out;
  auto p = http::respond("GET / HTTP/1.1\r\nHost: h\r\nExpect: teapot\r\n\r\n", out);
  EXPECT_TRUE(p.close);
  EXPECT_EQ(split(out).at(0).status, 417);

  // RFC 9110 §10.1.1: an HTTP/1.0 request's expectation is ignored.
  out.clear();
  p = http::respond("GET / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n", out);
  EXPECT_EQ(out, "");  // waits for the body, no interim response
  out.clear();
  http::respond("GET / HTTP/1.0\r\nExpect: teapot\r\n\r\n", out);
  EXPECT_EQ(split(out).at(0).status, 200);
}

// Expect is a list, and may come as several lines (RFC 9110 §5.3, §10.1.1): every element of
// every line counts. Before, only the first line was read, as one value.
TEST(HttpResponder, EveryExpectationOfEveryExpectLineCounts) {
  const std::string get = "GET / HTTP/1.1\r\nHost: h\r\n";
  for (std::string fields : {"Expect: 100-continue\r\nExpect: teapot\r\n",
                             "Expect: 100-continue, teapot\r\n", "Expect: teapot,\r\n"}) {
    std::string out;
    auto p = http::respond(get + fields + "Content-Length: 1\r\n\r\n", out);
    EXPECT_TRUE(p.close) << fields;
    EXPECT_EQ(split(out).at(0).status, 417) << fields;
  }
  for (std::string fields : {"Expect: 100-continue\r\nExpect: 100-CONTINUE\r\n",
                             "Expect: , 100-continue ,\r\n", "Expect:\r\nExpect: 100-continue\r\n"}) {
    bool continue_sent = false;
    std::string out;
    auto p = http::respond(get + fields + "Content-Length: 1\r\n\r\n", out, continue_sent);
    EXPECT_EQ(out, "HTTP/1.1 100 Continue\r\n\r\n") << fields;  // once
    EXPECT_FALSE(p.close) << fields;
  }
  // An empty list expects nothing.
  std::string out;
  http::respond(get + "Expect: \r\n\r\n", out);
  EXPECT_EQ(split(out).at(0).status, 200);
}

}  // namespace
