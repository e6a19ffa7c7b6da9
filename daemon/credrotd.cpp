// SPDX-License-Identifier: Apache-2.0
// credrotd's main(): arguments, configuration, and wiring of the engine to its adapters.
#include "config/clouds.hpp"
#include "config/config_file.hpp"
#include "config/duration.hpp"
#include "config/environment.hpp"
#include "consumers/consumer.hpp"
#include "dbus/bus.hpp"
#include "dbus/manager.hpp"
#include "engine/engine.hpp"
#include "store/store.hpp"
#include "systemd/journal_observer.hpp"
#include "systemd/log.hpp"
#include "systemd/notify.hpp"
#include "systemd/units.hpp"
#include "wiring/consumers_port.hpp"
#include "wiring/metrics_writer.hpp"
#include "wiring/profiles.hpp"

#include <CLI/CLI.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <filesystem>
#include <functional>
#include <iostream>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

using namespace credrotd;
namespace asio = boost::asio;

namespace {

// Exit statuses (credrotd(8), EXIT STATUS): sysexits.h values where one fits.
enum Exit : int {
  exit_ok = 0,
  exit_rotation_failed = 1, // --once: a rotation rolled back or failed
  exit_usage = 64,
  exit_unavailable = 69, // the bus cannot be reached or the name is taken
  exit_software = 70,
  exit_io = 74,       // the state database cannot be opened
  exit_tempfail = 75, // another credrotd holds the state directory; --once interrupted
  exit_config = 78,
};

// The daemon rewrites the metrics file this often even when nothing happens: key ages stay
// current and the file's mtime shows it is alive (monitoring/credrotd-alerts.yml, stale file).
constexpr std::chrono::seconds k_metrics_refresh{60};

struct Options {
  std::string config_file;
  bool user = false;
  bool once = false;
  bool dry_run = false;
  bool check_config = false;
  bool version = false;
  bool stats = false;
  std::vector<std::string> profiles;
};

struct Loaded {
  core::Config config;
  config::CloudsConfig clouds;
  std::string state_dir;
};

std::string local_time(core::TimePoint t)
{
  const std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  ::localtime_r(&secs, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S %Z", &tm);
  return buf;
}

core::TimePoint now()
{
  return std::chrono::time_point_cast<std::chrono::milliseconds>(core::Clock::now());
}

core::Result<Loaded> load(const Options& options, const config::HostEnvironment& env,
                          const systemd::Logger& logger)
{
  const auto mode = options.user ? config::RunMode::user : config::RunMode::system;
  config::ConfigPaths paths = config::default_config_paths(env, mode);
  if (!options.config_file.empty()) {
    paths.main_file = options.config_file;
    paths.dropin_dir = (std::filesystem::path(options.config_file).parent_path() / "credrotd.d");
  }
  // Without state_dir in any file: /var/lib/credrotd, or with --user
  // $XDG_STATE_HOME/credrotd.
  config::LoadOptions load_options;
  load_options.default_state_dir = config::default_state_dir(env, mode);
  CREDROTD_TRY_ASSIGN(auto loaded, config::load_config(paths, load_options));
  for (const auto& w : loaded.warnings) {
    logger.warning(w);
  }
  Loaded out{std::move(loaded.config), {}, {}};
  CREDROTD_TRY_ASSIGN(out.clouds,
                      config::load_clouds(env, config::CloudsFiles{out.config.daemon.clouds_file,
                                                                   out.config.daemon.secure_file}));
  for (const auto& w : out.clouds.warnings()) {
    logger.warning(w);
  }
  out.state_dir = out.config.daemon.state_dir.empty() ? load_options.default_state_dir
                                                      : out.config.daemon.state_dir;
  return out;
}

int report_config_error(const systemd::Logger& logger, const core::Error& error)
{
  logger.log(LOG_ERR, systemd::MessageKind::config_error, {}, error.message);
  return error.code == core::Errc::io ? exit_io : exit_config;
}

// Creates the state directory (0700) and takes its lock, so that two credrotd processes
// (a daemon and a --once, or two daemons) never run rotations on the same state.
core::Result<int> lock_state_dir(const std::string& dir)
{
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return core::make_error(core::Errc::io,
                            "cannot create the state directory " + dir + ": " + ec.message());
  }
  ::chmod(dir.c_str(), 0700);
  const std::string path = dir + "/credrotd.lock";
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    return core::make_error(core::Errc::io, "cannot open " + path + ": " + std::strerror(errno));
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    return core::make_error(core::Errc::transient,
                            "another credrotd is running with the state directory " + dir);
  }
  return fd;
}

int check_config(const Options& options, const config::HostEnvironment& env,
                 const systemd::Logger& logger)
{
  auto loaded = load(options, env, logger);
  if (!loaded) {
    std::cerr << "credrotd: " << loaded.error().message << "\n";
    return report_config_error(logger, loaded.error());
  }
  std::vector<std::string> warnings;
  if (auto checked = config::check_clouds(loaded->config, loaded->clouds, &warnings); !checked) {
    std::cerr << "credrotd: " << checked.error().message << "\n";
    return exit_config;
  }
  std::size_t consumers = 0;
  for (const auto& profile : loaded->config.profiles) {
    for (const auto& c : profile.consumers) {
      ++consumers;
      if (auto ok = consumers::check_spec(consumers::to_spec(c)); !ok) {
        std::cerr << "credrotd: " << c.location.to_string() << ": " << ok.error().message << "\n";
        return exit_config;
      }
    }
  }
  for (const auto& w : warnings) {
    std::cerr << "credrotd: warning: " << w << "\n";
  }
  std::cout << "configuration OK: " << loaded->config.profiles.size() << " profile(s), "
            << consumers << " consumer file(s), from";
  for (const auto& f : loaded->config.files) {
    std::cout << " " << f;
  }
  std::cout << "\n";
  return exit_ok;
}

// --dry-run: what a rotation of each profile would do, from the configuration, the state and
// the consumer files. Changes nothing and contacts nothing.
int dry_run(const Options& options, const config::HostEnvironment& env,
            const systemd::Logger& logger)
{
  auto loaded = load(options, env, logger);
  if (!loaded) {
    std::cerr << "credrotd: " << loaded.error().message << "\n";
    return report_config_error(logger, loaded.error());
  }
  std::optional<store::Store> state;
  const std::string db = loaded->state_dir + "/state.db";
  if (std::filesystem::exists(db)) {
    auto opened = store::Store::open(db, store::Store::Mode::read_only);
    if (!opened) {
      std::cerr << "credrotd: " << opened.error().message << "\n";
      return exit_io;
    }
    state.emplace(std::move(*opened));
  }
  for (const auto& name : options.profiles) {
    if (loaded->config.find_profile(name) == nullptr) {
      std::cerr << "credrotd: no profile named " << name << "\n";
      return exit_usage;
    }
  }
  int status = exit_ok;
  for (const auto& profile : loaded->config.profiles) {
    if (!options.profiles.empty() && std::find(options.profiles.begin(), options.profiles.end(),
                                               profile.name) == options.profiles.end()) {
      continue;
    }
    std::cout << "profile " << profile.name << " (" << profile.location.to_string() << ")"
              << (profile.enabled ? "" : " [disabled]") << "\n";
    auto auth = wiring::resolve_auth(profile, loaded->clouds);
    if (!auth) {
      std::cout << "  identity: ERROR " << auth.error().message << "\n";
      status = exit_config;
    } else {
      std::cout << "  identity: " << (auth->username.empty() ? auth->user_id : auth->username)
                << " at " << auth->auth_url << ", project "
                << (auth->project_id.empty() ? auth->project_name : auth->project_id) << "\n";
    }
    std::optional<std::string> current;
    if (state) {
      if (auto keys = state->live_keys(profile.name)) {
        for (const auto& k : *keys) {
          if (k.state == core::KeyState::current) {
            current = k.access;
          }
        }
      }
    }
    std::vector<std::string> in_files;
    std::cout << "  consumers:\n";
    for (const auto& c : profile.consumers) {
      auto key = consumers::read_key(consumers::to_spec(c));
      std::cout << "    " << core::to_string(c.type) << " " << c.path << ": ";
      if (!key) {
        std::cout << "ERROR " << key.error().message << "\n";
        status = exit_config;
      } else if (!*key) {
        std::cout << "no key yet (will be written)\n";
      } else {
        std::cout << "holds " << (*key)->access_id << "\n";
        in_files.push_back((*key)->access_id);
      }
    }
    if (current) {
      std::cout << "  current managed key: " << *current << "\n";
    } else if (!in_files.empty()) {
      std::cout << "  first rotation: the key " << in_files.front()
                << " in the files would be adopted if Keystone shows it belongs to the user\n";
    } else {
      std::cout << "  no key yet: the first rotation creates one\n";
    }
    std::cout << "  would: create a new key ("
              << (profile.create_method == core::CreateMethodChoice::os_ec2 ? "OS-EC2"
                                                                            : "/v3/credentials")
              << "), write " << profile.consumers.size() << " file(s), verify against "
              << profile.s3_endpoint << ", ";
    const auto adapter = wiring::ConsumersAdapter({}, profile.consumers, nullptr);
    for (const auto& a : adapter.unit_actions()) {
      std::cout << systemd::to_string(a.verb) << " " << a.unit << ", ";
    }
    std::cout << "wait " << config::format_duration(profile.grace) << ", then delete the old key\n";
    if (state) {
      if (auto p = state->profile(profile.name); p && *p && (*p)->next_due) {
        std::cout << "  next due: " << local_time(*(*p)->next_due) << "\n";
      }
    }
  }
  return status;
}

// Keeps systemd's STATUS= current: the number of rotations running and the next one due
// change whenever a rotation starts or the engine's state changes (a rotation ended, the
// schedule moved, a reload).
class StatusObserver final : public engine::Observer {
public:
  explicit StatusObserver(std::function<void()> update) : m_update(std::move(update)) {}
  void rotation_started(const core::Rotation& /*rotation*/) override { m_update(); }
  void state_changed() override { m_update(); }

private:
  std::function<void()> m_update;
};

// Everything the long-running modes share.
class Daemon {
public:
  Daemon(Options options, config::HostEnvironment env, systemd::Logger& logger)
      : m_options(std::move(options)), m_env(std::move(env)), m_logger(logger), m_journal(logger),
        m_notifier(m_io.get_executor()), m_signals(m_io, SIGTERM, SIGINT, SIGHUP)
  {}

  int run();

private:
  int setup();
  void open_bus();
  void start_api();
  core::Status apply_config(Loaded loaded);
  // Re-reads the configuration (SIGHUP, D-Bus Reload). On failure the previous configuration
  // stays in effect and the error says why (Errc::config/io/parse).
  core::Status reload();
  // READY=1: after configuration, state and the bus name are all up.
  void announce_ready();
  void update_status();
  void on_signal(const boost::system::error_code& ec, int signal);

  friend asio::awaitable<void> once_main(Daemon* daemon, int* status);

  Options m_options;
  config::HostEnvironment m_env;
  systemd::Logger& m_logger;
  asio::io_context m_io;
  systemd::JournalObserver m_journal;
  systemd::FanOutObserver m_observers;
  StatusObserver m_status{[this] { update_status(); }};
  systemd::Notifier m_notifier;
  asio::signal_set m_signals;
  int m_lock_fd = -1;
  std::optional<store::Store> m_store;
  std::unique_ptr<sdbus::IConnection> m_bus;
  std::unique_ptr<dbus::BusBridge> m_bridge;
  std::unique_ptr<systemd::SystemdUnits> m_units;
  std::unique_ptr<engine::Engine> m_engine;
  std::unique_ptr<wiring::ProfileFactory> m_factory;
  std::unique_ptr<wiring::MetricsWriter> m_metrics;
  std::string m_state_dir;
  std::unique_ptr<dbus::Manager> m_api; // before the bus and engine go
  int m_exit = exit_ok;
};

void Daemon::open_bus()
{
  const auto kind = m_options.user ? dbus::BusKind::session : dbus::BusKind::system;
  auto bus = dbus::open_bus(kind);
  if (!bus) {
    m_logger.warning("no D-Bus connection (" + bus.error().message +
                     "): units cannot be reloaded and the D-Bus API is off");
    return;
  }
  m_bus = std::move(*bus);
  m_bridge = std::make_unique<dbus::BusBridge>(m_io.get_executor(), *m_bus);
  m_bridge->on_failure([this](const core::Error& error) {
    m_logger.error("lost the D-Bus connection: " + error.message + "; stopping");
    m_engine->stop();
    m_io.stop();
  });
  m_bridge->start();
  auto units = systemd::SystemdUnits::create(*m_bridge);
  if (!units) {
    m_logger.warning("cannot watch systemd jobs: " + units.error().message);
  } else {
    m_units = std::move(*units);
  }
}

// The D-Bus API: the object first, then the name, asynchronously, so that a client that sees
// the name finds the object. Losing the name race (or a policy refusal) stops the daemon.
void Daemon::start_api()
{
  m_api = std::make_unique<dbus::Manager>(
      *m_bridge, *m_engine, *m_store, m_logger, [this] { return reload(); },
      dbus::ManagerOptions{m_options.user ? dbus::BusMode::user : dbus::BusMode::system,
                           CREDROTD_VERSION});
  m_observers.add(m_api->observer());
  asio::co_spawn(m_io, dbus::request_name(*m_bridge, dbus::k_bus_name, std::chrono::seconds(25)),
                 [this](std::exception_ptr e, core::Status named) {
                   if (!e && named) {
                     m_logger.info(std::string("D-Bus name ") + dbus::k_bus_name + " acquired");
                     announce_ready();
                     return;
                   }
                   m_logger.error(std::string("cannot own the D-Bus name ") + dbus::k_bus_name +
                                  ": " +
                                  (e ? std::string("internal error") : named.error().describe()));
                   m_exit = exit_unavailable;
                   m_engine->stop();
                   m_bridge->stop();
                   m_io.stop();
                 });
}

core::Status Daemon::apply_config(Loaded loaded)
{
  CREDROTD_TRY_ASSIGN(auto profiles, m_factory->build(loaded.config, loaded.clouds));
  m_engine->set_profiles(std::move(profiles));
  return {};
}

int Daemon::setup()
{
  auto loaded = load(m_options, m_env, m_logger);
  if (!loaded) {
    return report_config_error(m_logger, loaded.error());
  }
  m_state_dir = loaded->state_dir;
  auto lock = lock_state_dir(m_state_dir);
  if (!lock) {
    m_logger.error(lock.error().message);
    return lock.error().code == core::Errc::transient ? exit_tempfail : exit_io;
  }
  m_lock_fd = *lock;
  auto opened = store::Store::open(m_state_dir + "/state.db");
  if (!opened) {
    m_logger.error(opened.error().message);
    return exit_io;
  }
  m_store.emplace(std::move(*opened));

  bool needs_bus = !m_options.once;
  for (const auto& p : loaded->config.profiles) {
    for (const auto& c : p.consumers) {
      needs_bus = needs_bus || !c.reload.empty();
    }
  }
  if (needs_bus) {
    open_bus();
  }

  m_observers.add(m_journal);
  m_observers.add(m_status);
  m_engine = std::make_unique<engine::Engine>(
      m_io.get_executor(), *m_store, m_observers,
      engine::EngineOptions{static_cast<int>(loaded->config.daemon.max_concurrent)});
  if (!loaded->config.daemon.metrics_file.empty()) {
    m_metrics = std::make_unique<wiring::MetricsWriter>(loaded->config.daemon.metrics_file,
                                                        *m_engine, m_logger);
    m_observers.add(*m_metrics);
  }
  m_engine->on_fatal([this](const core::Error& error) {
    m_logger.error("stopping: " + error.message);
    m_exit = error.code == core::Errc::internal ? exit_software : exit_io;
    m_engine->stop();
    if (m_bridge) {
      m_bridge->stop();
    }
    m_io.stop();
  });
  m_factory = std::make_unique<wiring::ProfileFactory>(wiring::FactoryContext{
      m_io.get_executor(), m_units.get(), [this](net::LogLevel level, std::string_view message) {
        if (level == net::LogLevel::warning) {
          m_logger.warning(message);
        }
      }});
  if (auto applied = apply_config(std::move(*loaded)); !applied) {
    return report_config_error(m_logger, applied.error());
  }
  return exit_ok;
}

void Daemon::update_status()
{
  if (!m_engine) {
    return;
  }
  auto statuses = m_engine->status_all();
  if (!statuses) {
    return;
  }
  std::optional<std::pair<core::TimePoint, std::string>> next;
  for (const auto& s : *statuses) {
    if (s.enabled && s.next_due && (!next || *s.next_due < next->first)) {
      next = std::pair{*s.next_due, s.name};
    }
  }
  std::string text = std::to_string(statuses->size()) + " profile(s)";
  if (m_engine->running_count() > 0) {
    text += ", " + std::to_string(m_engine->running_count()) + " rotating";
  }
  if (next) {
    text += "; next rotation: " + next->second + " at " + local_time(next->first);
  }
  m_notifier.status(text);
}

core::Status Daemon::reload()
{
  m_notifier.reloading();
  core::Status result;
  auto loaded = load(m_options, m_env, m_logger);
  if (!loaded) {
    result = loaded.error();
  } else if (loaded->state_dir != m_state_dir) {
    result = core::make_error(core::Errc::config, "state_dir changed (" + loaded->state_dir +
                                                      "); restart credrotd to move the state");
  } else if (auto applied = apply_config(std::move(*loaded)); !applied) {
    result = applied.error();
  }
  if (result) {
    m_logger.log(LOG_NOTICE, systemd::MessageKind::daemon_reloaded, {},
                 "configuration reloaded: " + std::to_string(m_engine->profile_names().size()) +
                     " profile(s)");
  } else {
    m_logger.log(LOG_ERR, systemd::MessageKind::config_error, {},
                 "reload failed, keeping the previous configuration: " + result.error().message);
  }
  m_notifier.ready("reloaded");
  update_status();
  return result;
}

void Daemon::on_signal(const boost::system::error_code& ec, int signal)
{
  if (ec) {
    return;
  }
  if (signal == SIGHUP) {
    (void)reload(); // logged; SIGHUP has nobody to answer
    m_signals.async_wait([this](auto e, int s) { on_signal(e, s); });
    return;
  }
  // SIGTERM/SIGINT: every rotation is persisted phase by phase; stop acting and leave. A
  // --once run that did not finish its work says so: try again later.
  if (m_options.once) {
    m_exit = exit_tempfail;
  }
  m_notifier.stopping();
  m_logger.info("stopping; rotations in progress resume at the next start");
  m_engine->stop();
  if (m_bridge) {
    m_bridge->stop();
  }
  m_io.stop();
}

asio::awaitable<void> once_main(Daemon* daemon, int* status)
{
  auto& engine = *daemon->m_engine;
  // First finish what a previous run left unfinished.
  engine.resume();
  std::vector<std::int64_t> ids = engine.running_ids();
  std::vector<std::string> resumed;
  for (const auto id : ids) {
    if (auto r = daemon->m_store->rotation(id); r && *r) {
      resumed.push_back((*r)->profile);
    }
  }
  std::vector<std::string> targets = daemon->m_options.profiles;
  const auto names = engine.profile_names();
  for (const auto& t : targets) {
    if (std::find(names.begin(), names.end(), t) == names.end()) {
      daemon->m_logger.error("no profile named " + t);
      *status = exit_usage;
      co_return;
    }
  }
  if (targets.empty()) {
    // What is due now (a profile that never rotated is due).
    for (const auto& name : names) {
      auto s = engine.status(name);
      if (s && s->enabled && (!s->next_due || *s->next_due <= now())) {
        targets.push_back(name);
      }
    }
  }
  for (const auto& name : targets) {
    if (std::find(resumed.begin(), resumed.end(), name) != resumed.end()) {
      continue; // its resumed rotation is this run's rotation
    }
    auto id = co_await engine.rotate(name, engine::Trigger::request);
    if (!id) {
      std::cout << name << ": not rotated: " << id.error().message << "\n";
      *status = exit_rotation_failed;
      continue;
    }
    ids.push_back(*id);
  }
  for (const auto id : ids) {
    auto r = co_await engine.wait(id);
    if (!r) {
      std::cout << "rotation " << id << ": " << r.error().message << "\n";
      *status = exit_rotation_failed;
      continue;
    }
    std::cout << r->profile << ": rotation " << r->id << " " << core::to_string(r->outcome);
    if (r->outcome == core::Outcome::succeeded) {
      std::cout << ": " << r->old_access.value_or("(no key)") << " -> "
                << r->new_access.value_or("?");
    } else {
      std::cout << ": " << r->error;
      *status = exit_rotation_failed;
    }
    if (!r->note.empty()) {
      std::cout << " (" << r->note << ")";
    }
    std::cout << "\n";
  }
  if (ids.empty()) {
    std::cout << "nothing due\n";
  }
  if (daemon->m_options.stats) {
    // For benchmarks: how much of the run the servers spent answering.
    const auto& t = net::process_totals();
    const auto ms = [](auto d) {
      return std::to_string(std::chrono::duration<double, std::milli>(d).count());
    };
    std::cout << "stats: " << t.calls << " HTTP calls, " << t.attempts << " requests, "
              << ms(t.server) << " ms in servers, " << ms(t.total) << " ms in calls\n";
  }
  std::cout.flush();
  daemon->m_io.stop();
}

int Daemon::run()
{
  if (const int rc = setup(); rc != exit_ok) {
    return rc;
  }
  if (m_options.once) {
    int status = exit_ok;
    asio::co_spawn(m_io, once_main(this, &status), [this, &status](std::exception_ptr e) {
      if (e) {
        m_logger.error("internal error: " + core::describe(e));
        status = exit_software;
        m_io.stop();
      }
    });
    m_signals.async_wait([this](auto ec, int s) { on_signal(ec, s); });
    m_io.run();
    return m_exit != exit_ok ? m_exit : status;
  }

  if (m_bridge == nullptr) {
    m_logger.error("the daemon needs D-Bus; run credrotd --once for a single pass without it");
    return exit_unavailable;
  }
  start_api();
  m_engine->resume();
  asio::co_spawn(m_io, m_engine->run_scheduler(), [this](std::exception_ptr e) {
    if (e) {
      m_logger.error("scheduler stopped: " + core::describe(e));
      m_io.stop();
    }
  });
  m_signals.async_wait([this](auto ec, int s) { on_signal(ec, s); });
  m_notifier.start_watchdog();
  if (m_metrics) {
    m_metrics->write();
    m_metrics->refresh_every(m_io.get_executor(), k_metrics_refresh);
  }
  m_io.run();
  return m_exit;
}

void Daemon::announce_ready()
{
  m_logger.log(
      LOG_NOTICE, systemd::MessageKind::daemon_ready, {},
      "credrotd " CREDROTD_VERSION " ready: " + std::to_string(m_engine->profile_names().size()) +
          " profile(s), state in " + m_state_dir);
  m_notifier.ready("ready");
  update_status();
}

} // namespace

int main(int argc, char** argv)
{
  // No core dumps: they would hold keys.
  ::prctl(PR_SET_DUMPABLE, 0);
  std::signal(SIGPIPE, SIG_IGN);
  ::umask(0077);

  Options options;
  CLI::App app{"credrotd: rotates the EC2/S3 keys of an OpenStack cloud and rewrites the "
               "files of the S3 clients that use them.",
               "credrotd"};
  app.add_option("-c,--config", options.config_file,
                 "Main configuration file (default /etc/credrotd/credrotd.toml, "
                 "with --user ~/.config/credrotd/credrotd.toml); drop-ins are read from "
                 "credrotd.d/ beside it");
  app.add_flag("--user", options.user,
               "Run for the calling user: session bus, user configuration and state");
  app.add_flag("--once", options.once,
               "Resume unfinished rotations, rotate what is due (or the --profile ones), exit");
  app.add_flag("--dry-run", options.dry_run,
               "Print what a rotation would do (keys, files, reloads); change nothing");
  app.add_flag("--check-config", options.check_config,
               "Validate the configuration and clouds.yaml, then exit");
  app.add_option("-p,--profile", options.profiles,
                 "With --once or --dry-run: only these profiles (repeatable)");
  app.add_flag("-V,--version", options.version, "Print the version and exit");
  app.add_flag("--stats", options.stats,
               "With --once: print the HTTP calls made and the time servers spent answering");
  app.footer("Exit status: 0 success; 1 a rotation rolled back or failed (--once); 64 usage; "
             "69 D-Bus unavailable; 74 state database error; 75 another credrotd holds the "
             "state directory; 78 configuration error. See credrotd(8).");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? exit_ok : exit_usage;
  }
  if (options.version) {
    std::cout << "credrotd " << CREDROTD_VERSION << "\n";
    return exit_ok;
  }
  if (!options.profiles.empty() && !options.once && !options.dry_run) {
    std::cerr << "credrotd: --profile needs --once or --dry-run\n";
    return exit_usage;
  }

  systemd::Logger logger(systemd::detect_sink());
  auto env = config::current_host_environment();
  try {
    if (options.check_config) {
      return check_config(options, env, logger);
    }
    if (options.dry_run) {
      return dry_run(options, env, logger);
    }
    Daemon daemon(std::move(options), std::move(env), logger);
    return daemon.run();
  } catch (const std::exception& e) {
    logger.error(std::string("fatal: ") + e.what());
    return exit_software;
  }
}
