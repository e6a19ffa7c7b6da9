// SPDX-License-Identifier: Apache-2.0
// Fuzzes the credrotd.toml loader (parse_config_text) and the duration and window syntax it
// uses. What the loader accepts must be usable by the modules that consume it later: consumer
// options pass consumers::check_spec() and the S3 endpoint parses as the HTTP client's URL.
// Input: one credrotd.toml document.
#include "config/clouds.hpp"
#include "config/config_file.hpp"
#include "config/duration.hpp"
#include "consumers/spec.hpp"
#include "net/url.hpp"
#include "support.hpp"

using namespace credrotd;
using fuzz::require;

namespace {

void check_duration_syntax(std::string_view text)
{
  if (const auto duration = config::parse_duration(text)) {
    require(*duration >= std::chrono::seconds(0) && *duration <= config::k_max_duration,
            "parse_duration() is out of range");
    const auto again = config::parse_duration(config::format_duration(*duration));
    require(again && *again == *duration, "format_duration() does not parse back");
  }
  if (const auto window = config::parse_window(text)) {
    require(window->start >= std::chrono::minutes(0) &&
                window->start < std::chrono::minutes(1440) &&
                window->end >= std::chrono::minutes(0) &&
                window->end <= std::chrono::minutes(1440) && window->start != window->end,
            "parse_window() is out of range");
    const auto again = config::parse_window(config::format_window(*window));
    require(again && again->start == window->start && again->end == window->end,
            "format_window() does not parse back");
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
  const std::string_view text = fuzz::as_text(data, size);
  if (size <= 32) {
    check_duration_syntax(text);
  }
  auto loaded = config::parse_config_text(text, "/fuzz/credrotd.toml");
  if (!loaded) {
    require(loaded.error().code == core::Errc::parse || loaded.error().code == core::Errc::config,
            "parse_config_text() failed with an unexpected code");
    return 0;
  }
  const core::Config& config = loaded->config;
  for (const auto& profile : config.profiles) {
    require(!profile.consumers.empty(), "a profile without consumers was accepted");
    require(profile.jitter < profile.interval, "a jitter not shorter than the interval");
    require(!profile.signatures.empty() && !profile.checks.empty(),
            "a profile without signatures or checks was accepted");
    const auto endpoint = net::parse_url(profile.s3_endpoint, "s3_endpoint");
    require(endpoint.has_value(), "an s3_endpoint the HTTP client refuses was accepted");
    for (const auto& consumer : profile.consumers) {
      require(consumers::check_spec(consumers::to_spec(consumer)).has_value(),
              "a consumer that consumers::check_spec() refuses was accepted");
    }
  }
  // Resolution against an empty clouds.yaml: every cloud is missing, which must be reported
  // as a configuration error, not crash.
  config::CloudsInput none;
  none.env.cwd = "/fuzz";
  const auto clouds = config::parse_clouds(std::move(none));
  require(clouds.has_value(), "an empty clouds input does not parse");
  std::vector<std::string> warnings;
  const auto checked = config::check_clouds(config, *clouds, &warnings);
  require(checked || checked.error().code == core::Errc::config,
          "check_clouds() failed with an unexpected code");
  return 0;
}
