// SPDX-License-Identifier: Apache-2.0
// Test tool: applies a fixed test key to one consumer file, so a test can run the writer
// under a reduced capability set (setpriv) while preparing files with full privileges.
//
// usage: consumer_apply TYPE PATH [in-place]
// Exit 0 on success, 1 with the error on stderr.
#include "consumers/consumer.hpp"

#include <iostream>

int main(int argc, char** argv)
{
  using namespace credrotd::consumers;
  if (argc < 3) {
    std::cerr << "usage: consumer_apply TYPE PATH [in-place]\n";
    return 2;
  }
  const auto type = parse_consumer_type(argv[1]);
  if (!type) {
    std::cerr << "unknown type " << argv[1] << "\n";
    return 2;
  }
  ConsumerSpec spec;
  spec.type = *type;
  spec.path = argv[2];
  spec.in_place = argc > 3 && std::string_view(argv[3]) == "in-place";
  const auto report = apply(spec, "0123456789abcdef0123456789abcdef",
                            credrotd::core::Secret("fedcba9876543210fedcba9876543210"));
  if (!report) {
    std::cerr << report.error().describe() << "\n";
    return 1;
  }
  std::cout << to_string(report->method) << " " << report->path << "\n";
  return 0;
}
