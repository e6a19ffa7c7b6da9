// SPDX-License-Identifier: Apache-2.0
// Keystone and S3 calls of one profile, in the engine's terms.
#include "wiring/keystone_port.hpp"

#include <stdexcept>

namespace credrotd::wiring {

KeystoneAdapter::KeystoneAdapter(std::shared_ptr<keystone::Client> client,
                                 std::chrono::milliseconds budget)
    : m_client(std::move(client)), m_budget(budget)
{}

engine::Task<core::Result<engine::Identity>> KeystoneAdapter::identity()
{
  CREDROTD_CO_TRY_ASSIGN(const auto token,
                         co_await m_client->authenticate(net::deadline_after(m_budget)));
  co_return engine::Identity{token.user_id, token.project_id};
}

engine::Task<core::Result<std::vector<engine::KeyRecord>>> KeystoneAdapter::list_keys()
{
  CREDROTD_CO_TRY_ASSIGN(const auto credentials,
                         co_await m_client->list_ec2_credentials(net::deadline_after(m_budget)));
  std::vector<engine::KeyRecord> out;
  out.reserve(credentials.size());
  for (const auto& c : credentials) {
    out.push_back({c.access, c.user_id, c.project_id});
  }
  co_return out;
}

engine::Task<core::Result<std::optional<engine::KeyRecord>>>
KeystoneAdapter::find_key(std::string access)
{
  // One GET instead of listing every key of the user.
  auto credential = co_await m_client->get_ec2_credential(access, net::deadline_after(m_budget));
  if (!credential) {
    if (credential.error().code == core::Errc::not_found) {
      co_return std::optional<engine::KeyRecord>{};
    }
    co_return credential.error();
  }
  // Keystone shows an admin anybody's credential through its own OS-EC2 URL: another user's
  // key is not one of ours.
  const auto* token = m_client->token_info();
  if (token == nullptr || credential->user_id != token->user_id) {
    co_return std::optional<engine::KeyRecord>{};
  }
  co_return std::optional<engine::KeyRecord>{
      engine::KeyRecord{credential->access, credential->user_id, credential->project_id}};
}

engine::Task<core::Result<core::Secret>> KeystoneAdapter::secret_of(std::string access)
{
  CREDROTD_CO_TRY_ASSIGN(auto credential, co_await m_client->get_ec2_credential(
                                              access, net::deadline_after(m_budget)));
  // Keystone shows an admin anybody's credential through its own OS-EC2 URL: the owner
  // check is ours (delete_read_key relies on it).
  const auto* token = m_client->token_info();
  if (token == nullptr || credential.user_id != token->user_id) {
    co_return core::make_error(core::Errc::unsafe,
                               "EC2 credential " + access + " belongs to user " +
                                   credential.user_id + ", not to " +
                                   (token != nullptr ? token->user_id : std::string("?")) +
                                   " (credrotd uses and deletes only its own user's keys)");
  }
  co_return std::move(credential.secret);
}

engine::Task<core::Status> KeystoneAdapter::create_key(std::string access, core::Secret secret)
{
  // A named key, not a braced temporary inside the co_await: g++ 12 destroys those twice.
  keystone::Ec2Key key{std::move(access), std::move(secret)};
  CREDROTD_CO_TRY(
      co_await m_client->create_ec2_credential(std::move(key), net::deadline_after(m_budget)));
  co_return core::Status{};
}

engine::Task<core::Result<engine::NewKey>> KeystoneAdapter::create_key_os_ec2()
{
  CREDROTD_CO_TRY_ASSIGN(auto credential, co_await m_client->create_ec2_credential_os_ec2(
                                              net::deadline_after(m_budget)));
  co_return engine::NewKey{std::move(credential.access), std::move(credential.secret)};
}

engine::Task<core::Status> KeystoneAdapter::delete_key(std::string access)
{
  co_return co_await m_client->delete_ec2_credential(std::move(access),
                                                     net::deadline_after(m_budget));
}

engine::Task<core::Status> KeystoneAdapter::delete_read_key(std::string access)
{
  // secret_of() compared the owner: no second read.
  co_return co_await m_client->delete_ec2_credential(
      std::move(access), net::deadline_after(m_budget), keystone::Ec2Api::os_ec2,
      keystone::Client::OwnerCheck::done_by_caller);
}

engine::NewKey KeystoneAdapter::generate_key()
{
  auto key = keystone::generate_ec2_key();
  if (!key) {
    // The CSPRNG failing is not a condition to rotate through.
    throw core::ErrorException(key.error());
  }
  return engine::NewKey{std::move(key->access), std::move(key->secret)};
}

engine::Task<engine::VerifyReport> S3Adapter::verify(std::string access, core::Secret secret,
                                                     engine::Expect expect)
{
  // No co_await inside ?: : g++ 12 destroys such a result twice.
  s3::Outcome outcome;
  if (expect == engine::Expect::accepted) {
    outcome = co_await m_verifier->verify(std::move(access), std::move(secret));
  } else {
    outcome = co_await m_verifier->confirm_refused(std::move(access), std::move(secret));
  }
  co_return engine::VerifyReport{outcome.result, std::move(outcome.detail)};
}

} // namespace credrotd::wiring
