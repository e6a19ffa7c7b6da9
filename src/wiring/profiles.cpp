// SPDX-License-Identifier: Apache-2.0
// From configuration to engine profiles.
#include "wiring/profiles.hpp"

#include "config/config_file.hpp"
#include "core/text.hpp"
#include "keystone/client.hpp"
#include "s3/verifier.hpp"
#include "wiring/consumers_port.hpp"
#include "wiring/keystone_port.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>

namespace credrotd::wiring {

namespace {

using std::chrono::duration_cast;
using std::chrono::milliseconds;

bool looks_like_id(std::string_view s)
{
  return s.size() == 32 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

// A Keystone client together with the HTTP client it talks through.
struct KeystoneHolder {
  std::shared_ptr<net::HttpClient> http;
  keystone::Client client;
};

struct VerifierHolder {
  std::shared_ptr<net::HttpClient> http;
  s3::Verifier verifier;
};

std::string tls_key(const net::TlsOptions& tls)
{
  return tls.ca_file + '\n' + (tls.insecure == net::Insecure::yes ? "insecure" : "verify") + '\n' +
         tls.client_cert_file + '\n' + tls.client_key_file;
}

std::string identity_key(const core::CloudAuth& a)
{
  // Everything that makes a different token; secrets are not part of the key (two profiles
  // with the same user and different passwords would be a configuration error anyway).
  const std::string type = fmt::format("{}", static_cast<int>(a.auth_type));
  const std::array<std::string_view, 14> fields{a.auth_url,
                                                type,
                                                a.username,
                                                a.user_id,
                                                a.user_domain_name,
                                                a.user_domain_id,
                                                a.project_name,
                                                a.project_id,
                                                a.project_domain_name,
                                                a.project_domain_id,
                                                a.application_credential_id,
                                                a.application_credential_name,
                                                a.cacert,
                                                a.verify ? "v" : "i"};
  return core::join(fields, "\n");
}

} // namespace

core::RotationPolicy rotation_policy(const core::ProfileSettings& s)
{
  core::RotationPolicy p;
  p.verify_timeout = duration_cast<milliseconds>(s.verify_timeout);
  p.grace = duration_cast<milliseconds>(s.grace);
  return p;
}

core::SchedulePolicy schedule_policy(const core::ProfileSettings& s)
{
  core::SchedulePolicy p;
  p.interval = duration_cast<milliseconds>(s.interval);
  p.jitter = duration_cast<milliseconds>(s.jitter);
  if (s.window) {
    p.window = core::DailyWindow{static_cast<int>(s.window->start.count()),
                                 static_cast<int>(s.window->end.count() % (24 * 60))};
  }
  return p;
}

core::Result<core::CloudAuth> resolve_auth(const core::Profile& profile,
                                           const config::CloudsConfig& clouds)
{
  CREDROTD_TRY_ASSIGN(auto auth, config::profile_auth(profile, clouds));
  if (!profile.project.empty()) {
    if (looks_like_id(profile.project)) {
      auth.project_id = profile.project;
      auth.project_name.clear();
    } else {
      auth.project_name = profile.project;
      auth.project_id.clear();
      if (auth.project_domain_id.empty() && auth.project_domain_name.empty()) {
        auth.project_domain_id = auth.user_domain_id;
        auth.project_domain_name = auth.user_domain_name;
      }
    }
  }
  return auth;
}

core::Result<std::shared_ptr<net::HttpClient>>
ProfileFactory::client_for(const net::ClientOptions& options)
{
  const std::string key = tls_key(options.tls);
  if (const auto it = m_clients.find(key); it != m_clients.end()) {
    return it->second;
  }
  CREDROTD_TRY_ASSIGN(auto client, net::HttpClient::create(m_context.executor, options));
  auto shared = std::make_shared<net::HttpClient>(std::move(client));
  m_clients.emplace(key, shared);
  return shared;
}

core::Result<std::vector<std::shared_ptr<const engine::ProfileRuntime>>>
ProfileFactory::build(const core::Config& config, const config::CloudsConfig& clouds)
{
  m_clients.clear();
  std::map<std::string, std::shared_ptr<keystone::Client>> keystones;
  std::vector<std::shared_ptr<const engine::ProfileRuntime>> out;
  net::ClientOptions base;
  base.log = m_context.log;
  base.proxy = net::ProxyOptions::from_environment();

  for (const auto& profile : config.profiles) {
    const auto where = [&](const core::Error& e) {
      return core::make_error(e.code, "profile " + profile.name + " (" +
                                          profile.location.to_string() + "): " + e.message);
    };
    auto auth = resolve_auth(profile, clouds);
    if (!auth) {
      return where(auth.error());
    }
    auto runtime = std::make_shared<engine::ProfileRuntime>();
    runtime->name = profile.name;
    runtime->rotation = rotation_policy(profile);
    runtime->schedule = schedule_policy(profile);
    runtime->create_method = profile.create_method;
    runtime->confirm_retire = profile.confirm_retire;
    runtime->recheck_after = profile.confirm_retire_recheck;
    runtime->enabled = profile.enabled;
    const auto budget = duration_cast<milliseconds>(profile.keystone_timeout);

    // Keystone: one client (and token) per identity.
    const std::string id = identity_key(*auth);
    auto ks = keystones.find(id);
    if (ks == keystones.end()) {
      auto http = client_for(keystone::http_options(*auth, base));
      if (!http) {
        return where(http.error());
      }
      keystone::ClientOptions options;
      options.token_cache = m_tokens;
      auto holder = std::make_shared<KeystoneHolder>(
          KeystoneHolder{*http, keystone::Client(**http, std::move(*auth), options)});
      ks = keystones.emplace(id, std::shared_ptr<keystone::Client>(holder, &holder->client)).first;
    }
    runtime->keystone = std::make_shared<KeystoneAdapter>(ks->second, budget);

    // S3: the profile's endpoint and TLS settings.
    net::ClientOptions s3_options = base;
    s3_options.tls.ca_file = profile.ca_file;
    s3_options.tls.insecure = profile.insecure ? net::Insecure::yes : net::Insecure::no;
    auto http = client_for(s3_options);
    if (!http) {
      return where(http.error());
    }
    s3::VerifierOptions vo;
    vo.endpoint = profile.s3_endpoint;
    vo.region = profile.region;
    vo.addressing = profile.addressing;
    vo.signatures = profile.signatures;
    vo.checks = profile.checks;
    vo.bucket = profile.bucket;
    vo.probe_prefix = profile.probe_prefix;
    auto verifier = std::make_shared<VerifierHolder>(
        VerifierHolder{*http, s3::Verifier(**http, std::move(vo))});
    runtime->s3 =
        std::make_shared<S3Adapter>(std::shared_ptr<s3::Verifier>(verifier, &verifier->verifier));

    runtime->consumers =
        std::make_shared<ConsumersAdapter>(m_context.executor, profile.consumers, m_context.units);
    out.push_back(std::move(runtime));
  }
  return out;
}

} // namespace credrotd::wiring
