// SPDX-License-Identifier: Apache-2.0
// The properties every consumer format must have, checked on fuzzed files: read() and render()
// never fail their own invariants, a rendered file reads back as the new key, and a second
// rotation replaces exactly what the first one wrote.
#pragma once

#include "consumers/format.hpp"
#include "consumers/spec.hpp"
#include "core/error.hpp"
#include "core/secret.hpp"
#include "support.hpp"

#include <string_view>

namespace credrotd::fuzz {

// Fake keys (never valid anywhere). The first looks like the keys credrotd generates (32 hex
// digits each); the second uses the punctuation that other issuers put in keys, which every
// format must write unquoted.
struct FakeKey {
  std::string_view access;
  std::string_view secret;
};
inline constexpr FakeKey k_key_1{"0a1b2c3d4e5f60718293a4b5c6d7e8f9",
                                 "f9e8d7c6b5a4938271605f4e3d2c1b0a"};
inline constexpr FakeKey k_key_2{"FUZZ-ACCESS.2_x", "fuzz+Secret/2=_-.Example"};

inline std::string_view view(const consumers::Content& content)
{
  return {content.data(), content.size()};
}

inline bool holds(const core::Result<std::optional<consumers::FoundKey>>& found, FakeKey key)
{
  return found && *found && (*found)->access_id == key.access &&
         (*found)->secret.reveal() == key.secret;
}

// An error of a format module: never internal (that is a failed self-check or a broken
// invariant), and never quoting a new secret the input did not contain already.
inline void check_error(const core::Error& error, std::string_view input)
{
  require(error.code != core::Errc::internal, "a format reported an internal error");
  for (const FakeKey key : {k_key_1, k_key_2}) {
    require(input.find(key.secret) != std::string_view::npos ||
                error.message.find(key.secret) == std::string::npos,
            "an error message quotes the new secret");
  }
}

// `read(Source)` gives the key in a text; `render(Source, access, Secret)` rewrites the text
// with a new key.
// `input` is the whole fuzz input (options included), for check_error(). `may_refuse(error)`
// says whether an internal error of render() is the format's documented refusal.
template <class Read, class Render, class MayRefuse>
void check_format(std::string_view input, std::string_view text, const Read& read,
                  const Render& render, const MayRefuse& may_refuse)
{
  const consumers::Source source{"/fuzz/file", text};
  const auto found = read(source);
  if (!found) {
    check_error(found.error(), input);
  }

  const core::Secret secret_1(k_key_1.secret);
  const auto first = render(source, k_key_1.access, secret_1);
  if (!first) {
    if (first.error().code != core::Errc::internal || !may_refuse(first.error())) {
      check_error(first.error(), input);
    }
    return;
  }
  // render() may succeed where read() refused: it completes a half key.
  const std::string_view written = view(*first);
  require(holds(read(consumers::Source{"/fuzz/file", written}), k_key_1),
          "the rendered file does not read back as the new key");

  // The next rotation starts from the rewritten file: it must give what rendering the
  // original with that key gives, so a rewrite changed nothing but the key values.
  const core::Secret secret_2(k_key_2.secret);
  const auto second = render(consumers::Source{"/fuzz/file", written}, k_key_2.access, secret_2);
  require(second.has_value(), "the rendered file cannot be rendered again");
  const auto direct = render(source, k_key_2.access, secret_2);
  require(direct.has_value(), "a file renders with one key but not with another");
  require(view(*second) == view(*direct), "rendering twice differs from rendering once");
  require(holds(read(consumers::Source{"/fuzz/file", view(*second)}), k_key_2),
          "the file rendered twice does not read back as the second key");
}

template <class Read, class Render>
void check_format(std::string_view input, std::string_view text, const Read& read,
                  const Render& render)
{
  check_format(input, text, read, render, [](const core::Error&) { return false; });
}

// `create(access, Secret)` makes a new file; it must read back as the key.
template <class Read, class Create> void check_create(const Read& read, const Create& create)
{
  const core::Secret secret(k_key_2.secret);
  const auto made = create(k_key_2.access, secret);
  require(made.has_value(), "create() failed for valid options");
  require(holds(read(consumers::Source{"/fuzz/new", view(*made)}), k_key_2),
          "a created file does not read back as its key");
}

// The options part of an input: "<flags byte><option text>" before the first separator;
// nothing (defaults) when the input has no separator.
struct Parameters {
  std::uint8_t flags = 0;
  std::string_view option;
  std::string_view text;
  bool given = false;
};

inline Parameters parameters(std::string_view input)
{
  const auto parts = split(input, 2);
  Parameters p;
  if (parts.size() == 1) {
    p.text = parts[0];
    return p;
  }
  p.given = true;
  if (!parts[0].empty()) {
    p.flags = static_cast<std::uint8_t>(parts[0][0]);
    p.option = parts[0].substr(1);
  }
  p.text = parts[1];
  return p;
}

} // namespace credrotd::fuzz
