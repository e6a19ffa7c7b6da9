// SPDX-License-Identifier: Apache-2.0
#include "engine/recheck.hpp"

#include "engine/engine.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace credrotd::engine {

namespace asio = boost::asio;

struct RevocationRechecker::Job {
  std::string profile;
  std::string access;
  core::Secret secret;
  core::TimePoint at;
  std::shared_ptr<S3Port> s3;
  std::shared_ptr<asio::system_timer> timer;
};

void RevocationRechecker::schedule(std::string profile, std::string access, core::Secret secret,
                                   core::TimePoint at, std::shared_ptr<S3Port> s3)
{
  if (m_stopping) {
    return;
  }
  auto timer = std::make_shared<asio::system_timer>(m_executor);
  auto job = std::make_shared<Job>(
      Job{std::move(profile), std::move(access), std::move(secret), at, std::move(s3), timer});
  m_timers.insert(timer);
  m_held.emplace(job->profile, job->access);
  asio::co_spawn(m_executor, run(std::move(job)), asio::detached);
}

Task<void> RevocationRechecker::run(std::shared_ptr<Job> job)
{
  job->timer->expires_at(job->at);
  boost::system::error_code ec;
  co_await job->timer->async_wait(asio::redirect_error(asio::use_awaitable, ec));
  if (!m_stopping) {
    const auto report =
        co_await job->s3->verify(job->access, std::move(job->secret), Expect::rejected);
    const auto revocation = core::revocation_at_recheck(report.result);
    std::string message;
    Severity severity = Severity::notice;
    switch (revocation) {
    case core::Revocation::refused:
      message = "old key " + job->access + " refused by S3 on the re-check: revocation confirmed";
      break;
    case core::Revocation::accepted:
      severity = Severity::warning;
      message = "old key " + job->access +
                " still accepted by S3 on the re-check, long after its deletion from Keystone: "
                "an S3 endpoint validates it without Keystone (restart radosgw to empty its "
                "cache, and find out why)";
      break;
    default:
      severity = Severity::warning;
      message = "old key " + job->access + ": the re-check could not tell whether S3 refuses it (" +
                report.detail + ")";
      break;
    }
    if (auto stored = m_state.set_revocation(job->profile, job->access, revocation); !stored) {
      m_observer.log(Severity::error, job->profile, 0,
                     "cannot record the re-check of " + job->access + ": " +
                         stored.error().describe());
    }
    m_observer.log(severity, job->profile, 0, message);
    m_observer.state_changed();
  }
  m_timers.erase(job->timer);
  m_held.erase({job->profile, job->access});
}

void RevocationRechecker::abandon_orphans()
{
  auto pending = m_state.pending_revocations();
  if (!pending) {
    m_observer.log(Severity::error, "", 0,
                   "cannot read the pending revocation re-checks: " + pending.error().describe());
    return;
  }
  for (const auto& key : *pending) {
    if (m_held.contains({key.profile, key.access})) {
      continue;
    }
    if (auto stored = m_state.set_revocation(key.profile, key.access, core::Revocation::unchecked);
        !stored) {
      m_observer.log(Severity::error, key.profile, 0,
                     "cannot record the re-check of " + key.access + ": " +
                         stored.error().describe());
      continue;
    }
    m_observer.log(Severity::warning, key.profile, 0,
                   "old key " + key.access +
                       " was still accepted by S3 when deleted and cannot be re-checked: the "
                       "process that deleted it has exited, and with it the secret the re-check "
                       "signs with (check it by hand, or restart radosgw)");
  }
}

void RevocationRechecker::stop()
{
  m_stopping = true;
  for (const auto& timer : m_timers) {
    timer->cancel();
  }
}

} // namespace credrotd::engine
