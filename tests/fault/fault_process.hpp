// SPDX-License-Identifier: Apache-2.0
// Starts tests/fault/fault_server.py (the scripted fault server or proxy) for one test, and
// makes the test PKI with tests/fault/make_certs.sh.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

namespace credrotd::testfault {

struct FaultServerOptions {
  std::string tls_cert; // PEM certificate and key: serve HTTPS instead of HTTP
  std::string tls_key;
  bool proxy = false;     // a CONNECT/forwarding proxy instead of the scripted server
  std::string proxy_auth; // "user:password" the proxy demands (407 otherwise)
};

// One fault server process on 127.0.0.1. The constructor waits (bounded) for the port it
// prints and throws std::runtime_error when it does not come; the destructor closes the
// server's stdin, which makes it exit, and reaps it by PID (SIGTERM, then SIGKILL, if it
// lingers).
class FaultServer {
public:
  explicit FaultServer(FaultServerOptions options = {});
  FaultServer(const FaultServer&) = delete;
  FaultServer& operator=(const FaultServer&) = delete;
  ~FaultServer();

  std::uint16_t port() const { return m_port; }
  // "http[s]://127.0.0.1:<port>" followed by `path`.
  std::string url(std::string_view path) const;

private:
  pid_t m_pid = -1;
  int m_stdin = -1;
  std::uint16_t m_port = 0;
  bool m_tls = false;
};

struct CommandResult {
  int exit_code = -1; // -1 when killed or not started
  std::string out;    // standard output (standard error goes to the test's own)
};

// Runs argv[0] (an absolute path) with exactly `environment` ("KEY=VALUE"), capturing its
// standard output, for at most `limit`; killed by PID past it. Throws std::runtime_error when
// it cannot start.
CommandResult run_command(const std::vector<std::string>& argv,
                          const std::vector<std::string>& environment, std::chrono::seconds limit);

// A directory holding the test PKI (see make_certs.sh: ca.pem, server.pem/.key,
// wronghost.pem/.key, expired.pem/.key), made once per process and removed at exit.
const std::string& test_pki_dir();

} // namespace credrotd::testfault
