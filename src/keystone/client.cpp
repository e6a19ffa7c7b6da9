// SPDX-License-Identifier: Apache-2.0
// The Keystone client's coroutines: token lifecycle, re-authentication on 401, EC2 calls.
#include "keystone/client.hpp"

#include "core/text.hpp"

#include <fmt/format.h>

// g++ 12 pairs Asio's coroutine-frame operator new with the wrong delete when it inlines
// some frames and then warns (a known false positive); the frames are Asio's, not ours.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

#include "keystone/json.hpp"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/url/encode.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>

#include <algorithm>

namespace credrotd::keystone {

namespace asio = boost::asio;

namespace {

// Percent-encodes a path segment (ids are hex in practice; never trust that).
std::string segment(std::string_view text)
{
  return boost::urls::encode(text, boost::urls::unreserved_chars);
}

std::string_view body_view(const net::Response& response)
{
  return {response.body.data(), response.body.size()};
}

std::string without_query(const std::string& url)
{
  return url.substr(0, url.find('?'));
}

} // namespace

net::ClientOptions http_options(const core::CloudAuth& auth, net::ClientOptions base)
{
  base.tls.ca_file = auth.cacert;
  base.tls.insecure = auth.verify ? net::Insecure::no : net::Insecure::yes;
  base.tls.client_cert_file = auth.cert;
  base.tls.client_key_file = auth.key;
  return base;
}

Client::Client(net::HttpClient& http, core::CloudAuth auth, ClientOptions options)
    : m_http(http), m_auth(std::move(auth)), m_options(options),
      m_base(
          identity_base(m_auth.auth_url, "cloud \"" + m_auth.name + "\" (" + m_auth.source + ")"))
{}

void Client::forget_token()
{
  if (m_options.token_cache && m_token) {
    m_options.token_cache->drop(m_auth, m_token.get());
  }
  m_token.reset();
}

const TokenInfo* Client::token_info() const
{
  return m_token ? &m_token->info : nullptr;
}

ErrorContext Client::context(Operation operation, Ec2Api api, const std::string& url) const
{
  ErrorContext context;
  context.operation = operation;
  context.api = api;
  context.auth = &m_auth;
  context.token = token_info();
  context.url = without_query(url);
  for (const core::Secret* secret :
       {&m_auth.password, &m_auth.application_credential_secret, &m_auth.token}) {
    if (!secret->empty()) {
      context.secrets.push_back(secret->reveal());
    }
  }
  if (m_token) {
    context.secrets.push_back(m_token->id.reveal());
  }
  return context;
}

core::Error Client::http_error(const core::Error& error, Operation operation, Ec2Api api) const
{
  ErrorContext ctx = context(operation, api, {});
  std::string message = error.message;
  core::redact(message, ctx.secrets, json::k_min_secret_size);
  return core::make_error(error.code,
                          fmt::format("cannot {} with Keystone: {}", describe(ctx), message));
}

asio::awaitable<core::Status> Client::authenticate_now(net::Deadline deadline)
{
  if (!m_base) {
    co_return m_base.error();
  }
  // The old token stays until a new one replaces it: other calls in flight still use it.
  // Calls that need a token meanwhile wait for this one (ensure_token), however this ends.
  struct InProgress {
    Client* client;
    explicit InProgress(Client* c) : client(c) { client->m_authenticating = true; }
    InProgress(const InProgress&) = delete;
    InProgress& operator=(const InProgress&) = delete;
    ~InProgress()
    {
      client->m_authenticating = false;
      for (auto& timer : client->m_token_waiters) {
        timer->cancel();
      }
      client->m_token_waiters.clear();
    }
  } in_progress{this};
  CREDROTD_CO_TRY_ASSIGN(auto body, auth_request_body(m_auth));
  net::Request request;
  request.method = net::Method::post;
  request.url = *m_base + "/auth/tokens";
  request.header("Content-Type", "application/json").header("Accept", "application/json");
  request.body = std::move(body);
  request.idempotent = net::Idempotent::yes; // another token is harmless
  auto response = co_await m_http.send(std::move(request), deadline);
  if (!response) {
    co_return http_error(response.error(), Operation::authenticate, Ec2Api::os_ec2);
  }
  const std::string url = *m_base + "/auth/tokens";
  if (response->status != 201 && response->status != 200) {
    co_return error_from_status(response->status, body_view(*response),
                                context(Operation::authenticate, Ec2Api::os_ec2, url));
  }
  const auto subject = response->header("X-Subject-Token");
  if (!subject || subject->empty()) {
    co_return core::make_error(core::Errc::protocol, "Keystone at " + url +
                                                         " answered the authentication without "
                                                         "an X-Subject-Token header");
  }
  CREDROTD_CO_TRY_ASSIGN(auto info, parse_token(body_view(*response)));
  if (info.project_id.empty()) {
    co_return core::make_error(core::Errc::config,
                               "cloud \"" + m_auth.name + "\" (" + m_auth.source +
                                   "): Keystone issued a token without a project scope; set "
                                   "project_name or project_id");
  }
  m_token = std::make_shared<const HeldToken>(HeldToken{core::Secret(*subject), std::move(info)});
  if (m_options.token_cache) {
    m_options.token_cache->store(m_auth, m_token);
  }
  ++m_authentications;
  co_return core::Status{};
}

bool Client::usable(const HeldToken& token) const
{
  const auto& info = token.info;
  const auto now = std::chrono::system_clock::now();
  auto margin = std::chrono::duration_cast<std::chrono::system_clock::duration>(
      m_options.token_refresh_margin);
  if (info.issued_at.time_since_epoch().count() != 0 && info.expires_at > info.issued_at) {
    margin = std::min(margin, (info.expires_at - info.issued_at) / 4);
  }
  return info.expires_at - margin > now;
}

asio::awaitable<void> Client::wait_for_authentication(net::Deadline deadline)
{
  // Past the deadline the caller goes on, and its own request reports the timeout.
  while (m_authenticating && net::Clock::now() < deadline) {
    auto timer = std::make_shared<asio::steady_timer>(co_await asio::this_coro::executor, deadline);
    m_token_waiters.push_back(timer);
    boost::system::error_code ec;
    co_await timer->async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
}

asio::awaitable<core::Status> Client::ensure_token(net::Deadline deadline)
{
  // Another call is authenticating: its token will do for this one too.
  co_await wait_for_authentication(deadline);
  if (m_token && usable(*m_token)) {
    co_return core::Status{};
  }
  if (m_options.token_cache) {
    // Another client of this identity (another build of the profiles, before a reload) may
    // hold a newer token.
    if (auto cached = m_options.token_cache->find(m_auth); cached && usable(*cached)) {
      m_token = std::move(cached);
      co_return core::Status{};
    }
  }
  co_return co_await authenticate_now(deadline);
}

asio::awaitable<core::Result<TokenInfo>> Client::authenticate(net::Deadline deadline)
{
  CREDROTD_CO_TRY(co_await ensure_token(deadline));
  co_return m_token->info;
}

asio::awaitable<core::Result<net::Response>>
Client::call(net::Method method, std::string url, core::WipingString body,
             net::Idempotent idempotent, Operation operation, Ec2Api api, net::Deadline deadline)
{
  // The caller holds a token: it ran ensure_token() to build the URL from the token's user.
  for (int round = 0;; ++round) {
    const auto used = m_token;
    net::Request request;
    request.method = method;
    request.url = url;
    request.auth_token(used->id);
    request.header("Accept", "application/json");
    if (!body.empty()) {
      request.header("Content-Type", "application/json");
      request.body = body;
    }
    request.idempotent = idempotent;
    auto response = co_await m_http.send(std::move(request), deadline);
    if (!response) {
      co_return http_error(response.error(), operation, api);
    }
    // A 401 means the token died early (revoked, Keystone restarted with new Fernet keys):
    // authenticate once more and repeat. OS-EC2 also answers 401 for an unknown access id.
    if (response->status == 401 && round == 0 &&
        !is_os_ec2_not_found(response->status, body_view(*response))) {
      co_await wait_for_authentication(deadline);
      // Another call may have replaced the token meanwhile: then repeat with that one.
      if (m_token == used) {
        if (m_options.token_cache) {
          m_options.token_cache->drop(m_auth, used.get());
        }
        CREDROTD_CO_TRY(co_await authenticate_now(deadline));
      }
      continue;
    }
    co_return std::move(*response);
  }
}

std::string Client::user_url() const
{
  return *m_base + "/users/" + segment(m_token->info.user_id) + "/credentials/OS-EC2";
}

asio::awaitable<core::Result<Ec2Credential>> Client::create_ec2_credential(Ec2Key key,
                                                                           net::Deadline deadline)
{
  CREDROTD_CO_TRY(co_await ensure_token(deadline));
  const std::string url = *m_base + "/credentials";
  auto body = credential_create_body(m_token->info.user_id, m_token->info.project_id, key);
  // Keyed by sha256(access): a repeat cannot duplicate it, so retries are safe.
  CREDROTD_CO_TRY_ASSIGN(auto response, co_await call(net::Method::post, url, std::move(body),
                                                      net::Idempotent::yes, Operation::create,
                                                      Ec2Api::credentials, deadline));
  if (response.status != 201 && response.status != 200) {
    auto ctx = context(Operation::create, Ec2Api::credentials, url);
    ctx.secrets.push_back(key.secret.reveal());
    auto error = error_from_status(response.status, body_view(response), ctx);
    if (error.code == core::Errc::conflict) {
      error.message = "an EC2 credential with access id " + key.access +
                      " exists already (Keystone keys credentials by sha256 of the access id): "
                      "an earlier create of this key went through";
    }
    co_return error;
  }
  CREDROTD_CO_TRY_ASSIGN(auto created, parse_credential(body_view(response)));
  if (created.access != key.access) {
    co_return core::make_error(core::Errc::protocol,
                               "Keystone created credential " + created.credential_id +
                                   " for another access id than the one sent");
  }
  created.secret = std::move(key.secret);
  co_return created;
}

asio::awaitable<core::Result<Ec2Credential>>
Client::create_ec2_credential_os_ec2(net::Deadline deadline)
{
  CREDROTD_CO_TRY(co_await ensure_token(deadline));
  const std::string url = user_url();
  const std::string text = os_ec2_create_body(m_token->info.project_id);
  CREDROTD_CO_TRY_ASSIGN(auto response, co_await call(net::Method::post, url,
                                                      core::WipingString(text.data(), text.size()),
                                                      net::Idempotent::no, Operation::create,
                                                      Ec2Api::os_ec2, deadline));
  if (response.status != 201 && response.status != 200) {
    co_return error_from_status(response.status, body_view(response),
                                context(Operation::create, Ec2Api::os_ec2, url));
  }
  co_return parse_os_ec2_credential(body_view(response));
}

asio::awaitable<core::Result<std::vector<Ec2Credential>>>
Client::list_ec2_credentials(net::Deadline deadline, Ec2Api api)
{
  CREDROTD_CO_TRY(co_await ensure_token(deadline));
  const std::string url = api == Ec2Api::os_ec2 ? user_url() : *m_base + "/credentials?type=ec2";
  CREDROTD_CO_TRY_ASSIGN(auto response,
                         co_await call(net::Method::get, url, {}, net::Idempotent::yes,
                                       Operation::list, api, deadline));
  if (response.status != 200) {
    co_return error_from_status(response.status, body_view(response),
                                context(Operation::list, api, url));
  }
  if (api == Ec2Api::os_ec2) {
    co_return parse_os_ec2_list(body_view(response));
  }
  co_return parse_credentials_list(body_view(response));
}

asio::awaitable<core::Result<Ec2Credential>>
Client::get_ec2_credential(std::string access, net::Deadline deadline, Ec2Api api)
{
  CREDROTD_CO_TRY(co_await ensure_token(deadline));
  const std::string url = api == Ec2Api::os_ec2
                              ? user_url() + "/" + segment(access)
                              : *m_base + "/credentials/" + credential_id_for(access);
  CREDROTD_CO_TRY_ASSIGN(auto response,
                         co_await call(net::Method::get, url, {}, net::Idempotent::yes,
                                       Operation::get, api, deadline));
  if (response.status == 403 && api == Ec2Api::credentials) {
    // For a user without admin rights, Keystone answers 403, not 404, when the credential
    // does not exist (its policy check finds no owner to compare with). OS-EC2 tells the two
    // apart.
    auto again = co_await get_ec2_credential(access, deadline, Ec2Api::os_ec2);
    if (!again && again.error().code == core::Errc::not_found) {
      co_return again.error();
    }
  }
  if (response.status != 200) {
    co_return error_from_status(response.status, body_view(response),
                                context(Operation::get, api, url));
  }
  if (api == Ec2Api::os_ec2) {
    co_return parse_os_ec2_credential(body_view(response));
  }
  co_return parse_credential(body_view(response));
}

asio::awaitable<core::Status> Client::delete_ec2_credential(std::string access,
                                                            net::Deadline deadline, Ec2Api api,
                                                            OwnerCheck check)
{
  if (check == OwnerCheck::read_first) {
    // Read it first: Keystone lets an admin delete anybody's credential, credrotd only ever
    // deletes its own user's.
    CREDROTD_CO_TRY_ASSIGN(const auto existing, co_await get_ec2_credential(access, deadline, api));
    if (existing.user_id != m_token->info.user_id) {
      co_return core::make_error(core::Errc::unsafe,
                                 "not deleting EC2 credential " + access + ": it belongs to user " +
                                     existing.user_id + ", not to " + m_token->info.user_id +
                                     " (credrotd deletes only its own user's keys)");
    }
  } else {
    CREDROTD_CO_TRY(co_await ensure_token(deadline));
  }
  const std::string url = api == Ec2Api::os_ec2
                              ? user_url() + "/" + segment(access)
                              : *m_base + "/credentials/" + credential_id_for(access);
  CREDROTD_CO_TRY_ASSIGN(auto response,
                         co_await call(net::Method::delete_, url, {}, net::Idempotent::yes,
                                       Operation::delete_, api, deadline));
  if (response.status != 204 && response.status != 200) {
    co_return error_from_status(response.status, body_view(response),
                                context(Operation::delete_, api, url));
  }
  co_return core::Status{};
}

} // namespace credrotd::keystone
