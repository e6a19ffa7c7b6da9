// SPDX-License-Identifier: Apache-2.0
// The private bus, the daemon and the clients of the D-Bus integration tests.
#include "dbus_rig.hpp"

#include "stack_env.hpp"

#include <catch2/catch.hpp>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <sys/stat.h>
#include <unistd.h>

namespace credrotd::dbus_test {

namespace fs = std::filesystem;
namespace json = boost::json;
namespace t = consumers::test;
using testsupport::stack_value;

namespace {

const std::string k_busctl = "/usr/bin/busctl";
const std::string k_setpriv = "/usr/bin/setpriv";
const std::string k_openstack = "/usr/bin/openstack";
const std::string k_credrotd = CREDROTD_BINARY_DIR "/daemon/credrotd";
const std::string k_credrotctl = CREDROTD_BINARY_DIR "/daemon/credrotctl";

std::string read_file(const fs::path& path)
{
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_file(const fs::path& path, const std::string& text, fs::perms mode)
{
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out) {
      throw std::runtime_error("cannot write " + path.string());
    }
  }
  fs::permissions(path, mode);
}

std::string s3cfg_text(const Key& key)
{
  const std::string host = stack_value("S3_HOST") + ":" + stack_value("S3_PORT");
  return "[default]\naccess_key = " + key.access + "\nsecret_key = " + key.secret +
         "\nhost_base = " + host + "\nhost_bucket = " + host + "\nuse_https = False\n";
}

std::string value_after(const std::string& text, const std::string& key)
{
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key, 0) == 0) {
      const auto eq = line.find('=');
      auto v = line.substr(eq + 1);
      v.erase(0, v.find_first_not_of(' '));
      return v;
    }
  }
  return {};
}

// setpriv to a user (and the user's group), with no supplementary groups.
std::vector<std::string> as_user(const std::string& user, std::vector<std::string> argv)
{
  if (user.empty()) {
    return argv;
  }
  const std::string group = user == "nobody" ? "nogroup" : user;
  std::vector<std::string> out = {k_setpriv, "--reuid=" + user, "--regid=" + group,
                                  "--clear-groups", "--"};
  out.insert(out.end(), argv.begin(), argv.end());
  return out;
}

} // namespace

json::value parse_json(const std::string& text)
{
  boost::system::error_code ec;
  auto v = json::parse(text, ec);
  if (ec) {
    FAIL("not JSON (" << ec.message() << "): " << text);
  }
  return v;
}

Rig::Rig(RigOptions options) : m_options(options)
{
  std::string pattern = (fs::temp_directory_path() / "credrotd-dbus-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) {
    throw std::runtime_error(std::string("mkdtemp: ") + std::strerror(errno));
  }
  m_dir = pattern;
  fs::permissions(m_dir, fs::perms(0755));
  // Unprivileged runs need a credrotctl they can reach whatever the build tree's modes.
  fs::copy_file(k_credrotctl, m_dir / "credrotctl");
  fs::permissions(m_dir / "credrotctl", fs::perms(0755));

  start_bus();
  m_profiles.push_back("demo");
  if (m_options.failing_profile) {
    m_profiles.push_back("failing");
  }
  std::string toml = "[daemon]\nstate_dir = \"" + (m_dir / "state").string() +
                     "\"\nclouds_file = \"" + stack_value("OS_CLIENT_CONFIG_FILE") + "\"\n";
  for (const auto& profile : m_profiles) {
    const Key key = create_key();
    write_file(consumer(profile), s3cfg_text(key), fs::perms(0600));
    toml += "\n[profile." + profile + "]\ncloud = \"" + stack_value("CLOUD_ROTATOR") +
            "\"\ns3_endpoint = \"" + stack_value("S3_URL") + "\"\ngrace = \"0s\"\n";
    if (profile == "failing") {
      toml += "verify_timeout = \"2s\"\n";
    }
    toml += "\n[[profile." + profile + ".consumer]]\ntype = \"s3cmd\"\npath = \"" +
            consumer(profile).string() + "\"\n";
    if (profile == "failing") {
      toml += "check = [\"/bin/false\"]\n";
    }
  }
  write_file(config(), toml, fs::perms(0600));
  start_daemon();
}

Rig::~Rig()
{
  m_monitor.reset();
  m_daemon.reset();
  m_bus.reset();
  // Under CREDROTD_SANITIZE the daemon and credrotctl report memory errors and leaks on
  // stderr (at exit, for leaks): a report fails the test.
  {
    const auto log = daemon_log();
    INFO("credrotd's log: " << log);
    CHECK(log.find("Sanitizer") == std::string::npos);
    INFO("client output: " << m_transcript);
    CHECK(m_transcript.find("Sanitizer") == std::string::npos);
  }
  // Leave no key of ours in Keystone: the ones the files hold now (the daemon deleted the
  // others, or never created them).
  std::vector<std::string> argv = {k_openstack, "--os-cloud",  stack_value("CLOUD_ROTATOR"),
                                   "ec2",       "credentials", "delete"};
  for (const auto& profile : m_profiles) {
    argv.push_back(value_after(read_file(consumer(profile)), "access_key"));
  }
  (void)t::run(argv,
               t::clean_env({"OS_CLIENT_CONFIG_FILE=" + stack_value("OS_CLIENT_CONFIG_FILE")}),
               std::chrono::seconds(60));
  std::error_code ignored;
  fs::remove_all(m_dir, ignored);
}

fs::path Rig::consumer(const std::string& profile) const
{
  return m_dir / (profile + ".s3cfg");
}

Key Rig::key_in(const fs::path& s3cfg)
{
  const auto text = read_file(s3cfg);
  Key key{value_after(text, "access_key"), value_after(text, "secret_key")};
  if (!key.secret.empty() &&
      std::find(m_secrets.begin(), m_secrets.end(), key.secret) == m_secrets.end()) {
    m_secrets.push_back(key.secret);
  }
  return key;
}

Key Rig::create_key()
{
  const auto out =
      t::run({k_openstack, "--os-cloud", stack_value("CLOUD_ROTATOR"), "ec2", "credentials",
              "create", "-f", "json"},
             t::clean_env({"OS_CLIENT_CONFIG_FILE=" + stack_value("OS_CLIENT_CONFIG_FILE")}),
             std::chrono::seconds(60));
  if (out.exit_code != 0) {
    throw std::runtime_error("openstack ec2 credentials create failed: " + out.err);
  }
  const auto doc = parse_json(out.out).as_object();
  Key key{json::value_to<std::string>(doc.at("access")),
          json::value_to<std::string>(doc.at("secret"))};
  m_secrets.push_back(key.secret);
  return key;
}

void Rig::start_bus()
{
  const auto socket = m_dir / "bus";
  m_address = "unix:path=" + socket.string();
  const std::string type = m_options.user_mode ? "session" : "system";
  const std::string conf =
      R"(<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>)" +
      type + R"(</type>
  <listen>)" +
      m_address + R"(</listen>
  <!-- Debian's system.conf default policy: deny by default -->
  <include>)" +
      std::string(CREDROTD_SOURCE_DIR) +
      R"(/tests/integration/dbus/system-bus-default-policy.conf</include>
  <!-- credrotd's policy, as installed in /usr/share/dbus-1/system.d -->
  <include>)" +
      std::string(CREDROTD_SOURCE_DIR) +
      R"(/systemd/io.github.credrotd.conf</include>
  <!-- test only: a user the policy lets through but the daemon's own check refuses -->
  <policy user="daemon">
    <allow send_destination="io.github.credrotd"/>
  </policy>
</busconfig>
)";
  write_file(m_dir / "bus.conf", conf, fs::perms(0644));
  m_bus.emplace(std::vector<std::string>{"/usr/bin/dbus-daemon",
                                         "--config-file=" + (m_dir / "bus.conf").string(),
                                         "--nofork", "--nopidfile"},
                t::clean_env(), (m_dir / "dbus-daemon.log").string());
  const bool up = t::wait_until(
      [&] {
        if (!fs::exists(socket)) {
          return false;
        }
        const auto o = t::run({k_busctl, "--address=" + m_address, "call", "org.freedesktop.DBus",
                               "/org/freedesktop/DBus", "org.freedesktop.DBus", "GetId"},
                              t::clean_env(), std::chrono::seconds(5));
        return o.exit_code == 0;
      },
      std::chrono::seconds(10));
  if (!up) {
    throw std::runtime_error("dbus-daemon did not come up: " +
                             read_file(m_dir / "dbus-daemon.log"));
  }
  // libdbus creates the socket with the umask's mode: let every local user connect, as the
  // system bus does.
  fs::permissions(socket, fs::perms(0777));
}

void Rig::start_daemon()
{
  std::vector<std::string> argv = {k_credrotd, "--config", config().string()};
  std::vector<std::string> env = {"CREDROTD_LOG=stderr"};
  if (m_options.user_mode) {
    argv.emplace_back("--user");
    env.push_back("DBUS_SESSION_BUS_ADDRESS=" + m_address);
  } else {
    env.push_back("DBUS_SYSTEM_BUS_ADDRESS=" + m_address);
  }
  m_daemon.emplace(argv, t::clean_env(env), (m_dir / "credrotd.log").string());
  const bool named = t::wait_until(
      [&] {
        if (!daemon_running()) {
          return true; // reported below
        }
        const auto o = t::run({k_busctl, "--address=" + m_address, "call", "org.freedesktop.DBus",
                               "/org/freedesktop/DBus", "org.freedesktop.DBus", "NameHasOwner", "s",
                               "io.github.credrotd"},
                              t::clean_env(), std::chrono::seconds(5));
        return o.out.find("true") != std::string::npos;
      },
      std::chrono::seconds(20));
  if (!named || !daemon_running()) {
    throw std::runtime_error("credrotd did not take its bus name: " + daemon_log());
  }
}

bool Rig::daemon_running()
{
  if (!m_daemon) {
    return false;
  }
  // Not reaped here (the Background reaps it when stopped): a zombie has exited.
  std::ifstream in("/proc/" + std::to_string(m_daemon->pid()) + "/stat");
  std::string stat;
  if (!std::getline(in, stat)) {
    return false;
  }
  const auto close = stat.rfind(')');
  return close != std::string::npos && close + 2 < stat.size() && stat[close + 2] != 'Z';
}

void Rig::stop_daemon()
{
  m_daemon.reset();
}

std::string Rig::daemon_log() const
{
  return read_file(m_dir / "credrotd.log");
}

std::string Rig::record(const Output& o)
{
  m_transcript += o.out;
  m_transcript += o.err;
  return o.out;
}

Output Rig::ctl(const std::vector<std::string>& args, const std::string& user)
{
  std::vector<std::string> argv = {user.empty() ? k_credrotctl : (m_dir / "credrotctl").string()};
  argv.insert(argv.end(), args.begin(), args.end());
  const std::string bus_var =
      (m_options.user_mode ? "DBUS_SESSION_BUS_ADDRESS=" : "DBUS_SYSTEM_BUS_ADDRESS=") + m_address;
  const auto o = t::run(as_user(user, argv), t::clean_env({bus_var}), std::chrono::seconds(120));
  record(o);
  return o;
}

Output Rig::busctl(const std::vector<std::string>& args, const std::string& user)
{
  std::vector<std::string> argv = {k_busctl, "--address=" + m_address};
  argv.insert(argv.end(), args.begin(), args.end());
  const auto o = t::run(as_user(user, argv), t::clean_env(), std::chrono::seconds(60));
  record(o);
  return o;
}

void Rig::start_monitor()
{
  const auto log = m_dir / "monitor.log";
  m_monitor.emplace(std::vector<std::string>{k_busctl, "--address=" + m_address, "monitor",
                                             "--json=short", "--match=sender=io.github.credrotd"},
                    t::clean_env(), log.string());
  // busctl says so on stderr (the same file) once BecomeMonitor succeeded.
  const bool active =
      t::wait_until([&] { return read_file(log).find("Monitoring") != std::string::npos; },
                    std::chrono::seconds(10));
  if (!active) {
    throw std::runtime_error("busctl monitor did not start: " + read_file(log));
  }
}

std::vector<json::object> Rig::monitored()
{
  std::vector<json::object> out;
  std::istringstream in(read_file(m_dir / "monitor.log"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line.front() != '{') {
      continue;
    }
    boost::system::error_code ec;
    auto v = json::parse(line, ec);
    if (!ec && v.is_object()) {
      out.push_back(v.as_object());
    }
  }
  return out;
}

std::optional<json::object> Rig::wait_finished(std::int64_t rotation, std::chrono::seconds limit)
{
  std::optional<json::object> found;
  t::wait_until(
      [&] {
        for (const auto& m : monitored()) {
          if (m.contains("member") && m.at("member") == "RotationFinished" &&
              m.at("payload").at("data").at(1).to_number<std::int64_t>() == rotation) {
            found = m;
            return true;
          }
        }
        return false;
      },
      limit);
  return found;
}

bool Rig::s3_accepts(const fs::path& s3cfg)
{
  const auto o = t::run({"/usr/bin/s3cmd", "-c", s3cfg.string(), "ls"}, t::clean_env(),
                        std::chrono::seconds(60));
  record(o);
  return o.exit_code == 0;
}

namespace {

void append_private(const std::string& path, const std::string& text)
{
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  REQUIRE(fd >= 0);
  const auto written = ::write(fd, text.data(), text.size());
  ::close(fd);
  REQUIRE(written == static_cast<ssize_t>(text.size()));
}

} // namespace

void Rig::check_no_secret()
{
  for (const auto& profile : m_profiles) {
    key_in(consumer(profile)); // the files' current secrets join the list
  }
  const std::string everything = m_transcript + daemon_log() + read_file(m_dir / "monitor.log") +
                                 read_file(m_dir / "dbus-daemon.log");
  for (const auto& secret : m_secrets) {
    INFO("a secret from a consumer file appears in the captured output");
    CHECK(everything.find(secret) == std::string::npos);
  }
  // The suite-wide check (tests/integration/faults/scan_secrets.py, after every integration
  // test) looks for these secrets in every other test's output, and for every other test's
  // secrets in this one's: one file of each per process, 0600, in the directory the
  // secrets/reset test empties at the start of a run (CREDROTD_SECRET_SCAN_DIR in
  // tests/integration/CMakeLists.txt).
  {
    const fs::path dir = fs::path(CREDROTD_BINARY_DIR) / "secret-scan";
    fs::create_directories(dir);
    fs::permissions(dir, fs::perms::owner_all);
    const std::string stem = (dir / ("integration_dbus-" + std::to_string(::getpid()))).string();
    std::string secrets;
    for (const auto& secret : m_secrets) {
      secrets += json::serialize(json::value(secret)) + "\n";
    }
    json::object output{{"label", "integration_dbus transcript and daemon log"},
                        {"text", everything}};
    append_private(stem + ".secrets", secrets);
    append_private(stem + ".outputs", json::serialize(output) + "\n");
  }
}

} // namespace credrotd::dbus_test
