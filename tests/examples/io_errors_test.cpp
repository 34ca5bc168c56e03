// The example servers' report of unexpected I/O failures (examples/common/io_errors).
#include <cerrno>
#include <string>
#include <system_error>

#include <gtest/gtest.h>

#include "common/io_errors.hpp"
#include "gort/net/conn.hpp"

namespace {

using gort::net::Errc;

std::error_code errno_code(int e) { return {e, std::generic_category()}; }

// What a server meets in normal life is not reported; anything else is.
TEST(IoErrors, PeersGoingAwayAndOwnClosesAreExpected) {
  for (std::error_code ec : {std::error_code{}, make_error_code(Errc::closed),
                             make_error_code(Errc::eof), errno_code(ECONNRESET), errno_code(EPIPE),
                             errno_code(ECONNABORTED), errno_code(ETIMEDOUT), errno_code(ENOTCONN)}) {
    EXPECT_TRUE(examples::is_expected_io_error(ec)) << ec.message();
    EXPECT_FALSE(examples::report_io_error("test", gort::net::Conn{}, "read", ec)) << ec.message();
  }
  for (int e : {EBADF, EFAULT, ENOMEM, EINVAL, ENOBUFS, EIO}) {
    EXPECT_FALSE(examples::is_expected_io_error(errno_code(e))) << e;
  }
}

// The first ten unexpected failures are printed with the operation and the error, then one at
// each power of two with the running count: a storm cannot flood the log.
TEST(IoErrors, UnexpectedFailuresAreReportedWithoutFloodingTheLog) {
  testing::internal::CaptureStderr();
  int printed = 0;
  for (int i = 0; i < 40; ++i) {
    printed += examples::report_io_error("test", gort::net::Conn{}, "write", errno_code(ENOMEM));
  }
  const std::string log = testing::internal::GetCapturedStderr();
  EXPECT_EQ(printed, 12);  // 1..10, 16, 32
  EXPECT_NE(log.find("test: write on the connection from an unknown peer failed: "),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("(generic:12)"), std::string::npos) << log;
  EXPECT_NE(log.find("[32 unexpected I/O errors so far]"), std::string::npos) << log;
}

}  // namespace
