// SPDX-License-Identifier: Apache-2.0
// The request and response types of http_client.hpp: method names and header helpers.
#include "net/http_client.hpp"

#include <array>
#include <strings.h>

namespace credrotd::net {

std::string_view to_string(Method method) noexcept
{
  // In the order of enum class Method.
  constexpr std::array<std::string_view, 6> k_names{"GET", "HEAD",  "POST",
                                                    "PUT", "PATCH", "DELETE"};
  return k_names.at(static_cast<std::size_t>(method));
}

Request& Request::header(std::string_view name, std::string_view value, Sensitive sensitive)
{
  headers.push_back(
      Header{std::string(name), core::WipingString(value.data(), value.size()), sensitive});
  return *this;
}

Request& Request::auth_token(const core::Secret& token)
{
  return header("X-Auth-Token", token.reveal(), Sensitive::yes);
}

std::optional<std::string_view> Response::header(std::string_view name) const
{
  for (const auto& field : headers) {
    if (field.name.size() == name.size() &&
        ::strncasecmp(field.name.data(), name.data(), name.size()) == 0) {
      return std::string_view(field.value.data(), field.value.size());
    }
  }
  return std::nullopt;
}

} // namespace credrotd::net
