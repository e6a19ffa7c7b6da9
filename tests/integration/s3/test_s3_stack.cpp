// SPDX-License-Identifier: Apache-2.0
// The S3 verifier against a real S3 endpoint on the test Keystone (tests/stack): keys created
// both ways accepted with SigV2 and SigV4, refused once deleted (at once on Swift; on Ceph RGW
// only when it never cached the key) or with a wrong secret; clock skew, an unreachable endpoint
// and the bucket checks classified as they should be. $CREDROTD_S3_BACKEND picks the endpoint:
// swift (the default: Swift s3api) or rgw (Ceph RGW, stack.sh --rgw); ctest runs both.
#include "fault_process.hpp"
#include "keystone/client.hpp"
#include "result_printer.hpp"
#include "run_awaitable.hpp"
#include "s3/verifier.hpp"
#include "stack_env.hpp"

#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdlib>
#include <stdexcept>
#include <string_view>
#include <unistd.h>

using namespace std::chrono_literals;
using credrotd::core::Errc;
using credrotd::core::Secret;
using credrotd::core::SignatureVersion;
using credrotd::core::VerifyCheck;
using credrotd::core::VerifyResult;
using credrotd::net::deadline_after;
using credrotd::net::HttpClient;
using credrotd::testfault::run;
using credrotd::testsupport::stack_value;
namespace keystone = credrotd::keystone;
namespace s3 = credrotd::s3;

namespace {

enum class Backend { swift, rgw };

Backend backend()
{
  const char* name = std::getenv("CREDROTD_S3_BACKEND");
  if (name == nullptr || std::string_view(name) == "swift") {
    return Backend::swift;
  }
  if (std::string_view(name) == "rgw") {
    return Backend::rgw;
  }
  throw std::runtime_error("CREDROTD_S3_BACKEND is neither swift nor rgw");
}

// The backend's S3 endpoint and SigV4 region, from stack.env (RGW_* only with stack.sh --rgw:
// a missing key fails the test).
const std::string& s3_url()
{
  return stack_value(backend() == Backend::rgw ? "RGW_URL" : "S3_URL");
}

const std::string& s3_region()
{
  return stack_value(backend() == Backend::rgw ? "RGW_REGION" : "S3_REGION");
}

credrotd::core::CloudAuth rotator()
{
  credrotd::core::CloudAuth auth;
  auth.name = "rotator";
  auth.source = "test_s3_stack.cpp";
  auth.auth_url = stack_value("KEYSTONE_URL");
  auth.username = stack_value("ROTATOR_NAME");
  auth.user_domain_name = stack_value("DOMAIN_NAME");
  auth.project_name = stack_value("PROJECT_NAME");
  auth.project_domain_name = stack_value("DOMAIN_NAME");
  auth.password = Secret(stack_value("ROTATOR_PASSWORD"));
  return auth;
}

struct Fixture {
  Fixture()
  {
    auto client = HttpClient::create(io.get_executor(), {});
    REQUIRE(client);
    http.emplace(std::move(*client));
    ks.emplace(*http, rotator());
  }

  s3::Verifier verifier(std::vector<SignatureVersion> signatures,
                        std::vector<VerifyCheck> checks = {VerifyCheck::list_buckets},
                        std::string bucket = {}, std::chrono::milliseconds offset = {})
  {
    s3::VerifierOptions options;
    options.endpoint = s3_url();
    options.region = s3_region();
    options.signatures = std::move(signatures);
    options.checks = std::move(checks);
    options.bucket = std::move(bucket);
    options.clock_offset = offset;
    options.request_timeout = 20s;
    return s3::Verifier(*http, std::move(options));
  }

  // A new key through /v3/credentials (or OS-EC2), with its secret.
  keystone::Ec2Credential create(bool os_ec2 = false)
  {
    if (os_ec2) {
      auto made = run(io, ks->create_ec2_credential_os_ec2(deadline_after(30s)));
      REQUIRE(made);
      return std::move(*made);
    }
    auto key = keystone::generate_ec2_key();
    REQUIRE(key);
    auto made = run(io, ks->create_ec2_credential(std::move(*key), deadline_after(30s)));
    REQUIRE(made);
    return std::move(*made);
  }

  void remove(const std::string& access)
  {
    const auto deleted = run(io, ks->delete_ec2_credential(access, deadline_after(30s)));
    REQUIRE(deleted);
  }

  s3::Outcome verify(s3::Verifier& v, const std::string& access, const Secret& secret)
  {
    return run(io, v.verify(access, secret.clone()));
  }

  boost::asio::io_context io;
  std::optional<HttpClient> http;
  std::optional<keystone::Client> ks;
};

} // namespace

TEST_CASE("a key made either way is accepted with SigV2 and SigV4 and refused once deleted",
          "[integration][s3]")
{
  Fixture f;
  auto v = f.verifier({SignatureVersion::v2, SignatureVersion::v4});
  for (const bool os_ec2 : {false, true}) {
    INFO((os_ec2 ? "OS-EC2" : "/v3/credentials"));
    const auto key = f.create(os_ec2);
    const auto accepted = f.verify(v, key.access, key.secret);
    CHECK(accepted.result == VerifyResult::accepted);
    REQUIRE(accepted.steps.size() == 2);
    CHECK(accepted.steps[0].what == "SigV2 ListBuckets");
    CHECK(accepted.steps[1].what == "SigV4 ListBuckets");

    f.remove(key.access);
    const auto after = f.verify(v, key.access, key.secret);
    const auto confirmed = run(f.io, v.confirm_refused(key.access, key.secret.clone()));
    if (backend() == Backend::rgw) {
      // RGW cached the secret when it accepted the key: the deleted key keeps working until
      // that entry expires (RGW_SECRET_CACHE_SECONDS), which retire's confirmation reports.
      CHECK(after.result == VerifyResult::accepted);
      CHECK(confirmed.result == VerifyResult::accepted);
    } else {
      CHECK(after.result == VerifyResult::rejected);
      CHECK(after.steps.front().status == 403);
      CHECK(after.steps.front().code == "SignatureDoesNotMatch");
      CHECK(confirmed.result == VerifyResult::rejected);
    }
  }
}

TEST_CASE("a key deleted before its first use is refused at once", "[integration][s3]")
{
  Fixture f;
  auto v = f.verifier({SignatureVersion::v2, SignatureVersion::v4});
  const auto key = f.create();
  f.remove(key.access);
  const auto refused = f.verify(v, key.access, key.secret);
  CHECK(refused.result == VerifyResult::rejected);
  CHECK(refused.steps.front().status == 403);
  // Swift's s3token answers every failed check alike; RGW says what Keystone's 404 meant.
  CHECK(refused.steps.front().code ==
        (backend() == Backend::rgw ? "InvalidAccessKeyId" : "SignatureDoesNotMatch"));
  const auto confirmed = run(f.io, v.confirm_refused(key.access, key.secret.clone()));
  CHECK(confirmed.result == VerifyResult::rejected);
}

TEST_CASE("a wrong secret is rejected, and the message names no secret", "[integration][s3]")
{
  Fixture f;
  auto v = f.verifier({SignatureVersion::v4});
  const auto key = f.create();
  const Secret wrong("0123456789abcdef0123456789abcdef");
  const auto outcome = f.verify(v, key.access, wrong);
  CHECK(outcome.result == VerifyResult::rejected);
  CHECK(outcome.detail.find("403") != std::string::npos);
  CHECK(outcome.detail.find(std::string(key.secret.reveal())) == std::string::npos);
  CHECK(outcome.detail.find(std::string(wrong.reveal())) == std::string::npos);
  f.remove(key.access);
}

TEST_CASE("a request signed 20 minutes in the past is classified as clock skew",
          "[integration][s3]")
{
  Fixture f;
  const auto key = f.create();
  for (const auto version : {SignatureVersion::v4, SignatureVersion::v2}) {
    auto skewed = f.verifier({version}, {VerifyCheck::list_buckets}, {}, -20min);
    const auto outcome = f.verify(skewed, key.access, key.secret);
    INFO(outcome.detail);
    CHECK(outcome.result == VerifyResult::clock_skew);
    CHECK(outcome.steps.front().code == "RequestTimeTooSkewed");
  }
  f.remove(key.access);
}

TEST_CASE("HEAD bucket and the put/get/delete probe pass on the project's bucket",
          "[integration][s3]")
{
  Fixture f;
  const auto key = f.create();
  // Make the bucket with a signed PUT through the verifier's own client and signer: a probe
  // of a missing bucket must not count as a refused key.
  const std::string bucket = "credrotd-s3-test-" + key.access.substr(0, 8);
  {
    auto missing = f.verifier({SignatureVersion::v4}, {VerifyCheck::head_bucket}, bucket);
    const auto outcome = f.verify(missing, key.access, key.secret);
    CHECK(outcome.result == VerifyResult::unavailable);
    CHECK(outcome.steps.front().status == 404);
  }
  // boto3 makes the bucket; the secret goes through a 0600 file, never argv.
  char secret_file[] = "/tmp/credrotd-s3-secret-XXXXXX";
  const int fd = ::mkstemp(secret_file);
  REQUIRE(fd >= 0);
  REQUIRE(::write(fd, key.secret.reveal().data(), key.secret.size()) ==
          static_cast<ssize_t>(key.secret.size()));
  ::close(fd);
  const auto made = credrotd::testfault::run_command(
      {"/usr/bin/python3", "-c",
       "import boto3,sys; boto3.session.Session().client('s3', endpoint_url=sys.argv[1], "
       "region_name='us-east-1', aws_access_key_id=sys.argv[2], "
       "aws_secret_access_key=open(sys.argv[3]).read()).create_bucket(Bucket=sys.argv[4])",
       s3_url(), key.access, secret_file, bucket},
      {"PATH=/usr/bin:/bin", "HOME=/nonexistent", "AWS_EC2_METADATA_DISABLED=true"}, 60s);
  ::unlink(secret_file);
  REQUIRE(made.exit_code == 0);

  auto v =
      f.verifier({SignatureVersion::v2, SignatureVersion::v4},
                 {VerifyCheck::list_buckets, VerifyCheck::head_bucket, VerifyCheck::probe}, bucket);
  const auto outcome = f.verify(v, key.access, key.secret);
  INFO(outcome.detail);
  CHECK(outcome.result == VerifyResult::accepted);
  CHECK(outcome.steps.size() == 10); // per version: list, head, put, get, delete
  f.remove(key.access);
}

TEST_CASE("an endpoint that cannot be reached is unavailable, not a refused key",
          "[integration][s3]")
{
  Fixture f;
  s3::VerifierOptions options;
  options.endpoint = "http://127.0.0.1:9";
  options.request_timeout = 3s;
  s3::Verifier v(*f.http, options);
  const auto outcome = run(f.io, v.verify("AKIDNOTUSED", Secret("not used at all")));
  CHECK(outcome.result == VerifyResult::unavailable);
  CHECK(outcome.detail.find("transient") != std::string::npos);
}

// Not in the default suite (hidden: it takes ~5 minutes). Run it by hand against RGW, with
// CREDROTD_STACK_ENV=DIR/stack.env CREDROTD_S3_BACKEND=rgw in the environment:
//   build/rgw/tests/integration/s3/integration_s3 '[rgw-cache]'
TEST_CASE("RGW refuses a deleted key once its cached secret expires",
          "[.][integration][s3][rgw-cache]")
{
  REQUIRE(backend() == Backend::rgw);
  Fixture f;
  auto v = f.verifier({SignatureVersion::v4});
  const auto key = f.create();
  REQUIRE(f.verify(v, key.access, key.secret).result == VerifyResult::accepted); // cached now
  f.remove(key.access);
  const auto deleted_at = std::chrono::steady_clock::now();
  const std::chrono::seconds window{std::stoi(stack_value("RGW_SECRET_CACHE_SECONDS"))};
  s3::Outcome outcome;
  for (;;) {
    outcome = f.verify(v, key.access, key.secret);
    if (outcome.result != VerifyResult::accepted) {
      break;
    }
    REQUIRE(std::chrono::steady_clock::now() - deleted_at < window + 30s);
    ::sleep(2);
  }
  const auto after = std::chrono::duration_cast<std::chrono::seconds>(
      std::chrono::steady_clock::now() - deleted_at);
  INFO("refused " << after.count() << " s after the delete: " << outcome.detail);
  CHECK(outcome.result == VerifyResult::rejected);
  CHECK(outcome.steps.front().code == "InvalidAccessKeyId");
  CHECK(after > window - 30s); // it was the cache that kept it, not a slow Keystone
}
