// SPDX-License-Identifier: Apache-2.0
// Fuzzes s3cmd::read() and s3cmd::render() on arbitrary ~/.s3cfg files.
// Input: [<flags>\x1f]<file>; flags bit 0 keeps a session token.
#include "consumers/s3cmd.hpp"

#include "consumer_properties.hpp"

using namespace credrotd;
using namespace credrotd::consumers;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
  const std::string_view input = fuzz::as_text(data, size);
  const auto p = fuzz::parameters(input);
  const s3cmd::Options options{(p.flags & 1) != 0 ? SessionToken::keep : SessionToken::remove};
  fuzz::check_format(
      input, p.text, [](const Source& source) { return s3cmd::read(source); },
      [&](const Source& source, std::string_view access, const core::Secret& secret) {
        return s3cmd::render(source, options, access, secret);
      });
  return 0;
}
