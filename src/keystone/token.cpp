// SPDX-License-Identifier: Apache-2.0
// Builds Keystone v3 auth requests and reads token responses (catalog included).
#include "keystone/token.hpp"

#include "core/text.hpp"
#include "keystone/json.hpp"
#include "net/url.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <ctime>

namespace credrotd::keystone {

namespace bj = boost::json;

namespace {

std::string string_or_empty(const bj::object& object, std::string_view key)
{
  return std::string(json::string_member(object, key).value_or(std::string_view{}));
}

core::Error config_error(const core::CloudAuth& auth, const std::string& what)
{
  return core::make_error(core::Errc::config,
                          "cloud \"" + auth.name + "\" (" + auth.source + "): " + what);
}

// {"id": ...} or {"name": ..., "domain": {...}} for a user or project.
core::Result<bj::object> named_entity(const bj::storage_ptr& sp, const core::CloudAuth& auth,
                                      std::string_view kind, const std::string& id,
                                      const std::string& name, const std::string& domain_id,
                                      const std::string& domain_name)
{
  bj::object entity(sp);
  if (!id.empty()) {
    entity["id"] = id;
    return entity;
  }
  if (name.empty()) {
    return config_error(auth,
                        "no " + std::string(kind) + "_id or " + std::string(kind) + "_name is set");
  }
  entity["name"] = name;
  bj::object domain(sp);
  if (!domain_id.empty()) {
    domain["id"] = domain_id;
  } else if (!domain_name.empty()) {
    domain["name"] = domain_name;
  } else {
    return config_error(auth, std::string(kind) + "_name \"" + name + "\" needs " +
                                  std::string(kind) + "_domain_name or " + std::string(kind) +
                                  "_domain_id (for example \"Default\")");
  }
  entity["domain"] = std::move(domain);
  return entity;
}

core::Result<bj::object> project_scope(const bj::storage_ptr& sp, const core::CloudAuth& auth)
{
  // The project's domain defaults to the user's, as keystoneauth does for project_name.
  const std::string& domain_id = auth.project_domain_id.empty() && auth.project_domain_name.empty()
                                     ? auth.user_domain_id
                                     : auth.project_domain_id;
  const std::string& domain_name =
      auth.project_domain_id.empty() && auth.project_domain_name.empty() ? auth.user_domain_name
                                                                         : auth.project_domain_name;
  CREDROTD_TRY_ASSIGN(auto project, named_entity(sp, auth, "project", auth.project_id,
                                                 auth.project_name, domain_id, domain_name));
  bj::object scope(sp);
  scope["project"] = std::move(project);
  return scope;
}

// RFC 3629 UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF.
bool is_utf8(std::string_view text)
{
  std::size_t i = 0;
  while (i < text.size()) {
    const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
    const unsigned char lead = byte(i);
    std::size_t length = 0;
    unsigned char low = 0x80; // bounds of the second byte
    unsigned char high = 0xBF;
    if (lead < 0x80) {
      ++i;
      continue;
    }
    if (lead >= 0xC2 && lead <= 0xDF) {
      length = 2;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      length = 3;
      low = lead == 0xE0 ? 0xA0 : 0x80;
      high = lead == 0xED ? 0x9F : 0xBF;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      length = 4;
      low = lead == 0xF0 ? 0x90 : 0x80;
      high = lead == 0xF4 ? 0x8F : 0xBF;
    } else {
      return false;
    }
    if (text.size() - i < length || byte(i + 1) < low || byte(i + 1) > high) {
      return false;
    }
    for (std::size_t k = 2; k < length; ++k) {
      if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) {
        return false;
      }
    }
    i += length;
  }
  return true;
}

// Keystone reads the body as JSON, which is UTF-8 text; Boost.JSON would write other bytes
// unchanged into a document Keystone refuses with an unhelpful 400. The message names the
// field, never its value.
core::Status check_utf8(const core::CloudAuth& auth)
{
  const std::pair<std::string_view, std::string_view> fields[] = {
      {"user_id", auth.user_id},
      {"username", auth.username},
      {"user_domain_id", auth.user_domain_id},
      {"user_domain_name", auth.user_domain_name},
      {"project_id", auth.project_id},
      {"project_name", auth.project_name},
      {"project_domain_id", auth.project_domain_id},
      {"project_domain_name", auth.project_domain_name},
      {"application_credential_id", auth.application_credential_id},
      {"application_credential_name", auth.application_credential_name},
      {"password", auth.password.reveal()},
      {"application_credential_secret", auth.application_credential_secret.reveal()},
      {"token", auth.token.reveal()},
  };
  for (const auto& [name, value] : fields) {
    if (!is_utf8(value)) {
      return config_error(auth, std::string(name) + " is not UTF-8 text, which Keystone cannot "
                                                    "read");
    }
  }
  return {};
}

int month_days(int year, int month)
{
  static constexpr int k_days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return month == 2 && leap ? 29 : k_days[month - 1];
}

} // namespace

bool TokenInfo::has_role(std::string_view name) const
{
  return std::any_of(roles.begin(), roles.end(),
                     [&](const std::string& role) { return core::iequals(role, name); });
}

bool TokenInfo::has_method(std::string_view method) const
{
  return std::find(methods.begin(), methods.end(), method) != methods.end();
}

std::string_view to_string(core::Interface interface) noexcept
{
  switch (interface) {
  case core::Interface::public_:
    return "public";
  case core::Interface::internal:
    return "internal";
  case core::Interface::admin:
    return "admin";
  }
  return "public";
}

core::Result<std::string> TokenInfo::endpoint_url(std::string_view service_type,
                                                  core::Interface interface,
                                                  std::string_view region) const
{
  const auto wanted = to_string(interface);
  std::string offered;
  for (const auto& endpoint : catalog) {
    if (!core::iequals(endpoint.service_type, service_type)) {
      continue;
    }
    if (endpoint.interface == wanted && (region.empty() || endpoint.region == region)) {
      return endpoint.url;
    }
    offered += (offered.empty() ? "" : ", ") + endpoint.interface + " in " +
               (endpoint.region.empty() ? std::string("no region") : endpoint.region);
  }
  std::string message = "the service catalog has no " + std::string(service_type) + " endpoint";
  message += " for interface " + std::string(wanted);
  if (!region.empty()) {
    message += " in region " + std::string(region);
  }
  message += offered.empty() ? " (it lists no " + std::string(service_type) + " service at all)"
                             : " (it offers: " + offered + "); check region_name and interface";
  return core::make_error(core::Errc::not_found, message);
}

core::Result<std::string> identity_base(std::string_view auth_url, std::string_view source)
{
  const auto parsed = net::parse_url(auth_url, "auth_url in " + std::string(source));
  if (!parsed) {
    return parsed.error();
  }
  std::string base(auth_url);
  if (const auto query = base.find_first_of("?#"); query != std::string::npos) {
    base.resize(query);
  }
  while (!base.empty() && base.back() == '/') {
    base.pop_back();
  }
  const auto ends_with = [&](std::string_view suffix) {
    return base.size() >= suffix.size() &&
           base.compare(base.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  if (ends_with("/v3")) {
    return base;
  }
  if (ends_with("/v2.0")) {
    base.resize(base.size() - 5);
  }
  return base + "/v3";
}

core::Result<core::WipingString> auth_request_body(const core::CloudAuth& auth)
{
  CREDROTD_TRY(check_utf8(auth));
  // One wiping resource for the whole document, so members move without copies.
  const bj::storage_ptr sp = json::wiping_storage();
  bj::object identity(sp);
  bj::array methods(sp);
  bool scoped = true;
  switch (auth.auth_type) {
  case core::AuthType::password: {
    if (auth.password.empty()) {
      return config_error(auth, "auth type password needs a password (clouds.yaml or "
                                "secure.yaml)");
    }
    CREDROTD_TRY_ASSIGN(auto user, named_entity(sp, auth, "user", auth.user_id, auth.username,
                                                auth.user_domain_id, auth.user_domain_name));
    user["password"] = auth.password.reveal();
    bj::object password(sp);
    password["user"] = std::move(user);
    methods.emplace_back("password");
    identity["password"] = std::move(password);
    break;
  }
  case core::AuthType::application_credential: {
    if (auth.application_credential_secret.empty()) {
      return config_error(auth, "auth type v3applicationcredential needs "
                                "application_credential_secret");
    }
    bj::object credential(sp);
    if (!auth.application_credential_id.empty()) {
      credential["id"] = auth.application_credential_id;
    } else if (!auth.application_credential_name.empty()) {
      credential["name"] = auth.application_credential_name;
      CREDROTD_TRY_ASSIGN(auto user, named_entity(sp, auth, "user", auth.user_id, auth.username,
                                                  auth.user_domain_id, auth.user_domain_name));
      credential["user"] = std::move(user);
    } else {
      return config_error(auth, "auth type v3applicationcredential needs "
                                "application_credential_id (or _name with the user)");
    }
    credential["secret"] = auth.application_credential_secret.reveal();
    methods.emplace_back("application_credential");
    identity["application_credential"] = std::move(credential);
    scoped = false; // an application credential is bound to its project already
    break;
  }
  case core::AuthType::token: {
    if (auth.token.empty()) {
      return config_error(auth, "auth type token needs a token");
    }
    bj::object token(sp);
    token["id"] = auth.token.reveal();
    methods.emplace_back("token");
    identity["token"] = std::move(token);
    break;
  }
  }
  identity["methods"] = std::move(methods);
  bj::object inner(sp);
  inner["identity"] = std::move(identity);
  if (scoped) {
    CREDROTD_TRY_ASSIGN(auto scope, project_scope(sp, auth));
    inner["scope"] = std::move(scope);
  }
  bj::object outer(sp);
  outer["auth"] = std::move(inner);
  return json::serialize(outer);
}

core::Result<std::chrono::system_clock::time_point> parse_time(std::string_view text)
{
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  int consumed = 0;
  const std::string copy(text);
  if (std::sscanf(copy.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &year, &month, &day, &hour, &minute,
                  &second, &consumed) != 6 ||
      month < 1 || month > 12 || day < 1 || day > month_days(year, month) || hour > 23 ||
      minute > 59 || second > 60) {
    return core::make_error(core::Errc::protocol, "Keystone sent a time that is not ISO 8601: \"" +
                                                      copy.substr(0, 40) + "\"");
  }
  std::string_view rest = text.substr(static_cast<std::size_t>(consumed));
  std::chrono::microseconds fraction{0};
  if (!rest.empty() && rest.front() == '.') {
    rest.remove_prefix(1);
    long long micros = 0;
    int digits = 0;
    while (!rest.empty() && std::isdigit(static_cast<unsigned char>(rest.front())) != 0) {
      if (digits < 6) {
        micros = micros * 10 + (rest.front() - '0');
        ++digits;
      }
      rest.remove_prefix(1);
    }
    for (; digits < 6; ++digits) {
      micros *= 10;
    }
    fraction = std::chrono::microseconds(micros);
  }
  int offset_seconds = 0;
  if (rest == "Z" || rest.empty()) {
    offset_seconds = 0;
  } else if ((rest.front() == '+' || rest.front() == '-') && rest.size() == 6 && rest[3] == ':') {
    const int hours = (rest[1] - '0') * 10 + (rest[2] - '0');
    const int minutes = (rest[4] - '0') * 10 + (rest[5] - '0');
    offset_seconds = (hours * 3600 + minutes * 60) * (rest.front() == '-' ? -1 : 1);
  } else {
    return core::make_error(core::Errc::protocol, "Keystone sent a time with an unknown zone: \"" +
                                                      copy.substr(0, 40) + "\"");
  }
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  const std::time_t utc = timegm(&tm) - offset_seconds;
  // system_clock counts nanoseconds in 64 bits (the years 1678 to 2261): a time outside that
  // range would overflow the conversion below.
  using Clock = std::chrono::system_clock;
  constexpr auto k_min = std::chrono::duration_cast<std::chrono::seconds>(Clock::duration::min());
  constexpr auto k_max = std::chrono::duration_cast<std::chrono::seconds>(Clock::duration::max());
  if (utc < k_min.count() || utc >= k_max.count()) {
    return core::make_error(core::Errc::protocol, "Keystone sent a time outside the years "
                                                  "1678-2261: \"" +
                                                      copy.substr(0, 40) + "\"");
  }
  return std::chrono::system_clock::from_time_t(utc) +
         std::chrono::duration_cast<std::chrono::system_clock::duration>(fraction);
}

core::Result<TokenInfo> parse_token(std::string_view body)
{
  CREDROTD_TRY_ASSIGN(const auto doc, json::parse(body, "Keystone's token response"));
  const auto bad = [](std::string_view why) {
    return core::make_error(core::Errc::protocol, "Keystone's token response " + std::string(why));
  };
  if (!doc.is_object()) {
    return bad("is not a JSON object");
  }
  const auto* token = json::object_member(doc.get_object(), "token");
  if (token == nullptr) {
    return bad("has no \"token\" object");
  }
  TokenInfo info;
  const auto expires = json::string_member(*token, "expires_at");
  if (!expires) {
    return bad("has no token.expires_at");
  }
  CREDROTD_TRY_ASSIGN(info.expires_at, parse_time(*expires));
  if (const auto issued = json::string_member(*token, "issued_at")) {
    CREDROTD_TRY_ASSIGN(info.issued_at, parse_time(*issued));
  }
  const auto* user = json::object_member(*token, "user");
  if (user == nullptr || !json::string_member(*user, "id")) {
    return bad("has no token.user.id");
  }
  info.user_id = string_or_empty(*user, "id");
  info.user_name = string_or_empty(*user, "name");
  if (const auto* domain = json::object_member(*user, "domain")) {
    info.user_domain_id = string_or_empty(*domain, "id");
  }
  if (const auto* project = json::object_member(*token, "project")) {
    info.project_id = string_or_empty(*project, "id");
    info.project_name = string_or_empty(*project, "name");
    if (const auto* domain = json::object_member(*project, "domain")) {
      info.project_domain_id = string_or_empty(*domain, "id");
    }
  }
  if (const auto* methods = json::array_member(*token, "methods")) {
    for (const auto& method : *methods) {
      if (method.is_string()) {
        info.methods.emplace_back(method.get_string());
      }
    }
  }
  if (const auto* roles = json::array_member(*token, "roles")) {
    for (const auto& role : *roles) {
      if (role.is_object()) {
        if (const auto name = json::string_member(role.get_object(), "name")) {
          info.roles.emplace_back(*name);
        }
      }
    }
  }
  if (const auto* credential = json::object_member(*token, "application_credential")) {
    info.application_credential_id = string_or_empty(*credential, "id");
  }
  if (const auto* catalog = json::array_member(*token, "catalog")) {
    for (const auto& service : *catalog) {
      if (!service.is_object()) {
        continue;
      }
      const auto& service_object = service.get_object();
      const std::string type = string_or_empty(service_object, "type");
      const std::string name = string_or_empty(service_object, "name");
      const auto* endpoints = json::array_member(service_object, "endpoints");
      if (endpoints == nullptr) {
        continue;
      }
      for (const auto& endpoint : *endpoints) {
        if (!endpoint.is_object()) {
          continue;
        }
        const auto& e = endpoint.get_object();
        Endpoint entry{type, name, string_or_empty(e, "interface"), string_or_empty(e, "region_id"),
                       string_or_empty(e, "url")};
        if (entry.region.empty()) {
          entry.region = string_or_empty(e, "region");
        }
        if (!entry.url.empty()) {
          info.catalog.push_back(std::move(entry));
        }
      }
    }
  }
  return info;
}

} // namespace credrotd::keystone
