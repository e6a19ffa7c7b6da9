// SPDX-License-Identifier: Apache-2.0
// Reads the stack description once per test process.
#include "stack_env.hpp"

#include <cstdlib>
#include <fstream>
#include <stdexcept>

namespace credrotd::testsupport {

namespace {

std::map<std::string, std::string> load()
{
  const char* path = std::getenv("CREDROTD_STACK_ENV");
  if (path == nullptr || *path == '\0') {
    throw std::runtime_error("CREDROTD_STACK_ENV is not set: run this test through ctest, which "
                             "starts the local Keystone + Swift (tests/stack/stack.sh)");
  }
  std::ifstream in(path);
  if (!in) {
    throw std::runtime_error(std::string("cannot read the stack description ") + path +
                             ": did tests/stack/stack.sh start succeed?");
  }
  std::map<std::string, std::string> values;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') {
      continue;
    }
    if (line.rfind("export ", 0) == 0) {
      line.erase(0, 7);
    }
    const auto eq = line.find('=');
    if (eq == std::string::npos) {
      continue;
    }
    std::string value = line.substr(eq + 1);
    if (value.size() >= 2 && (value.front() == '\'' || value.front() == '"') &&
        value.back() == value.front()) {
      value = value.substr(1, value.size() - 2);
    }
    values.emplace(line.substr(0, eq), std::move(value));
  }
  return values;
}

} // namespace

const std::map<std::string, std::string>& stack_env()
{
  static const std::map<std::string, std::string> values = load();
  return values;
}

const std::string& stack_value(const std::string& key)
{
  const auto& values = stack_env();
  const auto it = values.find(key);
  if (it == values.end()) {
    throw std::runtime_error("the stack description ($CREDROTD_STACK_ENV) has no " + key);
  }
  return it->second;
}

} // namespace credrotd::testsupport
