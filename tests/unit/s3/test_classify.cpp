// SPDX-License-Identifier: Apache-2.0
// What an S3 answer says about a key: classify() and error_code().
#include "s3/verifier.hpp"

#include <catch2/catch.hpp>

#include <string>

using credrotd::core::VerifyResult;
using credrotd::s3::classify;
using credrotd::s3::error_code;

TEST_CASE("a 2xx answer accepts the key whatever the body says", "[s3]")
{
  CHECK(classify(200, "") == VerifyResult::accepted);
  CHECK(classify(204, "") == VerifyResult::accepted);
  CHECK(classify(299, "AccessDenied") == VerifyResult::accepted);
}

TEST_CASE("the S3 codes that refuse a key classify as rejected", "[s3]")
{
  for (const char* code : {"InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied",
                           "InvalidToken", "ExpiredToken"}) {
    INFO(code);
    CHECK(classify(403, code) == VerifyResult::rejected);
    CHECK(classify(400, code) == VerifyResult::rejected);
  }
  CHECK(classify(403, "") == VerifyResult::rejected); // a HEAD answer has no body
}

TEST_CASE("a skewed clock is told apart from a rejected key", "[s3]")
{
  CHECK(classify(403, "RequestTimeTooSkewed") == VerifyResult::clock_skew);
  CHECK(classify(400, "RequestTimeTooSkewed") == VerifyResult::clock_skew);
}

TEST_CASE("server errors and throttling say nothing about the key", "[s3]")
{
  CHECK(classify(500, "InternalError") == VerifyResult::unavailable);
  CHECK(classify(503, "") == VerifyResult::unavailable);
  CHECK(classify(503, "SlowDown") == VerifyResult::unavailable);
  CHECK(classify(429, "") == VerifyResult::unavailable);
  CHECK(classify(404, "NoSuchBucket") == VerifyResult::unavailable);
  CHECK(classify(401, "") == VerifyResult::unavailable);
  CHECK(classify(0, "") == VerifyResult::unavailable);
}

TEST_CASE("the error code is read from an S3 XML error body", "[s3]")
{
  CHECK(error_code("<?xml version=\"1.0\"?><Error><Code>SignatureDoesNotMatch</Code>"
                   "<Message>m</Message></Error>") == "SignatureDoesNotMatch");
  CHECK(error_code("<Error><Code>x-amz.Code_1</Code></Error>") == "x-amz.Code_1");
}

TEST_CASE("a body without a well-formed code gives no code", "[s3]")
{
  CHECK(error_code("").empty());
  CHECK(error_code("{\"error\": \"not xml\"}").empty());
  CHECK(error_code("<Error><Code>Unterminated").empty());
  CHECK(error_code("<Error><Code>two words</Code></Error>").empty());
  CHECK(error_code("<Error><Code><b>x</b></Code></Error>").empty());
  CHECK(error_code("<Error><Code>" + std::string(129, 'A') + "</Code></Error>").empty());
  CHECK(error_code("<Error><Code>" + std::string(128, 'A') + "</Code></Error>") ==
        std::string(128, 'A'));
}

TEST_CASE("only the first 64 KiB of a body are searched for the code", "[s3]")
{
  const std::string padding(64 * 1024 - 20, ' ');
  CHECK(error_code(padding + "<Code>Early</Code>") == "Early");
  CHECK(error_code(std::string(64 * 1024, ' ') + "<Code>Late</Code>").empty());
}
