// SPDX-License-Identifier: Apache-2.0
// OpenSSL 3 EVP digests and MACs behind the signers, fetched once and reused.
#include "sign/crypto.hpp"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <cstring>
#include <stdexcept>

namespace credrotd::sign::detail {

namespace {

[[noreturn]] void fail(const char* what)
{
  throw std::runtime_error(std::string("OpenSSL: ") + what);
}

// Wipes a fixed-size buffer when it goes out of scope.
template <std::size_t N> struct WipedBytes {
  unsigned char bytes[N] = {};
  WipedBytes() = default;
  WipedBytes(const WipedBytes&) = delete;
  WipedBytes& operator=(const WipedBytes&) = delete;
  ~WipedBytes() { core::wipe(bytes, N); }
};

} // namespace

void MdDeleter::operator()(EVP_MD* md) const noexcept
{
  EVP_MD_free(md);
}
void MdCtxDeleter::operator()(EVP_MD_CTX* ctx) const noexcept
{
  EVP_MD_CTX_free(ctx);
}
void MacDeleter::operator()(EVP_MAC* mac) const noexcept
{
  EVP_MAC_free(mac);
}
void MacCtxDeleter::operator()(EVP_MAC_CTX* ctx) const noexcept
{
  EVP_MAC_CTX_free(ctx);
}

Algorithms::Algorithms()
    : m_sha256(EVP_MD_fetch(nullptr, "SHA256", nullptr)),
      m_sha1(EVP_MD_fetch(nullptr, "SHA1", nullptr)),
      m_hmac(EVP_MAC_fetch(nullptr, "HMAC", nullptr))
{
  if (!m_sha256 || !m_sha1 || !m_hmac) {
    fail("the default provider lacks SHA256, SHA1 or HMAC");
  }
}

Sha256::Sha256(const Algorithms& algorithms)
    : m_md(algorithms.md(Digest::sha256)), m_ctx(EVP_MD_CTX_new())
{
  if (!m_ctx) {
    fail("EVP_MD_CTX_new");
  }
}

void Sha256::digest(std::string_view data, unsigned char (&out)[32])
{
  unsigned int size = 0;
  if (EVP_DigestInit_ex2(m_ctx.get(), m_md, nullptr) != 1 ||
      EVP_DigestUpdate(m_ctx.get(), data.data(), data.size()) != 1 ||
      EVP_DigestFinal_ex(m_ctx.get(), out, &size) != 1 || size != 32) {
    fail("SHA-256");
  }
}

Hmac::Hmac(const Algorithms& algorithms, Digest digest) : m_ctx(EVP_MAC_CTX_new(algorithms.hmac()))
{
  if (!m_ctx) {
    fail("EVP_MAC_CTX_new");
  }
  // OSSL_PARAM wants a mutable pointer but only reads the name.
  char name[8];
  std::strcpy(name, digest == Digest::sha256 ? "SHA256" : "SHA1");
  const OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, name, 0),
      OSSL_PARAM_construct_end(),
  };
  if (EVP_MAC_CTX_set_params(m_ctx.get(), params) != 1) {
    fail("HMAC digest");
  }
}

void Hmac::set_key(const void* key, std::size_t size)
{
  // EVP_MAC_init refuses a null key pointer even for an empty key.
  static const unsigned char k_empty = 0;
  const auto* bytes = size == 0 ? &k_empty : static_cast<const unsigned char*>(key);
  if (EVP_MAC_init(m_ctx.get(), bytes, size, nullptr) != 1) {
    fail("HMAC key");
  }
}

std::size_t Hmac::mac(std::string_view message, unsigned char* out)
{
  return mac(message, {}, out);
}

std::size_t Hmac::mac(std::string_view part1, std::string_view part2, unsigned char* out)
{
  std::size_t size = 0;
  // A null key restarts the MAC with the key already set: the pads are not recomputed.
  if (EVP_MAC_init(m_ctx.get(), nullptr, 0, nullptr) != 1 ||
      EVP_MAC_update(m_ctx.get(), reinterpret_cast<const unsigned char*>(part1.data()),
                     part1.size()) != 1 ||
      EVP_MAC_update(m_ctx.get(), reinterpret_cast<const unsigned char*>(part2.data()),
                     part2.size()) != 1 ||
      EVP_MAC_final(m_ctx.get(), out, &size, EVP_MAX_MD_SIZE) != 1) {
    fail("HMAC");
  }
  return size;
}

KeyCache::KeyCache(const Algorithms& algorithms, std::size_t capacity)
    : m_algorithms(&algorithms), m_capacity(capacity == 0 ? 1 : capacity),
      m_derive(algorithms, Digest::sha256)
{
  m_entries.reserve(m_capacity);
}

KeyCache::Entry& KeyCache::slot_for_new_entry()
{
  ++m_misses;
  if (m_entries.size() < m_capacity) {
    return m_entries.emplace_back();
  }
  Entry* oldest = &m_entries.front();
  for (Entry& entry : m_entries) {
    if (entry.last_use < oldest->last_use) {
      oldest = &entry;
    }
  }
  // Drop the old secret and key context now rather than when reused.
  *oldest = Entry{};
  return *oldest;
}

Hmac& KeyCache::v4(const core::Secret& secret, std::string_view date, std::string_view region,
                   std::string_view service)
{
  ++m_clock;
  for (Entry& entry : m_entries) {
    if (entry.digest == Digest::sha256 && std::memcmp(entry.date, date.data(), 8) == 0 &&
        entry.region == region && entry.service == service && entry.secret == secret) {
      entry.last_use = m_clock;
      ++m_hits;
      return *entry.hmac;
    }
  }

  // kDate = HMAC("AWS4" + secret, date), kRegion, kService, kSigning = HMAC(kService,
  // "aws4_request"). Every intermediate key is wiped on the way out.
  core::WipingString first_key;
  first_key.reserve(4 + secret.size());
  first_key.append("AWS4");
  first_key.append(secret.reveal().data(), secret.size());
  WipedBytes<32> k1;
  WipedBytes<32> k2;
  m_derive.set_key(first_key.data(), first_key.size());
  m_derive.mac(date.substr(0, 8), k1.bytes);
  m_derive.set_key(k1.bytes, 32);
  m_derive.mac(region, k2.bytes);
  m_derive.set_key(k2.bytes, 32);
  m_derive.mac(service, k1.bytes);
  m_derive.set_key(k1.bytes, 32);
  m_derive.mac("aws4_request", k2.bytes);
  m_derive.set_key("", 0); // leave no derived key behind in the scratch context

  Entry& entry = slot_for_new_entry();
  entry.digest = Digest::sha256;
  entry.secret = secret.clone();
  std::memcpy(entry.date, date.data(), 8);
  entry.region.assign(region);
  entry.service.assign(service);
  entry.hmac = std::make_unique<Hmac>(*m_algorithms, Digest::sha256);
  entry.hmac->set_key(k2.bytes, 32);
  entry.last_use = m_clock;
  return *entry.hmac;
}

Hmac& KeyCache::v2(const core::Secret& secret)
{
  ++m_clock;
  for (Entry& entry : m_entries) {
    if (entry.digest == Digest::sha1 && entry.secret == secret) {
      entry.last_use = m_clock;
      ++m_hits;
      return *entry.hmac;
    }
  }
  Entry& entry = slot_for_new_entry();
  entry.digest = Digest::sha1;
  entry.secret = secret.clone();
  entry.hmac = std::make_unique<Hmac>(*m_algorithms, Digest::sha1);
  entry.hmac->set_key(secret.reveal().data(), secret.size());
  entry.last_use = m_clock;
  return *entry.hmac;
}

void KeyCache::clear() noexcept
{
  m_entries.clear(); // Secret and OpenSSL both wipe on destruction
}

void append_hex(const unsigned char* data, std::size_t size, std::string& out)
{
  static constexpr char k_hex[] = "0123456789abcdef";
  const std::size_t start = out.size();
  out.resize(start + size * 2);
  char* p = out.data() + start;
  for (std::size_t i = 0; i < size; ++i) {
    *p++ = k_hex[data[i] >> 4];
    *p++ = k_hex[data[i] & 0x0f];
  }
}

void append_base64(const unsigned char* data, std::size_t size, std::string& out)
{
  static constexpr char k_alphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::size_t i = 0;
  for (; i + 3 <= size; i += 3) {
    const unsigned v = (unsigned{data[i]} << 16) | (unsigned{data[i + 1]} << 8) | data[i + 2];
    const char quad[4] = {k_alphabet[v >> 18], k_alphabet[(v >> 12) & 63],
                          k_alphabet[(v >> 6) & 63], k_alphabet[v & 63]};
    out.append(quad, 4);
  }
  if (i + 1 == size) {
    const unsigned v = unsigned{data[i]} << 16;
    const char quad[4] = {k_alphabet[v >> 18], k_alphabet[(v >> 12) & 63], '=', '='};
    out.append(quad, 4);
  } else if (i + 2 == size) {
    const unsigned v = (unsigned{data[i]} << 16) | (unsigned{data[i + 1]} << 8);
    const char quad[4] = {k_alphabet[v >> 18], k_alphabet[(v >> 12) & 63],
                          k_alphabet[(v >> 6) & 63], '='};
    out.append(quad, 4);
  }
}

} // namespace credrotd::sign::detail
