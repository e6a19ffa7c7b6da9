// SPDX-License-Identifier: Apache-2.0
// What the credrotd.toml tests share: a minimal valid profile and helpers that parse and
// return the result, the error message or its lines.
#pragma once

#include "config/config_file.hpp"

#include <catch2/catch.hpp>

#include <sstream>
#include <string>
#include <string_view>
#include <vector>

inline constexpr std::string_view k_secret = "hunter2-S3cret";

// A profile that is valid on its own; tests add keys or tables after it.
inline const std::string k_minimal = R"([profile.p]
cloud = "c"
s3_endpoint = "https://s3.example.org"

[[profile.p.consumer]]
type = "s3cmd"
path = "/home/a/.s3cfg"
)";

inline credrotd::config::LoadedConfig parse_ok(const std::string& text,
                                               const credrotd::config::LoadOptions& options = {})
{
  auto result = credrotd::config::parse_config_text(text, "c.toml", options);
  INFO((result.has_value() ? std::string() : result.error().message));
  REQUIRE(result.has_value());
  return std::move(*result);
}

inline std::string errors(const std::string& text)
{
  auto result = credrotd::config::parse_config_text(text, "c.toml");
  REQUIRE_FALSE(result.has_value());
  CHECK(result.error().message.find(k_secret) == std::string::npos);
  return result.error().message;
}

inline std::vector<std::string> lines_of(const std::string& text)
{
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    out.push_back(line);
  }
  return out;
}

inline const credrotd::core::Profile& only_profile(const credrotd::config::LoadedConfig& loaded)
{
  REQUIRE(loaded.config.profiles.size() == 1);
  return loaded.config.profiles.front();
}
