// SPDX-License-Identifier: Apache-2.0
// The engine's KeystonePort and S3Port over src/keystone and src/s3.
#pragma once

#include "engine/ports.hpp"
#include "keystone/client.hpp"
#include "s3/verifier.hpp"

#include <chrono>
#include <memory>

namespace credrotd::wiring {

// One profile's view of Keystone. Each call gets `budget` (the profile's keystone_timeout)
// for all its attempts. The client (and the token it holds) may be shared by the profiles of
// one cloud.
class KeystoneAdapter final : public engine::KeystonePort {
public:
  KeystoneAdapter(std::shared_ptr<keystone::Client> client, std::chrono::milliseconds budget);

  engine::Task<core::Result<engine::Identity>> identity() override;
  engine::Task<core::Result<std::vector<engine::KeyRecord>>> list_keys() override;
  engine::Task<core::Result<std::optional<engine::KeyRecord>>>
  find_key(std::string access) override;
  engine::Task<core::Result<core::Secret>> secret_of(std::string access) override;
  engine::Task<core::Status> create_key(std::string access, core::Secret secret) override;
  engine::Task<core::Result<engine::NewKey>> create_key_os_ec2() override;
  engine::Task<core::Status> delete_key(std::string access) override;
  engine::Task<core::Status> delete_read_key(std::string access) override;
  engine::NewKey generate_key() override;

private:
  std::shared_ptr<keystone::Client> m_client;
  std::chrono::milliseconds m_budget;
};

class S3Adapter final : public engine::S3Port {
public:
  explicit S3Adapter(std::shared_ptr<s3::Verifier> verifier) : m_verifier(std::move(verifier)) {}
  engine::Task<engine::VerifyReport> verify(std::string access, core::Secret secret,
                                            engine::Expect expect) override;

private:
  std::shared_ptr<s3::Verifier> m_verifier;
};

} // namespace credrotd::wiring
