// SPDX-License-Identifier: Apache-2.0
// Running the real clients from tests: a clean environment (like env -i), captured output,
// a deadline, and background processes stopped by PID.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <sys/types.h>
#include <vector>

namespace credrotd::consumers::test {

struct Output {
  int exit_code = -1; // -1 when killed by a signal or the deadline
  std::string out;
  std::string err;
};

// The environment every client runs with: no variable leaks in from the test's own
// environment (AWS_*, RCLONE_*, AWS_CA_BUNDLE...), and no cloud metadata lookups.
std::vector<std::string> clean_env(std::vector<std::string> extra = {});

// Runs argv[0] (a full path) with exactly `env`, stdin from /dev/null; kills it after
// `timeout`.
Output run(const std::vector<std::string>& argv, const std::vector<std::string>& env,
           std::chrono::seconds timeout = std::chrono::seconds(60));

// A program running in the background, killed (SIGTERM, then SIGKILL) and reaped on
// destruction. Output goes to `log_path`.
class Background {
public:
  Background(const std::vector<std::string>& argv, const std::vector<std::string>& env,
             const std::string& log_path);
  Background(const Background&) = delete;
  Background& operator=(const Background&) = delete;
  ~Background();
  pid_t pid() const { return m_pid; }
  void stop();

private:
  pid_t m_pid = -1;
};

// Polls `ready` every 50 ms until it returns true or `limit` passes; returns its last value.
bool wait_until(const std::function<bool()>& ready, std::chrono::milliseconds limit);

} // namespace credrotd::consumers::test
