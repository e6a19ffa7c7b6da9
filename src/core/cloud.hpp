// SPDX-License-Identifier: Apache-2.0
// How credrotd authenticates to Keystone: one resolved clouds.yaml cloud (or inline auth).
#pragma once

#include "core/secret.hpp"

#include <optional>
#include <string>

namespace credrotd::core {

enum class AuthType {
  password,               // "password" / "v3password"
  application_credential, // "v3applicationcredential"
  token,                  // "token" / "v3token"
};

enum class Interface { public_, internal, admin };

// A cloud after clouds.yaml + secure.yaml + OS_* have been merged the way the openstack CLI
// merges them (src/config), ready for the Keystone client (src/keystone). Fields that the
// auth type does not use are empty. Names and ids: when both are given, the id wins.
struct CloudAuth {
  std::string name;   // the cloud's name in clouds.yaml ("envvars" for OS_* variables)
  std::string source; // where it came from, for messages: "/etc/openstack/clouds.yaml"

  AuthType auth_type = AuthType::password;
  std::string auth_url; // as configured, e.g. "https://keystone:5000/v3" (with or without /v3)

  std::string username;
  std::string user_id;
  std::string user_domain_name;
  std::string user_domain_id;

  std::string project_name;
  std::string project_id;
  std::string project_domain_name;
  std::string project_domain_id;

  Secret password;                       // password
  std::string application_credential_id; // application_credential
  std::string application_credential_name;
  Secret application_credential_secret;
  Secret token; // token

  std::string region_name;
  Interface interface = Interface::public_;
  std::string cacert; // CA bundle path; empty means the system trust store
  bool verify = true; // false only when explicitly configured (verify: false / insecure: true)
  std::string cert;   // client certificate (optional)
  std::string key;    // client key (optional)
};

} // namespace credrotd::core
