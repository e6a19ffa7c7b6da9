// SPDX-License-Identifier: Apache-2.0
// keystone::Client: authenticates one CloudAuth and manages its EC2 credentials.
#pragma once

#include "core/cloud.hpp"
#include "core/error.hpp"
#include "keystone/ec2.hpp"
#include "keystone/errors.hpp"
#include "keystone/token.hpp"
#include "keystone/token_cache.hpp"
#include "net/http_client.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace credrotd::keystone {

struct ClientOptions {
  // A held token is replaced when it expires within this margin (or within a quarter of its
  // lifetime, if that is shorter).
  std::chrono::seconds token_refresh_margin{300};
  // Where the client takes its token from and leaves it, shared with the other clients of the
  // same identity (and kept across reloads); null: the client keeps its token to itself.
  std::shared_ptr<TokenCache> token_cache;
};

// HTTP client options for talking to the Keystone of `auth`: its CA file (cacert), verify:
// false (insecure, reported through base.log) and client certificate, on top of `base`.
net::ClientOptions http_options(const core::CloudAuth& auth, net::ClientOptions base = {});

// A Keystone v3 client for one identity, on one io_context thread (not thread-safe).
//
// Every call takes a deadline covering everything it does (authentication included). It
// authenticates on first use, reuses the project-scoped token until shortly before it
// expires (taking it from, and leaving it in, options.token_cache when one is given), and on a
// 401 authenticates again once and repeats the request. Calls that need a token while another
// call of this client is getting one wait for that token instead of asking for a second. EC2
// calls act as the token's user in the token's project. Errors from any call:
// - those of net::HttpClient::send (transient, timeout, tls, protocol, config), prefixed
//   with what was being done;
// - auth_rejected: Keystone refused the configured credentials (the message says which);
// - forbidden: policy refused; the message says what to change (e.g. an application-
//   credential token where this Keystone demands a password identity, a missing member role);
// - protocol: an answer that is not the JSON expected;
// - config: the CloudAuth is incomplete (no project, a user name without its domain, ...).
// Messages quote Keystone's error.message (bounded, secrets removed), never a body.
class Client {
public:
  // `http` must outlive the client and every call in progress.
  Client(net::HttpClient& http, core::CloudAuth auth, ClientOptions options = {});

  // Returns what Keystone says about the identity, authenticating first unless a token is
  // held that does not expire within the margin.
  boost::asio::awaitable<core::Result<TokenInfo>> authenticate(net::Deadline deadline);

  // Drops the held token (from the token cache too); the next call authenticates again.
  void forget_token();

  // The held token's information, or nullptr before the first authentication.
  const TokenInfo* token_info() const;

  // POST /v3/credentials with type "ec2" for `key` (see generate_ec2_key), owned by the
  // token's user in its project. Safe to repeat: a second create of the same access id
  // answers Errc::conflict, which means "it was created before". Success: the credential,
  // holding key.secret.
  boost::asio::awaitable<core::Result<Ec2Credential>> create_ec2_credential(Ec2Key key,
                                                                            net::Deadline deadline);

  // POST /v3/users/{user}/credentials/OS-EC2: Keystone chooses access and secret. Not safe
  // to repeat blindly (a lost answer leaves a credential behind: list before and after).
  boost::asio::awaitable<core::Result<Ec2Credential>>
  create_ec2_credential_os_ec2(net::Deadline deadline);

  // The EC2 credentials Keystone shows this identity, in every project, secrets included.
  // Ec2Api::os_ec2 (the default, which works wherever the OS-EC2 fallback does) lists the
  // token user's own; Ec2Api::credentials lists what /v3/credentials shows, which for an
  // admin includes other users' credentials: check user_id before touching any.
  boost::asio::awaitable<core::Result<std::vector<Ec2Credential>>>
  list_ec2_credentials(net::Deadline deadline, Ec2Api api = Ec2Api::os_ec2);

  // One credential by access id. Errors: not_found when Keystone knows no such access id.
  boost::asio::awaitable<core::Result<Ec2Credential>>
  get_ec2_credential(std::string access, net::Deadline deadline, Ec2Api api = Ec2Api::os_ec2);

  // Deletes the credential of `access` after reading it and checking that it belongs to the
  // token's user. Errors: not_found (already gone), unsafe (it belongs to another user:
  // nothing is deleted).
  //
  // OwnerCheck::done_by_caller skips that read: the caller has just read the credential
  // itself (get_ec2_credential) and compared its user_id with token_info()->user_id. Keystone
  // does not bind the user in the URL to the credential's owner: an admin token deletes any
  // user's credential through /users/{its own id}/credentials/OS-EC2/{access} (verified on
  // Keystone 22), so never pass done_by_caller without that comparison.
  enum class OwnerCheck { read_first, done_by_caller };
  boost::asio::awaitable<core::Status>
  delete_ec2_credential(std::string access, net::Deadline deadline, Ec2Api api = Ec2Api::os_ec2,
                        OwnerCheck check = OwnerCheck::read_first);

  // Authentications made so far by this client (for tests and metrics).
  int authentications() const { return m_authentications; }

private:
  bool usable(const HeldToken& token) const; // not within the refresh margin of its expiry
  boost::asio::awaitable<void> wait_for_authentication(net::Deadline deadline);
  boost::asio::awaitable<core::Status> ensure_token(net::Deadline deadline);
  boost::asio::awaitable<core::Status> authenticate_now(net::Deadline deadline);
  boost::asio::awaitable<core::Result<net::Response>>
  call(net::Method method, std::string url, core::WipingString body, net::Idempotent idempotent,
       Operation operation, Ec2Api api, net::Deadline deadline);
  ErrorContext context(Operation operation, Ec2Api api, const std::string& url) const;
  core::Error http_error(const core::Error& error, Operation operation, Ec2Api api) const;
  std::string user_url() const; // base + "/users/{user_id}/credentials/OS-EC2"

  net::HttpClient& m_http;
  core::CloudAuth m_auth;
  ClientOptions m_options;
  core::Result<std::string> m_base; // ".../v3", or why the auth_url is unusable
  std::shared_ptr<const HeldToken> m_token;
  int m_authentications = 0;
  bool m_authenticating = false; // an authenticate_now() is in progress
  std::vector<std::shared_ptr<boost::asio::steady_timer>> m_token_waiters;
};

} // namespace credrotd::keystone
