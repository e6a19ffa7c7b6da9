// SPDX-License-Identifier: Apache-2.0
// The verifier's requests and outcomes against the scripted S3 stand-in on loopback.
#include "result_printer.hpp"
#include "run_awaitable.hpp"
#include "s3/verifier.hpp"
#include "stand_in.hpp"

#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>

#include <regex>

using namespace credrotd;
using core::VerifyResult;
using s3::test::Recorded;
using s3::test::s3_error;
using s3::test::Scripted;
using s3::test::StandIn;

namespace {

constexpr const char* k_access = "AKVERIFIERTEST";
constexpr const char* k_secret = "verifier-test-secret-0123456789";

struct Rig {
  explicit Rig(net::ClientOptions options = {})
  {
    options.retry.max_attempts = 1; // a scripted 503 is one answer, not four
    auto created = net::HttpClient::create(io.get_executor(), std::move(options));
    REQUIRE(created);
    client.emplace(std::move(*created));
  }

  s3::Outcome verify(s3::VerifierOptions options)
  {
    s3::Verifier verifier(*client, std::move(options));
    return testfault::run(io, verifier.verify(k_access, core::Secret(k_secret)));
  }

  s3::Outcome confirm_refused(s3::VerifierOptions options)
  {
    s3::Verifier verifier(*client, std::move(options));
    return testfault::run(io, verifier.confirm_refused(k_access, core::Secret(k_secret)));
  }

  boost::asio::io_context io;
  std::optional<net::HttpClient> client;
};

s3::VerifierOptions options_for(const StandIn& server)
{
  s3::VerifierOptions options;
  options.endpoint = server.endpoint();
  options.bucket = "backup";
  return options;
}

// Checks the shape of a SigV4 Authorization header: this key, the request's date and the
// region in the credential scope, the host and the x-amz-* headers signed, a 64-hex signature.
// (The signature's value is checked against published vectors in unit_sign.)
void check_v4_authorization(const Recorded& r, const std::string& region)
{
  const auto& authorization = r.headers.at("authorization");
  INFO(authorization);
  const auto& date = r.headers.at("x-amz-date");
  REQUIRE(date.size() == 16);
  const std::regex shape("AWS4-HMAC-SHA256 Credential=" + std::string(k_access) + "/" +
                         date.substr(0, 8) + "/" + region +
                         "/s3/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=[0-9a-f]{64}");
  std::smatch match;
  REQUIRE(std::regex_match(authorization, match, shape));
  const std::string signed_headers = ";" + match[1].str() + ";";
  for (const char* name : {";host;", ";x-amz-content-sha256;", ";x-amz-date;"}) {
    CHECK(signed_headers.find(name) != std::string::npos);
  }
}

bool mentions_secret(const Recorded& r)
{
  if (r.target.find(k_secret) != std::string::npos || r.body.find(k_secret) != std::string::npos) {
    return true;
  }
  for (const auto& [name, value] : r.headers) {
    if (value.find(k_secret) != std::string::npos) {
      return true;
    }
  }
  return false;
}

} // namespace

TEST_CASE("a ListBuckets signed with SigV4 is sent as signed and accepted on 200", "[s3]")
{
  StandIn server;
  Rig rig;
  auto options = options_for(server);
  options.region = "RegionOne";
  const auto outcome = rig.verify(options);
  CHECK(outcome.result == VerifyResult::accepted);
  CHECK(outcome.detail == "1 signed requests accepted");
  REQUIRE(outcome.steps.size() == 1);
  CHECK(outcome.steps[0].what == "SigV4 ListBuckets");
  CHECK(outcome.steps[0].status == 200);

  const auto requests = server.requests();
  REQUIRE(requests.size() == 1);
  const auto& r = requests[0];
  CHECK(r.method == "GET");
  CHECK(r.target == "/");
  CHECK(r.headers.at("host") == "127.0.0.1:" + std::to_string(server.port()));
  CHECK(r.headers.at("x-amz-content-sha256") == sign::k_empty_payload_sha256);
  check_v4_authorization(r, "RegionOne");
  CHECK_FALSE(mentions_secret(r));
}

TEST_CASE("every configured check runs with every signature version in order", "[s3]")
{
  StandIn server;
  Rig rig;
  auto options = options_for(server);
  options.signatures = {core::SignatureVersion::v2, core::SignatureVersion::v4};
  options.checks = {core::VerifyCheck::list_buckets, core::VerifyCheck::head_bucket};
  const auto outcome = rig.verify(options);
  CHECK(outcome.result == VerifyResult::accepted);
  CHECK(outcome.detail == "4 signed requests accepted");
  REQUIRE(outcome.steps.size() == 4);
  CHECK(outcome.steps[0].what == "SigV2 ListBuckets");
  CHECK(outcome.steps[1].what == "SigV2 HEAD bucket backup");
  CHECK(outcome.steps[2].what == "SigV4 ListBuckets");
  CHECK(outcome.steps[3].what == "SigV4 HEAD bucket backup");

  const auto requests = server.requests();
  REQUIRE(requests.size() == 4);
  CHECK(requests[0].method == "GET");
  CHECK(requests[0].target == "/");
  CHECK(requests[1].method == "HEAD");
  CHECK(requests[1].target == "/backup");
  CHECK(requests[0].headers.at("authorization").rfind(std::string("AWS ") + k_access + ":", 0) ==
        0);
  CHECK(requests[0].headers.count("date") == 1);
  check_v4_authorization(requests[3], "us-east-1");
  for (const auto& r : requests) {
    CHECK_FALSE(mentions_secret(r));
  }
}

TEST_CASE("the first refused request decides and stops the verification", "[s3]")
{
  StandIn server({Scripted{403, s3_error("SignatureDoesNotMatch")}});
  Rig rig;
  auto options = options_for(server);
  options.checks = {core::VerifyCheck::list_buckets, core::VerifyCheck::head_bucket};
  const auto outcome = rig.verify(options);
  CHECK(outcome.result == VerifyResult::rejected);
  REQUIRE(outcome.steps.size() == 1);
  CHECK(outcome.steps[0].status == 403);
  CHECK(outcome.steps[0].code == "SignatureDoesNotMatch");
  CHECK(outcome.detail == "SigV4 ListBuckets: 403 SignatureDoesNotMatch");
  CHECK(server.requests().size() == 1);
}

TEST_CASE("a HEAD refused without a body is a rejected key", "[s3]")
{
  StandIn server({Scripted{200, ""}, Scripted{403, ""}});
  Rig rig;
  auto options = options_for(server);
  options.checks = {core::VerifyCheck::list_buckets, core::VerifyCheck::head_bucket};
  const auto outcome = rig.verify(options);
  CHECK(outcome.result == VerifyResult::rejected);
  REQUIRE(outcome.steps.size() == 2);
  CHECK(outcome.steps[1].code.empty());
  CHECK(outcome.detail == "SigV4 HEAD bucket backup: 403");
}

TEST_CASE("RequestTimeTooSkewed is a clock problem, not a rejected key", "[s3]")
{
  StandIn server({Scripted{403, s3_error("RequestTimeTooSkewed")}});
  Rig rig;
  const auto outcome = rig.verify(options_for(server));
  CHECK(outcome.result == VerifyResult::clock_skew);
  CHECK(outcome.detail == "SigV4 ListBuckets: 403 RequestTimeTooSkewed");
}

TEST_CASE("a 503 says nothing about the key: the endpoint is unavailable", "[s3]")
{
  StandIn server({Scripted{503, s3_error("ServiceUnavailable")}});
  Rig rig;
  const auto outcome = rig.verify(options_for(server));
  CHECK(outcome.result == VerifyResult::unavailable);
  // The HTTP client turns a 5xx left after its retries into a transient error.
  CHECK(outcome.steps.at(0).status == 0);
  CHECK_THAT(outcome.detail,
             Catch::StartsWith("SigV4 ListBuckets: transient: ") && Catch::Contains("HTTP 503"));
}

TEST_CASE("an endpoint nobody listens on is unavailable with no status", "[s3]")
{
  std::uint16_t closed_port = 0;
  {
    StandIn gone;
    closed_port = gone.port();
  }
  Rig rig;
  s3::VerifierOptions options;
  options.endpoint = "http://127.0.0.1:" + std::to_string(closed_port);
  const auto outcome = rig.verify(options);
  CHECK(outcome.result == VerifyResult::unavailable);
  REQUIRE(outcome.steps.size() == 1);
  CHECK(outcome.steps[0].status == 0);
  CHECK(outcome.detail.rfind("SigV4 ListBuckets: ", 0) == 0);
}

TEST_CASE("the probe puts, reads back and deletes one object under the probe prefix", "[s3]")
{
  Scripted object_store;
  object_store.echo_last_put = true;
  StandIn server({object_store});
  Rig rig;
  auto options = options_for(server);
  options.checks = {core::VerifyCheck::probe};
  const auto outcome = rig.verify(options);
  CHECK(outcome.result == VerifyResult::accepted);
  REQUIRE(outcome.steps.size() == 3);

  const auto requests = server.requests();
  REQUIRE(requests.size() == 3);
  CHECK(requests[0].method == "PUT");
  CHECK(requests[1].method == "GET");
  CHECK(requests[2].method == "DELETE");
  const std::string prefix = std::string("/backup/.credrotd-probe/") + k_access + "-";
  CHECK(requests[0].target.rfind(prefix, 0) == 0);
  CHECK(requests[0].target.size() == prefix.size() + 16); // 8 random bytes in hex
  CHECK(requests[1].target == requests[0].target);
  CHECK(requests[2].target == requests[0].target);
  CHECK(requests[0].body.rfind("credrotd probe ", 0) == 0);
  CHECK(requests[0].headers.at("x-amz-content-sha256") == sign::sha256_hex(requests[0].body));
  CHECK(outcome.steps[0].what == "SigV4 PUT probe " + requests[0].target.substr(8));
  for (const auto& r : requests) {
    check_v4_authorization(r, "us-east-1");
  }
}

TEST_CASE("a probe object read back with other content fails as unavailable", "[s3]")
{
  StandIn server({Scripted{200, "something else"}});
  Rig rig;
  auto options = options_for(server);
  options.checks = {core::VerifyCheck::probe};
  const auto outcome = rig.verify(options);
  CHECK(outcome.result == VerifyResult::unavailable);
  REQUIRE(outcome.steps.size() == 2);
  CHECK(outcome.detail.find("(the probe object came back with different content)") !=
        std::string::npos);
}

TEST_CASE("virtual-hosted addressing puts the bucket in the host name", "[s3]")
{
  // The stand-in plays a forwarding proxy: the name s3.test never has to resolve.
  StandIn server;
  net::ClientOptions client_options;
  client_options.proxy.http_proxy = server.endpoint();
  Rig rig(client_options);
  s3::VerifierOptions options;
  options.endpoint = "http://s3.test:8080";
  options.bucket = "backup";
  options.addressing = core::Addressing::virtual_;
  options.signatures = {core::SignatureVersion::v2, core::SignatureVersion::v4};
  options.checks = {core::VerifyCheck::head_bucket};
  const auto outcome = rig.verify(options);
  CHECK(outcome.result == VerifyResult::accepted);

  const auto requests = server.requests();
  REQUIRE(requests.size() == 2);
  for (const auto& r : requests) {
    CHECK(r.method == "HEAD");
    CHECK(r.target == "http://backup.s3.test:8080/");
    CHECK(r.headers.at("host") == "backup.s3.test:8080");
  }
}

TEST_CASE("a deleted key is confirmed refused only when every signature version is refused", "[s3]")
{
  auto options_of = [](const StandIn& server) {
    auto options = options_for(server);
    options.signatures = {core::SignatureVersion::v2, core::SignatureVersion::v4};
    return options;
  };
  SECTION("refused by both")
  {
    StandIn server({Scripted{403, s3_error("InvalidAccessKeyId")}});
    Rig rig;
    const auto outcome = rig.confirm_refused(options_of(server));
    CHECK(outcome.result == VerifyResult::rejected);
    CHECK(outcome.steps.size() == 2);
    CHECK(outcome.detail == "refused: SigV4 ListBuckets: 403 InvalidAccessKeyId");
  }
  SECTION("still accepted with SigV4 (a cache kept it alive)")
  {
    StandIn server({Scripted{403, s3_error("InvalidAccessKeyId")}, Scripted{200, ""}});
    Rig rig;
    const auto outcome = rig.confirm_refused(options_of(server));
    CHECK(outcome.result == VerifyResult::accepted);
    CHECK(outcome.steps.size() == 2);
    CHECK(outcome.detail == "SigV4 ListBuckets: 200");
  }
}
