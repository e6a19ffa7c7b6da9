// SPDX-License-Identifier: Apache-2.0
// EC2 credential documents of /v3/credentials and OS-EC2, and CSPRNG key generation.
#include "keystone/ec2.hpp"

#include "core/text.hpp"
#include "keystone/json.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <array>
#include <optional>

namespace credrotd::keystone {

namespace bj = boost::json;

namespace {

core::Error bad(std::string_view what, std::string_view why)
{
  return core::make_error(core::Errc::protocol,
                          "Keystone's " + std::string(what) + " " + std::string(why));
}

std::string member(const bj::object& object, std::string_view key)
{
  return std::string(json::string_member(object, key).value_or(std::string_view{}));
}

// One entry of /v3/credentials: {"id", "type", "user_id", "project_id", "blob": "<json>"}.
core::Result<std::optional<Ec2Credential>> from_credential(const bj::value& value,
                                                           std::string_view what)
{
  if (!value.is_object()) {
    return bad(what, "lists a credential that is not an object");
  }
  const auto& object = value.get_object();
  if (member(object, "type") != "ec2") {
    return std::optional<Ec2Credential>{};
  }
  const auto blob_text = json::string_member(object, "blob");
  if (!blob_text) {
    return bad(what, "has an ec2 credential without a blob");
  }
  CREDROTD_TRY_ASSIGN(const auto blob, json::parse(*blob_text, "ec2 credential blob"));
  if (!blob.is_object()) {
    return bad(what, "has an ec2 credential blob that is not an object");
  }
  const auto& blob_object = blob.get_object();
  Ec2Credential credential;
  credential.access = member(blob_object, "access");
  if (credential.access.empty()) {
    return bad(what, "has an ec2 credential without an access id");
  }
  credential.secret = core::Secret(json::string_member(blob_object, "secret").value_or(""));
  credential.trust_id = member(blob_object, "trust_id");
  credential.app_cred_id = member(blob_object, "app_cred_id");
  credential.user_id = member(object, "user_id");
  credential.project_id = member(object, "project_id");
  credential.credential_id = member(object, "id");
  if (credential.credential_id.empty()) {
    credential.credential_id = credential_id_for(credential.access);
  }
  return std::optional<Ec2Credential>{std::move(credential)};
}

// One entry of OS-EC2: {"user_id", "tenant_id", "access", "secret", "trust_id"}.
core::Result<Ec2Credential> from_os_ec2(const bj::value& value, std::string_view what)
{
  if (!value.is_object()) {
    return bad(what, "lists a credential that is not an object");
  }
  const auto& object = value.get_object();
  Ec2Credential credential;
  credential.access = member(object, "access");
  if (credential.access.empty()) {
    return bad(what, "has an EC2 credential without an access id");
  }
  credential.secret = core::Secret(json::string_member(object, "secret").value_or(""));
  credential.user_id = member(object, "user_id");
  credential.project_id = member(object, "tenant_id");
  credential.trust_id = member(object, "trust_id");
  credential.credential_id = credential_id_for(credential.access);
  return credential;
}

core::Result<const bj::value*> top_member(const bj::value& doc, std::string_view key,
                                          std::string_view what)
{
  if (!doc.is_object()) {
    return bad(what, "is not a JSON object");
  }
  const auto it = doc.get_object().find(key);
  if (it == doc.get_object().end()) {
    return bad(what, "has no \"" + std::string(key) + "\"");
  }
  return &it->value();
}

} // namespace

std::string_view to_string(Ec2Api api) noexcept
{
  return api == Ec2Api::credentials ? "/v3/credentials" : "OS-EC2";
}

core::Result<Ec2Key> generate_ec2_key()
{
  std::array<unsigned char, 16> access_bytes{};
  std::array<unsigned char, 16> secret_bytes{};
  if (RAND_bytes(access_bytes.data(), static_cast<int>(access_bytes.size())) != 1 ||
      RAND_bytes(secret_bytes.data(), static_cast<int>(secret_bytes.size())) != 1) {
    return core::make_error(core::Errc::internal,
                            "OpenSSL's random generator failed to make an EC2 key");
  }
  Ec2Key key;
  key.access = core::hex_encode(access_bytes);
  std::string secret_hex = core::hex_encode(secret_bytes); // one allocation, wiped by take()
  key.secret = core::Secret::take(secret_hex);
  core::wipe(secret_bytes.data(), secret_bytes.size());
  return key;
}

std::string credential_id_for(std::string_view access)
{
  std::array<unsigned char, 32> digest{};
  unsigned int length = 0;
  EVP_Digest(access.data(), access.size(), digest.data(), &length, EVP_sha256(), nullptr);
  return core::hex_encode(digest);
}

core::WipingString credential_create_body(std::string_view user_id, std::string_view project_id,
                                          const Ec2Key& key)
{
  const bj::storage_ptr sp = json::wiping_storage();
  bj::object blob(sp);
  blob["access"] = key.access;
  blob["secret"] = key.secret.reveal();
  const core::WipingString blob_text = json::serialize(blob);
  bj::object credential(sp);
  credential["type"] = "ec2";
  credential["user_id"] = user_id;
  credential["project_id"] = project_id;
  credential["blob"] = std::string_view(blob_text.data(), blob_text.size());
  bj::object outer(sp);
  outer["credential"] = std::move(credential);
  return json::serialize(outer);
}

std::string os_ec2_create_body(std::string_view project_id)
{
  bj::object body;
  body["tenant_id"] = project_id;
  const auto text = json::serialize(body);
  return std::string(text.data(), text.size());
}

core::Result<std::vector<Ec2Credential>> parse_credentials_list(std::string_view body)
{
  constexpr std::string_view what = "credential list (/v3/credentials)";
  CREDROTD_TRY_ASSIGN(const auto doc, json::parse(body, what));
  CREDROTD_TRY_ASSIGN(const bj::value* list, top_member(doc, "credentials", what));
  if (!list->is_array()) {
    return bad(what, "has \"credentials\" that is not an array");
  }
  std::vector<Ec2Credential> credentials;
  for (const auto& entry : list->get_array()) {
    CREDROTD_TRY_ASSIGN(auto credential, from_credential(entry, what));
    if (credential) {
      credentials.push_back(std::move(*credential));
    }
  }
  return credentials;
}

core::Result<Ec2Credential> parse_credential(std::string_view body)
{
  constexpr std::string_view what = "credential (/v3/credentials)";
  CREDROTD_TRY_ASSIGN(const auto doc, json::parse(body, what));
  CREDROTD_TRY_ASSIGN(const bj::value* entry, top_member(doc, "credential", what));
  CREDROTD_TRY_ASSIGN(auto credential, from_credential(*entry, what));
  if (!credential) {
    return core::make_error(core::Errc::not_found,
                            "that Keystone credential is not an EC2 credential");
  }
  return std::move(*credential);
}

core::Result<std::vector<Ec2Credential>> parse_os_ec2_list(std::string_view body)
{
  constexpr std::string_view what = "EC2 credential list (OS-EC2)";
  CREDROTD_TRY_ASSIGN(const auto doc, json::parse(body, what));
  CREDROTD_TRY_ASSIGN(const bj::value* list, top_member(doc, "credentials", what));
  if (!list->is_array()) {
    return bad(what, "has \"credentials\" that is not an array");
  }
  std::vector<Ec2Credential> credentials;
  for (const auto& entry : list->get_array()) {
    CREDROTD_TRY_ASSIGN(auto credential, from_os_ec2(entry, what));
    credentials.push_back(std::move(credential));
  }
  return credentials;
}

core::Result<Ec2Credential> parse_os_ec2_credential(std::string_view body)
{
  constexpr std::string_view what = "EC2 credential (OS-EC2)";
  CREDROTD_TRY_ASSIGN(const auto doc, json::parse(body, what));
  CREDROTD_TRY_ASSIGN(const bj::value* entry, top_member(doc, "credential", what));
  return from_os_ec2(*entry, what);
}

} // namespace credrotd::keystone
