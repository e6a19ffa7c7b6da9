// SPDX-License-Identifier: Apache-2.0
// Boost.JSON in wiping memory, and the small accessors the Keystone parsers share.
#pragma once

#include "core/error.hpp"
#include "core/secret.hpp"

#include <boost/json/fwd.hpp>
#include <boost/json/storage_ptr.hpp>
#include <boost/json/value.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace credrotd::keystone::json {

// Storage whose every block is wiped before it is freed: Keystone documents carry tokens,
// passwords and EC2 secrets.
boost::json::storage_ptr wiping_storage();

// Parses `text` into wiping storage (the parser's temporary buffers too). Errors
// (Errc::protocol): not JSON; `what` names the document ("the token response").
core::Result<boost::json::value> parse(std::string_view text, std::string_view what);

// Serializes into a wiping string (request bodies that hold passwords).
core::WipingString serialize(const boost::json::value& value);

// The string member `key` of `object`, or nullopt when absent, null or not a string.
std::optional<std::string_view> string_member(const boost::json::object& object,
                                              std::string_view key);

// The object member `key`, or nullptr.
const boost::json::object* object_member(const boost::json::object& object, std::string_view key);

// The array member `key`, or nullptr.
const boost::json::array* array_member(const boost::json::object& object, std::string_view key);

// Keystone's "error.message" from an error body, cleaned for a log line: control characters
// replaced, cut to `max_chars`, every occurrence of each of `secrets` (at least 4 characters
// long) replaced by "<redacted>". Empty when the body is not Keystone's error JSON: the raw
// body is never used, since it may echo the request.
std::string error_message(std::string_view body, const std::vector<std::string_view>& secrets,
                          std::size_t max_chars = 300);

// Secrets shorter than this are not redacted from Keystone's messages: they would match
// ordinary words.
inline constexpr std::size_t k_min_secret_size = 4;

} // namespace credrotd::keystone::json
