// SPDX-License-Identifier: Apache-2.0
// What every format module returns: the key found in a text, and the helpers to build it and
// to check a rewrite.
#pragma once

#include "consumers/text.hpp"
#include "core/error.hpp"
#include "core/secret.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace credrotd::consumers {

// A key as a format module found it in a text (before the file is known: see KeyInFile).
struct FoundKey {
  std::string access_id;
  core::Secret secret;
  std::uint32_t line = 0; // line of the access id; 0 when the format has no lines
};

// One value the client would read, located in the text.
struct FoundValue {
  Content value; // what the client reads (a wiping buffer: it may be the secret)
  std::size_t offset = 0;
  std::uint32_t line = 0;
};

// The bytes [begin, end) of `source` as a FoundValue located at `at` (the key's offset).
FoundValue found_value(const Source& source, std::size_t begin, std::size_t end, std::size_t at);

// The key made of an access id and a secret, either of which may be missing or empty:
// nullopt when both are, an error naming the file when only one is (the client would fail
// or use a half key). `access_name`/`secret_name` are the client's names for the two.
core::Result<std::optional<FoundKey>> make_found_key(const Source& source,
                                                     std::optional<FoundValue> access,
                                                     std::optional<FoundValue> secret,
                                                     std::string_view access_name,
                                                     std::string_view secret_name);

// Whether a key read from a text is exactly (access_id, secret).
bool is_key(const core::Result<std::optional<FoundKey>>& found, std::string_view access_id,
            const core::Secret& secret);

// The last step of every render(): `out` read back as the client will read it. `reads_right`
// gets the rewritten text and says whether it gives the new key (and every other setting
// unchanged); its error (the rewrite does not parse) becomes unparsable_rewrite(), a false
// Errc::internal with `failure` ("...; nothing written"). Both are bugs of ours: nothing is
// written. Returns `out` otherwise.
core::Result<Content>
read_back(const Source& source, Content out, std::string_view failure,
          const std::function<core::Result<bool>(const Source&)>& reads_right);

} // namespace credrotd::consumers
