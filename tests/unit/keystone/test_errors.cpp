// SPDX-License-Identifier: Apache-2.0
// Keystone answers mapped to errors: codes, policy advice, bounded and scrubbed messages.
#include "keystone/errors.hpp"
#include "keystone/json.hpp"

#include <catch2/catch.hpp>

using credrotd::core::AuthType;
using credrotd::core::CloudAuth;
using credrotd::core::Errc;
using namespace credrotd::keystone;

namespace {

std::string keystone_error(int code, const std::string& title, const std::string& message)
{
  return R"({"error": {"code": )" + std::to_string(code) + R"(, "title": ")" + title +
         R"(", "message": ")" + message + R"("}})";
}

TokenInfo token(std::vector<std::string> methods, std::vector<std::string> roles)
{
  TokenInfo info;
  info.user_id = "u-1";
  info.user_name = "rotator";
  info.project_id = "p-1";
  info.project_name = "demo";
  info.methods = std::move(methods);
  info.roles = std::move(roles);
  return info;
}

} // namespace

TEST_CASE("an application-credential token refused EC2 management says to use a password",
          "[keystone]")
{
  const auto info = token({"application_credential"}, {"member", "reader"});
  ErrorContext context;
  context.operation = Operation::create;
  context.api = Ec2Api::credentials;
  context.token = &info;
  const auto error = error_from_status(
      403,
      keystone_error(403, "Forbidden",
                     "You are not authorized to perform the requested action: Delegated tokens "
                     "cannot access credentials directly."),
      context);
  CHECK(error.code == Errc::forbidden);
  CHECK(error.message.rfind("This Keystone refuses EC2 credential management with "
                            "application-credential tokens (\"Delegated tokens cannot access "
                            "credentials directly.\"): use a password identity for this profile",
                            0) == 0);
}

TEST_CASE("a token without the member role is told it needs it", "[keystone]")
{
  const auto info = token({"password"}, {"reader"});
  ErrorContext context;
  context.operation = Operation::create;
  context.api = Ec2Api::os_ec2;
  context.token = &info;
  const auto error =
      error_from_status(403,
                        keystone_error(403, "Forbidden",
                                       "You are not authorized to perform the requested action: "
                                       "identity:ec2_create_credential."),
                        context);
  CHECK(error.code == Errc::forbidden);
  CHECK(error.message.find("the token has the roles reader") != std::string::npos);
  CHECK(error.message.find("needs the member role") != std::string::npos);
  CHECK(error.message.find("user rotator in project demo") != std::string::npos);
}

TEST_CASE("other policy refusals name the rule to relax", "[keystone]")
{
  const auto info = token({"password"}, {"member"});
  ErrorContext context;
  context.operation = Operation::create;
  context.api = Ec2Api::credentials;
  context.token = &info;
  const auto error = error_from_status(403, keystone_error(403, "Forbidden", "nope"), context);
  CHECK(error.message.find("identity:create_credential") != std::string::npos);
  CHECK(error.message.find("or use the OS-EC2 API") != std::string::npos);
}

TEST_CASE("authentication refusals name the cloud and the kind of credential", "[keystone]")
{
  CloudAuth auth;
  auth.name = "prod";
  auth.source = "/etc/openstack/clouds.yaml";
  auth.auth_type = AuthType::application_credential;
  auth.application_credential_id = "ac-9";
  ErrorContext context;
  context.auth = &auth;
  context.url = "https://keystone.example/v3/auth/tokens";
  const auto error = error_from_status(
      401,
      keystone_error(401, "Unauthorized", "The request you have made requires authentication."),
      context);
  CHECK(error.code == Errc::auth_rejected);
  CHECK(error.message.find("application credential ac-9") != std::string::npos);
  CHECK(error.message.find("cloud \"prod\" (/etc/openstack/clouds.yaml)") != std::string::npos);
}

TEST_CASE("status codes map onto the error vocabulary", "[keystone]")
{
  ErrorContext context;
  context.operation = Operation::get;
  CHECK(error_from_status(404, "{}", context).code == Errc::not_found);
  CHECK(error_from_status(409, "{}", context).code == Errc::conflict);
  CHECK(error_from_status(400, "{}", context).code == Errc::protocol);
  CHECK(error_from_status(418, "{}", context).code == Errc::protocol);
  CHECK(error_from_status(401, "{}", context).code == Errc::auth_rejected);
  CHECK(error_from_status(401, keystone_error(401, "Unauthorized", "EC2 access key not found."),
                          context)
            .code == Errc::not_found);
  context.operation = Operation::authenticate;
  CHECK(error_from_status(400, "{}", context).code == Errc::config);
}

TEST_CASE("Keystone's messages are bounded, cleaned and scrubbed of secrets", "[keystone]")
{
  const std::string echoed =
      keystone_error(400, "Bad Request",
                     "Invalid input for field 'password': 'hunter2-secret' is not valid\\n" +
                         std::string(1000, 'x'));
  const auto message = json::error_message(echoed, {"hunter2-secret"}, 120);
  CHECK(message.find("hunter2-secret") == std::string::npos);
  CHECK(message.find("<redacted>") != std::string::npos);
  CHECK(message.find('\n') == std::string::npos);
  CHECK(message.size() <= 123);
  // Not Keystone's JSON: nothing is copied, since a raw body may echo the request.
  CHECK(json::error_message("<html>hunter2-secret</html>", {}).empty());
  CHECK(json::error_message("{\"password\": \"hunter2-secret\"}", {}).empty());
}

TEST_CASE("a secret that is part of \"<redacted>\" is scrubbed once, not forever", "[keystone]")
{
  // Found with fuzz/keystone_json: the search restarted inside the replacement, so a password
  // such as "redacted" looped (and grew the message) without end.
  const std::string body = R"({"error": {"message": "xx redacted yy acted"}})";
  CHECK(json::error_message(body, {"redacted"}) == "xx <redacted> yy acted");
  CHECK(json::error_message(body, {"acted"}) == "xx red<redacted> yy <redacted>");
  CHECK(json::error_message(R"({"error": {"message": "<redacted>"}})", {"<redacted>"}) ==
        "<redacted>");
}
