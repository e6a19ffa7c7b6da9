// SPDX-License-Identifier: Apache-2.0
// The client's TLS context and certificate verification with plain-word failures (tls.hpp).
#include "net/tls.hpp"

#include <boost/asio/ssl/host_name_verification.hpp>
#include <fmt/core.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <arpa/inet.h>
#include <ctime>
#include <sys/socket.h>

namespace credrotd::net {

namespace ssl = boost::asio::ssl;

namespace {

std::string x509_name(X509_NAME* name)
{
  if (name == nullptr) {
    return "?";
  }
  char text[512];
  X509_NAME_oneline(name, text, sizeof text);
  return text;
}

std::string asn1_time_text(const ASN1_TIME* time)
{
  std::tm tm{};
  if (time == nullptr || ASN1_TIME_to_tm(time, &tm) != 1) {
    return "?";
  }
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return text;
}

// The DNS names and IP addresses a certificate is valid for, for "host name mismatch".
std::string subject_alt_names(X509* cert)
{
  auto* general_names =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (general_names == nullptr) {
    return "no subject alternative names (subject " + x509_name(X509_get_subject_name(cert)) + ")";
  }
  std::string names;
  for (int i = 0; i < sk_GENERAL_NAME_num(general_names); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(general_names, i);
    std::string entry;
    if (name->type == GEN_DNS) {
      const auto* data = ASN1_STRING_get0_data(name->d.dNSName);
      entry = "DNS:" + std::string(reinterpret_cast<const char*>(data),
                                   static_cast<std::size_t>(ASN1_STRING_length(name->d.dNSName)));
    } else if (name->type == GEN_IPADD) {
      const int length = ASN1_STRING_length(name->d.iPAddress);
      char text[INET6_ADDRSTRLEN] = {};
      if ((length == 4 || length == 16) &&
          inet_ntop(length == 4 ? AF_INET : AF_INET6, ASN1_STRING_get0_data(name->d.iPAddress),
                    text, sizeof text) != nullptr) {
        entry = std::string("IP:") + text;
      }
    }
    if (!entry.empty()) {
      names += (names.empty() ? "" : ", ") + entry;
    }
  }
  GENERAL_NAMES_free(general_names);
  return names.empty() ? "no DNS or IP names" : names;
}

std::string describe(int error, X509* cert)
{
  const std::string reason = X509_verify_cert_error_string(error);
  const auto subject = [cert] {
    return cert != nullptr ? x509_name(X509_get_subject_name(cert)) : "?";
  };
  switch (error) {
  case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
  case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
  case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
  case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
  case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    return fmt::format("unknown CA ({}; issuer {}): set cacert to the CA bundle that signed the "
                       "server's certificate",
                       reason, cert != nullptr ? x509_name(X509_get_issuer_name(cert)) : "?");
  case X509_V_ERR_CERT_HAS_EXPIRED:
    return fmt::format("certificate expired on {} ({}): the server needs a renewed certificate "
                       "(or this host's clock is wrong)",
                       cert != nullptr ? asn1_time_text(X509_get0_notAfter(cert)) : "?", subject());
  case X509_V_ERR_CERT_NOT_YET_VALID:
    return fmt::format("certificate not valid before {}: check this host's clock",
                       cert != nullptr ? asn1_time_text(X509_get0_notBefore(cert)) : "?");
  default:
    return reason;
  }
}

} // namespace

std::function<bool(bool, ssl::verify_context&)> verify_host(std::shared_ptr<std::string> failure,
                                                            std::string host)
{
  ssl::host_name_verification check(host);
  return [failure, check, host](bool preverified, ssl::verify_context& context) mutable {
    X509_STORE_CTX* store = context.native_handle();
    X509* cert = X509_STORE_CTX_get_current_cert(store);
    std::string why;
    if (!preverified) {
      why = describe(X509_STORE_CTX_get_error(store), cert);
    } else if (!check(preverified, context)) {
      why = fmt::format("host name mismatch: the certificate is for {}, not for {}; use a host "
                        "name the certificate lists, or reissue it",
                        cert != nullptr ? subject_alt_names(cert) : "?", host);
    } else {
      return true;
    }
    if (failure->empty()) {
      *failure = why;
    }
    return false;
  };
}

core::Result<ssl::context> make_tls_context(const TlsOptions& tls)
{
  ssl::context context(ssl::context::tls_client);
  SSL_CTX_set_min_proto_version(context.native_handle(), TLS1_2_VERSION);
  context.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                      ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
  boost::system::error_code ec;
  if (!tls.ca_file.empty()) {
    context.load_verify_file(tls.ca_file, ec);
    if (ec) {
      return core::make_error(core::Errc::config,
                              fmt::format("cannot load the CA file {} ({}): it must be a readable "
                                          "PEM bundle",
                                          tls.ca_file, ec.message()));
    }
  }
  if (!tls.client_cert_file.empty()) {
    context.use_certificate_chain_file(tls.client_cert_file, ec);
    if (ec) {
      return core::make_error(core::Errc::config,
                              fmt::format("cannot load the client certificate {} ({})",
                                          tls.client_cert_file, ec.message()));
    }
    const std::string& key =
        tls.client_key_file.empty() ? tls.client_cert_file : tls.client_key_file;
    context.use_private_key_file(key, ssl::context::pem, ec);
    if (ec) {
      return core::make_error(core::Errc::config,
                              fmt::format("cannot load the client key {} ({})", key, ec.message()));
    }
  }
  context.set_verify_mode(tls.insecure == Insecure::yes ? ssl::verify_none : ssl::verify_peer);
  return context;
}

core::Status load_system_trust(ssl::context& context)
{
  boost::system::error_code ec;
  context.set_default_verify_paths(ec);
  if (ec) {
    return core::make_error(core::Errc::config,
                            "cannot load the system trust store (" + ec.message() + ")");
  }
  return {};
}

} // namespace credrotd::net
