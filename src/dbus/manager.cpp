// SPDX-License-Identifier: Apache-2.0
// io.github.credrotd.Manager1 on the engine: methods, caller checks, signals, properties.
#include "dbus/manager.hpp"

#include "credrotd_manager1_adaptor.h" // generated from io.github.credrotd.Manager1.xml
#include "dbus/api.hpp"

#include <boost/asio/co_spawn.hpp>
#include <fmt/format.h>
#include <sdbus-c++/sdbus-c++.h>

#include <algorithm>
#include <cerrno>
#include <exception>
#include <grp.h>
#include <map>
#include <optional>
#include <pwd.h>
#include <unistd.h>
#include <utility>
#include <vector>

namespace credrotd::dbus {

namespace asio = boost::asio;
using Dict = std::map<std::string, sdbus::Variant>;

// ----------------------------------------------------------------------------------------
// Who may change things

std::string check_caller(uid_t caller, uid_t daemon_uid, BusMode mode, const std::string& group)
{
  if (caller == daemon_uid) {
    return {};
  }
  if (mode == BusMode::user) {
    return fmt::format("uid {} is not the daemon's user (uid {})", caller, daemon_uid);
  }
  if (caller == 0) {
    return {};
  }
  const std::string who = fmt::format("uid {}", caller);
  gid_t group_id = 0;
  {
    struct group gr {};
    std::vector<char> buf(1024);
    struct group* found = nullptr;
    int rc = 0;
    while ((rc = ::getgrnam_r(group.c_str(), &gr, buf.data(), buf.size(), &found)) == ERANGE &&
           buf.size() < (1U << 20)) {
      buf.resize(buf.size() * 4);
    }
    if (rc != 0 || found == nullptr) {
      return who + " is not root, and group " + group + " does not exist";
    }
    group_id = gr.gr_gid;
  }
  std::string name;
  gid_t primary = 0;
  {
    struct passwd pw {};
    std::vector<char> buf(1024);
    struct passwd* found = nullptr;
    int rc = 0;
    while ((rc = ::getpwuid_r(caller, &pw, buf.data(), buf.size(), &found)) == ERANGE &&
           buf.size() < (1U << 20)) {
      buf.resize(buf.size() * 4);
    }
    if (rc != 0 || found == nullptr) {
      return who + " has no passwd entry";
    }
    name = pw.pw_name;
    primary = pw.pw_gid;
  }
  if (primary == group_id) {
    return {};
  }
  std::vector<gid_t> groups(32);
  for (int attempt = 0; attempt < 8; ++attempt) {
    int n = static_cast<int>(groups.size());
    if (::getgrouplist(name.c_str(), primary, groups.data(), &n) >= 0) {
      groups.resize(static_cast<std::size_t>(n));
      if (std::find(groups.begin(), groups.end(), group_id) != groups.end()) {
        return {};
      }
      return who + " (" + name + ") is not root and not in group " + group;
    }
    // Too small: n now holds the number needed.
    groups.resize(static_cast<std::size_t>(std::max(n, static_cast<int>(groups.size()) * 2)));
  }
  return "cannot list the groups of " + who;
}

// ----------------------------------------------------------------------------------------
// Dictionaries (the keys are documented in the XML and docs/dbus.md)

namespace {

std::string str(std::string_view s)
{
  return std::string(s);
}

Dict profile_dict(const engine::ProfileStatus& s)
{
  Dict d;
  d["name"] = s.name;
  d["enabled"] = s.enabled;
  d["current_access"] = s.current_access.value_or("");
  d["current_since"] = to_usec(s.current_since);
  d["next_due"] = to_usec(s.next_due);
  d["running_rotation"] = s.running ? s.running->id : std::int64_t{0};
  d["running_phase"] = s.running ? str(core::to_string(s.running->phase)) : std::string();
  d["running_since"] =
      s.running ? to_usec(std::optional<core::TimePoint>(s.running->started_at)) : std::int64_t{0};
  d["last_rotation"] = s.last ? s.last->id : std::int64_t{0};
  d["last_outcome"] = s.last ? str(core::to_string(s.last->outcome)) : std::string();
  d["last_error_code"] = s.last && s.last->error_code && s.last->outcome != core::Outcome::succeeded
                             ? str(core::to_string(*s.last->error_code))
                             : std::string();
  d["last_error"] =
      s.last && s.last->outcome != core::Outcome::succeeded ? s.last->error : std::string();
  d["last_finished"] = s.last ? to_usec(s.last->finished_at) : std::int64_t{0};
  d["last_success"] = to_usec(s.last_success_at);
  d["succeeded"] = s.counts.succeeded;
  d["rolled_back"] = s.counts.rolled_back;
  d["failed"] = s.counts.failed;
  d["unconfirmed_revocations"] = static_cast<std::int64_t>(s.unconfirmed_revocations);
  return d;
}

Dict rotation_dict(const core::Rotation& r)
{
  Dict d;
  d["id"] = r.id;
  d["profile"] = r.profile;
  d["phase"] = str(core::to_string(r.phase));
  d["outcome"] = str(core::to_string(r.outcome));
  d["method"] = str(core::to_string(r.method));
  d["old_access"] = r.old_access.value_or("");
  d["new_access"] = r.new_access.value_or("");
  d["started"] = to_usec(std::optional<core::TimePoint>(r.started_at));
  d["finished"] = to_usec(r.finished_at);
  d["error_code"] = r.error_code ? str(core::to_string(*r.error_code)) : std::string();
  d["error"] = r.error;
  d["note"] = r.note;
  return d;
}

// RotationFinished's reason.
std::string finish_reason(const core::Rotation& r)
{
  if (r.outcome == core::Outcome::succeeded) {
    return r.note;
  }
  std::string out = r.error_code ? str(core::to_string(*r.error_code)) : std::string("internal");
  if (!r.error.empty()) {
    out += ": " + r.error;
  }
  return out;
}

sdbus::Error to_dbus(const core::Error& e)
{
  return sdbus::Error(error_name(e.code), e.message);
}

// The reply of an asynchronous method, shared by its coroutine and the coroutine's completion
// handler, so that a coroutine that dies of an exception still answers (Internal) instead of
// leaving the caller to its timeout.
template <class... T> class Reply {
public:
  Reply(sdbus::Result<T...>&& result, BusBridge& bridge, const systemd::Logger& logger,
        const char* method)
      : m_result(std::move(result)), m_bridge(bridge), m_logger(logger), m_method(method)
  {}

  bool done() const noexcept { return m_done; }

  void ok(const T&... values)
  {
    send([&] { m_result.returnResults(values...); });
  }
  void error(const sdbus::Error& e)
  {
    send([&] { m_result.returnError(e); });
  }
  void error(const core::Error& e) { error(to_dbus(e)); }

private:
  template <class Fn> void send(Fn fn)
  {
    if (m_done) {
      return;
    }
    m_done = true;
    try {
      fn();
    } catch (const sdbus::Error& e) {
      m_logger.warning(std::string("cannot send the reply to ") + m_method + ": " + e.getName() +
                       ": " + e.getMessage());
    }
    // Outside sd-bus's dispatch the reply only sits in the output queue: let the bridge
    // flush it.
    m_bridge.wake();
  }

  sdbus::Result<T...> m_result;
  BusBridge& m_bridge;
  const systemd::Logger& m_logger;
  const char* m_method;
  bool m_done = false;
};

template <class... T> using ReplyPtr = std::shared_ptr<Reply<T...>>;

// What the coroutines need; copied into each, so that they hold no pointer to the Manager.
struct CallContext {
  BusBridge* bridge = nullptr;
  engine::Engine* engine = nullptr;
  const systemd::Logger* logger = nullptr;
  BusMode mode = BusMode::system;
  std::string group;
  std::chrono::milliseconds lookup_timeout{};
  std::shared_ptr<const std::function<core::Status()>> reload;
};

// Completion of a method coroutine: reports an escaped exception and answers Internal.
template <class... T> struct Finish {
  ReplyPtr<T...> reply;
  const systemd::Logger* logger;

  void operator()(const std::exception_ptr& e) const
  {
    if (!e) {
      return;
    }
    const std::string what = core::describe(e);
    logger->error("D-Bus method failed: " + what);
    if (!reply->done()) {
      reply->error(sdbus::Error(error_name(core::Errc::internal), what));
    }
  }
};

// Empty when the sender may call `method`, else the AccessDenied error to send.
Task<std::optional<sdbus::Error>> authorize(CallContext ctx, std::string sender, std::string method)
{
  auto uid = co_await caller_uid(*ctx.bridge, sender, ctx.lookup_timeout);
  if (!uid) {
    ctx.logger->warning("refused " + method + " from " + sender +
                        ": cannot tell who the caller is: " + uid.error().describe());
    co_return sdbus::Error(k_access_denied, method + " refused: cannot tell who the caller is (" +
                                                uid.error().message + ")");
  }
  const std::string why = check_caller(*uid, ::geteuid(), ctx.mode, ctx.group);
  if (!why.empty()) {
    ctx.logger->warning("refused " + method + " from " + sender + ": " + why);
    const std::string needs = ctx.mode == BusMode::user
                                  ? "the daemon's own user"
                                  : "root or membership of group " + ctx.group;
    co_return sdbus::Error(k_access_denied,
                           fmt::format("{} needs {} (caller uid {})", method, needs, *uid));
  }
  ctx.logger->info(fmt::format("{} called over D-Bus by uid {}", method, *uid));
  co_return std::nullopt;
}

Task<void> rotate_call(CallContext ctx, ReplyPtr<std::int64_t> reply, std::string sender,
                       std::string profile)
{
  const std::string method = "Rotate";
  auto denied = co_await authorize(ctx, sender, method);
  if (denied) {
    reply->error(*denied);
    co_return;
  }
  auto id = co_await ctx.engine->rotate(profile, engine::Trigger::request);
  if (!id) {
    reply->error(id.error());
    co_return;
  }
  reply->ok(*id);
}

Task<void> rotate_all_call(
    CallContext ctx,
    ReplyPtr<std::map<std::string, std::int64_t>, std::map<std::string, std::string>> reply,
    std::string sender)
{
  const std::string method = "RotateAll";
  auto denied = co_await authorize(ctx, sender, method);
  if (denied) {
    reply->error(*denied);
    co_return;
  }
  std::map<std::string, std::int64_t> started;
  std::map<std::string, std::string> not_started;
  const auto names = ctx.engine->profile_names();
  for (const auto& name : names) {
    auto status = ctx.engine->status(name);
    if (status && !status->enabled) {
      continue;
    }
    auto id = co_await ctx.engine->rotate(name, engine::Trigger::request);
    if (id) {
      started[name] = *id;
    } else {
      not_started[name] = error_name(id.error().code) + ": " + id.error().message;
    }
  }
  reply->ok(started, not_started);
}

Task<void> verify_call(CallContext ctx, ReplyPtr<std::string, std::string> reply,
                       std::string profile)
{
  auto report = co_await ctx.engine->verify_current(profile);
  if (!report) {
    reply->error(report.error());
    co_return;
  }
  reply->ok(str(core::to_string(report->result)), report->detail);
}

Task<void> keys_call(CallContext ctx, ReplyPtr<std::vector<Dict>> reply, std::string profile)
{
  auto keys = co_await ctx.engine->keys(profile);
  if (!keys) {
    reply->error(keys.error());
    co_return;
  }
  std::vector<Dict> out;
  for (const auto& k : *keys) {
    Dict d;
    d["access"] = k.access;
    d["project_id"] = k.project_id;
    d["role"] = k.role;
    out.push_back(std::move(d));
  }
  reply->ok(out);
}

Task<void> reload_call(CallContext ctx, ReplyPtr<> reply, std::string sender)
{
  const std::string method = "Reload";
  auto denied = co_await authorize(ctx, sender, method);
  if (denied) {
    reply->error(*denied);
    co_return;
  }
  if (auto done = (*ctx.reload)(); !done) {
    reply->error(done.error());
    co_return;
  }
  reply->ok();
}

} // namespace

// ----------------------------------------------------------------------------------------
// The object

struct Manager::Impl final
    : public sdbus::AdaptorInterfaces<io::github::credrotd::Manager1_adaptor>,
      public engine::Observer {
  Impl(BusBridge& bridge, engine::Engine& engine, const engine::StatePort& state,
       const systemd::Logger& logger, std::function<core::Status()> reload, ManagerOptions options)
      : AdaptorInterfaces(bridge.connection(), k_object_path), m_bridge(bridge), m_engine(engine),
        m_state(state), m_logger(logger), m_options(std::move(options))
  {
    m_context.bridge = &m_bridge;
    m_context.engine = &m_engine;
    m_context.logger = &m_logger;
    m_context.mode = m_options.mode;
    m_context.group = m_options.group;
    m_context.lookup_timeout = m_options.caller_lookup_timeout;
    m_context.reload = std::make_shared<const std::function<core::Status()>>(std::move(reload));
    m_profiles = Profiles();
    m_running = RunningRotations();
    m_next_due = NextDue();
    registerAdaptor();
  }

  ~Impl() override
  {
    try {
      unregisterAdaptor();
    } catch (...) { // NOLINT(bugprone-empty-catch): the connection is going away anyway
    }
  }

  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  // --- methods ---

  std::vector<Dict> ListProfiles() override
  {
    auto all = m_engine.status_all();
    if (!all) {
      throw to_dbus(all.error());
    }
    std::vector<Dict> out;
    for (const auto& s : *all) {
      out.push_back(profile_dict(s));
    }
    return out;
  }

  Dict GetProfile(const std::string& profile) override
  {
    require_profile(profile);
    auto s = m_engine.status(profile);
    if (!s) {
      throw to_dbus(s.error());
    }
    return profile_dict(*s);
  }

  std::vector<Dict> History(const std::string& profile, const std::uint32_t& limit) override
  {
    const auto n = limit == 0 ? k_history_default : std::min(limit, k_history_max);
    auto rows = m_state.history(profile, static_cast<int>(n));
    if (!rows) {
      throw to_dbus(rows.error());
    }
    if (rows->empty()) {
      require_profile(profile); // a typo is NotFound, not an empty history
    }
    std::vector<Dict> out;
    for (const auto& r : *rows) {
      out.push_back(rotation_dict(r));
    }
    return out;
  }

  void Rotate(sdbus::Result<std::int64_t>&& result, std::string profile) override
  {
    auto reply =
        std::make_shared<Reply<std::int64_t>>(std::move(result), m_bridge, m_logger, "Rotate");
    asio::co_spawn(m_bridge.executor(), rotate_call(m_context, reply, sender(), std::move(profile)),
                   Finish<std::int64_t>{reply, &m_logger});
  }

  void RotateAll(sdbus::Result<std::map<std::string, std::int64_t>,
                               std::map<std::string, std::string>>&& result) override
  {
    using R = Reply<std::map<std::string, std::int64_t>, std::map<std::string, std::string>>;
    auto reply = std::make_shared<R>(std::move(result), m_bridge, m_logger, "RotateAll");
    asio::co_spawn(m_bridge.executor(), rotate_all_call(m_context, reply, sender()),
                   Finish<std::map<std::string, std::int64_t>, std::map<std::string, std::string>>{
                       reply, &m_logger});
  }

  void Verify(sdbus::Result<std::string, std::string>&& result, std::string profile) override
  {
    auto reply = std::make_shared<Reply<std::string, std::string>>(std::move(result), m_bridge,
                                                                   m_logger, "Verify");
    asio::co_spawn(m_bridge.executor(), verify_call(m_context, reply, std::move(profile)),
                   Finish<std::string, std::string>{reply, &m_logger});
  }

  void Keys(sdbus::Result<std::vector<Dict>>&& result, std::string profile) override
  {
    auto reply =
        std::make_shared<Reply<std::vector<Dict>>>(std::move(result), m_bridge, m_logger, "Keys");
    asio::co_spawn(m_bridge.executor(), keys_call(m_context, reply, std::move(profile)),
                   Finish<std::vector<Dict>>{reply, &m_logger});
  }

  void Reload(sdbus::Result<>&& result) override
  {
    auto reply = std::make_shared<Reply<>>(std::move(result), m_bridge, m_logger, "Reload");
    asio::co_spawn(m_bridge.executor(), reload_call(m_context, reply, sender()),
                   Finish<>{reply, &m_logger});
  }

  // --- properties ---

  std::string Version() override { return m_options.version; }
  std::vector<std::string> Profiles() override { return m_engine.profile_names(); }
  std::uint32_t RunningRotations() override
  {
    return static_cast<std::uint32_t>(m_engine.running_count());
  }
  std::int64_t NextDue() override
  {
    auto next = m_engine.next_due();
    return next ? to_usec(*next) : 0;
  }

  // --- engine events ---

  void rotation_started(const core::Rotation& r) override
  {
    emit([&] { emitRotationStarted(r.profile, r.id); });
    properties_changed();
  }
  void phase_changed(const core::Rotation& r) override
  {
    emit([&] { emitPhaseChanged(r.profile, r.id, str(core::to_string(r.phase))); });
  }
  void rotation_finished(const core::Rotation& r) override
  {
    emit([&] {
      emitRotationFinished(r.profile, r.id, str(core::to_string(r.outcome)), finish_reason(r));
    });
    properties_changed();
  }
  void state_changed() override { properties_changed(); }

  // --- helpers ---

  void require_profile(const std::string& profile) const
  {
    const auto names = m_engine.profile_names();
    if (std::find(names.begin(), names.end(), profile) == names.end()) {
      throw sdbus::Error(error_name(core::Errc::not_found), "no profile named " + profile);
    }
  }

  // The unique name of the caller of the method being dispatched.
  std::string sender() const
  {
    const auto* message = getObject().getCurrentlyProcessedMessage();
    return message != nullptr ? message->getSender() : std::string();
  }

  template <class Fn> void emit(Fn fn) noexcept
  {
    try {
      fn();
    } catch (const std::exception& e) {
      log_emit_failure(e.what());
    }
    m_bridge.wake();
  }

  // PropertiesChanged for the properties whose value differs from what was last announced.
  void properties_changed() noexcept
  {
    try {
      std::vector<std::string> changed;
      if (auto v = Profiles(); v != m_profiles) {
        m_profiles = std::move(v);
        changed.emplace_back("Profiles");
      }
      if (auto v = RunningRotations(); v != m_running) {
        m_running = v;
        changed.emplace_back("RunningRotations");
      }
      if (auto v = NextDue(); v != m_next_due) {
        m_next_due = v;
        changed.emplace_back("NextDue");
      }
      if (!changed.empty()) {
        getObject().emitPropertiesChangedSignal(k_interface, changed);
      }
    } catch (const std::exception& e) {
      log_emit_failure(e.what());
    }
    m_bridge.wake();
  }

  void log_emit_failure(const char* what) const noexcept
  {
    try {
      m_logger.warning(std::string("cannot emit a D-Bus signal: ") + what);
    } catch (...) { // NOLINT(bugprone-empty-catch): nothing left to report with
    }
  }

  BusBridge& m_bridge;
  engine::Engine& m_engine;
  const engine::StatePort& m_state;
  const systemd::Logger& m_logger;
  ManagerOptions m_options;
  CallContext m_context;
  // The property values last announced.
  std::vector<std::string> m_profiles;
  std::uint32_t m_running = 0;
  std::int64_t m_next_due = 0;
};

Manager::Manager(BusBridge& bridge, engine::Engine& engine, const engine::StatePort& state,
                 const systemd::Logger& logger, std::function<core::Status()> reload,
                 ManagerOptions options)
    : m_impl(std::make_shared<Impl>(bridge, engine, state, logger, std::move(reload),
                                    std::move(options)))
{}

Manager::~Manager() = default;

engine::Observer& Manager::observer() noexcept
{
  return *m_impl;
}

} // namespace credrotd::dbus
