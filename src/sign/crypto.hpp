// SPDX-License-Identifier: Apache-2.0
// Internal: reusable OpenSSL SHA-256 and HMAC contexts, and the cache of derived signing keys.
#pragma once

#include "core/secret.hpp"

#include <openssl/types.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace credrotd::sign::detail {

struct MdDeleter {
  void operator()(EVP_MD* md) const noexcept;
};
struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* ctx) const noexcept;
};

enum class Digest { sha256, sha1 };

// The OpenSSL digests, fetched once. In OpenSSL 3 the implicit fetch behind EVP_sha256() or a
// one-shot HMAC() costs about a microsecond per call, more than hashing a whole canonical
// request. Throws std::runtime_error when the default provider lacks one.
class Algorithms {
public:
  Algorithms();
  EVP_MD* md(Digest digest) const noexcept
  {
    return digest == Digest::sha256 ? m_sha256.get() : m_sha1.get();
  }

private:
  std::unique_ptr<EVP_MD, MdDeleter> m_sha256;
  std::unique_ptr<EVP_MD, MdDeleter> m_sha1;
};

// A SHA-256 context reused across calls (EVP_DigestInit_ex2 on the same EVP_MD keeps its state
// allocation).
class Sha256 {
public:
  explicit Sha256(const Algorithms& algorithms);
  void digest(std::string_view data, unsigned char (&out)[32]);

private:
  EVP_MD* m_md;
  std::unique_ptr<EVP_MD_CTX, MdCtxDeleter> m_ctx;
};

// HMAC (RFC 2104) over EVP digest contexts. set_key() absorbs key XOR ipad and key XOR opad
// into two contexts once; mac() restores them with EVP_MD_CTX_copy_ex for each message. This
// is the cheapest way to reuse a key with OpenSSL 3.0's supported API: EVP_MAC re-initialised
// with the same key does the same copies plus its own dispatch, about 20% more per MAC on
// this workload (docs/PERFORMANCE.md). The pad contexts are as sensitive as the key; OpenSSL
// wipes them when they are freed or re-keyed.
class Hmac {
public:
  Hmac(const Algorithms& algorithms, Digest digest);
  void set_key(const void* key, std::size_t size);
  // Writes the MAC of part1 || part2 under the current key; returns its length (32 or 20).
  std::size_t mac(std::string_view message, unsigned char* out);
  std::size_t mac(std::string_view part1, std::string_view part2, unsigned char* out);

  // mac(), for messages that often begin with the same 64-byte block: once a first block has
  // come twice in a row, the inner state after it is kept and later messages that begin with
  // it skip hashing it again. A SigV4 string to sign begins with the algorithm, X-Amz-Date and
  // scope, the same for every request signed with one key in one second.
  std::size_t mac_reusing_first_block(std::string_view message, unsigned char* out);

private:
  std::size_t finish(EVP_MD_CTX* inner, std::string_view rest, unsigned char* out);

  EVP_MD* m_md;
  std::size_t m_size; // digest length
  std::unique_ptr<EVP_MD_CTX, MdCtxDeleter> m_inner;
  std::unique_ptr<EVP_MD_CTX, MdCtxDeleter> m_outer;
  std::unique_ptr<EVP_MD_CTX, MdCtxDeleter> m_work;
  std::unique_ptr<EVP_MD_CTX, MdCtxDeleter> m_after_block; // m_inner, then m_block
  char m_block[64] = {};      // the first block of the last message (not secret)
  bool m_block_state = false; // m_after_block holds the state after m_block
};

// Derived keys, keyed by everything they depend on. SigV4 entries hold an HMAC-SHA256 context
// keyed with the signing key of one (secret, date, region, service); SigV2 entries one keyed
// with the secret itself. Each entry keeps a copy of its secret (a core::Secret) to recognise it;
// derived key bytes are wiped as soon as they are loaded into the context. The least recently
// used entry is evicted when the cache is full.
class KeyCache {
public:
  KeyCache(const Algorithms& algorithms, std::size_t capacity);

  Hmac& v4(const core::Secret& secret, std::string_view date, std::string_view region,
           std::string_view service);
  Hmac& v2(const core::Secret& secret);

  void clear() noexcept;
  std::size_t size() const noexcept { return m_entries.size(); }
  std::size_t capacity() const noexcept { return m_capacity; }
  std::uint64_t hits() const noexcept { return m_hits; }
  std::uint64_t misses() const noexcept { return m_misses; }

private:
  struct Entry {
    Digest digest = Digest::sha256;
    core::Secret secret;
    char date[8] = {};
    std::string region;
    std::string service;
    std::unique_ptr<Hmac> hmac;
    std::uint64_t last_use = 0;
  };

  Entry& slot_for_new_entry();

  const Algorithms* m_algorithms;
  std::size_t m_capacity;
  std::vector<Entry> m_entries;
  Hmac m_derive; // re-keyed at every step of a SigV4 derivation
  std::uint64_t m_clock = 0;
  std::uint64_t m_hits = 0;
  std::uint64_t m_misses = 0;
};

// a == b for the short strings of the hot paths (names, hosts, hashes), eight bytes at a time
// and inline: a call into libc's memcmp costs more than the comparison itself at these sizes.
// Not constant-time: never use it on secrets.
[[gnu::always_inline]] inline bool equal_bytes(std::string_view a, std::string_view b) noexcept
{
  if (a.size() != b.size()) {
    return false;
  }
  const std::size_t size = a.size();
  std::size_t i = 0;
  for (; i + 8 <= size; i += 8) {
    std::uint64_t x = 0;
    std::uint64_t y = 0;
    std::memcpy(&x, a.data() + i, 8);
    std::memcpy(&y, b.data() + i, 8);
    if (x != y) {
      return false;
    }
  }
  for (; i < size; ++i) {
    if (a[i] != b[i]) {
      return false;
    }
  }
  return true;
}

// Lower-case hex of `size` bytes, appended.
void append_hex(const unsigned char* data, std::size_t size, std::string& out);
// Standard base64 with padding, appended.
void append_base64(const unsigned char* data, std::size_t size, std::string& out);

} // namespace credrotd::sign::detail
