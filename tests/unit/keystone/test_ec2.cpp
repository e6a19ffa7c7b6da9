// SPDX-License-Identifier: Apache-2.0
// EC2 credential documents of both APIs, key generation and Keystone's credential ids.
#include "keystone/ec2.hpp"
#include "result_printer.hpp"

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include <set>

using credrotd::core::Errc;
using credrotd::core::Secret;
using namespace credrotd::keystone;

TEST_CASE("generated EC2 keys are 32 lower-case hex characters and differ", "[keystone]")
{
  std::set<std::string> seen;
  for (int i = 0; i < 50; ++i) {
    auto key = generate_ec2_key();
    REQUIRE(key);
    for (const std::string_view text : {std::string_view(key->access), key->secret.reveal()}) {
      CHECK(text.size() == 32);
      CHECK(text.find_first_not_of("0123456789abcdef") == std::string_view::npos);
    }
    CHECK(key->access != key->secret.reveal());
    seen.insert(key->access);
    seen.insert(std::string(key->secret.reveal()));
  }
  CHECK(seen.size() == 100);
}

TEST_CASE("the credential id is the hex sha256 of the access id", "[keystone]")
{
  CHECK(credential_id_for("abc") ==
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST_CASE("a /v3/credentials create body carries the blob as a JSON string", "[keystone]")
{
  Ec2Key key{"0123456789abcdef0123456789abcdef", Secret("fedcba9876543210fedcba9876543210")};
  const auto body = credential_create_body("u-1", "p-1", key);
  const auto doc = boost::json::parse(std::string_view(body.data(), body.size()));
  const auto& credential = doc.at("credential");
  CHECK(credential.at("type").as_string() == "ec2");
  CHECK(credential.at("user_id").as_string() == "u-1");
  CHECK(credential.at("project_id").as_string() == "p-1");
  const auto blob = boost::json::parse(credential.at("blob").as_string());
  CHECK(blob.at("access").as_string() == key.access);
  CHECK(blob.at("secret").as_string() == key.secret.reveal());
  CHECK(boost::json::parse(os_ec2_create_body("p-1")).at("tenant_id").as_string() == "p-1");
}

TEST_CASE("a /v3/credentials list keeps ec2 entries and reads their blobs", "[keystone]")
{
  // As Keystone 22 answers GET /v3/credentials?type=ec2 (an admin sees other users' too).
  const char* body = R"({"credentials": [
    {"user_id": "u-1", "project_id": "p-1", "type": "ec2", "id": "id-1",
     "blob": "{\"access\": \"a1\", \"secret\": \"s1\", \"trust_id\": null}",
     "links": {"self": "http://x/v3/credentials/id-1"}},
    {"user_id": "u-2", "project_id": "p-1", "type": "totp", "id": "id-2", "blob": "xyz"},
    {"user_id": "u-3", "project_id": "p-2", "type": "ec2", "id": "id-3",
     "blob": "{\"access\": \"a3\", \"secret\": \"s3\", \"app_cred_id\": \"ac\"}"}],
    "links": {"self": "http://x/v3/credentials", "previous": null, "next": null}})";
  const auto list = parse_credentials_list(body);
  REQUIRE(list);
  REQUIRE(list->size() == 2);
  CHECK((*list)[0].access == "a1");
  CHECK((*list)[0].secret.reveal() == "s1");
  CHECK((*list)[0].user_id == "u-1");
  CHECK((*list)[0].credential_id == "id-1");
  CHECK((*list)[0].trust_id.empty());
  CHECK((*list)[1].user_id == "u-3");
  CHECK((*list)[1].project_id == "p-2");
  CHECK((*list)[1].app_cred_id == "ac");
}

TEST_CASE("an OS-EC2 list gives access, secret, project and the derived credential id",
          "[keystone]")
{
  const char* body = R"({"credentials": [
    {"user_id": "u-1", "tenant_id": "p-1", "access": "abc", "secret": "s1", "trust_id": null,
     "links": {"self": "http://x/v3/users/u-1/credentials/OS-EC2/abc"}}],
    "links": {"self": "http://x/v3/users/u-1/credentials/OS-EC2"}})";
  const auto list = parse_os_ec2_list(body);
  REQUIRE(list);
  REQUIRE(list->size() == 1);
  const auto& credential = (*list)[0];
  CHECK(credential.access == "abc");
  CHECK(credential.secret.reveal() == "s1");
  CHECK(credential.project_id == "p-1");
  CHECK(credential.credential_id == credential_id_for("abc"));

  const auto one = parse_os_ec2_credential(
      R"({"credential": {"user_id": "u-1", "tenant_id": "p-1", "access": "abc", "secret": "s1"}})");
  REQUIRE(one);
  CHECK(one->access == "abc");
  CHECK(parse_os_ec2_list(R"({"credentials": []})")->empty());
}

TEST_CASE("a single /v3/credentials entry of another type is not found", "[keystone]")
{
  const auto other = parse_credential(
      R"({"credential": {"type": "cert", "id": "x", "user_id": "u", "blob": "{}"}})");
  REQUIRE_FALSE(other);
  CHECK(other.error().code == Errc::not_found);
}

TEST_CASE("garbage credential documents are protocol errors that quote nothing", "[keystone]")
{
  for (const char* body :
       {"", "{\"credentials\": [", "{\"credentials\": 5}", "{\"nothing\": []}",
        "{\"credentials\": [{\"tenant_id\": \"p\", \"secret\": \"leak-me\"}]}", "[1, 2]"}) {
    INFO(body);
    const auto list = parse_os_ec2_list(body);
    REQUIRE_FALSE(list);
    CHECK(list.error().code == Errc::protocol);
    CHECK(list.error().message.find("leak-me") == std::string::npos);
  }
  const auto bad_blob = parse_credentials_list(
      R"({"credentials": [{"type": "ec2", "blob": "{\"secret\": \"leak-me\"", "id": "x"}]})");
  REQUIRE_FALSE(bad_blob);
  CHECK(bad_blob.error().code == Errc::protocol);
  CHECK(bad_blob.error().message.find("leak-me") == std::string::npos);
}
