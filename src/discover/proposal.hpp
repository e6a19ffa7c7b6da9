// SPDX-License-Identifier: Apache-2.0
// From the keys found on a host and what Keystone says about them to proposed profiles: which
// keys belong to the identity, which to nobody it can see, which of its keys no file names,
// and the credrotd.d drop-in that rotates the first kind (pure: no I/O).
#pragma once

#include "discover/identity.hpp"
#include "discover/scan.hpp"

#include <string>
#include <vector>

namespace credrotd::discover {

// Whether the units found are those of the systemd credrotd will talk to (discovery of this
// host) or of another tree (--root): only the first can be reloaded.
enum class ReloadUnits { yes, no };

struct ProposalOptions {
  std::string s3_endpoint; // s3_endpoint of every profile
  std::string dropin_path; // where the drop-in is meant to go (named in its header)
  ReloadUnits reload_units = ReloadUnits::yes;
};

// One access id found on the host.
struct KeyFinding {
  std::string access_id;
  bool own = false;       // one of the identity's keys
  std::string project_id; // its project, when own
  std::vector<Place> places;
  std::string profile; // the proposed profile; "" when not proposed
  std::string why_not; // when not proposed: why (never a secret)
};

struct Proposal {
  std::vector<KeyFinding> keys;   // in the order first found
  std::vector<KeystoneKey> stale; // the identity's keys that no place names
  std::vector<Skipped> skipped;   // as the scan left them
  std::string dropin;             // the drop-in text: the report as comments, then the profiles
  std::size_t profiles = 0;       // profiles the drop-in defines
};

// Groups places by access id. A key is proposed as one profile when it is the identity's and
// every place that names it can be a consumer: credrotd writes a file through one consumer
// only, so when a file names two keys (two AWS profiles, two s3fs lines) the place of the
// identity's first key gets the file and the other key is not proposed (its other place would
// keep the old key, and the old key is deleted after the grace period). A profile is named
// after the owner of its files ("shared" when they have several), with "-" and the first 8
// characters of the access id added when two profiles would share a name; names keep to the
// characters credrotd.toml allows. `project` is set when the key's project is not the
// identity's.
Proposal propose(const Scan& scan, const IdentityView& identity, const ProposalOptions& options);

// `s` as a TOML basic string, quotes included.
std::string toml_string(std::string_view s);

// A profile name credrotd.toml accepts made from `s`: characters other than letters, digits,
// '_', '.' and '-' become '_'; "key" when nothing is left.
std::string profile_name(std::string_view s);

} // namespace credrotd::discover
