// SPDX-License-Identifier: Apache-2.0
// credrotctl's output: tables and JSON documents built from the dictionaries credrotd sends.
#pragma once

#include "ctl/client.hpp"

#include <boost/json/object.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace credrotd::ctl {

// The value of `key` in `d`, or `fallback` when it is absent or of another type.
template <class T> T get(const Dict& d, const std::string& key, T fallback = T{})
{
  const auto it = d.find(key);
  if (it == d.end() || !it->second.containsValueOfType<T>()) {
    return fallback;
  }
  return it->second.get<T>();
}

// A time in microseconds since the epoch: RFC 3339 UTC ("2026-01-02T03:04:05Z"), and local
// ("2026-01-02 04:04:05"; "-" for 0).
std::string utc_time(std::int64_t usec);
std::string local_time(std::int64_t usec);

// The JSON form of one D-Bus dictionary: the same keys; "" strings and 0 times and ids become
// null; times become RFC 3339 UTC strings; counts stay numbers.
boost::json::object to_json(const Dict& d);
boost::json::array to_json(const std::vector<Dict>& list);

// Columns padded to their widest cell, two spaces apart; the last column is not padded.
std::string table(const std::vector<std::vector<std::string>>& rows);

// `credrotctl status`: the table of profiles followed by one line per problem (a failed last
// rotation, revocations S3 has not confirmed); with --json the document of credrotctl(1).
std::string status_text(const std::vector<Dict>& profiles);
boost::json::object status_json(const std::vector<Dict>& profiles, const Dict& properties);

// `credrotctl history`: the table of rotations, or "no rotations of <profile> yet".
std::string history_text(const std::string& profile, const std::vector<Dict>& rotations);

// `credrotctl keys`: access id, role and project of each key.
std::string keys_text(const std::vector<Dict>& keys);

} // namespace credrotd::ctl
