// SPDX-License-Identifier: Apache-2.0
// OpenSSL 3 EVP digests and HMAC behind the signers, fetched once and reused.
#include "sign/crypto.hpp"

#include <openssl/evp.h>

#include <array>
#include <cstring>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
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

// Constant-time equality of two secrets: no early exit, eight bytes at a time (CRYPTO_memcmp,
// behind core::Secret's ==, goes byte by byte, and this runs on every cache lookup).
bool same_secret(std::string_view a, std::string_view b) noexcept
{
  if (a.size() != b.size()) {
    return false;
  }
  std::uint64_t difference = 0;
  std::size_t i = 0;
  for (; i + 8 <= a.size(); i += 8) {
    std::uint64_t x = 0;
    std::uint64_t y = 0;
    std::memcpy(&x, a.data() + i, 8);
    std::memcpy(&y, b.data() + i, 8);
    difference |= x ^ y;
  }
  for (; i < a.size(); ++i) {
    difference |= static_cast<unsigned char>(a[i]) ^ static_cast<unsigned char>(b[i]);
  }
  return difference == 0;
}

} // namespace

void MdDeleter::operator()(EVP_MD* md) const noexcept
{
  EVP_MD_free(md);
}
void MdCtxDeleter::operator()(EVP_MD_CTX* ctx) const noexcept
{
  EVP_MD_CTX_free(ctx);
}

Algorithms::Algorithms()
    : m_sha256(EVP_MD_fetch(nullptr, "SHA256", nullptr)),
      m_sha1(EVP_MD_fetch(nullptr, "SHA1", nullptr))
{
  if (!m_sha256 || !m_sha1) {
    fail("the default provider lacks SHA256 or SHA1");
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

namespace {

constexpr std::size_t k_block_size = 64; // SHA-1 and SHA-256 alike

} // namespace

Hmac::Hmac(const Algorithms& algorithms, Digest digest)
    : m_md(algorithms.md(digest)), m_size(digest == Digest::sha256 ? 32 : 20),
      m_inner(EVP_MD_CTX_new()), m_outer(EVP_MD_CTX_new()), m_work(EVP_MD_CTX_new()),
      m_after_block(EVP_MD_CTX_new())
{
  if (!m_inner || !m_outer || !m_work || !m_after_block) {
    fail("EVP_MD_CTX_new");
  }
  set_key("", 0);
}

void Hmac::set_key(const void* key, std::size_t size)
{
  m_block_state = false;
  // K0: the key, hashed first if longer than a block, zero-padded to a block.
  WipedBytes<k_block_size> k0;
  if (size > k_block_size) {
    unsigned int hashed = 0;
    if (EVP_Digest(key, size, k0.bytes, &hashed, m_md, nullptr) != 1) {
      fail("HMAC key digest");
    }
  } else if (size != 0) {
    std::memcpy(k0.bytes, key, size);
  }
  WipedBytes<k_block_size> pad;
  for (std::size_t i = 0; i < k_block_size; ++i) {
    pad.bytes[i] = k0.bytes[i] ^ 0x36;
  }
  if (EVP_DigestInit_ex2(m_inner.get(), m_md, nullptr) != 1 ||
      EVP_DigestUpdate(m_inner.get(), pad.bytes, k_block_size) != 1) {
    fail("HMAC inner pad");
  }
  for (std::size_t i = 0; i < k_block_size; ++i) {
    pad.bytes[i] = k0.bytes[i] ^ 0x5c;
  }
  if (EVP_DigestInit_ex2(m_outer.get(), m_md, nullptr) != 1 ||
      EVP_DigestUpdate(m_outer.get(), pad.bytes, k_block_size) != 1) {
    fail("HMAC outer pad");
  }
}

std::size_t Hmac::mac(std::string_view message, unsigned char* out)
{
  return mac(message, {}, out);
}

std::size_t Hmac::mac(std::string_view part1, std::string_view part2, unsigned char* out)
{
  if (EVP_MD_CTX_copy_ex(m_work.get(), m_inner.get()) != 1 ||
      EVP_DigestUpdate(m_work.get(), part1.data(), part1.size()) != 1) {
    fail("HMAC");
  }
  return finish(m_work.get(), part2, out);
}

std::size_t Hmac::mac_reusing_first_block(std::string_view message, unsigned char* out)
{
  constexpr std::size_t k_block = sizeof m_block;
  if (message.size() < k_block) {
    return mac(message, out);
  }
  const std::string_view block = message.substr(0, k_block);
  if (!equal_bytes(block, {m_block, k_block})) {
    // A new first block: remember it, but keep its state only if it comes again, so that
    // messages that never repeat one pay nothing for the cache.
    std::memcpy(m_block, block.data(), k_block);
    m_block_state = false;
    return mac(message, out);
  }
  if (!m_block_state) {
    if (EVP_MD_CTX_copy_ex(m_after_block.get(), m_inner.get()) != 1 ||
        EVP_DigestUpdate(m_after_block.get(), block.data(), block.size()) != 1) {
      fail("HMAC");
    }
    m_block_state = true;
  }
  if (EVP_MD_CTX_copy_ex(m_work.get(), m_after_block.get()) != 1) {
    fail("HMAC");
  }
  return finish(m_work.get(), message.substr(k_block), out);
}

// Absorbs `rest` into `inner` (a copy of an inner state), then computes the outer hash.
std::size_t Hmac::finish(EVP_MD_CTX* inner, std::string_view rest, unsigned char* out)
{
  unsigned char inner_digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if ((!rest.empty() && EVP_DigestUpdate(inner, rest.data(), rest.size()) != 1) ||
      EVP_DigestFinal_ex(inner, inner_digest, &size) != 1 ||
      EVP_MD_CTX_copy_ex(m_work.get(), m_outer.get()) != 1 ||
      EVP_DigestUpdate(m_work.get(), inner_digest, size) != 1 ||
      EVP_DigestFinal_ex(m_work.get(), out, &size) != 1 || size != m_size) {
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
    if (entry.digest == Digest::sha256 && equal_bytes({entry.date, 8}, date.substr(0, 8)) &&
        equal_bytes(entry.region, region) && equal_bytes(entry.service, service) &&
        same_secret(entry.secret.reveal(), secret.reveal())) {
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
    if (entry.digest == Digest::sha1 && same_secret(entry.secret.reveal(), secret.reveal())) {
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

namespace {

// "000102...feff": the two hex digits of every byte value, looked up in one step.
constexpr std::array<char, 512> make_hex_pairs()
{
  constexpr char k_hex[] = "0123456789abcdef";
  std::array<char, 512> pairs{};
  for (std::size_t i = 0; i < 256; ++i) {
    pairs[2 * i] = k_hex[i >> 4];
    pairs[2 * i + 1] = k_hex[i & 0x0f];
  }
  return pairs;
}

constexpr std::array<char, 512> k_hex_pairs = make_hex_pairs();

} // namespace

void append_hex(const unsigned char* data, std::size_t size, std::string& out)
{
  const std::size_t start = out.size();
  out.resize(start + size * 2);
  char* p = out.data() + start;
  std::size_t i = 0;
#if defined(__SSE2__)
  // Sixteen bytes at a time: split into nibbles, interleave high and low, add '0', and 39 more
  // for the nibbles above 9 ('a' - '0' - 10).
  const __m128i low_mask = _mm_set1_epi8(0x0f);
  const __m128i nine = _mm_set1_epi8(9);
  const __m128i zero_char = _mm_set1_epi8('0');
  const __m128i letter_gap = _mm_set1_epi8('a' - '0' - 10);
  const auto to_chars = [&](__m128i nibbles) {
    const __m128i above_nine = _mm_cmpgt_epi8(nibbles, nine);
    return _mm_add_epi8(_mm_add_epi8(nibbles, zero_char), _mm_and_si128(above_nine, letter_gap));
  };
  for (; i + 16 <= size; i += 16) {
    const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(data + i));
    const __m128i high = _mm_and_si128(_mm_srli_epi16(bytes, 4), low_mask);
    const __m128i low = _mm_and_si128(bytes, low_mask);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(p + 2 * i), to_chars(_mm_unpacklo_epi8(high, low)));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(p + 2 * i + 16),
                     to_chars(_mm_unpackhi_epi8(high, low)));
  }
#endif
  for (; i < size; ++i) {
    std::memcpy(p + 2 * i, &k_hex_pairs[2 * std::size_t{data[i]}], 2);
  }
}

void append_base64(const unsigned char* data, std::size_t size, std::string& out)
{
  static constexpr char k_alphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const std::size_t start = out.size();
  out.resize(start + (size + 2) / 3 * 4);
  char* p = out.data() + start;
  std::size_t i = 0;
  for (; i + 3 <= size; i += 3) {
    const unsigned v = (unsigned{data[i]} << 16) | (unsigned{data[i + 1]} << 8) | data[i + 2];
    p[0] = k_alphabet[v >> 18];
    p[1] = k_alphabet[(v >> 12) & 63];
    p[2] = k_alphabet[(v >> 6) & 63];
    p[3] = k_alphabet[v & 63];
    p += 4;
  }
  if (i + 1 == size) {
    const unsigned v = unsigned{data[i]} << 16;
    p[0] = k_alphabet[v >> 18];
    p[1] = k_alphabet[(v >> 12) & 63];
    p[2] = '=';
    p[3] = '=';
  } else if (i + 2 == size) {
    const unsigned v = (unsigned{data[i]} << 16) | (unsigned{data[i + 1]} << 8);
    p[0] = k_alphabet[v >> 18];
    p[1] = k_alphabet[(v >> 12) & 63];
    p[2] = k_alphabet[(v >> 6) & 63];
    p[3] = '=';
  }
}

} // namespace credrotd::sign::detail
