// SPDX-License-Identifier: Apache-2.0
// The EnvironmentFile= settings of the systemd service units installed under a root directory,
// read from the unit files themselves (and their drop-ins) the way systemd 252 loads them.
#pragma once

#include "core/error.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace credrotd::discover {

// EnvironmentFile= values of the [Service] section of one unit file's text, in order, with
// systemd's rules: '#'/';' comments, a trailing backslash continues a line, an empty
// assignment clears the list so far, a leading '-' (file optional) is dropped. `inherited`
// is the list before this text (the unit file's, when `text` is a drop-in).
std::vector<std::string> environment_files(std::string_view text,
                                           std::vector<std::string> inherited = {});

// One environment file and the units that load it.
struct UnitEnvironmentFile {
  std::string path;               // as the unit names it (absolute, on the host under root)
  std::vector<std::string> units; // "backup.service", sorted
};

// Every EnvironmentFile= of the *.service units under `root` (a directory; "/" for this host):
// the unit directories of systemd's search path in its order of precedence (/etc/systemd/
// system.control, /run/systemd/system.control, /run/systemd/transient, the generator
// directories, /etc/systemd/system, /run/systemd/system, /usr/local/lib/systemd/system,
// /usr/lib/systemd/system, /lib/systemd/system; a unit file in an earlier one hides the same
// name in a later one; a unit linked to /dev/null is masked), then its NAME.service.d/*.conf
// drop-ins from every directory in name order (an earlier directory's file wins per name). Template
// units (NAME@.service) and paths with specifiers ('%') are left out: their file names depend on
// the instance. Sorted by path. Missing directories are fine; `problems` receives one line per unit
// file that cannot be read.
std::vector<UnitEnvironmentFile> unit_environment_files(const std::string& root,
                                                        std::vector<std::string>& problems);

} // namespace credrotd::discover
