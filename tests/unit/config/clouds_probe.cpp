// SPDX-License-Identifier: Apache-2.0
// Test tool: resolves clouds with credrotd's loader and prints them as JSON lines, secrets as
// SHA-256 digests, so crosscheck_clouds.py can compare with openstack.config.
#include "config/clouds.hpp"

#include <boost/json.hpp>
#include <openssl/evp.h>

#include <array>
#include <cstdio>
#include <iostream>

namespace {

using namespace credrotd;

std::string digest(const core::Secret& secret)
{
  if (secret.empty()) {
    return {};
  }
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int size = 0;
  const std::string_view bytes = secret.reveal();
  EVP_Digest(bytes.data(), bytes.size(), md.data(), &size, EVP_sha256(), nullptr);
  std::string out = "sha256:";
  for (unsigned int i = 0; i < size; ++i) {
    std::array<char, 3> hex{};
    std::snprintf(hex.data(), hex.size(), "%02x", md[i]);
    out += hex.data();
  }
  return out;
}

std::string_view type_name(core::AuthType type)
{
  switch (type) {
  case core::AuthType::password:
    return "password";
  case core::AuthType::application_credential:
    return "application_credential";
  case core::AuthType::token:
    return "token";
  }
  return "?";
}

std::string_view interface_name(core::Interface interface)
{
  switch (interface) {
  case core::Interface::public_:
    return "public";
  case core::Interface::internal:
    return "internal";
  case core::Interface::admin:
    return "admin";
  }
  return "?";
}

} // namespace

// Usage: config_clouds_probe [--list] [NAME...]. Environment, cwd and HOME are the process's.
int main(int argc, char** argv)
{
  const auto env = config::current_host_environment();
  auto clouds = config::load_clouds(env);
  if (!clouds) {
    boost::json::object line{{"load_error", clouds.error().message}};
    std::cout << boost::json::serialize(line) << "\n";
    return 0;
  }
  for (int i = 1; i < argc; ++i) {
    const std::string name = argv[i];
    if (name == "--list") {
      boost::json::array names;
      for (const auto& cloud : clouds->cloud_names()) {
        names.emplace_back(cloud);
      }
      std::cout << boost::json::serialize(
                       boost::json::object{{"clouds", names},
                                           {"clouds_file", clouds->clouds_file()},
                                           {"secure_file", clouds->secure_file()},
                                           {"default", clouds->default_cloud()}})
                << "\n";
      continue;
    }
    auto auth = clouds->resolve(name);
    if (!auth) {
      std::cout << boost::json::serialize(boost::json::object{
                       {"cloud", name}, {"ok", false}, {"error", auth.error().message}})
                << "\n";
      continue;
    }
    boost::json::object out{
        {"cloud", name},
        {"ok", true},
        {"auth_type", type_name(auth->auth_type)},
        {"auth_url", auth->auth_url},
        {"username", auth->username},
        {"user_id", auth->user_id},
        {"user_domain_name", auth->user_domain_name},
        {"user_domain_id", auth->user_domain_id},
        {"project_name", auth->project_name},
        {"project_id", auth->project_id},
        {"project_domain_name", auth->project_domain_name},
        {"project_domain_id", auth->project_domain_id},
        {"application_credential_id", auth->application_credential_id},
        {"application_credential_name", auth->application_credential_name},
        {"password", digest(auth->password)},
        {"application_credential_secret", digest(auth->application_credential_secret)},
        {"token", digest(auth->token)},
        {"region_name", auth->region_name},
        {"interface", interface_name(auth->interface)},
        {"verify", auth->verify},
        {"cacert", auth->verify ? auth->cacert : std::string()},
        {"cert", auth->cert},
        {"key", auth->key},
    };
    std::cout << boost::json::serialize(out) << "\n";
  }
  return 0;
}
