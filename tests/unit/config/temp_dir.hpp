// SPDX-License-Identifier: Apache-2.0
// A private temporary directory for a test, removed with everything in it at scope exit.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <sys/stat.h>

namespace credrotd::test {

class TempDir {
public:
  TempDir()
  {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "credrotd-test-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      throw std::runtime_error("mkdtemp failed");
    }
    m_path = pattern;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir()
  {
    std::error_code ignored;
    std::filesystem::remove_all(m_path, ignored);
  }

  const std::string& path() const { return m_path; }
  std::string operator/(const std::string& relative) const { return m_path + "/" + relative; }

  // Writes `text` to `relative` (creating parent directories) with permission bits `mode`.
  std::string write(const std::string& relative, const std::string& text,
                    unsigned mode = 0600) const
  {
    const std::string full = *this / relative;
    std::filesystem::create_directories(std::filesystem::path(full).parent_path());
    {
      std::ofstream out(full, std::ios::binary | std::ios::trunc);
      out << text;
    }
    ::chmod(full.c_str(), mode);
    return full;
  }
  std::string mkdir(const std::string& relative) const
  {
    const std::string full = *this / relative;
    std::filesystem::create_directories(full);
    return full;
  }

private:
  std::string m_path;
};

} // namespace credrotd::test
