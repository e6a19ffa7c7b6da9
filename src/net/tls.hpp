// SPDX-License-Identifier: Apache-2.0
// Private to src/net: the client's TLS context (TLS 1.2+, CA file or system trust store,
// client certificate) and the verify callback that checks the host name and says in plain
// words why a certificate was refused.
#pragma once

#include "core/error.hpp"
#include "net/http_client.hpp"

#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/verify_context.hpp>

#include <functional>
#include <memory>
#include <string>

namespace credrotd::net {

// A client context for `tls`: verify_peer unless insecure, the CA file when given (the system
// trust store is loaded later, by load_system_trust()), the client certificate and key.
// Errors (Errc::config): a file that cannot be loaded, named in the message.
core::Result<boost::asio::ssl::context> make_tls_context(const TlsOptions& tls);

// Loads the system trust store into `context`. Errors: Errc::config.
core::Status load_system_trust(boost::asio::ssl::context& context);

// OpenSSL's chain check, then ssl::host_name_verification (SNI alone does not check the name,
// and the Beast 1.81 examples omit this step). The first refusal is described in `*failure`:
// "unknown CA (...)", "certificate expired on ...", "host name mismatch: the certificate is
// for DNS:a, IP:1.2.3.4, not for b; ...", instead of OpenSSL's "certificate verify failed".
std::function<bool(bool, boost::asio::ssl::verify_context&)>
verify_host(std::shared_ptr<std::string> failure, std::string host);

} // namespace credrotd::net
