// SPDX-License-Identifier: Apache-2.0
// keystone::TokenCache: one Keystone token per identity, shared by its clients across reloads.
#pragma once

#include "core/cloud.hpp"
#include "core/secret.hpp"
#include "keystone/token.hpp"

#include <cstddef>
#include <map>
#include <memory>
#include <string>

namespace credrotd::keystone {

// A token Keystone issued: its id (a secret) and what it says.
struct HeldToken {
  core::Secret id;
  TokenInfo info;
};

// The tokens of the identities a daemon uses, so that every rotation and every profile of one
// identity reuses one token until it nears expiry, and a reload (which builds new clients)
// keeps it. Keyed by everything in a CloudAuth that shapes the token (auth URL, method, user,
// project, application credential, TLS settings); the secrets are not part of the key but are
// compared (in constant time) on every lookup, so a changed password or application-credential
// secret never gets the token the old one earned. On one io_context thread (not thread-safe).
// Token ids live only in memory, in wiping storage.
class TokenCache {
public:
  // The token held for `auth`, or nullptr when there is none or its secrets differ. The
  // caller checks its expiry.
  std::shared_ptr<const HeldToken> find(const core::CloudAuth& auth) const;

  // Makes `token` the one held for `auth` (replacing any other).
  void store(const core::CloudAuth& auth, std::shared_ptr<const HeldToken> token);

  // Forgets the token held for `auth` if it is `token` (a 401 showed it dead); a token another
  // client has stored meanwhile stays.
  void drop(const core::CloudAuth& auth, const HeldToken* token);

  std::size_t size() const noexcept { return m_slots.size(); }

private:
  struct Slot {
    core::Secret password;
    core::Secret application_credential_secret;
    core::Secret token;
    std::shared_ptr<const HeldToken> held;
  };
  const Slot* slot_for(const core::CloudAuth& auth) const;

  std::map<std::string, Slot> m_slots;
};

// The cache key of `auth`: its settings that shape a token, without its secrets.
std::string token_cache_key(const core::CloudAuth& auth);

} // namespace credrotd::keystone
