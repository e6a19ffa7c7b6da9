// SPDX-License-Identifier: Apache-2.0
// The logger: MESSAGE_IDs, where logs go, the stderr form and the journal fields.
#include "log_capture.hpp"
#include "systemd/log.hpp"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

using namespace credrotd::systemd;
using credrotd::systemd::test::JournalSocket;
using credrotd::systemd::test::run_with_journal;
using credrotd::systemd::test::StderrCapture;

namespace {

constexpr MessageKind k_kinds[] = {
    MessageKind::rotation_started, MessageKind::rotation_succeeded,
    MessageKind::rotation_failed,  MessageKind::rotation_rolled_back,
    MessageKind::key_deleted,      MessageKind::verification_failed,
    MessageKind::config_error,     MessageKind::daemon_ready,
    MessageKind::daemon_reloaded,
};

// Sets (or unsets) an environment variable for the scope, then restores it.
class ScopedEnv {
public:
  ScopedEnv(const char* name, std::optional<std::string> value) : m_name(name)
  {
    if (const char* old = std::getenv(name)) {
      m_old = old;
    }
    if (value) {
      ::setenv(name, value->c_str(), 1);
    } else {
      ::unsetenv(name);
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;
  ~ScopedEnv()
  {
    if (m_old) {
      ::setenv(m_name, m_old->c_str(), 1);
    } else {
      ::unsetenv(m_name);
    }
  }

private:
  const char* m_name;
  std::optional<std::string> m_old;
};

// The fields of an entry, without the CODE_FILE/CODE_LINE/CODE_FUNC that sd-journal.h's
// sd_journal_sendv() macro adds.
std::set<std::string> field_names(const credrotd::systemd::test::JournalEntry& entry)
{
  std::set<std::string> names;
  for (const auto& [name, value] : entry) {
    if (name.rfind("CODE_", 0) != 0) {
      names.insert(name);
    }
  }
  return names;
}

std::string stderr_identity()
{
  struct stat st {};
  REQUIRE(::fstat(STDERR_FILENO, &st) == 0);
  return std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino);
}

} // namespace

TEST_CASE("every kind of event has its own MESSAGE_ID and plain messages have none", "[log]")
{
  CHECK(message_id(MessageKind::none).empty());
  std::set<std::string_view> seen;
  for (const auto kind : k_kinds) {
    const auto id = message_id(kind);
    INFO(id);
    CHECK(std::regex_match(std::string(id), std::regex("[0-9a-f]{32}")));
    CHECK(seen.insert(id).second);
  }
}

TEST_CASE("the journal catalog explains every MESSAGE_ID the daemon sends", "[log]")
{
  std::ifstream in(std::string(CREDROTD_SOURCE_DIR) + "/systemd/credrotd.catalog");
  REQUIRE(in);
  std::set<std::string> catalogued;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("-- ", 0) == 0) {
      catalogued.insert(line.substr(3, 32));
    }
  }
  CHECK(catalogued.size() == std::size(k_kinds));
  for (const auto kind : k_kinds) {
    CHECK(catalogued.count(std::string(message_id(kind))) == 1);
  }
}

TEST_CASE("logs go to the journal only when stderr is the journal's stream", "[log]")
{
  ScopedEnv no_override("CREDROTD_LOG", std::nullopt);
  {
    ScopedEnv unset("JOURNAL_STREAM", std::nullopt);
    CHECK(detect_sink() == Sink::stderr_);
  }
  {
    ScopedEnv same("JOURNAL_STREAM", stderr_identity());
    CHECK(detect_sink() == Sink::journal);
  }
  {
    ScopedEnv other("JOURNAL_STREAM", "1:1");
    CHECK(detect_sink() == Sink::stderr_);
  }
  {
    ScopedEnv garbage("JOURNAL_STREAM", "not-a-stream");
    CHECK(detect_sink() == Sink::stderr_);
  }
}

TEST_CASE("CREDROTD_LOG chooses the sink whatever JOURNAL_STREAM says", "[log]")
{
  ScopedEnv stream("JOURNAL_STREAM", stderr_identity());
  {
    ScopedEnv forced("CREDROTD_LOG", "stderr");
    CHECK(detect_sink() == Sink::stderr_);
  }
  {
    ScopedEnv unset_stream("JOURNAL_STREAM", std::nullopt);
    ScopedEnv forced("CREDROTD_LOG", "journal");
    CHECK(detect_sink() == Sink::journal);
  }
  {
    ScopedEnv unknown("CREDROTD_LOG", "syslog");
    CHECK(detect_sink() == Sink::journal); // an unknown value is ignored
  }
}

// ctest runs each test case in its own process with stderr on a pipe, so the logger's
// one-time terminal check sees no terminal and lines carry "<N>" prefixes.
TEST_CASE("stderr lines carry the priority prefix on every line of a message", "[log]")
{
  StderrCapture capture;
  const Logger logger(Sink::stderr_, LOG_DEBUG);
  logger.log(LOG_ERR, MessageKind::rotation_failed, {"backup", 7, "verify", "AKNEW"},
             "first line\nsecond line");
  logger.log(LOG_NOTICE, MessageKind::none, {"backup", 0, {}, {}}, "no rotation");
  logger.info("plain");
  CHECK(capture.text() == "<3>backup #7: first line\n<3>second line\n"
                          "<5>backup: no rotation\n"
                          "<6>plain\n");
}

TEST_CASE("messages above the maximum priority are dropped", "[log]")
{
  StderrCapture capture;
  const Logger logger(Sink::stderr_, LOG_WARNING);
  logger.info("dropped");
  logger.log(LOG_DEBUG, MessageKind::none, {}, "dropped too");
  logger.warning("kept");
  logger.error("kept too");
  CHECK(capture.text() == "<4>kept\n<3>kept too\n");
  CHECK(logger.sink() == Sink::stderr_);
}

TEST_CASE("a journal entry carries MESSAGE_ID and the CREDROTD_ fields that are set", "[log]")
{
  const auto run = run_with_journal(
      [] {
        const Logger logger(Sink::journal);
        logger.log(LOG_NOTICE, MessageKind::rotation_succeeded, {"backup", 42, "done", "AKNEWKEY"},
                   "two\nlines");
        logger.warning("bare");
      },
      JournalSocket::bound, 2);
  REQUIRE(run.failure.empty());
  CHECK(run.stderr_text.empty());
  REQUIRE(run.entries.size() == 2);

  const auto& full = run.entries[0];
  const auto value = [](const auto& entry, const std::string& field) {
    REQUIRE(entry.count(field) == 1);
    return entry.find(field)->second;
  };
  CHECK(value(full, "MESSAGE") == "two\nlines");
  CHECK(value(full, "PRIORITY") == "5");
  CHECK(value(full, "SYSLOG_IDENTIFIER") == "credrotd");
  CHECK(value(full, "MESSAGE_ID") == message_id(MessageKind::rotation_succeeded));
  CHECK(value(full, "CREDROTD_PROFILE") == "backup");
  CHECK(value(full, "CREDROTD_ROTATION") == "42");
  CHECK(value(full, "CREDROTD_PHASE") == "done");
  CHECK(value(full, "CREDROTD_ACCESS_ID") == "AKNEWKEY");
  CHECK(field_names(full) == std::set<std::string>{"MESSAGE", "PRIORITY", "SYSLOG_IDENTIFIER",
                                                   "MESSAGE_ID", "CREDROTD_PROFILE",
                                                   "CREDROTD_ROTATION", "CREDROTD_PHASE",
                                                   "CREDROTD_ACCESS_ID"});

  // Empty fields and MESSAGE_ID of a plain message are left out.
  const auto& bare = run.entries[1];
  CHECK(value(bare, "MESSAGE") == "bare");
  CHECK(value(bare, "PRIORITY") == "4");
  CHECK(field_names(bare) == std::set<std::string>{"MESSAGE", "PRIORITY", "SYSLOG_IDENTIFIER"});
}

TEST_CASE("when journald does not take the entry, a journal logger falls back to stderr", "[log]")
{
  const auto run = run_with_journal(
      [] {
        Logger(Sink::journal).log(LOG_ERR, MessageKind::none, {"p", 3, {}, {}}, "lost?");
      },
      JournalSocket::closed, 0);
  REQUIRE(run.failure.empty());
  CHECK(run.entries.empty());
  CHECK(run.stderr_text == "<3>p #3: lost?\n");
}

TEST_CASE("when there is no journald at all, a journal logger writes to stderr", "[log]")
{
  const auto run = run_with_journal(
      [] {
        Logger(Sink::journal).log(LOG_ERR, MessageKind::none, {"p", 3, {}, {}}, "lost?");
      },
      JournalSocket::absent, 0);
  REQUIRE(run.failure.empty());
  CHECK(run.entries.empty());
  CHECK(run.stderr_text == "<3>p #3: lost?\n");
}
