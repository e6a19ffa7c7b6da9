// SPDX-License-Identifier: Apache-2.0
// Secret's wiping and constant-time comparison, on OpenSSL's primitives.
#include "core/secret.hpp"

#include <openssl/crypto.h>

#include <ostream>

namespace credrotd::core {

void wipe(void* data, std::size_t size) noexcept
{
  if (data != nullptr && size != 0) {
    OPENSSL_cleanse(data, size);
  }
}

Secret::Secret(std::string_view value) : m_value(value.data(), value.size()) {}

Secret::Secret(Secret&& other) noexcept : m_value(std::move(other.m_value))
{
  // A short secret was copied out of other's in-object buffer, which still holds it.
  other.wipe_buffer();
  other.m_value.clear();
}

Secret& Secret::operator=(Secret&& other) noexcept
{
  if (this != &other) {
    wipe_buffer();
    m_value = std::move(other.m_value);
    other.wipe_buffer();
    other.m_value.clear();
  }
  return *this;
}

Secret::~Secret()
{
  wipe_buffer();
}

Secret Secret::take(std::string& value)
{
  Secret secret(value);
  wipe(value.data(), value.capacity());
  value.clear();
  return secret;
}

void Secret::wipe_buffer() noexcept
{
  wipe(m_value.data(), m_value.capacity());
}

bool operator==(const Secret& a, const Secret& b) noexcept
{
  return a.size() == b.size() && CRYPTO_memcmp(a.m_value.data(), b.m_value.data(), a.size()) == 0;
}

std::ostream& operator<<(std::ostream& out, const Secret&)
{
  return out << "<redacted>";
}

} // namespace credrotd::core
