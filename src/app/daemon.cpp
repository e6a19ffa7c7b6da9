// SPDX-License-Identifier: Apache-2.0
// The long-running daemon and --once: the engine wired to the state, the bus, systemd, the
// metrics file and the signals.
#include "app/app.hpp"
#include "app/load.hpp"
#include "dbus/bus.hpp"
#include "dbus/manager.hpp"
#include "engine/engine.hpp"
#include "engine/once.hpp"
#include "store/store.hpp"
#include "systemd/journal_observer.hpp"
#include "systemd/notify.hpp"
#include "systemd/units.hpp"
#include "wiring/metrics_writer.hpp"
#include "wiring/profiles.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/chrono.h>
#include <fmt/format.h>

#include <csignal>
#include <functional>
#include <iostream>
#include <syslog.h>

namespace credrotd::app {

namespace {

namespace asio = boost::asio;

// The daemon rewrites the metrics file this often even when nothing happens: key ages stay
// current and the file's mtime shows it is alive (monitoring/credrotd-alerts.yml, stale file).
constexpr std::chrono::seconds k_metrics_refresh{60};

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
  int run_once();
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
  // Stops everything the loop runs; run() returns.
  void stop();

  Options m_options;
  config::HostEnvironment m_env;
  systemd::Logger& m_logger;
  asio::io_context m_io;
  systemd::JournalObserver m_journal;
  systemd::FanOutObserver m_observers;
  StatusObserver m_status{[this] { update_status(); }};
  systemd::Notifier m_notifier;
  asio::signal_set m_signals;
  core::Fd m_lock;
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

std::string local_time(core::TimePoint t)
{
  return fmt::format("{:%Y-%m-%d %H:%M:%S %Z}",
                     fmt::localtime(std::chrono::system_clock::to_time_t(t)));
}

void Daemon::stop()
{
  m_engine->stop();
  if (m_bridge) {
    m_bridge->stop();
  }
  m_io.stop();
}

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
                     m_logger.info(fmt::format("D-Bus name {} acquired", dbus::k_bus_name));
                     announce_ready();
                     return;
                   }
                   m_logger.error(fmt::format("cannot own the D-Bus name {}: {}", dbus::k_bus_name,
                                              e ? "internal error" : named.error().describe()));
                   m_exit = exit_unavailable;
                   stop();
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
  m_lock = std::move(*lock);
  auto opened = store::Store::open(m_state_dir + "/state.db");
  if (!opened) {
    m_logger.error(opened.error().message);
    return exit_io;
  }
  m_store.emplace(std::move(*opened));

  // --once needs the bus only to reload units.
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
    stop();
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
  const engine::ProfileStatus* next = nullptr;
  for (const auto& s : *statuses) {
    if (s.enabled && s.next_due && (!next || *s.next_due < *next->next_due)) {
      next = &s;
    }
  }
  std::string text = fmt::format("{} profile(s)", statuses->size());
  if (m_engine->running_count() > 0) {
    text += fmt::format(", {} rotating", m_engine->running_count());
  }
  if (next) {
    text += fmt::format("; next rotation: {} at {}", next->name, local_time(*next->next_due));
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
    m_logger.log(
        LOG_NOTICE, systemd::MessageKind::daemon_reloaded, {},
        fmt::format("configuration reloaded: {} profile(s)", m_engine->profile_names().size()));
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
  stop();
}

// --once: the engine's one pass (engine/once.cpp), then, with --stats, the HTTP figures.
int Daemon::run_once()
{
  int status = exit_ok;
  asio::co_spawn(
      m_io, engine::run_once(m_engine.get(), &*m_store, m_options.profiles, &std::cout),
      [this, &status](std::exception_ptr e, engine::OnceReport report) {
        if (e) {
          m_logger.error("internal error: " + core::describe(e));
          status = exit_software;
          m_io.stop();
          return;
        }
        if (report.result == engine::OnceResult::unknown_profile) {
          m_logger.error(report.error);
          status = exit_usage;
          m_io.stop();
          return;
        }
        status = report.result == engine::OnceResult::done ? exit_ok : exit_rotation_failed;
        if (m_options.stats) {
          // For benchmarks: how much of the run the servers spent answering.
          const auto& t = net::process_totals();
          const auto ms = [](auto d) {
            return std::chrono::duration<double, std::milli>(d).count();
          };
          std::cout << fmt::format("stats: {} HTTP calls, {} requests, {:f} ms in servers, {:f} "
                                   "ms in calls\n",
                                   t.calls, t.attempts, ms(t.server), ms(t.total));
        }
        std::cout.flush();
        m_io.stop();
      });
  m_signals.async_wait([this](auto ec, int s) { on_signal(ec, s); });
  m_io.run();
  return m_exit != exit_ok ? m_exit : status;
}

int Daemon::run()
{
  if (const int rc = setup(); rc != exit_ok) {
    return rc;
  }
  if (m_options.once) {
    return run_once();
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
  m_logger.log(LOG_NOTICE, systemd::MessageKind::daemon_ready, {},
               fmt::format("credrotd {} ready: {} profile(s), state in {}", CREDROTD_VERSION,
                           m_engine->profile_names().size(), m_state_dir));
  m_notifier.ready("ready");
  update_status();
}

} // namespace

int run(Options options, config::HostEnvironment env, systemd::Logger& logger)
{
  Daemon daemon(std::move(options), std::move(env), logger);
  return daemon.run();
}

} // namespace credrotd::app
