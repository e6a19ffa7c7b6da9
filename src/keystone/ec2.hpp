// SPDX-License-Identifier: Apache-2.0
// EC2 credentials in Keystone's two APIs: key generation, request bodies, response parsing.
#pragma once

#include "core/error.hpp"
#include "core/secret.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace credrotd::keystone {

// Which Keystone API manages a credential:
// - credentials: /v3/credentials with type "ec2" (the client chooses access and secret;
//   Keystone keys the credential by sha256(access), so a repeated create answers 409);
// - os_ec2: /v3/users/{user}/credentials/OS-EC2 (Keystone chooses them; the fallback where
//   policy forbids the first).
// Both manage the same records: a credential made through one is seen through the other.
enum class Ec2Api { credentials, os_ec2 };

std::string_view to_string(Ec2Api api) noexcept;

// A locally generated key pair, before Keystone knows it.
struct Ec2Key {
  std::string access;  // 32 lower-case hex characters (128 bits from RAND_bytes)
  core::Secret secret; // 32 lower-case hex characters (128 bits from RAND_bytes)
};

// Generates an access id and secret with OpenSSL's CSPRNG, in Keystone's own format (the
// OS-EC2 API makes uuid4().hex values). Errors: Errc::internal when the CSPRNG fails.
core::Result<Ec2Key> generate_ec2_key();

// Keystone's id for the credential of an access id: hex sha256(access).
std::string credential_id_for(std::string_view access);

struct Ec2Credential {
  std::string access;
  core::Secret secret;
  std::string user_id;       // the owner; compare with TokenInfo::user_id before touching it
  std::string project_id;    // the project S3 requests signed with it act in
  std::string credential_id; // sha256(access): the /v3/credentials id
  std::string trust_id;      // set when made with a trust-scoped token
  std::string app_cred_id;   // set when made with an application-credential token
                             // (only the /v3/credentials form shows it)
};

// Body of POST /v3/credentials for `key`, owned by `user_id`, acting in `project_id`.
core::WipingString credential_create_body(std::string_view user_id, std::string_view project_id,
                                          const Ec2Key& key);

// Body of POST /v3/users/{user}/credentials/OS-EC2.
std::string os_ec2_create_body(std::string_view project_id);

// Parsers for the responses of each API. `many` expects {"credentials": [...]}, otherwise
// {"credential": {...}}. Errors: Errc::protocol when the body is not JSON or lacks the
// fields (the message never quotes the body). Entries of /v3/credentials whose type is not
// "ec2" are skipped (lists) or reported as Errc::not_found (single).
core::Result<std::vector<Ec2Credential>> parse_credentials_list(std::string_view body);
core::Result<Ec2Credential> parse_credential(std::string_view body);
core::Result<std::vector<Ec2Credential>> parse_os_ec2_list(std::string_view body);
core::Result<Ec2Credential> parse_os_ec2_credential(std::string_view body);

} // namespace credrotd::keystone
