// SPDX-License-Identifier: Apache-2.0
// What the logger writes, captured: its stderr lines, and the journal entries it sends to a
// socket the test binds where journald's would be (in a child process with its own /run).
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

namespace credrotd::systemd::test {

// Redirects file descriptor 2 into a memory file while it lives; text() is what was written
// since. Restores the real stderr on destruction.
class StderrCapture {
public:
  StderrCapture();
  StderrCapture(const StderrCapture&) = delete;
  StderrCapture& operator=(const StderrCapture&) = delete;
  ~StderrCapture();

  std::string text() const;

private:
  int m_saved = -1;
  int m_file = -1;
};

// One journal entry as journald's native protocol carries it: FIELD=value lines (values
// with a newline use the binary form: FIELD\n<64-bit little-endian length><value>\n).
using JournalEntry = std::multimap<std::string, std::string>;

struct JournalRun {
  std::vector<JournalEntry> entries; // the datagrams received, in order
  std::string stderr_text;           // what the child wrote to stderr
  std::string failure;               // why the rig could not run ("" when it could)
};

// bound: a socket receives the entries; closed: the socket file is there but nobody listens
// (journald stopped), so sending fails with ECONNREFUSED; absent: there is no socket file (no
// journald at all), where sd_journal_send() reports success and sends nothing.
enum class JournalSocket { bound, closed, absent };

// Runs `log` in a child process with a private mount namespace, a fresh tmpfs on /run and a
// datagram socket bound at /run/systemd/journal/socket (what sd_journal_send() writes to);
// collects up to `expected` entries (bounded wait). Needs root
// (unshare, mount). Nothing outside the child's namespace changes.
JournalRun run_with_journal(const std::function<void()>& log, JournalSocket socket_kind,
                            std::size_t expected);

} // namespace credrotd::systemd::test
