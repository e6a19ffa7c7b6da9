// SPDX-License-Identifier: Apache-2.0
// The per-identity token cache.
#include "keystone/token_cache.hpp"

#include <fmt/format.h>

namespace credrotd::keystone {

namespace {

bool same_secrets(const core::Secret& password, const core::Secret& app_secret,
                  const core::Secret& token, const core::CloudAuth& auth)
{
  // Secret's operator== compares in constant time.
  return password == auth.password && app_secret == auth.application_credential_secret &&
         token == auth.token;
}

} // namespace

std::string token_cache_key(const core::CloudAuth& a)
{
  std::string key;
  for (const std::string* field :
       {&a.auth_url, &a.username, &a.user_id, &a.user_domain_name, &a.user_domain_id,
        &a.project_name, &a.project_id, &a.project_domain_name, &a.project_domain_id,
        &a.application_credential_id, &a.application_credential_name, &a.cacert, &a.cert, &a.key}) {
    // Length-prefixed: no two different settings give one key.
    key += fmt::format("{}:{};", field->size(), *field);
  }
  key += fmt::format("{}", static_cast<int>(a.auth_type));
  key += a.verify ? ";verify" : ";insecure";
  return key;
}

const TokenCache::Slot* TokenCache::slot_for(const core::CloudAuth& auth) const
{
  const auto it = m_slots.find(token_cache_key(auth));
  if (it == m_slots.end() ||
      !same_secrets(it->second.password, it->second.application_credential_secret, it->second.token,
                    auth)) {
    return nullptr;
  }
  return &it->second;
}

std::shared_ptr<const HeldToken> TokenCache::find(const core::CloudAuth& auth) const
{
  const Slot* slot = slot_for(auth);
  return slot != nullptr ? slot->held : nullptr;
}

void TokenCache::store(const core::CloudAuth& auth, std::shared_ptr<const HeldToken> token)
{
  Slot slot{auth.password.clone(), auth.application_credential_secret.clone(), auth.token.clone(),
            std::move(token)};
  m_slots.insert_or_assign(token_cache_key(auth), std::move(slot));
}

void TokenCache::drop(const core::CloudAuth& auth, const HeldToken* token)
{
  const auto it = m_slots.find(token_cache_key(auth));
  if (it != m_slots.end() && it->second.held.get() == token) {
    m_slots.erase(it);
  }
}

} // namespace credrotd::keystone
