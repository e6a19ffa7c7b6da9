// SPDX-License-Identifier: Apache-2.0
// Tests of systemd credentials: plaintext in credstore/, encrypted with systemd-creds in
// credstore.encrypted/ (with a host key of the test's own: CredentialHostKey).
#include "consumers/consumer.hpp"
#include "consumers/systemd_credential.hpp"
#include "support.hpp"

#include <catch2/catch.hpp>

using namespace credrotd::consumers;
using namespace credrotd::consumers::test;
using credrotd::core::Secret;

namespace {

const std::string k_a = "11111111111111111111111111111111";
const std::string k_s = "22222222222222222222222222222222";

ConsumerSpec credential(std::string path)
{
  ConsumerSpec spec;
  spec.type = ConsumerType::systemd_credential;
  spec.path = std::move(path);
  return spec;
}

} // namespace

TEST_CASE("systemd-credential: plaintext in credstore/ is the documented environment file",
          "[consumers][systemd-credential]")
{
  ScratchDir dir;
  make_dir(dir / "credstore", 0700);
  const ConsumerSpec spec = credential(dir / "credstore/s3-backup");
  CHECK_FALSE(systemd_credential::is_encrypted(spec.path));
  REQUIRE(apply(spec, k_a, Secret(k_s)));
  CHECK(read_file(spec.path) ==
        "AWS_ACCESS_KEY_ID=" + k_a + "\nAWS_SECRET_ACCESS_KEY=" + k_s + "\n");
  CHECK((lstat_path(spec.path).st_mode & 07777) == 0600);
  const auto key = read_key(spec);
  REQUIRE(key);
  REQUIRE(*key);
  CHECK((*key)->access_id == k_a);
}

TEST_CASE("systemd-credential: encrypted with the host key in credstore.encrypted/",
          "[consumers][systemd-credential]")
{
  ScratchDir dir;
  make_dir(dir / "credstore.encrypted", 0700);
  const CredentialHostKey host_key;
  const ConsumerSpec spec = credential(dir / "credstore.encrypted/s3-backup");
  CHECK(systemd_credential::is_encrypted(spec.path));
  const auto report = apply(spec, k_a, Secret(k_s));
  INFO(error_of(report));
  REQUIRE(report);
  const std::string on_disk = read_file(spec.path);
  CHECK(on_disk.find(k_s) == std::string::npos);
  CHECK(on_disk.find(k_a) == std::string::npos);
  const auto key = read_key(spec);
  INFO(error_of(key));
  REQUIRE(key);
  REQUIRE(*key);
  CHECK((*key)->access_id == k_a);
  CHECK((*key)->secret.reveal() == k_s);
  // The name is bound into the credential: the same bytes under another name are refused.
  write_file(dir / "credstore.encrypted/other", on_disk);
  const auto renamed = read_key(credential(dir / "credstore.encrypted/other"));
  REQUIRE_FALSE(renamed);
  CHECK(renamed.error().message.find("systemd-creds decrypt failed") == 0);
}

TEST_CASE("systemd-credential: a name systemd refuses is a config error",
          "[consumers][systemd-credential]")
{
  // Found by fuzz/systemd_credential.cpp: these went to systemd-creds, which refused them
  // ("Invalid credential name") at the first rotation instead of at --check-config.
  for (const std::string name : {"a:b", "caf\xC3\xA9", "tab\there", "a b", ".", ".."}) {
    INFO(name);
    const auto refused = systemd_credential::name_of("/etc/credstore/" + name);
    REQUIRE_FALSE(refused);
    CHECK(refused.error().code == credrotd::core::Errc::config);
    CHECK_FALSE(check_spec(credential("/etc/credstore.encrypted/" + name)));
  }
  CHECK(*systemd_credential::name_of("/etc/credstore/s3-backup.env_1~") == "s3-backup.env_1~");
  CHECK_FALSE(systemd_credential::name_of("/etc/credstore/" + std::string(256, 'a')));
}
