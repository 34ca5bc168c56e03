// The HTTP/1.x request parser of examples/http_server, on strings.
#include <gtest/gtest.h>

#include <ostream>
#include <string>

#include "http/request_parser.hpp"

namespace {

using http::parse_request;
using http::ParseStatus;

const std::string kGet =
    "GET /index.html?x=1 HTTP/1.1\r\nHost: example.com\r\nX-Thing:  spaced  \r\n\r\n";

TEST(HttpParser, ParsesASimpleGet) {
  auto r = parse_request(kGet);
  ASSERT_EQ(r.status, ParseStatus::complete);
  EXPECT_EQ(r.request.method, "GET");
  EXPECT_EQ(r.request.target, "/index.html?x=1");
  EXPECT_EQ(r.request.minor_version, 1);
  EXPECT_TRUE(r.request.keep_alive);
  EXPECT_EQ(r.request.size, kGet.size());
  EXPECT_TRUE(r.request.body.empty());
}

TEST(HttpParser, FindsHeadersCaseInsensitivelyAndTrimmed) {
  auto r = parse_request(kGet);
  ASSERT_EQ(r.status, ParseStatus::complete);
  EXPECT_EQ(r.request.header("host"), "example.com");
  EXPECT_EQ(r.request.header("x-thing"), "spaced");
  EXPECT_FALSE(r.request.header("missing").has_value());
}

TEST(HttpParser, EveryPrefixIsIncomplete) {
  std::string req = "POST /submit HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello";
  for (size_t n = 0; n < req.size(); ++n) {
    EXPECT_EQ(parse_request(req.substr(0, n)).status, ParseStatus::incomplete) << "prefix " << n;
  }
  auto r = parse_request(req);
  ASSERT_EQ(r.status, ParseStatus::complete);
  EXPECT_EQ(r.request.body, "hello");
  EXPECT_EQ(r.request.size, req.size());
}

TEST(HttpParser, PipelinedRequestsParseOneAfterAnother) {
  std::string second = "GET /two HTTP/1.1\r\nHost: h\r\n\r\n";
  std::string buf = kGet + second + "GET /thr";
  auto a = parse_request(buf);
  ASSERT_EQ(a.status, ParseStatus::complete);
  EXPECT_EQ(a.request.size, kGet.size());
  auto b = parse_request(std::string_view(buf).substr(a.request.size));
  ASSERT_EQ(b.status, ParseStatus::complete);
  EXPECT_EQ(b.request.target, "/two");
  auto c = parse_request(std::string_view(buf).substr(a.request.size + b.request.size));
  EXPECT_EQ(c.status, ParseStatus::incomplete);
}

TEST(HttpParser, AcceptsBareLineFeedsAndLeadingEmptyLines) {
  auto r = parse_request("\r\n\nGET / HTTP/1.1\nHost: h\n\n");
  ASSERT_EQ(r.status, ParseStatus::complete);
  EXPECT_EQ(r.request.target, "/");
  EXPECT_EQ(r.request.header("Host"), "h");
}

TEST(HttpParser, ConnectionSemanticsFollowTheVersion) {
  auto v10 = parse_request("GET / HTTP/1.0\r\n\r\n");
  ASSERT_EQ(v10.status, ParseStatus::complete);
  EXPECT_EQ(v10.request.minor_version, 0);
  EXPECT_FALSE(v10.request.keep_alive);

  auto v10ka = parse_request("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n");
  ASSERT_EQ(v10ka.status, ParseStatus::complete);
  EXPECT_TRUE(v10ka.request.keep_alive);

  auto close = parse_request("GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, Close\r\n\r\n");
  ASSERT_EQ(close.status, ParseStatus::complete);
  EXPECT_FALSE(close.request.keep_alive);
}

TEST(HttpParser, SameContentLengthTwiceIsAccepted) {
  auto r = parse_request(
      "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\ncontent-length: 2\r\n\r\nok");
  ASSERT_EQ(r.status, ParseStatus::complete);
  EXPECT_EQ(r.request.body, "ok");
}

struct Bad {
  const char* name;
  std::string input;
  int status;
};

// Names the case in test listings (ctest shows ".../garbage" rather than a byte dump).
void PrintTo(const Bad& b, std::ostream* os) { *os << b.name; }

class HttpParserRejects : public ::testing::TestWithParam<Bad> {};

TEST_P(HttpParserRejects, WithTheRightStatus) {
  auto r = parse_request(GetParam().input);
  ASSERT_EQ(r.status, ParseStatus::error) << GetParam().name;
  EXPECT_EQ(r.error_status, GetParam().status) << GetParam().name;
  EXPECT_FALSE(r.reason.empty());
}

const std::string kHost = "Host: h\r\n";

INSTANTIATE_TEST_SUITE_P(
    Malformed, HttpParserRejects,
    ::testing::Values(
        Bad{"garbage", "GARBAGE\r\n\r\n", 400}, Bad{"no_version", "GET /\r\n\r\n", 400},
        Bad{"double_space", "GET  / HTTP/1.1\r\n" + kHost + "\r\n", 400},
        Bad{"trailing_space", "GET / HTTP/1.1 \r\n" + kHost + "\r\n", 400},
        Bad{"bad_version", "GET / HTTP/1.1x\r\n" + kHost + "\r\n", 400},
        Bad{"bad_protocol", "GET / HTTQ/1.1\r\n" + kHost + "\r\n", 400},
        Bad{"bad_method", "G@T / HTTP/1.1\r\n" + kHost + "\r\n", 400},
        Bad{"control_in_target", "GET /a\x01 HTTP/1.1\r\n" + kHost + "\r\n", 400},
        Bad{"bare_cr_in_request_line", "GET / HTTP/1.1\r\r\n" + kHost + "\r\n", 400},
        Bad{"space_before_colon", "GET / HTTP/1.1\r\nHost : h\r\n\r\n", 400},
        Bad{"no_colon", "GET / HTTP/1.1\r\n" + kHost + "NoColon\r\n\r\n", 400},
        Bad{"obs_fold", "GET / HTTP/1.1\r\n" + kHost + "X: a\r\n b\r\n\r\n", 400},
        Bad{"control_in_value", "GET / HTTP/1.1\r\n" + kHost + "X: a\x01z\r\n\r\n", 400},
        Bad{"bare_cr_in_value", "GET / HTTP/1.1\r\n" + kHost + "X: a\rb\r\n\r\n", 400},
        Bad{"length_not_a_number", "POST / HTTP/1.1\r\n" + kHost + "Content-Length: abc\r\n\r\n",
            400},
        Bad{"negative_length", "POST / HTTP/1.1\r\n" + kHost + "Content-Length: -1\r\n\r\n", 400},
        Bad{"length_list", "POST / HTTP/1.1\r\n" + kHost + "Content-Length: 1, 1\r\n\r\n", 400},
        Bad{"empty_length", "POST / HTTP/1.1\r\n" + kHost + "Content-Length:\r\n\r\n", 400},
        Bad{"conflicting_lengths",
            "POST / HTTP/1.1\r\n" + kHost + "Content-Length: 1\r\nContent-Length: 2\r\n\r\nab",
            400},
        Bad{"length_and_chunked",
            "POST / HTTP/1.1\r\n" + kHost +
                "Content-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
            400},
        Bad{"missing_host", "GET / HTTP/1.1\r\n\r\n", 400},
        Bad{"two_hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},
        Bad{"http2", "GET / HTTP/2.0\r\n" + kHost + "\r\n", 505},
        Bad{"chunked", "POST / HTTP/1.1\r\n" + kHost + "Transfer-Encoding: chunked\r\n\r\n", 501},
        Bad{"body_too_large", "POST / HTTP/1.1\r\n" + kHost + "Content-Length: 1048577\r\n\r\n",
            413},
        // RFC 9112 §3.2: asterisk-form is OPTIONS's alone, authority-form CONNECT's alone
        // ("GET h:80" is not refused: it reads as an absolute URI of scheme "h").
        Bad{"asterisk_not_options", "GET * HTTP/1.1\r\n" + kHost + "\r\n", 400},
        Bad{"connect_origin_form", "CONNECT / HTTP/1.1\r\n" + kHost + "\r\n", 400},
        Bad{"connect_no_port", "CONNECT h HTTP/1.1\r\n" + kHost + "\r\n", 400},
        Bad{"relative_target", "GET a/b HTTP/1.1\r\n" + kHost + "\r\n", 400},
        Bad{"empty_scheme", "GET ://h/ HTTP/1.1\r\n" + kHost + "\r\n", 400},
        Bad{"length_overflows",
            "POST / HTTP/1.1\r\n" + kHost + "Content-Length: 99999999999999999999999999\r\n\r\n",
            413}));

TEST(HttpParser, HeadOverTheLimitIsRejectedBeforeItEnds) {
  std::string req = "GET / HTTP/1.1\r\nHost: h\r\nX-Big: " + std::string(http::kMaxHeadBytes, 'a');
  auto r = parse_request(req);
  ASSERT_EQ(r.status, ParseStatus::error);
  EXPECT_EQ(r.error_status, 400);
}

TEST(HttpParser, CompleteHeadOverTheLimitIsRejected) {
  std::string req = "GET / HTTP/1.1\r\nHost: h\r\n";
  while (req.size() <= http::kMaxHeadBytes) req += "X-Filler: " + std::string(100, 'f') + "\r\n";
  req += "\r\n";
  auto r = parse_request(req);
  ASSERT_EQ(r.status, ParseStatus::error);
  EXPECT_EQ(r.error_status, 400);
}

TEST(HttpParser, RequestLineWithoutEndIsRejectedAtTheLimit) {
  std::string line = "GET /" + std::string(http::kMaxHeadBytes, 'p');
  EXPECT_EQ(parse_request(line).status, ParseStatus::error);
  EXPECT_EQ(parse_request(line.substr(0, 100)).status, ParseStatus::incomplete);
}

TEST(HttpParser, HeadJustUnderTheLimitIsAccepted) {
  std::string req = "GET / HTTP/1.1\r\nHost: h\r\nX-Pad: ";
  req += std::string(http::kMaxHeadBytes - req.size() - 4, 'p');
  req += "\r\n\r\n";
  ASSERT_EQ(req.size(), http::kMaxHeadBytes);
  EXPECT_EQ(parse_request(req).status, ParseStatus::complete);
}

TEST(HttpParser, LargestBodyIsAccepted) {
  std::string req =
      "PUT / HTTP/1.1\r\nHost: h\r\nContent-Length: " + std::to_string(http::kMaxBodyBytes) +
      "\r\n\r\n";
  EXPECT_EQ(parse_request(req).status, ParseStatus::incomplete);
  req += std::string(http::kMaxBodyBytes, 'b');
  auto r = parse_request(req);
  ASSERT_EQ(r.status, ParseStatus::complete);
  EXPECT_EQ(r.request.body.size(), http::kMaxBodyBytes);
}

}  // namespace
