// SPDX-License-Identifier: Apache-2.0
// Keystone status codes and policy refusals mapped to errors an operator can act on.
#include "keystone/errors.hpp"

#include "core/text.hpp"
#include "keystone/json.hpp"

#include <fmt/format.h>

namespace credrotd::keystone {

namespace {

std::string policy_rule(const ErrorContext& context)
{
  const bool os_ec2 = context.api == Ec2Api::os_ec2;
  switch (context.operation) {
  case Operation::create:
    return os_ec2 ? "identity:ec2_create_credential" : "identity:create_credential";
  case Operation::list:
    return os_ec2 ? "identity:ec2_list_credentials" : "identity:list_credentials";
  case Operation::get:
    return os_ec2 ? "identity:ec2_get_credential" : "identity:get_credential";
  case Operation::delete_:
    return os_ec2 ? "identity:ec2_delete_credential" : "identity:delete_credential";
  case Operation::authenticate:
    break;
  }
  return "identity:create_token";
}

std::string quoted(const std::string& message)
{
  return message.empty() ? std::string() : " (\"" + message + "\")";
}

std::string who(const ErrorContext& context)
{
  std::string text;
  if (context.token != nullptr) {
    text = "user " +
           (context.token->user_name.empty() ? context.token->user_id : context.token->user_name);
    if (!context.token->project_name.empty() || !context.token->project_id.empty()) {
      text += " in project " + (context.token->project_name.empty() ? context.token->project_id
                                                                    : context.token->project_name);
    }
  } else if (context.auth != nullptr) {
    text = "cloud \"" + context.auth->name + "\"";
  }
  return text;
}

core::Error authentication_refused(const std::string& message, const ErrorContext& context)
{
  const core::CloudAuth* auth = context.auth;
  const std::string where =
      auth != nullptr ? "cloud \"" + auth->name + "\" (" + auth->source + ")" : "this cloud";
  std::string text = "Keystone at " + context.url + " refused ";
  std::string advice;
  switch (auth != nullptr ? auth->auth_type : core::AuthType::password) {
  case core::AuthType::password:
    text += "the password of user " +
            (auth == nullptr ? std::string("?")
                             : (auth->user_id.empty() ? auth->username : auth->user_id));
    advice = "check username, password, user and project domains and the project";
    break;
  case core::AuthType::application_credential:
    text += "application credential " + (auth == nullptr ? std::string("?")
                                                         : (auth->application_credential_id.empty()
                                                                ? auth->application_credential_name
                                                                : auth->application_credential_id));
    advice = "it may be expired or deleted, or its secret wrong";
    break;
  case core::AuthType::token:
    text += "the token";
    advice = "configured tokens expire within hours: use a password or an application "
             "credential";
    break;
  }
  return core::make_error(core::Errc::auth_rejected,
                          text + " of " + where + quoted(message) + ": " + advice);
}

core::Error forbidden(std::string message, const ErrorContext& context)
{
  // Keystone prefixes every policy refusal with the same sentence; the reason follows it.
  constexpr std::string_view k_prefix = "You are not authorized to perform the requested action: ";
  if (message.rfind(k_prefix, 0) == 0) {
    message.erase(0, k_prefix.size());
  }
  const TokenInfo* token = context.token;
  const bool delegated_message =
      message.find("Delegated tokens cannot access credentials") != std::string::npos;
  const bool application_credential =
      token != nullptr && token->has_method("application_credential");
  if (application_credential) {
    return core::make_error(
        core::Errc::forbidden,
        "This Keystone refuses EC2 credential management with application-credential tokens" +
            quoted(message) +
            ": use a password identity for this profile (the refusal came when "
            "trying to " +
            describe(context) + ")");
  }
  if (delegated_message) {
    return core::make_error(core::Errc::forbidden,
                            "This Keystone refuses EC2 credential management with delegated "
                            "(trust or OAuth) tokens" +
                                quoted(message) + ": use a password identity for this profile");
  }
  if (token != nullptr && !token->has_role("member") && !token->has_role("admin")) {
    return core::make_error(core::Errc::forbidden,
                            "Keystone refuses to let " + who(context) + " " + describe(context) +
                                quoted(message) + ": the token has the roles " +
                                (token->roles.empty() ? "none" : core::join(token->roles, ", ")) +
                                "; managing EC2 credentials needs the member role on the "
                                "project");
  }
  std::string text = "Keystone's policy refuses to let " + who(context) + " " + describe(context) +
                     quoted(message) + ": ask the cloud's operators to allow " +
                     policy_rule(context);
  if (context.api == Ec2Api::credentials) {
    text += ", or use the OS-EC2 API";
  }
  return core::make_error(core::Errc::forbidden, text);
}

} // namespace

std::string describe(const ErrorContext& context)
{
  const std::string through = " through " + std::string(to_string(context.api));
  switch (context.operation) {
  case Operation::authenticate:
    return "authenticate";
  case Operation::create:
    return "create an EC2 credential" + through;
  case Operation::list:
    return "list EC2 credentials" + through;
  case Operation::get:
    return "read an EC2 credential" + through;
  case Operation::delete_:
    return "delete an EC2 credential" + through;
  }
  return "call Keystone";
}

bool is_os_ec2_not_found(int status, std::string_view body)
{
  return status == 401 &&
         json::error_message(body, {}).find("EC2 access key not found") != std::string::npos;
}

core::Error error_from_status(int status, std::string_view body, const ErrorContext& context)
{
  const std::string message = json::error_message(body, context.secrets);
  const std::string action = describe(context);
  switch (status) {
  case 400:
    return core::make_error(context.operation == Operation::authenticate ? core::Errc::config
                                                                         : core::Errc::protocol,
                            "Keystone at " + context.url + " rejected the request to " + action +
                                " as invalid" + quoted(message));
  case 401:
    if (context.operation == Operation::authenticate) {
      return authentication_refused(message, context);
    }
    if (is_os_ec2_not_found(status, body)) {
      return core::make_error(core::Errc::not_found, "cannot " + action +
                                                         ": Keystone knows no such EC2 access key" +
                                                         quoted(message));
    }
    return core::make_error(core::Errc::auth_rejected, "Keystone refused a fresh token of " +
                                                           who(context) + " trying to " + action +
                                                           quoted(message));
  case 403:
    return forbidden(message, context);
  case 404:
    return core::make_error(core::Errc::not_found,
                            "cannot " + action + ": not found at " + context.url + quoted(message));
  case 409:
    return core::make_error(core::Errc::conflict,
                            "cannot " + action + ": it exists already" + quoted(message));
  default:
    return core::make_error(core::Errc::protocol,
                            fmt::format("Keystone at {} answered HTTP {} to the request to {}{}",
                                        context.url, status, action, quoted(message)));
  }
}

} // namespace credrotd::keystone
