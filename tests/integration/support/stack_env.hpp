// SPDX-License-Identifier: Apache-2.0
// Access to the local test cloud's description (the KEY=VALUE file tests/stack/stack.sh writes).
#pragma once

#include <map>
#include <string>

namespace credrotd::testsupport {

// The variables of the file named by $CREDROTD_STACK_ENV. Throws std::runtime_error (which
// fails the test, never skips it) when the variable is unset or the file is unreadable.
const std::map<std::string, std::string>& stack_env();

// stack_env().at(key), with an error naming the key and the file when it is absent.
const std::string& stack_value(const std::string& key);

} // namespace credrotd::testsupport
