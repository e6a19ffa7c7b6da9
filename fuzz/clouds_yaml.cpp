// SPDX-License-Identifier: Apache-2.0
// Fuzzes the clouds.yaml / secure.yaml / OS_* loader: parse_clouds() on arbitrary documents,
// then resolve() of every cloud and the Keystone auth request built from each resolved one.
// Input: <clouds.yaml>[\x1f<secure.yaml>[\x1f<environment>]], the environment as NAME=VALUE
// lines.
#include "config/clouds.hpp"
#include "keystone/json.hpp"
#include "keystone/token.hpp"
#include "support.hpp"

#include <algorithm>
#include <cctype>

using namespace credrotd;
using fuzz::require;

namespace {

// A secret the input spells out only once, where a value goes (after ':' or '=' or a quote, up
// to the end of the line or a quote), and that no fixed message text can spell out (letters
// and digits, both present): if it shows up in a message, the message quotes it. (A secret
// written with escapes, "\u0041", may equal other text of the input: it is not checked.)
bool checkable(std::string_view secret, std::string_view input)
{
  const auto is_alnum = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; };
  const auto is_digit = [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; };
  const auto is_alpha = [](char c) { return std::isalpha(static_cast<unsigned char>(c)) != 0; };
  if (secret.size() < 8 || !std::all_of(secret.begin(), secret.end(), is_alnum) ||
      !std::any_of(secret.begin(), secret.end(), is_digit) ||
      !std::any_of(secret.begin(), secret.end(), is_alpha)) {
    return false;
  }
  const auto at = input.find(secret);
  if (at == std::string_view::npos || input.find(secret, at + 1) != std::string_view::npos) {
    return false;
  }
  std::size_t before = at;
  while (before > 0 && (input[before - 1] == ' ' || input[before - 1] == '\t')) {
    --before;
  }
  const std::size_t after = at + secret.size();
  return before > 0 &&
         std::string_view(":=\"'").find(input[before - 1]) != std::string_view::npos &&
         (after == input.size() ||
          std::string_view("\r\n\"' ,}]\x1f").find(input[after]) != std::string_view::npos);
}

void check_quiet(const std::vector<std::string_view>& secrets, std::string_view text)
{
  for (const auto secret : secrets) {
    require(text.find(secret) == std::string_view::npos, "a message or warning quotes a secret");
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
  const std::string_view input = fuzz::as_text(data, size);
  const auto parts = fuzz::split(input, 3);
  config::CloudsInput in;
  in.clouds = config::YamlDocument{"/fuzz/clouds.yaml", std::string(parts[0]), 0600};
  if (parts.size() > 1) {
    in.secure = config::YamlDocument{"/fuzz/secure.yaml", std::string(parts[1]),
                                     (size & 1) != 0 ? 0644U : 0600U};
  }
  in.clouds_candidates = {"/fuzz/clouds.yaml"};
  in.secure_candidates = {"/fuzz/secure.yaml"};
  in.env.cwd = "/fuzz";
  in.env.vars.emplace("HOME", "/home/fuzz");
  if (parts.size() > 2) {
    std::string_view env = parts[2];
    while (!env.empty()) {
      const auto end = std::min(env.find('\n'), env.size());
      const std::string_view line = env.substr(0, end);
      const auto eq = line.find('=');
      if (eq != std::string_view::npos) {
        in.env.vars.insert_or_assign(std::string(line.substr(0, eq)),
                                     std::string(line.substr(eq + 1)));
      }
      env.remove_prefix(std::min(end + 1, env.size()));
    }
  }

  const auto clouds = config::parse_clouds(std::move(in));
  if (!clouds) {
    require(clouds.error().code == core::Errc::parse || clouds.error().code == core::Errc::config,
            "parse_clouds() failed with an unexpected code");
    return 0;
  }
  (void)clouds->default_cloud();
  (void)clouds->describe_sources();
  auto names = clouds->cloud_names();
  names.resize(std::min<std::size_t>(names.size(), 6));
  names.emplace_back(); // the default cloud

  // Every secret that resolves, then every message and warning is checked against them all.
  std::vector<std::string_view> secrets;
  std::vector<core::CloudAuth> resolved;
  std::vector<std::string> messages(clouds->warnings().begin(), clouds->warnings().end());
  for (const auto& name : names) {
    auto auth = clouds->resolve(name, &messages);
    if (!auth) {
      require(auth.error().code == core::Errc::config, "resolve() failed with an unexpected code");
      messages.push_back(auth.error().message);
      continue;
    }
    resolved.push_back(std::move(*auth));
  }
  for (const auto& auth : resolved) {
    for (const core::Secret* secret :
         {&auth.password, &auth.application_credential_secret, &auth.token}) {
      if (checkable(secret->reveal(), input)) {
        secrets.push_back(secret->reveal());
      }
    }
    const auto body = keystone::auth_request_body(auth);
    if (body) {
      require(
          keystone::json::parse(std::string_view(body->data(), body->size()), "body").has_value(),
          "the auth request body is not JSON");
    } else {
      messages.push_back(body.error().message);
    }
    const auto base = keystone::identity_base(auth.auth_url, auth.source);
    if (!base) {
      messages.push_back(base.error().message);
    }
  }
  for (const auto& message : messages) {
    check_quiet(secrets, message);
  }
  return 0;
}
