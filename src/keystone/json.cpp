// SPDX-License-Identifier: Apache-2.0
// Wiping JSON storage and the helpers that read Keystone's documents without trusting them.
#include "keystone/json.hpp"

#include "core/text.hpp"

#include <boost/json/memory_resource.hpp>
#include <boost/json/parser.hpp>
#include <boost/json/serializer.hpp>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstring>
#include <new>

namespace credrotd::keystone::json {

namespace {

// Records each block's size in front of it and wipes that many bytes on release: the size
// Boost.JSON 1.81 passes to deallocate does not always match the one it allocated (ASan
// reports the mismatch when a parse fails midway), and a wipe must never trust it.
class WipingResource final : public boost::json::memory_resource {
  static std::size_t header(std::size_t alignment)
  {
    return std::max(alignment, alignof(std::max_align_t));
  }

  void* do_allocate(std::size_t size, std::size_t alignment) override
  {
    const std::size_t offset = header(alignment);
    auto* base =
        static_cast<unsigned char*>(::operator new(size + offset, std::align_val_t(offset)));
    std::memcpy(base + offset - sizeof size, &size, sizeof size);
    return base + offset;
  }

  void do_deallocate(void* pointer, std::size_t, std::size_t alignment) override
  {
    const std::size_t offset = header(alignment);
    auto* base = static_cast<unsigned char*>(pointer) - offset;
    std::size_t size = 0;
    std::memcpy(&size, base + offset - sizeof size, sizeof size);
    core::wipe(pointer, size);
    ::operator delete(base, std::align_val_t(offset));
  }

  bool do_is_equal(const boost::json::memory_resource& other) const noexcept override
  {
    return this == &other;
  }
};

} // namespace

boost::json::storage_ptr wiping_storage()
{
  return boost::json::make_shared_resource<WipingResource>();
}

core::Result<boost::json::value> parse(std::string_view text, std::string_view what)
{
  boost::json::parser parser(wiping_storage());
  parser.reset(wiping_storage());
  boost::system::error_code ec;
  parser.write(text.data(), text.size(), ec);
  if (ec) {
    // Position and reason only: the text itself may hold a secret.
    return core::make_error(core::Errc::protocol,
                            std::string(what) + " is not valid JSON (" + ec.message() + ")");
  }
  return parser.release();
}

core::WipingString serialize(const boost::json::value& value)
{
  boost::json::serializer serializer;
  serializer.reset(&value);
  core::WipingString out;
  std::array<char, 1024> buffer;
  while (!serializer.done()) {
    const auto piece = serializer.read(buffer.data(), buffer.size());
    out.append(piece.data(), piece.size());
  }
  core::wipe(buffer.data(), buffer.size());
  return out;
}

std::optional<std::string_view> string_member(const boost::json::object& object,
                                              std::string_view key)
{
  const auto it = object.find(key);
  if (it == object.end() || !it->value().is_string()) {
    return std::nullopt;
  }
  const auto& text = it->value().get_string();
  return std::string_view(text.data(), text.size());
}

const boost::json::object* object_member(const boost::json::object& object, std::string_view key)
{
  const auto it = object.find(key);
  return it != object.end() && it->value().is_object() ? &it->value().get_object() : nullptr;
}

const boost::json::array* array_member(const boost::json::object& object, std::string_view key)
{
  const auto it = object.find(key);
  return it != object.end() && it->value().is_array() ? &it->value().get_array() : nullptr;
}

std::string error_message(std::string_view body, const std::vector<std::string_view>& secrets,
                          std::size_t max_chars)
{
  auto doc = parse(body, "the error body");
  if (!doc || !doc->is_object()) {
    return {};
  }
  const auto* error = object_member(doc->get_object(), "error");
  if (error == nullptr) {
    return {};
  }
  const auto message = string_member(*error, "message");
  if (!message) {
    return {};
  }
  std::string text;
  for (const char c : *message) {
    const auto byte = static_cast<unsigned char>(c);
    text.push_back(byte < 0x20 || byte == 0x7f ? ' ' : c);
  }
  core::redact(text, secrets, k_min_secret_size);
  if (text.size() > max_chars) {
    // Cut at a UTF-8 boundary.
    std::size_t cut = max_chars;
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) {
      --cut;
    }
    text.resize(cut);
    text += "...";
  }
  return text;
}

} // namespace credrotd::keystone::json
