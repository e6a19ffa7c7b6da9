// SPDX-License-Identifier: Apache-2.0
// Tests of the s3fs passwd format, read as s3fs 1.90 reads it.
#include "consumers/s3fs.hpp"
#include "support.hpp"

#include <catch2/catch.hpp>

using namespace credrotd::consumers;
using credrotd::consumers::test::str;
using credrotd::core::Secret;

namespace {

const std::string k_a = "11111111111111111111111111111111";
const std::string k_s = "22222222222222222222222222222222";

std::string render(std::string_view content, std::string bucket = "")
{
  const auto out =
      s3fs::render({"/etc/passwd-s3fs", content}, {std::move(bucket)}, k_a, Secret(k_s));
  INFO(test::error_of(out));
  REQUIRE(out);
  return str(*out);
}

std::string render_error(std::string_view content, std::string bucket = "")
{
  const auto out =
      s3fs::render({"/etc/passwd-s3fs", content}, {std::move(bucket)}, k_a, Secret(k_s));
  REQUIRE_FALSE(out);
  CHECK(out.error().message.find(k_s) == std::string::npos);
  return out.error().message;
}

} // namespace

TEST_CASE("s3fs: the default line and a bucket line are rewritten separately", "[consumers][s3fs]")
{
  const std::string_view in = "# s3fs credentials\nAKDEF:SKDEF\nbackups:AKB:SKB\n";
  CHECK(render(in) == "# s3fs credentials\n" + k_a + ":" + k_s + "\nbackups:AKB:SKB\n");
  CHECK(render(in, "backups") ==
        "# s3fs credentials\nAKDEF:SKDEF\nbackups:" + k_a + ":" + k_s + "\n");
  const auto key = s3fs::read({"/f", in}, {"backups"});
  REQUIRE(key);
  CHECK((*key)->access_id == "AKB");
  // A bucket without its own line uses the default one.
  const auto fallback = s3fs::read({"/f", in}, {"photos"});
  REQUIRE(fallback);
  CHECK((*fallback)->access_id == "AKDEF");
  CHECK(render(in, "photos") == std::string(in) + "photos:" + k_a + ":" + k_s + "\n");
}

TEST_CASE("s3fs: CRLF and a missing final newline are kept", "[consumers][s3fs]")
{
  CHECK(render("AK:SK\r\nb:X:Y") == k_a + ":" + k_s + "\r\nb:X:Y");
  CHECK(render("b:X:Y") == "b:X:Y\n" + k_a + ":" + k_s);
}

TEST_CASE("s3fs: files s3fs refuses are refused with the position", "[consumers][s3fs]")
{
  CHECK(render_error("AK:SK\nb:A :S\n").starts_with("/etc/passwd-s3fs:2:4: a space or tab"));
  CHECK(render_error("[default]\nAK:SK\n")
            .starts_with("/etc/passwd-s3fs:1:1: a line starting "
                         "with '['"));
  CHECK(render_error("b:A:S\n#x\nb:C:D\n")
            .starts_with("/etc/passwd-s3fs:3:1: a second entry for "
                         "bucket b (first on line 1)"));
  CHECK(render_error("A:S\nB:T\n").find("the default (no bucket)") != std::string::npos);
  CHECK(render_error("\xEF\xBB\xBF"
                     "AK:SK\n")
            .find("byte order mark") != std::string::npos);
}

TEST_CASE("s3fs: AWSAccessKeyId= lines win over colon lines", "[consumers][s3fs]")
{
  const std::string_view in = "AWSAccessKeyId=AKKV\nAWSSecretKey=SKKV\n";
  const auto key = s3fs::read({"/f", in}, {"anything"});
  REQUIRE(key);
  CHECK((*key)->access_id == "AKKV");
  CHECK(render(in) == "AWSAccessKeyId=" + k_a + "\nAWSSecretKey=" + k_s + "\n");
  CHECK(render_error(in, "b").find("every bucket") != std::string::npos);
  CHECK(render_error("AWSAccessKeyId=AKKV\nAK:SK\n").find("must come together") !=
        std::string::npos);
}

TEST_CASE("s3fs: bucket names and permission bits", "[consumers][s3fs]")
{
  CHECK_FALSE(s3fs::check_bucket_name("a:b"));
  CHECK_FALSE(s3fs::check_bucket_name("a b"));
  CHECK_FALSE(s3fs::check_bucket_name("#b"));
  CHECK(s3fs::check_bucket_name("my-bucket.eu"));
  CHECK(s3fs::forbidden_mode_bits("/etc/passwd-s3fs") == 0137);
  CHECK(s3fs::forbidden_mode_bits("/root/.passwd-s3fs") == 0177);
  const auto created = s3fs::create({"b"}, k_a, Secret(k_s));
  REQUIRE(created);
  CHECK(str(*created) == "b:" + k_a + ":" + k_s + "\n");
}

TEST_CASE("s3fs: a bucket starting with a byte order mark is refused, not written",
          "[consumers][s3fs]")
{
  // Found by fuzz/s3fs: create() wrote "\xEF\xBB\xBFb:ACCESS:SECRET", a file read() refuses.
  const std::string bucket = std::string(text::k_bom) + "b";
  CHECK_FALSE(s3fs::check_bucket_name(bucket));
  const auto made = s3fs::create({bucket}, k_a, Secret(k_s));
  REQUIRE_FALSE(made);
  CHECK(made.error().code == credrotd::core::Errc::config);
  CHECK(s3fs::check_bucket_name("b\xEF\xBB\xBF"));
}
