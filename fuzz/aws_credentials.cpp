// SPDX-License-Identifier: Apache-2.0
// Fuzzes aws_credentials::read(), render() and create() on arbitrary ~/.aws/credentials files.
// Input: [<flags><profile>\x1f]<file>; flags bit 0 keeps session tokens, bit 1 sets
// create_profile. Without the first part: profile "default", defaults otherwise.
#include "consumers/aws_credentials.hpp"

#include "consumer_properties.hpp"

using namespace credrotd;
using namespace credrotd::consumers;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
  const std::string_view input = fuzz::as_text(data, size);
  const auto p = fuzz::parameters(input);
  ConsumerSpec spec;
  spec.type = ConsumerType::aws_credentials;
  spec.path = "/fuzz/file";
  spec.profile = p.given ? std::string(p.option) : "default";
  spec.session_token = (p.flags & 1) != 0 ? SessionToken::keep : SessionToken::remove;
  spec.create_profile = (p.flags & 2) != 0;
  const aws_credentials::Options options{spec.profile, spec.create_profile, spec.session_token};
  const auto read = [&](const Source& source) { return aws_credentials::read(source, options); };
  if (!check_spec(spec)) {
    (void)read(Source{spec.path, p.text}); // the daemon never gets here: only no crash
    return 0;
  }
  fuzz::check_format(
      input, p.text, read,
      [&](const Source& source, std::string_view access, const core::Secret& secret) {
        return aws_credentials::render(source, options, access, secret);
      });
  fuzz::check_create(read, [&](std::string_view access, const core::Secret& secret) {
    return aws_credentials::create(options, access, secret);
  });
  return 0;
}
