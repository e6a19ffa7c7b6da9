// SPDX-License-Identifier: Apache-2.0
// Helpers shared by the format modules.
#include "consumers/format.hpp"

#include <fmt/format.h>

namespace credrotd::consumers {

FoundValue found_value(const Source& source, std::size_t begin, std::size_t end, std::size_t at)
{
  return FoundValue{Content(source.text.substr(begin, end - begin)), at,
                    text::position_of(source.text, at).line};
}

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
  if (!has_secret || !has_access) {
    const auto [set, missing] =
        has_access ? std::pair(access_name, secret_name) : std::pair(secret_name, access_name);
    return text::parse_error(
        source, has_access ? access->offset : secret->offset,
        fmt::format("{} is set but {} is missing or empty: the client has half a key", set,
                    missing));
  }
  FoundKey key;
  key.access_id.assign(access->value.data(), access->value.size());
  key.secret = core::Secret(std::string_view(secret->value));
  key.line = access->line;
  return std::optional<FoundKey>(std::move(key));
}

bool is_key(const core::Result<std::optional<FoundKey>>& found, std::string_view access_id,
            const core::Secret& secret)
{
  return found && *found && (*found)->access_id == access_id && (*found)->secret == secret;
}

core::Result<Content> read_back(const Source& source, Content out, std::string_view failure,
                                const std::function<core::Result<bool>(const Source&)>& reads_right)
{
  const auto ok = reads_right(Source{source.name, out});
  if (!ok) {
    return text::unparsable_rewrite(source, ok.error());
  }
  if (!*ok) {
    return text::file_error(source, core::Errc::internal, failure);
  }
  return out;
}

} // namespace credrotd::consumers
