// SPDX-License-Identifier: Apache-2.0
// Turns Keystone's HTTP answers into core::Error values that say what to change.
#pragma once

#include "core/cloud.hpp"
#include "core/error.hpp"
#include "keystone/ec2.hpp"
#include "keystone/token.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace credrotd::keystone {

enum class Operation { authenticate, create, list, get, delete_ };

struct ErrorContext {
  Operation operation = Operation::authenticate;
  Ec2Api api = Ec2Api::os_ec2;
  const core::CloudAuth* auth = nullptr; // the identity in use
  const TokenInfo* token = nullptr;      // null while authenticating
  std::string url;                       // the request URL, without query
  std::vector<std::string_view> secrets; // scrubbed from Keystone's message
};

// What the operation does, for messages: "create an EC2 credential through /v3/credentials".
std::string describe(const ErrorContext& context);

// The error for a Keystone answer with a status the caller did not expect. Keystone's
// error.message is quoted (bounded, secrets scrubbed), never the raw body. Codes:
// 400 -> config while authenticating, protocol otherwise; 401 -> auth_rejected (or
// not_found for OS-EC2's "EC2 access key not found"); 403 -> forbidden, with what to change
// (use a password identity instead of an application credential, the member role, the policy
// rule to relax); 404 -> not_found; 409 -> conflict; anything else -> protocol.
core::Error error_from_status(int status, std::string_view body, const ErrorContext& context);

// True for OS-EC2's 401 "EC2 access key not found." (an unknown access id, not a bad token).
bool is_os_ec2_not_found(int status, std::string_view body);

} // namespace credrotd::keystone
