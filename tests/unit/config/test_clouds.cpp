// SPDX-License-Identifier: Apache-2.0
// clouds.yaml, secure.yaml and OS_* read the way the openstack CLI reads them.
#include "config/clouds.hpp"
#include "temp_dir.hpp"

#include <catch2/catch.hpp>

using namespace credrotd;
using config::CloudsInput;
using config::YamlDocument;

namespace {

// Every secret used below; no message or warning may ever contain one.
const std::vector<std::string> k_secrets{"Pa55-word!", "app-secret-XYZ", "gAAAA-token-123",
                                         "env-pass-789", "12345"};

void check_no_secret(const std::string& text)
{
  for (const auto& secret : k_secrets) {
    INFO(text);
    CHECK(text.find(secret) == std::string::npos);
  }
}

struct Setup {
  Setup() = default;
  Setup(std::string clouds_text, std::string secure_text,
        std::map<std::string, std::string, std::less<>> env_vars = {},
        std::optional<std::uint32_t> clouds_file_mode = std::nullopt,
        std::optional<std::uint32_t> secure_file_mode = std::nullopt)
      : clouds(std::move(clouds_text)), secure(std::move(secure_text)), env(std::move(env_vars)),
        clouds_mode(clouds_file_mode), secure_mode(secure_file_mode)
  {}

  std::string clouds;
  std::string secure;
  std::map<std::string, std::string, std::less<>> env;
  std::optional<std::uint32_t> clouds_mode;
  std::optional<std::uint32_t> secure_mode;
};

core::Result<config::CloudsConfig> parse(const Setup& setup)
{
  CloudsInput input;
  if (!setup.clouds.empty()) {
    input.clouds = YamlDocument{"/etc/openstack/clouds.yaml", setup.clouds, setup.clouds_mode};
  }
  if (!setup.secure.empty()) {
    input.secure = YamlDocument{"/etc/openstack/secure.yaml", setup.secure, setup.secure_mode};
  }
  input.clouds_candidates = {"./clouds.yaml", "/etc/openstack/clouds.yaml"};
  input.env.vars = setup.env;
  input.env.cwd = "/work";
  input.env.vars.emplace("HOME", "/home/op");
  auto result = config::parse_clouds(std::move(input));
  if (!result.has_value()) {
    check_no_secret(result.error().message);
  }
  return result;
}

config::CloudsConfig parse_ok(const Setup& setup)
{
  auto result = parse(setup);
  INFO((result.has_value() ? std::string() : result.error().message));
  REQUIRE(result.has_value());
  for (const auto& warning : result->warnings()) {
    check_no_secret(warning);
  }
  return std::move(*result);
}

core::CloudAuth resolve_ok(const config::CloudsConfig& clouds, std::string_view name,
                           std::vector<std::string>* warnings = nullptr)
{
  std::vector<std::string> local;
  auto result = clouds.resolve(name, warnings != nullptr ? warnings : &local);
  INFO((result.has_value() ? std::string() : result.error().message));
  REQUIRE(result.has_value());
  for (const auto& warning : warnings != nullptr ? *warnings : local) {
    check_no_secret(warning);
  }
  return std::move(*result);
}

std::string resolve_error(const config::CloudsConfig& clouds, std::string_view name)
{
  auto result = clouds.resolve(name);
  REQUIRE_FALSE(result.has_value());
  CHECK(result.error().code == core::Errc::config);
  check_no_secret(result.error().message);
  return result.error().message;
}

const char* const k_basic_clouds = R"(clouds:
  rgw:
    auth:
      auth_url: https://keystone.example.org:5000/v3
      username: s3rotator
      user_domain_name: Default
      project_name: storage
      project_domain_name: Default
    region_name: RegionOne
  appcred:
    auth_type: v3applicationcredential
    auth:
      auth_url: https://keystone.example.org:5000/v3
      application_credential_id: 0123abcd
  tok:
    auth_type: v3token
    auth:
      auth_url: https://keystone.example.org:5000/v3
      project_id: 42
)";

const char* const k_basic_secure = R"(clouds:
  rgw:
    auth:
      password: "Pa55-word!"
  appcred:
    auth:
      application_credential_secret: app-secret-XYZ
  tok:
    auth:
      token: gAAAA-token-123
)";

} // namespace

TEST_CASE("a password cloud is merged from clouds.yaml and secure.yaml", "[config][clouds]")
{
  const auto clouds = parse_ok({k_basic_clouds, k_basic_secure});
  CHECK(clouds.clouds_file() == "/etc/openstack/clouds.yaml");
  CHECK(clouds.secure_file() == "/etc/openstack/secure.yaml");
  const auto auth = resolve_ok(clouds, "rgw");
  CHECK(auth.name == "rgw");
  CHECK(auth.source == "/etc/openstack/clouds.yaml:2:3");
  CHECK(auth.auth_type == core::AuthType::password);
  CHECK(auth.auth_url == "https://keystone.example.org:5000/v3");
  CHECK(auth.username == "s3rotator");
  CHECK(auth.user_domain_name == "Default");
  CHECK(auth.project_name == "storage");
  CHECK(auth.project_domain_name == "Default");
  CHECK(auth.password.reveal() == "Pa55-word!");
  CHECK(auth.region_name == "RegionOne");
  CHECK(auth.interface == core::Interface::public_);
  CHECK(auth.verify);
  CHECK(auth.cacert.empty());
}

TEST_CASE("application credential and token clouds resolve with their secrets", "[config][clouds]")
{
  const auto clouds = parse_ok({k_basic_clouds, k_basic_secure});
  const auto appcred = resolve_ok(clouds, "appcred");
  CHECK(appcred.auth_type == core::AuthType::application_credential);
  CHECK(appcred.application_credential_id == "0123abcd");
  CHECK(appcred.application_credential_secret.reveal() == "app-secret-XYZ");
  CHECK(appcred.password.empty());

  std::vector<std::string> warnings;
  const auto token = resolve_ok(clouds, "tok", &warnings);
  CHECK(token.auth_type == core::AuthType::token);
  CHECK(token.token.reveal() == "gAAAA-token-123");
  CHECK(token.project_id == "42"); // a YAML integer, as a string
  REQUIRE(warnings.size() == 1);
  CHECK_THAT(warnings[0], Catch::Contains("a token expires"));
}

TEST_CASE("secure.yaml is deep-merged: nested maps merge, scalars are replaced", "[config][clouds]")
{
  const auto clouds =
      parse_ok({k_basic_clouds, "clouds:\n  rgw:\n    auth:\n      username: other\n"
                                "      password: Pa55-word!\n"
                                "    region_name: RegionTwo\n"});
  const auto auth = resolve_ok(clouds, "rgw");
  CHECK(auth.username == "other");
  CHECK(auth.user_domain_name == "Default"); // kept from clouds.yaml
  CHECK(auth.region_name == "RegionTwo");
}

TEST_CASE("YAML integers and floats become strings, as the openstack CLI sends them",
          "[config][clouds]")
{
  const auto clouds = parse_ok({"clouds:\n  c:\n    auth:\n      auth_url: http://k/v3\n"
                                "      user_id: 83\n      password: 12345\n"
                                "      project_id: 1.5\n",
                                ""});
  const auto auth = resolve_ok(clouds, "c");
  CHECK(auth.user_id == "83");
  CHECK(auth.password.reveal() == "12345");
  CHECK(auth.project_id == "1.5");
}

TEST_CASE("numbers the openstack CLI would rewrite are refused where they are written",
          "[config][clouds]")
{
  // 0123 is octal (83) and 1.50 is 1.5 to the openstack CLI: credrotd asks for quotes instead.
  for (const auto& [text, line_column] : {std::pair{"      user_id: 0123\n", "5:16"},
                                          std::pair{"      project_id: 1.50\n", "5:19"}}) {
    INFO(text);
    auto result =
        parse({std::string("clouds:\n  c:\n    auth:\n      auth_url: http://k/v3\n") + text, ""});
    REQUIRE_FALSE(result.has_value());
    CHECK(result.error().code == core::Errc::parse);
    CHECK_THAT(result.error().message,
               Catch::StartsWith("/etc/openstack/clouds.yaml:" + std::string(line_column) + ": "));
    CHECK_THAT(result.error().message, Catch::EndsWith("quote it"));
  }
  // In secure.yaml too, without repeating the value.
  auto secret = parse({k_basic_clouds, "clouds:\n  rgw:\n    auth:\n      password: 012345\n"});
  REQUIRE_FALSE(secret.has_value());
  CHECK_THAT(secret.error().message, Catch::StartsWith("/etc/openstack/secure.yaml:4:17: "));
  CHECK_THAT(secret.error().message, !Catch::Contains("012345"));
}

TEST_CASE("verify, insecure and cacert decide TLS verification", "[config][clouds]")
{
  const std::string base = "    auth: {auth_url: http://k/v3, user_id: u, password: p, "
                           "project_id: p}\n";
  SECTION("verify: false")
  {
    const auto clouds = parse_ok({"clouds:\n  c:\n    verify: false\n" + base, ""});
    std::vector<std::string> warnings;
    CHECK_FALSE(resolve_ok(clouds, "c", &warnings).verify);
    CHECK_THAT(warnings.at(0), Catch::Contains("TLS verification of Keystone is off"));
  }
  SECTION("insecure: true wins over verify: true, and a cacert is then ignored")
  {
    const auto clouds = parse_ok(
        {"clouds:\n  c:\n    insecure: true\n    verify: true\n    cacert: /ca.pem\n" + base, ""});
    std::vector<std::string> warnings;
    CHECK_FALSE(resolve_ok(clouds, "c", &warnings).verify);
    CHECK_THAT(warnings.at(0), Catch::Contains("cacert is ignored"));
  }
  SECTION("insecure as a string is true only when it says true")
  {
    const auto clouds = parse_ok(
        {"clouds:\n  a:\n    insecure: \"TRUE\"\n" + base + "  b:\n    insecure: \"1\"\n" + base,
         ""});
    CHECK_FALSE(resolve_ok(clouds, "a").verify);
    std::vector<std::string> warnings;
    CHECK(resolve_ok(clouds, "b", &warnings).verify);
    CHECK_THAT(warnings.at(0), Catch::Contains("insecure is neither true nor false; the "
                                               "openstack CLI reads it as false"));
  }
  SECTION("verify must be a YAML boolean")
  {
    const auto clouds = parse_ok({"clouds:\n  c:\n    verify: \"no\"\n" + base, ""});
    CHECK(resolve_error(clouds, "c") == "cloud 'c' (/etc/openstack/clouds.yaml:2:3): verify must "
                                        "be true or false (unquoted) "
                                        "(/etc/openstack/clouds.yaml:3:13)");
  }
  SECTION("cacert, cert and key expand ~ like Python's expanduser")
  {
    const auto clouds = parse_ok(
        {"clouds:\n  c:\n    cacert: ~/ca.pem\n    cert: /c.pem\n    key: /k.pem\n" + base, ""});
    const auto auth = resolve_ok(clouds, "c");
    CHECK(auth.verify);
    CHECK(auth.cacert == "/home/op/ca.pem");
    CHECK(auth.cert == "/c.pem");
    CHECK(auth.key == "/k.pem");
  }
}

TEST_CASE("legacy keys are mapped as the openstack loader maps them", "[config][clouds]")
{
  const auto clouds = parse_ok({R"(clouds:
  old:
    auth_plugin: password
    endpoint_type: internalURL
    auth_url: https://k/v3
    username: top-level-user
    tenant_name: legacy-project
    domain_name: Corp
    auth:
      user-name: ignored-because-username-wins
      username: auth-user
      password: Pa55-word!
  tokens:
    auth_type: token
    auth_token: gAAAA-token-123
    auth:
      auth_url: https://k/v3
      tenant_id: t1
)",
                                ""});
  const auto old = resolve_ok(clouds, "old");
  CHECK(old.auth_url == "https://k/v3");       // moved into auth from the top level
  CHECK(old.username == "auth-user");          // auth beats the top level
  CHECK(old.project_name == "legacy-project"); // tenant_name → project_name
  CHECK(old.user_domain_name == "Corp");       // domain_name → both domains
  CHECK(old.project_domain_name == "Corp");
  CHECK(old.interface == core::Interface::internal); // endpoint_type → interface, URL suffix
  const auto tokens = resolve_ok(clouds, "tokens");
  CHECK(tokens.token.reveal() == "gAAAA-token-123");
  CHECK(tokens.project_id == "t1");
}

TEST_CASE("regions: the first one is used and its values apply", "[config][clouds]")
{
  const auto clouds = parse_ok({R"(clouds:
  multi:
    regions:
      - name: RegionTwo
        values:
          interface: admin
      - RegionThree
    auth:
      auth_url: https://{region_name}.example.org/v3
      user_id: u
      password: p
      project_id: p
  listed:
    region_name: [east, west]
    auth: {auth_url: http://k/v3, user_id: u, password: p, project_id: p}
  comma:
    region_name: "north,south"
    auth: {auth_url: http://k/v3, user_id: u, password: p, project_id: p}
)",
                                ""});
  const auto multi = resolve_ok(clouds, "multi");
  CHECK(multi.region_name == "RegionTwo");
  CHECK(multi.interface == core::Interface::admin);
  CHECK(multi.auth_url == "https://RegionTwo.example.org/v3"); // str.format(**config)
  CHECK(resolve_ok(clouds, "listed").region_name == "east");
  std::vector<std::string> warnings;
  CHECK(resolve_ok(clouds, "comma", &warnings).region_name == "north");
  CHECK_THAT(warnings.at(0), Catch::Contains("comma-separated region_name is deprecated"));
}

TEST_CASE("missing fields are reported as what to add, all at once", "[config][clouds]")
{
  const auto clouds = parse_ok({R"(clouds:
  empty: {}
  user-no-domain:
    auth: {auth_url: http://k/v3, username: u, project_name: p}
  appcred:
    auth_type: v3applicationcredential
    auth: {auth_url: http://k/v3}
  appcred-name:
    auth_type: v3applicationcredential
    auth: {auth_url: http://k/v3, application_credential_name: n,
           application_credential_secret: app-secret-XYZ}
  tok:
    auth_type: token
    auth: {auth_url: http://k/v3}
)",
                                ""});
  CHECK(resolve_error(clouds, "empty") ==
        "cloud 'empty' (/etc/openstack/clouds.yaml:2:3): add auth_url (the Keystone URL, e.g. "
        "https://keystone.example.org:5000/v3); add password (in secure.yaml, mode 0600); add "
        "username (with user_domain_name) or user_id");
  CHECK(resolve_error(clouds, "user-no-domain") ==
        "cloud 'user-no-domain' (/etc/openstack/clouds.yaml:3:3): add password (in secure.yaml, "
        "mode 0600); add user_domain_name (e.g. Default) or user_domain_id: a username is only "
        "unique within its domain; add project_domain_name (e.g. Default) or project_domain_id: a "
        "project name is only unique within its domain");
  CHECK(resolve_error(clouds, "appcred") ==
        "cloud 'appcred' (/etc/openstack/clouds.yaml:5:3): add application_credential_secret (in "
        "secure.yaml, mode 0600); add application_credential_id (or application_credential_name "
        "with user_id or username)");
  CHECK_THAT(resolve_error(clouds, "appcred-name"),
             Catch::EndsWith("add user_id or username (with user_domain_name): "
                             "application_credential_name is only unique per user"));
  CHECK_THAT(resolve_error(clouds, "tok"),
             Catch::EndsWith("add token (in secure.yaml, mode 0600)"));
}

TEST_CASE("what credrotd cannot use is refused with the reason", "[config][clouds]")
{
  const auto clouds = parse_ok({R"(clouds:
  oidc:
    auth_type: v3oidcpassword
    auth: {auth_url: http://k/v3}
  none:
    auth_type: null
  extra:
    auth_type: v3applicationcredential
    auth:
      auth_url: http://k/v3
      application_credential_id: a
      application_credential_secret: app-secret-XYZ
      password: Pa55-word!
  domain-scope:
    auth: {auth_url: http://k/v3, user_id: u, password: p, domain_name: Corp}
  system:
    auth: {auth_url: http://k/v3, user_id: u, password: p, system_scope: all}
  vendor:
    profile: vexxhost
    auth: {user_id: u}
  listy:
    auth: {auth_url: http://k/v3, user_id: [u], password: p, project_id: p}
  secretlist:
    auth: {auth_url: http://k/v3, user_id: u, password: [Pa55-word!], project_id: p}
  badiface:
    interface: private
    auth: {auth_url: http://k/v3, user_id: u, password: p, project_id: p}
  notamap: just-a-string
  authnotamap:
    auth: a-string
)",
                                ""});
  CHECK(resolve_error(clouds, "oidc") ==
        "cloud 'oidc' (/etc/openstack/clouds.yaml:2:3): auth_type 'v3oidcpassword' is not "
        "supported by credrotd; use password, v3password, v3applicationcredential, token or "
        "v3token (/etc/openstack/clouds.yaml:3:16)");
  CHECK_THAT(resolve_error(clouds, "none"), Catch::Contains("auth_type 'none' is not supported"));
  CHECK(resolve_error(clouds, "extra") ==
        "cloud 'extra' (/etc/openstack/clouds.yaml:7:3): password does not apply to auth_type "
        "v3applicationcredential (the openstack CLI refuses it too); remove it "
        "(/etc/openstack/clouds.yaml:13:17)");
  CHECK_THAT(resolve_error(clouds, "domain-scope"),
             Catch::Contains("domain_name without a project asks for a domain-scoped token"));
  CHECK_THAT(resolve_error(clouds, "system"), Catch::Contains("system_scope is not supported"));
  CHECK_THAT(resolve_error(clouds, "vendor"),
             Catch::Contains("uses the vendor profile `profile`, which credrotd does not read"));
  CHECK_THAT(resolve_error(clouds, "listy"), Catch::Contains("user_id must be a string"));
  CHECK_THAT(resolve_error(clouds, "secretlist"), Catch::Contains("password must be a string"));
  CHECK_THAT(resolve_error(clouds, "badiface"),
             Catch::Contains("interface 'private' is not public, internal or admin"));
  CHECK_THAT(resolve_error(clouds, "notamap"), Catch::Contains("a cloud must be a mapping"));
  CHECK_THAT(resolve_error(clouds, "authnotamap"), Catch::Contains("auth must be a mapping"));
}

TEST_CASE("an unknown cloud names the clouds defined and the files searched", "[config][clouds]")
{
  const auto clouds = parse_ok({k_basic_clouds, k_basic_secure});
  CHECK(resolve_error(clouds, "nosuch") ==
        "cloud 'nosuch' was not found (clouds defined: rgw, appcred, tok); clouds file: "
        "/etc/openstack/clouds.yaml, secure file: /etc/openstack/secure.yaml");
  const auto nothing = parse_ok({"", ""});
  CHECK(resolve_error(nothing, "rgw") ==
        "cloud 'rgw' was not found (clouds defined: none); clouds file: none found, secure "
        "file: none found; searched: ./clouds.yaml /etc/openstack/clouds.yaml");
  CHECK_THAT(resolve_error(nothing, ""), Catch::StartsWith("no cloud name given and no default"));
}

TEST_CASE("OS_* variables make the envvars cloud", "[config][clouds]")
{
  Setup setup;
  setup.env = {{"OS_AUTH_URL", "https://k:5000/v3"},
               {"OS_USERNAME", "envuser"},
               {"OS_PASSWORD", "env-pass-789"},
               {"OS_USER_DOMAIN_NAME", "Default"},
               {"OS_PROJECT_NAME", "envproject"},
               {"OS_PROJECT_DOMAIN_ID", "default"},
               {"OS_INTERFACE", "internal"},
               {"OS_REGION_NAME", "RegionOne"},
               {"OS_CACERT", "/etc/ssl/ca.pem"},
               {"OS_TEST_TIMEOUT", "60"},
               {"OS_STDOUT_CAPTURE", "1"}};
  const auto clouds = parse_ok(setup);
  CHECK(clouds.cloud_names() == std::vector<std::string>{"envvars"});
  CHECK(clouds.default_cloud() == "envvars");
  for (const auto* name : {"envvars", ""}) {
    const auto auth = resolve_ok(clouds, name);
    CHECK(auth.name == "envvars");
    CHECK(auth.source == "the OS_* environment variables");
    CHECK(auth.auth_url == "https://k:5000/v3");
    CHECK(auth.username == "envuser");
    CHECK(auth.password.reveal() == "env-pass-789");
    CHECK(auth.project_name == "envproject");
    CHECK(auth.project_domain_id == "default");
    CHECK(auth.interface == core::Interface::internal);
    CHECK(auth.region_name == "RegionOne");
    CHECK(auth.cacert == "/etc/ssl/ca.pem");
  }
}

TEST_CASE("the envvars cloud: names, selectors and messages in OS_ terms", "[config][clouds]")
{
  SECTION("selectors alone make no cloud")
  {
    Setup setup;
    setup.env = {{"OS_CLOUD", "rgw"}, {"OS_REGION_NAME", "R"}, {"OS_CLIENT_CONFIG_FILE", "/x"}};
    setup.clouds = k_basic_clouds;
    setup.secure = k_basic_secure;
    const auto clouds = parse_ok(setup);
    CHECK(clouds.cloud_names() == std::vector<std::string>{"rgw", "appcred", "tok"});
    CHECK(clouds.default_cloud() == "rgw");
    CHECK(resolve_ok(clouds, "").name == "rgw");
  }
  SECTION("OS_CLOUD_NAME renames it")
  {
    Setup setup;
    setup.env = {{"OS_CLOUD_NAME", "fromenv"},
                 {"OS_AUTH_TYPE", "v3applicationcredential"},
                 {"OS_AUTH_URL", "http://k/v3"},
                 {"OS_APPLICATION_CREDENTIAL_ID", "id"},
                 {"OS_APPLICATION_CREDENTIAL_SECRET", "app-secret-XYZ"},
                 {"OS_INSECURE", "true"}};
    const auto clouds = parse_ok(setup);
    const auto auth = resolve_ok(clouds, "fromenv");
    CHECK(auth.auth_type == core::AuthType::application_credential);
    CHECK(auth.application_credential_secret.reveal() == "app-secret-XYZ");
    CHECK_FALSE(auth.verify);
  }
  SECTION("missing fields are named as variables")
  {
    Setup setup;
    setup.env = {{"OS_USERNAME", "u"}, {"OS_PROJECT_ID", "p"}, {"OS_VERIFY", "false"}};
    const auto clouds = parse_ok(setup);
    CHECK(resolve_error(clouds, "envvars") ==
          "cloud 'envvars' (the OS_* environment variables): OS_VERIFY must be true or false "
          "(unquoted); use OS_INSECURE=true to turn verification off; add "
          "OS_AUTH_URL (the Keystone URL, e.g. https://keystone.example.org:5000/v3); add "
          "OS_PASSWORD; add OS_USER_DOMAIN_NAME (e.g. Default) or OS_USER_DOMAIN_ID: a username "
          "is only unique within its domain");
  }
  SECTION("a file cloud named like the environment's cloud is refused")
  {
    Setup setup;
    setup.clouds = "clouds:\n  envvars: {}\n";
    auto result = parse(setup);
    REQUIRE_FALSE(result.has_value());
    CHECK(result.error().message ==
          "/etc/openstack/clouds.yaml:2:3: defines a cloud named 'envvars', the name reserved "
          "for the OS_* environment variables' cloud (OS_CLOUD_NAME); rename the cloud or set "
          "OS_CLOUD_NAME");
  }
  SECTION("with exactly one file cloud and no OS_CLOUD, it is the default")
  {
    Setup setup;
    setup.clouds = "clouds:\n  only:\n    auth: {auth_url: http://k/v3}\n";
    CHECK(parse_ok(setup).default_cloud() == "only");
  }
}

TEST_CASE("parse errors in either file name the file, line and column", "[config][clouds]")
{
  SECTION("a tab")
  {
    auto result = parse({"clouds:\n  c1:\n    auth:\t{}\n", ""});
    REQUIRE_FALSE(result.has_value());
    CHECK(result.error().code == core::Errc::parse);
    CHECK_THAT(result.error().message,
               Catch::StartsWith("/etc/openstack/clouds.yaml:3:10: tab character"));
  }
  SECTION("a broken secure.yaml never shows the secret")
  {
    auto result = parse({k_basic_clouds, "clouds:\n  rgw:\n    auth:\n      password: "
                                         "\"Pa55-word!\n"});
    REQUIRE_FALSE(result.has_value());
    CHECK_THAT(result.error().message,
               Catch::StartsWith("/etc/openstack/secure.yaml:4:17: this quoted string is never "
                                 "closed"));
  }
  SECTION("the top level must be a mapping with a mapping under clouds")
  {
    auto list = parse({"- a\n- b\n", ""});
    REQUIRE_FALSE(list.has_value());
    CHECK(list.error().message ==
          "/etc/openstack/clouds.yaml: the top level must be a mapping with a `clouds:` key");
    auto scalar = parse({"clouds: 3\n", ""});
    REQUIRE_FALSE(scalar.has_value());
    CHECK(scalar.error().message == "/etc/openstack/clouds.yaml:1:9: `clouds` must be a mapping "
                                    "of cloud names to settings");
  }
  SECTION("BOM and CRLF are fine")
  {
    const auto clouds = parse_ok({"\xEF\xBB\xBF"
                                  "clouds:\r\n  c:\r\n    auth:\r\n      auth_url: http://k/v3\r\n"
                                  "      user_id: u\r\n      password: p\r\n",
                                  ""});
    const auto auth = resolve_ok(clouds, "c");
    CHECK(auth.auth_url == "http://k/v3");
    CHECK(auth.password.reveal() == "p");
  }
}

TEST_CASE("files holding secrets readable by group or others are warned about", "[config][clouds]")
{
  SECTION("secure.yaml 0644 with a secret")
  {
    Setup setup{k_basic_clouds, k_basic_secure, {}, 0640, 0644};
    const auto clouds = parse_ok(setup);
    REQUIRE(clouds.warnings().size() == 1);
    CHECK(clouds.warnings()[0] == "/etc/openstack/secure.yaml holds secrets and is readable by "
                                  "group or others (mode 0644); chmod 600 "
                                  "/etc/openstack/secure.yaml");
  }
  SECTION("clouds.yaml 0640 without secrets, secure.yaml 0600: no warning")
  {
    Setup setup{k_basic_clouds, k_basic_secure, {}, 0640, 0600};
    CHECK(parse_ok(setup).warnings().empty());
  }
  SECTION("a clouds.yaml holding a password, readable by others")
  {
    Setup setup{std::string(k_basic_clouds) + "  inline:\n    auth:\n      password: Pa55-word!\n",
                "",
                {},
                0604,
                std::nullopt};
    const auto clouds = parse_ok(setup);
    REQUIRE(clouds.warnings().size() == 1);
    CHECK_THAT(clouds.warnings()[0], Catch::StartsWith("/etc/openstack/clouds.yaml holds secrets"));
  }
  SECTION("writable by group: anyone in it can redirect auth_url")
  {
    Setup setup{k_basic_clouds, "", {}, 0664, std::nullopt};
    const auto clouds = parse_ok(setup);
    REQUIRE(clouds.warnings().size() == 1);
    CHECK_THAT(clouds.warnings()[0],
               Catch::Contains("is writable by group or others (mode 0664): whoever can edit it "
                               "can point auth_url elsewhere"));
  }
}

TEST_CASE("the search path is the openstack CLI's", "[config][clouds]")
{
  config::HostEnvironment env;
  env.cwd = "/srv/work";
  env.vars = {{"HOME", "/home/op"}};
  CHECK(config::clouds_search_dirs(env) ==
        std::vector<std::string>{"/srv/work", "/home/op/.config/openstack",
                                 "/home/op/.config/openstack", "/etc/xdg/openstack",
                                 "/etc/openstack"});
  env.vars = {
      {"XDG_CONFIG_HOME", "/x"}, {"SNAP_REAL_HOME", "/snap/home"}, {"XDG_CONFIG_DIRS", "/a:/b/"}};
  env.passwd_home = "/var/lib/credrotd";
  CHECK(config::clouds_search_dirs(env) ==
        std::vector<std::string>{"/srv/work", "/x/openstack", "/snap/home/.config/openstack",
                                 "/a/openstack:/b/openstack", "/etc/openstack"});
  env.vars = {{"OS_CLIENT_CONFIG_FILE", "/etc/first.yaml"}};
  const auto candidates = config::clouds_candidates(env, "clouds", "");
  REQUIRE(candidates.size() == 16);
  CHECK(candidates[0] == "/etc/first.yaml");
  CHECK(candidates[1] == "/srv/work/clouds.yaml");
  CHECK(candidates[2] == "/srv/work/clouds.yml");
  CHECK(candidates[3] == "/srv/work/clouds.json");
  CHECK(candidates[4] == "/var/lib/credrotd/.config/openstack/clouds.yaml");
  CHECK(candidates[15] == "/etc/openstack/clouds.json");
  CHECK(config::clouds_candidates(env, "secure", "")[0] == "/srv/work/secure.yaml");
  CHECK(config::clouds_candidates(env, "clouds", "/etc/credrotd/clouds.yaml") ==
        std::vector<std::string>{"/etc/credrotd/clouds.yaml"});
}

TEST_CASE("only the first existing clouds file is read and secure.yaml is searched apart",
          "[config][clouds]")
{
  test::TempDir dir;
  const std::string cloud_a = "clouds:\n  a:\n    auth: {auth_url: http://cwd/v3, user_id: u}\n";
  const std::string cloud_b = "clouds:\n  b:\n    auth: {auth_url: http://home/v3, user_id: u}\n";
  dir.write("work/clouds.yml", cloud_a);
  dir.write("home/.config/openstack/clouds.yaml", cloud_b);
  dir.write("home/.config/openstack/secure.yaml",
            "clouds:\n  a:\n    auth: {password: Pa55-word!}\n");
  config::HostEnvironment env;
  env.cwd = dir / "work";
  env.vars = {{"HOME", dir / "home"}, {"XDG_CONFIG_DIRS", dir / "none"}};

  auto clouds = config::load_clouds(env);
  REQUIRE(clouds.has_value());
  CHECK(clouds->clouds_file() == dir / "work/clouds.yml");
  CHECK(clouds->secure_file() == dir / "home/.config/openstack/secure.yaml");
  CHECK(clouds->cloud_names() == std::vector<std::string>{"a"}); // b is shadowed entirely
  const auto a = resolve_ok(*clouds, "a");
  CHECK(a.auth_url == "http://cwd/v3");
  CHECK(a.password.reveal() == "Pa55-word!");

  SECTION("OS_CLIENT_CONFIG_FILE comes first")
  {
    const std::string first = dir.write("elsewhere.yaml", cloud_b);
    env.vars.emplace("OS_CLIENT_CONFIG_FILE", first);
    auto overridden = config::load_clouds(env);
    REQUIRE(overridden.has_value());
    CHECK(overridden->clouds_file() == first);
    // secure.yaml still adds its cloud "a" (a password only), as openstack's merge does.
    CHECK(overridden->cloud_names() == std::vector<std::string>{"b", "a"});
  }
  SECTION("a candidate that cannot be read is skipped with a warning")
  {
    dir.mkdir("work/clouds.yaml"); // a directory: open() fails, as EACCES would for non-root
    auto skipped = config::load_clouds(env);
    REQUIRE(skipped.has_value());
    CHECK(skipped->clouds_file() == dir / "work/clouds.yml");
    REQUIRE(skipped->warnings().size() == 1);
    CHECK(skipped->warnings()[0] ==
          dir / "work/clouds.yaml" + ": skipped, cannot read it: Is a directory");
  }
  SECTION("explicit files are used alone and must exist")
  {
    const std::string explicit_file = dir.write("etc/clouds.yaml", cloud_b);
    auto chosen = config::load_clouds(env, {explicit_file, dir / "etc/none.yaml"});
    REQUIRE_FALSE(chosen.has_value());
    CHECK(chosen.error().code == core::Errc::io);
    CHECK(chosen.error().message == dir / "etc/none.yaml" +
                                        ": cannot read: No such file or directory (set in "
                                        "[daemon] secure_file)");
    auto only_clouds = config::load_clouds(env, {explicit_file, ""});
    REQUIRE(only_clouds.has_value());
    CHECK(only_clouds->clouds_file() == explicit_file);
    CHECK(only_clouds->secure_file() == dir / "home/.config/openstack/secure.yaml");
  }
  SECTION("XDG_CONFIG_HOME is searched before ~/.config")
  {
    std::filesystem::remove(dir / "work/clouds.yml");
    dir.write("xdg/openstack/clouds.yaml", cloud_a);
    env.vars["XDG_CONFIG_HOME"] = dir / "xdg";
    auto xdg = config::load_clouds(env);
    REQUIRE(xdg.has_value());
    CHECK(xdg->clouds_file() == dir / "xdg/openstack/clouds.yaml");
  }
  SECTION("permission warnings come from the real file modes")
  {
    ::chmod((dir / "home/.config/openstack/secure.yaml").c_str(), 0644);
    auto loose = config::load_clouds(env);
    REQUIRE(loose.has_value());
    REQUIRE(loose->warnings().size() == 1);
    CHECK_THAT(loose->warnings()[0], Catch::Contains("holds secrets and is readable by group or "
                                                     "others (mode 0644)"));
  }
}
