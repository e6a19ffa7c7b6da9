// SPDX-License-Identifier: Apache-2.0
// credrotctl's commands: its options, exit statuses, and one function per command.
#pragma once

#include <string>
#include <vector>

namespace credrotd::ctl {

// Exit statuses (credrotctl --help, docs/dbus.md).
enum Exit : int {
  exit_ok = 0,
  exit_failed = 1,      // a rotation failed or rolled back, verify not accepted, other errors
  exit_usage = 2,       // bad arguments
  exit_unreachable = 3, // no bus, or nobody owns io.github.credrotd, or no answer in time
  exit_denied = 4,      // the bus policy or the daemon refused the call
  exit_not_found = 5,   // no such profile (or rotation)
};

// The command line (credrotctl --help).
struct Options {
  bool user = false;
  bool json = false;
  int timeout_s = 120;
  std::vector<std::string> profiles;
  bool all = false;
  bool wait = false;
  int wait_timeout_s = 0;
  unsigned limit = 20;
  std::string config_file;
  // discover
  std::string cloud;
  std::string clouds_file;
  std::string secure_file;
  std::string s3_endpoint;
  std::string root = "/";
  std::vector<std::string> python_files;
  bool write = false;
  std::string output;
};

// A failure that ends the command: the message for stderr and the exit status.
struct Failure {
  int status;
  std::string message;
};

// The commands. Each prints its result (a table or, with --json, one JSON document) to stdout
// and returns an Exit value; a failure that ends the command is thrown as Failure.
// The ones that talk to credrotd over D-Bus (docs/dbus.md):
int status(const Options& options);
int rotate(const Options& options);
int verify(const Options& options);
int history(const Options& options);
int keys(const Options& options);
int reload(const Options& options);
// Runs credrotd --check-config (the credrotd beside this program, or /usr/sbin/credrotd).
int check_config(const Options& options);
// Reads the host's client files and asks Keystone, as the given cloud, which keys are its
// own; prints (and with --write creates) the proposed drop-in. Talks to Keystone only.
int discover(const Options& options);

// Runs `command` and turns what it throws (Failure, a D-Bus error, another exception) into
// "credrotctl: <message>" on stderr and the matching exit status.
int run_reporting_failures(int (*command)(const Options&), const Options& options);

} // namespace credrotd::ctl
