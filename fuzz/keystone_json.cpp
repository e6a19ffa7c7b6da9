// SPDX-License-Identifier: Apache-2.0
// Fuzzes the Keystone response handling: token documents (catalog included), both EC2
// credential APIs' documents, error bodies and the error mapping, Keystone's times and
// auth_url normalisation. Input: <body>[\x1f<secret>...] where the secrets are what the client
// scrubs from Keystone's error messages.
#include "core/cloud.hpp"
#include "keystone/ec2.hpp"
#include "keystone/errors.hpp"
#include "keystone/json.hpp"
#include "keystone/token.hpp"
#include "support.hpp"

#include <algorithm>
#include <array>
#include <cctype>

using namespace credrotd;
using namespace credrotd::keystone;
using fuzz::require;

namespace {

// A secret whose every occurrence the scrubbed message must have lost. Only alphanumeric
// secrets with a character outside [a-z] are checked: they cannot be made up from the
// "<redacted>" and "..." the scrubbing adds, nor span the blanks control characters become.
bool checkable(std::string_view secret)
{
  return secret.size() >= 4 &&
         std::all_of(secret.begin(), secret.end(),
                     [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }) &&
         std::any_of(secret.begin(), secret.end(), [](char c) { return !(c >= 'a' && c <= 'z'); });
}

bool iequals(std::string_view a, std::string_view b)
{
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

void check_error_message(std::string_view body, const std::vector<std::string_view>& secrets)
{
  for (const std::size_t max_chars : {std::size_t{300}, std::size_t{7}}) {
    const std::string message = json::error_message(body, secrets, max_chars);
    require(message.size() <= max_chars + 3, "error_message() is longer than its bound");
    require(std::none_of(message.begin(), message.end(),
                         [](char c) {
                           const auto byte = static_cast<unsigned char>(c);
                           return byte < 0x20 || byte == 0x7f;
                         }),
            "error_message() kept a control character");
    for (const std::string_view secret : secrets) {
      require(!checkable(secret) || message.find(secret) == std::string::npos,
              "error_message() kept a secret");
    }
  }
}

void check_token(const TokenInfo& token)
{
  (void)token.has_role("member");
  (void)token.has_method("password");
  // Look up every service type the catalog names, with each interface, in its first region
  // and in any region: a URL found must be one of that service's endpoints.
  for (std::size_t i = 0; i < std::min<std::size_t>(token.catalog.size(), 4); ++i) {
    const Endpoint& endpoint = token.catalog[i];
    for (const auto interface :
         {core::Interface::public_, core::Interface::internal, core::Interface::admin}) {
      for (const std::string_view region :
           {std::string_view(), std::string_view(endpoint.region)}) {
        const auto url = token.endpoint_url(endpoint.service_type, interface, region);
        if (!url) {
          require(url.error().code == core::Errc::not_found, "endpoint_url() failed otherwise");
          continue;
        }
        require(std::any_of(token.catalog.begin(), token.catalog.end(),
                            [&](const Endpoint& e) {
                              return e.url == *url &&
                                     iequals(e.service_type, endpoint.service_type) &&
                                     e.interface == to_string(interface) &&
                                     (region.empty() || e.region == region);
                            }),
                "endpoint_url() returned a URL the catalog does not list for that service");
      }
    }
  }
}

void check_credential(const Ec2Credential& credential, bool os_ec2)
{
  if (os_ec2) {
    require(credential.credential_id == credential_id_for(credential.access),
            "an OS-EC2 credential id is not sha256(access)");
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
  const auto parts = fuzz::split(fuzz::as_text(data, size), 4);
  const std::string_view body = parts[0];
  const std::vector<std::string_view> secrets(parts.begin() + 1, parts.end());

  const auto token = parse_token(body);
  if (token) {
    check_token(*token);
  } else {
    require(token.error().code == core::Errc::protocol, "parse_token() failed otherwise");
  }
  for (const bool os_ec2 : {false, true}) {
    const auto list = os_ec2 ? parse_os_ec2_list(body) : parse_credentials_list(body);
    if (list) {
      for (const auto& credential : *list) {
        check_credential(credential, os_ec2);
      }
    }
    const auto one = os_ec2 ? parse_os_ec2_credential(body) : parse_credential(body);
    if (one) {
      check_credential(*one, os_ec2);
    }
  }

  check_error_message(body, secrets);
  core::CloudAuth auth;
  auth.name = "fuzz";
  auth.source = "/fuzz/clouds.yaml";
  auth.username = "fuzz-user";
  ErrorContext context;
  context.auth = &auth;
  context.token = token ? &*token : nullptr;
  context.url = "https://keystone.fuzz.example/v3/credentials";
  context.secrets = secrets;
  static constexpr std::array<int, 8> k_statuses = {400, 401, 403, 404, 409, 500, 413, 200};
  const int status = k_statuses[size % k_statuses.size()];
  context.operation = static_cast<Operation>(size / k_statuses.size() % 5);
  context.api = (size & 64) != 0 ? Ec2Api::credentials : Ec2Api::os_ec2;
  const core::Error error = error_from_status(status, body, context);
  switch (status) {
  case 401:
    require(error.code == core::Errc::auth_rejected || error.code == core::Errc::not_found,
            "401 maps to auth_rejected or not_found");
    break;
  case 403:
    require(error.code == core::Errc::forbidden, "403 maps to forbidden");
    break;
  case 404:
    require(error.code == core::Errc::not_found, "404 maps to not_found");
    break;
  case 409:
    require(error.code == core::Errc::conflict, "409 maps to conflict");
    break;
  default:
    require(error.code == core::Errc::config || error.code == core::Errc::protocol,
            "other statuses map to config or protocol");
  }
  (void)is_os_ec2_not_found(401, body);

  if (body.size() <= 64) {
    (void)parse_time(body);
    const auto base = identity_base(body, "auth_url");
    if (base) {
      require(base->ends_with("/v3"), "identity_base() does not end in /v3");
      const auto again = identity_base(*base, "auth_url");
      require(again && *again == *base, "identity_base() is not idempotent");
    }
  }
  return 0;
}
