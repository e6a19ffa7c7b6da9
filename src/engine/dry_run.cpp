// SPDX-License-Identifier: Apache-2.0
// `credrotd --dry-run`: the plan of each profile's next rotation, printed; nothing is changed.
#include "engine/dry_run.hpp"

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <fmt/ostream.h>

#include <chrono>
#include <optional>

namespace credrotd::engine {

namespace {

// The managed key the state holds for the profile, if any.
std::optional<std::string> current_key(const StatePort& state, const std::string& profile)
{
  std::optional<std::string> current;
  if (auto keys = state.live_keys(profile)) {
    for (const auto& k : *keys) {
      if (k.state == core::KeyState::current) {
        current = k.access;
      }
    }
  }
  return current;
}

// Prints one profile's plan; false when its identity or a file could not be read.
bool print_profile(const DryRunProfile& p, const StatePort* state, std::ostream& out)
{
  bool ok = true;
  fmt::print(out, "profile {} ({}){}\n", p.name, p.location, p.enabled ? "" : " [disabled]");
  if (!p.identity) {
    fmt::print(out, "  identity: ERROR {}\n", p.identity.error().message);
    ok = false;
  } else {
    fmt::print(out, "  identity: {}\n", *p.identity);
  }
  const auto current = state ? current_key(*state, p.name) : std::nullopt;
  std::vector<std::string> in_files;
  out << "  consumers:\n";
  for (std::size_t i = 0; i < p.consumers->count(); ++i) {
    const auto key = p.consumers->read_access(i);
    fmt::print(out, "    {}: ", p.consumers->describe(i));
    if (!key) {
      fmt::print(out, "ERROR {}\n", key.error().message);
      ok = false;
    } else if (!*key) {
      out << "no key yet (will be written)\n";
    } else {
      fmt::print(out, "holds {}\n", **key);
      in_files.push_back(**key);
    }
  }
  if (current) {
    fmt::print(out, "  current managed key: {}\n", *current);
  } else if (!in_files.empty()) {
    fmt::print(out,
               "  first rotation: the key {} in the files would be adopted if Keystone shows it "
               "belongs to the user\n",
               in_files.front());
  } else {
    out << "  no key yet: the first rotation creates one\n";
  }
  fmt::print(out, "  would: create a new key ({}), write {} file(s), verify against {}, ",
             p.create_method == core::CreateMethodChoice::os_ec2 ? "OS-EC2" : "/v3/credentials",
             p.consumers->count(), p.s3_endpoint);
  for (const auto& action : p.unit_actions) {
    fmt::print(out, "{}, ", action);
  }
  fmt::print(out, "wait {}, then delete the old key\n", p.grace);
  if (state) {
    if (auto s = state->profile(p.name); s && *s && (*s)->next_due) {
      const auto secs = std::chrono::system_clock::to_time_t(*(*s)->next_due);
      fmt::print(out, "  next due: {:%Y-%m-%d %H:%M:%S %Z}\n", fmt::localtime(secs));
    }
  }
  return ok;
}

} // namespace

bool print_dry_run(const std::vector<DryRunProfile>& profiles, const StatePort* state,
                   std::ostream& out)
{
  bool ok = true;
  for (const auto& p : profiles) {
    ok = print_profile(p, state, out) && ok;
  }
  return ok;
}

} // namespace credrotd::engine
