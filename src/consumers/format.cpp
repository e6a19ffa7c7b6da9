// SPDX-License-Identifier: Apache-2.0
// Helpers shared by the format modules.
#include "consumers/format.hpp"

namespace credrotd::consumers {

core::Result<std::optional<FoundKey>> make_found_key(const Source& source,
                                                     std::optional<FoundValue> access,
                                                     std::optional<FoundValue> secret,
                                                     std::string_view access_name,
                                                     std::string_view secret_name)
{
  const bool has_access = access && !access->value.empty();
  const bool has_secret = secret && !secret->value.empty();
  if (!has_access && !has_secret) {
    return std::optional<FoundKey>{};
  }
  if (!has_secret) {
    return text::parse_error(source, access->offset,
                             std::string(access_name) + " is set but " + std::string(secret_name) +
                                 " is missing or empty: the client has half a key");
  }
  if (!has_access) {
    return text::parse_error(source, secret->offset,
                             std::string(secret_name) + " is set but " + std::string(access_name) +
                                 " is missing or empty: the client has half a key");
  }
  FoundKey key;
  key.access_id.assign(access->value.data(), access->value.size());
  key.secret = core::Secret(std::string_view(secret->value));
  key.line = access->line;
  return std::optional<FoundKey>(std::move(key));
}

} // namespace credrotd::consumers
